/**
 * Execution environments: each is a real process (the Node or Python runtime client of this folder,
 * or a custom runtime's `bootstrap`) with a Runtime API server of its own on a loopback port
 * (AWS_LAMBDA_RUNTIME_API), since the API's paths cannot say which environment is asking. An
 * environment serves one invocation at a time; between invocations it stays warm (its process
 * waits in GET /next) and is reused for the same function version and configuration, until it has
 * been idle for IDLE_MS or the function changes. A timeout kills the process, as Lambda does.
 *
 * Output goes to CloudWatch Logs /aws/lambda/<name>, one stream per environment, framed by the
 * START / END / REPORT lines Lambda writes; the invocation's own lines are also kept for
 * `LogType: Tail`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Scope } from '../../../core/arn.js';
import { LogStream } from '../../../core/logStream.js';
import type { ServiceEnv } from '../../../gateway/service.js';
import type { FunctionDoc } from '../store.js';

const NODE_CLIENT = fileURLToPath(new URL('./nodeClient.js', import.meta.url));
const IDLE_MS = Number(process.env.OPSBOX_LAMBDA_IDLE_MS ?? 600_000);
const TAIL_BYTES = 4096;

/** A function version as an environment runs it. */
export interface Runnable {
  /** Environments are shared only between invocations of the same key (function, version, revision). */
  key: string;
  scope: Scope;
  functionName: string;
  version: string;
  invokedArn: string;
  doc: FunctionDoc;
  codeDir: string;
  /** The merged layers standing in for /opt (lambda/layers.ts), when the function has layers. */
  optDir?: string;
  /** The process environment: AWS's reserved variables, the function's own, the role's credentials. */
  variables: Record<string, string>;
}

export interface InvocationResult {
  payload: Buffer;
  functionError?: 'Unhandled';
  /** The invocation's log lines (START … REPORT), for LogType Tail. */
  logTail: string;
  durationMs: number;
  initDurationMs?: number;
}

interface Invocation {
  id: string;
  payload: Buffer;
  /** The ARN invoked (an alias's, a version's): environments are shared across them. */
  invokedArn: string;
  deadline: number;
  /** performance.now() when the invocation reached its environment (after any init). */
  started: number;
  /** Whether this invocation started its environment (its REPORT carries Init Duration). */
  cold: boolean;
  lines: string[];
  resolve(r: InvocationResult): void;
}

type Outcome = { payload: Buffer; functionError?: 'Unhandled' };

const interpreter = (
  runtime: string | undefined,
  pythonClient: string,
  codeDir: string,
  optDir?: string,
): [string, string[]] | undefined => {
  if (!runtime) return undefined;
  if (runtime.startsWith('nodejs')) return [process.execPath, [NODE_CLIENT]];
  if (runtime.startsWith('python')) return ['python3', ['-u', pythonClient]];
  // as Lambda does, a custom runtime's bootstrap comes from the package, or else from a layer (/opt/bootstrap)
  if (runtime.startsWith('provided'))
    return [
      optDir && !existsSync(`${codeDir}/bootstrap`) && existsSync(`${optDir}/bootstrap`) ? `${optDir}/bootstrap` : `${codeDir}/bootstrap`,
      [],
    ];
  return undefined;
};

export const isRunnableRuntime = (runtime: string | undefined) => !!runtime && /^(nodejs|python|provided)/.test(runtime);

class Environment {
  readonly server: http.Server;
  proc?: ChildProcess;
  state: 'init' | 'idle' | 'busy' | 'dead' = 'init';
  current?: Invocation;
  private waiting?: ServerResponse;
  private idleTimer?: { cancel(): void };
  private initStarted = 0;
  initDurationMs?: number;
  readonly logs: LogStream;
  readonly streamName: string;

  constructor(
    private pool: EnvironmentPool,
    readonly r: Runnable,
  ) {
    const day = new Date(pool.env.clock.now()).toISOString().slice(0, 10).replace(/-/g, '/');
    this.streamName = `${day}/[${r.version}]${randomBytes(16).toString('hex')}`;
    this.logs = new LogStream(pool.env.services, pool.env.clock, r.scope, `/aws/lambda/${r.functionName}`, this.streamName, true);
    this.server = http.createServer((req, res) => this.api(req, res));
  }

