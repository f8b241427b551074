/**
 * The API of asynchronous invocation and concurrency: event invoke configs (retries, event age,
 * destinations; per function and qualifier), reserved concurrency (PutFunctionConcurrency, shown
 * in GetFunction's Concurrency and GetAccountSettings' UnreservedConcurrentExecutions) and
 * provisioned concurrency configs.
 *
 * Provisioned concurrency is recorded and reported READY at once, with everything requested
 * "allocated": nothing is pre-warmed, the invocations of such a version start their environments
 * on demand like any other (a warm environment is reused either way).
 */
import { parseArn } from '../../core/arn.js';
import { AwsError } from '../../core/errors.js';
import { decodeToken, offsetPage } from '../../core/pagination.js';
import type { RequestContext } from '../../gateway/context.js';
import type { LambdaHandlers } from './api.generated.js';
import type { AsyncInvoker, EventInvokeConfigDoc } from './async.js';
import { minimumUnreserved, type ConcurrencyLimits } from './concurrency.js';
import { invalidParameter, nameOf } from './functions.js';
import type { Executor } from './invoke.js';
import { functionArn, notFound, type AsyncTables, type EventInvokeConfigRow, type FunctionRow, type LambdaStore } from './store.js';

const resourceNotFound = (message: string) => new AwsError('ResourceNotFoundException', message, 404, { Type: 'User' });
const noSuchFunction = () => resourceNotFound("The function doesn't exist.");

/** The qualifier a FunctionName ARN carries (`…:function:name:qualifier`), if any. */
const qualifierInName = (name: string) => /^(?:arn:[^:]+:lambda:[^:]*:\d{12}:function:|\d{12}:function:|)[^:]+:([^:]+)$/.exec(name)?.[1];

/** Lambda's LastModified string form: 2024-01-01T00:00:00.000+0000. */
const lastModified = (ms: number) => new Date(ms).toISOString().replace('Z', '+0000');

/** The destination services Lambda sends invocation records to; S3 buckets take failures only. */
const DESTINATION_SERVICES = new Set(['sns', 'sqs', 'events', 'lambda']);

