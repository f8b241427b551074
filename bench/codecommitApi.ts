/**
 * The CodeCommit JSON API under 32 concurrent clients, the way an SDK user drives it: one
 * @aws-sdk/client-codecommit client on a keep-alive agent (maxSockets 32), a repository of ~200
 * files pushed over git smart HTTP, then a fixed number of GetFile and GetBranch calls from 32
 * workers, and PutFile from 32 workers each committing to its own branch (and, for contrast, all on
 * one branch, retrying on ParentCommitIdOutdatedException). The physical limit beside it:
 * `git cat-file --batch` reading the same blobs from a bare copy of the same repository, no HTTP.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CodeCommitClient,
  CreateBranchCommand,
  CreateRepositoryCommand,
  GetBranchCommand,
  GetFileCommand,
  PutFileCommand,
} from '@aws-sdk/client-codecommit';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { generate, git } from './codecommit.js';
import { describeFailure, percentile } from './load.js';
import { RawConnection } from './rawHttp.js';
import { na, rowsOf, val, type Row } from './report.js';
import { rawRequest, signV4 } from './sigv4.js';
import type { Target, TargetName } from './targets.js';

export interface CodecommitApiPlan {
  files: number;
  connections: number;
  /** GetFile and GetBranch calls, each (after `warmup` unmeasured calls). */
  calls: number;
  warmup: number;
  /** Rounds of each read measurement; the median round (by req/s) is reported. */
  rounds: number;
  /** PutFile calls per connection on its own branch, and commits on the shared branch. */
  putsPerConnection: number;
  sharedCommits: number;
}

interface Run {
  count: number;
  errors: number;
  firstError?: string;
  p50Ms: number;
  p99Ms: number;
  rps: number;
  /** CPU per call: this process (the load generator) and the server process (µs). */
  clientCpuUs: number;
  serverCpuUs: number;
}

/** utime + stime of a process, in µs (from /proc; Linux only, 0 elsewhere). */
function procCpuUs(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) * (1e6 / 100);
  } catch {
    return 0;
  }
}

let serverPid = 0;

