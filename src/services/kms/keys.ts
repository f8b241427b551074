/**
 * Keys and what hangs off them: CreateKey … ScheduleKeyDeletion, key policies, rotation settings,
 * aliases, grants and tags. Also how a KeyId parameter names a key (key id, key ARN, alias name,
 * alias ARN) and the states a key must be in to be used, which the cryptographic operations share.
 */
import { parseArn, type Scope } from '../../core/arn.js';
import { AwsError } from '../../core/errors.js';
import { hexId, uuid } from '../../core/ids.js';
import { decodeToken, keysetPage, offsetPage } from '../../core/pagination.js';
import { checkTags, type TagMap, type TagRules, type Tags } from '../../core/tags.js';
import type { RequestContext } from '../../gateway/context.js';
import type { KeyMetadataOut, KmsHandlers } from './api.generated.js';
import { generateMaterial, isKeySpec, KEY_SPECS, macAlgorithmFor, RSA_ENCRYPTION, signingAlgorithmsFor, type KeySpec } from './crypto.js';
import { aliasArn, keyArn, notFound, type KeyRow, type KmsStore } from './store.js';

const DAY = 86_400_000;
const KEY_ID = /^(mrk-)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The AWS managed keys opsbox creates the first time their alias is used (as AWS does when the service first needs one). */
const AWS_MANAGED = new Map([
  ['alias/aws/ssm', 'Systems Manager'],
  ['alias/aws/secretsmanager', 'Secrets Manager'],
  ['alias/aws/s3', 'S3'],
  ['alias/aws/lambda', 'Lambda'],
  ['alias/aws/logs', 'CloudWatch Logs'],
  ['alias/aws/sns', 'SNS'],
  ['alias/aws/codecommit', 'CodeCommit'],
  ['alias/aws/codeartifact', 'CodeArtifact'],
  ['alias/aws/ecr', 'ECR'],
  ['alias/aws/ebs', 'EBS'],
]);

export const defaultPolicy = (account: string) =>
  JSON.stringify(
    {
      Version: '2012-10-17',
      Id: 'key-default-1',
      Statement: [
        {
          Sid: 'Enable IAM User Permissions',
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${account}:root` },
          Action: 'kms:*',
          Resource: '*',
        },
      ],
    },
    null,
    2,
  );

const managedPolicy = (account: string, service: string) =>
  JSON.stringify({
    Version: '2012-10-17',
    Id: 'auto-default-1',
    Statement: [
      {
        Sid: `Allow access through ${service} for all principals in the account that are authorized to use ${service}`,
        Effect: 'Allow',
        Principal: { AWS: '*' },
        Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:CreateGrant', 'kms:DescribeKey'],
        Resource: '*',
        Condition: { StringEquals: { 'kms:CallerAccount': account } },
      },
      {
        Sid: 'Allow direct access to key metadata to the account',
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${account}:root` },
        Action: ['kms:Describe*', 'kms:Get*', 'kms:List*', 'kms:RevokeGrant'],
        Resource: '*',
      },
    ],
  });

export const validation = (message: string) => new AwsError('ValidationException', message, 400);
const invalidState = (message: string) => new AwsError('KMSInvalidStateException', message, 400);
const unsupported = (message: string) => new AwsError('UnsupportedOperationException', message, 400);
const invalidMarker = () => new AwsError('InvalidMarkerException', 'Invalid marker', 400);
const markerOffset = (marker: string | undefined) => {
  if (marker === undefined) return 0;
  const n = Number(decodeToken(marker, invalidMarker));
  if (!Number.isInteger(n) || n < 0) throw invalidMarker();
  return n;
};

const tagRules: TagRules = {
  errors: (p) =>
    p.kind === 'tooMany'
      ? new AwsError('LimitExceededException', `Cannot exceed quota for tags per key: ${p.limit}`, 400)
      : new AwsError(
          'TagException',
          p.kind === 'reservedKey' ? 'Tag keys starting with aws: are reserved.' : 'The tags are not valid.',
          400,
        ),
};

