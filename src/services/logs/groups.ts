/**
 * Log groups: create, describe, delete, retention, and tags (both the legacy *LogGroup tag
 * operations and the ARN-based TagResource family). Also the ARN helpers the other files share.
 */
import { arn, parseArn, type Scope } from '../../core/arn.js';
import { AwsError } from '../../core/errors.js';
import type { RequestContext } from '../../gateway/context.js';
import type { LogsHandlers } from './api.generated.js';
import type { GroupRow, LogsStore } from './store.js';
import { checkTags, type TagRules, type Tags } from '../../core/tags.js';
import { decodeToken as decodeCursor, encodeToken, keysetPage } from '../../core/pagination.js';

/** The values PutRetentionPolicy accepts (AWS's enum for retentionInDays). */
export const RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];
const DAY = 86_400_000;

/** `logGroupArn`; DescribeLogGroups' `arn` is this plus ":*". */
export const groupArn = (scope: Scope, name: string) => arn('logs', scope, `log-group:${name}`);
export const streamArn = (scope: Scope, group: string, stream: string) => arn('logs', scope, `log-group:${group}:log-stream:${stream}`);

/** Oldest timestamp a group still keeps (its retention), or 0. */
export const retentionFloor = (g: GroupRow, now: number) => (g.retention ? now - g.retention * DAY : 0);

/** A group name from a name or an ARN (with or without the trailing ":*"), in the caller's scope. */
function nameFromIdentifier(scope: Scope, identifier: string): string | undefined {
  if (!identifier.startsWith('arn:')) return identifier;
  const a = parseArn(identifier);
  if (!a || a.service !== 'logs' || !a.resource.startsWith('log-group:')) return undefined;
  if (a.account !== scope.account || a.region !== scope.region) return undefined;
  return a.resource.slice('log-group:'.length).replace(/:\*$/, '');
}

/**
 * The group named by logGroupName or logGroupIdentifier (exactly one of them).
 * InvalidParameterException when both or neither are given; ResourceNotFoundException when missing.
 */
export function resolveGroup(
  store: LogsStore,
  ctx: RequestContext,
  input: { logGroupName?: string; logGroupIdentifier?: string },
): GroupRow {
  if (input.logGroupName !== undefined && input.logGroupIdentifier !== undefined)
    throw new AwsError('InvalidParameterException', 'LogGroup name and LogGroup ARN are mutually exclusive parameters.', 400);
  const id = input.logGroupName ?? input.logGroupIdentifier;
  if (id === undefined) throw new AwsError('InvalidParameterException', 'Should provide either name or ARN of the log group.', 400);
  const name = input.logGroupName ?? nameFromIdentifier(ctx, id);
  if (name === undefined) throw new AwsError('ResourceNotFoundException', 'The specified log group does not exist.', 400);
  return store.requireGroup(ctx, name);
}

/** The group a TagResource-family ARN names; only log groups carry tags here. */
function groupOfArn(store: LogsStore, ctx: RequestContext, resourceArn: string): GroupRow {
  const a = parseArn(resourceArn);
  const name = a?.resource.startsWith('log-group:') ? nameFromIdentifier(ctx, resourceArn) : undefined;
  if (!a || a.service !== 'logs' || name === undefined)
    throw new AwsError('ResourceNotFoundException', `The specified resource does not exist.`, 400);
  return store.requireGroup(ctx, name);
}

const tagRules = (resourceName: string): TagRules => ({
  errors: (p) =>
    p.kind === 'tooMany'
      ? new AwsError('TooManyTagsException', `A resource can have no more than ${p.limit} tags.`, 400, { resourceName })
      : new AwsError(
          'InvalidParameterException',
          p.kind === 'reservedKey' ? 'Tag keys cannot start with aws:' : 'The tags are not valid.',
          400,
        ),
});

const decodeToken = (token: string) =>
  decodeCursor(token, () => new AwsError('InvalidParameterException', 'The specified nextToken is invalid.', 400));
export { decodeToken, encodeToken };

