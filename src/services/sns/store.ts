/**
 * SNS tables and queries. Topics are scoped by account and region (both are in the topic ARN, which
 * is unique); subscriptions hang off their topic by surrogate id and carry the account and region of
 * the topic. User-set attributes are kept as JSON maps; the computed ones (counts, defaults) are
 * derived at read time. requireX() helpers throw AWS's error for a missing resource.
 *
 * Deliveries are durable, as AWS's are: sns_outbox holds each accepted message until its fan-out
 * has run (one transaction turns it into sns_deliveries rows), and sns_deliveries holds each
 * http(s) delivery still to be made — its next attempt number and when it is due — until it
 * succeeds or finally fails. A restart resumes both (delivery.ts, publish.ts).
 */
import { parseArn } from '../../core/arn.js';
import { AwsError } from '../../core/errors.js';
import type { Store } from '../../core/store.js';
import { keysetPage, readToken } from '../../core/pagination.js';
import { migrateTagTable, moveTagColumnSql } from '../../core/tags.js';

export interface TopicRow {
  id: number;
  account: string;
  region: string;
  name: string;
  arn: string;
  attributes: string;
  created: number;
  subs_deleted: number;
  seq: number;
}

export interface SubscriptionRow {
  id: number;
  arn: string;
  topic_id: number;
  topic_arn: string;
  account: string;
  region: string;
  owner: string;
  protocol: string;
  endpoint: string;
  attributes: string;
  pending: number;
  authenticated: number;
  token: string;
  base_url: string;
  created: number;
}

const MIGRATIONS = [
  {
    version: 1,
    sql: `
      CREATE TABLE sns_topics (
        id INTEGER PRIMARY KEY,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        arn TEXT NOT NULL UNIQUE,
        attributes TEXT NOT NULL DEFAULT '{}',
        tags TEXT NOT NULL DEFAULT '[]',
        created INTEGER NOT NULL,
        subs_deleted INTEGER NOT NULL DEFAULT 0,
        seq INTEGER NOT NULL DEFAULT 0,
        UNIQUE (account, region, name)
      );
      CREATE TABLE sns_subscriptions (
        id INTEGER PRIMARY KEY,
        arn TEXT NOT NULL UNIQUE,
        topic_id INTEGER NOT NULL,
        topic_arn TEXT NOT NULL,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        owner TEXT NOT NULL,
        protocol TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        attributes TEXT NOT NULL DEFAULT '{}',
        pending INTEGER NOT NULL,
        authenticated INTEGER NOT NULL DEFAULT 0,
        token TEXT NOT NULL,
        base_url TEXT NOT NULL,
        created INTEGER NOT NULL
      );
      CREATE INDEX sns_subscriptions_by_topic ON sns_subscriptions (topic_id, id);
      CREATE INDEX sns_subscriptions_by_owner ON sns_subscriptions (owner, region, id);
      CREATE INDEX sns_subscriptions_by_token ON sns_subscriptions (token);
    `,
  },
  {
    version: 2,
    sql: `
      CREATE TABLE sns_outbox (
        id INTEGER PRIMARY KEY,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        topic_id INTEGER NOT NULL,
        message_id TEXT NOT NULL,
        message TEXT NOT NULL,
        published INTEGER NOT NULL,
        sequence_number TEXT
      );
      CREATE TABLE sns_deliveries (
        id INTEGER PRIMARY KEY,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        topic_id INTEGER NOT NULL,
        sub_arn TEXT NOT NULL,
        outgoing TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        due INTEGER NOT NULL
      );
      CREATE INDEX sns_deliveries_by_sub ON sns_deliveries (sub_arn);
    `,
  },
  // topic tags moved to core_tags, by the topic's ARN
  { version: 3, sql: moveTagColumnSql('sns_topics', 'sns_topics.arn', 'list') },
];

export interface OutboxRow {
  id: number;
  account: string;
  region: string;
  topic_id: number;
  message_id: string;
  /** The accepted message as JSON (publish.ts encodeMessage: binary attribute values in base64). */
  message: string;
  published: number;
  sequence_number: string | null;
}

export interface DeliveryRow {
  id: number;
  account: string;
  region: string;
  topic_id: number;
  sub_arn: string;
  /** The Outgoing message as JSON (delivery.ts encodeOutgoing). */
  outgoing: string;
  /** The number of the next attempt to make. */
  attempt: number;
  /** When that attempt is due (ms since the epoch, on the service clock). */
  due: number;
}

export const PAGE = 100;

export type SnsStore = ReturnType<typeof createSnsStore>;

