/**
 * Alarm operations: PutMetricAlarm, PutCompositeAlarm, DescribeAlarms, DescribeAlarmsForMetric,
 * DescribeAlarmHistory, DeleteAlarms, SetAlarmState, Enable/DisableAlarmActions and the tag
 * operations. The state machine itself is alarms/engine.ts; these handlers check, store and kick it.
 */
import { requireOwnArn } from '../../core/arn.js';
import { AwsError } from '../../core/errors.js';
import type { RequestContext } from '../../gateway/context.js';
import type { CloudwatchHandlers, PutCompositeAlarmInput, PutMetricAlarmInput } from './api.generated.js';
import { parseRule, RuleError, ruleAlarms } from './alarms/composite.js';
import type { Alarm, AlarmEngine } from './alarms/engine.js';
import { dimsKey } from './format.js';
import { metricsPeriod } from './alarms/evaluate.js';
import { checkQueries } from './query.js';
import { BASIC, percentileOf } from './stats.js';
import type { CloudwatchStore } from './store.js';
import { keysetPage, readToken } from '../../core/pagination.js';
import { tagMapOf, type TagRules, type Tags } from '../../core/tags.js';

const validation = (msg: string) => new AwsError('ValidationError', msg, 400);

/** CloudWatch's error for tags that break the rules: InvalidParameterValue, as for its other limits. */
const tagRules: TagRules = {
  errors(p) {
    const message =
      p.kind === 'tooMany'
        ? `A resource can have no more than ${p.limit} tags.`
        : p.kind === 'duplicateKey'
          ? `The tag key ${p.key} is specified more than once.`
          : p.kind === 'reservedKey'
            ? `The tag key ${p.key} uses the reserved prefix aws:.`
            : p.kind === 'keyLength'
              ? 'The value for parameter Tags.member.Key must be 1 to 128 characters long.'
              : 'The value for parameter Tags.member.Value must be at most 256 characters long.';
    return new AwsError('InvalidParameterValue', message, 400);
  },
};
const ANOMALY_OPS = ['LessThanLowerOrGreaterThanUpperThreshold', 'LessThanLowerThreshold', 'GreaterThanUpperThreshold'];

function checkMetricAlarm(input: PutMetricAlarmInput) {
  if (ANOMALY_OPS.includes(input.ComparisonOperator) || input.ThresholdMetricId !== undefined)
    throw validation(
      'Anomaly detection alarms (ThresholdMetricId, LessThanLowerOrGreaterThanUpperThreshold …) are not supported by opsbox.',
    );
  if (input.Threshold === undefined)
    throw validation('Threshold must be specified when ComparisonOperator is a static threshold operator.');
  if (input.Metrics?.length) {
    if (
      input.MetricName !== undefined ||
      input.Namespace !== undefined ||
      input.Statistic !== undefined ||
      input.ExtendedStatistic !== undefined ||
      input.Dimensions !== undefined ||
      input.Period !== undefined
    )
      throw new AwsError(
        'InvalidParameterCombination',
        'The parameters MetricName, Namespace, Statistic, ExtendedStatistic, Dimensions, Period and Unit are mutually exclusive with Metrics.',
        400,
      );
    checkQueries(input.Metrics);
    if (input.Metrics.filter((m) => m.ReturnData !== false).length !== 1)
      throw validation('Exactly one element of the metrics list should return data.');
    const period = metricsPeriod(input.Metrics);
    if (period * input.EvaluationPeriods > 86_400)
      throw validation('Metrics cannot be checked across more than a day (EvaluationPeriods * Period must be <= 86400)');
  } else {
    if (input.MetricName === undefined) throw validation('MetricName must not be null');
    if (input.Namespace === undefined) throw validation('Namespace must not be null');
    if (input.Period === undefined) throw validation('Period must not be null');
    if (input.Statistic !== undefined && input.ExtendedStatistic !== undefined)
      throw new AwsError(
        'InvalidParameterCombination',
        'The parameters Statistic and ExtendedStatistic are mutually exclusive and you have specified both.',
        400,
      );
    if (input.Statistic === undefined && input.ExtendedStatistic === undefined)
      throw new AwsError('MissingParameter', 'One of the parameters Statistic or ExtendedStatistic must be specified.', 400);
    if (input.Statistic !== undefined && !BASIC.includes(input.Statistic))
      throw validation(`The value ${input.Statistic} for parameter Statistic is invalid.`);
    if (input.ExtendedStatistic !== undefined && percentileOf(input.ExtendedStatistic) === undefined)
      throw validation(`The value ${input.ExtendedStatistic} for parameter ExtendedStatistic is not supported.`);
    const p = input.Period;
    if (p < 60 ? ![10, 20, 30].includes(p) : p % 60 !== 0) throw validation('Period must be 10, 30 or a multiple of 60.');
    if (p * input.EvaluationPeriods > 86_400)
      throw validation('Metrics cannot be checked across more than a day (EvaluationPeriods * Period must be <= 86400)');
    if ((input.Dimensions?.length ?? 0) > 30) throw validation('The collection Dimensions must not have a size greater than 30.');
  }
  if (input.DatapointsToAlarm !== undefined && input.DatapointsToAlarm > input.EvaluationPeriods)
    throw validation('DatapointsToAlarm must be less than or equal to EvaluationPeriods.');
  if (input.EvaluateLowSampleCountPercentile !== undefined && !input.ExtendedStatistic)
    throw validation('EvaluateLowSampleCountPercentile can only be used with ExtendedStatistic (percentile) alarms.');
}

