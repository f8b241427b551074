/**
 * Lambda functions invoked by other services, against a real opsbox process with SDK v3: an
 * EventBridge rule, an SNS subscription and an alarm action each invoke a function that writes the
 * event it got to S3; a CodePipeline Invoke action whose function answers with
 * PutJobSuccessResult (after a continuation) or PutJobFailureResult, or never (the job times out);
 * Secrets Manager rotation by a function implementing the four steps with the SDK the runtime provides.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CloudWatchClient, PutMetricAlarmCommand, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import {
  CodePipelineClient,
  CreatePipelineCommand,
  GetJobDetailsCommand,
  GetPipelineExecutionCommand,
  ListActionExecutionsCommand,
  ListPipelineExecutionsCommand,
  PutJobSuccessResultCommand,
  type PipelineDeclaration,
} from '@aws-sdk/client-codepipeline';
import { EventBridgeClient, PutEventsCommand, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { CreateFunctionCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  RotateSecretCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { CreateTopicCommand, PublishCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { clientConfig, failure, startOpsbox, unique, type RunningOpsbox } from '../helpers/opsbox.js';
import { ROLE, zip } from '../helpers/lambda.js';
import { waitFor } from '../helpers/wait.js';

const JOB_TIMEOUT_MS = 8000;

/** A function that writes every event it gets to s3://BUCKET/<name>/… */
const RECORDER = `import { S3Client, PutObjectCommand } from '@aws-sdk/client-s3';
const s3 = new S3Client({ forcePathStyle: true });
export const handler = async (event) => {
  const key = process.env.AWS_LAMBDA_FUNCTION_NAME + '/' + Date.now() + '-' + Math.random().toString(36).slice(2) + '.json';
  await s3.send(new PutObjectCommand({ Bucket: process.env.BUCKET, Key: key, Body: JSON.stringify(event) }));
};`;

