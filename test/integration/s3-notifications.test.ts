/**
 * S3 event notifications against a real opsbox process: Put/GetBucketNotificationConfiguration with
 * SDK v3 and the aws CLI (AWS's validation: event names, filter rules, overlapping configurations,
 * destinations it cannot validate), and real deliveries on object create and delete: to an SNS
 * topic whose HTTP subscriber receives S3's event message (and the s3:TestEvent), to a Lambda
 * function that writes a marker object with the SDK its runtime provides, and to EventBridge,
 * where a rule matching "Object Created" forwards the event to SNS.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { EventBridgeClient, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { CreateFunctionCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketNotificationConfigurationCommand,
  GetObjectCommand,
  PutBucketNotificationConfigurationCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type NotificationConfiguration,
} from '@aws-sdk/client-s3';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { zip } from '../helpers/lambda.js';
import { awsCli, clientConfig, failure, startOpsbox, unique, type RunningOpsbox } from '../helpers/opsbox.js';
import { waitFor } from '../helpers/wait.js';

const ACCOUNT = '000000000000';

let box: RunningOpsbox;
let s3: S3Client;
let sns: SNSClient;
let hook: Server;
let hookUrl: string;
/** Every SNS message the hook received, parsed. */
const received: any[] = [];

before(async () => {
  box = await startOpsbox();
  s3 = new S3Client({ ...clientConfig(box.url), forcePathStyle: true });
  sns = new SNSClient(clientConfig(box.url));
  hook = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const msg = JSON.parse(body);
      received.push(msg);
      if (msg.Type === 'SubscriptionConfirmation') void fetch(msg.SubscribeURL);
      res.writeHead(200);
      res.end();
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', () => r()));
  hookUrl = `http://127.0.0.1:${(hook.address() as { port: number }).port}/`;
});
after(async () => {
  s3?.destroy();
  sns?.destroy();
  hook?.close();
  await box?.dispose();
});

async function bucket(prefix = 'notif') {
  const name = unique(prefix);
  await s3.send(new CreateBucketCommand({ Bucket: name }));
  return name;
}

/** A topic with the hook subscribed and confirmed. */
async function topic() {
  const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: unique('s3-events') }));
  await sns.send(new SubscribeCommand({ TopicArn, Protocol: 'http', Endpoint: hookUrl }));
  await waitFor(
    'the subscription to be confirmed',
    () => received.some((m) => m.Type === 'SubscriptionConfirmation' && m.TopicArn === TopicArn),
    (ok) => ok,
    10_000,
  );
  // ConfirmSubscription via SubscribeURL is fire-and-forget above; give it a moment to land
  await new Promise((r) => setTimeout(r, 200));
  return TopicArn!;
}

/** The S3 messages (parsed Message bodies) the topic delivered so far. */
const messagesOf = (topicArn: string) =>
  received
    .filter((m) => m.Type === 'Notification' && m.TopicArn === topicArn)
    .map((m) => ({ subject: m.Subject, body: JSON.parse(m.Message) }));

const recordsOf = (topicArn: string) => messagesOf(topicArn).flatMap((m) => m.body.Records ?? []);

async function records(topicArn: string, n: number) {
  return waitFor(
    `${n} S3 event records on ${topicArn}`,
    () => recordsOf(topicArn),
    (r) => r.length >= n,
    10_000,
  );
}

const putConfig = (Bucket: string, NotificationConfiguration: NotificationConfiguration, SkipDestinationValidation?: boolean) =>
  s3.send(new PutBucketNotificationConfigurationCommand({ Bucket, NotificationConfiguration, SkipDestinationValidation }));

