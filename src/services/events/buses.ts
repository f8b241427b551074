/**
 * Event buses (CreateEventBus, DescribeEventBus, ListEventBuses, DeleteEventBus) and tags on buses
 * and rules (TagResource, UntagResource, ListTagsForResource). The default bus always exists.
 */
import { requireOwnArn } from '../../core/arn.js';
import { AwsError } from '../../core/errors.js';
import type { RequestContext } from '../../gateway/context.js';
import type { EventsHandlers } from './api.generated.js';
import type { EventsEngine } from './engine.js';
import { busArn, busName, ruleArn, type EventsStore } from './store.js';
import { decodeToken as decodeCursor, keysetPage } from '../../core/pagination.js';
import { tagMapOf, type Tag, type TagRules, type Tags } from '../../core/tags.js';

/** Opaque list tokens carry the last name (or target id) returned; pages are core's keysetPage. */
export const decodeToken = (token: string | undefined): string =>
  token ? decodeCursor(token, () => new AwsError('ValidationException', 'The NextToken provided is invalid.', 400)) : '';

/** EventBridge's errors for tags that break the rules (lengths are the model's, checked before). */
export const tagRules: TagRules = {
  errors: (p) =>
    p.kind === 'tooMany'
      ? new AwsError('LimitExceededException', 'The requested resource exceeds the maximum number allowed.', 400)
      : new AwsError(
          'ValidationException',
          `Parameter Tags is not valid. Reason: ${
            p.kind === 'reservedKey'
              ? `Tag key ${p.key} must not begin with aws:.`
              : p.kind === 'duplicateKey'
                ? `Tag key ${p.key} is given more than once.`
                : 'Tag keys must be 1 to 128 characters and values at most 256.'
          }`,
          400,
        ),
};

/** A create's Tags, as the map tags.add takes. */
export const tagsOf = (list: readonly Tag[] | undefined) => tagMapOf(list ?? [], tagRules.errors);

export function busHandlers(store: EventsStore, engine: EventsEngine, tags: Tags): EventsHandlers {
  /** The ARN (as busArn / ruleArn give it) of the bus or rule an ARN names, for the tag operations. */
  function resource(arn: string, ctx: RequestContext): string {
    const scope = { account: ctx.account, region: ctx.region };
    const p = requireOwnArn(arn, scope, () => new AwsError('ResourceNotFoundException', `Resource ${arn} does not exist.`, 400));
    if (p?.service === 'events' && p.resource.startsWith('event-bus/')) {
      const name = p.resource.slice('event-bus/'.length);
      return busArn(scope, store.requireBus(scope, name, ctx.clock.now()).name);
    }
    if (p?.service === 'events' && p.resource.startsWith('rule/')) {
      const parts = p.resource.slice('rule/'.length).split('/');
      const [bus, name] = parts.length > 1 ? [parts[0], parts.slice(1).join('/')] : ['default', parts[0]];
      return ruleArn(store.requireRule(scope, bus, name));
    }
    throw new AwsError('ValidationException', `Parameter ResourceARN is not valid. Reason: Provided Arn is not in correct format.`, 400);
  }

  return {
    CreateEventBus(input, ctx) {
      const name = input.Name;
      if (!input.EventSourceName && name.includes('/'))
        throw new AwsError('ValidationException', "Event bus name must not contain '/'.", 400);
      store.ensureDefault(ctx, ctx.clock.now());
      store.transaction(() => {
        if (!store.createBus(ctx, name, input.Description, ctx.clock.now()))
          throw new AwsError('ResourceAlreadyExistsException', `Event bus ${name} already exists.`, 400);
        tags.add(busArn(ctx, name), tagsOf(input.Tags), tagRules);
      });
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
      const rules = store.busRules(ctx, name);
      for (const r of rules) engine.reschedule(r.id, undefined);
      store.transaction(() => {
        store.deleteBus(ctx, name);
        for (const r of rules) tags.delete(ruleArn(r));
        tags.delete(busArn(ctx, name));
      });
      engine.invalidate(ctx.account, ctx.region, name);
    },

    TagResource(input, ctx) {
      tags.add(resource(input.ResourceARN, ctx), tagsOf(input.Tags), tagRules);
      return {};
    },

    UntagResource(input, ctx) {
      tags.remove(resource(input.ResourceARN, ctx), input.TagKeys);
      return {};
    },

    ListTagsForResource(input, ctx) {
      return { Tags: tags.list(resource(input.ResourceARN, ctx)) };
    },
  };
}
