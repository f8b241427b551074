/**
 * Event buses (CreateEventBus, DescribeEventBus, ListEventBuses, DeleteEventBus) and tags on buses
 * and rules (TagResource, UntagResource, ListTagsForResource). The default bus always exists.
 */
import { requireOwnArn } from '../../core/arn.js';
import { AwsError } from '../../core/errors.js';
import type { RequestContext } from '../../gateway/context.js';
import type { EventsHandlers } from './api.generated.js';
import type { EventsEngine } from './engine.js';
import { busArn, busName, type EventsStore } from './store.js';
import { decodeToken as decodeCursor, keysetPage } from '../../core/pagination.js';

/** Opaque list tokens carry the last name (or target id) returned; pages are core's keysetPage. */
export const decodeToken = (token: string | undefined): string =>
  token ? decodeCursor(token, () => new AwsError('ValidationException', 'The NextToken provided is invalid.', 400)) : '';

const tagList = (json: string) => Object.entries(JSON.parse(json) as Record<string, string>).map(([Key, Value]) => ({ Key, Value }));

export function busHandlers(store: EventsStore, engine: EventsEngine): EventsHandlers {
  /** The bus or rule an ARN names, for the tag operations. */
  function resource(arn: string, ctx: RequestContext) {
    const scope = { account: ctx.account, region: ctx.region };
    const p = requireOwnArn(arn, scope, () => new AwsError('ResourceNotFoundException', `Resource ${arn} does not exist.`, 400));
    if (p?.service === 'events' && p.resource.startsWith('event-bus/')) {
      const name = p.resource.slice('event-bus/'.length);
      return { kind: 'bus' as const, bus: store.requireBus(scope, name, ctx.clock.now()) };
    }
    if (p?.service === 'events' && p.resource.startsWith('rule/')) {
      const parts = p.resource.slice('rule/'.length).split('/');
      const [bus, name] = parts.length > 1 ? [parts[0], parts.slice(1).join('/')] : ['default', parts[0]];
      return { kind: 'rule' as const, rule: store.requireRule(scope, bus, name) };
    }
    throw new AwsError('ValidationException', `Parameter ResourceARN is not valid. Reason: Provided Arn is not in correct format.`, 400);
  }

  function setTags(arn: string, ctx: RequestContext, change: (tags: Record<string, string>) => void) {
    const r = resource(arn, ctx);
    const tags = JSON.parse(r.kind === 'bus' ? r.bus.tags : r.rule.tags) as Record<string, string>;
    change(tags);
    if (Object.keys(tags).length > 50)
      throw new AwsError('LimitExceededException', 'The requested resource exceeds the maximum number allowed.', 400);
    if (r.kind === 'bus') store.setBusTags(r.bus, tags);
    else store.setRuleTags(r.rule.id, tags);
  }

  return {
    CreateEventBus(input, ctx) {
      const name = input.Name;
      if (!input.EventSourceName && name.includes('/'))
        throw new AwsError('ValidationException', "Event bus name must not contain '/'.", 400);
      store.ensureDefault(ctx, ctx.clock.now());
      const tags = Object.fromEntries((input.Tags ?? []).map((t) => [t.Key, t.Value]));
      if (!store.createBus(ctx, name, input.Description, ctx.clock.now(), tags))
        throw new AwsError('ResourceAlreadyExistsException', `Event bus ${name} already exists.`, 400);
      return { EventBusArn: busArn(ctx, name), Description: input.Description };
    },

    DescribeEventBus(input, ctx) {
      const b = store.requireBus(ctx, busName(input.Name, ctx), ctx.clock.now());
      return {
        Name: b.name,
        Arn: busArn(ctx, b.name),
        Description: b.description ?? undefined,
        CreationTime: new Date(b.created),
        LastModifiedTime: new Date(b.modified),
      };
    },

    ListEventBuses(input, ctx) {
      store.ensureDefault(ctx, ctx.clock.now());
      const limit = input.Limit ?? 100;
      const rows = store.listBuses(ctx, input.NamePrefix, decodeToken(input.NextToken), limit + 1);
      const { items, next } = keysetPage(rows, limit, (b) => b.name);
      return {
        EventBuses: items.map((b) => ({
          Name: b.name,
          Arn: busArn(ctx, b.name),
          Description: b.description ?? undefined,
          CreationTime: new Date(b.created),
          LastModifiedTime: new Date(b.modified),
        })),
        NextToken: next,
      };
    },

    UpdateEventBus(input, ctx) {
      const b = store.requireBus(ctx, busName(input.Name, ctx), ctx.clock.now());
      const description = input.Description !== undefined ? input.Description : b.description;
      store.updateBus(b, description ?? null, ctx.clock.now());
      return { Arn: busArn(ctx, b.name), Name: b.name, Description: description ?? undefined };
    },

    DeleteEventBus(input, ctx) {
      const name = busName(input.Name, ctx);
      if (name === 'default') throw new AwsError('ValidationException', 'Cannot delete event bus default.', 400);
      for (const r of store.busRules(ctx, name)) engine.reschedule(r.id, undefined);
      store.deleteBus(ctx, name);
      engine.invalidate(ctx.account, ctx.region, name);
    },

    TagResource(input, ctx) {
      setTags(input.ResourceARN, ctx, (tags) => {
        for (const t of input.Tags) tags[t.Key] = t.Value;
      });
      return {};
    },

    UntagResource(input, ctx) {
      setTags(input.ResourceARN, ctx, (tags) => {
        for (const k of input.TagKeys) delete tags[k];
      });
      return {};
    },

    ListTagsForResource(input, ctx) {
      const r = resource(input.ResourceARN, ctx);
      return { Tags: tagList(r.kind === 'bus' ? r.bus.tags : r.rule.tags) };
    },
  };
}
