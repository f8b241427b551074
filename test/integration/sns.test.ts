/**
 * SNS against a real opsbox process, driven by Debian's aws CLI v2 and raw awsQuery POSTs (and
 * @aws-sdk/client-sns v3 where a test says so): topics, subscriptions, the http confirmation handshake with a
 * local node:http endpoint, signed notifications verified against the SigningCertURL certificate,
 * raw delivery, filter policies, Publish/PublishBatch checks, FIFO, cross-account access and
 * durability across kill -9.
 */
import assert from 'node:assert/strict';
import { createVerify, X509Certificate } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { XMLParser } from 'fast-xml-parser';
import { CreateTopicCommand, DeleteTopicCommand, ListTagsForResourceCommand, SNSClient } from '@aws-sdk/client-sns';
import { awsCli, clientConfig, startOpsbox, unique, type RunningOpsbox } from '../helpers/opsbox.js';

const ACCOUNT = '000000000000';
const xml = new XMLParser({ parseTagValue: false });

let box: RunningOpsbox;
let dataDir: string;

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'opsbox-sns-'));
  box = await startOpsbox({ dataDir });
});

after(async () => {
  await box?.dispose();
  rmSync(dataDir, { recursive: true, force: true });
});

interface QueryResult {
  status: number;
  result: any;
  error?: { Code: string; Message: string; Type: string };
}

/** A raw awsQuery call; `account` is a 12-digit access key id, which opsbox maps to that account. */
async function query(
  action: string,
  params: Record<string, string> = {},
  opts: { account?: string; region?: string } = {},
): Promise<QueryResult> {
  const res = await fetch(`${box.url}/`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
      authorization: `AWS4-HMAC-SHA256 Credential=${opts.account ?? 'test'}/20260101/${opts.region ?? 'us-east-1'}/sns/aws4_request, SignedHeaders=host, Signature=00`,
    },
    body: new URLSearchParams({ Action: action, Version: '2010-03-31', ...params }).toString(),
  });
  const doc = xml.parse(await res.text());
  if (doc.ErrorResponse) return { status: res.status, result: undefined, error: doc.ErrorResponse.Error };
  return { status: res.status, result: doc[`${action}Response`]?.[`${action}Result`] ?? {} };
}

/** Query-protocol map entries → object. */
function entries(map: any): Record<string, string> {
  const list = map?.entry === undefined ? [] : Array.isArray(map.entry) ? map.entry : [map.entry];
  return Object.fromEntries(list.map((e: any) => [e.key, e.value ?? '']));
}

const members = (x: any): any[] => (x?.member === undefined ? [] : Array.isArray(x.member) ? x.member : [x.member]);

async function cli(args: string[]) {
  const r = await awsCli(box.url, args);
  return { ...r, json: r.code === 0 && r.stdout.trim() ? JSON.parse(r.stdout) : undefined };
}

async function createTopic(prefix = 'topic', attrs: Record<string, string> = {}) {
  const params: Record<string, string> = { Name: unique(prefix) };
  Object.entries(attrs).forEach(([k, v], i) => {
    params[`Attributes.entry.${i + 1}.key`] = k;
    params[`Attributes.entry.${i + 1}.value`] = v;
  });
  if (attrs.FifoTopic === 'true') params.Name += '.fifo';
  const r = await query('CreateTopic', params);
  assert.equal(r.status, 200, JSON.stringify(r.error));
  return r.result.TopicArn as string;
}

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  url: string;
}

/** A local HTTP endpoint recording what SNS POSTs; `status` picks each response's code. */
async function endpoint(status: () => number = () => 200) {
  const received: Received[] = [];
  const waiters: { pred: (r: Received) => boolean; resolve: (r: Received) => void }[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const r = { headers: req.headers, body, url: req.url ?? '/' };
      received.push(r);
      res.writeHead(status());
      res.end();
      for (const w of [...waiters])
        if (w.pred(r)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(r);
        }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    next(pred: (r: Received) => boolean = () => true, ms = 5000): Promise<Received> {
      const hit = received.find(pred);
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('no matching delivery')), ms);
        waiters.push({ pred, resolve: (r) => (clearTimeout(t), resolve(r)) });
      });
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

const ofType = (type: string) => (r: Received) => r.headers['x-amz-sns-message-type'] === type;

/** Checks a received document's signature the way a subscriber does, with the SigningCertURL certificate. */
async function verifySignature(doc: Record<string, string>) {
  const pem = await (await fetch(doc.SigningCertURL)).text();
  const cert = new X509Certificate(pem);
  const fields =
    doc.Type === 'Notification'
      ? ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type']
      : ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'];
  const canonical = fields
    .filter((f) => doc[f] !== undefined)
    .map((f) => `${f}\n${doc[f]}\n`)
    .join('');
  const v = createVerify(doc.SignatureVersion === '2' ? 'RSA-SHA256' : 'RSA-SHA1');
  v.update(canonical, 'utf8');
  return v.verify(cert.publicKey, doc.Signature, 'base64');
}

