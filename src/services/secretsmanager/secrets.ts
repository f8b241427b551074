/**
 * Secrets themselves: CreateSecret, DescribeSecret, UpdateSecret, DeleteSecret (recovery window or
 * forced), RestoreSecret, ListSecrets, tags, and resource policies (stored, checked to be JSON).
 */
import { AwsError } from '../../core/errors.js';
import { uuid } from '../../core/ids.js';
import { encodeToken } from '../../core/pagination.js';
import { checkTags, tagMapOf, type Tags } from '../../core/tags.js';
import type { RequestContext } from '../../gateway/context.js';
import type { SecretsmanagerHandlers } from './api.generated.js';
import {
  bothValues,
  checkFilters,
  checkName,
  currentlyMarkedDeleted,
  decodeNextToken,
  describe,
  filterable,
  findSecret,
  invalidNextToken,
  invalidParameter,
  listEntry,
  markedForDeletion,
  newSecretArn,
  requireLiveSecret,
  requireSecret,
  tagRules,
} from './common.js';
import { matchesFilters } from './filters.js';
import { AWSCURRENT, secretNotFound, type SecretRow, type SecretsStore } from './store.js';
import { DEFAULT_KEY, valueOf, type Sealed, type ValueCrypto } from './values.js';
import { versionWriter } from './versions.js';

const DAY = 86_400_000;

/** A KmsKeyId as stored: the AWS managed key (not given, empty, or named) is null. */
const keyOf = (kmsKeyId: string | undefined) => (!kmsKeyId || kmsKeyId === DEFAULT_KEY ? null : kmsKeyId);

const alreadyExists = (name: string) =>
  new AwsError('ResourceExistsException', `The operation failed because the secret ${name} already exists.`, 400);

const malformedPolicy = () => new AwsError('MalformedPolicyDocumentException', 'This resource policy contains a syntax error.', 400);

/** The statements of a policy document, or MalformedPolicyDocumentException when it is not one. */
function policyStatements(policy: string): Record<string, unknown>[] {
  let doc: unknown;
  try {
    doc = JSON.parse(policy);
  } catch {
    throw malformedPolicy();
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw malformedPolicy();
  const statement = (doc as Record<string, unknown>).Statement;
  const list = Array.isArray(statement) ? statement : statement !== undefined ? [statement] : undefined;
  if (!list || list.some((st) => typeof st !== 'object' || st === null || Array.isArray(st))) throw malformedPolicy();
  return list as Record<string, unknown>[];
}

/** A statement that allows anyone (Principal "*" or {"AWS": "*"}) without a condition: what BlockPublicPolicy refuses. */
function isPublic(statements: Record<string, unknown>[]) {
  const wildcard = (p: unknown): boolean =>
    p === '*' ||
    (Array.isArray(p) && p.includes('*')) ||
    (typeof p === 'object' && p !== null && !Array.isArray(p) && Object.values(p).some(wildcard));
  return statements.some((st) => st.Effect === 'Allow' && wildcard(st.Principal) && st.Condition === undefined);
}

type SortKey = 'created-date' | 'last-accessed-date' | 'last-changed-date' | 'name';
const sortValue = (s: SecretRow, by: SortKey): string | number =>
  by === 'name' ? s.name : by === 'last-accessed-date' ? (s.last_accessed ?? 0) : by === 'last-changed-date' ? s.last_changed : s.created;
const compare = (a: [string | number, number], b: [string | number, number]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1]);

