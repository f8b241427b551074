/**
 * CloudWatch against a real opsbox process with the three wire protocols real clients use:
 * Debian's aws CLI v2 (awsQuery), SDK v3 (awsJson 1.0, query-compatible errors, gzip-compressed
 * PutMetricData) and boto3 (rpc-v2-cbor): metrics, statistics, alarms, dashboards, and
 * durability across kill -9.
 */
import { execFile } from 'node:child_process';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CloudWatchClient,
  DeleteDashboardsCommand,
  DescribeAlarmsCommand,
  GetDashboardCommand,
  GetMetricDataCommand,
  GetMetricStatisticsCommand,
  ListDashboardsCommand,
  ListMetricsCommand,
  PutDashboardCommand,
  PutMetricAlarmCommand,
  PutMetricDataCommand,
} from '@aws-sdk/client-cloudwatch';
import { awsCli, clientConfig, startOpsbox, unique, type RunningOpsbox } from '../helpers/opsbox.js';

let box: RunningOpsbox;
let cw: CloudWatchClient;
const code = (e: any) => e.Code ?? e.name;

before(async () => {
  box = await startOpsbox();
  cw = new CloudWatchClient(clientConfig(box.url));
});
after(async () => {
  await box?.dispose();
});

function python(script: string) {
  const env = {
    ...process.env,
    AWS_ENDPOINT_URL: box.url,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
  };
  return new Promise<string>((resolve, reject) =>
    execFile('python3', ['-c', script], { env }, (err, stdout, stderr) =>
      err ? reject(new Error(stderr || String(err))) : resolve(stdout),
    ),
  );
}

const minuteAgo = () => new Date(Math.floor(Date.now() / 60_000) * 60_000 - 60_000);

