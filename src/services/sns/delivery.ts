/**
 * Where messages leave SNS. http/https subscriptions get real POSTs (node:http/https) in SNS's
 * format — the x-amz-sns-* headers, a signed JSON document or the raw message — retried on 5xx,
 * timeouts and connection errors following the effective delivery policy, each wait scheduled on
 * the injected clock. sqs/lambda endpoints go through env.targets when a service there handles the
 * ARN; every other protocol (email, email-json, sms, application, firehose) is recorded in a ring
 * of recent deliveries that tests and users read at GET /_aws/sns/deliveries.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Clock } from '../../core/clock.js';
import { log } from '../../core/log.js';
import type { MetricDatum, Metrics } from '../../core/metrics.js';
import type { Targets } from '../../core/targets.js';
import { CERT_PATH, stringToSign, type Signer } from './signing.js';
import type { SnsStore, SubscriptionRow, TopicRow } from './store.js';

export const DEFAULT_HTTP_POLICY = {
  http: {
    defaultHealthyRetryPolicy: {
      minDelayTarget: 20,
      maxDelayTarget: 20,
      numRetries: 3,
      numMaxDelayRetries: 0,
      numNoDelayRetries: 0,
      numMinDelayRetries: 0,
      backoffFunction: 'linear',
    },
    disableSubscriptionOverrides: false,
    defaultRequestPolicy: { headerContentType: 'text/plain; charset=UTF-8' },
  },
};

const ATTEMPT_TIMEOUT_MS = 15_000;
const LOG_SIZE = 1000;

export interface RetryPolicy {
  minDelayTarget: number;
  maxDelayTarget: number;
  numRetries: number;
  numMaxDelayRetries: number;
  numNoDelayRetries: number;
  numMinDelayRetries: number;
  backoffFunction: string;
}

/** One message on its way to one subscription: what Publish accepted, resolved for that protocol. */
export interface Outgoing {
  type: 'Notification' | 'SubscriptionConfirmation' | 'UnsubscribeConfirmation';
  messageId: string;
  message: string;
  subject?: string;
  timestamp: string;
  token?: string;
  attributes?: Record<string, { DataType: string; StringValue?: string; BinaryValue?: Buffer }>;
  sequenceNumber?: string;
  /** Signatures already made for this message, shared by its fan-out: the signed fields are the same for every subscription. */
  signatures?: Map<string, Promise<string>>;
}

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

/** The delays in seconds before each retry of an attempt that failed, per AWS's four phases. */
export function retryDelays(p: RetryPolicy): number[] {
  const out: number[] = [];
  for (let i = 0; i < p.numNoDelayRetries; i++) out.push(0);
  for (let i = 0; i < p.numMinDelayRetries; i++) out.push(p.minDelayTarget);
  const backoff = Math.max(0, p.numRetries - p.numNoDelayRetries - p.numMinDelayRetries - p.numMaxDelayRetries);
  const span = p.maxDelayTarget - p.minDelayTarget;
  for (let k = 1; k <= backoff; k++) {
    const x = k / backoff;
    const f = { arithmetic: x * x, geometric: 1 - (1 - x) * (1 - x), exponential: x ** 3, linear: x }[p.backoffFunction] ?? x;
    out.push(Math.round(p.minDelayTarget + span * f));
  }
  for (let i = 0; i < p.numMaxDelayRetries; i++) out.push(p.maxDelayTarget);
  return out.slice(0, p.numRetries);
}

/** The http(s) retry policy in force for a subscription: its own, unless the topic forbids overrides. */
export function effectiveRetryPolicy(topicAttrs: Record<string, string>, subAttrs: Record<string, string>): RetryPolicy {
  const topic = jsonOr(topicAttrs.DeliveryPolicy)?.http ?? {};
  const base = { ...DEFAULT_HTTP_POLICY.http.defaultHealthyRetryPolicy, ...(topic.defaultHealthyRetryPolicy ?? {}) };
  const sub = jsonOr(subAttrs.DeliveryPolicy)?.healthyRetryPolicy;
  return sub && !topic.disableSubscriptionOverrides ? { ...base, ...sub } : base;
}