export function asyncConfigHandlers(
  store: LambdaStore,
  tables: AsyncTables,
  x: Pick<Executor, 'resolve'>,
  engine: AsyncInvoker,
  limits: ConcurrencyLimits,
  base: LambdaHandlers,
): LambdaHandlers {
  /** The function and the qualifier (Qualifier or the one in the ARN; $LATEST without either); `missing` when the function is not there. */
  function target(ctx: RequestContext, name: string, qualifier: string | undefined, missing: (q: string) => Error) {
    const fromName = qualifierInName(name);
    if (qualifier !== undefined && fromName !== undefined && qualifier !== fromName)
      throw invalidParameter('The derived qualifier from the function name does not match the specified qualifier.');
    const q = qualifier ?? fromName ?? '$LATEST';
    const fn = store.findFunction(ctx, nameOf(name));
    if (!fn) throw missing(q);
    return { fn, qualifier: q };
  }

  /** As `target`, and the qualifier must name a version (or alias) of the function. */
  function existingTarget(ctx: RequestContext, name: string, qualifier: string | undefined) {
    const t = target(ctx, name, qualifier, () => noSuchFunction());
    try {
      x.resolve(ctx, t.fn.name, t.qualifier);
    } catch {
      throw noSuchFunction();
    }
    return t;
  }

  const noConfig = (ctx: RequestContext, name: string, q: string) =>
    resourceNotFound(`The function ${functionArn(ctx, name, q)} doesn't have an EventInvokeConfig`);

  function configOut(ctx: RequestContext, fn: FunctionRow, row: EventInvokeConfigRow) {
    const doc = JSON.parse(row.doc) as EventInvokeConfigDoc;
    return {
      LastModified: new Date(row.last_modified),
      FunctionArn: functionArn(ctx, fn.name, row.qualifier),
      MaximumRetryAttempts: doc.MaximumRetryAttempts,
      MaximumEventAgeInSeconds: doc.MaximumEventAgeInSeconds,
      DestinationConfig: {
        OnSuccess: doc.DestinationConfig?.OnSuccess?.Destination ? { Destination: doc.DestinationConfig.OnSuccess.Destination } : {},
        OnFailure: doc.DestinationConfig?.OnFailure?.Destination ? { Destination: doc.DestinationConfig.OnFailure.Destination } : {},
      },
    };
  }

  function checkSettings(input: EventInvokeConfigDoc) {
    if (input.MaximumRetryAttempts === undefined && input.MaximumEventAgeInSeconds === undefined && input.DestinationConfig === undefined)
      throw invalidParameter('You must specify at least one of error handling or destination setting.');
  }

  function checkDestinations(ctx: RequestContext, fn: FunctionRow, config: EventInvokeConfigDoc['DestinationConfig']) {
    const onSuccess = config?.OnSuccess?.Destination || undefined;
    const onFailure = config?.OnFailure?.Destination || undefined;
    let invalid = false;
    for (const [dest, failure] of [
      [onSuccess, false],
      [onFailure, true],
    ] as const) {
      if (!dest) continue;
      const p = parseArn(dest);
      if (!p || !(DESTINATION_SERVICES.has(p.service) || (failure && p.service === 's3'))) {
        invalid = true;
        continue;
      }
      if (p.service === 'lambda') {
        const name = nameOf(dest);
        if (name === fn.name && (p.account || ctx.account) === ctx.account && (p.region || ctx.region) === ctx.region)
          throw invalidParameter("You can't specify the function as a destination for itself.");
        if (!store.findFunction({ account: p.account || ctx.account, region: p.region || ctx.region }, name))
          throw invalidParameter(`The destination ARN ${dest} is invalid.`);
      }
    }
    if (invalid)
      throw invalidParameter(
        `The provided destination config DestinationConfig(onSuccess=${onSuccess ? `OnSuccess(destination=${onSuccess})` : 'null'}, onFailure=${onFailure ? `OnFailure(destination=${onFailure})` : 'null'}) is invalid.`,
      );
  }

  const docOfInput = (input: EventInvokeConfigDoc): EventInvokeConfigDoc => ({
    MaximumRetryAttempts: input.MaximumRetryAttempts,
    MaximumEventAgeInSeconds: input.MaximumEventAgeInSeconds,
    DestinationConfig: input.DestinationConfig,
  });

  function requireFunction(ctx: RequestContext, name: string) {
    const fn = store.findFunction(ctx, nameOf(name));
    if (!fn) throw notFound(ctx, nameOf(name));
    return fn;
  }

  /** Provisioned concurrency applies to published versions and aliases only. */
  function provisionedTarget(ctx: RequestContext, name: string, qualifier: string, latestMessage: string) {
    if (qualifier === '$LATEST') throw invalidParameter(latestMessage);
    const fn = requireFunction(ctx, name);
    x.resolve(ctx, fn.name, qualifier); // Function not found: …:name:qualifier
    return fn;
  }

  const provisionedOut = (row: { requested: number; last_modified: number }) => ({
    RequestedProvisionedConcurrentExecutions: row.requested,
    AvailableProvisionedConcurrentExecutions: row.requested,
    AllocatedProvisionedConcurrentExecutions: row.requested,
    Status: 'READY',
    LastModified: lastModified(row.last_modified),
  });

  const invalidMarker = () => invalidParameter('Invalid marker.');
  const startOf = (marker: string | undefined) => {
    const n = marker !== undefined ? Number(decodeToken(marker, invalidMarker)) : 0;
    if (!Number.isInteger(n) || n < 0) throw invalidMarker();
    return n;
  };

  return {
    PutFunctionEventInvokeConfig(input, ctx) {
      checkSettings(input);
      const { fn, qualifier } = existingTarget(ctx, input.FunctionName, input.Qualifier);
      checkDestinations(ctx, fn, input.DestinationConfig);
      tables.putEventConfig(fn.id, qualifier, docOfInput(input), ctx.clock.now());
      return configOut(ctx, fn, tables.eventConfig(fn.id, qualifier)!);
    },

    UpdateFunctionEventInvokeConfig(input, ctx) {
      checkSettings(input);
      const { fn, qualifier } = existingTarget(ctx, input.FunctionName, input.Qualifier);
      const row = tables.eventConfig(fn.id, qualifier);
      if (!row) throw noConfig(ctx, fn.name, qualifier);
      if (input.DestinationConfig) checkDestinations(ctx, fn, input.DestinationConfig);
      const old = JSON.parse(row.doc) as EventInvokeConfigDoc;
      const next: EventInvokeConfigDoc = {
        MaximumRetryAttempts: input.MaximumRetryAttempts ?? old.MaximumRetryAttempts,
        MaximumEventAgeInSeconds: input.MaximumEventAgeInSeconds ?? old.MaximumEventAgeInSeconds,
        DestinationConfig: input.DestinationConfig ?? old.DestinationConfig,
      };
      tables.putEventConfig(fn.id, qualifier, next, ctx.clock.now());
      return configOut(ctx, fn, tables.eventConfig(fn.id, qualifier)!);
    },

    GetFunctionEventInvokeConfig(input, ctx) {
      const { fn, qualifier } = target(ctx, input.FunctionName, input.Qualifier, (q) => noConfig(ctx, nameOf(input.FunctionName), q));
      const row = tables.eventConfig(fn.id, qualifier);
      if (!row) throw noConfig(ctx, fn.name, qualifier);
      return configOut(ctx, fn, row);
    },

    DeleteFunctionEventInvokeConfig(input, ctx) {
      const { fn, qualifier } = target(ctx, input.FunctionName, input.Qualifier, (q) => noConfig(ctx, nameOf(input.FunctionName), q));
      if (!tables.deleteEventConfig(fn.id, qualifier)) throw noConfig(ctx, fn.name, qualifier);
    },

    ListFunctionEventInvokeConfigs(input, ctx) {
      const fn = store.findFunction(ctx, nameOf(input.FunctionName));
      if (!fn) throw noSuchFunction();
      const page = offsetPage(tables.eventConfigs(fn.id), startOf(input.Marker), input.MaxItems ?? 50);
      return { FunctionEventInvokeConfigs: page.items.map((row) => configOut(ctx, fn, row)), NextMarker: page.next };
    },

    PutFunctionConcurrency(input, ctx) {
      const fn = requireFunction(ctx, input.FunctionName);
      const others = tables.reservedSum(ctx, fn.id);
      if (limits.accountLimit - others - input.ReservedConcurrentExecutions < minimumUnreserved(limits.accountLimit))
        throw invalidParameter(
          `Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [${minimumUnreserved(limits.accountLimit)}].`,
        );
      tables.putReserved(fn.id, input.ReservedConcurrentExecutions);
      engine.concurrencyChanged(fn);
      return { ReservedConcurrentExecutions: input.ReservedConcurrentExecutions };
    },

    GetFunctionConcurrency(input, ctx) {
      const fn = requireFunction(ctx, input.FunctionName);
      return { ReservedConcurrentExecutions: tables.reserved(fn.id) };
    },

    DeleteFunctionConcurrency(input, ctx) {
      const fn = requireFunction(ctx, input.FunctionName);
      tables.deleteReserved(fn.id);
      engine.concurrencyChanged(fn);
    },

    PutProvisionedConcurrencyConfig(input, ctx) {
      const fn = provisionedTarget(
        ctx,
        input.FunctionName,
        input.Qualifier,
        'Provisioned Concurrency Configs cannot be applied to unpublished function versions.',
      );
      const reserved = tables.reserved(fn.id);
      const elsewhere = tables
        .provisionedAll(fn.id)
        .filter((p) => p.qualifier !== input.Qualifier)
        .reduce((n, p) => n + p.requested, 0);
      if (reserved !== undefined && elsewhere + input.ProvisionedConcurrentExecutions > reserved)
        throw invalidParameter('Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution for function');
      tables.putProvisioned(fn.id, input.Qualifier, input.ProvisionedConcurrentExecutions, ctx.clock.now());
      return provisionedOut(tables.provisioned(fn.id, input.Qualifier)!);
    },

    GetProvisionedConcurrencyConfig(input, ctx) {
      const fn = provisionedTarget(
        ctx,
        input.FunctionName,
        input.Qualifier,
        'The function resource provided must be an alias or a published version.',
      );
      const row = tables.provisioned(fn.id, input.Qualifier);
      if (!row)
        throw new AwsError(
          'ProvisionedConcurrencyConfigNotFoundException',
          'No Provisioned Concurrency Config found for this function',
          404,
          {
            Type: 'User',
          },
        );
      return provisionedOut(row);
    },

    DeleteProvisionedConcurrencyConfig(input, ctx) {
      const fn = provisionedTarget(
        ctx,
        input.FunctionName,
        input.Qualifier,
        'The function resource provided must be an alias or a published version.',
      );
      tables.deleteProvisioned(fn.id, input.Qualifier);
    },

    ListProvisionedConcurrencyConfigs(input, ctx) {
      const fn = requireFunction(ctx, input.FunctionName);
      const page = offsetPage(tables.provisionedAll(fn.id), startOf(input.Marker), input.MaxItems ?? 50);
      return {
        ProvisionedConcurrencyConfigs: page.items.map((row) => ({
          FunctionArn: functionArn(ctx, fn.name, row.qualifier),
          ...provisionedOut(row),
        })),
        NextMarker: page.next,
      };
    },

    // reserved concurrency shows in GetFunction and GetAccountSettings (functions.ts answers the rest)
    async GetFunction(input, ctx) {
      const out = await base.GetFunction!(input, ctx);
      const fn = store.findFunction(ctx, nameOf(input.FunctionName));
      const reserved = fn && tables.reserved(fn.id);
      return reserved === undefined || reserved === null ? out : { ...out, Concurrency: { ReservedConcurrentExecutions: reserved } };
    },

    async GetAccountSettings(input, ctx) {
      const out = await base.GetAccountSettings!(input, ctx);
      return { ...out, AccountLimit: { ...out.AccountLimit, UnreservedConcurrentExecutions: limits.unreservedLimit(ctx) } };
    },
  };
}
