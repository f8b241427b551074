/**
 * The servers under test, each a child process on 127.0.0.1: opsbox (the compiled CLI, ephemeral
 * data dir), moto_server (Python moto, the usual alternative) and a bare node:http server that
 * answers a canned GetCallerIdentity ("the limit" of a Node HTTP server on this machine).
 * Also: free ports, readiness polling and /proc-based memory sampling.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import http from 'node:http';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

/** 'registry': the CNCF distribution registry (Debian's docker-registry), ECR's peer. */
export type TargetName = 'opsbox' | 'moto' | 'bare' | 'registry';

export interface Target {
  name: TargetName;
  host: string;
  port: number;
  pid: number;
  /** ms from spawn until the server answered. */
  startMs: number;
  stderr(): string;
  stop(): Promise<void>;
}

export const HOST = '127.0.0.1';
export const OPSBOX_CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const BARE_SERVER = fileURLToPath(new URL('./bareServer.js', import.meta.url));

const live = new Set<ChildProcess>();
// never leave a server behind, even when the bench crashes
process.on('exit', () => {
  for (const p of live) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
});

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, HOST, () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** One GET; resolves with the status, or undefined when nothing listens yet. */
function probe(port: number, path: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = http.get({ host: HOST, port, path, agent: false, timeout: 2000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', () => resolve(undefined));
    req.on('timeout', () => req.destroy());
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitReady(proc: ChildProcess, port: number, path: string, ready: (s: number) => boolean, timeoutMs: number, pollMs: number) {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null)
      throw new Error(`exited with ${proc.exitCode ?? proc.signalCode} before answering`);
    const status = await probe(port, path);
    if (status !== undefined && ready(status)) return;
    await sleep(pollMs);
  }
  throw new Error(`did not answer ${path} within ${timeoutMs} ms`);
}

async function launch(
  name: TargetName,
  cmd: string,
  args: string[],
  path: string,
  ready: (s: number) => boolean,
  port: number,
  timeoutMs: number,
  env: Record<string, string> = {},
): Promise<Target> {
  const t0 = performance.now();
  const proc = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  live.add(proc);
  let err = '';
  proc.stderr!.on('data', (d) => (err = (err + d).slice(-4000)));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
    live.delete(proc);
  };
  try {
    await waitReady(proc, port, path, ready, timeoutMs, name === 'moto' ? 25 : 2);
  } catch (e) {
    await stop();
    throw new Error(`${name}: ${(e as Error).message}${err ? `: ${err.trim().split('\n').slice(-3).join(' | ')}` : ''}`);
  }
  return { name, host: HOST, port, pid: proc.pid!, startMs: performance.now() - t0, stderr: () => err, stop };
}

export async function startOpsbox(nodeArgs: string[] = [], env: Record<string, string> = {}): Promise<Target> {
  const port = await freePort();
  return launch(
    'opsbox',
    process.execPath,
    [...nodeArgs, OPSBOX_CLI, 'start', '--port', String(port), '--ephemeral'],
    '/_opsbox/health',
    (s) => s === 200,
    port,
    15_000,
    { OPSBOX_LOG_LEVEL: 'warn', ...env },
  );
}

export async function startMoto(): Promise<Target> {
  const port = await freePort();
  return launch('moto', 'moto_server', ['-H', HOST, '-p', String(port)], '/moto-api/', () => true, port, 30_000);
}

/** The CNCF distribution registry with filesystem storage in `dir`, over plain HTTP. */
export async function startRegistry(dir: string): Promise<Target> {
  const port = await freePort();
  const config = join(dir, 'config.yml');
  writeFileSync(
    config,
    `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\n  delete:\n    enabled: true\nhttp:\n  addr: ${HOST}:${port}\n`,
  );
  return launch('registry', '/usr/bin/docker-registry', ['serve', config], '/v2/', (s) => s === 200, port, 15_000);
}

export async function startBare(): Promise<Target> {
  const port = await freePort();
  return launch('bare', process.execPath, [BARE_SERVER, String(port)], '/', () => true, port, 10_000);
}

export interface Mem {
  rssKb: number;
  hwmKb: number;
}

export function readMem(pid: number): Mem | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'latin1');
    return { rssKb: Number(/VmRSS:\s+(\d+)/.exec(s)?.[1] ?? 0), hwmKb: Number(/VmHWM:\s+(\d+)/.exec(s)?.[1] ?? 0) };
  } catch {
    return undefined;
  }
}

/** Samples VmRSS every `everyMs` until stopped; returns the peak seen. */
export function sampleRss(pid: number, everyMs = 50) {
  let peakKb = readMem(pid)?.rssKb ?? 0;
  let samples = 0;
  const timer = setInterval(() => {
    const m = readMem(pid);
    if (m) {
      samples++;
      if (m.rssKb > peakKb) peakKb = m.rssKb;
    }
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      const m = readMem(pid);
      if (m && m.rssKb > peakKb) peakKb = m.rssKb;
      return { peakKb, samples, hwmKb: m?.hwmKb ?? 0 };
    },
  };
}
