/**
 * Where messages leave SNS. http/https subscriptions get real POSTs (node:http/https) in SNS's
 * format — the x-amz-sns-* headers, a signed JSON document or the raw message — retried on 5xx,
 * timeouts and connection errors following the effective delivery policy, each wait scheduled on
 * the injected clock. These deliveries are durable: each has a row in sns_deliveries (its message,
 * next attempt number and due time) from before its first attempt until it succeeds or finally
 * fails, and resume() at start picks every row up where it was — so a kill -9 loses no message
 * and no pending retry (an attempt in flight at the kill is made again). sqs/lambda endpoints go
 * through env.targets when a service there handles the ARN (a lambda endpoint gets Lambda's
 * {Records:[{EventSource:'aws:sns', Sns}]} event, invoked asynchronously); every other protocol (email,
 * email-json, sms, application, firehose) is recorded in a ring of recent deliveries that tests
 * and users read at GET /_aws/sns/deliveries. Neither of those keeps a row: they are not retried.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Clock } from '../../core/clock.js';
import { log } from '../../core/log.js';
import type { MetricDatum, Metrics } from '../../core/metrics.js';
import type { Targets } from '../../core/targets.js';
import { decodeOutgoing, encodeOutgoing, type Outgoing } from './outgoing.js';
import { effectiveRetryPolicy, jsonOr, retryDelays } from './retryPolicy.js';
import { CERT_PATH, stringToSign, type Signer } from './signing.js';
import type { DeliveryRow, SnsStore, SubscriptionRow, TopicRow } from './store.js';

export * from './outgoing.js';
export * from './retryPolicy.js';

const ATTEMPT_TIMEOUT_MS = 15_000;
const LOG_SIZE = 1000;

export interface DeliveryRecord {
  at: string;
  topicArn: string;
  subscriptionArn: string;
  protocol: string;
  endpoint: string;
  type: string;
  messageId: string;
  body: string;
  status: 'delivered' | 'recorded' | 'failed' | 'invoked';
  attempts: number;
  httpStatus?: number;
}

/** A document the way SNS writes it: one `"Name" : value` per line. */
export function formatDocument(doc: Record<string, unknown>): string {
  const lines = Object.entries(doc)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `  ${JSON.stringify(k)} : ${JSON.stringify(v)}`);
  return `{\n${lines.join(',\n')}\n}`;
}

export class Deliverer {
  private recent: DeliveryRecord[] = [];
  private timers = new Set<{ cancel(): void }>();
  private closed = false;
  private metricBatch = new Map<string, Map<string, MetricDatum>>();
  private flushScheduled = false;

  constructor(
    private store: SnsStore,
    private signer: Signer,
    private clock: Clock,
    private targets: Targets,
    private metrics?: Metrics,
  ) {}