export const encryptionAlgorithmsFor = (k: KeyRow) =>
  k.usage !== 'ENCRYPT_DECRYPT' ? undefined : KEY_SPECS[k.spec].kind === 'symmetric' ? ['SYMMETRIC_DEFAULT'] : Object.keys(RSA_ENCRYPTION);

export function keyMetadata(k: KeyRow): KeyMetadataOut {
  const kind = KEY_SPECS[k.spec].kind;
  return {
    AWSAccountId: k.account,
    KeyId: k.key_id,
    Arn: keyArn(k, k.key_id),
    CreationDate: new Date(k.created),
    Enabled: k.state === 'Enabled',
    Description: k.description,
    KeyUsage: k.usage,
    KeyState: k.state,
    DeletionDate: k.deletion_date !== null ? new Date(k.deletion_date) : undefined,
    Origin: k.origin,
    KeyManager: k.manager,
    CustomerMasterKeySpec: k.spec,
    KeySpec: k.spec,
    EncryptionAlgorithms: encryptionAlgorithmsFor(k),
    SigningAlgorithms: k.usage === 'SIGN_VERIFY' ? signingAlgorithmsFor(k.spec) : undefined,
    MacAlgorithms: kind === 'hmac' ? [macAlgorithmFor(k.spec)!] : undefined,
    MultiRegion: k.multi_region === 1,
    MultiRegionConfiguration:
      k.multi_region === 1
        ? { MultiRegionKeyType: 'PRIMARY', PrimaryKey: { Arn: keyArn(k, k.key_id), Region: k.region }, ReplicaKeys: [] }
        : undefined,
  };
}

/** Resolving KeyId parameters; `aliases` says whether the operation accepts an alias name or ARN. */
export function keyResolver(store: KmsStore) {
  function createManagedKey(scope: Scope, alias: string, now: number): KeyRow {
    const keyId = uuid();
    store.transaction(() => {
      store.insertKey(
        {
          account: scope.account,
          region: scope.region,
          key_id: keyId,
          spec: 'SYMMETRIC_DEFAULT',
          usage: 'ENCRYPT_DECRYPT',
          state: 'Enabled',
          description: `Default key that protects my ${AWS_MANAGED.get(alias)} data when no other key is defined`,
          origin: 'AWS_KMS',
          manager: 'AWS',
          policy: managedPolicy(scope.account, AWS_MANAGED.get(alias)!),
          created: now,
          multi_region: 0,
        },
        generateMaterial('SYMMETRIC_DEFAULT'),
      );
      const k = store.findKey(scope, keyId, now)!;
      store.set(k, 'rotation_days', 365);
      store.set(k, 'next_rotation', now + 365 * DAY);
      store.insertAlias(scope, alias, keyId, now);
    });
    return store.findKey(scope, keyId, now)!;
  }

  function byAlias(ctx: RequestContext, name: string, shown: string): KeyRow {
    const now = ctx.clock.now();
    const a = store.findAlias(ctx, name);
    if (!a) {
      if (AWS_MANAGED.has(name)) return createManagedKey(ctx, name, now);
      throw notFound(`Alias ${shown} is not found.`);
    }
    const k = store.findKey(ctx, a.key_id, now);
    if (!k) throw notFound(`Alias ${shown} is not found.`);
    return k;
  }

  /** The key a KeyId parameter names in the caller's account and region, or AWS's NotFoundException. */
  return function resolve(ctx: RequestContext, keyId: string, opts: { aliases: boolean }): KeyRow {
    let id = keyId;
    if (keyId.startsWith('arn:')) {
      const p = parseArn(keyId);
      if (!p || p.service !== 'kms') throw notFound(`Invalid keyId ${keyId}`);
      if (p.resource.startsWith('alias/') && opts.aliases) {
        if (p.account !== ctx.account || p.region !== ctx.region) throw notFound(`Alias ${keyId} is not found.`);
        return byAlias(ctx, p.resource, keyId);
      }
      if (!p.resource.startsWith('key/')) throw notFound(`Invalid keyId ${keyId}`);
      if (p.account !== ctx.account || p.region !== ctx.region) throw notFound(`Key '${keyId}' does not exist`);
      id = p.resource.slice(4);
    } else if (keyId.startsWith('alias/')) {
      if (!opts.aliases) throw notFound(`Invalid keyId ${keyId}`);
      return byAlias(ctx, keyId, aliasArn(ctx, keyId));
    }
    if (!KEY_ID.test(id)) throw notFound(`Invalid keyId ${keyId}`);
    const k = store.findKey(ctx, id.toLowerCase(), ctx.clock.now());
    if (!k) throw notFound(`Key '${keyArn(ctx, id)}' does not exist`);
    return k;
  };
}

