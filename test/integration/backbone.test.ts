/**
 * The event and observability backbone end to end, driven by SDK v3 clients against a real opsbox:
 * an SNS topic with a confirmed HTTP subscription receives (1) a CloudWatch alarm notification and
 * (2) a CodeCommit branch event routed by an EventBridge rule.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import { CloudWatchClient, DescribeAlarmsCommand, PutMetricAlarmCommand, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import {
  CodeCommitClient,
  CreateBranchCommand,
  CreateRepositoryCommand,
  GetFileCommand,
  GetRepositoryCommand,
  PutFileCommand,
} from '@aws-sdk/client-codecommit';
import { EventBridgeClient, PutRuleCommand, PutTargetsCommand, TestEventPatternCommand } from '@aws-sdk/client-eventbridge';
import { CreateTopicCommand, ListSubscriptionsByTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { clientConfig, startOpsbox, unique, type RunningOpsbox } from '../helpers/opsbox.js';

let box: RunningOpsbox;
let hook: Server;
let hookUrl: string;
const received: any[] = [];
const waiters: ((m: any) => void)[] = [];

before(async () => {
  box = await startOpsbox();
  hook = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      res.end('ok');
      const msg = JSON.parse(body);
      received.push(msg);
      for (const w of waiters.splice(0)) w(msg);
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', () => r()));
  hookUrl = `http://127.0.0.1:${(hook.address() as any).port}/hook`;
});
after(async () => {
  hook.close();
  await box.dispose();
});

function nextMessage(match: (m: any) => boolean, ms = 10_000): Promise<any> {
  const found = received.find(match);
  if (found) return Promise.resolve(found);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no matching message in ${ms} ms; got ${JSON.stringify(received).slice(0, 500)}`)), ms);
    const wait = (m: any) => {
      if (match(m)) {
        clearTimeout(timer);
        resolve(m);
      } else waiters.push(wait);
    };
    waiters.push(wait);
  });
}

async function confirmedTopic(sns: SNSClient, name: string) {
  const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: name }));
  await sns.send(new SubscribeCommand({ TopicArn, Protocol: 'http', Endpoint: hookUrl }));
  const confirmation = await nextMessage((m) => m.Type === 'SubscriptionConfirmation' && m.TopicArn === TopicArn);
  const res = await fetch(confirmation.SubscribeURL);
  assert.equal(res.status, 200, await res.text());
  const subs = await sns.send(new ListSubscriptionsByTopicCommand({ TopicArn }));
  assert.match(subs.Subscriptions![0].SubscriptionArn!, new RegExp(`^${TopicArn}:`));
  return TopicArn!;
}

test('CloudWatch alarm → SNS → HTTP endpoint: the notification names the alarm and its new state', async () => {
  const sns = new SNSClient(clientConfig(box.url));
  const cw = new CloudWatchClient(clientConfig(box.url));
  const topic = await confirmedTopic(sns, unique('oncall'));
  const namespace = unique('Shop');
  const minuteAgo = new Date(Math.floor(Date.now() / 60_000) * 60_000 - 30_000);
  await cw.send(
    new PutMetricDataCommand({
      Namespace: namespace,
      MetricData: [
        { MetricName: 'Errors', Value: 9, Unit: 'Count', Timestamp: minuteAgo, Dimensions: [{ Name: 'Service', Value: 'api' }] },
      ],
    }),
  );
  const alarmName = unique('api-5xx');
  await cw.send(
    new PutMetricAlarmCommand({
      AlarmName: alarmName,
      Namespace: namespace,
      MetricName: 'Errors',
      Dimensions: [{ Name: 'Service', Value: 'api' }],
      Statistic: 'Sum',
      Period: 60,
      EvaluationPeriods: 1,
      Threshold: 5,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [topic],
    }),
  );
  const note = await nextMessage((m) => m.Type === 'Notification' && m.TopicArn === topic);
  const alarm = JSON.parse(note.Message);
  assert.equal(alarm.AlarmName, alarmName);
  assert.equal(alarm.NewStateValue, 'ALARM');
  assert.match(note.Subject, new RegExp(`^ALARM: "${alarmName}" in `));
  const { MetricAlarms } = await cw.send(new DescribeAlarmsCommand({ AlarmNames: [alarmName] }));
  assert.equal(MetricAlarms![0].StateValue, 'ALARM');
});

test('CodeCommit branch created through the API → EventBridge rule → SNS → HTTP endpoint', async () => {
  const sns = new SNSClient(clientConfig(box.url));
  const events = new EventBridgeClient(clientConfig(box.url));
  const cc = new CodeCommitClient(clientConfig(box.url));
  const topic = await confirmedTopic(sns, unique('pushes'));
  const repositoryName = unique('shop');
  const pattern = {
    source: ['aws.codecommit'],
    'detail-type': ['CodeCommit Repository State Change'],
    detail: { repositoryName: [repositoryName], event: ['referenceCreated'] },
  };
  await events.send(new PutRuleCommand({ Name: 'on-push-' + repositoryName, EventPattern: JSON.stringify(pattern) }));
  await events.send(new PutTargetsCommand({ Rule: 'on-push-' + repositoryName, Targets: [{ Id: 'notify', Arn: topic }] }));

  const repo = await cc.send(new CreateRepositoryCommand({ repositoryName, repositoryDescription: 'shop' }));
  assert.equal(repo.repositoryMetadata?.cloneUrlHttp, `${box.url}/v1/repos/${repositoryName}`);
  const put = await cc.send(
    new PutFileCommand({ repositoryName, branchName: 'main', filePath: 'a.txt', fileContent: Buffer.from('hi\n'), commitMessage: 'first' }),
  );
  const file = await cc.send(new GetFileCommand({ repositoryName, filePath: 'a.txt' }));
  assert.equal(Buffer.from(file.fileContent!).toString(), 'hi\n');
  assert.equal(file.commitId, put.commitId);
  assert.equal((await cc.send(new GetRepositoryCommand({ repositoryName }))).repositoryMetadata?.defaultBranch, 'main');
  await cc.send(new CreateBranchCommand({ repositoryName, branchName: 'feature/x', commitId: put.commitId }));

  const note = await nextMessage(
    (m) => m.Type === 'Notification' && m.TopicArn === topic && JSON.parse(m.Message).detail?.referenceName === 'feature/x',
  );
  const event = JSON.parse(note.Message);
  assert.equal(event.source, 'aws.codecommit');
  assert.equal(event.detail.commitId, put.commitId);
  assert.equal(event.detail.repositoryName, repositoryName);
  await assert.rejects(
    cc.send(new GetRepositoryCommand({ repositoryName: unique('missing') })),
    (e: any) => e.name === 'RepositoryDoesNotExistException',
  );
});

test('EventBridge TestEventPattern through SDK v3', async () => {
  const events = new EventBridgeClient(clientConfig(box.url));
  const event = {
    id: '1',
    account: '000000000000',
    source: 'aws.codecommit',
    time: '2026-11-26T00:00:00Z',
    region: 'us-east-1',
    resources: [],
    'detail-type': 'x',
    detail: { n: 5 },
  };
  const yes = await events.send(
    new TestEventPatternCommand({ EventPattern: JSON.stringify({ detail: { n: [{ numeric: ['>', 3] }] } }), Event: JSON.stringify(event) }),
  );
  assert.equal(yes.Result, true);
  await assert.rejects(
    events.send(new TestEventPatternCommand({ EventPattern: '{"detail": 5}', Event: JSON.stringify(event) })),
    (e: any) => e.name === 'InvalidEventPatternException',
  );
});
