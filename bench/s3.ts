/**
 * S3 PutObject + GetObject with plain node:http (path-style, SigV4 with UNSIGNED-PAYLOAD): 1 MiB
 * objects sequentially, then 100 MiB objects while sampling the server's RSS every 50 ms. Bodies
 * come from a generator (64 KiB chunks, never the whole object) and responses are drained, so the
 * client's own memory stays flat. The first transfer of each size is verified by MD5.
 */
import { createHash, randomBytes, type Hash } from 'node:crypto';
import http from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describeFailure } from './load.js';
import { na, rowsOf, val } from './report.js';
import { signV4 } from './sigv4.js';
import { readMem, sampleRss, type Target, type TargetName } from './targets.js';

const MiB = 1024 * 1024;
const CHUNK = 64 * 1024;
const PATTERN = randomBytes(CHUNK);

/** `size` bytes in 64 KiB chunks, each stamped with its index so reordering would show in the MD5. */
function generated(size: number, hash?: Hash): Readable {
  let sent = 0;
  let index = 0;
  return new Readable({
    highWaterMark: 4 * CHUNK,
    read() {
      if (sent >= size) return void this.push(null);
      const n = Math.min(CHUNK, size - sent);
      const chunk = Buffer.allocUnsafe(n);
      PATTERN.copy(chunk, 0, 0, n);
      if (n >= 8) chunk.writeDoubleLE(index++, 0);
      hash?.update(chunk);
      sent += n;
      this.push(chunk);
    },
  });
}

interface Sent {
  status: number;
  bytes: number;
  md5?: string;
  error?: string;
}