export function jsonOr(text: string | undefined): any {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
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
        namespace: 'AWS/SNS', metricName, dimensions: [{ Name: 'TopicName', Value: topic.name }], value, unit, timestamp: this.clock.now(),
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
    return this.recent.slice(-LOG_SIZE).filter(
      (r) =>
        (!filter.topicArn || r.topicArn === filter.topicArn) &&
        (!filter.subscriptionArn || r.subscriptionArn === filter.subscriptionArn) &&
        (!filter.endpoint || r.endpoint === filter.endpoint),
    );
  }

  close() {
    this.closed = true;
    for (const t of this.timers) t.cancel();
    this.timers.clear();
  }

  /** Sends (or records) one message to one subscription; never throws, never blocks the caller. */
  async deliver(topic: TopicRow, sub: SubscriptionRow, out: Outgoing): Promise<void> {
    try {
      const topicAttrs = JSON.parse(topic.attributes) as Record<string, string>;
      const subAttrs = JSON.parse(sub.attributes) as Record<string, string>;
      const raw = subAttrs.RawMessageDelivery === 'true' && out.type === 'Notification';
      if (sub.protocol === 'http' || sub.protocol === 'https') {
        const body = raw ? out.message : formatDocument(await this.document(topic, sub, out, topicAttrs.SignatureVersion ?? '1'));
        const headers: Record<string, string> = {
          'x-amz-sns-message-type': out.type,
          'x-amz-sns-message-id': out.messageId,
          'x-amz-sns-topic-arn': topic.arn,
          'Content-Type': requestContentType(topicAttrs, subAttrs),
          'User-Agent': 'Amazon Simple Notification Service Agent',
        };
        if (out.type !== 'SubscriptionConfirmation') headers['x-amz-sns-subscription-arn'] = sub.arn;
        if (raw) headers['x-amz-sns-rawdelivery'] = 'true';
        const delays = retryDelays(effectiveRetryPolicy(topicAttrs, subAttrs));
        return this.attempt(topic, sub, out, body, headers, delays, 1);
      }
      if (sub.protocol === 'email' || sub.protocol === 'sms') {
        const text = out.type === 'Notification' ? out.message : formatDocument(await this.document(topic, sub, out, '1'));
        return this.record(topic, sub, out, text, 'recorded', 1);
      }
      const body =
        sub.protocol === 'lambda'
          ? JSON.stringify(lambdaEvent(sub, await this.document(topic, sub, out, topicAttrs.SignatureVersion ?? '1')))
          : raw
            ? out.message
            : formatDocument(await this.document(topic, sub, out, topicAttrs.SignatureVersion ?? '1'));
      if ((sub.protocol === 'sqs' || sub.protocol === 'lambda') && this.targets.supports(sub.endpoint)) {
        await this.targets.invoke({ arn: sub.endpoint, account: sub.account, region: sub.region, payload: body, subject: out.subject, source: 'sns' });
        return this.record(topic, sub, out, body, 'invoked', 1);
      }
      this.record(topic, sub, out, body, 'recorded', 1);
    } catch (err) {
      log.warn('sns delivery failed', { subscription: sub.arn, err: String(err) });
      this.record(topic, sub, out, '', 'failed', 1);
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
    if (out.type !== 'Notification') doc.SubscribeURL = `${base}/?Action=ConfirmSubscription&TopicArn=${encodeURIComponent(topic.arn)}&Token=${out.token}`;
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

  private attempt(topic: TopicRow, sub: SubscriptionRow, out: Outgoing, body: string, headers: Record<string, string>, delays: number[], n: number) {
    if (this.closed) return;
    // a subscription removed while its message waited for a retry gets no more attempts
    if (n > 1 && !this.store.subByArn(sub.arn)) return;
    post(sub.endpoint, headers, body).then(
      (status) => {
        if (status < 500) return this.record(topic, sub, out, body, 'delivered', n, status);
        this.retry(topic, sub, out, body, headers, delays, n, status);
      },
      () => this.retry(topic, sub, out, body, headers, delays, n),
    );
  }

  private retry(topic: TopicRow, sub: SubscriptionRow, out: Outgoing, body: string, headers: Record<string, string>, delays: number[], n: number, status?: number) {
    // http(s): every failed attempt counts in NumberOfNotificationsFailed, retries included
    if (out.type === 'Notification' && n <= delays.length) this.metric(topic, 'NumberOfNotificationsFailed', 1);
    if (n > delays.length || this.closed) return this.record(topic, sub, out, body, 'failed', n, status);
    const timer = this.clock.setTimeout(() => {
      this.timers.delete(timer);
      this.attempt(topic, sub, out, body, headers, delays, n + 1);
    }, delays[n - 1] * 1000);
    this.timers.add(timer);
  }

  private record(topic: TopicRow, sub: SubscriptionRow, out: Outgoing, body: string, status: DeliveryRecord['status'], attempts: number, httpStatus?: number) {
    if (out.type === 'Notification') this.metric(topic, status === 'failed' ? 'NumberOfNotificationsFailed' : 'NumberOfNotificationsDelivered', 1);
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
        Sns: { ...rest, Subject: Subject ?? null, SigningCertUrl: SigningCertURL, UnsubscribeUrl: UnsubscribeURL, MessageAttributes: MessageAttributes ?? {} },
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
    const req = send(url, { method: 'POST', headers: { ...headers, 'Content-Length': payload.length }, rejectUnauthorized: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.setTimeout(ATTEMPT_TIMEOUT_MS, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(payload);
  });
}