export function createSnsStore(store: Store) {
  migrateTagTable(store);
  store.migrate('sns', MIGRATIONS);
  const db = store.db;
  const q = {
    topicByArn: db.prepare('SELECT * FROM sns_topics WHERE arn = ?'),
    topicById: db.prepare('SELECT * FROM sns_topics WHERE id = ?'),
    insertTopic: db.prepare('INSERT INTO sns_topics (account, region, name, arn, attributes, created) VALUES (?, ?, ?, ?, ?, ?)'),
    deleteTopic: db.prepare('DELETE FROM sns_topics WHERE id = ?'),
    deleteTopicSubs: db.prepare('DELETE FROM sns_subscriptions WHERE topic_id = ?'),
    setTopicAttributes: db.prepare('UPDATE sns_topics SET attributes = ? WHERE id = ?'),
    nextSeq: db.prepare('UPDATE sns_topics SET seq = seq + 1 WHERE id = ? RETURNING seq'),
    countDeleted: db.prepare('UPDATE sns_topics SET subs_deleted = subs_deleted + 1 WHERE id = ?'),
    listTopics: db.prepare('SELECT id, arn FROM sns_topics WHERE account = ? AND region = ? AND id > ? ORDER BY id LIMIT ?'),
    subCounts: db.prepare('SELECT SUM(pending = 0) AS confirmed, SUM(pending = 1) AS pending FROM sns_subscriptions WHERE topic_id = ?'),
    subByArn: db.prepare('SELECT * FROM sns_subscriptions WHERE arn = ?'),
    subByToken: db.prepare('SELECT * FROM sns_subscriptions WHERE token = ?'),
    subByEndpoint: db.prepare('SELECT * FROM sns_subscriptions WHERE topic_id = ? AND protocol = ? AND endpoint = ?'),
    insertSub: db.prepare(
      `INSERT INTO sns_subscriptions (arn, topic_id, topic_arn, account, region, owner, protocol, endpoint, attributes, pending, token, base_url, created)
       VALUES (@arn, @topic_id, @topic_arn, @account, @region, @owner, @protocol, @endpoint, @attributes, @pending, @token, @base_url, @created)`,
    ),
    deleteSub: db.prepare('DELETE FROM sns_subscriptions WHERE id = ?'),
    insertOutbox: db.prepare(
      'INSERT INTO sns_outbox (account, region, topic_id, message_id, message, published, sequence_number) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
    deleteOutbox: db.prepare('DELETE FROM sns_outbox WHERE id = ?'),
    // the outbox holds a row only until the next turn of the event loop: scanning it is cheap
    deleteTopicOutbox: db.prepare('DELETE FROM sns_outbox WHERE topic_id = ?'),
    outbox: db.prepare('SELECT * FROM sns_outbox ORDER BY id'),
    insertDelivery: db.prepare(
      'INSERT INTO sns_deliveries (account, region, topic_id, sub_arn, outgoing, attempt, due) VALUES (?, ?, ?, ?, ?, 1, ?)',
    ),
    rescheduleDelivery: db.prepare('UPDATE sns_deliveries SET attempt = ?, due = ? WHERE id = ?'),
    deleteDelivery: db.prepare('DELETE FROM sns_deliveries WHERE id = ?'),
    deleteSubDeliveries: db.prepare('DELETE FROM sns_deliveries WHERE sub_arn = ?'),
    deleteTopicDeliveries: db.prepare('DELETE FROM sns_deliveries WHERE sub_arn IN (SELECT arn FROM sns_subscriptions WHERE topic_id = ?)'),
    deliveries: db.prepare('SELECT * FROM sns_deliveries ORDER BY due, id'),
    confirmSub: db.prepare('UPDATE sns_subscriptions SET pending = 0, authenticated = ? WHERE id = ?'),
    setSubAttributes: db.prepare('UPDATE sns_subscriptions SET attributes = ? WHERE id = ?'),
    confirmedSubs: db.prepare('SELECT * FROM sns_subscriptions WHERE topic_id = ? AND pending = 0 ORDER BY id'),
    subsByTopic: db.prepare('SELECT * FROM sns_subscriptions WHERE topic_id = ? AND id > ? ORDER BY id LIMIT ?'),
    subsByOwner: db.prepare('SELECT * FROM sns_subscriptions WHERE owner = ? AND region = ? AND id > ? ORDER BY id LIMIT ?'),
  };

  return {
    topicByArn: (arn: string) => q.topicByArn.get(arn) as TopicRow | undefined,
    topicById: (id: number) => q.topicById.get(id) as TopicRow | undefined,

    /** The topic the ARN names; NotFound 404 "Topic does not exist" otherwise. */
    requireTopic(arn: string): TopicRow {
      const t = q.topicByArn.get(arn) as TopicRow | undefined;
      if (!t) throw new AwsError('NotFound', 'Topic does not exist', 404);
      return t;
    },

    insertTopic(account: string, region: string, name: string, arn: string, attributes: Record<string, string>, now: number) {
      q.insertTopic.run(account, region, name, arn, JSON.stringify(attributes), now);
      return q.topicByArn.get(arn) as TopicRow;
    },

    deleteTopic: db.transaction((id: number) => {
      q.deleteTopicOutbox.run(id);
      q.deleteTopicDeliveries.run(id);
      q.deleteTopicSubs.run(id);
      q.deleteTopic.run(id);
    }),

    setTopicAttributes: (id: number, attrs: Record<string, string>) => q.setTopicAttributes.run(JSON.stringify(attrs), id),
    nextSeq: (id: number) => (q.nextSeq.get(id) as { seq: number }).seq,

    listTopics: (account: string, region: string, after: number) =>
      q.listTopics.all(account, region, after, PAGE + 1) as { id: number; arn: string }[],

    subCounts(topic: TopicRow) {
      const c = q.subCounts.get(topic.id) as { confirmed: number | null; pending: number | null };
      return { confirmed: c.confirmed ?? 0, pending: c.pending ?? 0, deleted: topic.subs_deleted };
    },

    subByArn: (arn: string) => q.subByArn.get(arn) as SubscriptionRow | undefined,
    subByToken: (token: string) => q.subByToken.get(token) as SubscriptionRow | undefined,
    subByEndpoint: (topicId: number, protocol: string, endpoint: string) =>
      q.subByEndpoint.get(topicId, protocol, endpoint) as SubscriptionRow | undefined,

    /** The subscription the ARN names; NotFound 404 "Subscription does not exist" otherwise. */
    requireSubscription(arn: string): SubscriptionRow {
      const s = q.subByArn.get(arn) as SubscriptionRow | undefined;
      if (!s) throw new AwsError('NotFound', 'Subscription does not exist', 404);
      return s;
    },

    insertSubscription(row: Omit<SubscriptionRow, 'id' | 'authenticated'>) {
      q.insertSub.run(row);
      return q.subByArn.get(row.arn) as SubscriptionRow;
    },

    deleteSubscription: db.transaction((sub: SubscriptionRow) => {
      q.deleteSubDeliveries.run(sub.arn);
      q.deleteSub.run(sub.id);
      q.countDeleted.run(sub.topic_id);
    }),

    confirmSubscription: (id: number, authenticated: boolean) => q.confirmSub.run(authenticated ? 1 : 0, id),
    setSubscriptionAttributes: (id: number, attrs: Record<string, string>) => q.setSubAttributes.run(JSON.stringify(attrs), id),
    confirmedSubscriptions: (topicId: number) => q.confirmedSubs.all(topicId) as SubscriptionRow[],
    subscriptionsByTopic: (topicId: number, after: number) => q.subsByTopic.all(topicId, after, PAGE + 1) as SubscriptionRow[],
    /** ListSubscriptions: the subscriptions the account owns (made), whoever owns their topics. */
    subscriptionsByOwner: (owner: string, region: string, after: number) =>
      q.subsByOwner.all(owner, region, after, PAGE + 1) as SubscriptionRow[],

    /** An accepted message whose fan-out has not run yet; returns the outbox row's id. */
    insertOutbox: (topic: TopicRow, messageId: string, message: string, published: number, sequenceNumber?: string) =>
      Number(
        q.insertOutbox.run(topic.account, topic.region, topic.id, messageId, message, published, sequenceNumber ?? null).lastInsertRowid,
      ),
    deleteOutbox: (id: number) => q.deleteOutbox.run(id),
    outbox: () => q.outbox.all() as OutboxRow[],
    /** A pending http(s) delivery, due now; returns its id. */
    insertDelivery: (sub: SubscriptionRow, outgoing: string, due: number) =>
      Number(q.insertDelivery.run(sub.account, sub.region, sub.topic_id, sub.arn, outgoing, due).lastInsertRowid),
    rescheduleDelivery: (id: number, attempt: number, due: number) => q.rescheduleDelivery.run(attempt, due, id),
    deleteDelivery: (id: number) => q.deleteDelivery.run(id),
    deliveries: () => q.deliveries.all() as DeliveryRow[],
    transaction: <T>(fn: () => T): T => db.transaction(fn)(),
  };
}

/** Opaque page tokens: "sns:<id>", the id of the last row of the previous page. */

export function readPageToken(token: string | undefined): number {
  if (!token) return 0;
  const m = /^sns:(\d+)$/.exec(readToken(token) ?? '');
  if (!m) throw new AwsError('InvalidParameter', 'Invalid parameter: NextToken', 400);
  return Number(m[1]);
}

/** Splits a page of PAGE + 1 rows into the page and its NextToken. */
export const page = <T extends { id: number }>(rows: T[]) => keysetPage(rows, PAGE, (r) => `sns:${r.id}`);

/** A topic ARN's parts, or InvalidParameter with AWS's reason. */
export function parseTopicArn(arn: string | undefined, member = 'TopicArn') {
  const value = arn ?? '';
  const p = parseArn(value);
  if (!p) {
    throw new AwsError(
      'InvalidParameter',
      `Invalid parameter: ${member} Reason: An ARN must have at least 6 elements, not ${value.split(':').length}`,
      400,
    );
  }
  if (p.service !== 'sns' || !p.resource || p.resource.includes(':'))
    throw new AwsError('InvalidParameter', `Invalid parameter: ${member}`, 400);
  return p;
}