describe('notification configuration', () => {
  test('Put/Get round-trip: ids made up when absent, filter rule names as S3 keeps them, EventBridgeConfiguration', async () => {
    const b = await bucket();
    const t = await topic();
    await putConfig(b, {
      TopicConfigurations: [
        { TopicArn: t, Events: ['s3:ObjectCreated:*'], Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'in/' }] } } },
        { Id: 'removed', TopicArn: t, Events: ['s3:ObjectRemoved:*'] },
      ],
      EventBridgeConfiguration: {},
    });
    const got = await s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: b }));
    assert.equal(got.TopicConfigurations?.length, 2);
    const [created, removed] = got.TopicConfigurations!;
    assert.ok(created.Id && created.Id.length > 10);
    assert.deepEqual(created.Filter, { Key: { FilterRules: [{ Name: 'Prefix', Value: 'in/' }] } });
    assert.deepEqual([removed.Id, removed.TopicArn, removed.Events], ['removed', t, ['s3:ObjectRemoved:*']]);
    assert.deepEqual(got.EventBridgeConfiguration, {});
    assert.equal(got.LambdaFunctionConfigurations, undefined);

    await putConfig(b, {});
    const cleared = await s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: b }));
    assert.equal(cleared.TopicConfigurations, undefined);
    assert.equal(cleared.EventBridgeConfiguration, undefined);
  });

  test("AWS's validation errors", async () => {
    const b = await bucket();
    const t = await topic();
    const refused = async (config: NotificationConfiguration, message: string) => {
      const e = await failure(putConfig(b, config));
      assert.equal(e.name, 'InvalidArgument', e.message);
      assert.equal(e.status, 400);
      assert.equal(e.message, message);
    };
    await refused(
      { TopicConfigurations: [{ TopicArn: t, Events: ['s3:ObjectCreated:Bad' as never] }] },
      'The event is not supported for notifications',
    );
    await refused(
      {
        TopicConfigurations: [
          { TopicArn: t, Events: ['s3:ObjectCreated:*'], Filter: { Key: { FilterRules: [{ Name: 'middle' as never, Value: 'x' }] } } },
        ],
      },
      'filter rule name must be either prefix or suffix',
    );
    await refused(
      {
        TopicConfigurations: [
          {
            TopicArn: t,
            Events: ['s3:ObjectCreated:*'],
            Filter: {
              Key: {
                FilterRules: [
                  { Name: 'prefix', Value: 'a' },
                  { Name: 'Prefix' as never, Value: 'b' },
                ],
              },
            },
          },
        ],
      },
      'Cannot specify more than one prefix rule in a filter.',
    );
    await refused(
      {
        TopicConfigurations: [
          { TopicArn: t, Events: ['s3:ObjectCreated:*'] },
          { TopicArn: t, Events: ['s3:ObjectCreated:Put'] },
        ],
      },
      'Configurations overlap. Configurations on the same bucket cannot share a common event type.',
    );
    const suffixed = (Value: string) => ({ Key: { FilterRules: [{ Name: 'suffix' as const, Value }] } });
    await refused(
      {
        TopicConfigurations: [
          { TopicArn: t, Events: ['s3:ObjectCreated:*'], Filter: suffixed('.jpg') },
          { TopicArn: t, Events: ['s3:ObjectCreated:Copy'], Filter: suffixed('b.jpg') },
        ],
      },
      'Configuration is ambiguously defined. Cannot have overlapping suffixes in two rules if the prefixes are overlapping for the same event type.',
    );
    // different suffixes, or different event families, do not overlap
    await putConfig(b, {
      TopicConfigurations: [
        { TopicArn: t, Events: ['s3:ObjectCreated:*'], Filter: suffixed('.jpg') },
        { TopicArn: t, Events: ['s3:ObjectCreated:*'], Filter: suffixed('.png') },
        { TopicArn: t, Events: ['s3:ObjectRemoved:*'] },
      ],
    });
    await refused({ TopicConfigurations: [{ TopicArn: 'not-an-arn', Events: ['s3:ObjectCreated:*'] }] }, 'The ARN is not well formed');

    // destinations S3 cannot validate: a topic that does not exist, a queue (opsbox has no SQS), a missing function
    const missingTopic = `arn:aws:sns:us-east-1:${ACCOUNT}:${unique('nope')}`;
    const queue = `arn:aws:sqs:us-east-1:${ACCOUNT}:q`;
    const fn = `arn:aws:lambda:us-east-1:${ACCOUNT}:function:${unique('nofn')}`;
    for (const config of [
      { TopicConfigurations: [{ TopicArn: missingTopic, Events: ['s3:ObjectCreated:*'] }] },
      { QueueConfigurations: [{ QueueArn: queue, Events: ['s3:ObjectCreated:*'] }] },
      { LambdaFunctionConfigurations: [{ LambdaFunctionArn: fn, Events: ['s3:ObjectCreated:*'] }] },
    ] as NotificationConfiguration[])
      await refused(config, 'Unable to validate the following destination configurations');
    // the raw error names the destination and why, as ArgumentName1 / ArgumentValue1
    const raw = await awsCli(box.url, [
      's3api',
      'put-bucket-notification-configuration',
      '--bucket',
      b,
      '--notification-configuration',
      JSON.stringify({ QueueConfigurations: [{ QueueArn: queue, Events: ['s3:ObjectCreated:*'] }] }),
      '--debug',
    ]);
    assert.notEqual(raw.code, 0);
    assert.match(
      raw.stderr,
      new RegExp(
        `<ArgumentName1>${queue}</ArgumentName1><ArgumentValue1>Permissions on the destination queue do not allow S3 to publish notifications from this bucket</ArgumentValue1>`,
      ),
    );
    // the earlier configuration is still there
    const kept = await s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: b }));
    assert.equal(kept.TopicConfigurations?.length, 3);
    // SkipDestinationValidation keeps a queue configuration S3 could not check
    await putConfig(b, { QueueConfigurations: [{ QueueArn: queue, Events: ['s3:ObjectCreated:*'] }] }, true);
    const skipped = await s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: b }));
    assert.equal(skipped.QueueConfigurations?.[0].QueueArn, queue);
  });

  test('the aws CLI: put- and get-bucket-notification-configuration', async () => {
    const b = await bucket();
    const t = await topic();
    const put = await awsCli(box.url, [
      's3api',
      'put-bucket-notification-configuration',
      '--bucket',
      b,
      '--notification-configuration',
      JSON.stringify({ TopicConfigurations: [{ Id: 'cli', TopicArn: t, Events: ['s3:ObjectCreated:Put'] }] }),
    ]);
    assert.equal(put.code, 0, put.stderr);
    const got = await awsCli(box.url, ['s3api', 'get-bucket-notification-configuration', '--bucket', b]);
    assert.equal(got.code, 0, got.stderr);
    assert.deepEqual(JSON.parse(got.stdout), { TopicConfigurations: [{ Id: 'cli', TopicArn: t, Events: ['s3:ObjectCreated:Put'] }] });
  });
});

