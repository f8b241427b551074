/**
 * Users and their access keys. Keys live in core/credentials (source 'iam'), so the gateway
 * attributes requests signed with them to this account and user, and strict mode verifies them.
 * Renaming a user rewrites its keys' user name and ARN there too.
 */
import type { ServiceEnv } from '../../gateway/service.js';
import type { CredentialRecord } from '../../core/credentials.js';
import { AwsError } from '../../core/errors.js';
import { accessKeyId, iamId, secretKey } from '../../core/ids.js';
import type { Tag } from '../../core/tags.js';
import type { RequestContext } from '../../gateway/context.js';
import type { IamStore } from './store.js';
import type { IamHandlers } from './api.generated.js';
import {
  alreadyExists,
  boundaryOut,
  decodeMarker,
  deleteConflict,
  entityTags,
  limitExceeded,
  noSuchEntity,
  pageOf,
  paginate,
} from './common.js';
import { requireBoundaryPolicy } from './policies.js';
import type { UserRow } from './store.js';

const MAX_KEYS = 2;
/** What GetUser reports as the root user's creation date (opsbox has no account creation). */
const ROOT_CREATED = Date.UTC(2020, 0, 1);

export const userArn = (account: string, path: string, name: string) => `arn:aws:iam::${account}:user${path}${name}`;

/** The User structure; `full` (with the user's tags) adds what only GetUser/CreateUser return. */
function userOut(u: UserRow, full?: { tags: Tag[] | undefined }) {
  return {
    Path: u.path,
    UserName: u.name,
    UserId: u.user_id,
    Arn: u.arn,
    CreateDate: new Date(u.created_at),
    PermissionsBoundary: full ? boundaryOut(u.boundary) : undefined,
    Tags: full?.tags,
  };
}

const nonUser = () => new AwsError('ValidationError', 'Must specify userName when calling with non-User credentials', 400);

