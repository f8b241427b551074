/**
 * Groups: named filter expressions (CreateGroup … DeleteGroup, GetGroups with the built-in
 * "Default" group), which GetServiceGraph, GetTimeSeriesServiceStatistics and the group.name /
 * group.arn keywords read; and the tags of groups and sampling rules (TagResource, UntagResource,
 * ListTagsForResource through env.tags).
 */
import type { Scope } from '../../core/arn.js';
import { AwsError } from '../../core/errors.js';
import { randomString } from '../../core/ids.js';
import { pageByOffset } from '../../core/pagination.js';
import type { Tags, TagRules } from '../../core/tags.js';
import type { Group, XrayHandlers } from './api.generated.js';
import { compileFilterExpression, FilterExpressionError, parseFilterExpression, type GroupLookup } from './filterExpression.js';
import type { XrayStore } from './store.js';

export const invalidRequest = (message: string) => new AwsError('InvalidRequestException', message, 400);

const tagRules: TagRules = {
  errors: (p) =>
    p.kind === 'tooMany'
      ? new AwsError('TooManyTagsException', `The resource can have at most ${p.limit} tags.`, 400)
      : invalidRequest(p.kind === 'reservedKey' ? 'Tag keys starting with aws: are reserved.' : 'The tags are not valid.'),
};

interface GroupRow {
  name: string;
  arn: string;
  filter: string | null;
  insights: number;
  notifications: number;
}

/** Checks an expression as AWS does on the way in: InvalidRequestException naming what is wrong. */
export function checkExpression(src: string) {
  try {
    return parseFilterExpression(src);
  } catch (e) {
    if (e instanceof FilterExpressionError) throw invalidRequest(`Invalid filter expression: ${e.message}`);
    throw e;
  }
}

