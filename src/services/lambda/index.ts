/**
 * Lambda: functions that really run. functions.ts holds the function and version API, invoke.ts
 * Invoke, layers.ts the layers (and the /opt stand-in functions see them in), runtime/ the execution environments (processes speaking the Lambda Runtime API: the Node
 * and Python runtime clients, or a custom runtime's bootstrap), code.ts the unpacked packages,
 * store.ts the tables, targets.ts the env.targets invoker (EventBridge rules, SNS subscriptions,
 * alarm actions). Output goes to CloudWatch Logs /aws/lambda/<name>; AWS/Lambda metrics to
 * CloudWatch.
 */
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { ServiceEnv, ServiceInstance, ServiceSpec } from '../../gateway/service.js';
import type { LambdaHandlers } from './api.generated.js';
import { AsyncInvoker } from './async.js';
import { asyncConfigHandlers } from './asyncConfig.js';
import { CodeCache } from './code.js';
import { aliasHandlers } from './aliases.js';
import { ConcurrencyLimits } from './concurrency.js';
import { ACCOUNT_CONCURRENCY, functionHandlers } from './functions.js';
import { createExecutor, invokeHandlers } from './invoke.js';
import { layerHandlers } from './layers.js';
import { permissionHandlers } from './permissions.js';
import { EnvironmentPool } from './runtime/environments.js';
import { PYTHON_CLIENT } from './runtime/pythonClient.js';
import { createAsyncTables, createLambdaStore } from './store.js';
import { registerLambdaTargets } from './targets.js';
import { urlHandlers, urlRoutes } from './urls.js';

export function createLambda(env: ServiceEnv): ServiceInstance<LambdaHandlers> {
  const store = createLambdaStore(env.store, env.blobs, env.tags);
  const code = new CodeCache(env.config.dataDir, env.blobs);
  const pool = new EnvironmentPool(env);
  const runtimeDir = join(env.config.dataDir, 'lambda', 'runtime');
  mkdirSync(runtimeDir, { recursive: true });
  const pythonClient = join(runtimeDir, 'bootstrap.py');
  writeFileSync(pythonClient, PYTHON_CLIENT);
  pool.setPythonClient(pythonClient);
  provideSdk(join(env.config.dataDir, 'lambda', 'code'));
  // asynchronous invocation and concurrency: the durable Event queue, its engine and the limits
  const tables = createAsyncTables(env.store);
  const limits = new ConcurrencyLimits(tables, ACCOUNT_CONCURRENCY);
  const executor = createExecutor(env, store, code, pool);
  const engine = new AsyncInvoker(env, tables, executor, limits);
  // SNS subscriptions, EventBridge rules, alarm actions and destinations invoke functions asynchronously
  registerLambdaTargets(env, engine);
  const base = {
    ...functionHandlers(env, store, env.tags, code, pool),
    ...invokeHandlers(executor, limits, engine),
    ...layerHandlers(env, code),
    ...aliasHandlers(store),
    ...permissionHandlers(store),
    ...urlHandlers(env, store),
  };
  return {
    handlers: { ...base, ...asyncConfigHandlers(store, tables, executor, engine, limits, base) },
    routes: urlRoutes(env, store),
    start: () => engine.start(),
    async close() {
      engine.close();
      await pool.close();
    },
  };
}

/**
 * Lambda's Node runtimes include the AWS SDK for JavaScript v3: functions import '@aws-sdk/…'
 * without packaging it. Node resolves imports by walking up from the importing file, so the SDK
 * clients opsbox has are linked into a node_modules folder above every unpacked package.
 */
function provideSdk(codeRoot: string) {
  let sdk: string;
  try {
    sdk = dirname(dirname(createRequire(import.meta.url).resolve('@aws-sdk/client-sts/package.json')));
  } catch {
    return;
  }
  const link = join(codeRoot, 'node_modules', '@aws-sdk');
  if (existsSync(link)) return;
  mkdirSync(dirname(link), { recursive: true });
  symlinkSync(sdk, link, 'dir');
}

export const lambda: ServiceSpec<LambdaHandlers> = {
  name: 'lambda',
  model: 'lambda-2015-03-31',
  signingName: 'lambda',
  protocols: ['rest-json'],
  bodyLimits: {
    CreateFunction: 70 * 1024 * 1024,
    UpdateFunctionCode: 70 * 1024 * 1024,
    PublishLayerVersion: 70 * 1024 * 1024,
    Invoke: 6 * 1024 * 1024,
  },
  patch: { validationErrorCode: 'ValidationException' },
  // sns and events: the destinations of asynchronous invocations the queue resumes at start
  dependsOn: ['logs', 'sts', 'sns', 'events'],
  create: createLambda,
};