/** The recorded deliveries matching `filter`, once at least `atLeast` are there (fan-out is asynchronous). */
async function deliveries(filter: Record<string, string>, atLeast = 1) {
  const end = Date.now() + 5000;
  for (;;) {
    const res = await fetch(`${box.url}/_aws/sns/deliveries?${new URLSearchParams(filter)}`);
    const list = ((await res.json()) as { deliveries: any[] }).deliveries;
    if (list.length >= atLeast || Date.now() > end) return list;
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Subscribes an http endpoint and confirms it by GETting the SubscribeURL unsigned, as a real endpoint would. */
async function confirmedHttpSubscription(topicArn: string, ep: Awaited<ReturnType<typeof endpoint>>, attrs: Record<string, string> = {}) {
  const params: Record<string, string> = { TopicArn: topicArn, Protocol: 'http', Endpoint: ep.url };
  Object.entries(attrs).forEach(([k, v], i) => {
    params[`Attributes.entry.${i + 1}.key`] = k;
    params[`Attributes.entry.${i + 1}.value`] = v;
  });
  const sub = await query('Subscribe', params);
  assert.equal(sub.result.SubscriptionArn, 'pending confirmation');
  const confirmation = await ep.next(ofType('SubscriptionConfirmation'));
  const doc = JSON.parse(confirmation.body);
  const res = await fetch(doc.SubscribeURL);
  assert.equal(res.status, 200);
  const arn = xml.parse(await res.text()).ConfirmSubscriptionResponse.ConfirmSubscriptionResult.SubscriptionArn as string;
  return { arn, confirmation, doc };
}

describe('topics', () => {
  test('CreateTopic: same name twice → same ARN; GetTopicAttributes has AWS defaults', async () => {
    const name = unique('orders');
    const a = await cli(['sns', 'create-topic', '--name', name]);
    const b = await cli(['sns', 'create-topic', '--name', name]);
    assert.equal(a.json.TopicArn, `arn:aws:sns:us-east-1:${ACCOUNT}:${name}`);
    assert.equal(b.json.TopicArn, a.json.TopicArn);
    const attrs = (await cli(['sns', 'get-topic-attributes', '--topic-arn', a.json.TopicArn])).json.Attributes;
    assert.equal(attrs.Owner, ACCOUNT);
    assert.equal(attrs.TopicArn, a.json.TopicArn);
    assert.equal(attrs.DisplayName, '');
    assert.equal(attrs.SubscriptionsConfirmed, '0');
    assert.equal(attrs.SubscriptionsPending, '0');
    assert.equal(attrs.SubscriptionsDeleted, '0');
    const policy = JSON.parse(attrs.Policy);
    assert.equal(policy.Id, '__default_policy_ID');
    assert.equal(policy.Statement[0].Condition.StringEquals['AWS:SourceOwner'], ACCOUNT);
    assert.equal(JSON.parse(attrs.EffectiveDeliveryPolicy).http.defaultHealthyRetryPolicy.numRetries, 3);
  });

  test('CreateTopic: existing name with different attributes → InvalidParameter', async () => {
    const name = unique('attrs');
    await query('CreateTopic', { Name: name, 'Attributes.entry.1.key': 'DisplayName', 'Attributes.entry.1.value': 'one' });
    const r = await query('CreateTopic', { Name: name, 'Attributes.entry.1.key': 'DisplayName', 'Attributes.entry.1.value': 'two' });
    assert.equal(r.status, 400);
    assert.equal(r.error?.Code, 'InvalidParameter');
    assert.equal(r.error?.Message, 'Invalid parameter: Attributes Reason: Topic already exists with different attributes');
  });

  test('CreateTopic: invalid names → InvalidParameter "Invalid parameter: Topic Name"; FIFO needs .fifo', async () => {
    for (const name of ['has space', 'x'.repeat(257), 'dot.fifo']) {
      const r = await query('CreateTopic', { Name: name });
      assert.equal(r.error?.Code, 'InvalidParameter', name);
      assert.equal(r.error?.Message, 'Invalid parameter: Topic Name');
    }
    const noSuffix = await query('CreateTopic', {
      Name: unique('fifo'),
      'Attributes.entry.1.key': 'FifoTopic',
      'Attributes.entry.1.value': 'true',
    });
    assert.equal(noSuffix.error?.Code, 'InvalidParameter');
    assert.match(noSuffix.error!.Message, /Fifo Topic names must end with \.fifo/);
    const fifo = await createTopic('fifo', { FifoTopic: 'true' });
    const attrs = entries((await query('GetTopicAttributes', { TopicArn: fifo })).result.Attributes);
    assert.equal(attrs.FifoTopic, 'true');
    assert.equal(attrs.ContentBasedDeduplication, 'false');
  });

  test('GetTopicAttributes: missing topic → NotFound 404 "Topic does not exist"', async () => {
    const r = await query('GetTopicAttributes', { TopicArn: `arn:aws:sns:us-east-1:${ACCOUNT}:${unique('nope')}` });
    assert.equal(r.status, 404);
    assert.equal(r.error?.Code, 'NotFound');
    assert.equal(r.error?.Message, 'Topic does not exist');
    const cli404 = await cli(['sns', 'get-topic-attributes', '--topic-arn', `arn:aws:sns:us-east-1:${ACCOUNT}:${unique('nope')}`]);
    assert.notEqual(cli404.code, 0);
    assert.match(cli404.stderr, /NotFound.*Topic does not exist/);
    const malformed = await query('GetTopicAttributes', { TopicArn: 'not-an-arn' });
    assert.equal(malformed.error?.Message, 'Invalid parameter: TopicArn Reason: An ARN must have at least 6 elements, not 1');
  });

  test('SetTopicAttributes: DisplayName and DeliveryPolicy round-trip; unknown name → InvalidParameter', async () => {
    const topic = await createTopic();
    await cli(['sns', 'set-topic-attributes', '--topic-arn', topic, '--attribute-name', 'DisplayName', '--attribute-value', 'Orders']);
    const policy = JSON.stringify({ http: { defaultHealthyRetryPolicy: { numRetries: 5, minDelayTarget: 1, maxDelayTarget: 10 } } });
    await query('SetTopicAttributes', { TopicArn: topic, AttributeName: 'DeliveryPolicy', AttributeValue: policy });
    const attrs = entries((await query('GetTopicAttributes', { TopicArn: topic })).result.Attributes);
    assert.equal(attrs.DisplayName, 'Orders');
    assert.equal(attrs.DeliveryPolicy, policy);
    assert.equal(attrs.EffectiveDeliveryPolicy, policy);
    const bad = await query('SetTopicAttributes', { TopicArn: topic, AttributeName: 'Color', AttributeValue: 'red' });
    assert.equal(bad.error?.Code, 'InvalidParameter');
    assert.equal(bad.error?.Message, 'Invalid parameter: AttributeName');
  });

  test('ListTopics: 100 per page with NextToken; scoped by region', async () => {
    const region = 'eu-west-3';
    const arns: string[] = [];
    for (let i = 0; i < 103; i++) arns.push((await query('CreateTopic', { Name: `page-${i}` }, { region })).result.TopicArn);
    const first = await query('ListTopics', {}, { region });
    const page1 = members(first.result.Topics).map((t) => t.TopicArn);
    assert.equal(page1.length, 100);
    assert.ok(first.result.NextToken);
    const second = await query('ListTopics', { NextToken: first.result.NextToken }, { region });
    const page2 = members(second.result.Topics).map((t) => t.TopicArn);
    assert.equal(page2.length, 3);
    assert.equal(second.result.NextToken, undefined);
    assert.deepEqual([...page1, ...page2].sort(), [...arns].sort());
    const cliAll = await awsCli(box.url, ['sns', 'list-topics'], { AWS_DEFAULT_REGION: region });
    assert.equal(JSON.parse(cliAll.stdout).Topics.length, 103);
  });

  test('DeleteTopic: deletes, and deleting again succeeds', async () => {
    const topic = await createTopic();
    assert.equal((await cli(['sns', 'delete-topic', '--topic-arn', topic])).code, 0);
    assert.equal((await cli(['sns', 'delete-topic', '--topic-arn', topic])).code, 0);
    assert.equal((await query('GetTopicAttributes', { TopicArn: topic })).error?.Code, 'NotFound');
  });

  test('TagResource/UntagResource/ListTagsForResource; missing topic → ResourceNotFound', async () => {
    const topic = await createTopic();
    await cli(['sns', 'tag-resource', '--resource-arn', topic, '--tags', 'Key=team,Value=core', 'Key=env,Value=dev']);
    await cli(['sns', 'untag-resource', '--resource-arn', topic, '--tag-keys', 'env']);
    const tags = (await cli(['sns', 'list-tags-for-resource', '--resource-arn', topic])).json.Tags;
    assert.deepEqual(tags, [{ Key: 'team', Value: 'core' }]);
    const missing = await query('ListTagsForResource', { ResourceArn: `${topic}-gone` });
    assert.equal(missing.status, 404);
    assert.equal(missing.error?.Code, 'ResourceNotFound');
  });

  test('SDK v3: a topic deleted and created again with the same name starts with no tags', async () => {
    const sns = new SNSClient(clientConfig(box.url));
    try {
      const Name = unique('retagged');
      const { TopicArn } = await sns.send(new CreateTopicCommand({ Name, Tags: [{ Key: 'team', Value: 'core' }] }));
      assert.deepEqual((await sns.send(new ListTagsForResourceCommand({ ResourceArn: TopicArn }))).Tags, [{ Key: 'team', Value: 'core' }]);
      await sns.send(new DeleteTopicCommand({ TopicArn }));
      const again = await sns.send(new CreateTopicCommand({ Name }));
      assert.equal(again.TopicArn, TopicArn);
      assert.deepEqual((await sns.send(new ListTagsForResourceCommand({ ResourceArn: TopicArn }))).Tags ?? [], []);
    } finally {
      sns.destroy();
    }
  });

  test('Publish from another account: default policy → AuthorizationError 403', async () => {
    const topic = await createTopic();
    const r = await query('Publish', { TopicArn: topic, Message: 'hi' }, { account: '111111111111' });
    assert.equal(r.status, 403);
    assert.equal(r.error?.Code, 'AuthorizationError');
    assert.match(r.error!.Message, /is not authorized to perform: SNS:Publish on resource/);
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111111111111:root' }, Action: 'sns:Publish', Resource: topic }],
    });
    await query('SetTopicAttributes', { TopicArn: topic, AttributeName: 'Policy', AttributeValue: policy });
    assert.equal((await query('Publish', { TopicArn: topic, Message: 'hi' }, { account: '111111111111' })).status, 200);
  });
});