function describeMetric(a: Alarm) {
  const { AlarmName, AlarmDescription, OKActions, AlarmActions, InsufficientDataActions, ...c } = a.config;
  return {
    AlarmName,
    AlarmArn: a.arn,
    AlarmDescription,
    AlarmConfigurationUpdatedTimestamp: new Date(a.configUpdated),
    ActionsEnabled: a.actionsEnabled,
    OKActions: OKActions ?? [],
    AlarmActions: AlarmActions ?? [],
    InsufficientDataActions: InsufficientDataActions ?? [],
    StateValue: a.state.value,
    StateReason: a.state.reason,
    StateReasonData: a.state.reasonData,
    StateUpdatedTimestamp: new Date(a.state.updated),
    StateTransitionedTimestamp: new Date(a.state.transitioned),
    MetricName: c.MetricName,
    Namespace: c.Namespace,
    Statistic: c.Statistic,
    ExtendedStatistic: c.ExtendedStatistic,
    Dimensions: c.Metrics ? undefined : (c.Dimensions ?? []),
    Period: c.Period,
    Unit: c.Unit,
    EvaluationPeriods: c.EvaluationPeriods,
    DatapointsToAlarm: c.DatapointsToAlarm,
    Threshold: c.Threshold,
    ComparisonOperator: c.ComparisonOperator,
    TreatMissingData: c.TreatMissingData,
    EvaluateLowSampleCountPercentile: c.EvaluateLowSampleCountPercentile,
    Metrics: c.Metrics,
  };
}

function describeComposite(a: Alarm) {
  const c = a.config;
  return {
    ActionsEnabled: a.actionsEnabled,
    AlarmActions: c.AlarmActions ?? [],
    AlarmArn: a.arn,
    AlarmConfigurationUpdatedTimestamp: new Date(a.configUpdated),
    AlarmDescription: c.AlarmDescription,
    AlarmName: a.name,
    AlarmRule: c.AlarmRule,
    InsufficientDataActions: c.InsufficientDataActions ?? [],
    OKActions: c.OKActions ?? [],
    StateReason: a.state.reason,
    StateReasonData: a.state.reasonData,
    StateUpdatedTimestamp: new Date(a.state.updated),
    StateValue: a.state.value,
    StateTransitionedTimestamp: new Date(a.state.transitioned),
    ActionsSuppressor: c.ActionsSuppressor,
    ActionsSuppressorWaitPeriod: c.ActionsSuppressorWaitPeriod,
    ActionsSuppressorExtensionPeriod: c.ActionsSuppressorExtensionPeriod,
  };
}

