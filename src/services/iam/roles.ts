/**
 * Roles: lifecycle, trust policy, description/session duration, permissions boundary and tags.
 * Role documents are returned URL-encoded, like every policy document IAM returns.
 */
import { iamId } from '../../core/ids.js';
import type { RequestContext } from '../../gateway/context.js';
import type { IamHandlers } from './api.generated.js';
import {
  alreadyExists,
  boundaryOut,
  checkPolicyDocument,
  decodeMarker,
  deleteConflict,
  encodeDocument,
  mergeTags,
  pageOf,
  paginate,
  removeTags,
  tagsOut,
} from './common.js';
import type { IamDeps } from './deps.js';
import { requireBoundaryPolicy } from './policies.js';
import { parseTags, type RoleRow } from './store.js';

export const roleArn = (account: string, path: string, name: string) => `arn:aws:iam::${account}:role${path}${name}`;

/** The Role structure; `full` adds what only GetRole/CreateRole/UpdateRoleDescription return. */
export function roleOut(r: RoleRow, full = true) {
  return {
    Path: r.path,
    RoleName: r.name,
    RoleId: r.role_id,
    Arn: r.arn,
    CreateDate: new Date(r.created_at),
    AssumeRolePolicyDocument: encodeDocument(r.trust_policy),
    Description: r.description ?? undefined,
    MaxSessionDuration: r.max_session,
    PermissionsBoundary: full ? boundaryOut(r.boundary) : undefined,
    Tags: full ? tagsOut(parseTags(r.tags)) : undefined,
  };
}

export function roleHandlers({ store }: IamDeps): IamHandlers {
  const tagRole = (ctx: RequestContext, name: string, change: (tags: ReturnType<typeof parseTags>) => ReturnType<typeof parseTags>) => {
    const r = store.requireRole(ctx.account, name);
    store.setRoleTags(ctx.account, name, change(parseTags(r.tags)));
  };

  return {
    CreateRole(input, ctx) {
      const path = input.Path ?? '/';
      if (store.getRole(ctx.account, input.RoleName)) throw alreadyExists(`Role with name ${input.RoleName} already exists.`);
      checkPolicyDocument(input.AssumeRolePolicyDocument, 'trust');
      if (input.PermissionsBoundary) requireBoundaryPolicy(store, ctx, input.PermissionsBoundary);
      const row: RoleRow = {
        account: ctx.account,
        name: input.RoleName,
        name_lc: input.RoleName.toLowerCase(),
        role_id: iamId('AROA'),
        path,
        arn: roleArn(ctx.account, path, input.RoleName),
        trust_policy: input.AssumeRolePolicyDocument,
        description: input.Description ?? null,
        max_session: input.MaxSessionDuration ?? 3600,
        boundary: input.PermissionsBoundary ?? null,
        tags: JSON.stringify(mergeTags([], input.Tags, 'Role')),
        created_at: ctx.clock.now(),
      };
      store.insertRole(row);
      return { Role: roleOut(row) };
    },

    GetRole(input, ctx) {
      return { Role: { ...roleOut(store.requireRole(ctx.account, input.RoleName)), RoleLastUsed: {} } };
    },

    ListRoles(input, ctx) {
      const max = input.MaxItems ?? 100;
      const rows = store.listRoles(ctx.account, input.PathPrefix ?? '/', decodeMarker(input.Marker), max + 1);
      const page = pageOf(rows, (r) => r.name_lc, max);
      return { Roles: page.items.map((r) => roleOut(r, false)), IsTruncated: page.IsTruncated, Marker: page.Marker };
    },

    UpdateRole(input, ctx) {
      const r = store.requireRole(ctx.account, input.RoleName);
      store.updateRole({
        ...r,
        description: input.Description ?? r.description,
        max_session: input.MaxSessionDuration ?? r.max_session,
      });
      return {};
    },

    UpdateRoleDescription(input, ctx) {
      const r = store.requireRole(ctx.account, input.RoleName);
      const updated = { ...r, description: input.Description };
      store.updateRole(updated);
      return { Role: roleOut(updated) };
    },

    UpdateAssumeRolePolicy(input, ctx) {
      const r = store.requireRole(ctx.account, input.RoleName);
      checkPolicyDocument(input.PolicyDocument, 'trust');
      store.updateRole({ ...r, trust_policy: input.PolicyDocument });
    },

    PutRolePermissionsBoundary(input, ctx) {
      const r = store.requireRole(ctx.account, input.RoleName);
      requireBoundaryPolicy(store, ctx, input.PermissionsBoundary);
      store.updateRole({ ...r, boundary: input.PermissionsBoundary });
    },

    DeleteRolePermissionsBoundary(input, ctx) {
      const r = store.requireRole(ctx.account, input.RoleName);
      store.updateRole({ ...r, boundary: null });
    },

    /** DeleteConflict 409 while managed policies are attached, inline policies exist or an instance profile holds it. */
    DeleteRole(input, ctx) {
      const r = store.requireRole(ctx.account, input.RoleName);
      if (store.attachedTo(ctx.account, 'role', r.role_id).length)
        throw deleteConflict('Cannot delete entity, must detach all policies first.');
      if (store.listInline(ctx.account, 'role', r.role_id).length)
        throw deleteConflict('Cannot delete entity, must delete policies first.');
      if (store.profilesOfRole(r).length) throw deleteConflict('Cannot delete entity, must remove roles from instance profile first.');
      store.deleteRole(ctx.account, r.name);
    },

    TagRole(input, ctx) {
      tagRole(ctx, input.RoleName, (tags) => mergeTags(tags, input.Tags, 'Role'));
    },

    UntagRole(input, ctx) {
      tagRole(ctx, input.RoleName, (tags) => removeTags(tags, input.TagKeys));
    },

    ListRoleTags(input, ctx) {
      const r = store.requireRole(ctx.account, input.RoleName);
      const page = paginate(parseTags(r.tags), input.Marker, input.MaxItems);
      return { Tags: page.items, IsTruncated: page.IsTruncated, Marker: page.Marker };
    },
  };
}
