/**
 * Publish and PublishBatch: AWS's checks on the message (size, Subject, MessageStructure "json",
 * message attributes, FIFO group and deduplication ids), then the fan-out. An accepted message is
 * written to sns_outbox before the call answers; the fan-out runs after (setImmediate): each
 * confirmed subscription whose filter policy passes gets the message resolved for its protocol,
 * and one transaction records the http(s) deliveries and removes the outbox row, before they are
 * handed to the Deliverer. resume() at start fans out what a previous run accepted but never did.
 */
import { createHash, randomUUID } from 'node:crypto';
import { AwsError } from '../../core/errors.js';
import type { Clock } from '../../core/clock.js';
import { log } from '../../core/log.js';
import type { RequestContext } from '../../gateway/context.js';
import { authorize } from './access.js';
import type { PublishBatchOutput, MessageAttributeMap, SnsHandlers } from './api.generated.js';
import type { Deliverer } from './delivery.js';
import { matchesAttributes, matchesBody, parseFilterPolicy, type Policy, type Scope } from './filterPolicy.js';
import { decodeAttributes, encodeAttributes, type Outgoing } from './outgoing.js';
import type { OutboxRow, SnsStore, SubscriptionRow, TopicRow } from './store.js';
import { topicFor } from './topics.js';

const MAX_MESSAGE_BYTES = 262_144;
const MAX_BATCH = 10;
const DEDUP_WINDOW_MS = 5 * 60_000;

const invalid = (what: string) => new AwsError('InvalidParameter', `Invalid parameter: ${what}`, 400);
const badValue = (msg: string) => new AwsError('ParameterValueInvalid', msg, 400);

const ATTRIBUTE_NAME = /^[A-Za-z0-9_\-.]+$/;
const SUBJECT = /^[\x20-\x7e]+$/;
const BATCH_ID = /^[A-Za-z0-9_-]+$/;

export interface Message {
  message: string;
  subject?: string;
  structure?: string;
  attributes?: MessageAttributeMap;
  groupId?: string;
  dedupId?: string;
}

interface Accepted {
  messageId: string;
  sequenceNumber?: string;
  duplicate: boolean;
}

function checkAttributes(attrs: MessageAttributeMap | undefined) {
  for (const [name, a] of Object.entries(attrs ?? {})) {
    if (name.length > 256) throw badValue('Length of message attribute name must be less than 256 bytes.');
    if (name.startsWith('.')) throw badValue("Invalid message attribute name starting with character '.' was found.");
    if (name.endsWith('.')) throw badValue("Invalid message attribute name ending with character '.' was found.");
    if (name.includes('..')) throw badValue("Message attribute name can not have successive '.' character.");
    if (!ATTRIBUTE_NAME.test(name)) {
      const bad = [...name].find((c) => !/[A-Za-z0-9_\-.]/.test(c))!;
      throw badValue(
        `Invalid non-alphanumeric character '#x${bad.codePointAt(0)!.toString(16).toUpperCase()}' was found in the message attribute name. Can only include alphanumeric characters, hyphens, underscores, or dots.`,
      );
    }
    if (!a.DataType) throw badValue(`The message attribute '${name}' must contain non-empty message attribute type.`);
    const type = a.DataType.split('.')[0];
    if (!['String', 'Number', 'Binary'].includes(type) || a.DataType.endsWith('.'))
      throw badValue(
        `The message attribute '${name}' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String.`,
      );
    const field = type === 'Binary' ? 'Binary' : 'String';
    const value = type === 'Binary' ? a.BinaryValue : a.StringValue;
    if (value === undefined && (type === 'Binary' ? a.StringValue : a.BinaryValue) !== undefined)
      throw badValue(`The message attribute '${name}' with type '${a.DataType}' must use field '${field}'.`);
    if (value === undefined || value.length === 0)
      throw badValue(
        `The message attribute '${name}' must contain non-empty message attribute value for message attribute type '${a.DataType}'.`,
      );
    if (type === 'Number' && !/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(a.StringValue!.trim()))
      throw badValue(`Could not cast message attribute '${name}' value to number.`);
    if (a.DataType === 'String.Array') {
      let ok = false;
      try {
        const arr = JSON.parse(a.StringValue!);
        ok = Array.isArray(arr) && arr.every((v) => v === null || typeof v !== 'object');
      } catch {
        ok = false;
      }
      if (!ok) throw badValue(`The message attribute '${name}' has an invalid value for message attribute type 'String.Array'.`);
    }
  }
}

