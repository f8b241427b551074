/**
 * X-Ray tables. Segments are stored as sent (one row per segment or independent subsegment, the
 * latest document replacing an in-progress one); each trace has a row whose summary (the facts
 * GetTraceSummaries and filter expressions read) and contribution (its nodes and edges for the
 * service graph) are computed when the trace settles (settle.ts). Settled contributions are added
 * into per-minute graph buckets, so GetServiceGraph over an hour reads ~60 rows per node and edge
 * instead of every segment. xray_trace_services indexes traces by service for service() filters.
 * Every row is scoped by account and region; rows older than the retention (30 days) are deleted.
 */
import type { Store } from '../../core/store.js';
import type { Scope } from '../../core/arn.js';

export interface TraceRow {
  account: string;
  region: string;
  trace_id: string;
  start: number;
  end: number;
  updated: number;
  settled: number;
  summary: string | null;
  contrib: string | null;
}

export interface SegmentRow {
  segment_id: string;
  doc: string;
}

const MIGRATIONS = [
  {
    version: 1,
    sql: `
      CREATE TABLE xray_segments (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        trace_id TEXT NOT NULL,
        segment_id TEXT NOT NULL,
        start REAL NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (account, region, trace_id, segment_id)
      ) WITHOUT ROWID;
      CREATE INDEX xray_segments_by_start ON xray_segments (start);
      CREATE TABLE xray_traces (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        trace_id TEXT NOT NULL,
        start REAL NOT NULL,
        end REAL NOT NULL,
        updated REAL NOT NULL,
        settled INTEGER NOT NULL DEFAULT 0,
        summary TEXT,
        contrib TEXT,
        PRIMARY KEY (account, region, trace_id)
      );
      CREATE INDEX xray_traces_by_start ON xray_traces (account, region, start);
      CREATE INDEX xray_traces_unsettled ON xray_traces (updated) WHERE settled = 0;
      CREATE TABLE xray_trace_services (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        service TEXT NOT NULL,
        start REAL NOT NULL,
        trace_id TEXT NOT NULL,
        PRIMARY KEY (account, region, service, start, trace_id)
      ) WITHOUT ROWID;
      CREATE TABLE xray_graph (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        minute INTEGER NOT NULL,
        key TEXT NOT NULL,
        stats TEXT NOT NULL,
        PRIMARY KEY (account, region, minute, key)
      ) WITHOUT ROWID;
      CREATE TABLE xray_groups (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        arn TEXT NOT NULL,
        filter TEXT,
        insights INTEGER NOT NULL DEFAULT 0,
        notifications INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (account, region, name)
      );
      CREATE TABLE xray_sampling_rules (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        rule TEXT NOT NULL,
        created REAL NOT NULL,
        modified REAL NOT NULL,
        PRIMARY KEY (account, region, name)
      );
      CREATE TABLE xray_sampling_stats (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        rule TEXT NOT NULL,
        client TEXT NOT NULL,
        at REAL NOT NULL,
        requests INTEGER NOT NULL,
        sampled INTEGER NOT NULL,
        borrowed INTEGER NOT NULL,
        PRIMARY KEY (account, region, rule, client)
      );
      CREATE TABLE xray_telemetry (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        at REAL NOT NULL,
        resource TEXT,
        record TEXT NOT NULL
      );
      CREATE INDEX xray_telemetry_by_at ON xray_telemetry (at);
      CREATE TABLE xray_settings (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (account, region, name)
      );
    `,
  },
];

/** AWS keeps traces 30 days. */
export const RETENTION_S = 30 * 24 * 3600;

export type XrayStore = ReturnType<typeof createXrayStore>;

