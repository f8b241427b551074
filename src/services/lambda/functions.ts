/**
 * Functions: create (a zip given inline or as an S3 object), get, list, delete, update code and
 * configuration, publish and list versions, tags, GetAccountSettings. The deployment package is
 * kept as a blob and unpacked once per package hash for running (code.ts).
 */
import { AwsError } from '../../core/errors.js';
import { decodeToken, keysetPage, offsetPage } from '../../core/pagination.js';
import { checkTags, type TagRules, type Tags } from '../../core/tags.js';
import type { RequestContext } from '../../gateway/context.js';
import type { ServiceEnv } from '../../gateway/service.js';
import type { FunctionCode, FunctionConfigurationOut, LambdaHandlers } from './api.generated.js';
import { storePackage, type CodeCache } from './code.js';
import { layerRefs } from './layers.js';
import type { EnvironmentPool } from './runtime/environments.js';
import {
  docOf,
  functionArn,
  invalidParameter,
  notFound,
  type FunctionDoc,
  type FunctionRow,
  type LambdaStore,
  type VersionRow,
} from './store.js';

export { invalidParameter };

/** Runtimes AWS no longer lets you create or update functions with. */
const DEPRECATED =
  /^(nodejs(4\.3|6\.10|8\.10|10\.x|12\.x|14\.x|16\.x)|python(2\.7|3\.6|3\.7|3\.8)|dotnetcore[12]\.\d|ruby2\.[57]|go1\.x|java8$)/;

/** Variables Lambda sets itself and does not let a function override. */
const RESERVED = [
  '_HANDLER',
  '_X_AMZN_TRACE_ID',
  'AWS_DEFAULT_REGION',
  'AWS_REGION',
  'AWS_EXECUTION_ENV',
  'AWS_LAMBDA_FUNCTION_NAME',
  'AWS_LAMBDA_FUNCTION_MEMORY_SIZE',
  'AWS_LAMBDA_FUNCTION_VERSION',
  'AWS_LAMBDA_INITIALIZATION_TYPE',
  'AWS_LAMBDA_LOG_GROUP_NAME',
  'AWS_LAMBDA_LOG_STREAM_NAME',
  'AWS_ACCESS_KEY',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_LAMBDA_RUNTIME_API',
  'LAMBDA_TASK_ROOT',
  'LAMBDA_RUNTIME_DIR',
];

const tagRules: TagRules = {
  errors: (p) => invalidParameter(p.kind === 'tooMany' ? `Number of tags exceeds resource tag limit.` : 'The tags are not valid.'),
};

function checkRuntime(runtime: string | undefined) {
  if (runtime && DEPRECATED.test(runtime))
    throw invalidParameter(
      `The runtime parameter of ${runtime} is no longer supported for creating or updating AWS Lambda functions. We recommend you use a supported runtime while creating or updating functions.`,
    );
}

function checkEnvironment(vars: Record<string, string>) {
  const reserved = Object.keys(vars).filter((k) => RESERVED.includes(k));
  if (reserved.length)
    throw invalidParameter(
      `Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: ${reserved.join(', ')}`,
    );
  if (Buffer.byteLength(JSON.stringify(vars)) > 4096)
    throw invalidParameter(
      'Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit.',
    );
}

const lastModified = (ms: number) => new Date(ms).toISOString().replace('Z', '+0000');

