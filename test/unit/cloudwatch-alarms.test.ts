/**
 * Alarm evaluation on a ManualClock, through the real gateway in-process and SDK v3: AWS's
 * missing-data table for every TreatMissingData mode, M-of-N, reasons and reason data in AWS's
 * words, EvaluateLowSampleCountPercentile, the minute tick, SetAlarmState, composite alarms, the
 * "CloudWatch Alarm State Change" event on the bus and alarm actions through env.targets.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import {
  CloudWatchClient,
  DeleteAlarmsCommand,
  DescribeAlarmHistoryCommand,
  DescribeAlarmsCommand,
  DescribeAlarmsForMetricCommand,
  DisableAlarmActionsCommand,
  EnableAlarmActionsCommand,
  GetMetricStatisticsCommand,
  ListMetricsCommand,
  ListTagsForResourceCommand,
  PutCompositeAlarmCommand,
  PutMetricAlarmCommand,
  PutMetricDataCommand,
  SetAlarmStateCommand,
  TagResourceCommand,
  UntagResourceCommand,
  type PutMetricAlarmCommandInput,
} from '@aws-sdk/client-cloudwatch';
import { ManualClock } from '../../src/core/clock.js';
import type { BusEvent } from '../../src/core/events.js';
import type { TargetInvocation } from '../../src/core/targets.js';
import { cloudwatch } from '../../src/services/cloudwatch/index.js';
import { InProcessOpsbox, sdkConfig } from '../helpers/inProcess.js';

const MIN = 60_000;
// 2026-11-26 01:00:00 UTC, a minute boundary: the engine's first tick is at 01:01:00
const clock = new ManualClock(Date.UTC(2026, 10, 26, 1, 0, 0));
const gw = new InProcessOpsbox([cloudwatch], clock);
const cw = new CloudWatchClient(sdkConfig(gw));
const events: BusEvent[] = [];
gw.env.bus.subscribe((e) => void (e['detail-type'] === 'CloudWatch Alarm State Change' && events.push(e)));
const delivered: TargetInvocation[] = [];
gw.env.targets.register('sns', (inv) => {
  if (inv.arn.endsWith(':broken')) throw new Error('topic is broken');
  delivered.push(inv);
});
after(() => gw.close());

let seq = 0;
const name = (p: string) => `${p}-${++seq}`;
/** Moves the clock to the next minute boundary (running the tick there). */
const nextMinute = () => clock.advance(MIN - (clock.now() % MIN));
/** SDK v3 names query-compatible ValidationError "ValidationException"; Code keeps AWS's code. */
const code = (e: any) => e.Code ?? e.name;
const settle = () => new Promise((r) => setImmediate(r));

async function putValue(metric: string, value: number, ts: number, extra: Record<string, unknown> = {}) {
  await cw.send(
    new PutMetricDataCommand({ Namespace: 'Test', MetricData: [{ MetricName: metric, Value: value, Timestamp: new Date(ts), ...extra }] }),
  );
}

async function state(alarm: string, types?: ('MetricAlarm' | 'CompositeAlarm')[]) {
  const out = await cw.send(new DescribeAlarmsCommand({ AlarmNames: [alarm], AlarmTypes: types }));
  return (out.MetricAlarms?.[0] ?? out.CompositeAlarms?.[0])!;
}

function alarmInput(alarm: string, metric: string, over: Partial<PutMetricAlarmCommandInput> = {}): PutMetricAlarmCommandInput {
  return {
    AlarmName: alarm,
    Namespace: 'Test',
    MetricName: metric,
    Statistic: 'Average',
    Period: 60,
    EvaluationPeriods: 3,
    Threshold: 5,
    ComparisonOperator: 'GreaterThanThreshold',
    ...over,
  };
}

/**
 * Writes a row of the evaluation range ("0" = 1.0, not breaching; "X" = 10.0, breaching; "-" =
 * missing; oldest first, the last one in the period just ended) and creates an alarm on it: the
 * alarm evaluates at once.
 */
async function scenario(row: string, over: Partial<PutMetricAlarmCommandInput> = {}, initial?: 'OK' | 'ALARM') {
  nextMinute();
  const now = clock.now();
  const metric = name('m');
  const cells = row.split(' ');
  for (let i = 0; i < cells.length; i++) {
    const ts = now - (cells.length - i) * MIN + 5_000;
    if (cells[i] !== '-') await putValue(metric, cells[i] === 'X' ? 10 : 1, ts);
  }
  const alarm = name('a');
  if (initial) {
    // create on an empty metric first so the initial state can be forced, then point it at the row
    await cw.send(new PutMetricAlarmCommand(alarmInput(alarm, `${metric}-empty`, { ...over, TreatMissingData: 'ignore' })));
    await cw.send(new SetAlarmStateCommand({ AlarmName: alarm, StateValue: initial, StateReason: 'test' }));
  }
  await cw.send(new PutMetricAlarmCommand(alarmInput(alarm, metric, over)));
  return (await state(alarm)).StateValue;
}