export function createGroups(store: XrayStore, tags: Tags) {
  const db = store.db;
  const q = {
    get: db.prepare('SELECT * FROM xray_groups WHERE account = ? AND region = ? AND name = ?'),
    byArn: db.prepare('SELECT * FROM xray_groups WHERE account = ? AND region = ? AND arn = ?'),
    list: db.prepare('SELECT * FROM xray_groups WHERE account = ? AND region = ? ORDER BY name'),
    insert: db.prepare(
      'INSERT INTO xray_groups (account, region, name, arn, filter, insights, notifications) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
    update: db.prepare('UPDATE xray_groups SET filter = ?, insights = ?, notifications = ? WHERE account = ? AND region = ? AND name = ?'),
    remove: db.prepare('DELETE FROM xray_groups WHERE account = ? AND region = ? AND name = ?'),
  };
  const defaultGroup = (scope: Scope): GroupRow => ({
    name: 'Default',
    arn: `arn:aws:xray:${scope.region}:${scope.account}:group/Default`,
    filter: null,
    insights: 0,
    notifications: 0,
  });
  const out = (g: GroupRow): Group => ({
    GroupName: g.name,
    GroupARN: g.arn,
    FilterExpression: g.filter ?? undefined,
    InsightsConfiguration: { InsightsEnabled: g.insights === 1, NotificationsEnabled: g.notifications === 1 },
  });

  function find(scope: Scope, name?: string, arn?: string): GroupRow | undefined {
    if (name === 'Default' || arn === defaultGroup(scope).arn) return defaultGroup(scope);
    if (name !== undefined) return q.get.get(scope.account, scope.region, name) as GroupRow | undefined;
    if (arn !== undefined) return q.byArn.get(scope.account, scope.region, arn) as GroupRow | undefined;
    return undefined;
  }

  /** The group named by name or ARN; InvalidRequestException "Group not found" otherwise. */
  function requireGroup(scope: Scope, name?: string, arn?: string): GroupRow {
    if (name === undefined && arn === undefined) throw invalidRequest('Either GroupName or GroupARN must be specified');
    const g = find(scope, name, arn);
    if (!g) throw invalidRequest('Group not found');
    return g;
  }

  /** group.name / group.arn resolution for filter expressions. */
  const lookup =
    (scope: Scope): GroupLookup =>
    (by, value) => {
      const g = by === 'name' ? find(scope, value) : find(scope, undefined, value);
      if (!g) return undefined;
      return g.filter ? parseFilterExpression(g.filter) : 'all';
    };

  /** A group's traces predicate (undefined: every trace, the Default group). */
  function groupFilter(scope: Scope, name?: string, arn?: string) {
    if (name === undefined && arn === undefined) return undefined;
    const g = requireGroup(scope, name, arn);
    return g.filter ? compileFilterExpression(g.filter, lookup(scope)) : undefined;
  }

  const handlers: XrayHandlers = {
    CreateGroup(input, ctx) {
      if (input.GroupName === 'Default' || find(ctx, input.GroupName)) throw invalidRequest('Group already exists');
      if (input.FilterExpression !== undefined) checkExpression(input.FilterExpression);
      const arn = `arn:aws:xray:${ctx.region}:${ctx.account}:group/${input.GroupName}/${randomString(26)}`;
      const ic = input.InsightsConfiguration;
      store.transaction(() => {
        q.insert.run(
          ctx.account,
          ctx.region,
          input.GroupName,
          arn,
          input.FilterExpression ?? null,
          ic?.InsightsEnabled ? 1 : 0,
          ic?.NotificationsEnabled ? 1 : 0,
        );
        if (input.Tags?.length) tags.add(arn, Object.fromEntries(input.Tags.map((t) => [t.Key, t.Value])), tagRules);
      });
      return { Group: out(find(ctx, input.GroupName)!) };
    },

    GetGroup(input, ctx) {
      return { Group: out(requireGroup(ctx, input.GroupName, input.GroupARN)) };
    },

    GetGroups(input, ctx) {
      const all = [defaultGroup(ctx), ...(q.list.all(ctx.account, ctx.region) as GroupRow[])];
      const page = pageByOffset(all, input.NextToken, 100, () => invalidRequest('Invalid NextToken'));
      return { Groups: page.items.map(out), NextToken: page.nextToken };
    },

    UpdateGroup(input, ctx) {
      const g = requireGroup(ctx, input.GroupName, input.GroupARN);
      if (g.name === 'Default' && input.FilterExpression !== undefined)
        throw invalidRequest('The Default group cannot have a filter expression');
      if (input.FilterExpression !== undefined) checkExpression(input.FilterExpression);
      const ic = input.InsightsConfiguration;
      const filter = input.FilterExpression ?? g.filter;
      const insights = ic?.InsightsEnabled !== undefined ? (ic.InsightsEnabled ? 1 : 0) : g.insights;
      const notifications = ic?.NotificationsEnabled !== undefined ? (ic.NotificationsEnabled ? 1 : 0) : g.notifications;
      if (g.name !== 'Default') q.update.run(filter, insights, notifications, ctx.account, ctx.region, g.name);
      return { Group: out({ ...g, filter, insights, notifications }) };
    },

    DeleteGroup(input, ctx) {
      const g = requireGroup(ctx, input.GroupName, input.GroupARN);
      if (g.name === 'Default') throw invalidRequest('The Default group cannot be deleted');
      store.transaction(() => {
        q.remove.run(ctx.account, ctx.region, g.name);
        tags.delete(g.arn);
      });
      return {};
    },
  };

  const exists = (scope: Scope, arn: string) => find(scope, undefined, arn) !== undefined;

  return { handlers, requireGroup, groupFilter, lookup, exists };
}

export type Groups = ReturnType<typeof createGroups>;

/** TagResource / UntagResource / ListTagsForResource over groups and sampling rules. */
export function tagHandlers(tags: Tags, exists: (scope: Scope, arn: string) => boolean): XrayHandlers {
  const require = (scope: Scope, arn: string) => {
    if (!exists(scope, arn)) throw new AwsError('ResourceNotFoundException', `Resource ${arn} not found`, 404, { ResourceName: arn });
  };
  return {
    TagResource(input, ctx) {
      require(ctx, input.ResourceARN);
      tags.add(input.ResourceARN, Object.fromEntries(input.Tags.map((t) => [t.Key, t.Value])), tagRules);
      return {};
    },
    UntagResource(input, ctx) {
      require(ctx, input.ResourceARN);
      tags.remove(input.ResourceARN, input.TagKeys, tagRules);
      return {};
    },
    ListTagsForResource(input, ctx) {
      require(ctx, input.ResourceARN);
      return { Tags: tags.list(input.ResourceARN) };
    },
  };
}

export { tagRules };
