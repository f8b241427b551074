/**
 * Rules: PutRule, DescribeRule, ListRules, DeleteRule, EnableRule, DisableRule,
 * ListRuleNamesByTarget, TestEventPattern. Every change tells the engine to recompile the bus's
 * route and re-read the rule's schedule.
 */
import { AwsError } from '../../core/errors.js';
import { keysetPage } from '../../core/pagination.js';
import type { RequestContext } from '../../gateway/context.js';
import type { EventsHandlers } from './api.generated.js';
import { decodeToken, tagRules, tagsOf } from './buses.js';
import type { EventsEngine } from './engine.js';
import { compilePattern, EventPatternError } from './pattern.js';
import { parseSchedule, ScheduleError } from './schedule.js';
import { busName, ruleArn, type EventsStore, type RuleRow } from './store.js';
import type { Tags } from '../../core/tags.js';

/** InvalidEventPatternException "Event pattern is not valid. Reason: …" */
export function requirePattern(text: string) {
  try {
    return compilePattern(text);
  } catch (e) {
    if (e instanceof EventPatternError) throw new AwsError('InvalidEventPatternException', e.message, 400);
    throw e;
  }
}

const describe = (r: RuleRow) => ({
  Name: r.name,
  Arn: ruleArn(r),
  EventPattern: r.pattern ?? undefined,
  ScheduleExpression: r.schedule ?? undefined,
  State: r.state,
  Description: r.description ?? undefined,
  RoleArn: r.role_arn ?? undefined,
  ManagedBy: r.managed_by ?? undefined,
  EventBusName: r.bus,
});

/** TestEventPattern: the event must carry these fields (AWS's docs add `resources`, but AWS does not insist on it). */
const EVENT_FIELDS = ['id', 'account', 'source', 'time', 'region', 'detail-type'];

export function ruleHandlers(store: EventsStore, engine: EventsEngine, tags: Tags): EventsHandlers {
  const changed = (ctx: RequestContext, bus: string) => engine.invalidate(ctx.account, ctx.region, bus);

  function setState(name: string, busInput: string | undefined, ctx: RequestContext, state: string) {
    const bus = busName(busInput, ctx);
    store.requireBus(ctx, bus, ctx.clock.now());
    const r = store.requireRule(ctx, bus, name);
    store.setRuleState(r.id, state);
    changed(ctx, bus);
    engine.reschedule(r.id, { ...r, state });
  }

  return {
    PutRule(input, ctx) {
      const bus = busName(input.EventBusName, ctx);
      if (!input.EventPattern && !input.ScheduleExpression)
        throw new AwsError('ValidationException', 'Parameter(s) EventPattern or ScheduleExpression must be specified.', 400);
      if (input.EventPattern) requirePattern(input.EventPattern);
      if (input.ScheduleExpression) {
        if (bus !== 'default')
          throw new AwsError('ValidationException', 'ScheduleExpression is supported only on the default event bus.', 400);
        try {
          parseSchedule(input.ScheduleExpression);
        } catch (e) {
          if (e instanceof ScheduleError) throw new AwsError('ValidationException', e.message, 400);
          throw e;
        }
      }
      store.requireBus(ctx, bus, ctx.clock.now());
      const fields = {
        pattern: input.EventPattern ?? null,
        schedule: input.ScheduleExpression ?? null,
        state: input.State ?? 'ENABLED',
        description: input.Description ?? null,
        role_arn: input.RoleArn ?? null,
      };
      const existing = store.findRule(ctx, bus, input.Name);
      let row: RuleRow;
      if (existing) {
        // AWS replaces the rule with what this call says; tags are only applied on creation
        store.updateRule(existing.id, fields);
        row = { ...existing, ...fields };
      } else {
        const base = { account: ctx.account, region: ctx.region, bus, name: input.Name, managed_by: null, created: ctx.clock.now() };
        const given = tagsOf(input.Tags);
        const id = store.transaction(() => {
          const id = store.insertRule({ ...base, ...fields });
          tags.add(ruleArn(base), given, tagRules);
          return id;
        });
        row = { id, ...base, ...fields };
      }
      changed(ctx, bus);
      engine.reschedule(row.id, row);
      return { RuleArn: ruleArn(row) };
    },

    DescribeRule(input, ctx) {
      const bus = busName(input.EventBusName, ctx);
      store.requireBus(ctx, bus, ctx.clock.now());
      const r = store.requireRule(ctx, bus, input.Name);
      return { ...describe(r), CreatedBy: r.account };
    },

    ListRules(input, ctx) {
      const bus = busName(input.EventBusName, ctx);
      store.requireBus(ctx, bus, ctx.clock.now());
      const limit = input.Limit ?? 100;
      const rows = store.listRules(ctx, bus, input.NamePrefix, decodeToken(input.NextToken), limit + 1);
      const { items, next } = keysetPage(rows, limit, (r) => r.name);
      return { Rules: items.map(describe), NextToken: next };
    },

    DeleteRule(input, ctx) {
      const bus = busName(input.EventBusName, ctx);
      store.requireBus(ctx, bus, ctx.clock.now());
      const r = store.findRule(ctx, bus, input.Name);
      if (!r) return; // AWS: deleting a rule that is not there succeeds
      // Force only concerns rules managed by other AWS services; targets always block the delete
      if (store.targetCount(r.id) > 0) throw new AwsError('ValidationException', "Rule can't be deleted since it has targets.", 400);
      store.transaction(() => {
        store.deleteRule(r.id);
        tags.delete(ruleArn(r));
      });
      changed(ctx, bus);
      engine.reschedule(r.id, undefined);
    },

    EnableRule(input, ctx) {
      setState(input.Name, input.EventBusName, ctx, 'ENABLED');
    },

    DisableRule(input, ctx) {
      setState(input.Name, input.EventBusName, ctx, 'DISABLED');
    },

    ListRuleNamesByTarget(input, ctx) {
      const bus = busName(input.EventBusName, ctx);
      store.requireBus(ctx, bus, ctx.clock.now());
      const limit = input.Limit ?? 100;
      const names = store.rulesByTarget(ctx, bus, input.TargetArn, decodeToken(input.NextToken), limit + 1);
      const { items, next } = keysetPage(names, limit, (n) => n);
      return { RuleNames: items, NextToken: next };
    },

    TestEventPattern(input) {
      const pattern = requirePattern(input.EventPattern);
      let event: unknown;
      try {
        event = JSON.parse(input.Event);
      } catch {
        throw new AwsError('ValidationException', 'Parameter Event is not valid.', 400);
      }
      if (typeof event !== 'object' || event === null || Array.isArray(event))
        throw new AwsError('ValidationException', 'Parameter Event is not valid.', 400);
      if (EVENT_FIELDS.some((f) => !(f in event!))) throw new AwsError('ValidationException', 'Parameter Event is not valid.', 400);
      return { Result: pattern.match(event) };
    },
  };
}