export function groupHandlers(store: LogsStore, tags: Tags): LogsHandlers {
  const tagsOf = (ctx: Scope, g: GroupRow) => groupArn(ctx, g.name);
  return {
    CreateLogGroup(input, ctx) {
      if (store.findGroup(ctx, input.logGroupName))
        // {"__type":"ResourceAlreadyExistsException","message":"The specified log group already exists"}
        throw new AwsError('ResourceAlreadyExistsException', 'The specified log group already exists', 400);
      checkTags(input.tags ?? {}, tagRules(input.logGroupName));
      store.transaction(() => {
        store.createGroup(ctx, input.logGroupName, ctx.clock.now(), input.logGroupClass ?? 'STANDARD', input.kmsKeyId);
        tags.add(groupArn(ctx, input.logGroupName), input.tags ?? {}, tagRules(input.logGroupName));
      });
    },

    DescribeLogGroups(input, ctx) {
      if (input.logGroupNamePrefix !== undefined && input.logGroupNamePattern !== undefined)
        throw new AwsError(
          'InvalidParameterException',
          'LogGroupNamePrefix and LogGroupNamePattern are mutually exclusive parameters.',
          400,
        );
      const limit = input.limit ?? 50;
      const rows = store.listGroups(ctx, {
        after: input.nextToken !== undefined ? decodeToken(input.nextToken) : undefined,
        prefix: input.logGroupNamePrefix,
        pattern: input.logGroupNamePattern,
        cls: input.logGroupClass,
        limit,
      });
      const { items, next } = keysetPage(rows, limit, (g) => g.name);
      return {
        logGroups: items.map((g) => ({
          logGroupName: g.name,
          creationTime: g.created,
          retentionInDays: g.retention ?? undefined,
          metricFilterCount: 0,
          arn: `${groupArn(ctx, g.name)}:*`,
          storedBytes: g.stored_bytes,
          kmsKeyId: g.kms ?? undefined,
          logGroupClass: g.class,
          logGroupArn: groupArn(ctx, g.name),
        })),
        nextToken: next,
      };
    },

    DeleteLogGroup(input, ctx) {
      store.transaction(() => {
        store.deleteGroup(store.requireGroup(ctx, input.logGroupName).id);
        tags.delete(groupArn(ctx, input.logGroupName));
      });
    },

    PutRetentionPolicy(input, ctx) {
      if (!RETENTION_DAYS.includes(input.retentionInDays))
        throw new AwsError(
          'InvalidParameterException',
          `1 validation error detected: Value '${input.retentionInDays}' at 'retentionInDays' failed to satisfy constraint: Member must satisfy enum value set: [${RETENTION_DAYS.join(', ')}]`,
          400,
        );
      store.setRetention(store.requireGroup(ctx, input.logGroupName).id, input.retentionInDays);
    },

    DeleteRetentionPolicy(input, ctx) {
      store.setRetention(store.requireGroup(ctx, input.logGroupName).id, null);
    },

    TagLogGroup(input, ctx) {
      const g = store.requireGroup(ctx, input.logGroupName);
      tags.add(tagsOf(ctx, g), input.tags, tagRules(g.name));
    },

    UntagLogGroup(input, ctx) {
      tags.remove(tagsOf(ctx, store.requireGroup(ctx, input.logGroupName)), input.tags);
    },

    ListTagsLogGroup(input, ctx) {
      return { tags: tags.get(tagsOf(ctx, store.requireGroup(ctx, input.logGroupName))) };
    },

    TagResource(input, ctx) {
      const g = groupOfArn(store, ctx, input.resourceArn);
      tags.add(tagsOf(ctx, g), input.tags, tagRules(g.name));
    },

    UntagResource(input, ctx) {
      tags.remove(tagsOf(ctx, groupOfArn(store, ctx, input.resourceArn)), input.tagKeys);
    },

    ListTagsForResource(input, ctx) {
      return { tags: tags.get(tagsOf(ctx, groupOfArn(store, ctx, input.resourceArn))) };
    },
  };
}
