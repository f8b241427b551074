/**
 * What a build's commands see: its environment variables (buildspec < project < StartBuild
 * overrides, then the CODEBUILD_* and AWS_* ones CodeBuild sets), the temporary credentials of its
 * service role, and the buildspec itself (inline, a path in the source, or an S3 object).
 */
import { readFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { parseArn, type Scope } from '../../../core/arn.js';
import type { AwsError } from '../../../core/errors.js';
import type { ServiceEnv } from '../../../gateway/service.js';
import { BuildspecError, parseBuildspec, type Buildspec } from './buildspec.js';
import type { BuildDoc } from '../store.js';

export interface RoleCredentials {
  AccessKeyId: string;
  SecretAccessKey: string;
  SessionToken: string;
}

/** A failure of the build's setup with the phase context AWS records. */
export class PhaseFailure extends Error {
  constructor(
    readonly statusCode: string,
    message: string,
  ) {
    super(message);
  }
}

/** Temporary credentials of the build's service role, as CodeBuild gives every build (session AWSCodeBuild-<uuid>). */
export async function roleCredentials(
  env: ServiceEnv,
  scope: Scope,
  doc: BuildDoc,
  log: (m: string) => void,
): Promise<RoleCredentials | undefined> {
  if (!env.services.has('sts') || !doc.serviceRole) return undefined;
  // a service role is passed to CodeBuild within its account (iam:PassRole): a role that names
  // another account, even one trusting codebuild.amazonaws.com, is never assumed
  const roleAccount = parseArn(doc.serviceRole)?.account;
  if (roleAccount && roleAccount !== scope.account) {
    log(
      `Could not assume the service role ${doc.serviceRole}: it belongs to account ${roleAccount}, not ${scope.account}; the build gets the account's credentials`,
    );
    return undefined;
  }
  try {
    const seconds = Math.min(43_200, Math.max(900, doc.timeoutInMinutes * 60 + 600));
    const r = await env.services.call(
      'sts',
      'AssumeRole',
      { RoleArn: doc.serviceRole, RoleSessionName: `AWSCodeBuild-${doc.id.slice(doc.id.indexOf(':') + 1)}`, DurationSeconds: seconds },
      { ...scope, internal: { servicePrincipal: 'codebuild.amazonaws.com' } },
    );
    return r.Credentials;
  } catch (err) {
    log(`Could not assume the service role ${doc.serviceRole} (${(err as Error).message}); the build gets the account's credentials`);
    return undefined;
  }
}

/**
 * The values of the variables a build reads from Parameter Store and Secrets Manager (buildspec
 * `env.parameter-store` / `env.secrets-manager`, and project or override variables of type
 * PARAMETER_STORE / SECRETS_MANAGER), read through those services' APIs in the build's account.
 * Throws PhaseFailure with CodeBuild's status code when one cannot be read.
 */
export async function storedVariables(env: ServiceEnv, scope: Scope, doc: BuildDoc, spec: Buildspec): Promise<Record<string, string>> {
  const parameters: [string, string][] = Object.entries(spec.env?.parameterStore ?? {});
  const secrets: [string, string][] = Object.entries(spec.env?.secretsManager ?? {});
  for (const v of doc.environment.environmentVariables ?? []) {
    if (v.type === 'PARAMETER_STORE') parameters.push([v.name, v.value]);
    if (v.type === 'SECRETS_MANAGER') secrets.push([v.name, v.value]);
  }
  const out: Record<string, string> = {};
  for (const [name, ref] of parameters) out[name] = await parameterValue(env, scope, ref);
  for (const [name, ref] of secrets) out[name] = await secretValue(env, scope, ref);
  return out;
}

async function parameterValue(env: ServiceEnv, scope: Scope, name: string): Promise<string> {
  const failed = (message: string) => new PhaseFailure('Decrypted Variables Error', message);
  if (!env.services.has('ssm')) throw failed(`Systems Manager Parameter Store is not running: cannot read ${name}`);
  try {
    const r = await env.services.call('ssm', 'GetParameter', { Name: name, WithDecryption: true }, scope);
    return r.Parameter.Value;
  } catch (err) {
    const e = err as AwsError;
    throw failed(e.code === 'ParameterNotFound' ? `parameter does not exist: ${name}` : `${e.code ?? 'Error'}: ${e.message}`);
  }
}

/** `secret-id:json-key:version-stage:version-id`, where secret-id may be an ARN (itself holding colons) and the rest may be empty. */
export function parseSecretReference(ref: string) {
  const parts = ref.split(':');
  const idParts = ref.startsWith('arn:') ? 7 : 1;
  const [jsonKey, versionStage, versionId] = parts.slice(idParts);
  return {
    secretId: parts.slice(0, idParts).join(':'),
    jsonKey: jsonKey || undefined,
    versionStage: versionStage || undefined,
    versionId: versionId || undefined,
  };
}

async function secretValue(env: ServiceEnv, scope: Scope, ref: string): Promise<string> {
  const failed = (message: string) => new PhaseFailure('Secrets Manager Error', message);
  if (!env.services.has('secretsmanager')) throw failed(`Secrets Manager is not running: cannot read ${ref}`);
  const r = parseSecretReference(ref);
  let value: string;
  try {
    const out = await env.services.call(
      'secretsmanager',
      'GetSecretValue',
      { SecretId: r.secretId, VersionStage: r.versionStage, VersionId: r.versionId },
      scope,
    );
    value = out.SecretString ?? Buffer.from(out.SecretBinary).toString('utf8');
  } catch (err) {
    const e = err as AwsError;
    throw failed(`${e.code ?? 'Error'}: ${e.message}`);
  }
  if (r.jsonKey === undefined) return value;
  let doc: unknown;
  try {
    doc = JSON.parse(value);
  } catch {
    throw failed(`secret ${r.secretId} is not JSON: cannot read key ${r.jsonKey}`);
  }
  const field = typeof doc === 'object' && doc !== null ? (doc as Record<string, unknown>)[r.jsonKey] : undefined;
  if (field === undefined) throw failed(`json key ${r.jsonKey} not found in secret ${r.secretId}`);
  return typeof field === 'string' ? field : JSON.stringify(field);
}

/** The build's environment: `stored` holds the Parameter Store and Secrets Manager values already read (storedVariables). */
export function buildVariables(
  env: ServiceEnv,
  scope: Scope,
  doc: BuildDoc,
  spec: Buildspec,
  extra: {
    srcDir: string;
    resolvedVersion?: string;
    repoUrl?: string;
    secondaryDirs: Record<string, string>;
    role?: RoleCredentials;
    stored: Record<string, string>;
  },
): Record<string, string> {
  const vars: Record<string, string> = { ...spec.env?.variables, ...extra.stored };
  for (const v of doc.environment.environmentVariables ?? [])
    if (v.type !== 'PARAMETER_STORE' && v.type !== 'SECRETS_MANAGER') vars[v.name] = v.value;
  for (const v of doc.environment.environmentVariables ?? [])
    if (v.type === 'PARAMETER_STORE' || v.type === 'SECRETS_MANAGER') vars[v.name] = extra.stored[v.name];
  const role = extra.role;
  return {
    ...vars,
    ...extra.secondaryDirs,
    AWS_REGION: scope.region,
    AWS_DEFAULT_REGION: scope.region,
    // builds that call AWS reach this opsbox, as builds on AWS reach AWS (containers share the host's network)
    AWS_ENDPOINT_URL: `http://127.0.0.1:${env.config.port}`,
    ...(vars.AWS_ACCESS_KEY_ID
      ? {}
      : role
        ? { AWS_ACCESS_KEY_ID: role.AccessKeyId, AWS_SECRET_ACCESS_KEY: role.SecretAccessKey, AWS_SESSION_TOKEN: role.SessionToken }
        : { AWS_ACCESS_KEY_ID: scope.account, AWS_SECRET_ACCESS_KEY: 'opsbox' }),
    CODEBUILD_BUILD_ARN: doc.arn,
    CODEBUILD_BUILD_ID: doc.id,
    CODEBUILD_BUILD_IMAGE: doc.environment.image,
    CODEBUILD_BUILD_NUMBER: String(doc.buildNumber),
    CODEBUILD_BUILD_SUCCEEDING: '1',
    CODEBUILD_INITIATOR: doc.initiator,
    CODEBUILD_KMS_KEY_ID: doc.encryptionKey,
    CODEBUILD_LOG_PATH: doc.logs.streamName,
    CODEBUILD_PROJECT_ARN: doc.arn.replace(/:build\/([^:]+):.*$/, ':project/$1'),
    CODEBUILD_RESOLVED_SOURCE_VERSION: extra.resolvedVersion ?? doc.resolvedSourceVersion ?? '',
    CODEBUILD_SOURCE_REPO_URL: extra.repoUrl ?? doc.source.location ?? '',
    CODEBUILD_SOURCE_VERSION: doc.sourceVersion ?? '',
    CODEBUILD_SRC_DIR: extra.srcDir,
    CODEBUILD_START_TIME: String(doc.startTime),
    CODEBUILD_CI: 'true',
  };
}

/**
 * The buildspec: the source setting when it is one (it has a line break), an S3 object, or a file in
 * the source. `shownDir` is the source directory as AWS names it in its messages
 * (/codebuild/output/src<N>/src), never opsbox's own path on the host.
 */
export async function readBuildspec(env: ServiceEnv, scope: Scope, doc: BuildDoc, srcDir: string, shownDir: string): Promise<Buildspec> {
  const configured: string | undefined = doc.source.buildspec;
  if (configured && /\n/.test(configured.trim())) return parseBuildspec(configured);
  if (configured?.startsWith('arn:aws:s3:::')) {
    const m = /^arn:aws:s3:::([^/]+)\/(.+)$/.exec(configured);
    const obj = m && (await env.objects.read(scope.account, m[1], m[2]));
    if (!obj) throw new BuildspecError(`unable to read buildspec ${configured}`);
    const chunks: Buffer[] = [];
    for await (const c of obj.body) chunks.push(c as Buffer);
    return parseBuildspec(Buffer.concat(chunks).toString('utf8'));
  }
  const rel = configured || 'buildspec.yml';
  let text: string;
  try {
    text = await readFile(join(srcDir, rel), 'utf8');
  } catch {
    throw new BuildspecError(`stat ${posix.join(shownDir, rel)}: no such file or directory`);
  }
  return parseBuildspec(text);
}
