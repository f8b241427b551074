/**
 * Invoke: RequestResponse (the function's answer, X-Amz-Function-Error for a failure, the log tail
 * with LogType Tail), Event (202 once queued in the store; async.ts runs it, with retries and
 * destinations) and DryRun (204). A synchronous invocation beyond the function's reserved
 * concurrency, or the account's, is throttled (concurrency.ts). Each
 * invocation runs in an execution environment (runtime/environments.ts) with its version's code
 * and configuration, the role's temporary credentials, and AWS's reserved variables; Lambda's
 * AWS/Lambda metrics are reported per function and version.
 */
import { randomUUID } from 'node:crypto';
import type { Scope } from '../../core/arn.js';
import { AwsError } from '../../core/errors.js';
import { log } from '../../core/log.js';
import type { ServiceEnv } from '../../gateway/service.js';
import type { LambdaHandlers } from './api.generated.js';
import type { CodeCache } from './code.js';
import type { ConcurrencyLimits } from './concurrency.js';
import { qualifierOf, resolveQualifier } from './aliases.js';
import { ACCOUNT_CONCURRENCY, nameOf } from './functions.js';
import { layerVariables } from './layers.js';
import { isRunnableRuntime, type EnvironmentPool, type InvocationResult, type Runnable } from './runtime/environments.js';
import { docOf, functionArn, notFound, type FunctionRow, type LambdaStore, type VersionRow } from './store.js';

interface Credentials {
  AccessKeyId: string;
  SecretAccessKey: string;
  SessionToken?: string;
  expires: number;
}

/** What runs invocations, for Invoke and for the asynchronous queue (async.ts). */
export type Executor = ReturnType<typeof createExecutor>;

export function createExecutor(env: ServiceEnv, store: LambdaStore, code: CodeCache, pool: EnvironmentPool) {
  const roleCredentials = new Map<string, Credentials>();

  /** Temporary credentials of the execution role, as Lambda gives every environment; the account's own when the role cannot be assumed. */
  async function credentialsFor(scope: Scope, role: string, functionName: string): Promise<Credentials> {
    const key = `${scope.account}|${role}`;
    const cached = roleCredentials.get(key);
    if (cached && cached.expires > env.clock.now() + 300_000) return cached;
    try {
      const r = await env.services.call(
        'sts',
        'AssumeRole',
        { RoleArn: role, RoleSessionName: functionName.slice(0, 64), DurationSeconds: 3600 },
        { ...scope, internal: { servicePrincipal: 'lambda.amazonaws.com' } },
      );
      const c = { ...r.Credentials, expires: new Date(r.Credentials.Expiration).getTime() };
      roleCredentials.set(key, c);
      return c;
    } catch (err) {
      log.warn('lambda: cannot assume the execution role; the function gets the account credentials', { role, err: String(err) });
      // kept a minute (the role may be created meanwhile), not asked for again on every invocation
      const c = { AccessKeyId: scope.account, SecretAccessKey: 'opsbox', expires: env.clock.now() + 360_000 };
      roleCredentials.set(key, c);
      return c;
    }
  }

  async function runnable(ctx: Scope, fn: FunctionRow, v: VersionRow, alias?: string): Promise<Runnable> {
    const d = docOf(v);
    const shaHex = Buffer.from(d.CodeSha256, 'base64').toString('hex');
    const codeDir = await code.unpack(v.code_blob, shaHex);
    const creds = await credentialsFor(ctx, d.Role, fn.name);
    const path = process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin';
    // the layers' /opt stand-in (layers.ts): NODE_PATH, PYTHONPATH, PATH, LD_LIBRARY_PATH, OPSBOX_LAYER_ROOT
    const layered = await layerVariables(env, code, d, path);
    const invokedArn = functionArn(ctx, fn.name, alias ?? (v.version === '$LATEST' ? undefined : v.version));
    return {
      key: `${functionArn(ctx, fn.name)}:${v.version}:${d.RevisionId}`,
      scope: ctx,
      functionName: fn.name,
      version: v.version,
      invokedArn,
      doc: d,
      codeDir,
      optDir: layered.OPSBOX_LAYER_ROOT,
      variables: {
        PATH: path,
        LANG: 'en_US.UTF-8',
        TZ: ':UTC',
        ...layered,
        ...d.Environment,
        _HANDLER: d.Handler ?? '',
        AWS_REGION: ctx.region,
        AWS_DEFAULT_REGION: ctx.region,
        AWS_EXECUTION_ENV: `AWS_Lambda_${d.Runtime}`,
        AWS_LAMBDA_FUNCTION_NAME: fn.name,
        AWS_LAMBDA_FUNCTION_VERSION: v.version,
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(d.MemorySize),
        AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${fn.name}`,
        AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
        LAMBDA_TASK_ROOT: codeDir,
        LAMBDA_RUNTIME_DIR: codeDir,
        // SDK calls inside the function reach this opsbox, as on AWS they reach AWS
        AWS_ENDPOINT_URL: `http://127.0.0.1:${env.config.port}`,
        AWS_ACCESS_KEY_ID: creds.AccessKeyId,
        AWS_SECRET_ACCESS_KEY: creds.SecretAccessKey,
        ...(creds.SessionToken ? { AWS_SESSION_TOKEN: creds.SessionToken } : {}),
      },
    };
  }

  function metrics(scope: Scope, fn: FunctionRow, version: string, r: InvocationResult | undefined, throttled: boolean) {
    const dims = [
      [{ Name: 'FunctionName', Value: fn.name }],
      [
        { Name: 'FunctionName', Value: fn.name },
        { Name: 'Resource', Value: `${fn.name}:${version}` },
      ],
    ];
    const data = dims.flatMap((dimensions) => [
      { namespace: 'AWS/Lambda', metricName: throttled ? 'Throttles' : 'Invocations', dimensions, value: 1, unit: 'Count' },
      ...(r
        ? [
            { namespace: 'AWS/Lambda', metricName: 'Errors', dimensions, value: r.functionError ? 1 : 0, unit: 'Count' },
            { namespace: 'AWS/Lambda', metricName: 'Duration', dimensions, value: r.durationMs, unit: 'Milliseconds' },
          ]
        : []),
    ]);
    data.push({
      namespace: 'AWS/Lambda',
      metricName: 'ConcurrentExecutions',
      dimensions: dims[0],
      value: pool.concurrency(scope.account),
      unit: 'Count',
    });
    env.metrics.put(scope.account, scope.region, data);
  }

  /**
   * The function and version a name and qualifier name: a version, $LATEST or an alias (weighted
   * between two versions, aliases.ts — resolved again for every attempt). `qualifier` is what an
   * Event invocation is queued under.
   */
  function resolve(ctx: Scope, name: string, qualifier: string | undefined) {
    const fnName = nameOf(name);
    const fn = store.findFunction(ctx, fnName);
    if (!fn) throw notFound(ctx, fnName, qualifier);
    const { v, alias } = resolveQualifier(store, ctx, fn, qualifier ?? qualifierOf(name));
    return { fn, v, alias, qualifier: alias ?? v.version };
  }

  return {
    resolve,
    metrics,
    /** Runs one invocation of version `v` and reports its metrics. */
    async execute(
      ctx: Scope,
      fn: FunctionRow,
      v: VersionRow,
      payload: Buffer,
      requestId: string,
      alias?: string,
    ): Promise<InvocationResult> {
      const r = await runnable(ctx, fn, v, alias);
      const res = await pool.invoke(r, payload, requestId);
      metrics(ctx, fn, v.version, res, false);
      return res;
    },
    /** Whether the account's environments are at its concurrency limit. */
    accountBusy: (account: string) => pool.concurrency(account) >= ACCOUNT_CONCURRENCY,
  };
}