  async start(pythonClient: string) {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const port = (this.server.address() as AddressInfo).port;
    const [cmd, args] = interpreter(this.r.doc.Runtime, pythonClient, this.r.codeDir, this.r.optDir)!;
    this.initStarted = performance.now();
    const proc = spawn(cmd, args, {
      cwd: this.r.codeDir,
      env: {
        ...this.r.variables,
        AWS_LAMBDA_RUNTIME_API: `127.0.0.1:${port}`,
        AWS_LAMBDA_LOG_STREAM_NAME: this.streamName,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = proc;
    for (const stream of [proc.stdout!, proc.stderr!]) {
      let rest = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        const lines = (rest + chunk).split('\n');
        rest = lines.pop()!;
        for (const l of lines) this.output(l);
      });
      stream.on('end', () => rest && this.output(rest));
    }
    proc.on('error', (err) => this.died(`Runtime.InvalidEntrypoint`, `RequestId: ${this.current?.id ?? ''} Error: ${err.message}`));
    proc.on('exit', (code, signal) =>
      this.died(
        'Runtime.ExitError',
        `RequestId: ${this.current?.id ?? ''} Error: Runtime exited ${signal ? `with signal: ${signal}` : `with error: exit status ${code}`}`,
      ),
    );
  }

  private output(line: string) {
    this.logs.line(line);
    this.current?.lines.push(line);
  }

  /** Lambda's own lines (START, END, REPORT, timeouts) go to the log and the tail alike. */
  system(line: string) {
    this.output(line);
  }

  run(inv: Invocation) {
    this.idleTimer?.cancel();
    this.current = inv;
    this.system(`START RequestId: ${inv.id} Version: ${this.r.version}`);
    // an environment whose runtime died while starting answers at once, with what the runtime reported
    if (this.state === 'dead') return this.closeDown('Runtime.ExitError', `RequestId: ${inv.id} Error: Runtime exited before it was ready`);
    this.state = 'busy';
    this.thaw();
    if (this.waiting) {
      const res = this.waiting;
      this.waiting = undefined;
      this.deliver(res, inv);
    }
  }

  private frozen = false;

  /**
   * Between invocations Lambda freezes the environment: its process gets no CPU, so timers and
   * background work a handler left running wait until the next invocation thaws it.
   */
  private freeze() {
    if (this.frozen || !this.proc?.pid || this.state !== 'idle') return;
    this.frozen = this.proc.kill('SIGSTOP');
  }

  private thaw() {
    if (this.frozen) this.proc?.kill('SIGCONT');
    this.frozen = false;
  }

  private deliver(res: ServerResponse, inv: Invocation) {
    res.writeHead(200, {
      'Content-Type': 'application/json',
      'Lambda-Runtime-Aws-Request-Id': inv.id,
      'Lambda-Runtime-Deadline-Ms': String(inv.deadline),
      'Lambda-Runtime-Invoked-Function-Arn': inv.invokedArn,
      'Lambda-Runtime-Trace-Id': `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${randomBytes(12).toString('hex')};Sampled=0`,
      'Content-Length': inv.payload.length,
    });
    res.end(inv.payload);
  }

  /** Ends the current invocation with Lambda's END and REPORT lines; the environment is idle again unless it died. */
  finish(outcome: Outcome) {
    const inv = this.current;
    if (!inv) return;
    const durationMs = performance.now() - inv.started;
    this.output(`END RequestId: ${inv.id}`);
    this.output(
      `REPORT RequestId: ${inv.id}\tDuration: ${durationMs.toFixed(2)} ms\tBilled Duration: ${Math.max(1, Math.ceil(durationMs))} ms\t` +
        `Memory Size: ${this.r.doc.MemorySize} MB\tMax Memory Used: ${maxMemoryMb(this.proc?.pid)} MB` +
        (inv.cold && this.initDurationMs !== undefined ? `\tInit Duration: ${this.initDurationMs.toFixed(2)} ms` : ''),
    );
    this.current = undefined;
    const tail = Buffer.from(inv.lines.join('\n') + '\n');
    inv.resolve({
      ...outcome,
      durationMs,
      initDurationMs: inv.cold ? this.initDurationMs : undefined,
      logTail: tail.subarray(Math.max(0, tail.length - TAIL_BYTES)).toString('utf8'),
    });
    if (this.state !== 'dead') {
      this.state = 'idle';
      this.idleTimer = this.pool.env.clock.setTimeout(() => this.stop(), IDLE_MS);
    }
  }

  private died(errorType: string, errorMessage: string) {
    if (this.state === 'dead' && !this.current) return this.closeDown(errorType, errorMessage);
    this.state = 'dead';
    this.closeDown(errorType, errorMessage);
  }

  private closed = false;

  /** The process is gone: answer what is in flight, free the port, leave the pool. */
  private closeDown(errorType: string, errorMessage: string) {
    if (this.current) {
      const failure = this.initFailed ?? Buffer.from(JSON.stringify({ errorType, errorMessage }));
      this.finish({ payload: failure, functionError: 'Unhandled' });
    }
    this.onReady?.();
    if (this.closed) return;
    this.closed = true;
    this.idleTimer?.cancel();
    this.server.close();
    this.waiting?.destroy();
    this.pool.removed(this);
    void this.logs.flush();
  }

  /** Resolves once the runtime asks for its first invocation (init done) or the process is gone. */
  ready(): Promise<void> {
    return new Promise((resolve) => {
      if (this.state !== 'init') return resolve();
      this.onReady = resolve;
    });
  }
  private onReady?: () => void;

  /** Kills the process (a timeout, an idle environment, a changed function, shutdown); `reason` answers the invocation in flight. */
  stop(reason?: { errorMessage: string }) {
    this.state = 'dead';
    if (reason && this.current) this.finish({ payload: Buffer.from(JSON.stringify(reason)), functionError: 'Unhandled' });
    this.proc?.kill('SIGKILL');
    this.closeDown('Runtime.ExitError', 'stopped');
  }

  private async body(req: IncomingMessage) {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }

  private async api(req: IncomingMessage, res: ServerResponse) {
    const path = (req.url ?? '').split('?')[0];
    const ok = (status = 202) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end('{"status":"OK"}');
    };
    if (req.method === 'GET' && path === '/2018-06-01/runtime/invocation/next') {
      if (this.state === 'init') {
        this.initDurationMs = performance.now() - this.initStarted;
        this.state = 'idle';
        this.onReady?.();
      }
      if (this.current && !this.waiting) return this.deliver(res, this.current);
      this.waiting = res;
      // the runtime is done and waiting for work: freeze it until there is some
      this.freeze();
      return;
    }
    const m = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/.exec(path);
    if (req.method === 'POST' && m) {
      const body = await this.body(req);
      if (!this.current || this.current.id !== m[1]) {
        res.writeHead(400, { 'Content-Type': 'application/json' });
        return res.end(JSON.stringify({ errorMessage: `Invalid request ID: ${m[1]}`, errorType: 'InvalidRequestID' }));
      }
      ok();
      this.finish(m[2] === 'response' ? { payload: body } : { payload: body, functionError: 'Unhandled' });
      return;
    }
    if (req.method === 'POST' && path === '/2018-06-01/runtime/init/error') {
      const body = await this.body(req);
      ok();
      this.initFailed = body;
      return;
    }
    res.writeHead(404, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ errorMessage: 'Unknown path', errorType: 'InvalidPath' }));
  }

  /** The body a failed init posted, answered to the invocation that started the environment. */
  initFailed?: Buffer;
}