export type ResolveKey = ReturnType<typeof keyResolver>;

/** A key a cryptographic operation may use: enabled, and not pending deletion. */
export function requireEnabled(k: KeyRow): KeyRow {
  if (k.state === 'Disabled') throw new AwsError('DisabledException', `${keyArn(k, k.key_id)} is disabled.`, 400);
  if (k.state === 'PendingDeletion') throw invalidState(`${keyArn(k, k.key_id)} is pending deletion.`);
  return k;
}

function requireCustomerManaged(k: KeyRow, operation: string) {
  if (k.manager === 'AWS')
    throw unsupported(`${operation} is not supported on AWS managed key ${keyArn(k, k.key_id)}. Use a customer managed key instead.`);
}

function parsePolicy(policy: string) {
  try {
    const doc: unknown = JSON.parse(policy);
    if (typeof doc === 'object' && doc !== null && !Array.isArray(doc)) return policy;
  } catch {
    // answered below
  }
  throw new AwsError(
    'MalformedPolicyDocumentException',
    'The new key policy will not allow you to update the key policy in the future.',
    400,
  );
}

function checkUsage(spec: KeySpec, usage: string) {
  if (!(KEY_SPECS[spec].usages as readonly string[]).includes(usage))
    throw validation(`KeyUsage ${usage} is not compatible with KeySpec ${spec}`);
}

const tagMapOfKms = (tags: { TagKey: string; TagValue: string }[] | undefined): TagMap =>
  Object.fromEntries((tags ?? []).map((t) => [t.TagKey, t.TagValue]));

const ALIAS_NAME = /^alias\/[a-zA-Z0-9/_-]+$/;

function checkAliasName(name: string) {
  if (!name.startsWith('alias/')) throw validation('Invalid identifier');
  if (name.startsWith('alias/aws/')) throw new AwsError('NotAuthorizedException', '', 400);
  if (!ALIAS_NAME.test(name)) throw validation(`${name} contains invalid characters for an alias`);
}

const GRANT_OPERATIONS: Record<string, readonly string[]> = {
  ENCRYPT_DECRYPT: [
    'Decrypt',
    'Encrypt',
    'GenerateDataKey',
    'GenerateDataKeyWithoutPlaintext',
    'ReEncryptFrom',
    'ReEncryptTo',
    'GenerateDataKeyPair',
    'GenerateDataKeyPairWithoutPlaintext',
  ],
  SIGN_VERIFY: ['Sign', 'Verify', 'GetPublicKey'],
  GENERATE_VERIFY_MAC: ['GenerateMac', 'VerifyMac'],
};
const GRANT_ANY = ['CreateGrant', 'RetireGrant', 'DescribeKey'];

