/**
 * SNS resume at start, in-process on a ManualClock: a restart is a new Gateway (a new SNS engine)
 * on the same store. Rows are written straight into sns_outbox / sns_deliveries to stand for what a
 * killed process left: a message accepted but never fanned out, a retry waiting for its due time.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../../src/core/clock.js';
import { Gateway } from '../../src/gateway/pipeline.js';
import { encodeOutgoing } from '../../src/services/sns/delivery.js';
import { sns } from '../../src/services/sns/index.js';
import { createSnsStore, type SnsStore } from '../../src/services/sns/store.js';
import { InProcessOpsbox } from '../helpers/inProcess.js';
import { confirmedTopic as subscribedTopic, httpEndpoint, settle, snsQuery, until, type Endpoint } from '../helpers/sns.js';

const clock = new ManualClock(Date.parse('2026-01-01T00:00:00Z'));
let gw: InProcessOpsbox;
let store: SnsStore;
let seq = 0;

before(() => {
  gw = new InProcessOpsbox([sns], clock);
  store = createSnsStore(gw.env.store);
});

after(() => gw.close());

/** What a restart does to SNS: the old engine stops, a new one starts on the same store and resumes. */
async function restart() {
  await gw.gateway.close();
  const gateway = new Gateway([sns], gw.env);
  Object.assign(gw, { gateway });
  await gateway.start();
}

const query = async (action: string, params: Record<string, string>) => (await snsQuery(gw, action, params)).result;
const endpoint = httpEndpoint;

async function confirmedTopic(ep: Endpoint) {
  const { topicArn, subscriptionArn } = await subscribedTopic(gw, ep, `durable${++seq}`);
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
        attributes: {
          blob: { DataType: 'Binary', BinaryValue: Buffer.from([0, 1, 2, 255]).toString('base64') },
          kind: { DataType: 'String', StringValue: 'x' },
        },
      });
      store.insertOutbox(topic, 'outbox-message-1', message, clock.now() - 1000);
      await restart();
      await until(() => ep.of('Notification').length === 1);
      const doc = JSON.parse(ep.of('Notification')[0].body);
      assert.equal(doc.MessageId, 'outbox-message-1');
      assert.equal(doc.Message, 'accepted before the crash');
      assert.equal(doc.Subject, 'resumed');
      assert.equal(doc.Timestamp, new Date(clock.now() - 1000).toISOString(), 'the time it was published');
      assert.deepEqual(doc.MessageAttributes, { blob: { Type: 'Binary', Value: 'AAEC/w==' }, kind: { Type: 'String', Value: 'x' } });
      await until(() => store.deliveries().length === 0);
      assert.equal(store.outbox().length, 0);
      await restart();
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
      const out = {
        type: 'Notification' as const,
        messageId: 'retry-after-crash',
        message: 'again',
        timestamp: new Date(clock.now()).toISOString(),
      };
      const id = store.insertDelivery(sub, encodeOutgoing(out), clock.now());
      store.rescheduleDelivery(id, 2, clock.now() + 5000);
      await restart();
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
      await restart();
      clock.advance(0);
      await until(() => store.deliveries().length === 0);
      await settle();
      assert.equal(ep.of('Notification').length, 0);
    } finally {
      await ep.close();
    }
  });
});