describe('subscriptions', () => {
  test('Subscribe: endpoint checks per protocol → InvalidParameter with AWS messages', async () => {
    const topic = await createTopic();
    const cases: [string, string, string][] = [
      ['smoke-signal', 'x', 'Invalid parameter: Amazon SNS does not support this protocol string: smoke-signal'],
      ['http', 'https://example.com/hook', 'Invalid parameter: Endpoint must match the specified protocol'],
      ['https', 'ftp://example.com', 'Invalid parameter: Endpoint must match the specified protocol'],
      ['email', 'not-an-address', 'Invalid parameter: Email address'],
      ['sqs', 'my-queue', 'Invalid parameter: SQS endpoint ARN'],
      ['lambda', 'arn:aws:sqs:us-east-1:000000000000:q', 'Invalid parameter: Lambda endpoint ARN'],
    ];
    for (const [protocol, ep, message] of cases) {
      const r = await query('Subscribe', { TopicArn: topic, Protocol: protocol, Endpoint: ep });
      assert.equal(r.error?.Code, 'InvalidParameter', protocol);
      assert.equal(r.error?.Message, message);
    }
    const raw = await query('Subscribe', {
      TopicArn: topic,
      Protocol: 'email',
      Endpoint: 'a@example.com',
      'Attributes.entry.1.key': 'RawMessageDelivery',
      'Attributes.entry.1.value': 'true',
    });
    assert.equal(
      raw.error?.Message,
      'Invalid parameter: Attributes Reason: Delivery protocol [email] does not support raw message delivery.',
    );
  });

  test('Subscribe: email stays "pending confirmation" until ConfirmSubscription with the recorded token', async () => {
    const topic = await createTopic();
    const sub = await cli([
      'sns',
      'subscribe',
      '--topic-arn',
      topic,
      '--protocol',
      'email-json',
      '--notification-endpoint',
      'ops@example.com',
    ]);
    assert.equal(sub.json.SubscriptionArn, 'pending confirmation');
    const listed = (await cli(['sns', 'list-subscriptions-by-topic', '--topic-arn', topic])).json.Subscriptions;
    assert.equal(listed[0].SubscriptionArn, 'PendingConfirmation');
    assert.equal(entries((await query('GetTopicAttributes', { TopicArn: topic })).result.Attributes).SubscriptionsPending, '1');
    const [confirmation] = await deliveries({ topicArn: topic });
    assert.equal(confirmation.type, 'SubscriptionConfirmation');
    const token = JSON.parse(confirmation.body).Token;
    const bad = await query('ConfirmSubscription', { TopicArn: topic, Token: 'ffff' });
    assert.equal(bad.error?.Message, 'Invalid parameter: Token');
    const ok = await cli(['sns', 'confirm-subscription', '--topic-arn', topic, '--token', token]);
    assert.equal(ok.json.SubscriptionArn, confirmation.subscriptionArn);
    const attrs = (await cli(['sns', 'get-subscription-attributes', '--subscription-arn', ok.json.SubscriptionArn])).json.Attributes;
    assert.equal(attrs.PendingConfirmation, 'false');
    assert.equal(attrs.ConfirmationWasAuthenticated, 'true');
    assert.equal(attrs.Protocol, 'email-json');
  });

  test('Subscribe: same endpoint twice → same subscription; ReturnSubscriptionArn gives the ARN', async () => {
    const topic = await createTopic();
    const a = await query('Subscribe', { TopicArn: topic, Protocol: 'sqs', Endpoint: 'arn:aws:sqs:us-east-1:000000000000:q1' });
    const b = await query('Subscribe', { TopicArn: topic, Protocol: 'sqs', Endpoint: 'arn:aws:sqs:us-east-1:000000000000:q1' });
    assert.match(a.result.SubscriptionArn, new RegExp(`^${topic}:[0-9a-f-]{36}$`));
    assert.equal(b.result.SubscriptionArn, a.result.SubscriptionArn);
    const c = await query('Subscribe', { TopicArn: topic, Protocol: 'email', Endpoint: 'x@example.com', ReturnSubscriptionArn: 'true' });
    assert.match(c.result.SubscriptionArn, new RegExp(`^${topic}:`));
  });

  test('Unsubscribe: removes, counts as deleted, and is idempotent; malformed ARN → InvalidParameter', async () => {
    const topic = await createTopic();
    const arn = (await query('Subscribe', { TopicArn: topic, Protocol: 'sqs', Endpoint: 'arn:aws:sqs:us-east-1:000000000000:q2' })).result
      .SubscriptionArn;
    assert.equal((await cli(['sns', 'unsubscribe', '--subscription-arn', arn])).code, 0);
    assert.equal((await cli(['sns', 'unsubscribe', '--subscription-arn', arn])).code, 0);
    const attrs = entries((await query('GetTopicAttributes', { TopicArn: topic })).result.Attributes);
    assert.equal(attrs.SubscriptionsConfirmed, '0');
    assert.equal(attrs.SubscriptionsDeleted, '1');
    const gone = await query('GetSubscriptionAttributes', { SubscriptionArn: arn });
    assert.equal(gone.status, 404);
    assert.equal(gone.error?.Message, 'Subscription does not exist');
    const bad = await query('Unsubscribe', { SubscriptionArn: 'pending confirmation' });
    assert.equal(bad.error?.Message, 'Invalid parameter: SubscriptionArn Reason: An ARN must have at least 6 elements, not 1');
  });

  test('SetSubscriptionAttributes: invalid filter policy → InvalidParameter with AWS messages', async () => {
    const topic = await createTopic();
    const arn = (await query('Subscribe', { TopicArn: topic, Protocol: 'sqs', Endpoint: 'arn:aws:sqs:us-east-1:000000000000:q3' })).result
      .SubscriptionArn;
    const set = (name: string, value: string) =>
      query('SetSubscriptionAttributes', { SubscriptionArn: arn, AttributeName: name, AttributeValue: value });
    assert.equal((await set('FilterPolicy', '{"a": []}')).error?.Message, 'Invalid parameter: FilterPolicy: Empty arrays are not allowed');
    assert.equal(
      (await set('FilterPolicy', '{"a": [{"regex": "x"}]}')).error?.Message,
      'Invalid parameter: FilterPolicy: Unrecognized match type regex',
    );
    assert.equal(
      (await set('FilterPolicy', '{"a": {"b": ["x"]}}')).error?.Message,
      'Invalid parameter: Filter policy scope MessageAttributes does not support nested filter policy',
    );
    assert.equal(
      (await set('FilterPolicyScope', 'Everything')).error?.Message,
      'Invalid parameter: FilterPolicyScope: Invalid value [Everything]. Please use either MessageBody or MessageAttributes',
    );
    assert.equal((await set('FilterPolicy', '{"a": ["x"]}')).status, 200);
    const attrs = entries((await query('GetSubscriptionAttributes', { SubscriptionArn: arn })).result.Attributes);
    assert.equal(attrs.FilterPolicy, '{"a": ["x"]}');
    assert.equal(attrs.FilterPolicyScope, 'MessageAttributes');
  });
});