describe('lambda event sources', () => {
  let box: RunningOpsbox;
  let lambda: LambdaClient;
  let s3: S3Client;
  let bucket: string;

  before(async () => {
    box = await startOpsbox({ env: { OPSBOX_CODEPIPELINE_JOB_TIMEOUT_MS: String(JOB_TIMEOUT_MS) } });
    lambda = new LambdaClient(clientConfig(box.url));
    s3 = new S3Client({ ...clientConfig(box.url), forcePathStyle: true });
    bucket = unique('events').toLowerCase();
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  });
  after(async () => {
    lambda?.destroy();
    s3?.destroy();
    await box?.dispose();
  });

  async function createFunction(code: string, extra: Partial<ConstructorParameters<typeof CreateFunctionCommand>[0]> = {}) {
    const name = unique('fn');
    const fn = await lambda.send(
      new CreateFunctionCommand({
        FunctionName: name,
        Runtime: 'nodejs20.x',
        Handler: 'index.handler',
        Role: ROLE,
        Code: { ZipFile: await zip({ 'index.mjs': code }) },
        Environment: { Variables: { BUCKET: bucket } },
        Timeout: 30,
        ...extra,
      }),
    );
    return { name, arn: fn.FunctionArn! };
  }

  /** The events a recorder function wrote, once there are `count`. */
  async function recorded(fn: string, count = 1): Promise<any[]> {
    const keys = await waitFor(
      `${count} event(s) recorded by ${fn}`,
      async () => (await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${fn}/` }))).Contents ?? [],
      (c) => c.length >= count,
      20_000,
      100,
    );
    return Promise.all(
      keys.map(async (k) =>
        JSON.parse(await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: k.Key! }))).Body!.transformToString()),
      ),
    );
  }

  test('an EventBridge rule invokes its Lambda target with the event', async () => {
    const fn = await createFunction(RECORDER);
    const eb = new EventBridgeClient(clientConfig(box.url));
    const rule = unique('orders');
    await eb.send(new PutRuleCommand({ Name: rule, EventPattern: JSON.stringify({ source: ['shop.orders'] }) }));
    await eb.send(new PutTargetsCommand({ Rule: rule, Targets: [{ Id: 'fn', Arn: fn.arn }] }));
    const put = await eb.send(
      new PutEventsCommand({ Entries: [{ Source: 'shop.orders', DetailType: 'Order Placed', Detail: JSON.stringify({ id: 42 }) }] }),
    );
    assert.equal(put.FailedEntryCount, 0);
    const [event] = await recorded(fn.name);
    assert.equal(event.id, put.Entries![0].EventId);
    assert.deepEqual([event.source, event['detail-type'], event.detail], ['shop.orders', 'Order Placed', { id: 42 }]);
    assert.equal(event.account, '000000000000');
    eb.destroy();
  });

  test('SNS delivers to a lambda subscription: the Records[0].Sns event', async () => {
    const fn = await createFunction(RECORDER);
    const sns = new SNSClient(clientConfig(box.url));
    const topic = (await sns.send(new CreateTopicCommand({ Name: unique('alerts') }))).TopicArn!;
    const sub = await sns.send(
      new SubscribeCommand({ TopicArn: topic, Protocol: 'lambda', Endpoint: fn.arn, ReturnSubscriptionArn: true }),
    );
    const pub = await sns.send(
      new PublishCommand({
        TopicArn: topic,
        Subject: 'disk',
        Message: 'disk almost full',
        MessageAttributes: { host: { DataType: 'String', StringValue: 'web-1' } },
      }),
    );
    const [event] = await recorded(fn.name);
    assert.equal(event.Records.length, 1);
    const r = event.Records[0];
    assert.deepEqual([r.EventSource, r.EventVersion, r.EventSubscriptionArn], ['aws:sns', '1.0', sub.SubscriptionArn]);
    assert.deepEqual(
      [r.Sns.Type, r.Sns.MessageId, r.Sns.TopicArn, r.Sns.Subject, r.Sns.Message],
      ['Notification', pub.MessageId, topic, 'disk', 'disk almost full'],
    );
    assert.deepEqual(r.Sns.MessageAttributes, { host: { Type: 'String', Value: 'web-1' } });
    for (const k of ['Timestamp', 'SignatureVersion', 'Signature', 'SigningCertUrl', 'UnsubscribeUrl']) assert.ok(r.Sns[k], k);
    sns.destroy();
  });

  test('an alarm going to ALARM invokes its Lambda action with the state change', async () => {
    const fn = await createFunction(RECORDER);
    const cw = new CloudWatchClient(clientConfig(box.url));
    const alarm = unique('cpu-high');
    await cw.send(
      new PutMetricAlarmCommand({
        AlarmName: alarm,
        AlarmDescription: 'cpu too high',
        Namespace: 'Shop',
        MetricName: 'CPU',
        Statistic: 'Average',
        Period: 60,
        EvaluationPeriods: 1,
        Threshold: 90,
        ComparisonOperator: 'GreaterThanThreshold',
        AlarmActions: [fn.arn],
      }),
    );
    await cw.send(new SetAlarmStateCommand({ AlarmName: alarm, StateValue: 'ALARM', StateReason: 'testing the action' }));
    const [event] = await recorded(fn.name);
    assert.equal(event.source, 'aws.cloudwatch');
    assert.equal(event.alarmArn, `arn:aws:cloudwatch:us-east-1:000000000000:alarm:${alarm}`);
    assert.deepEqual([event.accountId, event.region], ['000000000000', 'us-east-1']);
    assert.match(event.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$/);
    assert.equal(event.alarmData.alarmName, alarm);
    assert.deepEqual([event.alarmData.state.value, event.alarmData.state.reason], ['ALARM', 'testing the action']);
    assert.equal(event.alarmData.previousState.value, 'INSUFFICIENT_DATA');
    assert.equal(event.alarmData.configuration.description, 'cpu too high');
    assert.equal(event.alarmData.configuration.metrics[0].metricStat.metric.name, 'CPU');
    cw.destroy();
  });

  describe('CodePipeline Invoke actions', () => {
    let cp: CodePipelineClient;
    let source: string;
    before(async () => {
      cp = new CodePipelineClient(clientConfig(box.url));
      source = unique('src').toLowerCase();
      await s3.send(new CreateBucketCommand({ Bucket: source }));
      await s3.send(new PutBucketVersioningCommand({ Bucket: source, VersioningConfiguration: { Status: 'Enabled' } }));
      await s3.send(new PutObjectCommand({ Bucket: source, Key: 'app.zip', Body: await zip({ 'app.txt': 'v1' }) }));
    });
    after(() => cp?.destroy());

    /** A pipeline: the S3 source, then the Invoke action running `fn`; the first execution's id. */
    async function pipeline(fn: string, userParameters: string) {
      const name = unique('invoke');
      const artifacts = unique('artifacts').toLowerCase();
      await s3.send(new CreateBucketCommand({ Bucket: artifacts }));
      await cp.send(
        new CreatePipelineCommand({
          pipeline: {
            name,
            roleArn: 'arn:aws:iam::000000000000:role/pipeline',
            artifactStore: { type: 'S3', location: artifacts },
            stages: [
              {
                name: 'Source',
                actions: [
                  {
                    name: 'Src',
                    actionTypeId: { category: 'Source', owner: 'AWS', provider: 'S3', version: '1' },
                    configuration: { S3Bucket: source, S3ObjectKey: 'app.zip', PollForSourceChanges: 'false' },
                    outputArtifacts: [{ name: 'SourceOutput' }],
                  },
                ],
              },
              {
                name: 'Check',
                actions: [
                  {
                    name: 'Invoke',
                    actionTypeId: { category: 'Invoke', owner: 'AWS', provider: 'Lambda', version: '1' },
                    configuration: { FunctionName: fn, UserParameters: userParameters },
                    inputArtifacts: [{ name: 'SourceOutput' }],
                    outputArtifacts: [{ name: 'Checked' }],
                    namespace: 'Check',
                  },
                ],
              },
            ],
          } as PipelineDeclaration,
        }),
      );
      const [e] = await waitFor(
        'the first execution',
        async () => (await cp.send(new ListPipelineExecutionsCommand({ pipelineName: name }))).pipelineExecutionSummaries ?? [],
        (x) => x.length > 0,
      );
      return { name, executionId: e.pipelineExecutionId! };
    }

    async function finished(name: string, executionId: string) {
      const e = await waitFor(
        'the execution to finish',
        async () =>
          (await cp.send(new GetPipelineExecutionCommand({ pipelineName: name, pipelineExecutionId: executionId }))).pipelineExecution!,
        (x) => x.status !== 'InProgress',
        30_000,
        100,
      );
      const actions = (await cp.send(new ListActionExecutionsCommand({ pipelineName: name }))).actionExecutionDetails ?? [];
      return { execution: e, invoke: actions.find((a) => a.actionName === 'Invoke')! };
    }

    test('the function gets the job, continues once, and succeeds with output variables', async () => {
      const fn =
        await createFunction(`import { CodePipelineClient, GetJobDetailsCommand, PutJobSuccessResultCommand } from '@aws-sdk/client-codepipeline';
import { S3Client, PutObjectCommand } from '@aws-sdk/client-s3';
const cp = new CodePipelineClient({});
const s3 = new S3Client({ forcePathStyle: true });
export const handler = async (event) => {
  const job = event['CodePipeline.job'];
  await s3.send(new PutObjectCommand({ Bucket: process.env.BUCKET, Key: process.env.AWS_LAMBDA_FUNCTION_NAME + '/' + job.id + '.json', Body: JSON.stringify(event) }));
  if (!job.data.continuationToken) {
    await cp.send(new PutJobSuccessResultCommand({ jobId: job.id, continuationToken: 'halfway' }));
    return;
  }
  const details = (await cp.send(new GetJobDetailsCommand({ jobId: job.id }))).jobDetails;
  await cp.send(new PutJobSuccessResultCommand({
    jobId: job.id,
    executionDetails: { summary: 'checked ' + job.data.actionConfiguration.configuration.UserParameters, externalExecutionId: 'check-1' },
    outputVariables: { token: job.data.continuationToken, stage: details.data.pipelineContext.stage.name },
  }));
};`);
      const { name, executionId } = await pipeline(fn.name, '{"env":"test"}');
      const { execution, invoke } = await finished(name, executionId);
      assert.equal(execution.status, 'Succeeded', JSON.stringify(invoke));
      assert.equal(invoke.status, 'Succeeded');
      assert.deepEqual(invoke.output!.outputVariables, { token: 'halfway', stage: 'Check' });
      assert.equal(invoke.output!.executionResult!.externalExecutionSummary, 'checked {"env":"test"}');
      assert.equal(invoke.output!.executionResult!.externalExecutionId, 'check-1');

      const jobs = await recorded(fn.name, 2);
      const all = jobs.map((e) => e['CodePipeline.job']);
      const first = all.find((j) => !j.data.continuationToken);
      const second = all.find((j) => j.data.continuationToken);
      assert.notEqual(first.id, second.id, 'each invocation is a new job');
      assert.equal(first.accountId, '000000000000');
      assert.deepEqual(first.data.actionConfiguration, { configuration: { FunctionName: fn.name, UserParameters: '{"env":"test"}' } });
      assert.equal(first.data.continuationToken, undefined);
      assert.equal(second.data.continuationToken, 'halfway');
      const [input] = first.data.inputArtifacts;
      assert.equal(input.name, 'SourceOutput');
      assert.equal(input.location.type, 'S3');
      assert.ok(input.revision, 'the source revision');
      const [output] = first.data.outputArtifacts;
      assert.deepEqual([output.name, output.revision, output.location.type], ['Checked', null, 'S3']);
      assert.ok(first.data.artifactCredentials.accessKeyId && first.data.artifactCredentials.secretAccessKey);
      // the artifact credentials read the input artifact
      const reader = new S3Client({
        ...clientConfig(box.url, {
          accessKeyId: first.data.artifactCredentials.accessKeyId,
          secretAccessKey: first.data.artifactCredentials.secretAccessKey,
          sessionToken: first.data.artifactCredentials.sessionToken || undefined,
        }),
        forcePathStyle: true,
      });
      const artifact = await reader.send(
        new GetObjectCommand({ Bucket: input.location.s3Location.bucketName, Key: input.location.s3Location.objectKey }),
      );
      assert.ok((await artifact.Body!.transformToByteArray()).length > 0);
      reader.destroy();

      // a job answers once; GetJobDetails still describes it
      const again = await failure(cp.send(new PutJobSuccessResultCommand({ jobId: second.id })));
      assert.equal(again.name, 'InvalidJobStateException');
      const details = (await cp.send(new GetJobDetailsCommand({ jobId: second.id }))).jobDetails!;
      assert.equal(details.data!.pipelineContext!.pipelineName, name);
      assert.deepEqual(details.data!.actionTypeId, { category: 'Invoke', owner: 'AWS', provider: 'Lambda', version: '1' });
      const unknown = await failure(cp.send(new GetJobDetailsCommand({ jobId: '00000000-0000-0000-0000-000000000000' })));
      assert.equal(unknown.name, 'JobNotFoundException');
    });

    test('PutJobFailureResult fails the action with its message; a job never answered times out', async () => {
      const failing = await createFunction(`import { CodePipelineClient, PutJobFailureResultCommand } from '@aws-sdk/client-codepipeline';
const cp = new CodePipelineClient({});
export const handler = async (event) => {
  const job = event['CodePipeline.job'];
  await cp.send(new PutJobFailureResultCommand({ jobId: job.id, failureDetails: { type: 'JobFailed', message: 'smoke test failed: 3 of 10' } }));
};`);
      const silent = await createFunction(`export const handler = async () => 'not telling';`);
      const [bad, quiet] = await Promise.all([pipeline(failing.name, ''), pipeline(silent.name, '')]);

      const f = await finished(bad.name, bad.executionId);
      assert.equal(f.execution.status, 'Failed');
      assert.equal(f.invoke.status, 'Failed');
      assert.deepEqual(f.invoke.output!.executionResult!.errorDetails, { code: 'JobFailed', message: 'smoke test failed: 3 of 10' });

      const t = await finished(quiet.name, quiet.executionId);
      assert.equal(t.execution.status, 'Failed');
      assert.match(
        t.invoke.output!.executionResult!.errorDetails!.message!,
        /did not call PutJobSuccessResult or PutJobFailureResult within 8 seconds/,
      );
    });
  });

  test('Secrets Manager rotation runs a real function through its four steps', async () => {
    const fn = await createFunction(`import {
  SecretsManagerClient, DescribeSecretCommand, GetSecretValueCommand, GetRandomPasswordCommand,
  PutSecretValueCommand, UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
const sm = new SecretsManagerClient({});
export const handler = async ({ SecretId, ClientRequestToken: token, Step }) => {
  console.log('step', Step);
  const meta = await sm.send(new DescribeSecretCommand({ SecretId }));
  if (!meta.RotationEnabled) throw new Error('rotation is not enabled');
  const stages = meta.VersionIdsToStages[token];
  if (!stages) throw new Error('no version ' + token);
  if (stages.includes('AWSCURRENT')) return;
  if (!stages.includes('AWSPENDING')) throw new Error('version ' + token + ' is not AWSPENDING');
  if (Step === 'createSecret') {
    const current = JSON.parse((await sm.send(new GetSecretValueCommand({ SecretId, VersionStage: 'AWSCURRENT' }))).SecretString);
    try {
      await sm.send(new GetSecretValueCommand({ SecretId, VersionId: token, VersionStage: 'AWSPENDING' }));
    } catch (e) {
      if (e.name !== 'ResourceNotFoundException') throw e;
      const { RandomPassword } = await sm.send(new GetRandomPasswordCommand({ PasswordLength: 24, ExcludePunctuation: true }));
      await sm.send(new PutSecretValueCommand({
        SecretId, ClientRequestToken: token, VersionStages: ['AWSPENDING'],
        SecretString: JSON.stringify({ ...current, password: RandomPassword }),
      }));
    }
  } else if (Step === 'setSecret' || Step === 'testSecret') {
    const pending = JSON.parse((await sm.send(new GetSecretValueCommand({ SecretId, VersionId: token, VersionStage: 'AWSPENDING' }))).SecretString);
    if (pending.password.length !== 24) throw new Error('bad pending password');
  } else if (Step === 'finishSecret') {
    const current = Object.keys(meta.VersionIdsToStages).find((v) => meta.VersionIdsToStages[v].includes('AWSCURRENT'));
    await sm.send(new UpdateSecretVersionStageCommand({ SecretId, VersionStage: 'AWSCURRENT', MoveToVersionId: token, RemoveFromVersionId: current }));
  } else throw new Error('unknown step ' + Step);
};`);
    const sm = new SecretsManagerClient(clientConfig(box.url));
    const name = unique('db');
    const old = { username: 'app', password: 'first-password' };
    const created = await sm.send(new CreateSecretCommand({ Name: name, SecretString: JSON.stringify(old) }));
    const rotated = await sm.send(
      new RotateSecretCommand({ SecretId: name, RotationLambdaARN: fn.arn, RotationRules: { AutomaticallyAfterDays: 30 } }),
    );
    const described = await waitFor(
      'AWSCURRENT to move to the new version',
      () => sm.send(new DescribeSecretCommand({ SecretId: name })),
      (d) => !!d.VersionIdsToStages?.[rotated.VersionId!]?.includes('AWSCURRENT') && !!d.LastRotatedDate,
      30_000,
      100,
    );
    assert.deepEqual(described.VersionIdsToStages![created.VersionId!], ['AWSPREVIOUS']);
    assert.equal(described.RotationEnabled, true);
    assert.equal(described.RotationLambdaARN, fn.arn);
    const current = JSON.parse((await sm.send(new GetSecretValueCommand({ SecretId: name }))).SecretString!);
    assert.equal(current.username, 'app');
    assert.equal(current.password.length, 24);
    assert.notEqual(current.password, old.password);
    const previous = JSON.parse((await sm.send(new GetSecretValueCommand({ SecretId: name, VersionStage: 'AWSPREVIOUS' }))).SecretString!);
    assert.deepEqual(previous, old);

    const logs = new CloudWatchLogsClient(clientConfig(box.url));
    const steps = await waitFor(
      'the four steps in the function log',
      async () =>
        ((await logs.send(new FilterLogEventsCommand({ logGroupName: `/aws/lambda/${fn.name}`, filterPattern: 'step' }))).events ?? []).map(
          (e) => /step (\w+)/.exec(e.message ?? '')?.[1],
        ),
      (s) => s.length >= 4,
      10_000,
    );
    assert.deepEqual(steps, ['createSecret', 'setSecret', 'testSecret', 'finishSecret']);
    logs.destroy();
    sm.destroy();
  });
});
