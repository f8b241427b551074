/**
 * Managed policies: customer managed ones (stored, with up to 5 versions) and the AWS managed
 * catalog (awsManagedPolicies.ts, read-only). resolvePolicy() gives one view of either, which
 * attachments and permissions boundaries use. AttachmentCount is counted from the attachments.
 */
import type { ServiceEnv } from '../../gateway/service.js';
import { AwsError } from '../../core/errors.js';
import { iamId } from '../../core/ids.js';
import type { RequestContext } from '../../gateway/context.js';
import type { IamHandlers } from './api.generated.js';
import { AWS_MANAGED_POLICIES, awsPolicyArn, findAwsManagedPolicy, type AwsManagedPolicy } from './awsManagedPolicies.js';
import {
  alreadyExists,
  checkPolicyDocument,
  decodeMarker,
  deleteConflict,
  encodeDocument,
  entityTags,
  invalidInput,
  limitExceeded,
  noSuchEntity,
  pageOf,
  paginate,
} from './common.js';
import type { IamStore, PolicyRow } from './store.js';

/** AWS managed policies predate every account; they all carry this creation date. */
const AWS_POLICY_CREATED = Date.UTC(2015, 1, 6, 18, 39, 46);
const MAX_VERSIONS = 5;

/** A managed policy as outputs show it, whichever catalog it comes from. */
export interface ManagedPolicy {
  arn: string;
  name: string;
  path: string;
  id: string;
  description?: string;
  defaultVersion: string;
  created: number;
  updated: number;
  local?: PolicyRow;
  aws?: AwsManagedPolicy;
}

const fromRow = (p: PolicyRow): ManagedPolicy => ({
  arn: p.arn,
  name: p.name,
  path: p.path,
  id: p.policy_id,
  description: p.description ?? undefined,
  defaultVersion: `v${p.default_version}`,
  created: p.created_at,
  updated: p.updated_at,
  local: p,
});

const fromAws = (p: AwsManagedPolicy): ManagedPolicy => ({
  arn: awsPolicyArn(p),
  name: p.name,
  path: p.path,
  id: p.id,
  description: p.description,
  defaultVersion: p.defaultVersion,
  created: AWS_POLICY_CREATED,
  updated: AWS_POLICY_CREATED,
  aws: p,
});