function size(m: Message): number {
  let n = Buffer.byteLength(m.message);
  for (const [k, a] of Object.entries(m.attributes ?? {}))
    n += Buffer.byteLength(k) + Buffer.byteLength(a.DataType) + (a.BinaryValue?.length ?? Buffer.byteLength(a.StringValue ?? ''));
  return n;
}

/** AWS's checks on one message for one topic, in AWS's order; throws the first failure. */
function checkMessage(topic: TopicRow, m: Message) {
  if (m.subject !== undefined && (m.subject.length === 0 || m.subject.length > 100 || !SUBJECT.test(m.subject))) throw invalid('Subject');
  if (m.message === '') throw invalid('Empty message');
  checkAttributes(m.attributes);
  if (size(m) > MAX_MESSAGE_BYTES) throw invalid('Message too long');
  const attrs = JSON.parse(topic.attributes) as Record<string, string>;
  if (attrs.FifoTopic === 'true') {
    if (!m.groupId) throw invalid('The MessageGroupId parameter is required for FIFO topics');
    if (!m.dedupId && attrs.ContentBasedDeduplication !== 'true')
      throw invalid('The topic should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly');
  } else if (m.dedupId) {
    throw invalid(
      'MessageDeduplicationId Reason: The request includes MessageDeduplicationId parameter that is not valid for this topic type',
    );
  }
  if (m.structure !== undefined) {
    if (m.structure !== 'json') throw invalid('MessageStructure');
    let doc: unknown;
    try {
      doc = JSON.parse(m.message);
    } catch {
      throw invalid('Message Structure - JSON message body failed to parse');
    }
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc) || typeof (doc as { default?: unknown }).default !== 'string')
      throw invalid('Message Structure - No default entry in JSON message body');
  }
}

/** The message a protocol receives: its own key of a MessageStructure "json" document, else default. */
function forProtocol(m: Message, protocol: string): string {
  if (m.structure !== 'json') return m.message;
  const doc = JSON.parse(m.message) as Record<string, unknown>;
  return typeof doc[protocol] === 'string' ? (doc[protocol] as string) : (doc.default as string);
}

export class Publisher {
  private policies = new Map<string, { text: string; scope: Scope; policy?: Policy }>();
  private dedup = new Map<string, { messageId: string; sequenceNumber?: string; expires: number }>();

  constructor(
    private store: SnsStore,
    private deliverer: Deliverer,
    private clock: Clock,
  ) {}

  /** Accepts a checked message for the topic and schedules its fan-out; FIFO duplicates are not sent again. */
  accept(topic: TopicRow, m: Message): Accepted {
    const attrs = JSON.parse(topic.attributes) as Record<string, string>;
    const now = this.clock.now();
    if (attrs.FifoTopic === 'true') {
      const dedupId = m.dedupId ?? createHash('sha256').update(m.message).digest('hex');
      const key = `${topic.id}\n${dedupId}`;
      const seen = this.dedup.get(key);
      if (seen && seen.expires > now) return { messageId: seen.messageId, sequenceNumber: seen.sequenceNumber, duplicate: true };
      if (this.dedup.size > 10_000) for (const [k, v] of this.dedup) if (v.expires <= now) this.dedup.delete(k);
      const sequenceNumber = (10n ** 19n + BigInt(this.store.nextSeq(topic.id))).toString();
      const messageId = randomUUID();
      const outboxId = this.store.insertOutbox(topic, messageId, encodeMessage(m), now, sequenceNumber);
      this.dedup.set(key, { messageId, sequenceNumber, expires: now + DEDUP_WINDOW_MS });
      this.published(topic, m);
      this.fanOut(outboxId, topic, m, messageId, now, sequenceNumber);
      return { messageId, sequenceNumber, duplicate: false };
    }
    const messageId = randomUUID();
    const outboxId = this.store.insertOutbox(topic, messageId, encodeMessage(m), now);
    this.published(topic, m);
    this.fanOut(outboxId, topic, m, messageId, now);
    return { messageId, duplicate: false };
  }

