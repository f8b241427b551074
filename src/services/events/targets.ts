/**
 * Targets of a rule: PutTargets (at most 5 per rule), RemoveTargets, ListTargetsByRule. Targets are
 * kept as their wire objects, so every parameter (RoleArn, SqsParameters, HttpParameters …) reaches
 * the invoker in `options` when the rule fires.
 */
import { parseArn } from '../../core/arn.js';
import { AwsError } from '../../core/errors.js';
import { keysetPage } from '../../core/pagination.js';
import type { EventsHandlers, PutTargetsInput } from './api.generated.js';
import { decodeToken } from './buses.js';
import type { EventsEngine } from './engine.js';
import { busName, type EventsStore } from './store.js';
import { compileTransformer, parsePath, TransformError } from './transform.js';

const MAX_TARGETS_PER_RULE = 5;
const TARGET_ID = /^[.\-_A-Za-z0-9]{1,64}$/;

const invalid = (message: string) => new AwsError('ValidationException', message, 400);

function checkTarget(t: PutTargetsInput['Targets'][number]) {
  if (!TARGET_ID.test(t.Id))
    throw invalid(
      `1 validation error detected: Value '${t.Id}' at 'targets.1.member.id' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+`,
    );
  const arn = parseArn(t.Arn);
  if (!arn || !arn.service || !/^arn:aws[\w-]*:/.test(t.Arn))
    throw invalid(`Parameter ${t.Arn} is not valid. Reason: Provided Arn is not in correct format.`);
  const inputs = [t.Input, t.InputPath, t.InputTransformer].filter((x) => x !== undefined).length;
  if (inputs > 1) throw invalid(`Target ${t.Id}: only one of Input, InputPath, or InputTransformer can be specified.`);
  if (t.Input !== undefined) {
    try {
      JSON.parse(t.Input);
    } catch {
      throw invalid(`Parameter Input is not valid. Reason: Target ${t.Id} Input is not valid JSON text.`);
    }
  }
  if (t.InputPath !== undefined) {
    try {
      parsePath(t.InputPath);
    } catch {
      throw invalid(`Parameter InputPath is not valid. Reason: ${t.InputPath} is an invalid JSONPath.`);
    }
  }
  if (t.InputTransformer) {
    try {
      compileTransformer(t.InputTransformer.InputPathsMap, t.InputTransformer.InputTemplate);
    } catch (e) {
      if (e instanceof TransformError) throw invalid(`InputTransformer is not valid. Reason: ${e.message}`);
      throw e;
    }
  }
}

export function targetHandlers(store: EventsStore, engine: EventsEngine): EventsHandlers {
  return {
    PutTargets(input, ctx) {
      const bus = busName(input.EventBusName, ctx);
      store.requireBus(ctx, bus, ctx.clock.now());
      const rule = store.requireRule(ctx, bus, input.Rule);
      for (const t of input.Targets) checkTarget(t);
      const ids = new Set(store.targets(rule.id).map((t) => t.id));
      for (const t of input.Targets) ids.add(t.Id);
      if (ids.size > MAX_TARGETS_PER_RULE)
        throw new AwsError('LimitExceededException', 'The requested resource exceeds the maximum number allowed.', 400);
      store.putTargets(rule.id, input.Targets);
      engine.invalidate(ctx.account, ctx.region, bus);
      return { FailedEntryCount: 0, FailedEntries: [] };
    },

    RemoveTargets(input, ctx) {
      const bus = busName(input.EventBusName, ctx);
      store.requireBus(ctx, bus, ctx.clock.now());
      const rule = store.requireRule(ctx, bus, input.Rule);
      store.removeTargets(rule.id, input.Ids);
      engine.invalidate(ctx.account, ctx.region, bus);
      return { FailedEntryCount: 0, FailedEntries: [] };
    },

    ListTargetsByRule(input, ctx) {
      const bus = busName(input.EventBusName, ctx);
      store.requireBus(ctx, bus, ctx.clock.now());
      const rule = store.requireRule(ctx, bus, input.Rule);
      const limit = input.Limit ?? 100;
      const { items, next } = keysetPage(store.targetsPage(rule.id, decodeToken(input.NextToken), limit + 1), limit, (t) => t.id);
      return { Targets: items.map((t) => JSON.parse(t.body)), NextToken: next };
    },
  };
}