export function userHandlers(env: ServiceEnv, store: IamStore): IamHandlers {
  const { credentials } = env;
  const tags = entityTags(env.tags, 'User');
  const fullUserOut = (u: UserRow) => userOut(u, { tags: tags.out(u.arn) });

  /** The IAM user who signed the request, if an IAM user did. */
  function callerUser(ctx: RequestContext): UserRow | undefined {
    if (!ctx.caller.userId.startsWith('AIDA')) return undefined;
    const u = store.userById(ctx.caller.userId);
    return u && u.account === ctx.account ? u : undefined;
  }

  /** UserName if given, else the calling user; ValidationError for root or role sessions. */
  function targetUser(ctx: RequestContext, userName: string | undefined): UserRow {
    if (userName) return store.requireUser(ctx.account, userName);
    const u = callerUser(ctx);
    if (!u) throw nonUser();
    return u;
  }

  /** NoSuchEntity 404 "The Access Key with id X cannot be found." unless it is an IAM key of this account (and user). */
  function requireKey(ctx: RequestContext, id: string, userName?: string): CredentialRecord {
    const key = credentials.find(id);
    const user = userName ? store.requireUser(ctx.account, userName) : undefined;
    if (!key || key.source !== 'iam' || key.account !== ctx.account || (user && key.userName?.toLowerCase() !== user.name_lc))
      throw noSuchEntity(`The Access Key with id ${id} cannot be found.`);
    return key;
  }

  const keyOut = (k: CredentialRecord) => ({
    UserName: k.userName,
    AccessKeyId: k.accessKeyId,
    Status: k.status,
    CreateDate: new Date(k.createdAt),
  });

  return {
    CreateUser(input, ctx) {
      const path = input.Path ?? '/';
      if (store.getUser(ctx.account, input.UserName)) throw alreadyExists(`User with name ${input.UserName} already exists.`);
      if (input.PermissionsBoundary) requireBoundaryPolicy(store, ctx, input.PermissionsBoundary);
      const row: UserRow = {
        account: ctx.account,
        name: input.UserName,
        name_lc: input.UserName.toLowerCase(),
        user_id: iamId('AIDA'),
        path,
        arn: userArn(ctx.account, path, input.UserName),
        boundary: input.PermissionsBoundary ?? null,
        created_at: ctx.clock.now(),
      };
      store.transaction(() => {
        store.insertUser(row);
        tags.add(row.arn, input.Tags);
      });
      return { User: fullUserOut(row) };
    },

    /** Without UserName: the caller; for the root user AWS answers with the root's id and ARN only. */
    GetUser(input, ctx) {
      if (input.UserName) return { User: fullUserOut(store.requireUser(ctx.account, input.UserName)) };
      const u = callerUser(ctx);
      if (u) return { User: fullUserOut(u) };
      if (ctx.caller.arn.endsWith(':root'))
        return { User: { UserId: ctx.account, Arn: `arn:aws:iam::${ctx.account}:root`, CreateDate: new Date(ROOT_CREATED) } };
      throw nonUser();
    },

    ListUsers(input, ctx) {
      const max = input.MaxItems ?? 100;
      const rows = store.listUsers(ctx.account, input.PathPrefix ?? '/', decodeMarker(input.Marker), max + 1);
      const page = pageOf(rows, (u) => u.name_lc, max);
      return { Users: page.items.map((u) => userOut(u)), IsTruncated: page.IsTruncated, Marker: page.Marker };
    },

    UpdateUser(input, ctx) {
      const u = store.requireUser(ctx.account, input.UserName);
      const name = input.NewUserName ?? u.name;
      const path = input.NewPath ?? u.path;
      if (name.toLowerCase() !== u.name_lc && store.getUser(ctx.account, name))
        throw alreadyExists(`User with name ${name} already exists.`);
      const arn = userArn(ctx.account, path, name);
      store.transaction(() => {
        store.renameUser(u, name, path, arn);
        env.tags.move(u.arn, arn);
        for (const k of credentials.listForUser(ctx.account, u.name)) credentials.put({ ...k, userName: name, arn });
      });
    },

    /** DeleteConflict 409 while the user has access keys, inline policies or attached policies. */
    DeleteUser(input, ctx) {
      const u = store.requireUser(ctx.account, input.UserName);
      if (credentials.listForUser(ctx.account, u.name).length) throw deleteConflict('Cannot delete entity, must delete access keys first.');
      if (store.listInline(ctx.account, 'user', u.user_id).length)
        throw deleteConflict('Cannot delete entity, must delete policies first.');
      if (store.attachedTo(ctx.account, 'user', u.user_id).length)
        throw deleteConflict('Cannot delete entity, must detach all policies first.');
      store.transaction(() => {
        store.deleteUser(ctx.account, u.name);
        env.tags.delete(u.arn);
      });
    },

    PutUserPermissionsBoundary(input, ctx) {
      store.requireUser(ctx.account, input.UserName);
      requireBoundaryPolicy(store, ctx, input.PermissionsBoundary);
      store.setUserBoundary(ctx.account, input.UserName, input.PermissionsBoundary);
    },

    DeleteUserPermissionsBoundary(input, ctx) {
      store.requireUser(ctx.account, input.UserName);
      store.setUserBoundary(ctx.account, input.UserName, null);
    },

    TagUser(input, ctx) {
      tags.add(store.requireUser(ctx.account, input.UserName).arn, input.Tags);
    },

    UntagUser(input, ctx) {
      tags.remove(store.requireUser(ctx.account, input.UserName).arn, input.TagKeys);
    },

    ListUserTags(input, ctx) {
      return tags.page(store.requireUser(ctx.account, input.UserName).arn, input.Marker, input.MaxItems);
    },

    /** LimitExceeded 409 "Cannot exceed quota for AccessKeysPerUser: 2". */
    CreateAccessKey(input, ctx) {
      const u = targetUser(ctx, input.UserName);
      if (credentials.listForUser(ctx.account, u.name).length >= MAX_KEYS)
        throw limitExceeded(`Cannot exceed quota for AccessKeysPerUser: ${MAX_KEYS}`);
      const rec: CredentialRecord = {
        accessKeyId: accessKeyId('AKIA'),
        secretAccessKey: secretKey(),
        account: ctx.account,
        arn: u.arn,
        userId: u.user_id,
        userName: u.name,
        status: 'Active',
        createdAt: ctx.clock.now(),
        source: 'iam',
      };
      credentials.put(rec);
      return { AccessKey: { ...keyOut(rec), SecretAccessKey: rec.secretAccessKey } };
    },

    /** Root without UserName: opsbox keeps no root access keys beyond the configured one, so the list is empty. */
    ListAccessKeys(input, ctx) {
      const u = input.UserName ? store.requireUser(ctx.account, input.UserName) : callerUser(ctx);
      if (!u && !ctx.caller.arn.endsWith(':root')) throw nonUser();
      const keys = u ? credentials.listForUser(ctx.account, u.name).map(keyOut) : [];
      const page = paginate(keys, input.Marker, input.MaxItems);
      return { AccessKeyMetadata: page.items, IsTruncated: page.IsTruncated, Marker: page.Marker };
    },

    UpdateAccessKey(input, ctx) {
      const key = requireKey(ctx, input.AccessKeyId, input.UserName);
      credentials.setStatus(key.accessKeyId, input.Status as 'Active' | 'Inactive');
    },

    DeleteAccessKey(input, ctx) {
      const key = requireKey(ctx, input.AccessKeyId, input.UserName);
      credentials.delete(key.accessKeyId);
    },

    /** opsbox does not track key usage yet: every key reads as never used (AWS's "N/A"). */
    GetAccessKeyLastUsed(input, ctx) {
      const key = requireKey(ctx, input.AccessKeyId);
      return { UserName: key.userName, AccessKeyLastUsed: { ServiceName: 'N/A', Region: 'N/A' } };
    },
  };
}
