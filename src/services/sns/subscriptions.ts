/**
 * Subscription handlers: Subscribe (endpoint checks per protocol, attributes, the confirmation
 * handshake for http/https and email), ConfirmSubscription (also arriving unsigned from a
 * SubscribeURL: the topic's account comes from the TopicArn, never from the request), Unsubscribe,
 * the two List calls and Get/SetSubscriptionAttributes.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { parseArn } from '../../core/arn.js';
import { AwsError } from '../../core/errors.js';
import type { RequestContext } from '../../gateway/context.js';
import { authorize } from './access.js';
import type { SnsHandlers } from './api.generated.js';
import type { Deliverer } from './delivery.js';
import { parseFilterPolicy, type Scope } from './filterPolicy.js';
import { DEFAULT_HTTP_POLICY } from './retryPolicy.js';
import { page, parseTopicArn, readPageToken, type SnsStore, type SubscriptionRow, type TopicRow } from './store.js';
import { topicFor } from './topics.js';

const invalid = (what: string) => new AwsError('InvalidParameter', `Invalid parameter: ${what}`, 400);

const PROTOCOLS = new Set(['http', 'https', 'email', 'email-json', 'sms', 'sqs', 'application', 'lambda', 'firehose']);
/** Protocols whose subscriptions wait for the endpoint's owner to confirm. */
const CONFIRMED_BY_ENDPOINT = new Set(['http', 'https', 'email', 'email-json']);
const RAW_PROTOCOLS = new Set(['http', 'https', 'sqs', 'firehose']);
const ATTRIBUTES = new Set([
  'DeliveryPolicy',
  'FilterPolicy',
  'FilterPolicyScope',
  'RawMessageDelivery',
  'RedrivePolicy',
  'SubscriptionRoleArn',
  'ReplayPolicy',
]);

const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
const E164 = /^\+?[1-9]\d{1,14}$/;

function checkEndpoint(protocol: string, endpoint: string | undefined): string {
  if (!PROTOCOLS.has(protocol)) throw invalid(`Amazon SNS does not support this protocol string: ${protocol}`);
  if (!endpoint) throw invalid('Endpoint');
  const arnOf = (service: string) => {
    const p = parseArn(endpoint);
    return p && p.service === service && p.account && p.region ? p : undefined;
  };
  switch (protocol) {
    case 'http':
    case 'https': {
      let ok = endpoint.toLowerCase().startsWith(`${protocol}://`);
      try {
        new URL(endpoint);
      } catch {
        ok = false;
      }
      if (!ok) throw invalid('Endpoint must match the specified protocol');
      break;
    }
    case 'email':
    case 'email-json':
      if (!EMAIL.test(endpoint)) throw invalid('Email address');
      break;
    case 'sms':
      if (!E164.test(endpoint.replace(/[\s()-]/g, ''))) throw invalid(`SMS endpoint Reason: ${endpoint} is not a valid phone number`);
      break;
    case 'sqs':
      if (!arnOf('sqs')) throw invalid('SQS endpoint ARN');
      break;
    case 'lambda':
      if (!arnOf('lambda')) throw invalid('Lambda endpoint ARN');
      break;
    case 'firehose':
      if (!arnOf('firehose')) throw invalid('Firehose endpoint ARN');
      break;
    case 'application':
      if (!arnOf('sns') || !parseArn(endpoint)!.resource.startsWith('endpoint/')) throw invalid('Application endpoint arn');
      break;
  }
  return endpoint;
}

/**
 * Validates one subscription attribute and returns the value to store. `subscribe` selects AWS's
 * message prefix ("Invalid parameter: Attributes Reason: …" on Subscribe).
 */
function checkAttribute(name: string, value: string, protocol: string, attrs: Record<string, string>, subscribe: boolean): string {
  const prefix = subscribe ? 'Attributes Reason: ' : '';
  if (!ATTRIBUTES.has(name)) throw invalid(`${prefix}AttributeName`);
  switch (name) {
    case 'RawMessageDelivery': {
      const v = value.toLowerCase();
      if (v !== 'true' && v !== 'false') throw invalid(`${prefix}RawMessageDelivery: Invalid value [${value}]. Must be true or false.`);
      if (!RAW_PROTOCOLS.has(protocol)) throw invalid(`${prefix}Delivery protocol [${protocol}] does not support raw message delivery.`);
      return v;
    }
    case 'FilterPolicyScope':
      if (value !== 'MessageAttributes' && value !== 'MessageBody')
        throw invalid(`${prefix}FilterPolicyScope: Invalid value [${value}]. Please use either MessageBody or MessageAttributes`);
      if (attrs.FilterPolicy) parseFilterPolicy(attrs.FilterPolicy, value, subscribe);
      return value;
    case 'FilterPolicy':
      parseFilterPolicy(value, (attrs.FilterPolicyScope as Scope) ?? 'MessageAttributes', subscribe);
      return value;
    case 'DeliveryPolicy':
    case 'RedrivePolicy':
    case 'ReplayPolicy':
      if (value !== '') {
        try {
          JSON.parse(value);
        } catch {
          throw invalid(`${prefix}${name}: failed to parse JSON.`);
        }
      }
      return value;
    default:
      return value;
  }
}

