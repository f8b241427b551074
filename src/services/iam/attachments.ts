/**
 * Managed policy attachments to roles and users, and inline (embedded) role and user policies.
 * Both point at the entity's id; inline documents are returned URL-encoded as AWS does.
 */
import type { RequestContext } from '../../gateway/context.js';
import type { IamHandlers } from './api.generated.js';
import { checkPolicyDocument, encodeDocument, limitExceeded, noSuchEntity, paginate } from './common.js';
import { requireAttachablePolicy, requirePolicy, resolvePolicy } from './policies.js';
import type { EntityType, IamStore } from './store.js';

/** AWS's default quota of managed policies attached to one role or user. */
const MAX_ATTACHED = 10;

interface Entity {
  id: string;
  name: string;
}

function entityOf(store: IamStore, ctx: RequestContext, type: EntityType, name: string): Entity {
  if (type === 'role') {
    const r = store.requireRole(ctx.account, name);
    return { id: r.role_id, name: r.name };
  }
  const u = store.requireUser(ctx.account, name);
  return { id: u.user_id, name: u.name };
}

export function attachmentHandlers(store: IamStore): IamHandlers {
  function attach(ctx: RequestContext, type: EntityType, name: string, policyArn: string) {
    const e = entityOf(store, ctx, type, name);
    const p = requireAttachablePolicy(store, ctx, policyArn);
    const attached = store.attachedTo(ctx.account, type, e.id);
    if (attached.includes(p.arn)) return;
    if (attached.length >= MAX_ATTACHED)
      throw limitExceeded(`Cannot exceed quota for PoliciesPer${type === 'role' ? 'Role' : 'User'}: ${MAX_ATTACHED}`);
    store.attach(ctx.account, type, e.id, p.arn);
  }

  /** NoSuchEntity 404 "Policy X was not found." when it is not attached. */
  function detach(ctx: RequestContext, type: EntityType, name: string, policyArn: string) {
    const e = entityOf(store, ctx, type, name);
    if (!store.detach(ctx.account, type, e.id, policyArn)) throw noSuchEntity(`Policy ${policyArn} was not found.`);
  }

  function listAttached(
    ctx: RequestContext,
    type: EntityType,
    name: string,
    input: { PathPrefix?: string; Marker?: string; MaxItems?: number },
  ) {
    const e = entityOf(store, ctx, type, name);
    const prefix = input.PathPrefix ?? '/';
    const policies = store
      .attachedTo(ctx.account, type, e.id)
      .map((arn) => resolvePolicy(store, ctx, arn))
      .filter((p) => p && p.path.startsWith(prefix))
      .map((p) => ({ PolicyName: p!.name, PolicyArn: p!.arn }));
    const page = paginate(policies, input.Marker, input.MaxItems);
    return { AttachedPolicies: page.items, IsTruncated: page.IsTruncated, Marker: page.Marker };
  }

  function putInline(ctx: RequestContext, type: EntityType, name: string, policyName: string, document: string) {
    const e = entityOf(store, ctx, type, name);
    checkPolicyDocument(document, 'permissions');
    store.putInline(ctx.account, type, e.id, policyName, document);
  }

  /** NoSuchEntity 404 "The role policy with name X cannot be found." (or "user policy"). */
  function requireInline(ctx: RequestContext, type: EntityType, name: string, policyName: string) {
    const e = entityOf(store, ctx, type, name);
    const p = store.getInline(ctx.account, type, e.id, policyName);
    if (!p) throw noSuchEntity(`The ${type} policy with name ${policyName} cannot be found.`);
    return { e, p };
  }

  function listInline(ctx: RequestContext, type: EntityType, name: string, input: { Marker?: string; MaxItems?: number }) {
    const e = entityOf(store, ctx, type, name);
    const page = paginate(store.listInline(ctx.account, type, e.id), input.Marker, input.MaxItems);
    return { PolicyNames: page.items, IsTruncated: page.IsTruncated, Marker: page.Marker };
  }

  function deleteInline(ctx: RequestContext, type: EntityType, name: string, policyName: string) {
    const { e } = requireInline(ctx, type, name, policyName);
    store.deleteInline(ctx.account, type, e.id, policyName);
  }

  return {
    AttachRolePolicy: (input, ctx) => attach(ctx, 'role', input.RoleName, input.PolicyArn),
    AttachUserPolicy: (input, ctx) => attach(ctx, 'user', input.UserName, input.PolicyArn),
    DetachRolePolicy: (input, ctx) => detach(ctx, 'role', input.RoleName, input.PolicyArn),
    DetachUserPolicy: (input, ctx) => detach(ctx, 'user', input.UserName, input.PolicyArn),
    ListAttachedRolePolicies: (input, ctx) => listAttached(ctx, 'role', input.RoleName, input),
    ListAttachedUserPolicies: (input, ctx) => listAttached(ctx, 'user', input.UserName, input),

    ListEntitiesForPolicy(input, ctx) {
      const p = requirePolicy(store, ctx, input.PolicyArn);
      const prefix = input.PathPrefix ?? '/';
      const filter = input.EntityFilter;
      const PolicyRoles: { RoleName: string; RoleId: string }[] = [];
      const PolicyUsers: { UserName: string; UserId: string }[] = [];
      for (const a of store.attachedEntities(ctx.account, p.arn)) {
        if (a.entity_type === 'role' && (!filter || filter === 'Role')) {
          const r = store.roleById(a.entity_id);
          if (r && r.path.startsWith(prefix)) PolicyRoles.push({ RoleName: r.name, RoleId: r.role_id });
        } else if (a.entity_type === 'user' && (!filter || filter === 'User')) {
          const u = store.userById(a.entity_id);
          if (u && u.path.startsWith(prefix)) PolicyUsers.push({ UserName: u.name, UserId: u.user_id });
        }
      }
      return { PolicyGroups: [], PolicyUsers, PolicyRoles, IsTruncated: false };
    },

    PutRolePolicy: (input, ctx) => putInline(ctx, 'role', input.RoleName, input.PolicyName, input.PolicyDocument),
    PutUserPolicy: (input, ctx) => putInline(ctx, 'user', input.UserName, input.PolicyName, input.PolicyDocument),

    GetRolePolicy(input, ctx) {
      const { e, p } = requireInline(ctx, 'role', input.RoleName, input.PolicyName);
      return { RoleName: e.name, PolicyName: p.name, PolicyDocument: encodeDocument(p.document) };
    },
    GetUserPolicy(input, ctx) {
      const { e, p } = requireInline(ctx, 'user', input.UserName, input.PolicyName);
      return { UserName: e.name, PolicyName: p.name, PolicyDocument: encodeDocument(p.document) };
    },

    ListRolePolicies: (input, ctx) => listInline(ctx, 'role', input.RoleName, input),
    ListUserPolicies: (input, ctx) => listInline(ctx, 'user', input.UserName, input),
    DeleteRolePolicy: (input, ctx) => deleteInline(ctx, 'role', input.RoleName, input.PolicyName),
    DeleteUserPolicy: (input, ctx) => deleteInline(ctx, 'user', input.UserName, input.PolicyName),
  };
}
