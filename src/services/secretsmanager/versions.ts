/**
 * Secret values and their versions: GetSecretValue, BatchGetSecretValue, PutSecretValue,
 * UpdateSecretVersionStage and ListSecretVersionIds, and the version writing CreateSecret and
 * UpdateSecret share (ClientRequestToken idempotency, staging labels, AWSCURRENT → AWSPREVIOUS).
 */
import { AwsError } from '../../core/errors.js';
import { uuid } from '../../core/ids.js';
import { encodeToken } from '../../core/pagination.js';
import type { Tags } from '../../core/tags.js';
import type { RequestContext } from '../../gateway/context.js';
import type { APIErrorType, GetSecretValueOutput, SecretsmanagerHandlers, SecretVersionsListEntryOut } from './api.generated.js';
import {
  bothValues,
  checkFilters,
  decodeNextToken,
  filterable,
  invalidNextToken,
  invalidParameter,
  invalidRequest,
  requireLiveSecret,
} from './common.js';
import { matchesFilters } from './filters.js';
import { AWSCURRENT, type SecretRow, type SecretsStore, type VersionRow } from './store.js';
import { sameValue, valueOf, type SecretValue, type ValueCrypto } from './values.js';

const valueNotFound = (what: string) =>
  new AwsError('ResourceNotFoundException', `Secrets Manager can't find the specified secret value for ${what}`, 400);

/** Writing versions: what CreateSecret, UpdateSecret and PutSecretValue share. */
export function versionWriter(store: SecretsStore, crypto: ValueCrypto) {
  return {
    /**
     * The version a retried request made, when `token` names a version with a value: the same value
     * answers with that version, another value is AWS's ResourceExistsException. Undefined when the
     * token names no version (or one without a value yet, which the request may fill).
     */
    async retried(s: SecretRow, token: string | undefined, value: SecretValue): Promise<VersionRow | undefined> {
      if (token === undefined) return undefined;
      const v = store.version(s, token);
      if (!v?.kind) return undefined;
      if (sameValue(await crypto.open(s, v), value)) return v;
      throw new AwsError(
        'ResourceExistsException',
        `You can't use ClientRequestToken ${token} because that value is already in use for a version of secret ${s.arn}.`,
        400,
      );
    },
  };
}