export function keyHandlers(store: KmsStore, tags: Tags, resolve: ResolveKey): KmsHandlers {
  const cmk = (ctx: RequestContext, keyId: string) => resolve(ctx, keyId, { aliases: false });
  const grantView = (g: ReturnType<KmsStore['grantsOfKey']>[number], scope: Scope) => ({
    KeyId: keyArn(scope, g.key_id),
    GrantId: g.grant_id,
    Name: g.name ?? undefined,
    CreationDate: new Date(g.created),
    GranteePrincipal: g.grantee,
    RetiringPrincipal: g.retiring ?? undefined,
    IssuingAccount: `arn:aws:iam::${g.issuer}:root`,
    Operations: JSON.parse(g.operations) as string[],
    Constraints: g.constraints ? JSON.parse(g.constraints) : undefined,
  });

  return {
    CreateKey(input, ctx) {
      const spec = input.KeySpec ?? input.CustomerMasterKeySpec ?? 'SYMMETRIC_DEFAULT';
      if (input.KeySpec && input.CustomerMasterKeySpec)
        throw validation('You cannot specify KeySpec and CustomerMasterKeySpec in the same request. CustomerMasterKeySpec is deprecated.');
      if (!isKeySpec(spec)) throw unsupported(`KeySpec ${spec} is not supported by opsbox.`);
      const usage = input.KeyUsage ?? (KEY_SPECS[spec].kind === 'ec' ? undefined : KEY_SPECS[spec].usages[0]);
      if (usage === undefined) throw validation(`You must specify a KeyUsage value for an asymmetric KMS key with KeySpec ${spec}.`);
      checkUsage(spec, usage);
      const origin = input.Origin ?? 'AWS_KMS';
      if (origin !== 'AWS_KMS' || input.CustomKeyStoreId || input.XksKeyId)
        throw unsupported(`Origin ${origin} and custom key stores are not supported by opsbox: only AWS_KMS key material.`);
      const tagMap = tagMapOfKms(input.Tags);
      checkTags(tagMap, tagRules);
      const now = ctx.clock.now();
      const keyId = (input.MultiRegion ? 'mrk-' + hexId(16) : uuid()).toLowerCase();
      store.transaction(() => {
        store.insertKey(
          {
            account: ctx.account,
            region: ctx.region,
            key_id: keyId,
            spec,
            usage,
            state: 'Enabled',
            description: input.Description ?? '',
            origin,
            manager: 'CUSTOMER',
            policy: input.Policy !== undefined ? parsePolicy(input.Policy) : defaultPolicy(ctx.account),
            created: now,
            multi_region: input.MultiRegion ? 1 : 0,
          },
          generateMaterial(spec),
        );
        tags.add(keyArn(ctx, keyId), tagMap, tagRules);
      });
      return { KeyMetadata: keyMetadata(store.findKey(ctx, keyId, now)!) };
    },

    DescribeKey(input, ctx) {
      return { KeyMetadata: keyMetadata(resolve(ctx, input.KeyId, { aliases: true })) };
    },

    ListKeys(input, ctx) {
      const limit = input.Limit ?? 100;
      const after = input.Marker !== undefined ? decodeToken(input.Marker, invalidMarker) : '';
      const page = keysetPage(store.listKeys(ctx, after, limit + 1, ctx.clock.now()), limit, (k) => k.key_id);
      return {
        Keys: page.items.map((k) => ({ KeyId: k.key_id, KeyArn: keyArn(k, k.key_id) })),
        Truncated: page.next !== undefined,
        NextMarker: page.next,
      };
    },

    UpdateKeyDescription(input, ctx) {
      const k = cmk(ctx, input.KeyId);
      requireCustomerManaged(k, 'UpdateKeyDescription');
      store.set(k, 'description', input.Description);
    },

    EnableKey(input, ctx) {
      const k = cmk(ctx, input.KeyId);
      requireCustomerManaged(k, 'EnableKey');
      if (k.state === 'PendingDeletion') throw invalidState(`${keyArn(k, k.key_id)} is pending deletion.`);
      store.set(k, 'state', 'Enabled');
    },

    DisableKey(input, ctx) {
      const k = cmk(ctx, input.KeyId);
      requireCustomerManaged(k, 'DisableKey');
      if (k.state === 'PendingDeletion') throw invalidState(`${keyArn(k, k.key_id)} is pending deletion.`);
      store.set(k, 'state', 'Disabled');
    },

    ScheduleKeyDeletion(input, ctx) {
      const k = cmk(ctx, input.KeyId);
      requireCustomerManaged(k, 'ScheduleKeyDeletion');
      const days = input.PendingWindowInDays ?? 30;
      if (days < 7 || days > 30)
        throw validation(
          `1 validation error detected: Value '${days}' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value between 7 and 30`,
        );
      if (k.state === 'PendingDeletion') throw invalidState(`${keyArn(k, k.key_id)} is pending deletion.`);
      const deletion = ctx.clock.now() + days * DAY;
      store.transaction(() => {
        store.set(k, 'state', 'PendingDeletion');
        store.set(k, 'deletion_date', deletion);
      });
      return { KeyId: keyArn(k, k.key_id), DeletionDate: new Date(deletion), KeyState: 'PendingDeletion', PendingWindowInDays: days };
    },

    CancelKeyDeletion(input, ctx) {
      const k = cmk(ctx, input.KeyId);
      if (k.state !== 'PendingDeletion') throw invalidState(`${keyArn(k, k.key_id)} is not pending deletion.`);
      store.transaction(() => {
        store.set(k, 'state', 'Disabled');
        store.set(k, 'deletion_date', null);
      });
      return { KeyId: keyArn(k, k.key_id) };
    },

    GetKeyPolicy(input, ctx) {
      const k = cmk(ctx, input.KeyId);
      const name = input.PolicyName ?? 'default';
      if (name !== 'default') throw notFound('No such policy exists');
      return { Policy: k.policy, PolicyName: name };
    },

    PutKeyPolicy(input, ctx) {
      const k = cmk(ctx, input.KeyId);
      requireCustomerManaged(k, 'PutKeyPolicy');
      if ((input.PolicyName ?? 'default') !== 'default') throw notFound('No such policy exists');
      store.set(k, 'policy', parsePolicy(input.Policy));
    },

    ListKeyPolicies(input, ctx) {
      cmk(ctx, input.KeyId);
      return { PolicyNames: ['default'], Truncated: false };
    },

    EnableKeyRotation(input, ctx) {
      const k = requireEnabled(cmk(ctx, input.KeyId));
      requireCustomerManaged(k, 'EnableKeyRotation');
      if (k.spec !== 'SYMMETRIC_DEFAULT') throw unsupported(`${keyArn(k, k.key_id)} key does not support automatic rotation.`);
      const days = input.RotationPeriodInDays ?? 365;
      store.transaction(() => {
        store.set(k, 'rotation_days', days);
        store.set(k, 'next_rotation', ctx.clock.now() + days * DAY);
      });
    },

    DisableKeyRotation(input, ctx) {
      const k = requireEnabled(cmk(ctx, input.KeyId));
      requireCustomerManaged(k, 'DisableKeyRotation');
      if (k.spec !== 'SYMMETRIC_DEFAULT') throw unsupported(`${keyArn(k, k.key_id)} key does not support automatic rotation.`);
      store.transaction(() => {
        store.set(k, 'rotation_days', null);
        store.set(k, 'next_rotation', null);
      });
    },

    GetKeyRotationStatus(input, ctx) {
      const k = cmk(ctx, input.KeyId);
      if (k.spec !== 'SYMMETRIC_DEFAULT') throw unsupported(`${keyArn(k, k.key_id)} key does not support automatic rotation.`);
      const onDemand = store.materials(k).filter((m) => m.on_demand === 1);
      return {
        KeyId: keyArn(k, k.key_id),
        KeyRotationEnabled: k.rotation_days !== null,
        RotationPeriodInDays: k.rotation_days ?? undefined,
        NextRotationDate: k.next_rotation !== null ? new Date(k.next_rotation) : undefined,
        OnDemandRotationStartDate: onDemand.length ? new Date(onDemand[onDemand.length - 1].created) : undefined,
      };
    },

    RotateKeyOnDemand(input, ctx) {
      const k = requireEnabled(cmk(ctx, input.KeyId));
      requireCustomerManaged(k, 'RotateKeyOnDemand');
      if (k.spec !== 'SYMMETRIC_DEFAULT') throw unsupported(`${keyArn(k, k.key_id)} key does not support on-demand rotation.`);
      store.addMaterial(k, ctx.clock.now(), true);
      return { KeyId: k.key_id };
    },

    ListKeyRotations(input, ctx) {
      const k = cmk(ctx, input.KeyId);
      if (k.spec !== 'SYMMETRIC_DEFAULT') throw unsupported(`${keyArn(k, k.key_id)} key does not support rotation.`);
      const rotations = store
        .materials(k)
        .slice(1)
        .map((m) => ({
          KeyId: keyArn(k, k.key_id),
          RotationDate: new Date(m.created),
          RotationType: m.on_demand ? 'ON_DEMAND' : 'AUTOMATIC',
        }));
      const page = offsetPage(rotations, markerOffset(input.Marker), input.Limit ?? 100);
      return { Rotations: page.items, Truncated: page.next !== undefined, NextMarker: page.next };
    },

    // ---- aliases ----

    CreateAlias(input, ctx) {
      checkAliasName(input.AliasName);
      const k = cmk(ctx, input.TargetKeyId);
      if (k.manager === 'AWS') throw unsupported('Cannot create an alias for an AWS managed key.');
      if (store.findAlias(ctx, input.AliasName))
        throw new AwsError('AlreadyExistsException', `An alias with the name ${aliasArn(ctx, input.AliasName)} already exists`, 400);
      store.insertAlias(ctx, input.AliasName, k.key_id, ctx.clock.now());
    },

    UpdateAlias(input, ctx) {
      checkAliasName(input.AliasName);
      const a = store.findAlias(ctx, input.AliasName);
      if (!a) throw notFound(`Alias ${aliasArn(ctx, input.AliasName)} is not found.`);
      const k = cmk(ctx, input.TargetKeyId);
      const current = store.findKey(ctx, a.key_id, ctx.clock.now());
      if (current && (KEY_SPECS[current.spec].kind !== KEY_SPECS[k.spec].kind || current.usage !== k.usage))
        throw validation(
          `Alias ${input.AliasName} cannot be changed from a key of type ${current.spec}/${current.usage} to ${k.spec}/${k.usage}.`,
        );
      store.retargetAlias(ctx, input.AliasName, k.key_id, ctx.clock.now());
    },

    DeleteAlias(input, ctx) {
      checkAliasName(input.AliasName);
      if (!store.findAlias(ctx, input.AliasName)) throw notFound(`Alias ${aliasArn(ctx, input.AliasName)} is not found.`);
      store.deleteAlias(ctx, input.AliasName);
    },

    ListAliases(input, ctx) {
      const limit = input.Limit ?? 100;
      const rows =
        input.KeyId !== undefined
          ? store.aliasesOfKey(ctx, cmk(ctx, input.KeyId).key_id)
          : store.listAliases(ctx, input.Marker !== undefined ? decodeToken(input.Marker, invalidMarker) : '', limit + 1);
      const page = input.KeyId !== undefined ? { items: rows } : keysetPage(rows, limit, (a) => a.name);
      const next = 'next' in page ? page.next : undefined;
      return {
        Aliases: page.items.map((a) => ({
          AliasName: a.name,
          AliasArn: aliasArn(ctx, a.name),
          TargetKeyId: a.key_id,
          CreationDate: new Date(a.created),
          LastUpdatedDate: new Date(a.updated),
        })),
        Truncated: next !== undefined,
        NextMarker: next,
      };
    },

    // ---- grants ----

    CreateGrant(input, ctx) {
      const k = requireEnabled(resolve(ctx, input.KeyId, { aliases: false }));
      const allowed = [...GRANT_OPERATIONS[k.usage], ...GRANT_ANY];
      for (const op of input.Operations)
        if (!allowed.includes(op)) throw validation(`Grant operation ${op} is not valid for a key with KeyUsage ${k.usage}.`);
      const operations = JSON.stringify(input.Operations);
      const constraints = input.Constraints ? JSON.stringify(input.Constraints) : null;
      if (input.Name !== undefined) {
        const same = store
          .grantsOfKey(ctx, k.key_id)
          .find(
            (g) =>
              g.name === input.Name &&
              g.grantee === input.GranteePrincipal &&
              g.retiring === (input.RetiringPrincipal ?? null) &&
              g.operations === operations &&
              g.constraints === constraints,
          );
        if (same) return { GrantId: same.grant_id, GrantToken: same.token };
      }
      const grantId = hexId(32);
      const token = Buffer.from(`${ctx.account}:${ctx.region}:${grantId}:${hexId(16)}`).toString('base64url');
      store.insertGrant({
        account: ctx.account,
        region: ctx.region,
        grant_id: grantId,
        key_id: k.key_id,
        token,
        name: input.Name ?? null,
        grantee: input.GranteePrincipal,
        retiring: input.RetiringPrincipal ?? null,
        operations,
        constraints,
        issuer: ctx.account,
        created: ctx.clock.now(),
      });
      return { GrantId: grantId, GrantToken: token };
    },

    ListGrants(input, ctx) {
      const k = resolve(ctx, input.KeyId, { aliases: false });
      const all = store
        .grantsOfKey(ctx, k.key_id)
        .filter(
          (g) =>
            (input.GrantId === undefined || g.grant_id === input.GrantId) &&
            (input.GranteePrincipal === undefined || g.grantee === input.GranteePrincipal),
        );
      const page = offsetPage(all, markerOffset(input.Marker), input.Limit ?? 50);
      return { Grants: page.items.map((g) => grantView(g, ctx)), Truncated: page.next !== undefined, NextMarker: page.next };
    },

    ListRetirableGrants(input, ctx) {
      const all = store.retirableGrants(ctx.account, input.RetiringPrincipal);
      const page = offsetPage(all, markerOffset(input.Marker), input.Limit ?? 50);
      return { Grants: page.items.map((g) => grantView(g, g)), Truncated: page.next !== undefined, NextMarker: page.next };
    },

    RetireGrant(input, ctx) {
      let grant;
      if (input.GrantToken !== undefined) {
        grant = store.findGrantByToken(ctx, input.GrantToken);
        if (!grant) throw new AwsError('InvalidGrantTokenException', 'Invalid grant token', 400);
      } else {
        if (input.KeyId === undefined || input.GrantId === undefined)
          throw validation('Either GrantToken or both KeyId and GrantId must be specified.');
        const k = resolve(ctx, input.KeyId, { aliases: false });
        grant = store.findGrant(ctx, input.GrantId);
        if (!grant || grant.key_id !== k.key_id) throw notFound(`Grant ID ${input.GrantId} not found`);
      }
      store.deleteGrant(ctx, grant.grant_id);
    },

    RevokeGrant(input, ctx) {
      const k = resolve(ctx, input.KeyId, { aliases: false });
      const grant = store.findGrant(ctx, input.GrantId);
      if (!grant || grant.key_id !== k.key_id) throw new AwsError('InvalidGrantIdException', `Grant ID ${input.GrantId} not found`, 400);
      store.deleteGrant(ctx, grant.grant_id);
    },

    // ---- tags ----

    TagResource(input, ctx) {
      const k = cmk(ctx, input.KeyId);
      requireCustomerManaged(k, 'TagResource');
      tags.add(keyArn(k, k.key_id), tagMapOfKms(input.Tags), tagRules);
    },

    UntagResource(input, ctx) {
      const k = cmk(ctx, input.KeyId);
      requireCustomerManaged(k, 'UntagResource');
      tags.remove(keyArn(k, k.key_id), input.TagKeys, tagRules);
    },

    ListResourceTags(input, ctx) {
      const k = cmk(ctx, input.KeyId);
      const all = tags.list(keyArn(k, k.key_id)).map((t) => ({ TagKey: t.Key, TagValue: t.Value }));
      const page = offsetPage(all, markerOffset(input.Marker), input.Limit ?? 50);
      return { Tags: page.items, Truncated: page.next !== undefined, NextMarker: page.next };
    },
  };
}