  /** At start: fans out the messages a previous run accepted but stopped before fanning out. */
  resume() {
    for (const row of this.store.outbox()) {
      const topic = this.store.topicById(row.topic_id);
      if (!topic) this.store.deleteOutbox(row.id);
      else this.fanOut(row.id, topic, decodeMessage(row), row.message_id, row.published, row.sequence_number ?? undefined);
    }
  }

  recordSms(phoneNumber: string, messageId: string, message: string) {
    this.deliverer.recordDirect('sms', phoneNumber, messageId, message);
  }

  /** Checks and publishes one message to a topic (the env.targets path: alarm actions, rule targets). */
  publish(topic: TopicRow, m: Message): Accepted {
    checkMessage(topic, m);
    return this.accept(topic, m);
  }

  private published(topic: TopicRow, m: Message) {
    this.deliverer.metric(topic, 'NumberOfMessagesPublished', 1);
    this.deliverer.metric(topic, 'PublishSize', size(m), 'Bytes');
  }

  private fanOut(outboxId: number, topic: TopicRow, m: Message, messageId: string, now: number, sequenceNumber?: string) {
    setImmediate(() => {
      if (this.deliverer.isClosed) return;
      const timestamp = new Date(now).toISOString();
      const signatures = new Map<string, Promise<string>>();
      const sends: { sub: SubscriptionRow; out: Outgoing; id?: number }[] = [];
      let filteredOut = 0;
      try {
        // the http(s) deliveries are recorded in the transaction that empties the outbox row:
        // a crash leaves either the outbox row (fanned out again at start) or the deliveries
        this.store.transaction(() => {
          for (const sub of this.store.confirmedSubscriptions(topic.id)) {
            let passes = false;
            try {
              passes = this.passes(sub, m);
            } catch (err) {
              log.warn('sns filter policy failed', { subscription: sub.arn, err: String(err) });
            }
            if (!passes) {
              filteredOut++;
              continue;
            }
            const out: Outgoing = {
              type: 'Notification',
              messageId,
              message: forProtocol(m, sub.protocol),
              subject: m.subject,
              timestamp,
              attributes: m.attributes,
              sequenceNumber,
              signatures,
            };
            sends.push({ sub, out, id: this.deliverer.queue(sub, out) });
          }
          this.store.deleteOutbox(outboxId);
        });
      } catch (err) {
        // the outbox row stays: the next start fans the message out again
        return log.warn('sns fan-out failed', { topic: topic.arn, err: String(err) });
      }
      if (filteredOut) this.deliverer.metric(topic, 'NumberOfNotificationsFilteredOut', filteredOut);
      for (const { sub, out, id } of sends) void this.deliverer.deliver(topic, sub, out, id);
    });
  }

  private passes(sub: SubscriptionRow, m: Message): boolean {
    let cached = this.policies.get(sub.arn);
    if (!cached || cached.text !== sub.attributes) {
      const attrs = JSON.parse(sub.attributes) as Record<string, string>;
      const scope = (attrs.FilterPolicyScope as Scope) ?? 'MessageAttributes';
      cached = { text: sub.attributes, scope, policy: attrs.FilterPolicy ? parseFilterPolicy(attrs.FilterPolicy, scope) : undefined };
      this.policies.set(sub.arn, cached);
    }
    if (!cached.policy) return true;
    return cached.scope === 'MessageBody'
      ? matchesBody(cached.policy, forProtocol(m, sub.protocol))
      : matchesAttributes(cached.policy, m.attributes);
  }
}

/** A Message as stored in sns_outbox: binary attribute values in base64. */
function encodeMessage(m: Message): string {
  return JSON.stringify({ ...m, attributes: encodeAttributes(m.attributes) });
}

function decodeMessage(row: OutboxRow): Message {
  const m = JSON.parse(row.message);
  return { ...m, attributes: decodeAttributes(m.attributes) };
}

