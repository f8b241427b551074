/**
 * CloudWatch Logs tables and queries. Groups and streams are scoped by account and region; events
 * hang off their stream (and group, for group-wide scans) by surrogate id, so an event row is as
 * scoped as the group it belongs to. Events are ordered by (timestamp, id): `id` is the insertion
 * sequence and breaks ties, and both indexes below end in the rowid so that order is index order.
 * Every statement is prepared once here; requireX() helpers throw AWS's error for a missing resource.
 */
import { AwsError } from '../../core/errors.js';
import type { Store } from '../../core/store.js';
import type Database from 'better-sqlite3';
import type { Scope } from '../../core/arn.js';
import { moveTagColumnSql } from '../../core/tags.js';

export interface GroupRow {
  id: number;
  account: string;
  region: string;
  name: string;
  created: number;
  retention: number | null;
  class: string;
  kms: string | null;
  stored_bytes: number;
}

export interface StreamRow {
  id: number;
  group_id: number;
  name: string;
  created: number;
  first_ts: number | null;
  last_ts: number | null;
  last_ingest: number | null;
  seq: number;
  stored_bytes: number;
}

export interface EventRow {
  id: number;
  stream_id: number;
  ts: number;
  ingested: number;
  message: string;
}

const MIGRATIONS = [
  {
    version: 1,
    sql: `
      CREATE TABLE logs_groups (
        id INTEGER PRIMARY KEY,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        created INTEGER NOT NULL,
        retention INTEGER,
        class TEXT NOT NULL DEFAULT 'STANDARD',
        kms TEXT,
        tags TEXT NOT NULL DEFAULT '{}',
        stored_bytes INTEGER NOT NULL DEFAULT 0,
        UNIQUE (account, region, name)
      );
      CREATE TABLE logs_streams (
        id INTEGER PRIMARY KEY,
        group_id INTEGER NOT NULL,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        created INTEGER NOT NULL,
        first_ts INTEGER,
        last_ts INTEGER,
        last_ingest INTEGER,
        seq INTEGER NOT NULL DEFAULT 0,
        stored_bytes INTEGER NOT NULL DEFAULT 0,
        UNIQUE (group_id, name)
      );
      CREATE TABLE logs_events (
        id INTEGER PRIMARY KEY,
        stream_id INTEGER NOT NULL,
        group_id INTEGER NOT NULL,
        ts INTEGER NOT NULL,
        ingested INTEGER NOT NULL,
        message TEXT NOT NULL
      );
      CREATE INDEX logs_events_by_stream ON logs_events (stream_id, ts);
      CREATE INDEX logs_events_by_group ON logs_events (group_id, ts);
    `,
  },
  { version: 2, sql: moveTagColumnSql('logs_groups', "'arn:aws:logs:' || region || ':' || account || ':log-group:' || name", 'map') },
  // metric and subscription filters (filterStore.ts) go with their group; export tasks outlive it
  {
    version: 3,
    sql: `
      CREATE TABLE logs_metric_filters (
        group_id INTEGER NOT NULL REFERENCES logs_groups (id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        pattern TEXT NOT NULL,
        transformations TEXT NOT NULL,
        created INTEGER NOT NULL,
        PRIMARY KEY (group_id, name)
      );
      CREATE TABLE logs_subscription_filters (
        group_id INTEGER NOT NULL REFERENCES logs_groups (id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        pattern TEXT NOT NULL,
        destination TEXT NOT NULL,
        role TEXT,
        distribution TEXT NOT NULL,
        created INTEGER NOT NULL,
        PRIMARY KEY (group_id, name)
      );
      CREATE TABLE logs_export_tasks (
        task_id TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT,
        group_name TEXT NOT NULL,
        stream_prefix TEXT,
        from_ts INTEGER NOT NULL,
        to_ts INTEGER NOT NULL,
        bucket TEXT NOT NULL,
        prefix TEXT NOT NULL,
        status TEXT NOT NULL,
        message TEXT,
        created INTEGER NOT NULL,
        completed INTEGER
      );
      CREATE INDEX logs_export_tasks_by_scope ON logs_export_tasks (account, region, created);
    `,
  },
  // Logs Insights queries and saved query definitions (queries.ts)
  {
    version: 4,
    sql: `
      CREATE TABLE logs_queries (
        id TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        groups TEXT NOT NULL,
        query TEXT NOT NULL,
        start_ms INTEGER NOT NULL,
        end_ms INTEGER NOT NULL,
        lim INTEGER,
        status TEXT NOT NULL,
        created INTEGER NOT NULL,
        finished INTEGER,
        results TEXT,
        stats TEXT
      );
      CREATE INDEX logs_queries_by_scope ON logs_queries (account, region, created);
      CREATE TABLE logs_query_definitions (
        id TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        query TEXT NOT NULL,
        groups TEXT NOT NULL,
        modified INTEGER NOT NULL
      );
      CREATE INDEX logs_query_definitions_by_scope ON logs_query_definitions (account, region, name);
    `,
  },
];