export function versionHandlers(store: SecretsStore, tags: Tags, crypto: ValueCrypto): SecretsmanagerHandlers {
  const writer = versionWriter(store, crypto);

  /** A secret's value as GetSecretValue answers it; the errors as AWS words them. */
  async function getValue(
    ctx: RequestContext,
    s: SecretRow,
    versionId: string | undefined,
    versionStage: string | undefined,
  ): Promise<GetSecretValueOutput> {
    let v: VersionRow | undefined;
    let stages: string[] | undefined;
    let asked: string;
    if (versionId !== undefined) {
      asked = `VersionId: ${versionId}`;
      v = store.version(s, versionId);
      if (!v) throw valueNotFound(asked);
      if (versionStage !== undefined && store.holder(s, versionStage) !== versionId)
        throw invalidRequest('You provided a VersionStage that is not associated to the provided VersionId.');
    } else {
      const stage = versionStage ?? AWSCURRENT;
      asked = `staging label: ${stage}`;
      const found = store.labelled(s, stage);
      v = found?.version;
      stages = found?.stages;
    }
    if (!v?.kind) throw valueNotFound(asked);
    const value = await crypto.open(s, v);
    store.touch(s, v, ctx.clock.now());
    return {
      ARN: s.arn,
      Name: s.name,
      VersionId: v.version_id,
      SecretString: value.kind === 'string' ? value.bytes.toString('utf8') : undefined,
      SecretBinary: value.kind === 'binary' ? value.bytes : undefined,
      VersionStages: stages ?? stagesOf(s, v.version_id),
      CreatedDate: new Date(v.created),
    };
  }

  const stagesOf = (s: SecretRow, versionId: string) => [...store.stages(s)].filter(([, id]) => id === versionId).map(([stage]) => stage);

  return {
    async GetSecretValue(input, ctx) {
      return getValue(ctx, requireLiveSecret(store, ctx, input.SecretId), input.VersionId, input.VersionStage);
    },

    async BatchGetSecretValue(input, ctx) {
      const ids = input.SecretIdList;
      const filters = input.Filters;
      if ((ids !== undefined) === (filters !== undefined))
        throw invalidParameter(
          ids !== undefined
            ? "Either 'SecretIdList' or 'Filters' must be provided, but not both."
            : "Either 'SecretIdList' or 'Filters' must be provided.",
        );
      if (input.MaxResults !== undefined && filters === undefined)
        throw invalidParameter("'Filters' not specified. 'Filters' must also be specified when 'MaxResults' is provided.");
      const values: GetSecretValueOutput[] = [];
      const errors: APIErrorType[] = [];
      const get = async (secretId: string, s?: SecretRow) => {
        try {
          values.push(await getValue(ctx, s ?? requireLiveSecret(store, ctx, secretId), undefined, undefined));
        } catch (err) {
          if (!(err instanceof AwsError)) throw err;
          errors.push({ SecretId: secretId, ErrorCode: err.code, Message: err.message });
        }
      };
      if (ids !== undefined) {
        for (const id of ids) await get(id);
        return { SecretValues: values, Errors: errors };
      }
      checkFilters(filters!);
      const limit = input.MaxResults ?? 20;
      const after = input.NextToken !== undefined ? Number(decodeNextToken(input.NextToken)) : 0;
      if (!Number.isInteger(after)) throw invalidNextToken();
      const now = ctx.clock.now();
      const matching = store
        .all(ctx, now)
        .filter((s) => s.id > after && s.deletion_date === null && matchesFilters(filters!, filterable(tags, s)));
      const page = matching.slice(0, limit);
      for (const s of page) await get(s.arn, s);
      return {
        SecretValues: values,
        Errors: errors,
        NextToken: matching.length > limit ? encodeToken(page[page.length - 1].id) : undefined,
      };
    },

    async PutSecretValue(input, ctx) {
      const s = requireLiveSecret(store, ctx, input.SecretId);
      if (input.SecretString !== undefined && input.SecretBinary !== undefined) throw bothValues();
      const value = valueOf(input);
      if (!value) throw invalidRequest('You must provide either SecretString or SecretBinary.');
      const done = await writer.retried(s, input.ClientRequestToken, value);
      if (done) return { ARN: s.arn, Name: s.name, VersionId: done.version_id, VersionStages: stagesOf(s, done.version_id) };

      const versionId = input.ClientRequestToken ?? uuid();
      const stages = [...new Set(input.VersionStages ?? [AWSCURRENT])];
      // the first value a secret gets is AWSCURRENT whatever else it is labelled
      if (store.holder(s, AWSCURRENT) === undefined && !stages.includes(AWSCURRENT)) stages.push(AWSCURRENT);
      const sealed = await crypto.seal(s, versionId, value);
      store.putVersion(s, { version_id: versionId, kind: value.kind, kms_key_id: s.kms_key_id, ...sealed }, stages, ctx.clock.now());
      return { ARN: s.arn, Name: s.name, VersionId: versionId, VersionStages: stagesOf(s, versionId) };
    },

    UpdateSecretVersionStage(input, ctx) {
      const s = requireLiveSecret(store, ctx, input.SecretId);
      const stage = input.VersionStage;
      const { MoveToVersionId: to, RemoveFromVersionId: from } = input;
      for (const id of [to, from]) if (id !== undefined && !store.version(s, id)) throw invalidParameter(`Not a valid version: ${id}`);
      const holder = store.holder(s, stage);
      if (to !== undefined) {
        if (holder !== undefined && holder !== to) {
          if (from === undefined)
            throw invalidParameter(
              `The parameter RemoveFromVersionId can't be empty. Staging label ${stage} is currently attached to version ${holder}, so you must explicitly reference that version in RemoveFromVersionId.`,
            );
          if (from !== holder)
            throw invalidParameter(
              `When you move staging label ${stage}, if you specify RemoveFromVersionId, it must be set to the version that currently has the staging label ${stage}.`,
            );
        }
      } else if (from !== undefined) {
        if (holder !== from) throw invalidParameter(`Version stage ${stage} not found in version ${from}`);
        if (stage === AWSCURRENT)
          throw invalidParameter(
            `You can't remove the staging label AWSCURRENT from version ${from} without moving it to another version: name that version in MoveToVersionId.`,
          );
      } else {
        throw invalidParameter('You must specify MoveToVersionId, RemoveFromVersionId, or both.');
      }
      store.moveStage(s, stage, from, to, ctx.clock.now());
      return { ARN: s.arn, Name: s.name };
    },

    ListSecretVersionIds(input, ctx) {
      const s = requireLiveSecret(store, ctx, input.SecretId);
      const stages = new Map<string, string[]>();
      for (const [stage, id] of store.stages(s)) stages.set(id, [...(stages.get(id) ?? []), stage]);
      const before = input.NextToken !== undefined ? Number(decodeNextToken(input.NextToken)) : Infinity;
      if (Number.isNaN(before)) throw invalidNextToken();
      const rows = store.versions(s).filter((v) => v.seq < before && (input.IncludeDeprecated || stages.has(v.version_id)));
      const limit = input.MaxResults ?? 100;
      const page = rows.slice(0, limit);
      const versions: SecretVersionsListEntryOut[] = page.map((v) => ({
        VersionId: v.version_id,
        VersionStages: stages.get(v.version_id),
        LastAccessedDate: v.last_accessed === null ? undefined : new Date(v.last_accessed),
        CreatedDate: new Date(v.created),
        KmsKeyIds: v.kind ? [v.kms_key_id ?? 'DefaultEncryptionKey'] : undefined,
      }));
      return {
        ARN: s.arn,
        Name: s.name,
        Versions: versions,
        NextToken: rows.length > limit ? encodeToken(page[page.length - 1].seq) : undefined,
      };
    },
  };
}