export function createXrayStore(store: Store) {
  store.migrate('xray', MIGRATIONS);
  const db = store.db;
  const q = {
    putSegment: db.prepare(
      'INSERT OR REPLACE INTO xray_segments (account, region, trace_id, segment_id, start, doc) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    touchTrace: db.prepare(
      `INSERT INTO xray_traces (account, region, trace_id, start, end, updated) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (account, region, trace_id) DO UPDATE SET
         start = MIN(start, excluded.start), end = MAX(end, excluded.end), updated = excluded.updated, settled = 0`,
    ),
    segmentsOf: db.prepare('SELECT segment_id, doc FROM xray_segments WHERE account = ? AND region = ? AND trace_id = ?'),
    trace: db.prepare('SELECT * FROM xray_traces WHERE account = ? AND region = ? AND trace_id = ?'),
    unsettled: db.prepare('SELECT * FROM xray_traces WHERE settled = 0 AND updated <= ? ORDER BY updated LIMIT ?'),
    unsettledIn: db.prepare(
      'SELECT * FROM xray_traces WHERE settled = 0 AND account = ? AND region = ? AND start < ? AND end >= ? ORDER BY updated LIMIT ?',
    ),
    settle: db.prepare(
      'UPDATE xray_traces SET settled = 1, summary = ?, contrib = ? WHERE account = ? AND region = ? AND trace_id = ? AND updated = ?',
    ),
    addService: db.prepare('INSERT OR IGNORE INTO xray_trace_services (account, region, service, start, trace_id) VALUES (?, ?, ?, ?, ?)'),
    bucket: db.prepare('SELECT stats FROM xray_graph WHERE account = ? AND region = ? AND minute = ? AND key = ?'),
    putBucket: db.prepare('INSERT OR REPLACE INTO xray_graph (account, region, minute, key, stats) VALUES (?, ?, ?, ?, ?)'),
    dropBucket: db.prepare('DELETE FROM xray_graph WHERE account = ? AND region = ? AND minute = ? AND key = ?'),
    buckets: db.prepare('SELECT minute, key, stats FROM xray_graph WHERE account = ? AND region = ? AND minute >= ? AND minute < ?'),
    tracesIn: db.prepare(
      'SELECT * FROM xray_traces WHERE account = ? AND region = ? AND start >= ? AND start < ? AND (start, trace_id) > (?, ?) ORDER BY start, trace_id LIMIT ?',
    ),
    tracesOfService: db.prepare(
      `SELECT t.* FROM xray_trace_services s JOIN xray_traces t ON t.account = s.account AND t.region = s.region AND t.trace_id = s.trace_id
       WHERE s.account = ? AND s.region = ? AND s.service = ? AND s.start >= ? AND s.start < ? AND (s.start, s.trace_id) > (?, ?)
       ORDER BY s.start, s.trace_id LIMIT ?`,
    ),
    expireSegments: db.prepare(
      `DELETE FROM xray_segments WHERE (account, region, trace_id, segment_id) IN
         (SELECT account, region, trace_id, segment_id FROM xray_segments WHERE start < ? LIMIT 5000)`,
    ),
    putTelemetry: db.prepare('INSERT INTO xray_telemetry (account, region, at, resource, record) VALUES (?, ?, ?, ?, ?)'),
    expireTelemetry: db.prepare('DELETE FROM xray_telemetry WHERE at < ?'),
    dropTrace: db.prepare('DELETE FROM xray_traces WHERE account = ? AND region = ? AND trace_id = ?'),
    expireTraces: db.prepare('DELETE FROM xray_traces WHERE end < ?'),
    expireServices: db.prepare('DELETE FROM xray_trace_services WHERE start < ?'),
    expireGraph: db.prepare('DELETE FROM xray_graph WHERE minute < ?'),
  };

  return {
    db,
    transaction: <T>(fn: () => T): T => db.transaction(fn)(),

    /** Stores one document, replacing the same id's earlier one (an in-progress segment completed). */
    putSegment(scope: Scope, traceId: string, id: string, start: number, doc: string) {
      q.putSegment.run(scope.account, scope.region, traceId, id, start, doc);
    },

    /** Widens a trace's time span to [start, end] and marks it to settle again. */
    touchTrace(scope: Scope, traceId: string, start: number, end: number, now: number) {
      q.touchTrace.run(scope.account, scope.region, traceId, start, end, now);
    },

    segmentsOf(scope: Scope, traceId: string) {
      return q.segmentsOf.all(scope.account, scope.region, traceId) as SegmentRow[];
    },

    trace(scope: Scope, traceId: string) {
      return q.trace.get(scope.account, scope.region, traceId) as TraceRow | undefined;
    },

    /** Traces (any scope) not settled since their last segment arrived at or before `before`. */
    unsettled(before: number, limit: number) {
      return q.unsettled.all(before, limit) as TraceRow[];
    },

    /** A scope's unsettled traces overlapping [from, to): queries settle them before reading. */
    unsettledIn(scope: Scope, from: number, to: number, limit: number) {
      return q.unsettledIn.all(scope.account, scope.region, to, from, limit) as TraceRow[];
    },

    /** Records a trace's summary and contribution, unless a segment arrived since it was read (then it settles again). */
    settle(row: TraceRow, summary: string, contrib: string) {
      return q.settle.run(summary, contrib, row.account, row.region, row.trace_id, row.updated).changes === 1;
    },

    putTelemetry(scope: Scope, at: number, resource: string | null, record: string) {
      q.putTelemetry.run(scope.account, scope.region, at, resource, record);
    },

    dropTrace(row: TraceRow) {
      q.dropTrace.run(row.account, row.region, row.trace_id);
    },

    addService(scope: Scope, service: string, start: number, traceId: string) {
      q.addService.run(scope.account, scope.region, service, start, traceId);
    },

    bucket(scope: Scope, minute: number, key: string) {
      return (q.bucket.get(scope.account, scope.region, minute, key) as { stats: string } | undefined)?.stats;
    },

    putBucket(scope: Scope, minute: number, key: string, stats: string | undefined) {
      if (stats === undefined) q.dropBucket.run(scope.account, scope.region, minute, key);
      else q.putBucket.run(scope.account, scope.region, minute, key, stats);
    },

    buckets(scope: Scope, fromMinute: number, toMinute: number) {
      return q.buckets.iterate(scope.account, scope.region, fromMinute, toMinute) as IterableIterator<{
        minute: number;
        key: string;
        stats: string;
      }>;
    },

    /** Traces starting in [from, to) after the cursor (start, trace id), in start order. */
    tracesIn(scope: Scope, from: number, to: number, after: [number, string], limit: number) {
      return q.tracesIn.all(scope.account, scope.region, from, to, after[0], after[1], limit) as TraceRow[];
    },

    tracesOfService(scope: Scope, service: string, from: number, to: number, after: [number, string], limit: number) {
      return q.tracesOfService.all(scope.account, scope.region, service, from, to, after[0], after[1], limit) as TraceRow[];
    },

    /** Deletes what is older than the retention; returns whether there may be more. */
    expire(nowS: number) {
      const floor = nowS - RETENTION_S;
      const segs = q.expireSegments.run(floor).changes;
      q.expireTraces.run(floor);
      q.expireServices.run(floor);
      q.expireGraph.run(Math.floor(floor / 60));
      q.expireTelemetry.run(floor);
      return segs >= 5000;
    },
  };
}