describe('TreatMissingData: AWS table (3 evaluation periods, 3 datapoints to alarm)', () => {
  const table: [string, string, string, string, string][] = [
    // row              missing              ignore               breaching  notBreaching
    ['0 - X - X', 'OK', 'OK', 'OK', 'OK'],
    ['0 - - - -', 'OK', 'OK', 'OK', 'OK'],
    ['- - - - -', 'INSUFFICIENT_DATA', 'INSUFFICIENT_DATA', 'ALARM', 'OK'],
    ['0 X X - X', 'ALARM', 'ALARM', 'ALARM', 'ALARM'],
    ['- - X - -', 'ALARM', 'INSUFFICIENT_DATA', 'ALARM', 'OK'],
  ];
  const modes = ['missing', 'ignore', 'breaching', 'notBreaching'];
  for (const [row, ...expected] of table)
    for (let m = 0; m < modes.length; m++)
      test(`"${row}" with ${modes[m]} → ${expected[m]}`, async () => {
        assert.equal(await scenario(row, { TreatMissingData: modes[m] }), expected[m]);
      });

  test('ignore keeps the current state when the outcome is undecided (ALARM stays ALARM, OK stays OK)', async () => {
    assert.equal(await scenario('- - - - -', { TreatMissingData: 'ignore' }, 'ALARM'), 'ALARM');
    assert.equal(await scenario('- - X - -', { TreatMissingData: 'ignore' }, 'OK'), 'OK');
  });

  test('missing (the default) with no datapoints at all → INSUFFICIENT_DATA with AWS reason', async () => {
    nextMinute();
    const alarm = name('a');
    await cw.send(new PutMetricAlarmCommand(alarmInput(alarm, name('m'), { EvaluationPeriods: 1 })));
    await cw.send(new SetAlarmStateCommand({ AlarmName: alarm, StateValue: 'OK', StateReason: 'forced' }));
    nextMinute();
    const s = await state(alarm);
    assert.equal(s.StateValue, 'INSUFFICIENT_DATA');
    assert.equal(s.StateReason, 'Insufficient Data: 1 datapoint was unknown.');
  });
});

describe('M out of N (DatapointsToAlarm)', () => {
  const cases: [string, string, string][] = [
    ['- - X 0 X', 'notBreaching', 'ALARM'],
    ['- - X 0 0', 'notBreaching', 'OK'],
    ['- - - X X', 'notBreaching', 'ALARM'],
    ['- - - - X', 'notBreaching', 'OK'],
    ['- - - - X', 'breaching', 'ALARM'],
    ['0 0 0 X 0', 'breaching', 'OK'],
    ['X X 0 0 X', 'missing', 'OK'],
    ['- - - X 0', 'missing', 'OK'],
    ['- - - X X', 'missing', 'ALARM'],
    ['- - - 0 0', 'ignore', 'OK'],
    ['- - - X X', 'ignore', 'ALARM'],
  ];
  for (const [row, mode, expected] of cases)
    test(`2 of 3, "${row}" with ${mode} → ${expected}`, async () => {
      assert.equal(await scenario(row, { DatapointsToAlarm: 2, TreatMissingData: mode }), expected);
    });
});

describe('comparison operators', () => {
  const cases: [string, number, string][] = [
    ['GreaterThanOrEqualToThreshold', 10, 'ALARM'],
    ['GreaterThanOrEqualToThreshold', 10.5, 'OK'],
    ['GreaterThanThreshold', 10, 'OK'],
    ['LessThanThreshold', 10, 'OK'],
    ['LessThanThreshold', 10.5, 'ALARM'],
    ['LessThanOrEqualToThreshold', 10, 'ALARM'],
  ];
  for (const [op, threshold, expected] of cases)
    test(`${op} ${threshold} on a datapoint of 10 → ${expected}`, async () => {
      assert.equal(await scenario('- - X', { EvaluationPeriods: 1, ComparisonOperator: op as any, Threshold: threshold }), expected);
    });

  test('anomaly detection operators are rejected with ValidationError', async () => {
    await assert.rejects(
      cw.send(
        new PutMetricAlarmCommand(
          alarmInput(name('a'), 'x', { ComparisonOperator: 'LessThanLowerOrGreaterThanUpperThreshold', ThresholdMetricId: 'ad1' }),
        ),
      ),
      (e: any) => code(e) === 'ValidationError',
    );
  });
});