describe('http delivery', () => {
  test('http subscription: SubscriptionConfirmation as AWS sends it, confirmed by an unsigned GET of SubscribeURL', async () => {
    const ep = await endpoint();
    try {
      const topic = await createTopic('web');
      const { arn, confirmation, doc } = await confirmedHttpSubscription(topic, ep);
      assert.equal(confirmation.headers['x-amz-sns-message-type'], 'SubscriptionConfirmation');
      assert.equal(confirmation.headers['x-amz-sns-topic-arn'], topic);
      assert.equal(confirmation.headers['x-amz-sns-message-id'], doc.MessageId);
      assert.equal(confirmation.headers['content-type'], 'text/plain; charset=UTF-8');
      assert.equal(doc.Type, 'SubscriptionConfirmation');
      assert.equal(doc.TopicArn, topic);
      assert.equal(
        doc.Message,
        `You have chosen to subscribe to the topic ${topic}.\nTo confirm the subscription, visit the SubscribeURL included in this message.`,
      );
      assert.equal(doc.SignatureVersion, '1');
      assert.ok(doc.SubscribeURL.startsWith(`${box.url}/?Action=ConfirmSubscription&TopicArn=`));
      assert.ok(doc.SigningCertURL.startsWith(`${box.url}/_aws/sns/`));
      assert.match(doc.Timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.ok(await verifySignature(doc), 'confirmation signature verifies');
      assert.equal(
        entries((await query('GetSubscriptionAttributes', { SubscriptionArn: arn })).result.Attributes).PendingConfirmation,
        'false',
      );
    } finally {
      await ep.close();
    }
  });

  test('Publish: a signed Notification with Subject and MessageAttributes reaches the endpoint', async () => {
    const ep = await endpoint();
    try {
      const topic = await createTopic('notify');
      const { arn } = await confirmedHttpSubscription(topic, ep);
      const pub = await cli([
        'sns',
        'publish',
        '--topic-arn',
        topic,
        '--subject',
        'Deploy',
        '--message',
        'build 42 is green',
        '--message-attributes',
        '{"env":{"DataType":"String","StringValue":"prod"},"n":{"DataType":"Number","StringValue":"7"}}',
      ]);
      const got = await ep.next(ofType('Notification'));
      const doc = JSON.parse(got.body);
      assert.equal(got.headers['x-amz-sns-subscription-arn'], arn);
      assert.equal(got.headers['x-amz-sns-message-id'], pub.json.MessageId);
      assert.equal(doc.Type, 'Notification');
      assert.equal(doc.MessageId, pub.json.MessageId);
      assert.equal(doc.Subject, 'Deploy');
      assert.equal(doc.Message, 'build 42 is green');
      assert.deepEqual(doc.MessageAttributes, { env: { Type: 'String', Value: 'prod' }, n: { Type: 'Number', Value: '7' } });
      assert.equal(doc.UnsubscribeURL, `${box.url}/?Action=Unsubscribe&SubscriptionArn=${encodeURIComponent(arn)}`);
      assert.ok(await verifySignature(doc), 'notification signature verifies');
    } finally {
      await ep.close();
    }
  });

  test('UnsubscribeURL: an unsigned GET removes the subscription', async () => {
    const ep = await endpoint();
    try {
      const topic = await createTopic('leave');
      const { arn } = await confirmedHttpSubscription(topic, ep);
      await query('Publish', { TopicArn: topic, Message: 'bye' });
      const doc = JSON.parse((await ep.next(ofType('Notification'))).body);
      const res = await fetch(doc.UnsubscribeURL);
      assert.equal(res.status, 200);
      assert.equal((await query('GetSubscriptionAttributes', { SubscriptionArn: arn })).error?.Code, 'NotFound');
    } finally {
      await ep.close();
    }
  });

  test('SignatureVersion 2 topics sign with SHA256withRSA', async () => {
    const ep = await endpoint();
    try {
      const topic = await createTopic('sig2', { SignatureVersion: '2' });
      await confirmedHttpSubscription(topic, ep);
      await query('Publish', { TopicArn: topic, Message: 'v2' });
      const doc = JSON.parse((await ep.next(ofType('Notification'))).body);
      assert.equal(doc.SignatureVersion, '2');
      assert.ok(await verifySignature(doc));
    } finally {
      await ep.close();
    }
  });

  test('RawMessageDelivery: the endpoint receives the bare message', async () => {
    const ep = await endpoint();
    try {
      const topic = await createTopic('raw');
      const { arn } = await confirmedHttpSubscription(topic, ep);
      await cli([
        'sns',
        'set-subscription-attributes',
        '--subscription-arn',
        arn,
        '--attribute-name',
        'RawMessageDelivery',
        '--attribute-value',
        'true',
      ]);
      await query('Publish', { TopicArn: topic, Message: '{"order":1}' });
      const got = await ep.next(ofType('Notification'));
      assert.equal(got.body, '{"order":1}');
      assert.equal(got.headers['x-amz-sns-rawdelivery'], 'true');
    } finally {
      await ep.close();
    }
  });

  test('MessageStructure json: http gets its own key, others get "default"', async () => {
    const ep = await endpoint();
    try {
      const topic = await createTopic('structured');
      await confirmedHttpSubscription(topic, ep);
      await query('Subscribe', { TopicArn: topic, Protocol: 'sqs', Endpoint: 'arn:aws:sqs:us-east-1:000000000000:structured' });
      await query('Publish', {
        TopicArn: topic,
        MessageStructure: 'json',
        Message: JSON.stringify({ default: 'plain', http: 'for http' }),
      });
      assert.equal(JSON.parse((await ep.next(ofType('Notification'))).body).Message, 'for http');
      const sqs = await deliveries({ topicArn: topic, endpoint: 'arn:aws:sqs:us-east-1:000000000000:structured' });
      assert.equal(JSON.parse(sqs[0].body).Message, 'plain');
    } finally {
      await ep.close();
    }
  });
});

describe('publish', () => {
  test('Publish: AWS checks on message, subject, structure and attributes', async () => {
    const topic = await createTopic();
    const fail = async (params: Record<string, string>) => (await query('Publish', { TopicArn: topic, ...params })).error;
    assert.equal((await fail({ Message: 'x', Subject: 's'.repeat(101) }))?.Message, 'Invalid parameter: Subject');
    assert.equal((await fail({ Message: 'x'.repeat(262_145) }))?.Message, 'Invalid parameter: Message too long');
    assert.equal(
      (await fail({ Message: '{"http":"x"}', MessageStructure: 'json' }))?.Message,
      'Invalid parameter: Message Structure - No default entry in JSON message body',
    );
    assert.equal(
      (await fail({ Message: 'nope', MessageStructure: 'json' }))?.Message,
      'Invalid parameter: Message Structure - JSON message body failed to parse',
    );
    const num = await fail({
      Message: 'x',
      'MessageAttributes.entry.1.Name': 'n',
      'MessageAttributes.entry.1.Value.DataType': 'Number',
      'MessageAttributes.entry.1.Value.StringValue': 'abc',
    });
    assert.equal(num?.Code, 'ParameterValueInvalid');
    assert.equal(num?.Message, "Could not cast message attribute 'n' value to number.");
    const type = await fail({
      Message: 'x',
      'MessageAttributes.entry.1.Name': 'n',
      'MessageAttributes.entry.1.Value.DataType': 'Date',
      'MessageAttributes.entry.1.Value.StringValue': 'x',
    });
    assert.equal(
      type?.Message,
      "The message attribute 'n' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String.",
    );
    const untyped = await query('Publish', {
      TopicArn: topic,
      Message: 'x',
      'MessageAttributes.entry.1.Name': 'n',
      'MessageAttributes.entry.1.Value.StringValue': 'x',
    });
    assert.equal(untyped.status, 400);
    assert.equal(untyped.error?.Message, "The message attribute 'n' must contain non-empty message attribute type.");
    const missing = await query('Publish', { TopicArn: `${topic}-gone`, Message: 'x' });
    assert.equal(missing.status, 404);
  });

  test('Publish to a PhoneNumber is recorded as an SMS; lambda subscriptions get the Lambda event shape', async () => {
    const sms = await cli(['sns', 'publish', '--phone-number', '+15555550123', '--message', 'on call: page']);
    assert.equal(sms.code, 0, sms.stderr);
    const [recorded] = await deliveries({ endpoint: '+15555550123' });
    assert.equal(recorded.body, 'on call: page');
    assert.equal(recorded.messageId, sms.json.MessageId);
    const badPhone = await query('Publish', { PhoneNumber: '12', Message: 'x' });
    assert.equal(badPhone.error?.Message, 'Invalid parameter: PhoneNumber Reason: 12 is not valid to publish to');

    const topic = await createTopic('to-lambda');
    const fn = 'arn:aws:lambda:us-east-1:000000000000:function:handler';
    await query('Subscribe', { TopicArn: topic, Protocol: 'lambda', Endpoint: fn });
    await query('Publish', { TopicArn: topic, Message: 'event', Subject: 'S' });
    const [d] = await deliveries({ topicArn: topic, endpoint: fn });
    const event = JSON.parse(d.body);
    assert.equal(event.Records[0].EventSource, 'aws:sns');
    assert.equal(event.Records[0].Sns.Message, 'event');
    assert.equal(event.Records[0].Sns.Subject, 'S');
    assert.ok(event.Records[0].Sns.SigningCertUrl);
  });

  test('filter policies: attribute and body scopes keep matching messages and drop the rest', async () => {
    const topic = await createTopic('filtered');
    const subscribe = (queue: string, policy: object, scope = 'MessageAttributes') =>
      query('Subscribe', {
        TopicArn: topic,
        Protocol: 'sqs',
        Endpoint: `arn:aws:sqs:us-east-1:000000000000:${queue}`,
        'Attributes.entry.1.key': 'FilterPolicyScope',
        'Attributes.entry.1.value': scope,
        'Attributes.entry.2.key': 'FilterPolicy',
        'Attributes.entry.2.value': JSON.stringify(policy),
      });
    await subscribe('big-orders', { kind: ['order'], amount: [{ numeric: ['>=', 100] }] });
    await subscribe('eu', { region: [{ prefix: 'eu-' }] }, 'MessageBody');
    // an unfiltered subscriber: its copy of the last message shows the fan-out of all earlier ones is done
    await query('Subscribe', { TopicArn: topic, Protocol: 'sqs', Endpoint: 'arn:aws:sqs:us-east-1:000000000000:marker' });
    const publish = (message: string, attrs: Record<string, [string, string]> = {}) => {
      const params: Record<string, string> = { TopicArn: topic, Message: message };
      Object.entries(attrs).forEach(([k, [t, v]], i) => {
        params[`MessageAttributes.entry.${i + 1}.Name`] = k;
        params[`MessageAttributes.entry.${i + 1}.Value.DataType`] = t;
        params[`MessageAttributes.entry.${i + 1}.Value.StringValue`] = v;
      });
      return query('Publish', params);
    };
    await publish('{"region":"eu-west-1"}', { kind: ['String', 'order'], amount: ['Number', '150'] });
    await publish('{"region":"us-east-1"}', { kind: ['String', 'order'], amount: ['Number', '20'] });
    await publish('not json', { kind: ['String', 'refund'] });
    await query('Publish', { TopicArn: topic, Message: 'marker' });
    await deliveries({ topicArn: topic, endpoint: 'arn:aws:sqs:us-east-1:000000000000:marker' });
    const got = await deliveries({ topicArn: topic });
    const by = (q: string) => got.filter((d) => d.endpoint.endsWith(`:${q}`)).map((d) => JSON.parse(d.body).Message);
    assert.deepEqual(by('big-orders'), ['{"region":"eu-west-1"}']);
    assert.deepEqual(by('eu'), ['{"region":"eu-west-1"}']);
  });

  test('PublishBatch: per-entry results; duplicate ids and more than 10 entries are rejected', async () => {
    const topic = await createTopic();
    const entry = (i: number, id: string, message: string, extra: Record<string, string> = {}) => ({
      [`PublishBatchRequestEntries.member.${i}.Id`]: id,
      [`PublishBatchRequestEntries.member.${i}.Message`]: message,
      ...Object.fromEntries(Object.entries(extra).map(([k, v]) => [`PublishBatchRequestEntries.member.${i}.${k}`, v])),
    });
    const ok = await query('PublishBatch', {
      TopicArn: topic,
      ...entry(1, 'a', 'one'),
      ...entry(2, 'b', 'two', { Subject: 's'.repeat(101) }),
    });
    assert.equal(ok.status, 200);
    assert.equal(members(ok.result.Successful)[0].Id, 'a');
    assert.equal(members(ok.result.Failed)[0].Id, 'b');
    assert.equal(members(ok.result.Failed)[0].Code, 'InvalidParameter');
    const dup = await query('PublishBatch', { TopicArn: topic, ...entry(1, 'a', 'one'), ...entry(2, 'a', 'two') });
    assert.equal(dup.error?.Code, 'BatchEntryIdsNotDistinct');
    let eleven = {};
    for (let i = 1; i <= 11; i++) eleven = { ...eleven, ...entry(i, `e${i}`, 'm') };
    const many = await query('PublishBatch', { TopicArn: topic, ...eleven });
    assert.equal(many.error?.Code, 'TooManyEntriesInBatchRequest');
    assert.equal(many.error?.Message, 'The batch request contains more entries than permissible.');
  });

  test('FIFO topics: MessageGroupId required, deduplication returns the first MessageId, sequence numbers grow', async () => {
    const topic = await createTopic('fifo', { FifoTopic: 'true' });
    const noGroup = await query('Publish', { TopicArn: topic, Message: 'x', MessageDeduplicationId: 'd' });
    assert.equal(noGroup.error?.Message, 'Invalid parameter: The MessageGroupId parameter is required for FIFO topics');
    const noDedup = await query('Publish', { TopicArn: topic, Message: 'x', MessageGroupId: 'g' });
    assert.match(noDedup.error!.Message, /ContentBasedDeduplication enabled or MessageDeduplicationId/);
    const a = await query('Publish', { TopicArn: topic, Message: 'x', MessageGroupId: 'g', MessageDeduplicationId: 'd1' });
    const b = await query('Publish', { TopicArn: topic, Message: 'x', MessageGroupId: 'g', MessageDeduplicationId: 'd1' });
    const c = await query('Publish', { TopicArn: topic, Message: 'y', MessageGroupId: 'g', MessageDeduplicationId: 'd2' });
    assert.equal(b.result.MessageId, a.result.MessageId);
    assert.ok(BigInt(c.result.SequenceNumber) > BigInt(a.result.SequenceNumber));
    const standard = await createTopic();
    const stray = await query('Publish', { TopicArn: standard, Message: 'x', MessageDeduplicationId: 'd' });
    assert.match(stray.error!.Message, /MessageDeduplicationId Reason/);
  });
});

describe('durability', () => {
  test('topics and subscriptions survive kill -9; signatures still verify with the same certificate', async () => {
    const topic = await createTopic('durable');
    await query('SetTopicAttributes', { TopicArn: topic, AttributeName: 'DisplayName', AttributeValue: 'Durable' });
    const sub = (await query('Subscribe', { TopicArn: topic, Protocol: 'sqs', Endpoint: 'arn:aws:sqs:us-east-1:000000000000:durable' }))
      .result.SubscriptionArn;
    const certBefore = await (await fetch(`${box.url}/_aws/sns/SimpleNotificationService-opsbox.pem`)).text();
    await box.kill9();
    box = await startOpsbox({ dataDir });
    const attrs = entries((await query('GetTopicAttributes', { TopicArn: topic })).result.Attributes);
    assert.equal(attrs.DisplayName, 'Durable');
    assert.equal(attrs.SubscriptionsConfirmed, '1');
    assert.equal(
      entries((await query('GetSubscriptionAttributes', { SubscriptionArn: sub })).result.Attributes).Endpoint,
      'arn:aws:sqs:us-east-1:000000000000:durable',
    );
    const certAfter = await (await fetch(`${box.url}/_aws/sns/SimpleNotificationService-opsbox.pem`)).text();
    assert.equal(certAfter, certBefore);
  });
});
