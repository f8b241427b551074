/**
 * SNS in-process on a ManualClock: http delivery retries following the delivery policy, the
 * env.targets invoker for sns ARNs (alarm actions, EventBridge targets), the unsigned GET of a
 * SubscribeURL for a topic of another account, and the pure helpers (retry schedule, string to sign).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { XMLParser } from 'fast-xml-parser';
import { ManualClock } from '../../src/core/clock.js';
import { retryDelays } from '../../src/services/sns/delivery.js';
import { sns } from '../../src/services/sns/index.js';
import { stringToSign } from '../../src/services/sns/signing.js';
import { InProcessOpsbox } from '../helpers/inProcess.js';
import { confirmedTopic as subscribedTopic, httpEndpoint, settle, snsQuery, until, type Endpoint } from '../helpers/sns.js';

const xml = new XMLParser({ parseTagValue: false });
/** A ManualClock that says how many timers wait, so tests advance only once a retry is scheduled. */
class CountingClock extends ManualClock {
  pending = 0;
  override setTimeout(fn: () => void, ms: number) {
    this.pending++;
    const t = super.setTimeout(() => {
      this.pending--;
      fn();
    }, ms);
    return { cancel: () => (this.pending--, t.cancel()) };
  }
}

const clock = new CountingClock(Date.parse('2026-01-01T00:00:00Z'));
let gw: InProcessOpsbox;
let seq = 0;

before(() => {
  gw = new InProcessOpsbox([sns], clock);
});

after(() => gw.close());

const query = (action: string, params: Record<string, string>, account = 'test') => snsQuery(gw, action, params, account);
const endpoint = httpEndpoint;
const confirmedTopic = async (ep: Endpoint, account = 'test') => (await subscribedTopic(gw, ep, `t${++seq}`, account)).topicArn;

describe('http delivery retries on the injected clock', () => {
  test('a failing endpoint that recovers gets the message on a retry 20 s later (default policy)', async () => {
    const ep = await endpoint([500, 503]);
    try {
      const topic = await confirmedTopic(ep);
      const { result } = await query('Publish', { TopicArn: topic, Message: 'retry me' });
      await until(() => ep.of('Notification').length === 1 && clock.pending === 1);
      await settle();
      assert.equal(ep.of('Notification').length, 1, 'no retry before the delay has passed');
      clock.advance(19_000);
      await settle();
      assert.equal(ep.of('Notification').length, 1);
      clock.advance(1_000);
      await until(() => ep.of('Notification').length === 2 && clock.pending === 1);
      clock.advance(20_000);
      await until(() => ep.of('Notification').length === 3);
      const ids = ep.of('Notification').map((r) => JSON.parse(r.body).MessageId);
      assert.deepEqual(ids, [result.MessageId, result.MessageId, result.MessageId]);
      await settle();
      clock.advance(60_000);
      await settle();
      assert.equal(ep.of('Notification').length, 3, 'delivered: no more attempts');
    } finally {
      await ep.close();
    }
  });

  test('an endpoint that keeps failing gets 1 + numRetries attempts, then SNS gives up', async () => {
    const ep = await endpoint([500, 500, 500, 500, 500, 500]);
    try {
      const topic = await confirmedTopic(ep);
      await query('Publish', { TopicArn: topic, Message: 'doomed' });
      for (let n = 1; n <= 3; n++) {
        await until(() => ep.of('Notification').length === n && clock.pending === 1);
        clock.advance(20_000);
      }
      await until(() => ep.of('Notification').length === 4);
      await settle();
      clock.advance(120_000);
      await settle();
      assert.equal(ep.of('Notification').length, 4);
    } finally {
      await ep.close();
    }
  });

  test('4xx answers are not retried', async () => {
    const ep = await endpoint([404]);
    try {
      const topic = await confirmedTopic(ep);
      await query('Publish', { TopicArn: topic, Message: 'gone' });
      await until(() => ep.of('Notification').length === 1);
      await settle();
      clock.advance(100_000);
      await settle();
      assert.equal(ep.of('Notification').length, 1);
    } finally {
      await ep.close();
    }
  });
});

describe('env.targets invoker for sns ARNs', () => {
  test('invoking a topic ARN publishes to it (alarm action / EventBridge target)', async () => {
    const ep = await endpoint();
    try {
      const topic = await confirmedTopic(ep);
      await gw.env.targets.invoke({
        arn: topic,
        account: '000000000000',
        region: 'us-east-1',
        payload: '{"AlarmName":"api-5xx"}',
        subject: 'ALARM: "api-5xx"',
        source: 'cloudwatch',
      });
      await until(() => ep.of('Notification').length === 1);
      const doc = JSON.parse(ep.of('Notification')[0].body);
      assert.equal(doc.Subject, 'ALARM: "api-5xx"');
      assert.equal(doc.Message, '{"AlarmName":"api-5xx"}');
      assert.equal(doc.TopicArn, topic);
    } finally {
      await ep.close();
    }
  });

  test('invoking a missing topic rejects', async () => {
    await assert.rejects(
      gw.env.targets.invoke({
        arn: 'arn:aws:sns:us-east-1:000000000000:missing',
        account: '000000000000',
        region: 'us-east-1',
        payload: 'x',
        source: 'events',
      }),
      /does not exist/,
    );
  });
});

