/**
 * SNS resume at start, in-process on a ManualClock: a restart is a new Gateway (a new SNS engine)
 * on the same store. Rows are written straight into sns_outbox / sns_deliveries to stand for what a
 * killed process left: a message accepted but never fanned out, a retry waiting for its due time.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { XMLParser } from 'fast-xml-parser';
import { ManualClock } from '../../src/core/clock.js';
import { Gateway } from '../../src/gateway/pipeline.js';
import { encodeOutgoing } from '../../src/services/sns/delivery.js';
import { sns } from '../../src/services/sns/index.js';
import { createSnsStore, type SnsStore } from '../../src/services/sns/store.js';
import { InProcessOpsbox } from '../helpers/inProcess.js';

const xml = new XMLParser({ parseTagValue: false });
const clock = new ManualClock(Date.parse('2026-01-01T00:00:00Z'));
let gw: InProcessOpsbox;
let store: SnsStore;
let seq = 0;

before(() => {
  gw = new InProcessOpsbox([sns], clock);
  store = createSnsStore(gw.env.store);
});

after(() => {
  sns.close?.();
  gw.close();
});

/** What a restart does to SNS: the old engine stops, a new one starts on the same store and resumes. */
function restart() {
  sns.close?.();
  Object.assign(gw, { gateway: new Gateway([sns], gw.env) });
}

async function query(action: string, params: Record<string, string>) {
  const res = await gw.send({
    method: 'POST',
    url: '/',
    headers: {
      host: 'localhost:4566',
      'content-type': 'application/x-www-form-urlencoded',
      authorization: 'AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sns/aws4_request, SignedHeaders=host, Signature=00',
    },
    body: Buffer.from(new URLSearchParams({ Action: action, Version: '2010-03-31', ...params }).toString()),
  });
  const doc = xml.parse(res.body().toString());
  if (doc.ErrorResponse) throw new Error(`${doc.ErrorResponse.Error.Code}: ${doc.ErrorResponse.Error.Message}`);
  return doc[`${action}Response`]?.[`${action}Result`] ?? {};
}

async function endpoint() {
  const received: { headers: IncomingHttpHeaders; body: string }[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(200);
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
  const of = (type: string) => received.filter((r) => r.headers['x-amz-sns-message-type'] === type);
  return { url, of, close: () => new Promise<void>((r) => server.close(() => r())) };
}

async function until(cond: () => boolean, ms = 3000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const settle = () => new Promise((r) => setTimeout(r, 80));

async function confirmedTopic(ep: Awaited<ReturnType<typeof endpoint>>) {
  const topicArn = (await query('CreateTopic', { Name: `durable${++seq}` })).TopicArn as string;
  const subscriptionArn = (await query('Subscribe', { TopicArn: topicArn, Protocol: 'http', Endpoint: ep.url, ReturnSubscriptionArn: 'true' }))
    .SubscriptionArn as string;
  await until(() => ep.of('SubscriptionConfirmation').length === 1);
  await query('ConfirmSubscription', { TopicArn: topicArn, Token: JSON.parse(ep.of('SubscriptionConfirmation')[0].body).Token });
  await until(() => store.deliveries().length === 0);
  return { topic: store.topicByArn(topicArn)!, sub: store.subByArn(subscriptionArn)! };
}

describe('SNS resumes at start what a killed process left', () => {
  test('an accepted message whose fan-out never ran is fanned out (binary attributes intact) and leaves the outbox', async () => {
    const ep = await endpoint();
    try {
      const { topic } = await confirmedTopic(ep);
      const message = JSON.stringify({
        message: 'accepted before the crash',
        subject: 'resumed',
        attributes: { blob: { DataType: 'Binary', BinaryValue: Buffer.from([0, 1, 2, 255]).toString('base64') }, kind: { DataType: 'String', StringValue: 'x' } },
      });
      store.insertOutbox(topic, 'outbox-message-1', message, clock.now() - 1000);
      restart();
      await until(() => ep.of('Notification').length === 1);
      const doc = JSON.parse(ep.of('Notification')[0].body);
      assert.equal(doc.MessageId, 'outbox-message-1');
      assert.equal(doc.Message, 'accepted before the crash');
      assert.equal(doc.Subject, 'resumed');
      assert.equal(doc.Timestamp, new Date(clock.now() - 1000).toISOString(), 'the time it was published');
      assert.deepEqual(doc.MessageAttributes, { blob: { Type: 'Binary', Value: 'AAEC/w==' }, kind: { Type: 'String', Value: 'x' } });
      await until(() => store.deliveries().length === 0);
      assert.equal(store.outbox().length, 0);
      restart();
      await settle();
      assert.equal(ep.of('Notification').length, 1, 'fanned out once');
    } finally {
      await ep.close();
    }
  });

  test('Publish leaves no outbox or delivery row once delivered', async () => {
    const ep = await endpoint();
    try {
      const { topic } = await confirmedTopic(ep);
      const { MessageId } = await query('Publish', { TopicArn: topic.arn, Message: 'plain' });
      await until(() => ep.of('Notification').length === 1);
      assert.equal(ep.of('Notification')[0].headers['x-amz-sns-message-id'], MessageId);
      await until(() => store.deliveries().length === 0);
      assert.equal(store.outbox().length, 0);
    } finally {
      await ep.close();
    }
  });

  test('a retry waiting at the crash is attempted at its due time on the clock, not before', async () => {
    const ep = await endpoint();
    try {
      const { sub } = await confirmedTopic(ep);
      const out = { type: 'Notification' as const, messageId: 'retry-after-crash', message: 'again', timestamp: new Date(clock.now()).toISOString() };
      const id = store.insertDelivery(sub, encodeOutgoing(out), clock.now());
      store.rescheduleDelivery(id, 2, clock.now() + 5000);
      restart();
      await settle();
      clock.advance(4000);
      await settle();
      assert.equal(ep.of('Notification').length, 0, 'not due yet');
      clock.advance(1000);
      await until(() => ep.of('Notification').length === 1);
      assert.equal(JSON.parse(ep.of('Notification')[0].body).MessageId, 'retry-after-crash');
      await until(() => store.deliveries().length === 0);
    } finally {
      await ep.close();
    }
  });

  test('a pending delivery whose subscription is gone is dropped at start', async () => {
    const ep = await endpoint();
    try {
      const { sub } = await confirmedTopic(ep);
      const out = { type: 'Notification' as const, messageId: 'orphan', message: 'nobody', timestamp: new Date(clock.now()).toISOString() };
      store.insertDelivery(sub, encodeOutgoing(out), clock.now());
      await query('Unsubscribe', { SubscriptionArn: sub.arn });
      assert.equal(store.deliveries().length, 0, 'Unsubscribe removes its pending deliveries');
      store.insertDelivery(sub, encodeOutgoing(out), clock.now());
      restart();
      clock.advance(0);
      await until(() => store.deliveries().length === 0);
      await settle();
      assert.equal(ep.of('Notification').length, 0);
    } finally {
      await ep.close();
    }
  });
});