describe('deliveries', () => {
  test('SNS: the s3:TestEvent, then S3 event messages for put, copy, multipart and delete, filtered by prefix', async () => {
    const b = await bucket();
    const t = await topic();
    await putConfig(b, {
      TopicConfigurations: [
        {
          Id: 'created',
          TopicArn: t,
          Events: ['s3:ObjectCreated:*'],
          Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'in/' }] } },
        },
        { Id: 'removed', TopicArn: t, Events: ['s3:ObjectRemoved:Delete'] },
      ],
    });
    const test = await waitFor(
      'the test event',
      () => messagesOf(t),
      (m) => m.length >= 1,
      10_000,
    );
    assert.equal(test[0].subject, 'Amazon S3 Notification');
    assert.equal(test[0].body.Service, 'Amazon S3');
    assert.equal(test[0].body.Event, 's3:TestEvent');
    assert.equal(test[0].body.Bucket, b);

    const put = await s3.send(new PutObjectCommand({ Bucket: b, Key: 'in/a b=c.txt', Body: 'hello' }));
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'out/ignored.txt', Body: 'x' }));
    const [r] = await records(t, 1);
    assert.equal(r.eventVersion, '2.1');
    assert.equal(r.eventSource, 'aws:s3');
    assert.equal(r.awsRegion, 'us-east-1');
    assert.equal(r.eventName, 'ObjectCreated:Put');
    assert.ok(!Number.isNaN(Date.parse(r.eventTime)));
    assert.ok(r.userIdentity.principalId);
    assert.ok(r.requestParameters.sourceIPAddress);
    assert.ok(r.responseElements['x-amz-request-id']);
    assert.equal(r.s3.s3SchemaVersion, '1.0');
    assert.equal(r.s3.configurationId, 'created');
    assert.equal(r.s3.bucket.name, b);
    assert.equal(r.s3.bucket.arn, `arn:aws:s3:::${b}`);
    assert.ok(r.s3.bucket.ownerIdentity.principalId);
    assert.equal(r.s3.object.key, 'in/a+b%3Dc.txt');
    assert.equal(r.s3.object.size, 5);
    assert.equal(`"${r.s3.object.eTag}"`, put.ETag);
    assert.equal(r.s3.object.versionId, undefined);
    assert.match(r.s3.object.sequencer, /^[0-9A-F]{16,}$/);
    assert.equal(messagesOf(t)[1].subject, 'Amazon S3 Notification');

    await s3.send(new CopyObjectCommand({ Bucket: b, Key: 'in/copy.txt', CopySource: `${b}/in/a b=c.txt` }));
    const up = await s3.send(new CreateMultipartUploadCommand({ Bucket: b, Key: 'in/big.bin' }));
    const part = await s3.send(new UploadPartCommand({ Bucket: b, Key: 'in/big.bin', UploadId: up.UploadId, PartNumber: 1, Body: 'part' }));
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: b,
        Key: 'in/big.bin',
        UploadId: up.UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
      }),
    );
    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'out/ignored.txt' }));
    const all = await records(t, 4);
    // SNS does not promise delivery order (nor does AWS): compare as a set
    assert.deepEqual(
      all.map((x: any) => [x.eventName, x.s3.configurationId, x.s3.object.key]).sort(),
      [
        ['ObjectCreated:Put', 'created', 'in/a+b%3Dc.txt'],
        ['ObjectCreated:Copy', 'created', 'in/copy.txt'],
        ['ObjectCreated:CompleteMultipartUpload', 'created', 'in/big.bin'],
        ['ObjectRemoved:Delete', 'removed', 'out/ignored.txt'],
      ].sort(),
    );
    assert.equal(all.find((x: any) => x.eventName === 'ObjectRemoved:Delete').s3.object.size, undefined);
    assert.equal(new Set(all.map((x: any) => x.s3.object.sequencer)).size, 4);
  });

  test('SNS: a versioned bucket reports version ids; a delete without one is s3:ObjectRemoved:DeleteMarkerCreated', async () => {
    const b = await bucket();
    await s3.send(new PutBucketVersioningCommand({ Bucket: b, VersioningConfiguration: { Status: 'Enabled' } }));
    const t = await topic();
    await putConfig(b, {
      TopicConfigurations: [
        { TopicArn: t, Events: ['s3:ObjectCreated:Put'] },
        { TopicArn: t, Events: ['s3:ObjectRemoved:*'] },
      ],
    });
    const put = await s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'v1' }));
    const del = await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'k' }));
    await s3.send(new DeleteObjectsCommand({ Bucket: b, Delete: { Objects: [{ Key: 'k', VersionId: put.VersionId }] } }));
    const all = await records(t, 3);
    // SNS does not promise delivery order (nor does AWS): compare as a set
    assert.deepEqual(
      all.map((x: any) => [x.eventName, x.s3.object.versionId]).sort(),
      [
        ['ObjectCreated:Put', put.VersionId],
        ['ObjectRemoved:DeleteMarkerCreated', del.VersionId],
        ['ObjectRemoved:Delete', put.VersionId],
      ].sort(),
    );
  });

  test('Lambda: an upload invokes the function with the event, which writes a marker object', async () => {
    const lambda = new LambdaClient(clientConfig(box.url));
    const source = await bucket('upload');
    const markers = await bucket('marker');
    const name = unique('on-upload');
    const code = await zip({
      'index.mjs': `import { S3Client, PutObjectCommand } from '@aws-sdk/client-s3';
const s3 = new S3Client({ forcePathStyle: true });
export const handler = async (event) => {
  const r = event.Records[0];
  const key = decodeURIComponent(r.s3.object.key.replace(/\\+/g, ' '));
  await s3.send(new PutObjectCommand({ Bucket: process.env.MARKERS, Key: 'seen/' + key, Body: JSON.stringify(r) }));
};`,
    });
    const fn = await lambda.send(
      new CreateFunctionCommand({
        FunctionName: name,
        Runtime: 'nodejs20.x',
        Handler: 'index.handler',
        Role: `arn:aws:iam::${ACCOUNT}:role/s3-trigger`,
        Code: { ZipFile: code },
        Environment: { Variables: { MARKERS: markers } },
      }),
    );
    await putConfig(source, {
      LambdaFunctionConfigurations: [
        {
          Id: 'to-fn',
          LambdaFunctionArn: fn.FunctionArn,
          Events: ['s3:ObjectCreated:*'],
          Filter: { Key: { FilterRules: [{ Name: 'suffix', Value: '.txt' }] } },
        },
      ],
    });
    const got = await s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: source }));
    assert.equal(got.LambdaFunctionConfigurations?.[0].LambdaFunctionArn, fn.FunctionArn);

    await s3.send(new PutObjectCommand({ Bucket: source, Key: 'skip.bin', Body: 'no' }));
    await s3.send(new PutObjectCommand({ Bucket: source, Key: 'hello world.txt', Body: 'hi' }));
    const marker = await waitFor(
      'the function to write its marker',
      () =>
        s3.send(new GetObjectCommand({ Bucket: markers, Key: 'seen/hello world.txt' })).then(
          (o) => o.Body!.transformToString(),
          () => undefined,
        ),
      (v) => v !== undefined,
      30_000,
      200,
    );
    const record = JSON.parse(marker!);
    assert.equal(record.eventName, 'ObjectCreated:Put');
    assert.equal(record.s3.configurationId, 'to-fn');
    assert.equal(record.s3.bucket.name, source);
    assert.equal(record.s3.object.size, 2);
    const skipped = await failure(s3.send(new GetObjectCommand({ Bucket: markers, Key: 'seen/skip.bin' })));
    assert.equal(skipped.name, 'NoSuchKey');
    lambda.destroy();
  });

  test('EventBridge: a rule matching "Object Created" (and "Object Deleted") from aws.s3 gets the events', async () => {
    const eb = new EventBridgeClient(clientConfig(box.url));
    const b = await bucket();
    const t = await topic();
    const rule = unique('s3-objects');
    await eb.send(
      new PutRuleCommand({
        Name: rule,
        EventPattern: JSON.stringify({
          source: ['aws.s3'],
          'detail-type': ['Object Created', 'Object Deleted'],
          detail: { bucket: { name: [b] } },
        }),
      }),
    );
    await eb.send(new PutTargetsCommand({ Rule: rule, Targets: [{ Id: 'sns', Arn: t }] }));
    await putConfig(b, { EventBridgeConfiguration: {} });
    const put = await s3.send(new PutObjectCommand({ Bucket: b, Key: 'reports/q1.csv', Body: 'a,b' }));
    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'reports/q1.csv' }));
    const events = await waitFor(
      'two S3 events through the rule',
      () => messagesOf(t).map((m) => m.body),
      (m) => m.length >= 2,
      10_000,
    );
    const created = events.find((e) => e['detail-type'] === 'Object Created');
    const deleted = events.find((e) => e['detail-type'] === 'Object Deleted');
    assert.ok(created && deleted, JSON.stringify(events));
    assert.equal(created.source, 'aws.s3');
    assert.equal(created.account, ACCOUNT);
    assert.equal(created.region, 'us-east-1');
    assert.deepEqual(created.resources, [`arn:aws:s3:::${b}`]);
    assert.equal(created.detail.version, '0');
    assert.deepEqual(created.detail.bucket, { name: b });
    assert.equal(created.detail.object.key, 'reports/q1.csv');
    assert.equal(created.detail.object.size, 3);
    assert.equal(`"${created.detail.object.etag}"`, put.ETag);
    assert.ok(created.detail.object.sequencer);
    assert.ok(created.detail['request-id']);
    assert.equal(created.detail.requester, ACCOUNT);
    assert.equal(created.detail.reason, 'PutObject');
    assert.equal(deleted.detail.reason, 'DeleteObject');
    assert.equal(deleted.detail['deletion-type'], 'Permanently Deleted');
    eb.destroy();
  });
});