/** InvalidInput 400 "ARN x is not valid." unless it looks like an IAM policy ARN. */
function checkPolicyArn(arn: string) {
  if (!/^arn:aws[a-z-]*:iam::(\d{12}|aws):policy\//.test(arn)) throw invalidInput(`ARN ${arn} is not valid.`);
}

/** The policy of the caller's account or the AWS catalog, or undefined. */
export function resolvePolicy(store: IamStore, ctx: RequestContext, arn: string): ManagedPolicy | undefined {
  checkPolicyArn(arn);
  const aws = findAwsManagedPolicy(arn);
  if (aws) return fromAws(aws);
  const row = store.getPolicy(ctx.account, arn);
  return row ? fromRow(row) : undefined;
}

/** NoSuchEntity 404 "Policy X was not found." (GetPolicy, DeletePolicy, versions, tags). */
export function requirePolicy(store: IamStore, ctx: RequestContext, arn: string): ManagedPolicy {
  const p = resolvePolicy(store, ctx, arn);
  if (!p) throw noSuchEntity(`Policy ${arn} was not found.`);
  return p;
}

/** NoSuchEntity 404 "Policy X does not exist or is not attachable." (Attach*). */
export function requireAttachablePolicy(store: IamStore, ctx: RequestContext, arn: string): ManagedPolicy {
  const p = resolvePolicy(store, ctx, arn);
  if (!p) throw noSuchEntity(`Policy ${arn} does not exist or is not attachable.`);
  return p;
}

/** NoSuchEntity 404 "Scope ARN: X does not exist or is not attachable." (PermissionsBoundary). */
export function requireBoundaryPolicy(store: IamStore, ctx: RequestContext, arn: string) {
  const p = resolvePolicy(store, ctx, arn);
  if (!p) throw noSuchEntity(`Scope ARN: ${arn} does not exist or is not attachable.`);
  return p;
}

/** Customer managed only: AWS managed policies cannot be changed by an account. */
function requireLocalPolicy(store: IamStore, ctx: RequestContext, arn: string, action: string): PolicyRow {
  const p = requirePolicy(store, ctx, arn);
  if (!p.local)
    throw new AwsError(
      'AccessDenied',
      `User: ${ctx.caller.arn} is not authorized to perform: iam:${action} on resource: policy ${arn}`,
      403,
    );
  return p.local;
}

function parseVersion(policyArn: string, versionId: string): number {
  const m = /^v([1-9][0-9]*)$/.exec(versionId);
  if (!m) throw noSuchEntity(`Policy ${policyArn} version ${versionId} does not exist or is not attachable.`);
  return Number(m[1]);
}

export function policyHandlers(env: ServiceEnv, store: IamStore): IamHandlers {
  const tags = entityTags(env.tags, 'Policy');
  const policyOut = (ctx: RequestContext, p: ManagedPolicy, full: boolean) => ({
    PolicyName: p.name,
    PolicyId: p.id,
    Arn: p.arn,
    Path: p.path,
    DefaultVersionId: p.defaultVersion,
    AttachmentCount: store.attachmentCount(ctx.account, p.arn),
    PermissionsBoundaryUsageCount: 0,
    IsAttachable: true,
    Description: full ? p.description : undefined,
    CreateDate: new Date(p.created),
    UpdateDate: new Date(p.updated),
    Tags: full && p.local ? tags.out(p.arn) : undefined,
  });

  const versionOf = (ctx: RequestContext, policyArn: string, versionId: string) => {
    const p = requirePolicy(store, ctx, policyArn);
    const missing = () => noSuchEntity(`Policy ${policyArn} version ${versionId} does not exist or is not attachable.`);
    if (p.aws) {
      if (versionId !== p.defaultVersion) throw missing();
      return {
        p,
        version: {
          Document: JSON.stringify(p.aws.document),
          VersionId: versionId,
          IsDefaultVersion: true,
          CreateDate: new Date(p.created),
        },
      };
    }
    const v = store.getVersion(p.local!, parseVersion(policyArn, versionId));
    if (!v) throw missing();
    return {
      p,
      version: {
        Document: v.document,
        VersionId: versionId,
        IsDefaultVersion: p.local!.default_version === v.version,
        CreateDate: new Date(v.created_at),
      },
    };
  };

  return {
    CreatePolicy(input, ctx) {
      const path = input.Path ?? '/';
      if (store.getPolicyByName(ctx.account, input.PolicyName))
        throw alreadyExists(`A policy called ${input.PolicyName} already exists. Duplicate names are not allowed.`);
      checkPolicyDocument(input.PolicyDocument, 'permissions');
      const now = ctx.clock.now();
      const row: PolicyRow = {
        account: ctx.account,
        name: input.PolicyName,
        name_lc: input.PolicyName.toLowerCase(),
        policy_id: iamId('ANPA'),
        path,
        arn: `arn:aws:iam::${ctx.account}:policy${path}${input.PolicyName}`,
        description: input.Description ?? null,
        default_version: 1,
        next_version: 2,
        created_at: now,
        updated_at: now,
      };
      store.transaction(() => {
        store.insertPolicy(row, input.PolicyDocument);
        tags.add(row.arn, input.Tags);
      });
      return { Policy: { ...policyOut(ctx, fromRow(row), true), Description: undefined } };
    },

    GetPolicy(input, ctx) {
      return { Policy: policyOut(ctx, requirePolicy(store, ctx, input.PolicyArn), true) };
    },

    ListPolicies(input, ctx) {
      const scope = input.Scope ?? 'All';
      const prefix = input.PathPrefix ?? '/';
      const all: ManagedPolicy[] = [];
      if (scope !== 'Local') for (const p of AWS_MANAGED_POLICIES) if (p.path.startsWith(prefix)) all.push(fromAws(p));
      if (scope !== 'AWS') for (const row of store.allPolicies(ctx.account, prefix)) all.push(fromRow(row));
      const key = (p: ManagedPolicy) => `${p.name.toLowerCase()}\u0000${p.arn}`;
      const after = decodeMarker(input.Marker);
      const max = input.MaxItems ?? 100;
      const rows = all
        .filter((p) => key(p) > after && (!input.OnlyAttached || store.attachmentCount(ctx.account, p.arn) > 0))
        .sort((a, b) => (key(a) < key(b) ? -1 : 1));
      const page = pageOf(rows, key, max);
      return { Policies: page.items.map((p) => policyOut(ctx, p, false)), IsTruncated: page.IsTruncated, Marker: page.Marker };
    },

    /** DeleteConflict 409 while attached or while it has versions besides the default. */
    DeletePolicy(input, ctx) {
      const p = requireLocalPolicy(store, ctx, input.PolicyArn, 'DeletePolicy');
      if (store.attachmentCount(ctx.account, p.arn) > 0) throw deleteConflict('Cannot delete a policy attached to entities.');
      if (store.listVersions(p).length > 1)
        throw deleteConflict(
          "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.",
        );
      store.transaction(() => {
        store.deletePolicy(ctx.account, p.arn);
        env.tags.delete(p.arn);
      });
    },

    CreatePolicyVersion(input, ctx) {
      const p = requireLocalPolicy(store, ctx, input.PolicyArn, 'CreatePolicyVersion');
      checkPolicyDocument(input.PolicyDocument, 'permissions');
      if (store.listVersions(p).length >= MAX_VERSIONS)
        throw limitExceeded(
          `A managed policy can have up to ${MAX_VERSIONS} versions. Before you create a new version, you must delete an existing version.`,
        );
      const now = ctx.clock.now();
      const version = p.next_version;
      store.transaction(() => {
        store.insertVersion(p, version, input.PolicyDocument, now);
        store.setPolicyVersions(p, input.SetAsDefault ? version : p.default_version, version + 1, now);
      });
      return { PolicyVersion: { VersionId: `v${version}`, IsDefaultVersion: !!input.SetAsDefault, CreateDate: new Date(now) } };
    },

    GetPolicyVersion(input, ctx) {
      const { version } = versionOf(ctx, input.PolicyArn, input.VersionId);
      return { PolicyVersion: { ...version, Document: encodeDocument(version.Document) } };
    },

    ListPolicyVersions(input, ctx) {
      const p = requirePolicy(store, ctx, input.PolicyArn);
      const versions = p.aws
        ? [{ VersionId: p.defaultVersion, IsDefaultVersion: true, CreateDate: new Date(p.created) }]
        : store.listVersions(p.local!).map((v) => ({
            VersionId: `v${v.version}`,
            IsDefaultVersion: v.version === p.local!.default_version,
            CreateDate: new Date(v.created_at),
          }));
      const page = paginate(versions, input.Marker, input.MaxItems);
      return { Versions: page.items, IsTruncated: page.IsTruncated, Marker: page.Marker };
    },

    /** DeleteConflict 409 for the default version (it goes with DeletePolicy). */
    DeletePolicyVersion(input, ctx) {
      const p = requireLocalPolicy(store, ctx, input.PolicyArn, 'DeletePolicyVersion');
      const n = parseVersion(p.arn, input.VersionId);
      if (!store.getVersion(p, n)) throw noSuchEntity(`Policy ${p.arn} version ${input.VersionId} does not exist or is not attachable.`);
      if (n === p.default_version) throw deleteConflict('Cannot delete the default version of a policy.');
      store.deleteVersion(p, n);
    },

    SetDefaultPolicyVersion(input, ctx) {
      const p = requireLocalPolicy(store, ctx, input.PolicyArn, 'SetDefaultPolicyVersion');
      const n = parseVersion(p.arn, input.VersionId);
      if (!store.getVersion(p, n)) throw noSuchEntity(`Policy ${p.arn} version ${input.VersionId} does not exist or is not attachable.`);
      store.setPolicyVersions(p, n, p.next_version, ctx.clock.now());
    },

    TagPolicy(input, ctx) {
      const p = requireLocalPolicy(store, ctx, input.PolicyArn, 'TagPolicy');
      tags.add(p.arn, input.Tags);
    },

    UntagPolicy(input, ctx) {
      const p = requireLocalPolicy(store, ctx, input.PolicyArn, 'UntagPolicy');
      tags.remove(p.arn, input.TagKeys);
    },

    ListPolicyTags(input, ctx) {
      return tags.page(requirePolicy(store, ctx, input.PolicyArn).arn, input.Marker, input.MaxItems);
    },
  };
}
