/**
 * What an alarm's state change looks like to the outside, in AWS's shapes: the EventBridge
 * "CloudWatch Alarm State Change" detail, the JSON message an SNS alarm action publishes and the
 * event a Lambda alarm action invokes its function with.
 */
import { createHash } from 'node:crypto';
import type { PutCompositeAlarmInput } from '../api.generated.js';
import type { Alarm, AlarmState, MetricAlarmConfig } from './engine.js';
import { awsDate, regionName } from '../format.js';

/** An alarm's configuration: PutMetricAlarm's input or PutCompositeAlarm's (minus Tags), so every member is optional. */
type AlarmConfig = Partial<MetricAlarmConfig & Omit<PutCompositeAlarmInput, 'Tags'>>;

const state = (s: AlarmState) => ({
  value: s.value,
  reason: s.reason,
  ...(s.reasonData ? { reasonData: s.reasonData } : {}),
  timestamp: awsDate(s.updated),
});

/** AWS gives a single-metric alarm's metric a UUID id; derive one that stays the same. */
function stableUuid(seed: string) {
  const h = createHash('sha1').update(seed).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const dimsObject = (dims?: { Name: string; Value: string }[]) => Object.fromEntries((dims ?? []).map((d) => [d.Name, d.Value]));

function eventMetrics(a: Alarm) {
  const c: AlarmConfig = a.config;
  if (c.Metrics)
    return c.Metrics.map((m) => ({
      id: m.Id,
      ...(m.MetricStat
        ? {
            metricStat: {
              metric: {
                namespace: m.MetricStat.Metric.Namespace,
                name: m.MetricStat.Metric.MetricName,
                dimensions: dimsObject(m.MetricStat.Metric.Dimensions),
              },
              period: m.MetricStat.Period,
              stat: m.MetricStat.Stat,
              ...(m.MetricStat.Unit ? { unit: m.MetricStat.Unit } : {}),
            },
          }
        : { expression: m.Expression }),
      ...(m.Label ? { label: m.Label } : {}),
      returnData: m.ReturnData !== false,
    }));
  return [
    {
      id: stableUuid(a.arn),
      metricStat: {
        metric: { namespace: c.Namespace, name: c.MetricName, dimensions: dimsObject(c.Dimensions) },
        period: c.Period,
        stat: c.ExtendedStatistic ?? c.Statistic,
        ...(c.Unit ? { unit: c.Unit } : {}),
      },
      returnData: true,
    },
  ];
}

/** The `detail` of a "CloudWatch Alarm State Change" event. */
export function alarmEvent(a: Alarm, previous: AlarmState) {
  const c: AlarmConfig = a.config;
  const configuration =
    a.type === 'CompositeAlarm'
      ? { alarmRule: c.AlarmRule, ...(c.AlarmDescription ? { description: c.AlarmDescription } : {}) }
      : { ...(c.AlarmDescription ? { description: c.AlarmDescription } : {}), metrics: eventMetrics(a) };
  return { alarmName: a.name, state: state(a.state), previousState: state(previous), configuration };
}

/** What a Lambda alarm action invokes its function with: the state change, as AWS sends it to Lambda. */
export function lambdaAlarmEvent(a: Alarm, previous: AlarmState) {
  return {
    source: 'aws.cloudwatch',
    alarmArn: a.arn,
    accountId: a.account,
    time: awsDate(a.state.updated),
    region: a.region,
    alarmData: alarmEvent(a, previous),
  };
}

export const stateChangeSubject = (a: Alarm) => `${a.state.value}: "${a.name}" in ${regionName(a.region)}`.slice(0, 100);

/** The message an SNS alarm action publishes. */
export function notification(a: Alarm, oldState: string) {
  const c: AlarmConfig = a.config;
  const base = {
    AlarmName: a.name,
    AlarmDescription: c.AlarmDescription ?? null,
    AWSAccountId: a.account,
    AlarmConfigurationUpdatedTimestamp: awsDate(a.configUpdated),
    NewStateValue: a.state.value,
    NewStateReason: a.state.reason,
    StateChangeTime: awsDate(a.state.updated),
    Region: regionName(a.region),
    AlarmArn: a.arn,
    OldStateValue: oldState,
    OKActions: c.OKActions ?? [],
    AlarmActions: c.AlarmActions ?? [],
    InsufficientDataActions: c.InsufficientDataActions ?? [],
  };
  if (a.type === 'CompositeAlarm') return { ...base, AlarmRule: c.AlarmRule };
  const common = {
    Period: c.Metrics ? undefined : c.Period,
    EvaluationPeriods: c.EvaluationPeriods,
    DatapointsToAlarm: c.DatapointsToAlarm ?? c.EvaluationPeriods,
    ComparisonOperator: c.ComparisonOperator,
    Threshold: c.Threshold,
    TreatMissingData: c.TreatMissingData ?? 'missing',
    EvaluateLowSampleCountPercentile: c.EvaluateLowSampleCountPercentile ?? '',
  };
  const Trigger = c.Metrics
    ? {
        ...common,
        Metrics: c.Metrics.map((m) => ({
          Id: m.Id,
          ...(m.MetricStat
            ? {
                MetricStat: {
                  Metric: {
                    Dimensions: (m.MetricStat.Metric.Dimensions ?? []).map((d) => ({ value: d.Value, name: d.Name })),
                    MetricName: m.MetricStat.Metric.MetricName,
                    Namespace: m.MetricStat.Metric.Namespace,
                  },
                  Period: m.MetricStat.Period,
                  Stat: m.MetricStat.Stat,
                  Unit: m.MetricStat.Unit ?? null,
                },
              }
            : { Expression: m.Expression }),
          ...(m.Label ? { Label: m.Label } : {}),
          ReturnData: m.ReturnData !== false,
        })),
      }
    : {
        MetricName: c.MetricName,
        Namespace: c.Namespace,
        StatisticType: c.ExtendedStatistic ? 'ExtendedStatistic' : 'Statistic',
        ...(c.ExtendedStatistic ? { ExtendedStatistic: c.ExtendedStatistic } : { Statistic: String(c.Statistic).toUpperCase() }),
        Unit: c.Unit ?? null,
        Dimensions: (c.Dimensions ?? []).map((d) => ({ value: d.Value, name: d.Name })),
        ...common,
      };
  return { ...base, Trigger };
}