describe('ConfirmSubscription from a SubscribeURL', () => {
  test('an unsigned GET confirms a subscription to another account’s topic (account from the TopicArn)', async () => {
    const ep = await endpoint();
    try {
      const topic = (await query('CreateTopic', { Name: `other${++seq}` }, '111111111111')).result.TopicArn as string;
      assert.match(topic, /:111111111111:/);
      const sub = await query(
        'Subscribe',
        { TopicArn: topic, Protocol: 'http', Endpoint: ep.url, ReturnSubscriptionArn: 'true' },
        '111111111111',
      );
      await until(() => ep.of('SubscriptionConfirmation').length === 1);
      const url = new URL(JSON.parse(ep.of('SubscriptionConfirmation')[0].body).SubscribeURL);
      assert.equal(url.host, 'localhost:4566');
      const res = await gw.send({ method: 'GET', url: url.pathname + url.search, headers: { host: url.host }, body: Buffer.alloc(0) });
      assert.equal(res.statusCode, 200);
      const confirmed = xml.parse(res.body().toString()).ConfirmSubscriptionResponse.ConfirmSubscriptionResult.SubscriptionArn;
      assert.equal(confirmed, sub.result.SubscriptionArn);
      const attrs = (await query('GetSubscriptionAttributes', { SubscriptionArn: confirmed }, '111111111111')).result.Attributes.entry as {
        key: string;
        value: string;
      }[];
      const get = (k: string) => attrs.find((e) => e.key === k)?.value;
      assert.equal(get('PendingConfirmation'), 'false');
      assert.equal(get('ConfirmationWasAuthenticated'), 'false');
    } finally {
      await ep.close();
    }
  });
});

describe('AWS/SNS metrics', () => {
  test('Publish and fan-out report NumberOfMessagesPublished, PublishSize, delivered and filtered-out counts', async () => {
    const seen: { account: string; name: string; value: number; topic: string }[] = [];
    gw.env.metrics.install((account, _region, data) => {
      for (const d of data) seen.push({ account, name: d.metricName, value: d.value, topic: d.dimensions![0].Value });
    });
    const name = `metrics${++seq}`;
    const topic = (await query('CreateTopic', { Name: name })).result.TopicArn as string;
    await query('Subscribe', { TopicArn: topic, Protocol: 'sqs', Endpoint: 'arn:aws:sqs:us-east-1:000000000000:all' });
    await query('Subscribe', {
      TopicArn: topic,
      Protocol: 'sqs',
      Endpoint: 'arn:aws:sqs:us-east-1:000000000000:none',
      'Attributes.entry.1.key': 'FilterPolicy',
      'Attributes.entry.1.value': '{"never":["x"]}',
    });
    await query('Publish', { TopicArn: topic, Message: 'hello' });
    await until(() => seen.filter((m) => m.topic === name).length >= 4);
    const sum = (metric: string) => seen.filter((m) => m.topic === name && m.name === metric).reduce((n, m) => n + m.value, 0);
    assert.equal(sum('NumberOfMessagesPublished'), 1);
    assert.equal(sum('PublishSize'), 5);
    assert.equal(sum('NumberOfNotificationsDelivered'), 1);
    assert.equal(sum('NumberOfNotificationsFilteredOut'), 1);
    assert.equal(seen[0].account, '000000000000');
  });
});

describe('helpers', () => {
  test('retryDelays: the four phases of a delivery policy', () => {
    assert.deepEqual(
      retryDelays({
        numRetries: 3,
        minDelayTarget: 20,
        maxDelayTarget: 20,
        numNoDelayRetries: 0,
        numMinDelayRetries: 0,
        numMaxDelayRetries: 0,
        backoffFunction: 'linear',
      }),
      [20, 20, 20],
    );
    assert.deepEqual(
      retryDelays({
        numRetries: 8,
        minDelayTarget: 1,
        maxDelayTarget: 10,
        numNoDelayRetries: 2,
        numMinDelayRetries: 1,
        numMaxDelayRetries: 2,
        backoffFunction: 'linear',
      }),
      [0, 0, 1, 4, 7, 10, 10, 10],
    );
  });

  test('stringToSign: AWS field order, Subject only when present', () => {
    assert.equal(
      stringToSign({ Type: 'Notification', MessageId: 'm', TopicArn: 't', Message: 'hi', Timestamp: 'ts' }),
      'Message\nhi\nMessageId\nm\nTimestamp\nts\nTopicArn\nt\nType\nNotification\n',
    );
    assert.equal(
      stringToSign({
        Type: 'SubscriptionConfirmation',
        MessageId: 'm',
        Token: 'k',
        TopicArn: 't',
        Message: 'hi',
        SubscribeURL: 'u',
        Timestamp: 'ts',
      }),
      'Message\nhi\nMessageId\nm\nSubscribeURL\nu\nTimestamp\nts\nToken\nk\nTopicArn\nt\nType\nSubscriptionConfirmation\n',
    );
  });
});