export function configurationOf(ctx: { account: string; region: string }, fn: FunctionRow, v: VersionRow): FunctionConfigurationOut {
  const d = docOf(v);
  return {
    FunctionName: fn.name,
    FunctionArn: functionArn(ctx, fn.name, v.version === '$LATEST' ? undefined : v.version),
    Runtime: d.Runtime,
    Role: d.Role,
    Handler: d.Handler,
    CodeSize: d.CodeSize,
    Description: d.Description,
    Timeout: d.Timeout,
    MemorySize: d.MemorySize,
    LastModified: d.LastModified,
    CodeSha256: d.CodeSha256,
    Version: v.version,
    Environment: Object.keys(d.Environment).length ? { Variables: d.Environment } : undefined,
    TracingConfig: { Mode: d.TracingMode },
    RevisionId: d.RevisionId,
    State: 'Active',
    LastUpdateStatus: 'Successful',
    PackageType: d.PackageType,
    Architectures: d.Architectures,
    EphemeralStorage: { Size: d.EphemeralStorage },
    SnapStart: { ApplyOn: 'None', OptimizationStatus: 'Off' },
    RuntimeVersionConfig: undefined,
    LoggingConfig: { LogFormat: 'Text', LogGroup: `/aws/lambda/${fn.name}` },
    Layers: d.Layers?.length ? d.Layers.map((l) => ({ Arn: l.Arn, CodeSize: l.CodeSize })) : undefined,
    DeadLetterConfig: d.DeadLetterTarget ? { TargetArn: d.DeadLetterTarget } : undefined,
  };
}