function s3Request(
  t: Target,
  agent: http.Agent,
  method: string,
  path: string,
  body?: { size: number; hash?: Hash },
  md5?: boolean,
  timeoutMs = 120_000,
): Promise<Sent> {
  const headers = signV4({ method, host: `${t.host}:${t.port}`, path, service: 's3', payloadHash: 'UNSIGNED-PAYLOAD' });
  const sendHeaders: Record<string, string | number> = { ...headers, 'content-length': body?.size ?? 0 };
  if (body) sendHeaders['content-type'] = 'application/octet-stream';
  return new Promise((resolve, reject) => {
    const req = http.request({ host: t.host, port: t.port, method, path, headers: sendHeaders, agent, timeout: timeoutMs }, (res) => {
      const status = res.statusCode ?? 0;
      if (status !== 200) {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (text.length < 4096 ? (text += d) : undefined));
        res.on('end', () => resolve({ status, bytes: 0, error: describeFailure({ status, body: text }) }));
        return;
      }
      const h = md5 ? createHash('md5') : undefined;
      let bytes = 0;
      res.on('data', (d: Buffer) => {
        bytes += d.length;
        h?.update(d);
      });
      res.on('end', () => resolve({ status, bytes, md5: h?.digest('hex') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within ${timeoutMs / 1000} s`)));
    req.on('error', reject);
    if (body) pipeline(generated(body.size, body.hash), req).catch(reject);
    else req.end();
  });
}

/** PUT then GET of one object; returns the seconds each took, or throws with the failure. */
async function putGet(t: Target, agent: http.Agent, path: string, size: number, verify: boolean) {
  const putHash = verify ? createHash('md5') : undefined;
  const t0 = performance.now();
  const put = await s3Request(t, agent, 'PUT', path, { size, hash: putHash });
  if (put.status !== 200) throw new Error(`PutObject: ${put.error}`);
  const t1 = performance.now();
  const get = await s3Request(t, agent, 'GET', path, undefined, verify);
  if (get.status !== 200) throw new Error(`GetObject: ${get.error}`);
  const t2 = performance.now();
  if (get.bytes !== size) throw new Error(`GetObject returned ${get.bytes} bytes, expected ${size}`);
  if (verify && get.md5 !== putHash!.digest('hex')) throw new Error('GetObject returned different bytes than were put');
  return { putS: (t1 - t0) / 1000, getS: (t2 - t1) / 1000 };
}

export interface S3Plan {
  smallCount: number;
  bigRounds: number;
  bigSize: number;
  /** Stop the big rounds of a target once this much time went by (moto can be slow). */
  bigBudgetMs: number;
}

export async function s3Scenario(targets: Partial<Record<TargetName, Target | Error>>, plan: S3Plan, log: (s: string) => void) {
  const section = 'S3 PutObject + GetObject (path-style, UNSIGNED-PAYLOAD)';
  const big = `${Math.round(plan.bigSize / MiB)} MiB`;
  const mk = rowsOf(section);
  const rows = {
    smallPut: mk(`1 MiB PutObject, ${plan.smallCount} sequential`, 'MiB/s', 'higher'),
    smallGet: mk('1 MiB GetObject', 'MiB/s', 'higher'),
    smallPairs: mk('1 MiB put+get pairs', '/s', 'higher'),
    bigPut: mk(`${big} PutObject, ${plan.bigRounds} round${plan.bigRounds === 1 ? '' : 's'}`, 'MiB/s', 'higher'),
    bigGet: mk(`${big} GetObject`, 'MiB/s', 'higher'),
    bigGrowth: mk(`server RSS growth during ${big}`, 'MB', 'lower', { op: '<=', value: 50 }),
    bigPeak: mk(`server peak RSS during ${big}`, 'MB', 'lower'),
  };
  const details: Record<string, unknown> = {};
  for (const [name, t] of Object.entries(targets) as [TargetName, Target | Error][]) {
    const setAll = (c: ReturnType<typeof na>, which = Object.values(rows)) => which.forEach((r) => (r.cells[name] = c));
    if (t instanceof Error) {
      setAll(na(t.message));
      continue;
    }
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const bucket = `bench-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
    const d: Record<string, unknown> = { bucket };
    details[name] = d;
    try {
      const created = await s3Request(t, agent, 'PUT', `/${bucket}`);
      if (created.status !== 200) throw new Error(`CreateBucket: ${created.error}`);
      log(`s3: ${name}, ${plan.smallCount} × 1 MiB put+get`);
      let putS = 0,
        getS = 0;
      for (let i = 0; i < plan.smallCount; i++) {
        const r = await putGet(t, agent, `/${bucket}/small/${i}`, MiB, i === 0);
        putS += r.putS;
        getS += r.getS;
      }
      rows.smallPut.cells[name] = val(plan.smallCount / putS);
      rows.smallGet.cells[name] = val(plan.smallCount / getS);
      rows.smallPairs.cells[name] = val(plan.smallCount / (putS + getS));
      Object.assign(d, { smallPutSeconds: putS, smallGetSeconds: getS });
    } catch (e) {
      setAll(na(e));
      agent.destroy();
      continue;
    }
    try {
      const before = readMem(t.pid);
      const sampler = sampleRss(t.pid, 50);
      const began = performance.now();
      const rounds: { putS: number; getS: number }[] = [];
      try {
        for (let i = 0; i < plan.bigRounds; i++) {
          if (i > 0 && performance.now() - began > plan.bigBudgetMs) break;
          log(`s3: ${name}, ${big} put+get round ${i + 1}`);
          rounds.push(await putGet(t, agent, `/${bucket}/big/${i}`, plan.bigSize, i === 0));
        }
      } finally {
        const mem = sampler.stop();
        Object.assign(d, {
          bigRounds: rounds,
          rssBeforeKb: before?.rssKb,
          peakRssKb: mem.peakKb,
          hwmAfterKb: mem.hwmKb,
          rssSamples: mem.samples,
        });
        if (before && mem.samples > 0) {
          rows.bigGrowth.cells[name] = val((mem.peakKb - before.rssKb) / 1024);
          rows.bigPeak.cells[name] = val(mem.peakKb / 1024);
        }
      }
      const mib = plan.bigSize / MiB;
      rows.bigPut.cells[name] = val((rounds.length * mib) / rounds.reduce((s, r) => s + r.putS, 0));
      rows.bigGet.cells[name] = val((rounds.length * mib) / rounds.reduce((s, r) => s + r.getS, 0));
      if (rounds.length < plan.bigRounds) log(`s3: ${name}: only ${rounds.length} ${big} round(s) fit the time budget`);
    } catch (e) {
      setAll(na(e), [rows.bigPut, rows.bigGet, rows.bigGrowth, rows.bigPeak]);
    }
    agent.destroy();
  }
  return { rows: Object.values(rows), details };
}
