/**
 * CloudWatch Logs metric filters, subscription filters and export tasks with the SDK v3 clients
 * and the aws CLI: log lines become CloudWatch datapoints that an alarm fires on, matching events
 * reach a real Lambda function in AWS's awslogs envelope, and an export lands in S3 in AWS's layout.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { CloudWatchClient, DescribeAlarmsCommand, GetMetricStatisticsCommand, PutMetricAlarmCommand } from '@aws-sdk/client-cloudwatch';
import {
  CloudWatchLogsClient,
  CreateExportTaskCommand,
  CreateLogGroupCommand,
  CreateLogStreamCommand,
  DeleteLogGroupCommand,
  DeleteMetricFilterCommand,
  DeleteSubscriptionFilterCommand,
  DescribeExportTasksCommand,
  DescribeMetricFiltersCommand,
  DescribeSubscriptionFiltersCommand,
  FilterLogEventsCommand,
  PutLogEventsCommand,
  PutMetricFilterCommand,
  PutSubscriptionFilterCommand,
  TestMetricFilterCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import { CreateFunctionCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { ROLE, zip } from '../helpers/lambda.js';
import { awsCli, clientConfig, failure, startOpsbox, unique, type RunningOpsbox } from '../helpers/opsbox.js';
import { waitFor } from '../helpers/wait.js';

let box: RunningOpsbox;
let logs: CloudWatchLogsClient;
let cw: CloudWatchClient;

before(async () => {
  box = await startOpsbox();
  logs = new CloudWatchLogsClient(clientConfig(box.url));
  cw = new CloudWatchClient(clientConfig(box.url));
});
after(async () => {
  logs?.destroy();
  cw?.destroy();
  await box?.dispose();
});

async function groupWithStream(prefix: string) {
  const group = unique(`/test/${prefix}`);
  await logs.send(new CreateLogGroupCommand({ logGroupName: group }));
  await logs.send(new CreateLogStreamCommand({ logGroupName: group, logStreamName: 'web-1' }));
  return group;
}

const put = (group: string, messages: string[], at = Date.now(), stream = 'web-1') =>
  logs.send(
    new PutLogEventsCommand({
      logGroupName: group,
      logStreamName: stream,
      logEvents: messages.map((message, i) => ({ timestamp: at + i, message })),
    }),
  );

describe('metric filters', () => {
  test('JSON lines become datapoints with a field value and dimensions, and an alarm on them fires', async () => {
    const group = await groupWithStream('api');
    const ns = unique('LogMetrics');
    await logs.send(
      new PutMetricFilterCommand({
        logGroupName: group,
        filterName: 'slow-5xx',
        filterPattern: '{ $.status >= 500 }',
        metricTransformations: [
          {
            metricName: 'ErrorLatency',
            metricNamespace: ns,
            metricValue: '$.latency',
            dimensions: { Path: '$.path' },
            unit: 'Milliseconds',
          },
        ],
      }),
    );
    const at = Date.now() - 60_000;
    await put(
      group,
      [
        JSON.stringify({ status: 200, latency: 5, path: '/a' }),
        JSON.stringify({ status: 503, latency: 120, path: '/a' }),
        JSON.stringify({ status: 500, latency: 80, path: '/a' }),
        JSON.stringify({ status: 502, latency: 40, path: '/b' }),
        'not json at all',
      ],
      at,
    );
    const stats = async (path: string) =>
      (
        await cw.send(
          new GetMetricStatisticsCommand({
            Namespace: ns,
            MetricName: 'ErrorLatency',
            Dimensions: [{ Name: 'Path', Value: path }],
            StartTime: new Date(at - 120_000),
            EndTime: new Date(at + 120_000),
            Period: 300,
            Statistics: ['Sum', 'SampleCount', 'Maximum'],
          }),
        )
      ).Datapoints ?? [];
    await waitFor(
      'datapoints for /a',
      () => stats('/a'),
      (d) => d.length > 0,
    );
    const a = (await stats('/a'))[0];
    assert.deepEqual([a.Sum, a.SampleCount, a.Maximum, a.Unit], [200, 2, 120, 'Milliseconds']);
    assert.deepEqual(
      (await stats('/b')).map((d) => d.Sum),
      [40],
    );

    const alarm = unique('log-alarm');
    await cw.send(
      new PutMetricAlarmCommand({
        AlarmName: alarm,
        Namespace: ns,
        MetricName: 'ErrorLatency',
        Dimensions: [{ Name: 'Path', Value: '/a' }],
        Statistic: 'Maximum',
        Period: 60,
        EvaluationPeriods: 5,
        DatapointsToAlarm: 1,
        Threshold: 100,
        ComparisonOperator: 'GreaterThanThreshold',
      }),
    );
    const state = (await cw.send(new DescribeAlarmsCommand({ AlarmNames: [alarm] }))).MetricAlarms![0].StateValue;
    assert.equal(state, 'ALARM');

    const described = await logs.send(new DescribeMetricFiltersCommand({ logGroupName: group }));
    assert.equal(described.metricFilters!.length, 1);
    assert.equal(described.metricFilters![0].filterName, 'slow-5xx');
    assert.equal(described.metricFilters![0].metricTransformations![0].metricValue, '$.latency');
    const byMetric = await logs.send(new DescribeMetricFiltersCommand({ metricName: 'ErrorLatency', metricNamespace: ns }));
    assert.deepEqual(
      byMetric.metricFilters!.map((f) => f.logGroupName),
      [group],
    );
  });

  test('a default value counts the events that do not match; a space-delimited field is a value', async () => {
    const group = await groupWithStream('access');
    const ns = unique('Access');
    await logs.send(
      new PutMetricFilterCommand({
        logGroupName: group,
        filterName: 'errors',
        filterPattern: '[ip, user, status = 5*, bytes]',
        metricTransformations: [{ metricName: 'Errors', metricNamespace: ns, metricValue: '1', defaultValue: 0 }],
      }),
    );
    await logs.send(
      new PutMetricFilterCommand({
        logGroupName: group,
        filterName: 'bytes',
        filterPattern: '[ip, user, status, bytes]',
        metricTransformations: [{ metricName: 'Bytes', metricNamespace: ns, metricValue: '$bytes' }],
      }),
    );
    const at = Date.now() - 60_000;
    await put(group, ['10.0.0.1 alice 200 100', '10.0.0.2 bob 500 20', '10.0.0.3 carol 404 7'], at);
    const stat = async (metric: string) =>
      (
        await cw.send(
          new GetMetricStatisticsCommand({
            Namespace: ns,
            MetricName: metric,
            StartTime: new Date(at - 120_000),
            EndTime: new Date(at + 120_000),
            Period: 300,
            Statistics: ['Sum', 'SampleCount'],
          }),
        )
      ).Datapoints?.[0];
    await waitFor(
      'the Bytes datapoint',
      () => stat('Bytes'),
      (d) => d !== undefined,
    );
    const errors = (await stat('Errors'))!;
    assert.deepEqual([errors.Sum, errors.SampleCount], [1, 3]);
    assert.equal((await stat('Bytes'))!.Sum, 127);
  });

  test('TestMetricFilter shows the matches and their extracted values', async () => {
    const r = await logs.send(
      new TestMetricFilterCommand({
        filterPattern: '[ip, user, status = 4*, bytes]',
        logEventMessages: ['10.0.0.1 alice 200 100', '10.0.0.2 bob 404 20'],
      }),
    );
    assert.deepEqual(r.matches, [
      {
        eventNumber: 2,
        eventMessage: '10.0.0.2 bob 404 20',
        extractedValues: { $ip: '10.0.0.2', $user: 'bob', $status: '404', $bytes: '20' },
      },
    ]);
    const j = await logs.send(
      new TestMetricFilterCommand({ filterPattern: '{ $.level = "ERROR" }', logEventMessages: ['{"level":"ERROR"}', '{"level":"INFO"}'] }),
    );
    assert.deepEqual(j.matches, [{ eventNumber: 1, eventMessage: '{"level":"ERROR"}', extractedValues: { '$.level': 'ERROR' } }]);
  });

  test('errors: missing group and filter, a bad pattern, dimensions with a default value', async () => {
    const group = await groupWithStream('errs');
    const t = { metricName: 'M', metricNamespace: 'N', metricValue: '1' };
    const noGroup = await failure(
      logs.send(
        new PutMetricFilterCommand({ logGroupName: unique('/none'), filterName: 'f', filterPattern: 'x', metricTransformations: [t] }),
      ),
    );
    assert.deepEqual([noGroup.name, noGroup.message], ['ResourceNotFoundException', 'The specified log group does not exist.']);
    const badPattern = await failure(
      logs.send(
        new PutMetricFilterCommand({ logGroupName: group, filterName: 'f', filterPattern: '{ $.a = ', metricTransformations: [t] }),
      ),
    );
    assert.equal(badPattern.name, 'InvalidParameterException');
    const dimsAndDefault = await failure(
      logs.send(
        new PutMetricFilterCommand({
          logGroupName: group,
          filterName: 'f',
          filterPattern: '{ $.a = 1 }',
          metricTransformations: [{ ...t, defaultValue: 0, dimensions: { A: '$.a' } }],
        }),
      ),
    );
    assert.equal(dimsAndDefault.name, 'InvalidParameterException');
    const noFilter = await failure(logs.send(new DeleteMetricFilterCommand({ logGroupName: group, filterName: 'nope' })));
    assert.equal(noFilter.name, 'ResourceNotFoundException');
    // a deleted group takes its filters with it
    await logs.send(
      new PutMetricFilterCommand({ logGroupName: group, filterName: 'gone', filterPattern: 'x', metricTransformations: [t] }),
    );
    await logs.send(new DeleteLogGroupCommand({ logGroupName: group }));
    await logs.send(new CreateLogGroupCommand({ logGroupName: group }));
    assert.deepEqual((await logs.send(new DescribeMetricFiltersCommand({ logGroupName: group }))).metricFilters, []);
  });

  test('the aws CLI: put-metric-filter, describe-metric-filters, test-metric-filter', async () => {
    const group = await groupWithStream('cli');
    const r = await awsCli(box.url, [
      'logs',
      'put-metric-filter',
      '--log-group-name',
      group,
      '--filter-name',
      'errors',
      '--filter-pattern',
      'ERROR',
      '--metric-transformations',
      'metricName=Errors,metricNamespace=CliLogs,metricValue=1,defaultValue=0',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const d = JSON.parse((await awsCli(box.url, ['logs', 'describe-metric-filters', '--log-group-name', group])).stdout);
    assert.equal(d.metricFilters[0].metricTransformations[0].defaultValue, 0);
    const tm = JSON.parse(
      (
        await awsCli(box.url, [
          'logs',
          'test-metric-filter',
          '--filter-pattern',
          'ERROR',
          '--log-event-messages',
          'an ERROR here',
          'all fine',
        ])
      ).stdout,
    );
    assert.deepEqual(
      tm.matches.map((m: any) => m.eventNumber),
      [1],
    );
  });
});

describe('subscription filters', () => {
  test('matching events reach a Lambda function as AWS sends them (awslogs.data: base64 gzip DATA_MESSAGE)', async () => {
    const lambda = new LambdaClient(clientConfig(box.url));
    const fn = unique('log-sink');
    const code = await zip({
      'index.mjs': `import { gunzipSync } from 'node:zlib';
export const handler = async (event) => {
  const doc = JSON.parse(gunzipSync(Buffer.from(event.awslogs.data, 'base64')).toString('utf8'));
  console.log('RECEIVED ' + JSON.stringify({ type: doc.messageType, group: doc.logGroup, stream: doc.logStream, filters: doc.subscriptionFilters, messages: doc.logEvents.map((e) => e.message), ids: doc.logEvents.map((e) => e.id) }));
};`,
    });
    await lambda.send(
      new CreateFunctionCommand({ FunctionName: fn, Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: { ZipFile: code } }),
    );
    const group = await groupWithStream('sub');
    const missing = await failure(
      logs.send(
        new PutSubscriptionFilterCommand({
          logGroupName: group,
          filterName: 'to-nowhere',
          filterPattern: '',
          destinationArn: `arn:aws:lambda:us-east-1:000000000000:function:${unique('none')}`,
        }),
      ),
    );
    assert.equal(missing.name, 'InvalidParameterException');
    await logs.send(
      new PutSubscriptionFilterCommand({
        logGroupName: group,
        filterName: 'errors-to-lambda',
        filterPattern: 'ERROR',
        destinationArn: `arn:aws:lambda:us-east-1:000000000000:function:${fn}`,
      }),
    );
    const d = await logs.send(new DescribeSubscriptionFiltersCommand({ logGroupName: group }));
    assert.deepEqual(
      d.subscriptionFilters!.map((f) => [f.filterName, f.filterPattern, f.distribution]),
      [['errors-to-lambda', 'ERROR', 'ByLogStream']],
    );
    await put(group, ['INFO started', 'ERROR disk full', 'ERROR again']);

    const received = async () => {
      const r = await logs
        .send(new FilterLogEventsCommand({ logGroupName: `/aws/lambda/${fn}`, filterPattern: 'RECEIVED' }))
        .catch(() => undefined);
      return r?.events?.[0]?.message;
    };
    const line = await waitFor('the function to log what it received', received, (l) => l !== undefined);
    const got = JSON.parse(line!.slice(line!.indexOf('RECEIVED ') + 9));
    assert.deepEqual(
      [got.type, got.group, got.stream, got.filters, got.messages],
      ['DATA_MESSAGE', group, 'web-1', ['errors-to-lambda'], ['ERROR disk full', 'ERROR again']],
    );
    assert.match(got.ids[0], /^\d{56}$/);
    await logs.send(new DeleteSubscriptionFilterCommand({ logGroupName: group, filterName: 'errors-to-lambda' }));
    const again = await failure(logs.send(new DeleteSubscriptionFilterCommand({ logGroupName: group, filterName: 'errors-to-lambda' })));
    assert.deepEqual([again.name, again.message], ['ResourceNotFoundException', 'The specified subscription filter does not exist.']);
    lambda.destroy();
  });
});

describe('export tasks', () => {
  test('CreateExportTask writes each stream to S3 as gzip lines in AWS layout; DescribeExportTasks reports COMPLETED', async () => {
    const s3 = new S3Client({ ...clientConfig(box.url), forcePathStyle: true });
    const bucket = unique('exports');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const group = await groupWithStream('export');
    await logs.send(new CreateLogStreamCommand({ logGroupName: group, logStreamName: 'web-2' }));
    const at = Date.now() - 3_600_000;
    await put(group, ['one', 'two'], at);
    await put(group, ['three'], at + 10, 'web-2');
    await put(group, ['too late'], at + 60_000);

    const noBucket = await failure(
      logs.send(new CreateExportTaskCommand({ logGroupName: group, from: at, to: at + 1000, destination: unique('nobucket') })),
    );
    assert.deepEqual(
      [noBucket.name, noBucket.message],
      ['InvalidParameterException', 'The given bucket does not exist. Please make sure the bucket is valid.'],
    );
    const { taskId } = await logs.send(
      new CreateExportTaskCommand({
        taskName: 'nightly',
        logGroupName: group,
        from: at,
        to: at + 1000,
        destination: bucket,
        destinationPrefix: 'logs',
      }),
    );
    const done = await waitFor(
      'the export task to finish',
      async () => (await logs.send(new DescribeExportTasksCommand({ taskId }))).exportTasks![0],
      (t) => t.status?.code === 'COMPLETED' || t.status?.code === 'FAILED',
    );
    assert.equal(done!.status!.code, 'COMPLETED', done!.status!.message);
    assert.equal(done!.taskName, 'nightly');
    const keys = ((await s3.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []).map((o) => o.Key).sort();
    assert.deepEqual(keys, [`logs/${taskId}/web-1/000000.gz`, `logs/${taskId}/web-2/000000.gz`, 'logs/aws-logs-write-test'].sort());
    const body = await (
      await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `logs/${taskId}/web-1/000000.gz` }))
    ).Body!.transformToByteArray();
    assert.equal(gunzipSync(body).toString('utf8'), `${new Date(at).toISOString()} one\n${new Date(at + 1).toISOString()} two\n`);
    s3.destroy();
  });
});