/** Rows per multi-row INSERT in PutLogEvents. */
const CHUNK = 50;

/** Position of an event in (timestamp, id) order; tokens and cursors encode one. */
export interface Position {
  ts: number;
  id: number;
}

export type LogsStore = ReturnType<typeof createLogsStore>;

export function createLogsStore(store: Store) {
  store.migrate('logs', MIGRATIONS);
  const db = store.db;
  const q = {
    groupByName: db.prepare('SELECT * FROM logs_groups WHERE account = ? AND region = ? AND name = ?'),
    insertGroup: db.prepare('INSERT INTO logs_groups (account, region, name, created, class, kms) VALUES (?, ?, ?, ?, ?, ?)'),
    deleteGroup: db.prepare('DELETE FROM logs_groups WHERE id = ?'),
    deleteGroupStreams: db.prepare('DELETE FROM logs_streams WHERE group_id = ?'),
    deleteGroupEvents: db.prepare('DELETE FROM logs_events WHERE group_id = ?'),
    setRetention: db.prepare('UPDATE logs_groups SET retention = ? WHERE id = ?'),
    addGroupBytes: db.prepare('UPDATE logs_groups SET stored_bytes = stored_bytes + ? WHERE id = ?'),
    streamByName: db.prepare('SELECT * FROM logs_streams WHERE group_id = ? AND name = ?'),
    streamNames: db.prepare('SELECT id, name FROM logs_streams WHERE group_id = ?'),
    insertStream: db.prepare('INSERT INTO logs_streams (group_id, account, region, name, created) VALUES (?, ?, ?, ?, ?)'),
    deleteStream: db.prepare('DELETE FROM logs_streams WHERE id = ?'),
    deleteStreamEvents: db.prepare('DELETE FROM logs_events WHERE stream_id = ?'),
    insertEvent: db.prepare('INSERT INTO logs_events (stream_id, group_id, ts, ingested, message) VALUES (?, ?, ?, ?, ?)'),
    insertEvents: db.prepare(
      `INSERT INTO logs_events (stream_id, group_id, ts, ingested, message) VALUES ${Array(CHUNK).fill('(?, ?, ?, ?, ?)').join(', ')}`,
    ),
    // one UPDATE per batch keeps the stream's summary (first/last event, sequence token) current
    touchStream: db.prepare(
      `UPDATE logs_streams SET
         first_ts = CASE WHEN first_ts IS NULL OR ? < first_ts THEN ? ELSE first_ts END,
         last_ts = CASE WHEN last_ts IS NULL OR ? > last_ts THEN ? ELSE last_ts END,
         last_ingest = ?, seq = seq + 1, stored_bytes = stored_bytes + ?
       WHERE id = ? RETURNING seq`,
    ),
    bumpSeq: db.prepare('UPDATE logs_streams SET seq = seq + 1 WHERE id = ? RETURNING seq'),
    streamForward: db.prepare(
      `SELECT id, ts, ingested, message FROM logs_events
       WHERE stream_id = ? AND (ts, id) > (?, ?) AND ts >= ? AND ts < ? ORDER BY ts, id`,
    ),
    streamBackward: db.prepare(
      `SELECT id, ts, ingested, message FROM logs_events
       WHERE stream_id = ? AND (ts, id) < (?, ?) AND ts >= ? AND ts < ? ORDER BY ts DESC, id DESC`,
    ),
    streamForwardWithStream: db.prepare(
      `SELECT id, stream_id, ts, ingested, message FROM logs_events
       WHERE stream_id = ? AND (ts, id) > (?, ?) AND ts >= ? AND ts <= ? ORDER BY ts, id`,
    ),
    groupChunk: db.prepare(
      `SELECT id, stream_id, ts, ingested, message FROM logs_events
       WHERE group_id = ? AND (ts, id) > (?, ?) AND ts >= ? AND ts <= ? ORDER BY ts, id LIMIT ?`,
    ),
    groupForward: db.prepare(
      `SELECT id, stream_id, ts, ingested, message FROM logs_events
       WHERE group_id = ? AND (ts, id) > (?, ?) AND ts >= ? AND ts <= ? ORDER BY ts, id`,
    ),
  };

  // listings build their WHERE from the filters given; each variant is prepared once
  const listings = new Map<string, Database.Statement>();
  const listing = (sql: string) => listings.get(sql) ?? listings.set(sql, db.prepare(sql)).get(sql)!;

  const put = db.transaction(
    (
      group: GroupRow,
      stream: StreamRow,
      events: { timestamp: number; message: string }[],
      from: number,
      to: number,
      now: number,
      bytes: number,
    ) => {
      // CHUNK rows per statement call: crossing from JS into SQLite once per row costs more than the insert
      let i = from;
      const args = new Array(CHUNK * 5);
      for (; i + CHUNK <= to; i += CHUNK) {
        for (let j = 0, o = 0; j < CHUNK; j++, o += 5) {
          const e = events[i + j];
          args[o] = stream.id;
          args[o + 1] = group.id;
          args[o + 2] = e.timestamp;
          args[o + 3] = now;
          args[o + 4] = e.message;
        }
        q.insertEvents.run(args);
      }
      for (; i < to; i++) q.insertEvent.run(stream.id, group.id, events[i].timestamp, now, events[i].message);
      if (from >= to) return (q.bumpSeq.get(stream.id) as { seq: number }).seq;
      const first = events[from].timestamp;
      const last = events[to - 1].timestamp;
      q.addGroupBytes.run(bytes, group.id);
      return (q.touchStream.get(first, first, last, last, now, bytes, stream.id) as { seq: number }).seq;
    },
  );

  return {
    db,

    findGroup(scope: Scope, name: string) {
      return q.groupByName.get(scope.account, scope.region, name) as GroupRow | undefined;
    },

    /** ResourceNotFoundException "The specified log group does not exist." */
    requireGroup(scope: Scope, name: string): GroupRow {
      const g = this.findGroup(scope, name);
      if (!g) throw new AwsError('ResourceNotFoundException', 'The specified log group does not exist.', 400);
      return g;
    },

    createGroup(scope: Scope, name: string, created: number, cls: string, kms: string | undefined) {
      q.insertGroup.run(scope.account, scope.region, name, created, cls, kms ?? null);
    },

    /** Runs `fn` in one transaction (a group and its tags change together). */
    transaction: <T>(fn: () => T): T => db.transaction(fn)(),

    deleteGroup: db.transaction((id: number) => {
      q.deleteGroupEvents.run(id);
      q.deleteGroupStreams.run(id);
      q.deleteGroup.run(id);
    }),

    setRetention(id: number, days: number | null) {
      q.setRetention.run(days, id);
    },

    /** Groups of a scope in name order after `after`, with optional prefix / substring / class filters. */
    listGroups(scope: Scope, opts: { after?: string; prefix?: string; pattern?: string; cls?: string; limit: number }) {
      const where = ['account = ?', 'region = ?'];
      const args: unknown[] = [scope.account, scope.region];
      if (opts.after !== undefined) {
        where.push('name > ?');
        args.push(opts.after);
      }
      if (opts.prefix) {
        where.push('substr(name, 1, ?) = ?');
        args.push(opts.prefix.length, opts.prefix);
      }
      if (opts.pattern) {
        where.push('instr(lower(name), lower(?)) > 0');
        args.push(opts.pattern);
      }
      if (opts.cls) {
        where.push('class = ?');
        args.push(opts.cls);
      }
      args.push(opts.limit + 1);
      return listing(`SELECT * FROM logs_groups WHERE ${where.join(' AND ')} ORDER BY name LIMIT ?`).all(...args) as GroupRow[];
    },

    findStream(group: GroupRow, name: string) {
      return q.streamByName.get(group.id, name) as StreamRow | undefined;
    },

    /** ResourceNotFoundException "The specified log stream does not exist." */
    requireStream(group: GroupRow, name: string): StreamRow {
      const s = this.findStream(group, name);
      if (!s) throw new AwsError('ResourceNotFoundException', 'The specified log stream does not exist.', 400);
      return s;
    },

    createStream(group: GroupRow, name: string, created: number) {
      q.insertStream.run(group.id, group.account, group.region, name, created);
    },

    deleteStream: db.transaction((id: number) => {
      q.deleteStreamEvents.run(id);
      q.deleteStream.run(id);
    }),

    /** Stream id → name for every stream of a group. */
    streamNames(group: GroupRow) {
      const m = new Map<number, string>();
      for (const r of q.streamNames.all(group.id) as { id: number; name: string }[]) m.set(r.id, r.name);
      return m;
    },

    /**
     * Streams of a group. by 'name': keyset on name. by 'last': keyset on (COALESCE(last_ts, 0), name).
     * `after` is the key of the last row of the previous page.
     */
    listStreams(
      group: GroupRow,
      opts: { by: 'name' | 'last'; desc: boolean; prefix?: string; after?: [number, string] | string; limit: number },
    ) {
      const where = ['group_id = ?'];
      const args: unknown[] = [group.id];
      const cmp = opts.desc ? '<' : '>';
      const dir = opts.desc ? 'DESC' : 'ASC';
      if (opts.prefix) {
        where.push('substr(name, 1, ?) = ?');
        args.push(opts.prefix.length, opts.prefix);
      }
      let order: string;
      if (opts.by === 'name') {
        if (opts.after !== undefined) {
          where.push(`name ${cmp} ?`);
          args.push(opts.after);
        }
        order = `name ${dir}`;
      } else {
        if (opts.after !== undefined) {
          where.push(`(COALESCE(last_ts, 0), name) ${cmp} (?, ?)`);
          args.push(...(opts.after as [number, string]));
        }
        order = `COALESCE(last_ts, 0) ${dir}, name ${dir}`;
      }
      args.push(opts.limit + 1);
      return listing(`SELECT * FROM logs_streams WHERE ${where.join(' AND ')} ORDER BY ${order} LIMIT ?`).all(...args) as StreamRow[];
    },

    /**
     * Inserts events[from, to) in one transaction and returns the stream's new sequence number.
     * `events` must already be checked (chronological, within limits).
     */
    putEvents(
      group: GroupRow,
      stream: StreamRow,
      events: { timestamp: number; message: string }[],
      from: number,
      to: number,
      now: number,
      bytes: number,
    ): number {
      return put(group, stream, events, from, to, now, bytes);
    },

    /** Events of a stream after `pos` (exclusive) in [lo, hi), ascending. */
    streamForward(stream: StreamRow, pos: Position, lo: number, hi: number) {
      return q.streamForward.iterate(stream.id, pos.ts, pos.id, lo, hi) as IterableIterator<EventRow>;
    },

    /** Events of one stream after `pos` (exclusive) in [lo, hi] (inclusive), ascending: FilterLogEvents on a single stream. */
    oneStreamForward(streamId: number, pos: Position, lo: number, hi: number) {
      return q.streamForwardWithStream.iterate(streamId, pos.ts, pos.id, lo, hi) as IterableIterator<EventRow>;
    },

    /** Events of a stream before `pos` (exclusive) in [lo, hi), descending. */
    streamBackward(stream: StreamRow, pos: Position, lo: number, hi: number) {
      return q.streamBackward.iterate(stream.id, pos.ts, pos.id, lo, hi) as IterableIterator<EventRow>;
    },

    /**
     * At most `limit` events of a group after `pos` in [lo, hi], ascending: a query reads a group in
     * such chunks, so it never holds the connection (or the whole group) between turns of the event loop.
     */
    groupChunk(groupId: number, pos: Position, lo: number, hi: number, limit: number) {
      return q.groupChunk.all(groupId, pos.ts, pos.id, lo, hi, limit) as EventRow[];
    },

    /** Events of every stream of a group after `pos` (exclusive) in [lo, hi] (inclusive), ascending. */
    groupForward(group: GroupRow, pos: Position, lo: number, hi: number) {
      return q.groupForward.iterate(group.id, pos.ts, pos.id, lo, hi) as IterableIterator<EventRow>;
    },
  };
}