  /**
   * AWS/SNS metrics for a topic (dimension TopicName). Datapoints are batched until the event loop
   * turns, and counts of one metric summed, so a busy topic costs the metrics sink one call per
   * batch rather than one per message and subscription.
   */
  metric(topic: TopicRow, metricName: string, value: number, unit = 'Count') {
    if (!this.metrics) return;
    const scope = `${topic.account}\n${topic.region}`;
    let batch = this.metricBatch.get(scope);
    if (!batch) this.metricBatch.set(scope, (batch = new Map()));
    const key = unit === 'Count' ? `${topic.name}\n${metricName}` : `${batch.size}`;
    const seen = batch.get(key);
    if (seen) seen.value += value;
    else
      batch.set(key, {
        namespace: 'AWS/SNS',
        metricName,
        dimensions: [{ Name: 'TopicName', Value: topic.name }],
        value,
        unit,
        timestamp: this.clock.now(),
      });
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flushMetrics());
    }
  }

  private flushMetrics() {
    this.flushScheduled = false;
    const batches = this.metricBatch;
    this.metricBatch = new Map();
    if (this.closed) return;
    for (const [scope, data] of batches) {
      const [account, region] = scope.split('\n');
      try {
        this.metrics!.put(account, region, [...data.values()]);
      } catch (err) {
        log.warn('sns metrics dropped', { err: String(err) });
      }
    }
  }

  /** After close() nothing is sent and nothing touches the store (shutdown closes it next). */
  get isClosed() {
    return this.closed;
  }

  deliveries(filter: { topicArn?: string; subscriptionArn?: string; endpoint?: string } = {}) {
    return this.recent
      .slice(-LOG_SIZE)
      .filter(
        (r) =>
          (!filter.topicArn || r.topicArn === filter.topicArn) &&
          (!filter.subscriptionArn || r.subscriptionArn === filter.subscriptionArn) &&
          (!filter.endpoint || r.endpoint === filter.endpoint),
      );
  }

  /**
   * At start: every pending http(s) delivery left by the previous run is attempted when due (now if
   * overdue), its retries continuing from its attempt number. Deliveries whose subscription or
   * topic is gone are dropped.
   */
  resume() {
    for (const row of this.store.deliveries()) this.later(() => this.resumeOne(row), Math.max(0, row.due - this.clock.now()));
  }

  private resumeOne(row: DeliveryRow) {
    const topic = this.store.topicById(row.topic_id);
    const sub = this.store.subByArn(row.sub_arn);
    if (!topic || !sub) return void this.store.deleteDelivery(row.id);
    void this.send(topic, sub, decodeOutgoing(row.outgoing), row.id, row.attempt);
  }

  /** Runs fn after ms on the clock, unless closed meanwhile. */
  private later(fn: () => void, ms: number) {
    const timer = this.clock.setTimeout(() => {
      this.timers.delete(timer);
      if (this.closed) return;
      try {
        fn();
      } catch (err) {
        log.warn('sns delivery failed', { err: String(err) });
      }
    }, ms);
    this.timers.add(timer);
  }

  /**
   * Records a pending http(s) delivery (due now, attempt 1) and returns its id; undefined for the
   * other protocols, which are not retried and keep no row. The fan-out calls it in the transaction
   * that removes the message from the outbox.
   */
  queue(sub: SubscriptionRow, out: Outgoing): number | undefined {
    if (sub.protocol !== 'http' && sub.protocol !== 'https') return undefined;
    return this.store.insertDelivery(sub, encodeOutgoing(out), this.clock.now());
  }

  close() {
    this.closed = true;
    for (const t of this.timers) t.cancel();
    this.timers.clear();
  }

  /**
   * Sends (or records) one message to one subscription; never throws, never blocks the caller.
   * An http(s) delivery's row is written before this returns (before its first await), unless
   * the caller queued it already and passes its id.
   */
  async deliver(topic: TopicRow, sub: SubscriptionRow, out: Outgoing, deliveryId?: number): Promise<void> {
    if (sub.protocol === 'http' || sub.protocol === 'https') {
      let id = deliveryId;
      try {
        id ??= this.queue(sub, out)!;
      } catch (err) {
        log.warn('sns delivery failed', { subscription: sub.arn, err: String(err) });
        return this.record(topic, sub, out, '', 'failed', 1);
      }
      return this.send(topic, sub, out, id, 1);
    }
    // a failed invocation is recorded with the event it carried
    let body = '';
    try {
      const topicAttrs = JSON.parse(topic.attributes) as Record<string, string>;
      const subAttrs = JSON.parse(sub.attributes) as Record<string, string>;
      const raw = subAttrs.RawMessageDelivery === 'true' && out.type === 'Notification';
      if (sub.protocol === 'email' || sub.protocol === 'sms') {
        const text = out.type === 'Notification' ? out.message : formatDocument(await this.document(topic, sub, out, '1'));
        return this.record(topic, sub, out, text, 'recorded', 1);
      }
      body =
        sub.protocol === 'lambda'
          ? JSON.stringify(lambdaEvent(sub, await this.document(topic, sub, out, topicAttrs.SignatureVersion ?? '1')))
          : raw
            ? out.message
            : formatDocument(await this.document(topic, sub, out, topicAttrs.SignatureVersion ?? '1'));
      if ((sub.protocol === 'sqs' || sub.protocol === 'lambda') && this.targets.supports(sub.endpoint)) {
        await this.targets.invoke({
          arn: sub.endpoint,
          account: sub.account,
          region: sub.region,
          payload: body,
          subject: out.subject,
          source: 'sns',
        });
        return this.record(topic, sub, out, body, 'invoked', 1);
      }
      this.record(topic, sub, out, body, 'recorded', 1);
    } catch (err) {
      log.warn('sns delivery failed', { subscription: sub.arn, err: String(err) });
      this.record(topic, sub, out, body, 'failed', 1);
    }
  }

  /** Attempt n of an http(s) delivery whose row is `id`, and the retries after it. */
  private async send(topic: TopicRow, sub: SubscriptionRow, out: Outgoing, id: number, n: number) {
    let body: string;
    const headers: Record<string, string> = {};
    let delays: number[];
    try {
      const topicAttrs = JSON.parse(topic.attributes) as Record<string, string>;
      const subAttrs = JSON.parse(sub.attributes) as Record<string, string>;
      const raw = subAttrs.RawMessageDelivery === 'true' && out.type === 'Notification';
      body = raw ? out.message : formatDocument(await this.document(topic, sub, out, topicAttrs.SignatureVersion ?? '1'));
      Object.assign(headers, {
        'x-amz-sns-message-type': out.type,
        'x-amz-sns-message-id': out.messageId,
        'x-amz-sns-topic-arn': topic.arn,
        'Content-Type': requestContentType(topicAttrs, subAttrs),
        'User-Agent': 'Amazon Simple Notification Service Agent',
      });
      if (out.type !== 'SubscriptionConfirmation') headers['x-amz-sns-subscription-arn'] = sub.arn;
      if (raw) headers['x-amz-sns-rawdelivery'] = 'true';
      delays = retryDelays(effectiveRetryPolicy(topicAttrs, subAttrs));
    } catch (err) {
      log.warn('sns delivery failed', { subscription: sub.arn, err: String(err) });
      this.forget(id);
      return this.record(topic, sub, out, '', 'failed', n);
    }
    this.attempt(topic, sub, out, id, body, headers, delays, n);
  }

  /** Drops a delivery's row: delivered, finally failed, or its subscription gone. Never after close(). */
  private forget(id: number) {
    if (this.closed) return;
    try {
      this.store.deleteDelivery(id);
    } catch (err) {
      log.warn('sns delivery row not removed', { err: String(err) });
    }
  }

  /** Keeps the last LOG_SIZE deliveries; trimming in bulk keeps a push O(1) amortized. */
  private trimLog() {
    if (this.recent.length > 2 * LOG_SIZE) this.recent = this.recent.slice(-LOG_SIZE);
  }

  /** A message sent to no subscription (Publish to a PhoneNumber): recorded only. */
  recordDirect(protocol: string, endpoint: string, messageId: string, body: string) {
    this.recent.push({
      at: new Date(this.clock.now()).toISOString(),
      topicArn: '',
      subscriptionArn: '',
      protocol,
      endpoint,
      type: 'Notification',
      messageId,
      body,
      status: 'recorded',
      attempts: 1,
    });
    this.trimLog();
  }

  /** The JSON document SNS sends for a message, signed. */
  private async document(topic: TopicRow, sub: SubscriptionRow, out: Outgoing, signatureVersion: string): Promise<Record<string, unknown>> {
    const base = sub.base_url;
    const doc: Record<string, unknown> = { Type: out.type, MessageId: out.messageId };
    if (out.token !== undefined) doc.Token = out.token;
    doc.TopicArn = topic.arn;
    if (out.subject !== undefined) doc.Subject = out.subject;
    doc.Message = out.message;
    if (out.sequenceNumber) doc.SequenceNumber = out.sequenceNumber;
    if (out.type !== 'Notification')
      doc.SubscribeURL = `${base}/?Action=ConfirmSubscription&TopicArn=${encodeURIComponent(topic.arn)}&Token=${out.token}`;
    doc.Timestamp = out.timestamp;
    doc.SignatureVersion = signatureVersion;
    doc.Signature = await this.signature(doc, out, signatureVersion);
    doc.SigningCertURL = `${base}${CERT_PATH}`;
    if (out.type === 'Notification') {
      doc.UnsubscribeURL = `${base}/?Action=Unsubscribe&SubscriptionArn=${encodeURIComponent(sub.arn)}`;
      if (out.attributes && Object.keys(out.attributes).length) {
        doc.MessageAttributes = Object.fromEntries(
          Object.entries(out.attributes).map(([k, a]) => [
            k,
            { Type: a.DataType, Value: a.BinaryValue !== undefined ? Buffer.from(a.BinaryValue).toString('base64') : a.StringValue },
          ]),
        );
      }
    }
    return doc;
  }

  private signature(doc: Record<string, unknown>, out: Outgoing, version: string): Promise<string> {
    if (!out.signatures) return this.signer.sign(doc, version);
    const key = `${version}\n${stringToSign(doc)}`;
    let sig = out.signatures.get(key);
    if (!sig) out.signatures.set(key, (sig = this.signer.sign(doc, version)));
    return sig;
  }

  private attempt(
    topic: TopicRow,
    sub: SubscriptionRow,
    out: Outgoing,
    id: number,
    body: string,
    headers: Record<string, string>,
    delays: number[],
    n: number,
  ) {
    if (this.closed) return;
    // a subscription removed while its message waited for a retry gets no more attempts
    if (n > 1 && !this.store.subByArn(sub.arn)) return this.forget(id);
    // after close() an answer changes nothing: the row stays as it is and the next start attempts again
    post(sub.endpoint, headers, body).then(
      (status) => {
        if (this.closed) return;
        if (status >= 500) return this.retry(topic, sub, out, id, body, headers, delays, n, status);
        this.forget(id);
        this.record(topic, sub, out, body, 'delivered', n, status);
      },
      () => {
        if (!this.closed) this.retry(topic, sub, out, id, body, headers, delays, n);
      },
    );
  }

  private retry(
    topic: TopicRow,
    sub: SubscriptionRow,
    out: Outgoing,
    id: number,
    body: string,
    headers: Record<string, string>,
    delays: number[],
    n: number,
    status?: number,
  ) {
    // http(s): every failed attempt counts in NumberOfNotificationsFailed, retries included
    if (out.type === 'Notification' && n <= delays.length) this.metric(topic, 'NumberOfNotificationsFailed', 1);
    if (n > delays.length) {
      this.forget(id);
      return this.record(topic, sub, out, body, 'failed', n, status);
    }
    const delay = delays[n - 1] * 1000;
    try {
      this.store.rescheduleDelivery(id, n + 1, this.clock.now() + delay);
    } catch (err) {
      log.warn('sns retry not saved', { subscription: sub.arn, err: String(err) });
    }
    this.later(() => this.attempt(topic, sub, out, id, body, headers, delays, n + 1), delay);
  }

  private record(
    topic: TopicRow,
    sub: SubscriptionRow,
    out: Outgoing,
    body: string,
    status: DeliveryRecord['status'],
    attempts: number,
    httpStatus?: number,
  ) {
    if (out.type === 'Notification')
      this.metric(topic, status === 'failed' ? 'NumberOfNotificationsFailed' : 'NumberOfNotificationsDelivered', 1);
    this.recent.push({
      at: new Date(this.clock.now()).toISOString(),
      topicArn: topic.arn,
      subscriptionArn: sub.arn,
      protocol: sub.protocol,
      endpoint: sub.endpoint,
      type: out.type,
      messageId: out.messageId,
      body,
      status,
      attempts,
      httpStatus,
    });
    this.trimLog();
  }
}