describe('aws CLI v2 (awsQuery)', () => {
  test('put-metric-data → get-metric-statistics → list-metrics', async () => {
    const ns = unique('Shop');
    const ts = minuteAgo().toISOString();
    for (const v of ['120', '80'])
      assert.equal(
        (
          await awsCli(box.url, [
            'cloudwatch',
            'put-metric-data',
            '--namespace',
            ns,
            '--metric-name',
            'Latency',
            '--unit',
            'Milliseconds',
            '--value',
            v,
            '--dimensions',
            'Service=api',
            '--timestamp',
            ts,
          ])
        ).code,
        0,
      );
    const r = await awsCli(box.url, [
      'cloudwatch',
      'get-metric-statistics',
      '--namespace',
      ns,
      '--metric-name',
      'Latency',
      '--dimensions',
      'Name=Service,Value=api',
      '--start-time',
      new Date(Date.now() - 600_000).toISOString(),
      '--end-time',
      new Date(Date.now() + 60_000).toISOString(),
      '--period',
      '60',
      '--statistics',
      'Average',
      'Sum',
      'SampleCount',
      'Maximum',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.Label, 'Latency');
    assert.deepEqual(
      out.Datapoints.map((d: any) => [d.Average, d.Sum, d.SampleCount, d.Maximum, d.Unit]),
      [[100, 200, 2, 120, 'Milliseconds']],
    );
    const pct = await awsCli(box.url, [
      'cloudwatch',
      'get-metric-statistics',
      '--namespace',
      ns,
      '--metric-name',
      'Latency',
      '--dimensions',
      'Name=Service,Value=api',
      '--start-time',
      new Date(Date.now() - 600_000).toISOString(),
      '--end-time',
      new Date(Date.now() + 60_000).toISOString(),
      '--period',
      '60',
      '--extended-statistics',
      'p50',
      'p99',
    ]);
    assert.deepEqual(JSON.parse(pct.stdout).Datapoints[0].ExtendedStatistics, { p50: 80, p99: 120 });
    const list = JSON.parse((await awsCli(box.url, ['cloudwatch', 'list-metrics', '--namespace', ns])).stdout);
    assert.deepEqual(list.Metrics, [{ Namespace: ns, MetricName: 'Latency', Dimensions: [{ Name: 'Service', Value: 'api' }] }]);
  });

  test('put-metric-alarm → describe-alarms (the issue example), then the alarm evaluates at once', async () => {
    const name = unique('api-5xx');
    const r = await awsCli(box.url, [
      'cloudwatch',
      'put-metric-alarm',
      '--alarm-name',
      name,
      '--namespace',
      'Shop',
      '--metric-name',
      'Errors',
      '--statistic',
      'Sum',
      '--period',
      '60',
      '--evaluation-periods',
      '3',
      '--datapoints-to-alarm',
      '2',
      '--threshold',
      '5',
      '--comparison-operator',
      'GreaterThanThreshold',
      '--treat-missing-data',
      'notBreaching',
      '--alarm-actions',
      'arn:aws:sns:us-east-1:000000000000:oncall',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const d = JSON.parse((await awsCli(box.url, ['cloudwatch', 'describe-alarms', '--alarm-names', name])).stdout);
    const a = d.MetricAlarms[0];
    assert.equal(a.AlarmArn, `arn:aws:cloudwatch:us-east-1:000000000000:alarm:${name}`);
    assert.deepEqual(
      [a.EvaluationPeriods, a.DatapointsToAlarm, a.Threshold, a.TreatMissingData, a.AlarmActions],
      [3, 2, 5, 'notBreaching', ['arn:aws:sns:us-east-1:000000000000:oncall']],
    );
    assert.equal(a.StateValue, 'OK');
    assert.equal(
      a.StateReason,
      'Threshold Crossed: no datapoints were received for 3 periods and 3 missing datapoints were treated as [NonBreaching].',
    );
  });

  test('errors come back with AWS codes: InvalidParameterCombination, MissingParameter', async () => {
    const r = await awsCli(box.url, [
      'cloudwatch',
      'put-metric-data',
      '--namespace',
      'X',
      '--metric-name',
      'L',
      '--value',
      '1',
      '--statistic-values',
      'SampleCount=1,Sum=1,Minimum=1,Maximum=1',
    ]);
    assert.notEqual(r.code, 0);
    assert.match(
      r.stderr,
      /InvalidParameterCombination.*The parameters MetricData\.member\.1\.Value and MetricData\.member\.1\.StatisticValues are mutually exclusive/,
    );
    const d = await awsCli(box.url, ['cloudwatch', 'get-dashboard', '--dashboard-name', 'nope']);
    assert.match(d.stderr, /ResourceNotFound/);
  });

  test('put-dashboard / get-dashboard / list-dashboards / delete-dashboards; invalid bodies', async () => {
    const name = unique('shop');
    const body = JSON.stringify({ widgets: [{ type: 'text', x: 0, y: 0, width: 6, height: 3, properties: { markdown: '# Shop' } }] });
    const put = await awsCli(box.url, ['cloudwatch', 'put-dashboard', '--dashboard-name', name, '--dashboard-body', body]);
    assert.equal(put.code, 0, put.stderr);
    assert.deepEqual(JSON.parse(put.stdout).DashboardValidationMessages, []);
    const got = JSON.parse((await awsCli(box.url, ['cloudwatch', 'get-dashboard', '--dashboard-name', name])).stdout);
    assert.deepEqual(got, { DashboardArn: `arn:aws:cloudwatch::000000000000:dashboard/${name}`, DashboardBody: body, DashboardName: name });
    const bad = await awsCli(box.url, [
      'cloudwatch',
      'put-dashboard',
      '--dashboard-name',
      name,
      '--dashboard-body',
      '{"widgets":[{"type":"metric","properties":{}}]}',
    ]);
    assert.match(bad.stderr, /InvalidParameterInput.*The dashboard body is invalid, there are 1 validation errors/s);
    assert.match(bad.stderr, /"dataPath" : "\/widgets\/0\/properties"/);
    const notJson = await awsCli(box.url, ['cloudwatch', 'put-dashboard', '--dashboard-name', name, '--dashboard-body', '{nope']);
    assert.match(notJson.stderr, /InvalidParameterInput/);
    await awsCli(box.url, ['cloudwatch', 'delete-dashboards', '--dashboard-names', name]);
    const list = JSON.parse((await awsCli(box.url, ['cloudwatch', 'list-dashboards', '--dashboard-name-prefix', name])).stdout);
    assert.deepEqual(list.DashboardEntries, []);
  });
});

describe('SDK v3 (awsJson 1.0)', () => {
  test('a batch of 1,000 datapoints (gzip-compressed by the SDK) → GetMetricData with math', async () => {
    const ns = unique('Bulk');
    const Timestamp = minuteAgo();
    await cw.send(
      new PutMetricDataCommand({
        Namespace: ns,
        MetricData: Array.from({ length: 1000 }, (_, i) => ({
          MetricName: i % 2 ? 'Odd' : 'Even',
          Value: i,
          Timestamp,
          Dimensions: [{ Name: 'Host', Value: 'h1' }],
        })),
      }),
    );
    const metric = (Id: string, MetricName: string) => ({
      Id,
      MetricStat: { Metric: { Namespace: ns, MetricName, Dimensions: [{ Name: 'Host', Value: 'h1' }] }, Period: 60, Stat: 'SampleCount' },
      ReturnData: false,
    });
    const out = await cw.send(
      new GetMetricDataCommand({
        StartTime: new Date(Timestamp.getTime() - 60_000),
        EndTime: new Date(Timestamp.getTime() + 60_000),
        MetricDataQueries: [metric('odd', 'Odd'), metric('even', 'Even'), { Id: 'total', Expression: 'odd + even', Label: 'All' }],
      }),
    );
    assert.deepEqual(
      out.MetricDataResults!.map((r) => [r.Id, r.Label, r.Values]),
      [['total', 'All', [1000]]],
    );
    const list = await cw.send(new ListMetricsCommand({ Namespace: ns }));
    assert.equal(list.Metrics!.length, 2);
  });

  test('PutMetricData: values beyond ±2^360 (1e308) or below 2^-360 → InvalidParameterValue, in small and large bodies', async () => {
    const ns = unique('Range');
    const Timestamp = minuteAgo();
    for (const [bad, n] of [
      [1e308, 1],
      [-1e200, 1],
      [1e-200, 1],
      [1e308, 1000],
    ] as const) {
      const data = Array.from({ length: n }, (_, i) => ({ MetricName: 'M', Value: i === n - 1 ? bad : 1, Timestamp }));
      await assert.rejects(
        cw.send(new PutMetricDataCommand({ Namespace: ns, MetricData: data })),
        (e: any) => code(e) === 'InvalidParameterValue' && e.message.includes(`MetricData.member.${n}.Value is invalid`),
      );
    }
    await assert.rejects(
      cw.send(new PutMetricDataCommand({ Namespace: ns, MetricData: [{ MetricName: 'M', Values: [1, 1e308], Timestamp }] })),
      (e: any) => code(e) === 'InvalidParameterValue',
    );
    await cw.send(
      new PutMetricDataCommand({
        Namespace: ns,
        MetricData: [
          { MetricName: 'M', Value: 2 ** 359, Timestamp },
          { MetricName: 'M', Value: 0, Timestamp },
        ],
      }),
    );
  });

  test('large batches are checked as small ones: the bad member is named, nothing of the call is stored; percentiles hold', async () => {
    const ns = unique('BulkBad');
    const Timestamp = minuteAgo();
    const data = Array.from({ length: 1000 }, (_, i) => ({
      MetricName: 'Lat',
      Value: i + 1,
      Timestamp,
      Dimensions: [{ Name: 'Host', Value: `h${i % 3}` }],
    }));
    await assert.rejects(
      cw.send(
        new PutMetricDataCommand({
          Namespace: ns,
          MetricData: data.map((d, i) => (i === 699 ? { ...d, Value: undefined, Values: [1], Counts: [1, 2] } : d)),
        }),
      ),
      (e: any) =>
        code(e) === 'InvalidParameterValue' && /MetricData\.member\.700\.Values and MetricData\.member\.700\.Counts/.test(e.message),
    );
    const missingName = (n: number) =>
      cw
        .send(
          new PutMetricDataCommand({
            Namespace: ns,
            MetricData: data.slice(0, n).map((d, i) => (i === 4 ? { ...d, MetricName: undefined as any } : d)),
          }),
        )
        .then(
          () => assert.fail('accepted'),
          (e: any) => [code(e), e.message, e.$metadata.httpStatusCode],
        );
    const [small, large] = [await missingName(10), await missingName(1000)];
    assert.deepEqual(large, small, 'a large body (parsed in a worker) fails exactly as a small one');
    assert.match(large[1], /metricData\.5\.member\.metricName/);
    assert.equal((await cw.send(new ListMetricsCommand({ Namespace: ns }))).Metrics!.length, 0, 'a rejected call stores nothing');
    await cw.send(new PutMetricDataCommand({ Namespace: ns, MetricData: data.map((d) => ({ ...d, Dimensions: undefined })) }));
    const stats = await cw.send(
      new GetMetricStatisticsCommand({
        Namespace: ns,
        MetricName: 'Lat',
        StartTime: new Date(Timestamp.getTime() - 60_000),
        EndTime: new Date(Timestamp.getTime() + 60_000),
        Period: 60,
        ExtendedStatistics: ['p50', 'p99'],
      }),
    );
    const [p50, p99] = [stats.Datapoints![0].ExtendedStatistics!.p50!, stats.Datapoints![0].ExtendedStatistics!.p99!];
    // 1,000 distinct values are kept in 1 %-wide bins (values.ts), as CloudWatch's own sketch bounds its error
    assert.ok(Math.abs(p50 - 500) <= 5 && Math.abs(p99 - 990) <= 10, `p50 ${p50}, p99 ${p99}`);
  });

  test('dashboards: PutDashboard warnings, ListDashboards prefix, DeleteDashboards of a missing one → ResourceNotFound', async () => {
    const name = unique('wide');
    const put = await cw.send(
      new PutDashboardCommand({
        DashboardName: name,
        DashboardBody: JSON.stringify({ widgets: [{ type: 'text', x: 20, width: 10, height: 2, properties: { markdown: 'x' } }] }),
      }),
    );
    assert.deepEqual(
      put.DashboardValidationMessages!.map((m) => m.DataPath),
      ['/widgets/0'],
    );
    assert.equal((await cw.send(new GetDashboardCommand({ DashboardName: name }))).DashboardName, name);
    assert.equal((await cw.send(new ListDashboardsCommand({ DashboardNamePrefix: name }))).DashboardEntries!.length, 1);
    await assert.rejects(
      cw.send(new DeleteDashboardsCommand({ DashboardNames: [name, `${name}-missing`] })),
      (e: any) => code(e) === 'ResourceNotFound',
    );
    await cw.send(new DeleteDashboardsCommand({ DashboardNames: [name] }));
    await assert.rejects(cw.send(new GetDashboardCommand({ DashboardName: name })), (e: any) => code(e) === 'ResourceNotFound');
  });
});

describe('boto3 (rpc-v2-cbor)', () => {
  test('put_metric_data / get_metric_statistics / put_metric_alarm / describe_alarms', async () => {
    const ns = unique('Boto');
    const alarm = unique('boto-alarm');
    const out = await python(`import boto3, datetime, json
c = boto3.client('cloudwatch')
assert 'smithy-rpc-v2-cbor' in c.meta.service_model.metadata.get('protocols', [])
now = datetime.datetime.now(datetime.timezone.utc).replace(second=0, microsecond=0) - datetime.timedelta(minutes=1)
c.put_metric_data(Namespace='${ns}', MetricData=[{'MetricName': 'Jobs', 'Values': [1.0, 2.0, 3.0], 'Counts': [1.0, 1.0, 2.0], 'Timestamp': now, 'Unit': 'Count'}])
s = c.get_metric_statistics(Namespace='${ns}', MetricName='Jobs', StartTime=now - datetime.timedelta(minutes=5), EndTime=now + datetime.timedelta(minutes=2), Period=60, Statistics=['Sum', 'SampleCount', 'Average'])
c.put_metric_alarm(AlarmName='${alarm}', Namespace='${ns}', MetricName='Jobs', Statistic='Sum', Period=60, EvaluationPeriods=1, Threshold=5, ComparisonOperator='GreaterThanOrEqualToThreshold')
a = c.describe_alarms(AlarmNames=['${alarm}'])['MetricAlarms'][0]
try:
    c.put_metric_data(Namespace='${ns}', MetricData=[{'MetricName': 'Jobs', 'Values': [1.0], 'Counts': [1.0, 2.0]}])
except c.exceptions.ClientError as e:
    err = e.response['Error']['Code']
print(json.dumps({'dp': [[d['Sum'], d['SampleCount'], d['Average'], d['Unit']] for d in s['Datapoints']], 'state': a['StateValue'], 'reason': a['StateReason'], 'err': err}))`);
    const r = JSON.parse(out);
    assert.deepEqual(r.dp, [[9, 4, 2.25, 'Count']]);
    assert.equal(r.state, 'ALARM');
    assert.match(
      r.reason,
      /^Threshold Crossed: 1 out of the last 1 datapoints \[9\.0 \(\d\d\/\d\d\/\d\d \d\d:\d\d:00\)\] was greater than or equal to the threshold \(5\.0\)/,
    );
    assert.equal(r.err, 'InvalidParameterValue');
  });
});

describe('durability', () => {
  test('metrics, alarms (with their state) and dashboards survive kill -9', async () => {
    const ns = unique('Durable');
    const alarm = unique('durable-alarm');
    const dash = unique('durable');
    const Timestamp = minuteAgo();
    await cw.send(new PutMetricDataCommand({ Namespace: ns, MetricData: [{ MetricName: 'M', Value: 42, Timestamp }] }));
    await cw.send(
      new PutMetricAlarmCommand({
        AlarmName: alarm,
        Namespace: ns,
        MetricName: 'M',
        Statistic: 'Maximum',
        Period: 60,
        EvaluationPeriods: 1,
        Threshold: 40,
        ComparisonOperator: 'GreaterThanThreshold',
      }),
    );
    await cw.send(new PutDashboardCommand({ DashboardName: dash, DashboardBody: '{"widgets":[]}' }));
    const before = (await cw.send(new DescribeAlarmsCommand({ AlarmNames: [alarm] }))).MetricAlarms![0];
    assert.equal(before.StateValue, 'ALARM');
    await box.kill9();
    box = await startOpsbox({ dataDir: box.dataDir });
    cw = new CloudWatchClient(clientConfig(box.url));
    const stats = await cw.send(
      new GetMetricStatisticsCommand({
        Namespace: ns,
        MetricName: 'M',
        StartTime: new Date(Timestamp.getTime() - 60_000),
        EndTime: new Date(Timestamp.getTime() + 60_000),
        Period: 60,
        Statistics: ['Maximum'],
      }),
    );
    assert.deepEqual(
      stats.Datapoints!.map((d) => d.Maximum),
      [42],
    );
    const afterKill = (await cw.send(new DescribeAlarmsCommand({ AlarmNames: [alarm] }))).MetricAlarms![0];
    assert.equal(afterKill.StateValue, 'ALARM');
    assert.equal(afterKill.StateReason, before.StateReason);
    assert.equal((await cw.send(new GetDashboardCommand({ DashboardName: dash }))).DashboardBody, '{"widgets":[]}');
    await cw.send(new PutMetricDataCommand({ Namespace: ns, MetricData: [{ MetricName: 'M', Value: 1, Timestamp }] }));
    const merged = await cw.send(
      new GetMetricStatisticsCommand({
        Namespace: ns,
        MetricName: 'M',
        StartTime: new Date(Timestamp.getTime() - 60_000),
        EndTime: new Date(Timestamp.getTime() + 60_000),
        Period: 60,
        Statistics: ['SampleCount', 'Sum'],
      }),
    );
    assert.deepEqual(
      merged.Datapoints!.map((d) => [d.SampleCount, d.Sum]),
      [[2, 43]],
    );
  });

  test('a batch acknowledged just before kill -9 is all there after restart, percentiles included (ingest log replay)', async () => {
    const ns = unique('Replay');
    const Timestamp = minuteAgo();
    const MetricData = Array.from({ length: 1000 }, (_, i) => ({
      MetricName: 'Latency',
      Dimensions: [{ Name: 'Host', Value: `h${i % 4}` }],
      Unit: 'Milliseconds' as const,
      Value: (i % 100) + 1,
      Timestamp: new Date(Timestamp.getTime() + (i % 60) * 1000),
    }));
    const query = () =>
      cw.send(
        new GetMetricStatisticsCommand({
          Namespace: ns,
          MetricName: 'Latency',
          Dimensions: [{ Name: 'Host', Value: 'h1' }],
          StartTime: new Date(Timestamp.getTime() - 60_000),
          EndTime: new Date(Timestamp.getTime() + 60_000),
          Period: 60,
          ExtendedStatistics: ['p50', 'p100'],
        }),
      );
    // the server flushes its ingest log a second after the first write: kill it before that
    await cw.send(new PutMetricDataCommand({ Namespace: ns, MetricData }));
    await box.kill9();
    box = await startOpsbox({ dataDir: box.dataDir });
    cw = new CloudWatchClient(clientConfig(box.url));
    const stats = await query();
    assert.deepEqual(
      stats.Datapoints!.map((d) => d.ExtendedStatistics),
      [{ p50: 50, p100: 98 }],
    );
    const sum = await cw.send(
      new GetMetricStatisticsCommand({
        Namespace: ns,
        MetricName: 'Latency',
        Dimensions: [{ Name: 'Host', Value: 'h1' }],
        StartTime: new Date(Timestamp.getTime() - 60_000),
        EndTime: new Date(Timestamp.getTime() + 60_000),
        Period: 60,
        Statistics: ['SampleCount', 'Sum'],
      }),
    );
    // h1 got i = 1, 5, 9, … 997: values (i % 100) + 1
    const expected = Array.from({ length: 250 }, (_, k) => ((4 * k + 1) % 100) + 1);
    assert.deepEqual(
      sum.Datapoints!.map((d) => [d.SampleCount, d.Sum]),
      [[250, expected.reduce((a, b) => a + b, 0)]],
    );
  });
});
