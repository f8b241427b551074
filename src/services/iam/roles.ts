/**
 * Roles: lifecycle, trust policy, description/session duration, permissions boundary and tags.
 * Role documents are returned URL-encoded, like every policy document IAM returns.
 */
import type { ServiceEnv } from '../../gateway/service.js';
import { iamId } from '../../core/ids.js';
import type { Tag } from '../../core/tags.js';
import type { IamStore } from './store.js';
import type { IamHandlers } from './api.generated.js';
import {
  alreadyExists,
  boundaryOut,
  checkPolicyDocument,
  decodeMarker,
  deleteConflict,
  encodeDocument,
  entityTags,
  pageOf,
} from './common.js';
import { requireBoundaryPolicy } from './policies.js';
import type { RoleRow } from './store.js';

export const roleArn = (account: string, path: string, name: string) => `arn:aws:iam::${account}:role${path}${name}`;

/** The Role structure; `full` (with the role's tags) adds what only GetRole/CreateRole/UpdateRoleDescription return. */
export function roleOut(r: RoleRow, full?: { tags: Tag[] | undefined }) {
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
    Tags: full?.tags,
  };
}

export function roleHandlers(env: ServiceEnv, store: IamStore): IamHandlers {
  const tags = entityTags(env.tags, 'Role');
  const fullRoleOut = (r: RoleRow) => roleOut(r, { tags: tags.out(r.arn) });

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
        created_at: ctx.clock.now(),
      };
      store.transaction(() => {
        store.insertRole(row);
        tags.add(row.arn, input.Tags);
      });
      return { Role: fullRoleOut(row) };
    },

    GetRole(input, ctx) {
      return { Role: { ...fullRoleOut(store.requireRole(ctx.account, input.RoleName)), RoleLastUsed: {} } };
    },

    ListRoles(input, ctx) {
      const max = input.MaxItems ?? 100;
      const rows = store.listRoles(ctx.account, input.PathPrefix ?? '/', decodeMarker(input.Marker), max + 1);
      const page = pageOf(rows, (r) => r.name_lc, max);
      return { Roles: page.items.map((r) => roleOut(r)), IsTruncated: page.IsTruncated, Marker: page.Marker };
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
      return { Role: fullRoleOut(updated) };
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
      store.transaction(() => {
        store.deleteRole(ctx.account, r.name);
        env.tags.delete(r.arn);
      });
    },

    TagRole(input, ctx) {
      tags.add(store.requireRole(ctx.account, input.RoleName).arn, input.Tags);
    },

    UntagRole(input, ctx) {
      tags.remove(store.requireRole(ctx.account, input.RoleName).arn, input.TagKeys);
    },

    ListRoleTags(input, ctx) {
      return tags.page(store.requireRole(ctx.account, input.RoleName).arn, input.Marker, input.MaxItems);
    },
  };
}