describe('reasons and reason data in AWS format', () => {
  test('OK → ALARM on one datapoint: reason text and StateReasonData', async () => {
    nextMinute();
    const t0 = clock.now(); // 01:0x:00
    const metric = name('m');
    const alarm = name('a');
    await cw.send(new PutMetricAlarmCommand(alarmInput(alarm, metric, { EvaluationPeriods: 1, TreatMissingData: 'notBreaching' })));
    assert.equal((await state(alarm)).StateValue, 'OK');
    await putValue(metric, 10, t0 + 2_000);
    nextMinute();
    const s = await state(alarm);
    const d = new Date(t0);
    const hhmm = `${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}`;
    assert.equal(s.StateValue, 'ALARM');
    assert.equal(
      s.StateReason,
      `Threshold Crossed: 1 out of the last 1 datapoints [10.0 (26/11/26 ${hhmm}:00)] was greater than the threshold (5.0) (minimum 1 datapoint for OK -> ALARM transition).`,
    );
    const iso = (ms: number) => new Date(ms).toISOString().replace('Z', '+0000');
    assert.equal(
      s.StateReasonData,
      `{"version":"1.0","queryDate":"${iso(t0 + MIN)}","startDate":"${iso(t0)}","statistic":"Average","period":60,"recentDatapoints":[10.0],"threshold":5.0,"evaluatedDatapoints":[{"timestamp":"${iso(t0)}","sampleCount":1.0,"value":10.0}]}`,
    );
  });

  test('2 of 3 → ALARM lists the breaching datapoints newest first; back to OK names ALARM -> OK', async () => {
    nextMinute();
    const t0 = clock.now();
    const metric = name('m');
    const alarm = name('a');
    await putValue(metric, 7, t0 - 2 * MIN);
    await putValue(metric, 1, t0 - MIN);
    await putValue(metric, 12.5, t0 + 1000);
    await cw.send(new PutMetricAlarmCommand(alarmInput(alarm, metric, { DatapointsToAlarm: 2 })));
    nextMinute();
    const s = await state(alarm);
    assert.equal(s.StateValue, 'ALARM');
    assert.match(
      s.StateReason!,
      /^Threshold Crossed: 2 out of the last 3 datapoints \[12\.5 \(26\/11\/26 \d\d:\d\d:00\), 7\.0 \(26\/11\/26 \d\d:\d\d:00\)\] were greater than the threshold \(5\.0\) \(minimum 2 datapoints for OK -> ALARM transition\)\.$/,
    );
    await putValue(metric, 1, clock.now() + 1000);
    nextMinute();
    const back = await state(alarm);
    assert.equal(back.StateValue, 'OK');
    assert.match(
      back.StateReason!,
      /^Threshold Crossed: 2 out of the last 3 datapoints \[1\.0 .*, 1\.0 .*\] were not greater than the threshold \(5\.0\) \(minimum 2 datapoints for ALARM -> OK transition\)\.$/,
    );
  });

  test('all missing treated as breaching: "no datapoints were received" reason', async () => {
    nextMinute();
    const alarm = name('a');
    await cw.send(new PutMetricAlarmCommand(alarmInput(alarm, name('m'), { TreatMissingData: 'breaching', EvaluationPeriods: 2 })));
    const s = await state(alarm);
    assert.equal(s.StateValue, 'ALARM');
    assert.equal(
      s.StateReason,
      'Threshold Crossed: no datapoints were received for 2 periods and 2 missing datapoints were treated as [Breaching].',
    );
  });
});

describe('percentile alarms', () => {
  test('ExtendedStatistic p90 alarms on the 90th percentile of the period', async () => {
    nextMinute();
    const metric = name('m');
    const alarm = name('a');
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    await cw.send(
      new PutMetricDataCommand({
        Namespace: 'Test',
        MetricData: [{ MetricName: metric, Values: values, Timestamp: new Date(clock.now() - 30_000) }],
      }),
    );
    await cw.send(
      new PutMetricAlarmCommand(
        alarmInput(alarm, metric, { Statistic: undefined, ExtendedStatistic: 'p90', EvaluationPeriods: 1, Threshold: 89.5 }),
      ),
    );
    assert.equal((await state(alarm)).StateValue, 'ALARM');
    await cw.send(
      new PutMetricAlarmCommand(
        alarmInput(alarm, metric, { Statistic: undefined, ExtendedStatistic: 'p90', EvaluationPeriods: 1, Threshold: 90 }),
      ),
    );
    assert.equal((await state(alarm)).StateValue, 'OK');
  });

  test('EvaluateLowSampleCountPercentile ignore keeps the state when a period has too few samples; evaluate does not', async () => {
    nextMinute();
    const metric = name('m');
    await putValue(metric, 100, clock.now() - 30_000); // 1 sample: too few for p99
    const ignoring = name('a');
    const evaluating = name('a');
    const cfg = { Statistic: undefined, ExtendedStatistic: 'p99', EvaluationPeriods: 1 };
    await cw.send(new PutMetricAlarmCommand(alarmInput(ignoring, metric, { ...cfg, EvaluateLowSampleCountPercentile: 'ignore' })));
    await cw.send(new PutMetricAlarmCommand(alarmInput(evaluating, metric, { ...cfg, EvaluateLowSampleCountPercentile: 'evaluate' })));
    assert.equal((await state(ignoring)).StateValue, 'INSUFFICIENT_DATA');
    assert.equal((await state(evaluating)).StateValue, 'ALARM');
  });
});