function client(t: Target, connections: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const cc = new CodeCommitClient({
    endpoint: `http://${t.host}:${t.port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({ httpAgent: agent, connectionTimeout: 5000, requestTimeout: 30_000 }),
  });
  return { cc, close: () => (cc.destroy(), agent.destroy()) };
}

/** `workers` loops sharing `count` calls; call(i, worker) is one timed request. */
async function drive(count: number, workers: number, call: (i: number, worker: number) => Promise<unknown>): Promise<Run> {
  const latencies = new Float64Array(count);
  let next = 0;
  let done = 0;
  let errors = 0;
  let firstError: string | undefined;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const s0 = procCpuUs(serverPid);
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      for (let i = next++; i < count; i = next++) {
        const s = performance.now();
        try {
          await call(i, w);
          latencies[done++] = performance.now() - s;
        } catch (e) {
          errors++;
          firstError ??= `${(e as Error).name}: ${(e as Error).message}`;
          if (errors > 100 && done === 0) throw new Error(firstError);
        }
      }
    }),
  );
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  const serverCpuUs = (procCpuUs(serverPid) - s0) / Math.max(1, done);
  const clientCpuUs = (c.user + c.system) / Math.max(1, done);
  const sorted = latencies.subarray(0, done).sort();
  return {
    count: done,
    errors,
    firstError,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    rps: done / (wall / 1000),
    clientCpuUs,
    serverCpuUs,
  };
}

/** Runs `measure` `rounds` times and keeps the median round by req/s (a burst of load from elsewhere lands on one round only). */
async function medianOf(rounds: number, measure: () => Promise<Run>): Promise<Run & { rounds: Run[] }> {
  const runs: Run[] = [];
  for (let i = 0; i < Math.max(1, rounds); i++) runs.push(await measure());
  const sorted = [...runs].sort((a, b) => a.rps - b.rps);
  return { ...sorted[Math.ceil(sorted.length / 2) - 1], rounds: runs };
}

/** The same calls replayed on raw keep-alive sockets (bench/rawHttp.ts, as the STS rows): the server's cost without the SDK's. */
async function driveRaw(t: Target, count: number, connections: number, requests: Buffer[]): Promise<Run> {
  const conns = Array.from({ length: connections }, () => new RawConnection(t.host, t.port));
  try {
    return await drive(count, connections, async (i, w) => {
      const res = await conns[w].request(requests[i % requests.length]);
      if (res.status !== 200) throw new Error(describeFailure(res));
    });
  } finally {
    for (const c of conns) c.destroy();
  }
}

function signedCall(t: Target, op: string, input: object): Buffer {
  const body = JSON.stringify(input);
  const headers = signV4({
    method: 'POST',
    host: `${t.host}:${t.port}`,
    path: '/',
    service: 'codecommit',
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `CodeCommit_20150413.${op}` },
    body,
  });
  return rawRequest('POST', '/', headers, body);
}

/** One `git cat-file --batch` reading `ids` in order (pipelined, as a long-lived reader would); ms in total. */
function catFileBatch(home: string, bare: string, ids: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', ['--git-dir', bare, 'cat-file', '--batch'], {
      env: { PATH: process.env.PATH ?? '', HOME: home, GIT_CONFIG_NOSYSTEM: '1' },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let got = 0;
    let pending: Buffer = Buffer.alloc(0);
    let t0 = 0;
    // count complete objects: "<sha> blob <size>\n<content>\n"
    child.stdout.on('data', (d: Buffer) => {
      pending = pending.length ? Buffer.concat([pending, d]) : d;
      for (;;) {
        const nl = pending.indexOf(10);
        if (nl < 0) return;
        const size = Number(pending.subarray(0, nl).toString('latin1').split(' ')[2]);
        if (pending.length < nl + 1 + size + 1) return;
        pending = pending.subarray(nl + 1 + size + 1);
        if (++got === ids.length) {
          const ms = performance.now() - t0;
          child.stdin.end();
          resolve(ms);
        }
      }
    });
    child.on('error', reject);
    child.on('close', (c) => got < ids.length && reject(new Error(`cat-file exited ${c} after ${got} objects`)));
    t0 = performance.now();
    child.stdin.write(ids.join('\n') + '\n');
  });
}

export async function codecommitApiScenario(
  targets: Partial<Record<TargetName, Target | Error>>,
  plan: CodecommitApiPlan,
  log: (s: string) => void,
) {
  const section = `CodeCommit JSON API, ${plan.connections} connections (SDK v3 keep-alive, ${plan.files} files, ${plan.calls.toLocaleString('en-US')} calls each)`;
  const mk = rowsOf(section);
  const r = {
    gfP50: mk('GetFile p50', 'ms', 'lower', { op: '<=', value: 5 }),
    gfP99: mk('GetFile p99', 'ms', 'lower'),
    gfRps: mk('GetFile throughput', 'req/s', 'higher', { op: '>=', value: 2000 }),
    rawP50: mk('GetFile, raw HTTP client (no SDK cost) p50', 'ms', 'lower'),
    rawRps: mk('GetFile, raw HTTP client (no SDK cost)', 'req/s', 'higher'),
    catMs: mk('git cat-file --batch, same blobs, one process (physical limit): per blob', 'ms', 'lower'),
    catRate: mk('git cat-file --batch, same blobs, one process (physical limit)', 'blobs/s', 'higher'),
    share: mk('GetFile (SDK) req/s as a share of cat-file blobs/s', '%', 'higher'),
    sdkCpu: mk('GetFile: CPU per call in the SDK v3 client (the load generator)', 'µs', 'lower'),
    srvCpu: mk('GetFile: CPU per call in opsbox (SDK round)', 'µs', 'lower'),
    rawSrvCpu: mk('GetFile: CPU per call in opsbox (raw round)', 'µs', 'lower'),
    gbP50: mk('GetBranch p50', 'ms', 'lower'),
    gbP99: mk('GetBranch p99', 'ms', 'lower'),
    gbRps: mk('GetBranch throughput', 'req/s', 'higher'),
    pfP50: mk('PutFile p50, own branch per connection', 'ms', 'lower', { op: '<=', value: 50 }),
    pfP99: mk('PutFile p99, own branch per connection', 'ms', 'lower'),
    pfRps: mk('PutFile throughput, own branch per connection', 'commits/s', 'higher'),
    spP50: mk('PutFile, one shared branch, retry on ParentCommitIdOutdated: p50 per commit', 'ms', 'lower'),
    spRps: mk('PutFile, one shared branch, retry on ParentCommitIdOutdated', 'commits/s', 'higher'),
    spOutdated: mk('PutFile, one shared branch: ParentCommitIdOutdated answers per commit', 'x', 'lower'),
  };
  const rows = Object.values(r);

  const details: Record<string, unknown> = {};
  await probeMoto(targets.moto, rows);
  details.bare = await bareLimit(targets.bare, plan, r);
  const t = targets.opsbox;
  if (!t || t instanceof Error) {
    for (const r of rows) r.cells.opsbox = na(t ?? 'opsbox not started');
    return { rows, details };
  }
  const root = mkdtempSync(join(tmpdir(), 'bench-ccapi-'));
  const home = join(root, 'home');
  mkdirSync(home);
  writeFileSync(join(home, '.gitconfig'), '[user]\n\tname = Bench\n\temail = bench@example.com\n[credential]\n\thelper =\n');
  const { cc, close } = client(t, plan.connections);
  serverPid = t.pid;
  try {
    const name = `bench-api-${Date.now().toString(36)}`;
    const src = join(root, 'src');
    mkdirSync(src);
    log(`codecommit-api: ${plan.files} files pushed to ${name}`);
    await generate(home, src, { files: plan.files, commits: 10 });
    await cc.send(new CreateRepositoryCommand({ repositoryName: name }));
    await git(home, src, ['push', '-q', `http://test:test@${t.host}:${t.port}/v1/repos/${name}`, 'main']);
    const bare = join(root, 'bare.git');
    await git(home, root, ['clone', '-q', '--bare', src, bare]);
    const listing = await git(home, src, ['ls-tree', '-r', '-z', 'main']);
    const files = listing
      .split('\0')
      .filter(Boolean)
      .map((rec) => ({ id: rec.split(/[ \t]/)[2], path: rec.slice(rec.indexOf('\t') + 1) }));

    const getFile = (i: number) =>
      cc.send(new GetFileCommand({ repositoryName: name, commitSpecifier: 'main', filePath: files[i % files.length].path }));
    const getBranch = () => cc.send(new GetBranchCommand({ repositoryName: name, branchName: 'main' }));
    const first = await getFile(0);
    if (first.fileContent?.length !== Number(first.fileSize)) throw new Error('GetFile: content length differs from fileSize');
    log(`codecommit-api: GetFile × ${plan.calls} on ${plan.connections} connections`);
    await drive(plan.warmup, plan.connections, getFile);
    const gf = await medianOf(plan.rounds, () => drive(plan.calls, plan.connections, getFile));
    log(`codecommit-api: GetFile × ${plan.calls} replayed on ${plan.connections} raw sockets`);
    const rawRequests = files.map((f) => signedCall(t, 'GetFile', { repositoryName: name, commitSpecifier: 'main', filePath: f.path }));
    await driveRaw(t, plan.warmup, plan.connections, rawRequests);
    const raw = await medianOf(plan.rounds, () => driveRaw(t, plan.calls, plan.connections, rawRequests));
    details.getFileRaw = raw;
    log(`codecommit-api: GetBranch × ${plan.calls}`);
    await drive(plan.warmup, plan.connections, getBranch);
    const gb = await medianOf(plan.rounds, () => drive(plan.calls, plan.connections, getBranch));
    const ids = Array.from({ length: plan.calls }, (_, i) => files[i % files.length].id);
    await catFileBatch(home, bare, ids.slice(0, plan.warmup));
    const catRuns: number[] = [];
    for (let i = 0; i < Math.max(1, plan.rounds); i++) catRuns.push(await catFileBatch(home, bare, ids));
    const catMs = [...catRuns].sort((a, b) => a - b)[Math.ceil(catRuns.length / 2) - 1];
    details.getFile = gf;
    details.getBranch = gb;
    details.catFileMs = catRuns;
    const fill = (run: Run, p50: Row, p99: Row | undefined, rps: Row) => {
      if (run.errors) log(`codecommit-api: ${run.errors} errors, first: ${run.firstError}`);
      p50.cells.opsbox = run.errors ? na(`${run.errors} errors: ${run.firstError}`) : val(run.p50Ms);
      if (p99) p99.cells.opsbox = val(run.p99Ms);
      rps.cells.opsbox = val(run.rps);
    };
    fill(gf, r.gfP50, r.gfP99, r.gfRps);
    fill(raw, r.rawP50, undefined, r.rawRps);
    fill(gb, r.gbP50, r.gbP99, r.gbRps);
    r.catMs.cells.opsbox = val(catMs / ids.length);
    r.catRate.cells.opsbox = val(ids.length / (catMs / 1000));
    r.share.cells.opsbox = val((100 * gf.rps) / (ids.length / (catMs / 1000)));
    r.sdkCpu.cells.opsbox = val(gf.clientCpuUs);
    r.srvCpu.cells.opsbox = val(gf.serverCpuUs);
    r.rawSrvCpu.cells.opsbox = val(raw.serverCpuUs);

    // PutFile: each connection commits to its own branch, parent = its previous commit
    const tip = (await getBranch()).branch!.commitId!;
    const tips: string[] = [];
    for (let w = 0; w < plan.connections; w++) {
      await cc.send(new CreateBranchCommand({ repositoryName: name, branchName: `w${w}`, commitId: tip }));
      tips.push(tip);
    }
    let seq = 0;
    const put = async (_: number, w: number) => {
      const n = seq++;
      const r = await cc.send(
        new PutFileCommand({
          repositoryName: name,
          branchName: `w${w}`,
          parentCommitId: tips[w],
          filePath: `w${w}/n.txt`,
          fileContent: Buffer.from(`${w} ${n}\n`),
          commitMessage: `put ${n}`,
        }),
      );
      tips[w] = r.commitId!;
    };
    log(`codecommit-api: PutFile × ${plan.putsPerConnection} on each of ${plan.connections} branches`);
    await drive(plan.connections, plan.connections, put);
    const pf = await drive(plan.putsPerConnection * plan.connections, plan.connections, put);
    details.putFile = pf;
    fill(pf, r.pfP50, r.pfP99, r.pfRps);

    // the same, all on one branch: read the tip, put, and on ParentCommitIdOutdatedException read it again
    log(`codecommit-api: ${plan.sharedCommits} PutFile commits on one branch from ${plan.connections} connections`);
    await cc.send(new CreateBranchCommand({ repositoryName: name, branchName: 'shared', commitId: tip }));
    let outdated = 0;
    const sharedPut = async (i: number) => {
      for (let attempt = 0; ; attempt++) {
        const parent = (await cc.send(new GetBranchCommand({ repositoryName: name, branchName: 'shared' }))).branch!.commitId!;
        try {
          await cc.send(
            new PutFileCommand({
              repositoryName: name,
              branchName: 'shared',
              parentCommitId: parent,
              filePath: `shared/${i % 16}.txt`,
              fileContent: Buffer.from(`${i} ${attempt} ${seq++}\n`),
            }),
          );
          return;
        } catch (e) {
          if ((e as Error).name !== 'ParentCommitIdOutdatedException' || attempt > 10_000) throw e;
          outdated++;
        }
      }
    };
    const sp = await drive(plan.sharedCommits, plan.connections, sharedPut);
    details.sharedPut = { ...sp, outdated };
    fill(sp, r.spP50, undefined, r.spRps);
    r.spOutdated.cells.opsbox = val(outdated / Math.max(1, sp.count));
  } catch (e) {
    log(`codecommit-api failed: ${(e as Error).stack}`);
    for (const r of rows) if (!r.cells.opsbox) r.cells.opsbox = na(e);
  } finally {
    close();
    rmSync(root, { recursive: true, force: true });
  }
  return { rows, details };
}

/**
 * The same SDK client and raw sockets against the bare node:http server's canned GetFile and
 * GetBranch answers: what the load generator and Node's HTTP stack manage with a server that
 * does nothing (the "bare node" column).
 */
async function bareLimit(b: Target | Error | undefined, plan: CodecommitApiPlan, r: Record<string, Row>) {
  if (!b) return undefined;
  const fail = (e: unknown) => {
    for (const k of ['gfP50', 'gfP99', 'gfRps', 'rawP50', 'rawRps', 'gbP50', 'gbP99', 'gbRps', 'sdkCpu']) r[k].cells.bare = na(e);
  };
  if (b instanceof Error) return fail(b);
  const { cc, close } = client(b, plan.connections);
  const pid = serverPid;
  serverPid = b.pid;
  try {
    const getFile = () => cc.send(new GetFileCommand({ repositoryName: 'bare', commitSpecifier: 'main', filePath: 'src/m0/file0.ts' }));
    const getBranch = () => cc.send(new GetBranchCommand({ repositoryName: 'bare', branchName: 'main' }));
    await drive(plan.warmup, plan.connections, getFile);
    const gf = await medianOf(plan.rounds, () => drive(plan.calls, plan.connections, getFile));
    const req = [signedCall(b, 'GetFile', { repositoryName: 'bare', commitSpecifier: 'main', filePath: 'src/m0/file0.ts' })];
    await driveRaw(b, plan.warmup, plan.connections, req);
    const raw = await medianOf(plan.rounds, () => driveRaw(b, plan.calls, plan.connections, req));
    await drive(plan.warmup, plan.connections, getBranch);
    const gb = await medianOf(plan.rounds, () => drive(plan.calls, plan.connections, getBranch));
    for (const [run, p50, p99, rps] of [
      [gf, r.gfP50, r.gfP99, r.gfRps],
      [raw, r.rawP50, undefined, r.rawRps],
      [gb, r.gbP50, r.gbP99, r.gbRps],
    ] as const) {
      p50.cells.bare = val(run.p50Ms);
      if (p99) p99.cells.bare = val(run.p99Ms);
      rps.cells.bare = val(run.rps);
    }
    r.sdkCpu.cells.bare = val(gf.clientCpuUs);
    return { getFile: gf, getFileRaw: raw, getBranch: gb };
  } catch (e) {
    fail(e);
    return undefined;
  } finally {
    serverPid = pid;
    close();
  }
}

/** moto 5.2.1's CodeCommit has CreateRepository, GetRepository and DeleteRepository only; ask it rather than assume. */
async function probeMoto(m: Target | Error | undefined, rows: Row[]) {
  if (!m) return;
  let reason: string;
  if (m instanceof Error) reason = `moto not started: ${m.message}`;
  else {
    const date = new Date()
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d{3}/, '');
    const call = (op: string, body: object) =>
      fetch(`http://${m.host}:${m.port}/`, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/x-amz-json-1.1',
          'X-Amz-Target': `CodeCommit_20150413.${op}`,
          'X-Amz-Date': date,
          Authorization: `AWS4-HMAC-SHA256 Credential=test/${date.slice(0, 8)}/us-east-1/codecommit/aws4_request, SignedHeaders=host, Signature=${'0'.repeat(64)}`,
        },
        body: JSON.stringify(body),
      });
    try {
      const name = `bench-api-${Date.now().toString(36)}`;
      await (await call('CreateRepository', { repositoryName: name })).text();
      const r = await call('GetFile', { repositoryName: name, filePath: 'README.md' });
      const text = await r.text();
      reason =
        r.status >= 500 || /not.*implemented/i.test(text)
          ? `moto: not implemented (GetFile → HTTP ${r.status}; moto 5.2.1's CodeCommit has CreateRepository, GetRepository, DeleteRepository only)`
          : `moto answered GetFile with HTTP ${r.status}: ${text.slice(0, 100)}`;
    } catch (e) {
      reason = `moto: GetFile failed: ${(e as Error).message}`;
    }
  }
  for (const r of rows) if (!/cat-file|CPU per call/.test(r.label)) r.cells.moto = na(reason);
}
