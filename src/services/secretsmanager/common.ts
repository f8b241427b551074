/**
 * What the handler files share: AWS's errors, how a SecretId names a secret (name, full ARN, or
 * partial ARN without the random suffix), the ARN itself, the secret's tags and its description as
 * DescribeSecret and ListSecrets give it.
 */
import { arn, parseArn, type Scope } from '../../core/arn.js';
import { AwsError } from '../../core/errors.js';
import { randomString } from '../../core/ids.js';
import { decodeToken } from '../../core/pagination.js';
import type { TagRules, Tags } from '../../core/tags.js';
import type { RequestContext } from '../../gateway/context.js';
import type { DescribeSecretOutput, RotationRulesType, SecretListEntryOut } from './api.generated.js';
import { FILTER_KEYS, type Filterable, type SecretFilter } from './filters.js';
import { secretNotFound, type SecretRow, type SecretsStore } from './store.js';

export const invalidParameter = (message: string) => new AwsError('InvalidParameterException', message, 400);
export const invalidRequest = (message: string) => new AwsError('InvalidRequestException', message, 400);
export const markedForDeletion = () => invalidRequest("You can't perform this operation on the secret because it was marked for deletion.");
/** DeleteSecret's and the rotation operations' wording for a secret scheduled for deletion. */
export const currentlyMarkedDeleted = () =>
  invalidRequest("You tried to perform the operation on a secret that's currently marked deleted.");
export const invalidNextToken = () => new AwsError('InvalidNextTokenException', 'The NextToken value is invalid.', 400);
export const bothValues = () =>
  invalidParameter("You can't specify both a binary secret value and a string secret value in the same secret.");

export const decodeNextToken = (token: string) => decodeToken(token, invalidNextToken);

const NAME = /^[A-Za-z0-9/_+=.@-]+$/;

/** A secret name (or a SecretId that is not an ARN) with a character AWS does not allow: ValidationException. */
export function checkName(name: string) {
  if (!NAME.test(name))
    throw new AwsError(
      'ValidationException',
      'Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!',
      400,
    );
}

const SUFFIX = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** arn:aws:secretsmanager:region:account:secret:name-AbCdEf: AWS's hyphen and six random characters. */
export const newSecretArn = (scope: Scope, name: string) => arn('secretsmanager', scope, `secret:${name}-${randomString(6, SUFFIX)}`);

/** The secret a SecretId names in the caller's account and region, scheduled for deletion or not; undefined if none. */
export function findSecret(store: SecretsStore, ctx: RequestContext, secretId: string): SecretRow | undefined {
  const now = ctx.clock.now();
  if (!secretId.startsWith('arn:')) {
    checkName(secretId);
    return store.byName(ctx, secretId, now);
  }
  const p = parseArn(secretId);
  if (!p || p.service !== 'secretsmanager' || !p.resource.startsWith('secret:')) return undefined;
  if (p.account !== ctx.account || p.region !== ctx.region) return undefined;
  // a full ARN names the secret exactly; otherwise it is a partial ARN: the name without the suffix
  return store.byArn(secretId, now) ?? store.byName(ctx, p.resource.slice('secret:'.length), now);
}

/** findSecret, or AWS's ResourceNotFoundException. */
export function requireSecret(store: SecretsStore, ctx: RequestContext, secretId: string): SecretRow {
  const s = findSecret(store, ctx, secretId);
  if (!s) throw secretNotFound();
  return s;
}

/** requireSecret for operations a secret scheduled for deletion refuses. */
export function requireLiveSecret(store: SecretsStore, ctx: RequestContext, secretId: string): SecretRow {
  const s = requireSecret(store, ctx, secretId);
  if (s.deletion_date !== null) throw markedForDeletion();
  return s;
}

export const tagRules: TagRules = {
  errors: (p) => {
    switch (p.kind) {
      case 'tooMany':
        return new AwsError('LimitExceededException', `A secret can have at most ${p.limit} tags.`, 400);
      case 'reservedKey':
        return invalidParameter('Invalid tag key: the aws: prefix is reserved for AWS use.');
      case 'duplicateKey':
        return invalidParameter(`Duplicate tag key: ${p.key}`);
      default:
        return invalidParameter('The tags are not valid.');
    }
  },
};

const date = (ms: number | null) => (ms === null ? undefined : new Date(ms));

export function rotationRules(s: SecretRow): RotationRulesType | undefined {
  return s.rotation_rules ? (JSON.parse(s.rotation_rules) as RotationRulesType) : undefined;
}

/** Version id → labels, for the versions that have any (deprecated versions are left out, as AWS does). */
export function versionsToStages(store: SecretsStore, s: SecretRow): Record<string, string[]> | undefined {
  const out: Record<string, string[]> = {};
  for (const [stage, versionId] of store.stages(s)) (out[versionId] ??= []).push(stage);
  return Object.keys(out).length ? out : undefined;
}

/** The fields DescribeSecret and a ListSecrets entry share. */
function metadata(store: SecretsStore, tags: Tags, s: SecretRow) {
  const tagList = tags.list(s.arn);
  return {
    ARN: s.arn,
    Name: s.name,
    Type: s.type ?? undefined,
    Description: s.description ?? undefined,
    KmsKeyId: s.kms_key_id ?? undefined,
    RotationEnabled: s.rotation_enabled === null ? undefined : s.rotation_enabled === 1,
    RotationLambdaARN: s.rotation_lambda ?? undefined,
    RotationRules: rotationRules(s),
    LastRotatedDate: date(s.last_rotated),
    LastChangedDate: date(s.last_changed),
    LastAccessedDate: date(s.last_accessed),
    DeletedDate: date(s.deletion_date),
    NextRotationDate: s.rotation_enabled === 1 ? date(s.next_rotation) : undefined,
    Tags: tagList.length ? tagList : undefined,
    CreatedDate: new Date(s.created),
  };
}

export function describe(store: SecretsStore, tags: Tags, s: SecretRow): DescribeSecretOutput {
  return { ...metadata(store, tags, s), VersionIdsToStages: versionsToStages(store, s) };
}

export function listEntry(store: SecretsStore, tags: Tags, s: SecretRow): SecretListEntryOut {
  return { ...metadata(store, tags, s), SecretVersionsToStages: versionsToStages(store, s) };
}

/** What the filters look at. */
export const filterable = (tags: Tags, s: SecretRow): Filterable => ({
  name: s.name,
  description: s.description,
  tags: tags.get(s.arn),
  region: s.region,
});

/** Filters the model lets through that AWS still refuses: a filter without a key or without values. */
export function checkFilters(filters: readonly SecretFilter[]) {
  for (const f of filters) {
    if (f.Key === undefined || !FILTER_KEYS.includes(f.Key)) throw invalidParameter('Invalid filter key');
    if (!f.Values?.length) throw invalidParameter(`Invalid filter values for key: ${f.Key}`);
  }
}