export function publishHandlers(store: SnsStore, publisher: Publisher): SnsHandlers {
  function target(input: { TopicArn?: string; TargetArn?: string; PhoneNumber?: string }, ctx: RequestContext): TopicRow | undefined {
    const given = [input.TopicArn, input.TargetArn, input.PhoneNumber].filter((v) => v !== undefined).length;
    if (given === 0) throw invalid('TopicArn or TargetArn Reason: no value for required parameter');
    if (given > 1) throw invalid('TopicArn or TargetArn Reason: Only one of TopicArn, TargetArn or PhoneNumber can be specified');
    if (input.PhoneNumber !== undefined) {
      if (!/^\+[1-9]\d{1,14}$/.test(input.PhoneNumber))
        throw invalid(`PhoneNumber Reason: ${input.PhoneNumber} is not valid to publish to`);
      return undefined;
    }
    return topicFor(store, input.TopicArn ?? input.TargetArn, ctx, input.TopicArn ? 'TopicArn' : 'TargetArn');
  }

  return {
    Publish(input, ctx) {
      const topic = target(input, ctx);
      if (!topic) {
        // an SMS straight to a phone number: checked like any message, recorded, never sent
        if (input.Message === '') throw invalid('Empty message');
        if (Buffer.byteLength(input.Message) > MAX_MESSAGE_BYTES) throw invalid('Message too long');
        checkAttributes(input.MessageAttributes);
        const messageId = randomUUID();
        publisher.recordSms(input.PhoneNumber!, messageId, input.Message);
        return { MessageId: messageId };
      }
      authorize(topic, ctx, 'Publish');
      const m: Message = {
        message: input.Message,
        subject: input.Subject,
        structure: input.MessageStructure,
        attributes: input.MessageAttributes,
        groupId: input.MessageGroupId,
        dedupId: input.MessageDeduplicationId,
      };
      const r = publisher.publish(topic, m);
      return { MessageId: r.messageId, SequenceNumber: r.sequenceNumber };
    },

    PublishBatch(input, ctx) {
      const entries = input.PublishBatchRequestEntries;
      if (entries.length === 0) throw new AwsError('EmptyBatchRequest', "The batch request doesn't contain any entries.", 400);
      if (entries.length > MAX_BATCH)
        throw new AwsError('TooManyEntriesInBatchRequest', 'The batch request contains more entries than permissible.', 400);
      const topic = topicFor(store, input.TopicArn, ctx);
      authorize(topic, ctx, 'Publish');
      if (new Set(entries.map((e) => e.Id)).size !== entries.length)
        throw new AwsError('BatchEntryIdsNotDistinct', 'Two or more batch entries in the request have the same Id.', 400);
      for (const e of entries) {
        if (e.Id.length > 80)
          throw new AwsError('InvalidBatchEntryId', `The Id of a batch entry in the batch request is too long: ${e.Id}`, 400);
        if (!BATCH_ID.test(e.Id))
          throw new AwsError(
            'InvalidBatchEntryId',
            `The Id of a batch entry in the batch request contains an impermissible character: ${e.Id}`,
            400,
          );
      }
      const messages = entries.map((e) => ({
        id: e.Id,
        m: {
          message: e.Message,
          subject: e.Subject,
          structure: e.MessageStructure,
          attributes: e.MessageAttributes,
          groupId: e.MessageGroupId,
          dedupId: e.MessageDeduplicationId,
        },
      }));
      if (messages.reduce((n, x) => n + size(x.m), 0) > MAX_MESSAGE_BYTES)
        throw new AwsError('BatchRequestTooLong', 'The length of all the messages put together is more than the limit.', 400);
      const out: Required<PublishBatchOutput> = { Successful: [], Failed: [] };
      for (const { id, m } of messages) {
        try {
          checkMessage(topic, m);
        } catch (err) {
          if (!(err instanceof AwsError)) throw err;
          out.Failed.push({ Id: id, Code: err.code, Message: err.message, SenderFault: true });
          continue;
        }
        const r = publisher.accept(topic, m);
        out.Successful.push({ Id: id, MessageId: r.messageId, SequenceNumber: r.sequenceNumber });
      }
      return out;
    },
  };
}