export function subscriptionAttributes(sub: SubscriptionRow): Record<string, string> {
  const attrs = JSON.parse(sub.attributes) as Record<string, string>;
  const out: Record<string, string> = {
    ConfirmationWasAuthenticated: String(!!sub.authenticated),
    Endpoint: sub.endpoint,
    Owner: sub.owner,
    PendingConfirmation: String(!!sub.pending),
    Protocol: sub.protocol,
    RawMessageDelivery: attrs.RawMessageDelivery ?? 'false',
    SubscriptionArn: sub.arn,
    SubscriptionPrincipal: `arn:aws:iam::${sub.owner}:root`,
    TopicArn: sub.topic_arn,
  };
  if (sub.protocol === 'http' || sub.protocol === 'https') {
    const own = attrs.DeliveryPolicy ? JSON.parse(attrs.DeliveryPolicy) : {};
    out.EffectiveDeliveryPolicy = JSON.stringify({
      healthyRetryPolicy: { ...DEFAULT_HTTP_POLICY.http.defaultHealthyRetryPolicy, ...own.healthyRetryPolicy },
      sicklyRetryPolicy: own.sicklyRetryPolicy ?? null,
      throttlePolicy: own.throttlePolicy ?? null,
      requestPolicy: own.requestPolicy ?? DEFAULT_HTTP_POLICY.http.defaultRequestPolicy,
      guaranteed: false,
    });
  }
  for (const [k, v] of Object.entries(attrs)) if (k !== 'RawMessageDelivery' && v !== '') out[k] = v;
  if (attrs.FilterPolicy) out.FilterPolicyScope = attrs.FilterPolicyScope ?? 'MessageAttributes';
  else delete out.FilterPolicyScope;
  return out;
}

const listed = (s: SubscriptionRow) => ({
  SubscriptionArn: s.pending ? 'PendingConfirmation' : s.arn,
  Owner: s.owner,
  Protocol: s.protocol,
  Endpoint: s.endpoint,
  TopicArn: s.topic_arn,
});