export function secretHandlers(store: SecretsStore, tags: Tags, crypto: ValueCrypto): SecretsmanagerHandlers {
  const writer = versionWriter(store, crypto);
  const changed = (s: SecretRow, ctx: RequestContext) => store.set(s, 'last_changed', ctx.clock.now());

  return {
    async CreateSecret(input, ctx) {
      const name = input.Name;
      checkName(name);
      if (input.SecretString !== undefined && input.SecretBinary !== undefined) throw bothValues();
      if (input.AddReplicaRegions?.length) throw new AwsError('NotImplemented', 'opsbox does not replicate secrets to other Regions.', 501);
      const value = valueOf(input);
      const existing = store.byName(ctx, name, ctx.clock.now());
      if (existing) {
        if (existing.deletion_date !== null)
          throw new AwsError(
            'InvalidRequestException',
            "You can't create this secret because a secret with this name is already scheduled for deletion.",
            400,
          );
        // a retry of the request that made it answers as it did
        const done = value && (await writer.retried(existing, input.ClientRequestToken, value));
        if (done) return { ARN: existing.arn, Name: existing.name, VersionId: done.version_id };
        throw alreadyExists(name);
      }
      const tagMap = tagMapOf(
        (input.Tags ?? []).map((t) => ({ Key: t.Key ?? '', Value: t.Value ?? '' })),
        tagRules.errors,
      );
      checkTags(tagMap, tagRules);

      const arn = newSecretArn(ctx, name);
      const kmsKeyId = keyOf(input.KmsKeyId);
      const versionId = value ? (input.ClientRequestToken ?? uuid()) : undefined;
      const draft = { account: ctx.account, region: ctx.region, name, arn, kms_key_id: kmsKeyId } as SecretRow;
      const sealed = value ? await crypto.seal(draft, versionId!, value) : undefined;
      const now = ctx.clock.now();
      store.transaction(() => {
        if (store.byName(ctx, name, now)) throw alreadyExists(name);
        const id = store.insertSecret({
          account: ctx.account,
          region: ctx.region,
          name,
          arn,
          description: input.Description ?? null,
          kms_key_id: kmsKeyId,
          type: input.Type ?? null,
          created: now,
        });
        tags.add(arn, tagMap, tagRules);
        if (value)
          store.putVersion(
            store.byId(id, now)!,
            { version_id: versionId!, kind: value.kind, kms_key_id: kmsKeyId, ...sealed! },
            [AWSCURRENT],
            now,
          );
      });
      return { ARN: arn, Name: name, VersionId: versionId };
    },

    DescribeSecret(input, ctx) {
      return describe(store, tags, requireSecret(store, ctx, input.SecretId));
    },

    async UpdateSecret(input, ctx) {
      const s = requireLiveSecret(store, ctx, input.SecretId);
      if (input.SecretString !== undefined && input.SecretBinary !== undefined) throw bothValues();
      const value = valueOf(input);
      const kmsKeyId = input.KmsKeyId !== undefined ? keyOf(input.KmsKeyId) : s.kms_key_id;
      const keyChanged = kmsKeyId !== s.kms_key_id;

      let versionId: string | undefined;
      let sealed: Sealed | undefined;
      if (value) {
        const done = await writer.retried(s, input.ClientRequestToken, value);
        if (done && !keyChanged && input.Description === undefined) return { ARN: s.arn, Name: s.name, VersionId: done.version_id };
        if (!done) {
          versionId = input.ClientRequestToken ?? uuid();
          sealed = await crypto.seal(s, versionId, value, kmsKeyId);
        }
      }
      // a new key re-encrypts the versions that carry a label (AWSCURRENT, AWSPENDING, AWSPREVIOUS…)
      const reencrypted: { versionId: string; sealed: Sealed; kind: 'string' | 'binary' }[] = [];
      if (keyChanged) {
        for (const id of new Set(store.stages(s).values())) {
          const v = store.version(s, id);
          if (!v?.kind) continue;
          const plain = await crypto.open(s, v);
          reencrypted.push({ versionId: id, sealed: await crypto.seal(s, id, plain, kmsKeyId), kind: v.kind });
        }
      }
      const now = ctx.clock.now();
      store.transaction(() => {
        if (input.Description !== undefined) store.set(s, 'description', input.Description);
        if (keyChanged) store.set(s, 'kms_key_id', kmsKeyId);
        for (const r of reencrypted) store.reencrypt(s, r.versionId, r.sealed.data_key, r.sealed.ciphertext, kmsKeyId, r.kind);
        if (value && sealed)
          store.putVersion(s, { version_id: versionId!, kind: value.kind, kms_key_id: kmsKeyId, ...sealed }, [AWSCURRENT], now);
        else store.set(s, 'last_changed', now);
      });
      return { ARN: s.arn, Name: s.name, VersionId: versionId };
    },

    DeleteSecret(input, ctx) {
      const force = input.ForceDeleteWithoutRecovery === true;
      if (force && input.RecoveryWindowInDays !== undefined)
        throw invalidParameter("You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.");
      const days = input.RecoveryWindowInDays ?? 30;
      if (!force && (days < 7 || days > 30))
        throw invalidParameter('The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).');
      const now = ctx.clock.now();
      const s = findSecret(store, ctx, input.SecretId);
      if (!s) {
        // forcing the deletion of a secret that is not there is not an error
        if (!force) throw secretNotFound();
        const name = input.SecretId.startsWith('arn:') ? (input.SecretId.split(':secret:')[1] ?? input.SecretId) : input.SecretId;
        const arn = input.SecretId.startsWith('arn:') ? input.SecretId : newSecretArn(ctx, name);
        return { ARN: arn, Name: name, DeletionDate: new Date(now) };
      }
      if (force) {
        store.purge(s);
        return { ARN: s.arn, Name: s.name, DeletionDate: new Date(now) };
      }
      if (s.deletion_date !== null) throw currentlyMarkedDeleted();
      store.transaction(() => {
        store.set(s, 'deletion_date', now + days * DAY);
        store.set(s, 'last_changed', now);
      });
      return { ARN: s.arn, Name: s.name, DeletionDate: new Date(s.deletion_date!) };
    },

    RestoreSecret(input, ctx) {
      const s = requireSecret(store, ctx, input.SecretId);
      if (s.deletion_date !== null)
        store.transaction(() => {
          store.set(s, 'deletion_date', null);
          changed(s, ctx);
        });
      return { ARN: s.arn, Name: s.name };
    },

    ListSecrets(input, ctx) {
      const filters = input.Filters ?? [];
      checkFilters(filters);
      const by = (input.SortBy ?? 'created-date') as SortKey;
      const desc = input.SortOrder === 'desc';
      const limit = input.MaxResults ?? 100;
      let after: [string | number, number] | undefined;
      if (input.NextToken !== undefined) {
        try {
          after = JSON.parse(decodeNextToken(input.NextToken));
        } catch {
          throw invalidNextToken();
        }
        if (!Array.isArray(after) || after.length !== 2 || typeof after[1] !== 'number') throw invalidNextToken();
      }
      const keyOfRow = (s: SecretRow): [string | number, number] => [sortValue(s, by), s.id];
      const order = (a: SecretRow, b: SecretRow) => (desc ? -1 : 1) * compare(keyOfRow(a), keyOfRow(b));
      const rows = store
        .all(ctx, ctx.clock.now())
        .filter((s) => (s.deletion_date === null || input.IncludePlannedDeletion) && matchesFilters(filters, filterable(tags, s)))
        .filter((s) => after === undefined || (desc ? -1 : 1) * compare(keyOfRow(s), after) > 0)
        .sort(order);
      const page = rows.slice(0, limit);
      return {
        SecretList: page.map((s) => listEntry(store, tags, s)),
        NextToken: rows.length > limit ? encodeToken(JSON.stringify(keyOfRow(page[page.length - 1]))) : undefined,
      };
    },

    TagResource(input, ctx) {
      const s = requireLiveSecret(store, ctx, input.SecretId);
      const tagMap = tagMapOf(
        input.Tags.map((t) => ({ Key: t.Key ?? '', Value: t.Value ?? '' })),
        tagRules.errors,
      );
      store.transaction(() => {
        tags.add(s.arn, tagMap, tagRules);
        changed(s, ctx);
      });
    },

    UntagResource(input, ctx) {
      const s = requireLiveSecret(store, ctx, input.SecretId);
      store.transaction(() => {
        tags.remove(s.arn, input.TagKeys);
        changed(s, ctx);
      });
    },

    PutResourcePolicy(input, ctx) {
      const s = requireLiveSecret(store, ctx, input.SecretId);
      const statements = policyStatements(input.ResourcePolicy);
      if (input.BlockPublicPolicy && isPublic(statements))
        throw new AwsError('PublicPolicyException', 'This resource policy will grant public access to the secret.', 400);
      store.transaction(() => {
        store.set(s, 'policy', input.ResourcePolicy);
        changed(s, ctx);
      });
      return { ARN: s.arn, Name: s.name };
    },

    GetResourcePolicy(input, ctx) {
      const s = requireSecret(store, ctx, input.SecretId);
      return { ARN: s.arn, Name: s.name, ResourcePolicy: s.policy ?? undefined };
    },

    DeleteResourcePolicy(input, ctx) {
      const s = requireLiveSecret(store, ctx, input.SecretId);
      if (s.policy !== null)
        store.transaction(() => {
          store.set(s, 'policy', null);
          changed(s, ctx);
        });
      return { ARN: s.arn, Name: s.name };
    },

    ValidateResourcePolicy(input, ctx) {
      if (input.SecretId !== undefined) {
        const s = requireSecret(store, ctx, input.SecretId);
        if (s.deletion_date !== null) throw markedForDeletion();
      }
      const open = isPublic(policyStatements(input.ResourcePolicy));
      return {
        PolicyValidationPassed: !open,
        ValidationErrors: open
          ? [
              {
                CheckName: 'BLOCK_PUBLIC_POLICY',
                ErrorMessage: 'The resource policy grants broad access to the secret: its Principal is "*".',
              },
            ]
          : [],
      };
    },
  };
}