/** The event Lambda receives from SNS: the document inside Records[0].Sns, with Lambda's spellings. */
function lambdaEvent(sub: SubscriptionRow, doc: Record<string, unknown>) {
  const { SigningCertURL, UnsubscribeURL, Subject, MessageAttributes, ...rest } = doc;
  return {
    Records: [
      {
        EventSource: 'aws:sns',
        EventVersion: '1.0',
        EventSubscriptionArn: sub.arn,
        Sns: {
          ...rest,
          Subject: Subject ?? null,
          SigningCertUrl: SigningCertURL,
          UnsubscribeUrl: UnsubscribeURL,
          MessageAttributes: MessageAttributes ?? {},
        },
      },
    ],
  };
}

function requestContentType(topicAttrs: Record<string, string>, subAttrs: Record<string, string>) {
  return (
    jsonOr(subAttrs.DeliveryPolicy)?.requestPolicy?.headerContentType ??
    jsonOr(topicAttrs.DeliveryPolicy)?.http?.defaultRequestPolicy?.headerContentType ??
    'text/plain; charset=UTF-8'
  );
}

/** One POST; resolves with the status code, rejects on connection errors and timeouts. */
function post(endpoint: string, headers: Record<string, string>, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const url = new URL(endpoint);
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const payload = Buffer.from(body, 'utf8');
    // local endpoints commonly use self-signed certificates; opsbox delivers to them anyway
    const req = send(
      url,
      { method: 'POST', headers: { ...headers, 'Content-Length': payload.length }, rejectUnauthorized: false },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    req.setTimeout(ATTEMPT_TIMEOUT_MS, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(payload);
  });
}