describe('math alarms', () => {
  test('Metrics with an expression: alarms on the ReturnData expression', async () => {
    nextMinute();
    const errors = name('errors');
    const requests = name('requests');
    await putValue(errors, 30, clock.now() - 30_000);
    await putValue(requests, 100, clock.now() - 30_000);
    const alarm = name('a');
    const metric = (id: string, m: string) => ({
      Id: id,
      MetricStat: { Metric: { Namespace: 'Test', MetricName: m }, Period: 60, Stat: 'Sum' },
      ReturnData: false,
    });
    await cw.send(
      new PutMetricAlarmCommand({
        AlarmName: alarm,
        EvaluationPeriods: 1,
        Threshold: 25,
        ComparisonOperator: 'GreaterThanThreshold',
        Metrics: [
          metric('e', errors),
          metric('r', requests),
          { Id: 'rate', Expression: '100 * e / r', Label: 'Error rate', ReturnData: true },
        ],
      }),
    );
    const s = await state(alarm);
    assert.equal(s.StateValue, 'ALARM');
    assert.match(s.StateReason!, /\[30\.0 /);
  });

  test('Metrics must return exactly one series', async () => {
    await assert.rejects(
      cw.send(
        new PutMetricAlarmCommand({
          AlarmName: name('a'),
          EvaluationPeriods: 1,
          Threshold: 1,
          ComparisonOperator: 'GreaterThanThreshold',
          Metrics: [
            { Id: 'e', Expression: 'TIME_SERIES(1)' },
            { Id: 'f', Expression: 'e' },
          ],
        }),
      ),
      (e: any) => code(e) === 'ValidationError' && /Exactly one element/.test(e.message),
    );
  });
});

describe('the minute tick, history, events and actions', () => {
  test('a 10-second alarm is evaluated every 10 seconds, a 60-second one only at the minute', async () => {
    nextMinute();
    const metric = name('hires');
    const fast = name('fast');
    const slow = name('slow');
    const base = { EvaluationPeriods: 1, Threshold: 5, TreatMissingData: 'notBreaching' as const, Statistic: 'Maximum' as const };
    await cw.send(new PutMetricAlarmCommand(alarmInput(fast, metric, { ...base, Period: 10 })));
    await cw.send(new PutMetricAlarmCommand(alarmInput(slow, metric, { ...base, Period: 60 })));
    assert.equal((await state(fast)).StateValue, 'OK');
    // a breaching value 5 s into the minute, stored at 1-second resolution
    clock.advance(5_000);
    await putValue(metric, 9, clock.now(), { StorageResolution: 1 });
    clock.advance(5_000); // :10, the 10-second tick judges [:00, :10)
    assert.equal((await state(fast)).StateValue, 'ALARM');
    assert.equal((await state(slow)).StateValue, 'OK');
    clock.advance(20_000); // :30, the range (N + 2 periods) still holds the breaching datapoint
    assert.equal((await state(fast)).StateValue, 'ALARM');
    clock.advance(10_000); // :40, [:10, :40) has no data: notBreaching
    assert.equal((await state(fast)).StateValue, 'OK');
    assert.equal((await state(slow)).StateValue, 'OK');
    nextMinute(); // the minute tick judges the last minute for the 60-second alarm
    assert.equal((await state(slow)).StateValue, 'ALARM');
  });

  test('PutMetricAlarm takes periods of 10, 20 and 30 seconds, not 15', async () => {
    for (const Period of [10, 20, 30]) await cw.send(new PutMetricAlarmCommand(alarmInput(name('p'), name('m'), { Period })));
    await assert.rejects(
      cw.send(new PutMetricAlarmCommand(alarmInput(name('p'), name('m'), { Period: 15 }))),
      (e: any) => code(e) === 'ValidationError' && /Period must be 10, 30 or a multiple of 60/.test(e.message),
    );
  });

  test('a state change publishes the AWS-shaped event and invokes the ALARM action with the SNS message', async () => {
    nextMinute();
    const metric = name('m');
    const alarm = name('a');
    const topic = 'arn:aws:sns:us-east-1:000000000000:oncall';
    await cw.send(
      new PutMetricAlarmCommand(
        alarmInput(alarm, metric, {
          EvaluationPeriods: 1,
          TreatMissingData: 'notBreaching',
          AlarmActions: [topic],
          AlarmDescription: 'too slow',
          Dimensions: [{ Name: 'Service', Value: 'api' }],
        }),
      ),
    );
    events.length = 0;
    delivered.length = 0;
    await cw.send(
      new PutMetricDataCommand({
        Namespace: 'Test',
        MetricData: [{ MetricName: metric, Value: 50, Dimensions: [{ Name: 'Service', Value: 'api' }] }],
      }),
    );
    nextMinute();
    await settle();
    const ev = events.find((e) => e.detail.alarmName === alarm)!;
    assert.ok(ev, 'event published');
    assert.equal(ev.source, 'aws.cloudwatch');
    assert.deepEqual(ev.resources, [`arn:aws:cloudwatch:us-east-1:000000000000:alarm:${alarm}`]);
    const detail = ev.detail as any;
    assert.equal(detail.state.value, 'ALARM');
    assert.equal(detail.previousState.value, 'OK');
    assert.match(detail.state.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$/);
    assert.equal(typeof detail.state.reasonData, 'string');
    assert.equal(detail.configuration.description, 'too slow');
    assert.deepEqual(detail.configuration.metrics[0].metricStat, {
      metric: { namespace: 'Test', name: metric, dimensions: { Service: 'api' } },
      period: 60,
      stat: 'Average',
    });
    assert.equal(delivered.length, 1);
    const inv = delivered[0];
    assert.equal(inv.arn, topic);
    assert.equal(inv.source, 'cloudwatch');
    assert.equal(inv.subject, `ALARM: "${alarm}" in US East (N. Virginia)`);
    const msg = JSON.parse(inv.payload);
    assert.equal(msg.AlarmName, alarm);
    assert.equal(msg.AlarmDescription, 'too slow');
    assert.equal(msg.AWSAccountId, '000000000000');
    assert.equal(msg.NewStateValue, 'ALARM');
    assert.equal(msg.OldStateValue, 'OK');
    assert.equal(msg.Region, 'US East (N. Virginia)');
    assert.equal(msg.AlarmArn, ev.resources[0]);
    assert.deepEqual(msg.Trigger.Dimensions, [{ value: 'api', name: 'Service' }]);
    assert.equal(msg.Trigger.Statistic, 'AVERAGE');
    assert.equal(msg.Trigger.Threshold, 5);
    const hist = await cw.send(new DescribeAlarmHistoryCommand({ AlarmName: alarm, HistoryItemType: 'Action' }));
    assert.equal(hist.AlarmHistoryItems![0].HistorySummary, `Successfully executed action ${topic}`);
  });

  test('an action nobody delivers, or that fails, is recorded as "Failed to execute action" and the tick goes on', async () => {
    nextMinute();
    const alarm = name('a');
    const nowhere = 'arn:aws:lambda:us-east-1:000000000000:function:nope';
    const broken = 'arn:aws:sns:us-east-1:000000000000:broken';
    await cw.send(new PutMetricAlarmCommand(alarmInput(alarm, name('m'), { EvaluationPeriods: 1, AlarmActions: [nowhere, broken] })));
    await cw.send(new SetAlarmStateCommand({ AlarmName: alarm, StateValue: 'ALARM', StateReason: 'testing actions' }));
    await settle();
    const hist = await cw.send(new DescribeAlarmHistoryCommand({ AlarmName: alarm, HistoryItemType: 'Action' }));
    const summaries = hist.AlarmHistoryItems!.map((h) => h.HistorySummary).sort();
    assert.equal(summaries.length, 2);
    assert.match(summaries[0]!, new RegExp(`^Failed to execute action ${nowhere}`));
    assert.match(summaries[1]!, new RegExp(`^Failed to execute action ${broken}\\. Received error: "topic is broken"$`));
    const data = JSON.parse(hist.AlarmHistoryItems![0].HistoryData!);
    assert.equal(data.actionState, 'Failed');
    // SetAlarmState is temporary: the next evaluation puts the real state back
    nextMinute();
    assert.equal((await state(alarm)).StateValue, 'INSUFFICIENT_DATA');
  });

  test('DisableAlarmActions stops actions, EnableAlarmActions restores them', async () => {
    const alarm = name('a');
    await cw.send(
      new PutMetricAlarmCommand(
        alarmInput(alarm, name('m'), { EvaluationPeriods: 1, AlarmActions: ['arn:aws:sns:us-east-1:000000000000:t'] }),
      ),
    );
    await cw.send(new DisableAlarmActionsCommand({ AlarmNames: [alarm] }));
    delivered.length = 0;
    await cw.send(new SetAlarmStateCommand({ AlarmName: alarm, StateValue: 'ALARM', StateReason: 'x' }));
    await settle();
    assert.equal(delivered.length, 0);
    assert.equal((await state(alarm)).ActionsEnabled, false);
    await cw.send(new EnableAlarmActionsCommand({ AlarmNames: [alarm] }));
    await cw.send(new SetAlarmStateCommand({ AlarmName: alarm, StateValue: 'OK', StateReason: 'x' }));
    await cw.send(new SetAlarmStateCommand({ AlarmName: alarm, StateValue: 'ALARM', StateReason: 'x' }));
    await settle();
    assert.equal(delivered.length, 1);
  });

  test('DescribeAlarmHistory: item types, ScanBy, pagination, AWS history JSON', async () => {
    const alarm = name('a');
    await cw.send(new PutMetricAlarmCommand(alarmInput(alarm, name('m'), { EvaluationPeriods: 1 })));
    for (const v of ['OK', 'ALARM', 'OK'] as const)
      await cw.send(new SetAlarmStateCommand({ AlarmName: alarm, StateValue: v, StateReason: `to ${v}`, StateReasonData: '{"a":1}' }));
    const all = await cw.send(new DescribeAlarmHistoryCommand({ AlarmName: alarm }));
    assert.deepEqual(
      all.AlarmHistoryItems!.map((h) => h.HistoryItemType),
      ['StateUpdate', 'StateUpdate', 'StateUpdate', 'ConfigurationUpdate'],
    );
    assert.equal(all.AlarmHistoryItems![0].HistorySummary, 'Alarm updated from ALARM to OK');
    assert.deepEqual(JSON.parse(all.AlarmHistoryItems![0].HistoryData!), {
      version: '1.0',
      oldState: { stateValue: 'ALARM', stateReason: 'to ALARM', stateReasonData: { a: 1 } },
      newState: { stateValue: 'OK', stateReason: 'to OK', stateReasonData: { a: 1 } },
    });
    assert.equal(all.AlarmHistoryItems![3].HistorySummary, `Alarm "${alarm}" created`);
    const asc = await cw.send(new DescribeAlarmHistoryCommand({ AlarmName: alarm, ScanBy: 'TimestampAscending', MaxRecords: 2 }));
    assert.deepEqual(
      asc.AlarmHistoryItems!.map((h) => h.HistoryItemType),
      ['ConfigurationUpdate', 'StateUpdate'],
    );
    const rest = await cw.send(
      new DescribeAlarmHistoryCommand({ AlarmName: alarm, ScanBy: 'TimestampAscending', MaxRecords: 2, NextToken: asc.NextToken }),
    );
    assert.deepEqual(
      rest.AlarmHistoryItems!.map((h) => h.HistorySummary),
      ['Alarm updated from OK to ALARM', 'Alarm updated from ALARM to OK'],
    );
    assert.equal(rest.NextToken, undefined);
    const states = await cw.send(new DescribeAlarmHistoryCommand({ AlarmName: alarm, HistoryItemType: 'ConfigurationUpdate' }));
    assert.equal(states.AlarmHistoryItems!.length, 1);
  });

  test('the tick evaluates every alarm once a minute on the clock', async () => {
    nextMinute();
    const metric = name('m');
    const alarm = name('a');
    await cw.send(new PutMetricAlarmCommand(alarmInput(alarm, metric, { EvaluationPeriods: 1 })));
    assert.equal((await state(alarm)).StateValue, 'INSUFFICIENT_DATA');
    await putValue(metric, 9, clock.now() + 10_000);
    clock.advance(30_000);
    assert.equal((await state(alarm)).StateValue, 'INSUFFICIENT_DATA', 'not before the minute ends');
    clock.advance(30_000);
    assert.equal((await state(alarm)).StateValue, 'ALARM');
  });
});

describe('alarm operations', () => {
  test('DescribeAlarms: prefix, state, action prefix, pagination; DescribeAlarmsForMetric; DeleteAlarms', async () => {
    const p = name('list');
    for (let i = 0; i < 5; i++)
      await cw.send(
        new PutMetricAlarmCommand(
          alarmInput(`${p}-${i}`, `${p}-metric`, {
            EvaluationPeriods: 1,
            AlarmActions: i % 2 ? ['arn:aws:sns:us-east-1:000000000000:odd'] : [],
          }),
        ),
      );
    await cw.send(new SetAlarmStateCommand({ AlarmName: `${p}-3`, StateValue: 'ALARM', StateReason: 'x' }));
    const page1 = await cw.send(new DescribeAlarmsCommand({ AlarmNamePrefix: p, MaxRecords: 3 }));
    assert.deepEqual(
      page1.MetricAlarms!.map((a) => a.AlarmName),
      [`${p}-0`, `${p}-1`, `${p}-2`],
    );
    const page2 = await cw.send(new DescribeAlarmsCommand({ AlarmNamePrefix: p, MaxRecords: 3, NextToken: page1.NextToken }));
    assert.deepEqual(
      page2.MetricAlarms!.map((a) => a.AlarmName),
      [`${p}-3`, `${p}-4`],
    );
    assert.equal(page2.NextToken, undefined);
    const alarming = await cw.send(new DescribeAlarmsCommand({ AlarmNamePrefix: p, StateValue: 'ALARM' }));
    assert.deepEqual(
      alarming.MetricAlarms!.map((a) => a.AlarmName),
      [`${p}-3`],
    );
    const odd = await cw.send(new DescribeAlarmsCommand({ AlarmNamePrefix: p, ActionPrefix: 'arn:aws:sns:us-east-1:000000000000:od' }));
    assert.deepEqual(
      odd.MetricAlarms!.map((a) => a.AlarmName),
      [`${p}-1`, `${p}-3`],
    );
    const forMetric = await cw.send(
      new DescribeAlarmsForMetricCommand({ Namespace: 'Test', MetricName: `${p}-metric`, Statistic: 'Average' }),
    );
    assert.equal(forMetric.MetricAlarms!.length, 5);
    await assert.rejects(
      cw.send(new DeleteAlarmsCommand({ AlarmNames: [`${p}-0`, `${p}-nope`] })),
      (e: any) => code(e) === 'ResourceNotFound',
    );
    await cw.send(new DeleteAlarmsCommand({ AlarmNames: [`${p}-0`, `${p}-1`] }));
    const left = await cw.send(new DescribeAlarmsCommand({ AlarmNamePrefix: p }));
    assert.equal(left.MetricAlarms!.length, 3);
  });

  test('PutMetricAlarm validation: DatapointsToAlarm > EvaluationPeriods, Period × periods > 1 day, Statistic and ExtendedStatistic', async () => {
    await assert.rejects(
      cw.send(new PutMetricAlarmCommand(alarmInput(name('a'), 'x', { DatapointsToAlarm: 4 }))),
      (e: any) => code(e) === 'ValidationError',
    );
    await assert.rejects(
      cw.send(new PutMetricAlarmCommand(alarmInput(name('a'), 'x', { Period: 3600, EvaluationPeriods: 25 }))),
      (e: any) =>
        code(e) === 'ValidationError' &&
        e.message === 'Metrics cannot be checked across more than a day (EvaluationPeriods * Period must be <= 86400)',
    );
    await assert.rejects(
      cw.send(new PutMetricAlarmCommand(alarmInput(name('a'), 'x', { ExtendedStatistic: 'p99' }))),
      (e: any) => code(e) === 'InvalidParameterCombination',
    );
    await assert.rejects(
      cw.send(new PutMetricAlarmCommand(alarmInput(name('a'), 'x', { TreatMissingData: 'sometimes' }))),
      (e: any) => code(e) === 'ValidationError',
    );
  });

  test('TagResource / UntagResource / ListTagsForResource on an alarm ARN', async () => {
    const alarm = name('a');
    await cw.send(new PutMetricAlarmCommand({ ...alarmInput(alarm, 'x'), Tags: [{ Key: 'team', Value: 'core' }] }));
    const arn = `arn:aws:cloudwatch:us-east-1:000000000000:alarm:${alarm}`;
    await cw.send(new TagResourceCommand({ ResourceARN: arn, Tags: [{ Key: 'env', Value: 'prod' }] }));
    assert.deepEqual((await cw.send(new ListTagsForResourceCommand({ ResourceARN: arn }))).Tags, [
      { Key: 'team', Value: 'core' },
      { Key: 'env', Value: 'prod' },
    ]);
    await cw.send(new UntagResourceCommand({ ResourceARN: arn, TagKeys: ['team'] }));
    assert.deepEqual((await cw.send(new ListTagsForResourceCommand({ ResourceARN: arn }))).Tags, [{ Key: 'env', Value: 'prod' }]);
    await assert.rejects(
      cw.send(new ListTagsForResourceCommand({ ResourceARN: `${arn}-nope` })),
      (e: any) => code(e) === 'ResourceNotFoundException',
    );
  });
});

describe('service metrics (core/metrics sink) and opsbox health', () => {
  test('datapoints other services put through env.metrics land in CloudWatch (AWS/ namespaces too)', async () => {
    gw.env.metrics.put('000000000000', 'us-east-1', [
      { namespace: 'AWS/CodeBuild', metricName: 'Builds', dimensions: [{ Name: 'ProjectName', Value: 'web' }], value: 1, unit: 'Count' },
      { namespace: 'AWS/CodeBuild', metricName: 'Builds', dimensions: [{ Name: 'ProjectName', Value: 'web' }], value: 1, unit: 'Count' },
    ]);
    const list = await cw.send(new ListMetricsCommand({ Namespace: 'AWS/CodeBuild' }));
    assert.deepEqual(list.Metrics, [
      { Namespace: 'AWS/CodeBuild', MetricName: 'Builds', Dimensions: [{ Name: 'ProjectName', Value: 'web' }] },
    ]);
    const out = await cw.send(
      new GetMetricStatisticsCommand({
        Namespace: 'AWS/CodeBuild',
        MetricName: 'Builds',
        Dimensions: [{ Name: 'ProjectName', Value: 'web' }],
        StartTime: new Date(clock.now() - MIN),
        EndTime: new Date(clock.now() + MIN),
        Period: 60,
        Statistics: ['Sum'],
      }),
    );
    assert.equal(out.Datapoints![0].Sum, 2);
  });

  test('every tick puts opsbox health under the Opsbox namespace', async () => {
    nextMinute();
    const names = (await cw.send(new ListMetricsCommand({ Namespace: 'Opsbox' }))).Metrics!.map((m) => m.MetricName).sort();
    assert.deepEqual(names, ['EventLoopLag', 'EventLoopLagMax', 'HeapUsed', 'ProcessRSS']);
  });
});

describe('composite alarms', () => {
  test('the rule is re-evaluated when a child changes; DescribeAlarms finds children and parents', async () => {
    const a = name('child');
    const b = name('child');
    for (const n of [a, b]) await cw.send(new PutMetricAlarmCommand(alarmInput(n, name('m'), { EvaluationPeriods: 1 })));
    const c = name('composite');
    events.length = 0;
    delivered.length = 0;
    await cw.send(
      new PutCompositeAlarmCommand({
        AlarmName: c,
        AlarmRule: `ALARM("${a}") AND (NOT OK(${b}) OR FALSE)`,
        AlarmActions: ['arn:aws:sns:us-east-1:000000000000:composite'],
      }),
    );
    assert.equal((await state(c, ['CompositeAlarm'])).StateValue, 'OK');
    await cw.send(new SetAlarmStateCommand({ AlarmName: a, StateValue: 'ALARM', StateReason: 'x' }));
    assert.equal((await state(c, ['CompositeAlarm'])).StateValue, 'ALARM', 'b is INSUFFICIENT_DATA, so NOT OK(b) holds');
    await cw.send(new SetAlarmStateCommand({ AlarmName: b, StateValue: 'OK', StateReason: 'x' }));
    const s = await state(c, ['CompositeAlarm']);
    assert.equal(s.StateValue, 'OK');
    assert.match(
      s.StateReason!,
      new RegExp(
        `^arn:aws:cloudwatch:us-east-1:000000000000:alarm:${b} transitioned to OK at \\w+day \\d+ \\w+, 2026 \\d\\d:\\d\\d:\\d\\d UTC$`,
      ),
    );
    await settle();
    assert.equal(delivered.filter((d) => d.arn.endsWith(':composite')).length, 1);
    assert.ok(events.some((e) => e.detail.alarmName === c && (e.detail as any).configuration.alarmRule));
    const children = await cw.send(new DescribeAlarmsCommand({ ChildrenOfAlarmName: c, AlarmTypes: ['MetricAlarm', 'CompositeAlarm'] }));
    assert.deepEqual(children.MetricAlarms!.map((x) => x.AlarmName).sort(), [a, b].sort());
    const parents = await cw.send(new DescribeAlarmsCommand({ ParentsOfAlarmName: a, AlarmTypes: ['CompositeAlarm'] }));
    assert.deepEqual(
      parents.CompositeAlarms!.map((x) => x.AlarmName),
      [c],
    );
    const metricOnly = await cw.send(new DescribeAlarmsCommand({ AlarmNames: [c] }));
    assert.deepEqual(metricOnly.CompositeAlarms, [], 'AlarmTypes defaults to MetricAlarm');
  });

  test('TRUE/FALSE constants, unknown children and syntax errors', async () => {
    const c = name('composite');
    await cw.send(new PutCompositeAlarmCommand({ AlarmName: c, AlarmRule: 'TRUE' }));
    assert.equal((await state(c, ['CompositeAlarm'])).StateValue, 'ALARM');
    await assert.rejects(
      cw.send(new PutCompositeAlarmCommand({ AlarmName: name('composite'), AlarmRule: 'ALARM("no-such-alarm")' })),
      (e: any) => code(e) === 'ValidationError' && /alarms \[no-such-alarm\] in the alarm rule do not exist/.test(e.message),
    );
    await assert.rejects(
      cw.send(new PutCompositeAlarmCommand({ AlarmName: name('composite'), AlarmRule: 'ALARM(a) AND' })),
      (e: any) => code(e) === 'ValidationError',
    );
  });
});
