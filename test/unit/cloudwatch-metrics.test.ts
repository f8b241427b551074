/**
 * Metrics through the real gateway in-process (SDK v3, awsJson 1.0) on a ManualClock:
 * PutMetricData rules and AWS's errors, statistics and percentiles against hand-computed values,
 * units, resolutions, ListMetrics filters, GetMetricData with metric math, SEARCH, ScanBy and
 * pagination; plus the pure pieces (math parser, value histograms, Java number format).
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import {
  CloudWatchClient,
  GetMetricDataCommand,
  GetMetricStatisticsCommand,
  ListMetricsCommand,
  PutMetricDataCommand,
  type MetricDataQuery,
  type MetricDatum,
} from '@aws-sdk/client-cloudwatch';
import { ManualClock } from '../../src/core/clock.js';
import { cloudwatch } from '../../src/services/cloudwatch/index.js';
import { javaDouble, reasonDate } from '../../src/services/cloudwatch/format.js';
import { evaluate, parse } from '../../src/services/cloudwatch/math.js';
import { decode, MAX_PAIRS, percentile, ValueCounts } from '../../src/services/cloudwatch/values.js';
import { InProcessOpsbox, sdkConfig } from '../helpers/inProcess.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 26, 12, 0, 0);
const clock = new ManualClock(T0 + 10 * MIN);
const gw = new InProcessOpsbox([cloudwatch], clock);
const cw = new CloudWatchClient(sdkConfig(gw));
after(() => gw.close());
const code = (e: any) => e.Code ?? e.name;
let seq = 0;
const ns = () => `NS${++seq}`;

const put = (Namespace: string, MetricData: MetricDatum[]) => cw.send(new PutMetricDataCommand({ Namespace, MetricData }));
const stats = (Namespace: string, MetricName: string, extra: Record<string, unknown> = {}) =>
  cw.send(
    new GetMetricStatisticsCommand({
      Namespace,
      MetricName,
      StartTime: new Date(T0),
      EndTime: new Date(T0 + 10 * MIN),
      Period: 60,
      Statistics: ['SampleCount', 'Average', 'Sum', 'Minimum', 'Maximum'],
      ...extra,
    }),
  );

describe('PutMetricData + GetMetricStatistics', () => {
  test('values in one minute: SampleCount, Average, Sum, Minimum, Maximum by hand', async () => {
    const n = ns();
    await put(
      n,
      [3, 5, 10, 2].map((Value, i) => ({ MetricName: 'Latency', Value, Unit: 'Milliseconds', Timestamp: new Date(T0 + 5_000 * i) })),
    );
    const out = await stats(n, 'Latency');
    assert.equal(out.Label, 'Latency');
    assert.equal(out.Datapoints!.length, 1);
    const dp = out.Datapoints![0];
    assert.deepEqual(
      { ts: dp.Timestamp!.getTime(), n: dp.SampleCount, avg: dp.Average, sum: dp.Sum, min: dp.Minimum, max: dp.Maximum, unit: dp.Unit },
      { ts: T0, n: 4, avg: 5, sum: 20, min: 2, max: 10, unit: 'Milliseconds' },
    );
  });

  test('Values + Counts and StatisticValues combine; percentiles by nearest rank', async () => {
    const n = ns();
    await put(n, [
      { MetricName: 'M', Values: [1, 2, 3, 4], Counts: [1, 1, 1, 5], Timestamp: new Date(T0) },
      { MetricName: 'M', StatisticValues: { SampleCount: 2, Sum: 10, Minimum: 5, Maximum: 5 }, Timestamp: new Date(T0 + 1000) },
    ]);
    const out = await stats(n, 'M');
    const dp = out.Datapoints![0];
    // samples: 1, 2, 3, 4×5, 5×2 → n 10, sum 36
    assert.deepEqual([dp.SampleCount, dp.Sum, dp.Average, dp.Minimum, dp.Maximum], [10, 36, 3.6, 1, 5]);
    const pct = await stats(n, 'M', { Statistics: undefined, ExtendedStatistics: ['p10', 'p25', 'p50', 'p90', 'p99.9', 'p100'] });
    assert.deepEqual(pct.Datapoints![0].ExtendedStatistics, { p10: 1, p25: 3, p50: 4, p90: 5, 'p99.9': 5, p100: 5 });
  });

  test('percentiles of 1..100: p50 = 50, p99 = 99, p99.9 = 100; two periods of 5 minutes', async () => {
    const n = ns();
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    await put(n, [
      { MetricName: 'M', Values: values.slice(0, 50), Timestamp: new Date(T0 + MIN) },
      { MetricName: 'M', Values: values.slice(50), Timestamp: new Date(T0 + 3 * MIN) },
      { MetricName: 'M', Value: 1000, Timestamp: new Date(T0 + 6 * MIN) },
    ]);
    const out = await stats(n, 'M', { Period: 300, Statistics: undefined, ExtendedStatistics: ['p50', 'p99', 'p99.9'] });
    const dps = out.Datapoints!.sort((a, b) => a.Timestamp!.getTime() - b.Timestamp!.getTime());
    assert.deepEqual(
      dps.map((d) => d.Timestamp!.getTime()),
      [T0, T0 + 5 * MIN],
    );
    assert.deepEqual(dps[0].ExtendedStatistics, { p50: 50, p99: 99, 'p99.9': 100 });
    assert.deepEqual(dps[1].ExtendedStatistics, { p50: 1000, p99: 1000, 'p99.9': 1000 });
    const avg = await stats(n, 'M', { Period: 300, Statistics: ['Average', 'SampleCount'] });
    assert.deepEqual(avg.Datapoints!.map((d) => [d.Average, d.SampleCount]).sort(), [
      [1000, 1],
      [50.5, 100],
    ]);
  });

  test('a statistic set with Minimum ≠ Maximum has no percentiles, as AWS documents', async () => {
    const n = ns();
    await put(n, [{ MetricName: 'M', StatisticValues: { SampleCount: 3, Sum: 6, Minimum: 1, Maximum: 3 }, Timestamp: new Date(T0) }]);
    const out = await stats(n, 'M', { Statistics: undefined, ExtendedStatistics: ['p50'] });
    assert.deepEqual(out.Datapoints![0].ExtendedStatistics ?? {}, {});
  });

  test('units: a Unit filter returns only that unit; without it each unit is its own datapoint', async () => {
    const n = ns();
    await put(n, [
      { MetricName: 'M', Value: 1, Unit: 'Count', Timestamp: new Date(T0) },
      { MetricName: 'M', Value: 7, Unit: 'Seconds', Timestamp: new Date(T0) },
      { MetricName: 'M', Value: 3, Unit: 'Count', Timestamp: new Date(T0) },
    ]);
    const counted = await stats(n, 'M', { Unit: 'Count' });
    assert.deepEqual(
      counted.Datapoints!.map((d) => [d.Sum, d.Unit]),
      [[4, 'Count']],
    );
    const all = await stats(n, 'M');
    assert.deepEqual(all.Datapoints!.map((d) => [d.Sum, d.Unit]).sort(), [
      [4, 'Count'],
      [7, 'Seconds'],
    ]);
  });

  test('StorageResolution 1 keeps seconds (period 1); 60 folds them into the minute', async () => {
    const n = ns();
    await put(n, [
      { MetricName: 'Hi', Value: 1, StorageResolution: 1, Timestamp: new Date(T0 + 1_000) },
      { MetricName: 'Hi', Value: 2, StorageResolution: 1, Timestamp: new Date(T0 + 2_000) },
      { MetricName: 'Lo', Value: 1, Timestamp: new Date(T0 + 1_000) },
      { MetricName: 'Lo', Value: 2, Timestamp: new Date(T0 + 2_000) },
    ]);
    const hi = await stats(n, 'Hi', { Period: 1, EndTime: new Date(T0 + 5_000), Statistics: ['Sum'] });
    assert.deepEqual(hi.Datapoints!.map((d) => [d.Timestamp!.getTime() - T0, d.Sum]).sort(), [
      [1000, 1],
      [2000, 2],
    ]);
    const lo = await stats(n, 'Lo', { Period: 1, EndTime: new Date(T0 + 5_000), Statistics: ['Sum'] });
    assert.deepEqual(
      lo.Datapoints!.map((d) => [d.Timestamp!.getTime() - T0, d.Sum]),
      [[0, 3]],
    );
  });

  test('dimensions are part of the metric identity, in any order', async () => {
    const n = ns();
    const a = { Name: 'A', Value: '1' };
    const b = { Name: 'B', Value: '2' };
    await put(n, [
      { MetricName: 'M', Value: 1, Dimensions: [a, b], Timestamp: new Date(T0) },
      { MetricName: 'M', Value: 2, Dimensions: [b, a], Timestamp: new Date(T0) },
      { MetricName: 'M', Value: 5, Dimensions: [a], Timestamp: new Date(T0) },
    ]);
    assert.equal((await stats(n, 'M', { Dimensions: [b, a] })).Datapoints![0].Sum, 3);
    assert.equal((await stats(n, 'M', { Dimensions: [a] })).Datapoints![0].Sum, 5);
    assert.deepEqual((await stats(n, 'M')).Datapoints, []);
  });

  test('AWS errors: Value with Values, Values/Counts sizes, StatisticValues, limits, timestamps, namespace', async () => {
    const n = ns();
    const reject = async (data: MetricDatum[], c: string, message: string | RegExp, namespace = n) =>
      assert.rejects(put(namespace, data), (e: any) => {
        assert.equal(code(e), c);
        if (typeof message === 'string') assert.equal(e.message, message);
        else assert.match(e.message, message);
        return true;
      });
    await reject(
      [
        { MetricName: 'M', Value: 1 },
        { MetricName: 'M', Value: 1, Values: [1] },
      ],
      'InvalidParameterCombination',
      'The parameters MetricData.member.2.Value and MetricData.member.2.Values are mutually exclusive and you have specified both.',
    );
    await reject(
      [{ MetricName: 'M', Value: 1, StatisticValues: { SampleCount: 1, Sum: 1, Minimum: 1, Maximum: 1 } }],
      'InvalidParameterCombination',
      'The parameters MetricData.member.1.Value and MetricData.member.1.StatisticValues are mutually exclusive and you have specified both.',
    );
    await reject(
      [{ MetricName: 'M', Values: [1, 2], Counts: [1] }],
      'InvalidParameterValue',
      'The parameters MetricData.member.1.Values and MetricData.member.1.Counts must be of the same size.',
    );
    await reject([{ MetricName: 'M' }], 'MissingParameter', /At least one of the parameters MetricData\.member\.1\.Value/);
    await reject(
      Array.from({ length: 1001 }, () => ({ MetricName: 'M', Value: 1 })),
      'InvalidParameterValue',
      'The collection MetricData must not have a size greater than 1000.',
    );
    await reject(
      [{ MetricName: 'M', Value: 1, Dimensions: Array.from({ length: 31 }, (_, i) => ({ Name: `d${i}`, Value: 'v' })) }],
      'InvalidParameterValue',
      'The collection MetricData.member.1.Dimensions must not have a size greater than 30.',
    );
    await reject(
      [{ MetricName: 'M', Value: 1, Timestamp: new Date(clock.now() - 15 * 86_400_000) }],
      'InvalidParameterValue',
      'The parameter MetricData.member.1.Timestamp must specify a time no more than two weeks in the past.',
    );
    await reject(
      [{ MetricName: 'M', Value: 1, Timestamp: new Date(clock.now() + 3 * 3_600_000) }],
      'InvalidParameterValue',
      'The parameter MetricData.member.1.Timestamp must specify a time no more than two hours in the future.',
    );
    await reject([{ MetricName: 'M', Value: 1, StorageResolution: 30 }], 'InvalidParameterValue', /StorageResolution/);
    await reject(
      [{ MetricName: 'M', Value: 1 }],
      'InvalidParameterValue',
      'The value AWS/EC2 for parameter Namespace is invalid.',
      'AWS/EC2',
    );
  });

  test('GetMetricStatistics errors: both Statistics and ExtendedStatistics, more than 1,440 datapoints, bad Period', async () => {
    const n = ns();
    await assert.rejects(stats(n, 'M', { ExtendedStatistics: ['p99'] }), (e: any) => code(e) === 'InvalidParameterCombination');
    await assert.rejects(
      stats(n, 'M', { Period: 1, StartTime: new Date(T0), EndTime: new Date(T0 + 2 * 3_600_000) }),
      (e: any) =>
        code(e) === 'InvalidParameterCombination' &&
        e.message ===
          'You have requested up to 7200 datapoints, which exceeds the limit of 1440. You may reduce the datapoints requested by increasing Period, or decreasing the time range.',
    );
    await assert.rejects(stats(n, 'M', { Period: 61 }), (e: any) => code(e) === 'InvalidParameterValue');
  });
});

describe('ListMetrics', () => {
  test('Namespace, MetricName and Dimensions filters; RecentlyActive PT3H', async () => {
    const n = ns();
    await put(n, [
      { MetricName: 'A', Value: 1, Dimensions: [{ Name: 'Service', Value: 'api' }] },
      { MetricName: 'A', Value: 1, Dimensions: [{ Name: 'Service', Value: 'web' }] },
      {
        MetricName: 'B',
        Value: 1,
        Dimensions: [
          { Name: 'Service', Value: 'api' },
          { Name: 'Stage', Value: 'prod' },
        ],
      },
    ]);
    const all = await cw.send(new ListMetricsCommand({ Namespace: n }));
    assert.equal(all.Metrics!.length, 3);
    const a = await cw.send(new ListMetricsCommand({ Namespace: n, MetricName: 'A' }));
    assert.deepEqual(a.Metrics!.map((m) => m.Dimensions![0].Value).sort(), ['api', 'web']);
    const api = await cw.send(new ListMetricsCommand({ Namespace: n, Dimensions: [{ Name: 'Service', Value: 'api' }] }));
    assert.deepEqual(api.Metrics!.map((m) => m.MetricName).sort(), ['A', 'B']);
    const staged = await cw.send(new ListMetricsCommand({ Namespace: n, Dimensions: [{ Name: 'Stage' }] }));
    assert.deepEqual(staged.Metrics, [
      {
        Namespace: n,
        MetricName: 'B',
        Dimensions: [
          { Name: 'Service', Value: 'api' },
          { Name: 'Stage', Value: 'prod' },
        ],
      },
    ]);
    assert.equal((await cw.send(new ListMetricsCommand({ Namespace: n, RecentlyActive: 'PT3H' }))).Metrics!.length, 3);
    clock.advance(4 * 3_600_000);
    assert.equal((await cw.send(new ListMetricsCommand({ Namespace: n, RecentlyActive: 'PT3H' }))).Metrics!.length, 0);
    assert.equal((await cw.send(new ListMetricsCommand({ Namespace: n }))).Metrics!.length, 3);
  });

  test('pages of 500 with NextToken', async () => {
    const n = ns();
    for (let b = 0; b < 2; b++)
      await put(
        n,
        Array.from({ length: 300 }, (_, i) => ({ MetricName: `m${b * 300 + i}`, Value: 1 })),
      );
    const first = await cw.send(new ListMetricsCommand({ Namespace: n }));
    assert.equal(first.Metrics!.length, 500);
    const second = await cw.send(new ListMetricsCommand({ Namespace: n, NextToken: first.NextToken }));
    assert.equal(second.Metrics!.length, 100);
    assert.equal(second.NextToken, undefined);
  });
});

describe('GetMetricData and metric math', () => {
  // three minutes of m1 = 1, 2, 3 and m2 = 10, 20, 30; m3 = 1, (missing), 3
  const n = 'Math';
  const start = new Date(T0);
  const end = new Date(T0 + 3 * MIN);
  let seeded = false;
  async function seed() {
    if (seeded) return;
    seeded = true;
    const at = (i: number) => new Date(T0 + i * MIN + 1000);
    await put(n, [
      ...[1, 2, 3].map((Value, i) => ({ MetricName: 'm1', Value, Timestamp: at(i) })),
      ...[10, 20, 30].map((Value, i) => ({ MetricName: 'm2', Value, Timestamp: at(i) })),
      { MetricName: 'm3', Value: 1, Timestamp: at(0) },
      { MetricName: 'm3', Value: 3, Timestamp: at(2) },
      ...['a', 'b'].flatMap((svc, k) =>
        [0, 1, 2].map((i) => ({
          MetricName: 'Req',
          Value: (k + 1) * 100 + i,
          Dimensions: [{ Name: 'Service', Value: svc }],
          Timestamp: at(i),
        })),
      ),
      {
        MetricName: 'Req',
        Value: 5,
        Dimensions: [
          { Name: 'Service', Value: 'c' },
          { Name: 'Stage', Value: 'x' },
        ],
        Timestamp: at(0),
      },
    ]);
  }
  const stat = (Id: string, MetricName: string, Stat = 'Sum', ReturnData = false): MetricDataQuery => ({
    Id,
    MetricStat: { Metric: { Namespace: n, MetricName }, Period: 60, Stat },
    ReturnData,
  });
  async function run(expression: string, extra: MetricDataQuery[] = [], opts: Record<string, unknown> = {}, id = 'e') {
    await seed();
    const out = await cw.send(
      new GetMetricDataCommand({
        StartTime: start,
        EndTime: end,
        ScanBy: 'TimestampAscending',
        MetricDataQueries: [stat('m1', 'm1'), stat('m2', 'm2'), stat('m3', 'm3'), ...extra, { Id: 'e', Expression: expression }],
        ...opts,
      }),
    );
    return out.MetricDataResults!.filter((r) => r.Id === id);
  }
  const values = async (expression: string) => {
    const [r] = await run(expression);
    return r.Timestamps!.map((t, i) => [(t.getTime() - T0) / MIN, r.Values![i]]);
  };
  const cases: [string, number[][]][] = [
    [
      'm1 + m2',
      [
        [0, 11],
        [1, 22],
        [2, 33],
      ],
    ],
    [
      'm2 - m1 * 2',
      [
        [0, 8],
        [1, 16],
        [2, 24],
      ],
    ],
    [
      'm2 / m1',
      [
        [0, 10],
        [1, 10],
        [2, 10],
      ],
    ],
    [
      'm1 ^ 2',
      [
        [0, 1],
        [1, 4],
        [2, 9],
      ],
    ],
    [
      '-m1 + 10',
      [
        [0, 9],
        [1, 8],
        [2, 7],
      ],
    ],
    [
      '(m1 + 1) * 2',
      [
        [0, 4],
        [1, 6],
        [2, 8],
      ],
    ],
    [
      'm1 + m3',
      [
        [0, 2],
        [2, 6],
      ],
    ],
    [
      'SUM(METRICS())',
      [
        [0, 12],
        [1, 22],
        [2, 36],
      ],
    ],
    [
      'AVG([m1, m2])'.replace('[m1, m2]', 'METRICS("m")'),
      [
        [0, 4],
        [1, 11],
        [2, 12],
      ],
    ],
    [
      'MAX(METRICS())',
      [
        [0, 10],
        [1, 20],
        [2, 30],
      ],
    ],
    [
      'MIN(METRICS("m2"))',
      [
        [0, 10],
        [1, 20],
        [2, 30],
      ],
    ],
    [
      'm1 / SUM(m1)',
      [
        [0, 1 / 6],
        [1, 2 / 6],
        [2, 3 / 6],
      ],
    ],
    [
      'm1 - AVG(m1)',
      [
        [0, -1],
        [1, 0],
        [2, 1],
      ],
    ],
    [
      'FILL(m3, 0)',
      [
        [0, 1],
        [1, 0],
        [2, 3],
      ],
    ],
    [
      'FILL(m3, REPEAT)',
      [
        [0, 1],
        [1, 1],
        [2, 3],
      ],
    ],
    [
      'FILL(m3, LINEAR)',
      [
        [0, 1],
        [1, 2],
        [2, 3],
      ],
    ],
    [
      'DIFF(m2)',
      [
        [1, 10],
        [2, 10],
      ],
    ],
    [
      'RATE(m2)',
      [
        [1, 10 / 60],
        [2, 10 / 60],
      ],
    ],
    [
      'IF(m1 > 1, m1, 0)',
      [
        [0, 0],
        [1, 2],
        [2, 3],
      ],
    ],
    ['IF(m1 >= 2 AND m2 < 30, 1)', [[1, 1]]],
    [
      'IF(m1 == 1 OR m1 != 2, m2)',
      [
        [0, 10],
        [2, 30],
      ],
    ],
    [
      'ABS(m1 - 2)',
      [
        [0, 1],
        [1, 0],
        [2, 1],
      ],
    ],
  ];
  for (const [expr, expected] of cases)
    test(`${expr} → ${JSON.stringify(expected)}`, async () => {
      const got = await values(expr);
      assert.equal(got.length, expected.length, JSON.stringify(got));
      got.forEach(([t, v], i) => {
        assert.equal(t, expected[i][0]);
        assert.ok(Math.abs(v - expected[i][1]) < 1e-9, `${v} ≈ ${expected[i][1]}`);
      });
    });

  test("SEARCH('{Math,Service} MetricName=\"Req\"', 'Sum', 60) returns one result per matching metric; SUM over it", async () => {
    const found = await run(`SEARCH('{${n},Service} MetricName="Req"', 'Sum', 60)`);
    assert.deepEqual(found.map((r) => r.Label).sort(), ['a Req', 'b Req']);
    assert.deepEqual(found.find((r) => r.Label === 'a Req')!.Values, [100, 101, 102]);
    const [total] = await run(`SUM(SEARCH('{${n},Service} Req', 'Sum', 60))`);
    assert.deepEqual(total.Values, [300, 302, 304]);
    const narrowed = await run(`SEARCH('{${n},Service} MetricName="Req" Service="b"', 'Average', 60)`);
    assert.deepEqual(
      narrowed.map((r) => r.Label),
      ['b Req'],
    );
  });

  test('Label, ReturnData false, ScanBy descending (the default), StatusCode', async () => {
    await seed();
    const out = await cw.send(
      new GetMetricDataCommand({
        StartTime: start,
        EndTime: end,
        MetricDataQueries: [{ ...stat('m1', 'm1', 'Average', true), Label: 'first' }, stat('m2', 'm2')],
      }),
    );
    assert.equal(out.MetricDataResults!.length, 1);
    const r = out.MetricDataResults![0];
    assert.equal(r.Label, 'first');
    assert.equal(r.StatusCode, 'Complete');
    assert.deepEqual(r.Values, [3, 2, 1]);
    assert.deepEqual(
      r.Timestamps!.map((t) => (t.getTime() - T0) / MIN),
      [2, 1, 0],
    );
  });

  test('MaxDatapoints pages with NextToken and PartialData', async () => {
    await seed();
    const input = {
      StartTime: start,
      EndTime: end,
      ScanBy: 'TimestampAscending' as const,
      MaxDatapoints: 4,
      MetricDataQueries: [stat('m1', 'm1', 'Sum', true), stat('m2', 'm2', 'Sum', true)],
    };
    const p1 = await cw.send(new GetMetricDataCommand(input));
    assert.deepEqual(
      p1.MetricDataResults!.map((r) => [r.Id, r.Values, r.StatusCode]),
      [
        ['m1', [1, 2, 3], 'Complete'],
        ['m2', [10], 'PartialData'],
      ],
    );
    const p2 = await cw.send(new GetMetricDataCommand({ ...input, NextToken: p1.NextToken }));
    assert.deepEqual(
      p2.MetricDataResults!.map((r) => [r.Id, r.Values, r.StatusCode]),
      [
        ['m1', [], 'Complete'],
        ['m2', [20, 30], 'Complete'],
      ],
    );
    assert.equal(p2.NextToken, undefined);
  });

  test('p99 through MetricStat; errors: unknown function, duplicate ids, unknown id', async () => {
    const [p] = await run('m1 * 1', [stat('p', 'm2', 'p99', true)], {}, 'p');
    assert.deepEqual(p.Values, [10, 20, 30]);
    await assert.rejects(run('FOO(m1)'), (e: any) => code(e) === 'ValidationError' && /Unknown function FOO/.test(e.message));
    await assert.rejects(run('m1', [stat('m1', 'm1')]), (e: any) => code(e) === 'ValidationError' && /not unique/.test(e.message));
    await assert.rejects(run('nope + 1'), (e: any) => code(e) === 'ValidationError');
  });
});

describe('pure pieces', () => {
  test('math precedence: ^ binds tighter than unary minus, * than +, comparisons than AND', () => {
    const ctx = {
      get: () => {
        throw new Error();
      },
      metrics: () => [],
      search: () => [],
      grid: () => [],
    };
    assert.equal(evaluate(parse('-2 ^ 2'), ctx), -4);
    assert.equal(evaluate(parse('2 ^ 3 ^ 2'), ctx), 512);
    assert.equal(evaluate(parse('1 + 2 * 3 - 4 / 2'), ctx), 5);
    assert.equal(evaluate(parse('1 < 2 AND 3 > 2 || 0'), ctx), 1);
    assert.equal(evaluate(parse('NOT 0'), ctx), 1);
  });

  test('value histograms: exact up to MAX_PAIRS distinct values, bounded and close beyond', () => {
    const counts = (pairs: [number, number][]) => {
      const c = new ValueCounts();
      for (const [v, n] of pairs) c.add(v, n);
      return c;
    };
    assert.deepEqual(
      [
        ...decode(
          counts([
            [5, 1],
            [1, 1],
            [3, 1],
            [1, 1],
            [-0, 2],
            [0, 1],
          ]).encode(),
        )!,
      ],
      [0, 3, 1, 2, 3, 1, 5, 1],
    );
    const many = counts(Array.from({ length: 10_000 }, (_, i) => [i + 1, 1]));
    assert.equal(many.size, 10_000);
    const h = decode(many.encode())!;
    assert.ok(h.length / 2 <= MAX_PAIRS);
    const p99 = percentile(h, 99);
    assert.ok(Math.abs(p99 - 9900) / 9900 < 0.02, String(p99));
  });

  test('numbers and dates as CloudWatch writes them', () => {
    assert.deepEqual([5, 0.5, 10.25, 1e7, 12345678.9, 0.0001, -3].map(javaDouble), [
      '5.0',
      '0.5',
      '10.25',
      '1.0E7',
      '1.23456789E7',
      '1.0E-4',
      '-3.0',
    ]);
    assert.equal(reasonDate(Date.UTC(2026, 10, 26, 1, 2, 0)), '26/11/26 01:02:00');
  });
});
