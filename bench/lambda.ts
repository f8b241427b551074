/**
 * Lambda: a trivial Node handler invoked with raw SigV4-signed rest-json requests
 * (POST /2015-03-31/functions/<name>/invocations). Cold: CreateFunction, then the first Invoke of
 * the new function (its environment's process starts), median of N new functions, beside a bare
 * `node -e` process start (spawn to exit: what Node itself costs). Warm: Invoke replayed on 1 and
 * on 8 keep-alive connections (8 environments stay warm), beside a bare HTTP round trip to the
 * bare node:http server (the limit of an HTTP answer on this machine). moto runs functions in
 * Docker containers and is not measured.
 */
import { spawn } from 'node:child_process';
import { zipBuffers } from '../src/core/zip.js';
import { callOnce } from './callScenario.js';
import { percentile, runLoad, type LoadResult } from './load.js';
import { na, rowsOf, val } from './report.js';
import { rawRequest, signV4 } from './sigv4.js';
import type { Target, TargetName } from './targets.js';

export interface LambdaPlan {
  /** New functions for the cold figures. */
  coldFunctions: number;
  warmupMs: number;
  durationMs: number;
  rounds: number;
}

const HANDLER = 'export const handler = async (event) => ({ ok: true, echo: event.n ?? null });\n';
const ROLE = 'arn:aws:iam::000000000000:role/bench';
const median = (xs: number[]) => percentile(Float64Array.from(xs).sort(), 50);

function lambdaRequest(t: Target, method: string, path: string, body: string) {
  const headers = signV4({
    method,
    host: `${t.host}:${t.port}`,
    path,
    service: 'lambda',
    headers: { 'content-type': 'application/json' },
    body,
  });
  return rawRequest(method, path, headers, body);
}

const invokeRequest = (t: Target, name: string) => lambdaRequest(t, 'POST', `/2015-03-31/functions/${name}/invocations`, '{"n":1}');

async function packageZip(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of zipBuffers({ 'index.mjs': HANDLER })) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('base64');
}

async function createFunction(t: Target, name: string, zip: string) {
  const body = JSON.stringify({ FunctionName: name, Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: { ZipFile: zip } });
  await callOnce(t, lambdaRequest(t, 'POST', '/2015-03-31/functions', body), (r) => r.status === 201);
}

const invoked = (r: { status: number; head: string }) => r.status === 200 && !/x-amz-function-error/i.test(r.head);

/** ms from spawning `node -e 0` to its exit. */
function bareNodeStart(): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    p.once('error', reject);
    p.once('exit', () => resolve(performance.now() - t0));
  });
}

export async function lambdaScenario(targets: Partial<Record<TargetName, Target | Error>>, plan: LambdaPlan, log: (s: string) => void) {
  const section = 'Lambda Invoke (trivial Node handler)';
  const mk = rowsOf(section);
  const rows = {
    cold: mk(`cold: first Invoke of a new function, median of ${plan.coldFunctions}`, 'ms', 'lower', { op: '<=', value: 250 }),
    create: mk('CreateFunction before it', 'ms', 'lower'),
    c1p50: mk('warm: 1 connection p50', 'ms', 'lower', { op: '<=', value: 2 }),
    c1rps: mk('warm: 1 connection throughput', 'req/s', 'higher'),
    c8p50: mk('warm: 8 connections p50', 'ms', 'lower'),
    c8rps: mk('warm: 8 connections throughput', 'req/s', 'higher'),
  };
  const all = Object.values(rows);
  const details: Record<string, unknown> = {};
  if (targets.moto) all.forEach((r) => (r.cells.moto = na('moto runs Lambda functions in Docker containers: not measured')));

  // bare: a node process start for the cold rows, an HTTP round trip for the warm ones
  const bareStarts: number[] = [];
  for (let i = 0; i < plan.coldFunctions; i++) bareStarts.push(await bareNodeStart());
  rows.cold.cells.bare = val(median(bareStarts));
  details.bareNodeStartMs = bareStarts;
  log(`lambda: bare node -e start ${bareStarts.map((x) => x.toFixed(0)).join(', ')} ms`);

  const opsbox = targets.opsbox;
  const warm: { t: Target; request: Buffer }[] = [];
  if (!opsbox || opsbox instanceof Error) all.forEach((r) => (r.cells.opsbox = na(opsbox?.message ?? 'not started')));
  else {
    try {
      const zip = await packageZip();
      const run = Date.now().toString(36);
      const cold: number[] = [];
      const create: number[] = [];
      for (let i = 0; i < plan.coldFunctions; i++) {
        const name = `bench-cold-${run}-${i}`;
        const t0 = performance.now();
        await createFunction(opsbox, name, zip);
        const t1 = performance.now();
        await callOnce(opsbox, invokeRequest(opsbox, name), invoked);
        cold.push(performance.now() - t1);
        create.push(t1 - t0);
      }
      log(
        `lambda: cold invoke ${cold.map((x) => x.toFixed(0)).join(', ')} ms (CreateFunction ${create.map((x) => x.toFixed(0)).join(', ')} ms)`,
      );
      rows.cold.cells.opsbox = val(median(cold));
      rows.create.cells.opsbox = val(median(create));
      details.opsbox = { coldInvokeMs: cold, createFunctionMs: create };
      const name = `bench-warm-${run}`;
      await createFunction(opsbox, name, zip);
      const request = invokeRequest(opsbox, name);
      await callOnce(opsbox, request, invoked);
      warm.push({ t: opsbox, request });
    } catch (e) {
      all.forEach((r) => (r.cells.opsbox ??= na(e)));
    }
  }
  const bare = targets.bare;
  if (bare && !(bare instanceof Error)) warm.push({ t: bare, request: invokeRequest(bare, 'bench') });
  else if (bare) [rows.c1p50, rows.c1rps, rows.c8p50, rows.c8rps].forEach((r) => (r.cells.bare = na(bare)));

  for (const connections of [1, 8] as const) {
    const results = new Map<Target, LoadResult[]>(warm.map(({ t }) => [t, []]));
    for (let round = 0; round < plan.rounds; round++) {
      for (const { t, request } of warm) {
        // the first round on 8 connections also starts the 7 environments more it needs
        const warmupMs = round === 0 ? plan.warmupMs : Math.min(300, plan.warmupMs);
        log(
          `lambda: ${t.name}, ${connections} connection(s), round ${round + 1}/${plan.rounds}, ${warmupMs} ms warmup + ${plan.durationMs} ms`,
        );
        const ok = t.name === 'bare' ? (r: { status: number }) => r.status === 200 : invoked;
        const r = await runLoad({ host: t.host, port: t.port, request, connections, warmupMs, durationMs: plan.durationMs, ok });
        if (r.errors) log(`lambda: ${t.name}: ${r.errors} errors, first: ${r.firstError}`);
        results.get(t)!.push(r);
      }
    }
    const [p50, rps] = connections === 1 ? [rows.c1p50, rows.c1rps] : [rows.c8p50, rows.c8rps];
    for (const [t, rs] of results) {
      const d = ((details[`${t.name}Warm`] as Record<string, LoadResult[]>) ??= {});
      d[`c${connections}`] = rs;
      const good = rs.filter((r) => r.requests > 0);
      if (!good.length) {
        p50.cells[t.name] = rps.cells[t.name] = na(rs[0]?.firstError ?? 'no request completed');
        continue;
      }
      p50.cells[t.name] = val(median(good.map((r) => r.p50Ms)));
      rps.cells[t.name] = val(median(good.map((r) => r.rps)));
    }
  }
  return { rows: all, details };
}