export function functionHandlers(env: ServiceEnv, store: LambdaStore, tags: Tags, code: CodeCache, pool: EnvironmentPool): LambdaHandlers {
  /** The package a FunctionCode (or UpdateFunctionCode input) names; container images are not run. */
  function storeCode(ctx: RequestContext, c: FunctionCode) {
    if (c.ImageUri) throw invalidParameter('opsbox runs Zip packages only: container image functions (ImageUri) are not supported yet.');
    return storePackage(env, code, ctx, c, 'function');
  }

  function requireFunction(ctx: RequestContext, name: string): FunctionRow {
    const fn = store.findFunction(ctx, nameOf(name));
    if (!fn) throw notFound(ctx, nameOf(name));
    return fn;
  }

  function requireVersion(ctx: RequestContext, fn: FunctionRow, qualifier: string | undefined): VersionRow {
    // an alias qualifier reads the version the alias points to (aliases.ts)
    const alias = qualifier ? store.alias(fn, qualifier) : undefined;
    const v = store.version(fn, alias?.function_version ?? qualifier ?? '$LATEST');
    if (!v) throw notFound(ctx, fn.name, qualifier);
    return v;
  }

  const revision = () => crypto.randomUUID();

  return {
    async CreateFunction(input, ctx) {
      const name = nameOf(input.FunctionName);
      if ((input.PackageType ?? 'Zip') === 'Zip' && (!input.Runtime || !input.Handler))
        throw invalidParameter('Runtime and Handler are mandatory parameters for functions created with deployment packages.');
      checkRuntime(input.Runtime);
      checkEnvironment(input.Environment?.Variables ?? {});
      checkTags(input.Tags ?? {}, tagRules);
      if (store.findFunction(ctx, name))
        throw new AwsError('ResourceConflictException', `Function already exist: ${name}`, 409, { Type: 'User' });
      const layers = layerRefs(env, ctx, input.Layers);
      const pkg = await storeCode(ctx, input.Code);
      const now = ctx.clock.now();
      const doc: FunctionDoc = {
        Runtime: input.Runtime,
        Role: input.Role,
        Handler: input.Handler,
        Description: input.Description ?? '',
        Timeout: input.Timeout ?? 3,
        MemorySize: input.MemorySize ?? 128,
        Environment: input.Environment?.Variables ?? {},
        Architectures: input.Architectures ?? ['x86_64'],
        PackageType: 'Zip',
        EphemeralStorage: input.EphemeralStorage?.Size ?? 512,
        TracingMode: input.TracingConfig?.Mode ?? 'PassThrough',
        LastModified: lastModified(now),
        RevisionId: revision(),
        CodeSha256: pkg.sha256,
        CodeSize: pkg.size,
        Layers: layers,
        DeadLetterTarget: input.DeadLetterConfig?.TargetArn || undefined,
      };
      const fn = store.transaction(() => {
        if (store.findFunction(ctx, name))
          throw new AwsError('ResourceConflictException', `Function already exist: ${name}`, 409, { Type: 'User' });
        const row = store.insertFunction(ctx, name, doc, pkg.blobId, now);
        tags.add(functionArn(ctx, name), input.Tags ?? {}, tagRules);
        return row;
      });
      const version = input.Publish ? store.publish(fn, now) : '$LATEST';
      return configurationOf(ctx, fn, requireVersion(ctx, fn, version));
    },

    GetFunction(input, ctx) {
      const fn = requireFunction(ctx, input.FunctionName);
      const v = requireVersion(ctx, fn, input.Qualifier);
      const t = tags.get(functionArn(ctx, fn.name));
      return {
        Configuration: configurationOf(ctx, fn, v),
        Code: { RepositoryType: 'S3', Location: `http://localhost:${env.config.port}/_opsbox/lambda/code/${docOf(v).CodeSha256}` },
        Tags: Object.keys(t).length ? t : undefined,
      };
    },

    GetFunctionConfiguration(input, ctx) {
      const fn = requireFunction(ctx, input.FunctionName);
      return configurationOf(ctx, fn, requireVersion(ctx, fn, input.Qualifier));
    },

    ListFunctions(input, ctx) {
      const limit = input.MaxItems ?? 50;
      const after = input.Marker !== undefined ? decodeToken(input.Marker, () => invalidParameter('Invalid marker.')) : '';
      const page = keysetPage(store.listFunctions(ctx, after, limit + 1), limit, (f) => f.name);
      return { Functions: page.items.map((fn) => configurationOf(ctx, fn, store.version(fn, '$LATEST')!)), NextMarker: page.next };
    },

    DeleteFunction(input, ctx) {
      const fn = requireFunction(ctx, input.FunctionName);
      if (input.Qualifier !== undefined && input.Qualifier !== '$LATEST')
        throw invalidParameter('opsbox deletes whole functions only: deleting one version is not supported yet.');
      pool.evict(`${functionArn(ctx, fn.name)}:`);
      store.deleteFunction(fn);
      return {};
    },

    async UpdateFunctionCode(input, ctx) {
      const fn = requireFunction(ctx, input.FunctionName);
      const latest = requireVersion(ctx, fn, '$LATEST');
      const d = docOf(latest);
      if (input.RevisionId !== undefined && input.RevisionId !== d.RevisionId) throw preconditionFailed();
      const pkg = await storeCode(ctx, input);
      if (input.DryRun) return configurationOf(ctx, fn, latest);
      const now = ctx.clock.now();
      store.updateLatest(
        fn,
        { ...d, CodeSha256: pkg.sha256, CodeSize: pkg.size, LastModified: lastModified(now), RevisionId: revision() },
        pkg.blobId,
      );
      pool.evict(`${functionArn(ctx, fn.name)}:$LATEST:`);
      const version = input.Publish ? store.publish(fn, now) : '$LATEST';
      return configurationOf(ctx, fn, requireVersion(ctx, fn, version));
    },

    UpdateFunctionConfiguration(input, ctx) {
      const fn = requireFunction(ctx, input.FunctionName);
      const latest = requireVersion(ctx, fn, '$LATEST');
      const d = docOf(latest);
      if (input.RevisionId !== undefined && input.RevisionId !== d.RevisionId) throw preconditionFailed();
      checkRuntime(input.Runtime);
      if (input.Environment?.Variables) checkEnvironment(input.Environment.Variables);
      const next: FunctionDoc = {
        ...d,
        Runtime: input.Runtime ?? d.Runtime,
        Role: input.Role ?? d.Role,
        Handler: input.Handler ?? d.Handler,
        Description: input.Description ?? d.Description,
        Timeout: input.Timeout ?? d.Timeout,
        MemorySize: input.MemorySize ?? d.MemorySize,
        Environment: input.Environment ? (input.Environment.Variables ?? {}) : d.Environment,
        EphemeralStorage: input.EphemeralStorage?.Size ?? d.EphemeralStorage,
        TracingMode: input.TracingConfig?.Mode ?? d.TracingMode,
        Layers: input.Layers ? layerRefs(env, ctx, input.Layers) : d.Layers,
        DeadLetterTarget: input.DeadLetterConfig ? input.DeadLetterConfig.TargetArn || undefined : d.DeadLetterTarget,
        LastModified: lastModified(ctx.clock.now()),
        RevisionId: revision(),
      };
      store.updateLatest(fn, next, latest.code_blob);
      pool.evict(`${functionArn(ctx, fn.name)}:$LATEST:`);
      return configurationOf(ctx, fn, requireVersion(ctx, fn, '$LATEST'));
    },

    PublishVersion(input, ctx) {
      const fn = requireFunction(ctx, input.FunctionName);
      const latest = docOf(requireVersion(ctx, fn, '$LATEST'));
      if (input.RevisionId !== undefined && input.RevisionId !== latest.RevisionId) throw preconditionFailed();
      if (input.CodeSha256 !== undefined && input.CodeSha256 !== latest.CodeSha256)
        throw invalidParameter(
          `CodeSHA256 (${input.CodeSha256}) is different from current CodeSHA256 in $LATEST (${latest.CodeSha256}). Please try again with the CodeSHA256 in $LATEST.`,
        );
      // publishing $LATEST unchanged since the last version returns that version, as Lambda does
      const previous = store
        .versions(fn)
        .filter((v) => v.version !== '$LATEST')
        .pop();
      if (previous && docOf(previous).RevisionId === latest.RevisionId) return configurationOf(ctx, fn, previous);
      const version = store.publish(fn, ctx.clock.now());
      return configurationOf(ctx, fn, requireVersion(ctx, fn, version));
    },

    ListVersionsByFunction(input, ctx) {
      const fn = requireFunction(ctx, input.FunctionName);
      const start = input.Marker !== undefined ? Number(decodeToken(input.Marker, () => invalidParameter('Invalid marker.'))) : 0;
      const page = offsetPage(store.versions(fn), Number.isInteger(start) && start >= 0 ? start : 0, input.MaxItems ?? 50);
      return { Versions: page.items.map((v) => configurationOf(ctx, fn, v)), NextMarker: page.next };
    },

    TagResource(input, ctx) {
      const fn = requireFunction(ctx, input.Resource);
      tags.add(functionArn(ctx, fn.name), input.Tags, tagRules);
    },

    UntagResource(input, ctx) {
      const fn = requireFunction(ctx, input.Resource);
      tags.remove(functionArn(ctx, fn.name), input.TagKeys);
    },

    ListTags(input, ctx) {
      const fn = requireFunction(ctx, input.Resource);
      return { Tags: tags.get(functionArn(ctx, fn.name)) };
    },

    GetAccountSettings(_input, ctx) {
      return {
        AccountLimit: {
          TotalCodeSize: 80_530_636_800,
          CodeSizeUnzipped: 262_144_000,
          CodeSizeZipped: 52_428_800,
          ConcurrentExecutions: ACCOUNT_CONCURRENCY,
          UnreservedConcurrentExecutions: ACCOUNT_CONCURRENCY,
        },
        AccountUsage: { TotalCodeSize: 0, FunctionCount: store.listFunctions(ctx, '', 1_000_000).length },
      };
    },
  };
}

export const ACCOUNT_CONCURRENCY = Number(process.env.OPSBOX_LAMBDA_CONCURRENCY ?? 1000);

export const preconditionFailed = () =>
  new AwsError(
    'PreconditionFailedException',
    'The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id',
    412,
    { Type: 'User' },
  );

/** A function name from a name, a full or partial ARN (qualifier left off: callers pass Qualifier). */
export function nameOf(value: string): string {
  const m = /^(?:arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:)?(?:\d{12}:function:)?([a-zA-Z0-9-_.]+)(?::[a-zA-Z0-9-_$]+)?$/.exec(
    value,
  );
  return m ? m[1] : value;
}