export function subscriptionHandlers(store: SnsStore, deliverer: Deliverer): SnsHandlers {
  /** The subscription's owner and the topic's owner may act on it. */
  function mayManage(sub: SubscriptionRow, ctx: RequestContext, action: string) {
    if (ctx.account === sub.owner) return;
    const topic = store.topicById(sub.topic_id);
    if (topic) authorize(topic, ctx, action);
  }

  function confirmationFor(topic: TopicRow, sub: SubscriptionRow, now: number) {
    void deliverer.deliver(topic, sub, {
      type: 'SubscriptionConfirmation',
      messageId: randomUUID(),
      token: sub.token,
      message: `You have chosen to subscribe to the topic ${topic.arn}.\nTo confirm the subscription, visit the SubscribeURL included in this message.`,
      timestamp: new Date(now).toISOString(),
    });
  }

  return {
    Subscribe(input, ctx) {
      const topic = topicFor(store, input.TopicArn, ctx);
      authorize(topic, ctx, 'Subscribe');
      const endpoint = checkEndpoint(input.Protocol, input.Endpoint);
      if (endpoint.endsWith('.fifo') && input.Protocol === 'sqs' && !topic.arn.endsWith('.fifo'))
        throw invalid('Invalid parameter: Endpoint Reason: FIFO SQS Queues can not be subscribed to standard SNS topics');
      const attrs: Record<string, string> = {};
      const given = input.Attributes ?? {};
      // the scope first, so the policy is validated against the scope it will run in
      for (const name of Object.keys(given).sort((a, b) => (a === 'FilterPolicyScope' ? -1 : b === 'FilterPolicyScope' ? 1 : 0)))
        attrs[name] = checkAttribute(name, given[name], input.Protocol, attrs, true);

      const existing = store.subByEndpoint(topic.id, input.Protocol, endpoint);
      if (existing) {
        const have = JSON.parse(existing.attributes) as Record<string, string>;
        if (Object.entries(attrs).some(([k, v]) => (have[k] ?? (k === 'RawMessageDelivery' ? 'false' : '')) !== v))
          throw invalid('Attributes Reason: Subscription already exists with different attributes');
        // subscribing a pending endpoint again sends it a fresh confirmation message
        if (existing.pending) confirmationFor(topic, existing, ctx.clock.now());
        return { SubscriptionArn: existing.pending && !input.ReturnSubscriptionArn ? 'pending confirmation' : existing.arn };
      }
      const pending = CONFIRMED_BY_ENDPOINT.has(input.Protocol);
      const sub = store.insertSubscription({
        arn: `${topic.arn}:${randomUUID()}`,
        topic_id: topic.id,
        topic_arn: topic.arn,
        account: topic.account,
        region: topic.region,
        owner: ctx.account,
        protocol: input.Protocol,
        endpoint,
        attributes: JSON.stringify(attrs),
        pending: pending ? 1 : 0,
        token: randomBytes(128).toString('hex'),
        base_url: `http://${ctx.host}`,
        created: ctx.clock.now(),
      });
      if (pending) confirmationFor(topic, sub, ctx.clock.now());
      return { SubscriptionArn: pending && !input.ReturnSubscriptionArn ? 'pending confirmation' : sub.arn };
    },

    ConfirmSubscription(input, ctx) {
      const p = parseArn(input.TopicArn);
      if (!p || p.service !== 'sns') throw invalid('Topic');
      const sub = store.subByToken(input.Token);
      if (!sub || sub.topic_arn !== input.TopicArn) throw invalid('Token');
      if (sub.pending) store.confirmSubscription(sub.id, !!ctx.caller.accessKeyId);
      return { SubscriptionArn: sub.arn };
    },

    Unsubscribe(input, ctx) {
      const p = parseArn(input.SubscriptionArn);
      if (!p) throw invalid(`SubscriptionArn Reason: An ARN must have at least 6 elements, not ${input.SubscriptionArn.split(':').length}`);
      if (p.service !== 'sns' || !p.resource.includes(':')) throw invalid('SubscriptionId');
      const sub = store.subByArn(input.SubscriptionArn);
      if (!sub) return;
      // unsigned Unsubscribe from an UnsubscribeURL carries no account: the link itself is the credential
      if (ctx.caller.accessKeyId) mayManage(sub, ctx, 'Unsubscribe');
      store.deleteSubscription(sub);
    },

    ListSubscriptions(input, ctx) {
      const { items, next } = page(store.subscriptionsByOwner(ctx.account, ctx.region, readPageToken(input.NextToken)));
      return { Subscriptions: items.map(listed), NextToken: next };
    },

    ListSubscriptionsByTopic(input, ctx) {
      const topic = topicFor(store, input.TopicArn, ctx);
      authorize(topic, ctx, 'ListSubscriptionsByTopic');
      const { items, next } = page(store.subscriptionsByTopic(topic.id, readPageToken(input.NextToken)));
      return { Subscriptions: items.map(listed), NextToken: next };
    },

    GetSubscriptionAttributes(input, ctx) {
      parseTopicArnOfSubscription(input.SubscriptionArn);
      const sub = store.requireSubscription(input.SubscriptionArn);
      mayManage(sub, ctx, 'GetSubscriptionAttributes');
      return { Attributes: subscriptionAttributes(sub) };
    },

    SetSubscriptionAttributes(input, ctx) {
      parseTopicArnOfSubscription(input.SubscriptionArn);
      const sub = store.requireSubscription(input.SubscriptionArn);
      mayManage(sub, ctx, 'SetSubscriptionAttributes');
      const attrs = JSON.parse(sub.attributes) as Record<string, string>;
      const value = input.AttributeValue ?? '';
      const stored = checkAttribute(input.AttributeName, value, sub.protocol, attrs, false);
      if (stored === '') delete attrs[input.AttributeName];
      else attrs[input.AttributeName] = stored;
      store.setSubscriptionAttributes(sub.id, attrs);
    },
  };
}

function parseTopicArnOfSubscription(subscriptionArn: string) {
  const at = subscriptionArn.lastIndexOf(':');
  if (!parseArn(subscriptionArn) || at === -1) throw invalid('SubscriptionArn');
  parseTopicArn(subscriptionArn.slice(0, at), 'SubscriptionArn');
}