/** Where Event invocations go: the durable queue of async.ts. */
export interface EventQueue {
  enqueue(fn: FunctionRow, qualifier: string, payload: Buffer, requestId: string): void;
}

export function invokeHandlers(x: Executor, limits: ConcurrencyLimits, events: EventQueue): LambdaHandlers {
  return {
    async Invoke(input, ctx) {
      const { fn, v, alias, qualifier } = x.resolve(ctx, input.FunctionName, input.Qualifier);
      const d = docOf(v);
      const payload = input.Payload ?? Buffer.from('{}');
      if (payload.length) {
        try {
          JSON.parse(payload.toString('utf8'));
        } catch (err) {
          throw new AwsError('InvalidRequestContentException', `Could not parse request body into json: ${(err as Error).message}`, 400, {
            Type: 'User',
          });
        }
      }
      const type = input.InvocationType ?? 'RequestResponse';
      if (type === 'DryRun') return { StatusCode: 204 };
      if (!isRunnableRuntime(d.Runtime))
        throw new AwsError(
          'InvalidRuntimeException',
          `opsbox cannot run the ${d.Runtime} runtime yet: nodejs*, python3.* and provided.* functions run.`,
          502,
          { Type: 'User' },
        );
      if (type === 'Event') {
        // acknowledged once queued (committed): the queue runs it, waiting there when the function is throttled
        events.enqueue(fn, qualifier, payload, ctx.requestId);
        return { StatusCode: 202 };
      }
      const lease = x.accountBusy(ctx.account) ? { throttled: 'ConcurrentInvocationLimitExceeded' as const } : limits.acquire(fn);
      if ('throttled' in lease) {
        x.metrics(ctx, fn, v.version, undefined, true);
        throw new AwsError('TooManyRequestsException', 'Rate Exceeded.', 429, { Type: 'User', Reason: lease.throttled });
      }
      let res: InvocationResult;
      try {
        res = await x.execute(ctx, fn, v, payload, randomUUID(), alias);
      } finally {
        lease.release();
      }
      return {
        StatusCode: 200,
        FunctionError: res.functionError,
        ExecutedVersion: v.version,
        LogResult: input.LogType === 'Tail' ? Buffer.from(res.logTail).toString('base64') : undefined,
        Payload: res.payload,
      };
    },
  };
}