export class EnvironmentPool {
  private envs = new Set<Environment>();
  private pythonClient = '';

  constructor(readonly env: ServiceEnv) {}

  setPythonClient(path: string) {
    this.pythonClient = path;
  }

  /** Environments busy or starting in the account (what Lambda's concurrency counts). */
  concurrency(account: string) {
    let n = 0;
    for (const e of this.envs) if (e.r.scope.account === account && (e.state === 'busy' || e.state === 'init')) n++;
    return n;
  }

  /** Runs one invocation, in a warm environment of the same key or a new one. */
  async invoke(r: Runnable, payload: Buffer, requestId: string): Promise<InvocationResult> {
    let env = [...this.envs].find((e) => e.r.key === r.key && e.state === 'idle');
    const cold = !env;
    if (!env) {
      env = new Environment(this, r);
      this.envs.add(env);
      await env.start(this.pythonClient);
      await env.ready();
    }
    const e = env;
    const timeoutMs = r.doc.Timeout * 1000;
    return new Promise<InvocationResult>((resolve) => {
      const timer = this.env.clock.setTimeout(() => {
        if (e.current?.id !== requestId) return;
        const message = `${new Date().toISOString()} ${requestId} Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`;
        e.system(message);
        e.stop({ errorMessage: message });
      }, timeoutMs);
      const inv: Invocation = {
        id: requestId,
        payload,
        invokedArn: r.invokedArn,
        deadline: Date.now() + timeoutMs,
        started: performance.now(),
        cold,
        lines: [],
        resolve: (res) => {
          timer.cancel();
          resolve(res);
        },
      };
      e.run(inv);
    });
  }

  removed(e: Environment) {
    this.envs.delete(e);
  }

  /** Stops the environments of a function not serving an invocation (its code or configuration changed, or it was deleted). */
  evict(keyPrefix: string) {
    for (const e of [...this.envs]) if (e.r.key.startsWith(keyPrefix) && e.state !== 'busy') e.stop();
  }

  async close() {
    const all = [...this.envs];
    for (const e of all) e.stop({ errorMessage: 'opsbox is shutting down' });
    await Promise.all(all.map((e) => e.logs.flush()));
  }
}

function maxMemoryMb(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const kb = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'))?.[1] ?? 0);
    return Math.round(kb / 1024);
  } catch {
    return 0;
  }
}
