/**
 * SNS deliveries survive kill -9 of opsbox: a real opsbox delivers to an http endpoint in this
 * process; the endpoint fails the first attempt, opsbox is killed while the retry waits, restarted
 * on the same data dir, and the retry arrives — same MessageId, exactly once more. Likewise for the
 * SubscriptionConfirmation that Subscribe sends.
 */
import assert from 'node:assert/strict';
import { createVerify } from 'node:crypto';
import { rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import {
  ConfirmSubscriptionCommand,
  CreateTopicCommand,
  GetSubscriptionAttributesCommand,
  PublishCommand,
  SNSClient,
  SubscribeCommand,
} from '@aws-sdk/client-sns';
import { stringToSign } from '../../src/services/sns/signing.js';
import { clientConfig, startOpsbox, unique, type RunningOpsbox } from '../helpers/opsbox.js';
import { sleep, until as untilHolds } from '../helpers/wait.js';

/** Retries 2 s apart (AWS: delays are whole seconds ≥ 1, total retry time ≤ 3600 s). */
const FAST_RETRIES = JSON.stringify({
  healthyRetryPolicy: {
    numRetries: 3,
    numNoDelayRetries: 0,
    numMinDelayRetries: 0,
    numMaxDelayRetries: 0,
    minDelayTarget: 2,
    maxDelayTarget: 2,
    backoffFunction: 'linear',
  },
});

let box: RunningOpsbox;
let sns: SNSClient;

before(async () => {
  box = await startOpsbox();
  sns = new SNSClient(clientConfig(box.url));
});

after(async () => {
  sns.destroy();
  await box.dispose();
  rmSync(box.dataDir, { recursive: true, force: true });
});

/** kill -9, then a new opsbox on the same data dir. */
async function crashAndRestart() {
  await box.kill9();
  box = await startOpsbox({ dataDir: box.dataDir });
  sns.destroy();
  sns = new SNSClient(clientConfig(box.url));
}

interface Received {
  at: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** An http endpoint that answers each POST with the next status given for its message type (then 200). */
async function endpoint(statuses: { Notification?: number[]; SubscriptionConfirmation?: number[] }) {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const type = req.headers['x-amz-sns-message-type'] as keyof typeof statuses;
      received.push({ at: Date.now(), headers: req.headers, body });
      const n = received.filter((r) => r.headers['x-amz-sns-message-type'] === type).length;
      res.writeHead(statuses[type]?.[n - 1] ?? 200);
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
  const of = (type: string) => received.filter((r) => r.headers['x-amz-sns-message-type'] === type);
  return { url, of, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const until = (cond: () => boolean, ms = 8000) => untilHolds(cond, ms, 20);

describe('SNS http deliveries survive kill -9', () => {
  test('a retry pending at kill -9 is made after restart: same MessageId, exactly once more, signed', async () => {
    const ep = await endpoint({ Notification: [500] });
    try {
      const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: unique('durable') }));
      const { SubscriptionArn } = await sns.send(
        new SubscribeCommand({
          TopicArn,
          Protocol: 'http',
          Endpoint: ep.url,
          Attributes: { DeliveryPolicy: FAST_RETRIES },
          ReturnSubscriptionArn: true,
        }),
      );
      await until(() => ep.of('SubscriptionConfirmation').length === 1);
      const token = JSON.parse(ep.of('SubscriptionConfirmation')[0].body).Token;
      await sns.send(new ConfirmSubscriptionCommand({ TopicArn, Token: token }));

      const { MessageId } = await sns.send(new PublishCommand({ TopicArn, Message: 'survive the crash', Subject: 'durable' }));
      await until(() => ep.of('Notification').length === 1);
      // let opsbox read the 500 and record the retry (due 2 s after the failure) before the kill
      await sleep(300);
      await crashAndRestart();

      await until(() => ep.of('Notification').length === 2);
      const [first, second] = ep.of('Notification');
      assert.equal(second.headers['x-amz-sns-message-id'], MessageId);
      assert.equal(second.headers['x-amz-sns-subscription-arn'], SubscriptionArn);
      const doc = JSON.parse(second.body);
      assert.equal(doc.MessageId, MessageId);
      assert.equal(doc.Message, 'survive the crash');
      assert.equal(doc.Subject, 'durable');
      assert.ok(second.at - first.at >= 1500, `the retry waited for its due time (${second.at - first.at} ms)`);

      // the resumed message is signed with the key kept in the data dir, verifiable with the served certificate
      const cert = await (await fetch(`${box.url}/_aws/sns/SimpleNotificationService-opsbox.pem`)).text();
      const verify = createVerify('RSA-SHA1');
      verify.update(stringToSign(doc), 'utf8');
      assert.ok(verify.verify(cert, doc.Signature, 'base64'), 'signature verifies');

      await sleep(2500);
      assert.equal(ep.of('Notification').length, 2, 'delivered on attempt 2: no more attempts');
    } finally {
      await ep.close();
    }
  });

  test('a SubscriptionConfirmation whose first POST failed is sent again after kill -9; the subscription can be confirmed', async () => {
    const ep = await endpoint({ SubscriptionConfirmation: [503] });
    try {
      const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: unique('durable-confirm') }));
      const { SubscriptionArn } = await sns.send(
        new SubscribeCommand({
          TopicArn,
          Protocol: 'http',
          Endpoint: ep.url,
          Attributes: { DeliveryPolicy: FAST_RETRIES },
          ReturnSubscriptionArn: true,
        }),
      );
      await until(() => ep.of('SubscriptionConfirmation').length === 1);
      await sleep(300);
      await crashAndRestart();

      await until(() => ep.of('SubscriptionConfirmation').length === 2);
      const [first, second] = ep.of('SubscriptionConfirmation').map((r) => JSON.parse(r.body));
      assert.equal(second.MessageId, first.MessageId);
      assert.equal(second.Token, first.Token);
      await sns.send(new ConfirmSubscriptionCommand({ TopicArn, Token: second.Token }));
      const { Attributes } = await sns.send(new GetSubscriptionAttributesCommand({ SubscriptionArn }));
      assert.equal(Attributes?.PendingConfirmation, 'false');

      await sleep(2500);
      assert.equal(ep.of('SubscriptionConfirmation').length, 2, 'delivered on attempt 2: no more attempts');
    } finally {
      await ep.close();
    }
  });
});
