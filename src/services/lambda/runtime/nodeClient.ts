/**
 * The Node.js runtime client opsbox starts as a function's execution environment (a process of its
 * own, importing nothing from opsbox): it loads the handler `_HANDLER` names from LAMBDA_TASK_ROOT
 * as Lambda's Node runtime does (ES modules and CommonJS; `file.export`, async or callback style)
 * and loops on the Runtime API at AWS_LAMBDA_RUNTIME_API: next → handler → response or error.
 * console output is written as Lambda writes it: `<time>\t<request id>\t<LEVEL>\t<message>`.
 */
import { existsSync } from 'node:fs';
import http from 'node:http';
import { register } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { format } from 'node:util';

/**
 * NODE_PATH for ES modules. CommonJS `require` falls back to the NODE_PATH folders (where Lambda
 * puts the layers' /opt/nodejs/node_modules); ES module imports ignore NODE_PATH, yet Lambda's Node
 * runtime resolves a handler's bare imports from the layers too. This resolve hook, run in Node's
 * loader thread, retries a bare specifier that failed the usual way (node_modules folders up from
 * the importing file) from each NODE_PATH folder in order — so `require` and `import` see the
 * same modules, with the function's own node_modules first. Registered before the handler loads.
 */
const RESOLVE_FROM_NODE_PATH = `
import { pathToFileURL } from 'node:url';
let dirs = [];
export function initialize(data) { dirs = data; }
export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (err) {
    if (err?.code !== 'ERR_MODULE_NOT_FOUND' || /^(?:[./#]|[a-zA-Z][a-zA-Z0-9+.-]*:)/.test(specifier)) throw err;
    for (const dir of dirs) {
      try {
        return await next(specifier, { ...context, parentURL: pathToFileURL(dir + '/').href });
      } catch {}
    }
    throw err;
  }
}
`;
const nodePath = (process.env.NODE_PATH ?? '').split(':').filter(Boolean);
if (nodePath.length) register(`data:text/javascript,${encodeURIComponent(RESOLVE_FROM_NODE_PATH)}`, { data: nodePath });

const api = process.env.AWS_LAMBDA_RUNTIME_API!;
const [host, port] = api.split(':');
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const base = '/2018-06-01/runtime';

function request(
  method: string,
  path: string,
  body?: string,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host, port: Number(port), method, path: base + path, agent, headers: body ? { 'content-type': 'application/json' } : {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

interface LambdaError {
  errorType: string;
  errorMessage: string;
  stackTrace?: string[];
}

const toError = (err: unknown, type?: string): LambdaError =>
  err instanceof Error
    ? {
        errorType: type ?? err.name,
        errorMessage: err.message,
        stackTrace: (err.stack ?? '')
          .split('\n')
          .slice(1)
          .map((l) => l.trim()),
      }
    : { errorType: type ?? 'Error', errorMessage: typeof err === 'string' ? err : JSON.stringify(err) };

let requestId = 'undefined';
for (const [level, method] of [
  ['INFO', 'log'],
  ['INFO', 'info'],
  ['WARN', 'warn'],
  ['ERROR', 'error'],
  ['DEBUG', 'debug'],
  ['TRACE', 'trace'],
] as const) {
  console[method] = (...args: unknown[]) => {
    process.stdout.write(`${new Date().toISOString()}\t${requestId}\t${level}\t${format(...args).replace(/\n/g, '\r')}\n`);
  };
}

type Handler = (event: unknown, context: object, callback?: (err?: unknown, result?: unknown) => void) => unknown;

async function loadHandler(): Promise<Handler> {
  const spec = process.env._HANDLER ?? '';
  const dot = spec.lastIndexOf('.');
  if (dot <= 0) throw Object.assign(new Error(`Bad handler ${spec}: expected file.export`), { name: 'Runtime.MalformedHandlerName' });
  const modulePath = spec.slice(0, dot);
  const exportName = spec.slice(dot + 1);
  const root = process.env.LAMBDA_TASK_ROOT ?? process.cwd();
  const file = ['.js', '.mjs', '.cjs', ''].map((ext) => join(root, modulePath + ext)).find((f) => existsSync(f));
  if (!file) throw Object.assign(new Error(`Cannot find module '${modulePath}'`), { name: 'Runtime.ImportModuleError' });
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (err) {
    throw Object.assign(err instanceof Error ? err : new Error(String(err)), { name: 'Runtime.UserCodeSyntaxError' });
  }
  const exported = (mod[exportName] ?? (mod.default as Record<string, unknown> | undefined)?.[exportName]) as Handler | undefined;
  if (typeof exported !== 'function')
    throw Object.assign(new Error(`${modulePath}.${exportName} is undefined or not exported`), { name: 'Runtime.HandlerNotFound' });
  return exported;
}

/** Runs the handler once: a promise, a callback, or (old style) context.succeed/fail/done. */
function invoke(handler: Handler, event: unknown, context: Record<string, unknown>): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const done = (err?: unknown, result?: unknown) => {
      if (settled) return;
      settled = true;
      if (err !== undefined && err !== null) reject(err);
      else resolve(result);
    };
    context.done = done;
    context.succeed = (result: unknown) => done(undefined, result);
    context.fail = (err: unknown) => done(err ?? new Error('handled'));
    try {
      const out = handler(event, context, done);
      if (out && typeof (out as Promise<unknown>).then === 'function')
        (out as Promise<unknown>).then(
          (r) => done(undefined, r),
          (e) => done(e ?? new Error('rejected')),
        );
      else if (handler.length < 3) done(undefined, out);
    } catch (err) {
      done(err);
    }
  });
}

async function main() {
  let handler: Handler;
  try {
    handler = await loadHandler();
  } catch (err) {
    const e = toError(err);
    console.error(`${e.errorType}: ${e.errorMessage}`);
    await request('POST', '/init/error', JSON.stringify(e));
    process.exit(1);
  }
  for (;;) {
    const next = await request('GET', '/invocation/next');
    requestId = String(next.headers['lambda-runtime-aws-request-id']);
    const deadline = Number(next.headers['lambda-runtime-deadline-ms']);
    const context = {
      awsRequestId: requestId,
      invokedFunctionArn: String(next.headers['lambda-runtime-invoked-function-arn']),
      functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
      functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
      memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
      logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
      logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
      callbackWaitsForEmptyEventLoop: true,
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    };
    let event: unknown;
    try {
      event = next.body ? JSON.parse(next.body) : {};
    } catch {
      event = next.body;
    }
    try {
      const result = await invoke(handler, event, context);
      await request('POST', `/invocation/${requestId}/response`, result === undefined ? 'null' : JSON.stringify(result));
    } catch (err) {
      const e = toError(err);
      console.error(`Invoke Error \t${JSON.stringify(e)}`);
      await request('POST', `/invocation/${requestId}/error`, JSON.stringify(e));
    }
  }
}

void main();