const untoken = (t: string) => readToken(t) ?? '';

export function alarmHandlers(engine: AlarmEngine, store: CloudwatchStore, tags: Tags): CloudwatchHandlers {
  function require(ctx: RequestContext, name: string, code = 'ResourceNotFound') {
    const a = engine.get(ctx.account, ctx.region, name);
    if (!a) throw new AwsError(code, `Alarm ${name} not found`, 404);
    return a;
  }

  function put(ctx: RequestContext, type: Alarm['type'], input: PutMetricAlarmInput | PutCompositeAlarmInput): Alarm {
    const now = ctx.clock.now();
    const { Tags, ActionsEnabled, ...config } = input;
    const existing = engine.get(ctx.account, ctx.region, input.AlarmName);
    if (existing && existing.type !== type)
      throw validation(
        `An alarm named ${input.AlarmName} already exists as a ${existing.type === 'MetricAlarm' ? 'metric' : 'composite'} alarm.`,
      );
    const a: Alarm = existing
      ? { ...existing, config, actionsEnabled: ActionsEnabled ?? true, configUpdated: now }
      : {
          account: ctx.account,
          region: ctx.region,
          name: input.AlarmName,
          type,
          arn: engine.arnOf(ctx.account, ctx.region, input.AlarmName),
          config,
          actionsEnabled: ActionsEnabled ?? true,
          state: { value: 'INSUFFICIENT_DATA', reason: 'Unchecked: Initial alarm creation', updated: now, transitioned: now },
          configUpdated: now,
        };
    const given = Tags && tagMapOf(Tags, tagRules.errors);
    store.transaction(() => {
      // the tags first: when they break the rules, nothing is saved (save also updates the engine's memory)
      if (given) tags.add(a.arn, given, tagRules);
      engine.save(a);
      engine.history(a, now, 'ConfigurationUpdate', `Alarm "${a.name}" ${existing ? 'updated' : 'created'}`, {
        version: '1.0',
        type: existing ? 'Update' : 'Create',
        ...(existing ? { originalAlarm: existing.config } : {}),
        [existing ? 'updatedAlarm' : 'createdAlarm']: { ...config, actionsEnabled: a.actionsEnabled },
      });
    });
    return a;
  }

  function select(ctx: RequestContext, types: string[], filter: (a: Alarm) => boolean) {
    return [...engine.alarms.values()]
      .filter((a) => a.account === ctx.account && a.region === ctx.region && types.includes(a.type) && filter(a))
      .sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
  }

  return {
    PutMetricAlarm(input, ctx) {
      checkMetricAlarm(input);
      const a = put(ctx, 'MetricAlarm', input);
      engine.evaluate(a);
    },

    PutCompositeAlarm(input, ctx) {
      let refs: Set<string>;
      try {
        refs = ruleAlarms(parseRule(input.AlarmRule));
      } catch (e) {
        if (e instanceof RuleError) throw validation(`Error in AlarmRule [${e.message}]`);
        throw e;
      }
      if (input.AlarmRule.length > 10_240) throw validation('AlarmRule must not be longer than 10240 characters.');
      const missing = [...refs].filter((r) => !engine.resolve(ctx.account, ctx.region, r));
      if (missing.length)
        throw validation(`Could not save the composite alarm as alarms [${missing.join(', ')}] in the alarm rule do not exist`);
      if (refs.has(input.AlarmName) || refs.has(engine.arnOf(ctx.account, ctx.region, input.AlarmName)))
        throw validation('AlarmRule must not reference the alarm itself.');
      const a = put(ctx, 'CompositeAlarm', input);
      engine.evaluateComposite(a, ctx.clock.now());
    },

    DescribeAlarms(input, ctx) {
      if (input.AlarmNames?.length && input.AlarmNamePrefix !== undefined)
        throw new AwsError(
          'InvalidParameterCombination',
          'The parameters AlarmNames and AlarmNamePrefix are mutually exclusive and you have specified both.',
          400,
        );
      const types = input.AlarmTypes?.length ? input.AlarmTypes : ['MetricAlarm'];
      for (const t of types)
        if (t !== 'MetricAlarm' && t !== 'CompositeAlarm') throw validation(`The value ${t} for parameter AlarmTypes is invalid.`);
      let family: Set<string> | undefined;
      if (input.ChildrenOfAlarmName !== undefined) {
        const parent = engine.get(ctx.account, ctx.region, input.ChildrenOfAlarmName);
        family = new Set(
          parent?.type === 'CompositeAlarm'
            ? [...ruleAlarms(engine.rule(parent))].map((r) => engine.resolve(ctx.account, ctx.region, r)?.name ?? r)
            : [],
        );
      } else if (input.ParentsOfAlarmName !== undefined) {
        const child = engine.get(ctx.account, ctx.region, input.ParentsOfAlarmName);
        family = new Set(
          select(
            ctx,
            ['CompositeAlarm'],
            (c) => !!child && [...ruleAlarms(engine.rule(c))].some((r) => r === child.name || r === child.arn),
          ).map((c) => c.name),
        );
      }
      const names = input.AlarmNames?.length ? new Set(input.AlarmNames) : undefined;
      const prefix = input.ActionPrefix;
      const all = select(
        ctx,
        types,
        (a) =>
          (!names || names.has(a.name)) &&
          (input.AlarmNamePrefix === undefined || a.name.startsWith(input.AlarmNamePrefix)) &&
          (input.StateValue === undefined || a.state.value === input.StateValue) &&
          (!family || family.has(a.name)) &&
          (prefix === undefined ||
            [...(a.config.AlarmActions ?? []), ...(a.config.OKActions ?? []), ...(a.config.InsufficientDataActions ?? [])].some(
              (x: string) => x.startsWith(prefix),
            )),
      );
      const after = input.NextToken ? untoken(input.NextToken) : undefined;
      // alarms come sorted by name: the page is the ones past the token's name
      const page = keysetPage(after === undefined ? all : all.filter((a) => a.name > after), input.MaxRecords ?? 50, (a) => a.name);
      return {
        MetricAlarms: page.items.filter((a) => a.type === 'MetricAlarm').map(describeMetric),
        CompositeAlarms: page.items.filter((a) => a.type === 'CompositeAlarm').map(describeComposite),
        NextToken: page.next,
      };
    },

    DescribeAlarmsForMetric(input, ctx) {
      const dims = input.Dimensions ? dimsKey(input.Dimensions) : undefined;
      const matches = (m: { Namespace?: string; MetricName?: string; Dimensions?: { Name: string; Value: string }[] }) =>
        m.Namespace === input.Namespace && m.MetricName === input.MetricName && (dims === undefined || dimsKey(m.Dimensions) === dims);
      const alarms = select(ctx, ['MetricAlarm'], (a) => {
        const c = a.config;
        if (c.Metrics)
          return c.Metrics.some(
            (q: { MetricStat?: { Metric: Parameters<typeof matches>[0] } }) => q.MetricStat && matches(q.MetricStat.Metric),
          );
        return (
          matches(c) &&
          (input.Statistic === undefined || c.Statistic === input.Statistic) &&
          (input.ExtendedStatistic === undefined || c.ExtendedStatistic === input.ExtendedStatistic) &&
          (input.Period === undefined || c.Period === input.Period) &&
          (input.Unit === undefined || c.Unit === input.Unit)
        );
      });
      return { MetricAlarms: alarms.map(describeMetric) };
    },

    DescribeAlarmHistory(input, ctx) {
      const ascending = input.ScanBy === 'TimestampAscending';
      const limit = input.MaxRecords ?? 100;
      const afterId = input.NextToken ? Number(untoken(input.NextToken)) : undefined;
      if (afterId !== undefined && !Number.isInteger(afterId))
        throw new AwsError('InvalidNextToken', 'The service cannot complete the request because the NextToken is invalid.', 400);
      const rows = store.queryHistory(ctx.account, ctx.region, {
        alarmName: input.AlarmName,
        types: input.AlarmTypes,
        itemType: input.HistoryItemType,
        start: input.StartDate?.getTime(),
        end: input.EndDate?.getTime(),
        ascending,
        afterId,
        limit: limit + 1,
      });
      const page = keysetPage(rows, limit, (r) => String(r.id));
      return {
        AlarmHistoryItems: page.items.map((r) => ({
          AlarmName: r.alarm_name,
          AlarmType: r.alarm_type,
          Timestamp: new Date(r.ts),
          HistoryItemType: r.item_type,
          HistorySummary: r.summary,
          HistoryData: r.data,
        })),
        NextToken: page.next,
      };
    },

    DeleteAlarms(input, ctx) {
      const alarms = input.AlarmNames.map((n) => engine.get(ctx.account, ctx.region, n));
      const missing = input.AlarmNames.filter((_, i) => !alarms[i]);
      if (missing.length) throw new AwsError('ResourceNotFound', `Alarm(s) not found: ${missing.join(', ')}`, 404);
      const now = ctx.clock.now();
      for (const a of alarms as Alarm[]) {
        engine.delete(a);
        engine.history(a, now, 'ConfigurationUpdate', `Alarm "${a.name}" deleted`, {
          version: '1.0',
          type: 'Delete',
          deletedAlarm: a.config,
        });
      }
    },

    SetAlarmState(input, ctx) {
      const a = require(ctx, input.AlarmName);
      if (input.StateReasonData !== undefined) {
        try {
          JSON.parse(input.StateReasonData);
        } catch {
          throw new AwsError('InvalidFormat', 'StateReasonData is not valid JSON.', 400);
        }
      }
      if (a.state.value === input.StateValue) {
        a.state = { ...a.state, reason: input.StateReason, reasonData: input.StateReasonData, updated: ctx.clock.now() };
        engine.save(a);
        return;
      }
      engine.transition(a, input.StateValue as Alarm['state']['value'], input.StateReason, input.StateReasonData, ctx.clock.now());
    },

    EnableAlarmActions(input, ctx) {
      for (const n of input.AlarmNames) {
        const a = engine.get(ctx.account, ctx.region, n);
        if (a) engine.save({ ...a, actionsEnabled: true });
      }
    },

    DisableAlarmActions(input, ctx) {
      for (const n of input.AlarmNames) {
        const a = engine.get(ctx.account, ctx.region, n);
        if (a) engine.save({ ...a, actionsEnabled: false });
      }
    },

    TagResource(input, ctx) {
      tags.add(alarmByArn(engine, ctx, input.ResourceARN).arn, tagMapOf(input.Tags, tagRules.errors), tagRules);
      return {};
    },

    UntagResource(input, ctx) {
      tags.remove(alarmByArn(engine, ctx, input.ResourceARN).arn, input.TagKeys);
      return {};
    },

    ListTagsForResource(input, ctx) {
      return { Tags: tags.list(alarmByArn(engine, ctx, input.ResourceARN).arn) };
    },
  };
}

function alarmByArn(engine: AlarmEngine, ctx: RequestContext, resourceArn: string): Alarm {
  const notFound = () => new AwsError('ResourceNotFoundException', 'The specified resource does not exist.', 404);
  // another account's or region's alarm is one this caller cannot see
  requireOwnArn(resourceArn, ctx, notFound);
  const m = /^arn:aws[a-z-]*:cloudwatch:([^:]*):(\d{12}):alarm:(.+)$/.exec(resourceArn);
  const a = m ? engine.get(m[2], m[1], m[3]) : undefined;
  if (!a) throw notFound();
  return a;
}
