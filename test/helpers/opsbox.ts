/**
 * Starts a real opsbox process (the compiled CLI) on a free port with its own data dir, for
 * integration tests. `kill9()` + `start()` again on the same data dir tests durability.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

export interface RunningOpsbox {
  url: string;
  port: number;
  dataDir: string;
  proc: ChildProcess;
  stderr(): string;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit. */
  kill9(): Promise<void>;
  /** Stop and remove the data dir. */
  dispose(): Promise<void>;
}

export async function startOpsbox(opts: { dataDir?: string; env?: Record<string, string>; args?: string[] } = {}): Promise<RunningOpsbox> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'opsbox-test-'));
  const proc = spawn(process.execPath, [CLI, 'start', '--port', '0', '--data-dir', dataDir, ...(opts.args ?? [])], {
    // no X-Ray daemon on the fixed port 2000 unless a test asks for one on a port it chose
    env: { ...process.env, OPSBOX_LOG_LEVEL: 'warn', OPSBOX_XRAY_DAEMON_PORT: 'off', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  proc.stderr!.on('data', (d) => (err += d));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`opsbox did not start: ${out}${err}`)), 15_000);
    proc.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/[^\s]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`opsbox exited with ${code}: ${out}${err}`));
    });
  });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const stopWith = async (signal: NodeJS.Signals) => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
    await exited;
  };
  return {
    url,
    port: Number(new URL(url).port),
    dataDir,
    proc,
    stderr: () => err,
    stop: () => stopWith('SIGTERM'),
    kill9: () => stopWith('SIGKILL'),
    async dispose() {
      await stopWith('SIGTERM');
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Config for any @aws-sdk/client-* v3 client pointed at opsbox. */
export function clientConfig(
  url: string,
  opts: { accessKeyId?: string; secretAccessKey?: string; sessionToken?: string; region?: string } = {},
) {
  return {
    endpoint: url,
    region: opts.region ?? 'us-east-1',
    credentials: {
      accessKeyId: opts.accessKeyId ?? 'test',
      secretAccessKey: opts.secretAccessKey ?? 'test',
      sessionToken: opts.sessionToken,
    },
    maxAttempts: 1,
  };
}

/** The environment the aws CLI runs with in tests: test credentials, no user config, no pager. */
export const awsCliEnv = (extra: Record<string, string> = {}): Record<string, string> => ({
  PATH: process.env.PATH ?? '',
  HOME: process.env.HOME ?? '/tmp',
  AWS_ACCESS_KEY_ID: 'test',
  AWS_SECRET_ACCESS_KEY: 'test',
  AWS_DEFAULT_REGION: 'us-east-1',
  AWS_PAGER: '',
  AWS_CONFIG_FILE: '/dev/null',
  AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
  ...extra,
});

/** Runs Debian's aws CLI v2 (/usr/bin/aws) against opsbox; returns stdout, stderr and exit code. */
export async function awsCli(url: string, args: string[], env: Record<string, string> = {}) {
  const { execFile } = await import('node:child_process');
  return new Promise<{ stdout: string; stderr: string; code: number }>((resolve) => {
    execFile(
      '/usr/bin/aws',
      ['--endpoint-url', url, '--output', 'json', ...args],
      {
        env: awsCliEnv(env),
        maxBuffer: 64 * 1024 * 1024,
      },
      (error, stdout, stderr) => resolve({ stdout, stderr, code: error ? ((error as any).code ?? 1) : 0 }),
    );
  });
}

/** A unique resource name for a test, so tests never collide. */
export const unique = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

/** The rejection of an SDK v3 call as { name, message, status }; fails the test if the call succeeds. */
export async function failure(p: Promise<unknown>): Promise<{ name: string; message: string; status: number }> {
  try {
    await p;
  } catch (e) {
    const err = e as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: err.name, message: err.message, status: err.$metadata?.httpStatusCode ?? 0 };
  }
  throw new Error('expected the call to fail');
}
