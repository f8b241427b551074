/**
 * CloudWatch tables and statements. Metrics are keyed by account/region/namespace/name/dimensions
 * and get a surrogate id; datapoints are pre-aggregated per (metric, bucket, unit) where the bucket
 * is the second (StorageResolution 1) or the minute (60) the datapoint falls in. A bucket row keeps
 * count, sum, min and max, so a one-day query reads at most 1,440 small rows per metric whatever
 * the ingest volume; rows merge on conflict (UPSERT) and the clustered key (metric_id, ts, unit)
 * makes range reads one index walk. Percentiles need the values: each write of a bucket also
 * appends its (value, count) histogram (values.ts) as one "part" in cloudwatch_parts, merged when
 * read — appending a small blob is far cheaper than rewriting a growing one on every write. Parts
 * are keyed (metric, hour, write sequence, bucket) so one call's parts sit together on disk.
 *
 * Ingest is write-behind (writeBehind.ts): a call's buckets are journaled and held in memory until a
 * flush writes them here. Calls that keep hitting the same recent minutes (as agents do) cost one
 * write() each instead of two statements per bucket and a commit, and a flush writes each bucket
 * once for all of them. Reads overlay the pending buckets on the stored rows.
 *
 * Alarms are few and hot: they live in memory (alarms.ts) and are written through to this table.
 */
import { AwsError } from '../../core/errors.js';
import type { Store } from '../../core/store.js';
import { migrateTagTable } from '../../core/tags.js';
import type Database from 'better-sqlite3';
import { join } from 'node:path';
import { dimsKey } from './format.js';
import { bucketKey } from './units.js';
import { mergeHistograms, unavailable } from './values.js';
import { WriteBehind, type BucketWrite } from './ingest/writeBehind.js';

export type { BucketWrite };

const MIGRATIONS = [
  {
    version: 1,
    sql: `
      CREATE TABLE cloudwatch_metrics (
        id INTEGER PRIMARY KEY,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        namespace TEXT NOT NULL,
        name TEXT NOT NULL,
        dims TEXT NOT NULL,
        last_put INTEGER NOT NULL,
        UNIQUE (account, region, namespace, name, dims)
      );
      CREATE TABLE cloudwatch_points (
        metric_id INTEGER NOT NULL,
        ts INTEGER NOT NULL,
        unit TEXT NOT NULL,
        n REAL NOT NULL,
        sum REAL NOT NULL,
        min REAL NOT NULL,
        max REAL NOT NULL,
        parts INTEGER NOT NULL,
        PRIMARY KEY (metric_id, ts, unit)
      ) WITHOUT ROWID;
      CREATE TABLE cloudwatch_values (
        metric_id INTEGER NOT NULL,
        ts INTEGER NOT NULL,
        unit TEXT NOT NULL,
        part INTEGER NOT NULL,
        vals BLOB NOT NULL,
        PRIMARY KEY (metric_id, ts, unit, part)
      ) WITHOUT ROWID;
      CREATE TABLE cloudwatch_alarms (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        doc TEXT NOT NULL,
        state TEXT,
        PRIMARY KEY (account, region, name)
      );
      CREATE TABLE cloudwatch_history (
        id INTEGER PRIMARY KEY,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        alarm_name TEXT NOT NULL,
        alarm_type TEXT NOT NULL,
        ts INTEGER NOT NULL,
        item_type TEXT NOT NULL,
        summary TEXT NOT NULL,
        data TEXT NOT NULL
      );
      CREATE INDEX cloudwatch_history_by_alarm ON cloudwatch_history (account, region, alarm_name, ts);
      CREATE INDEX cloudwatch_history_by_time ON cloudwatch_history (account, region, ts);
      CREATE TABLE cloudwatch_dashboards (
        account TEXT NOT NULL,
        name TEXT NOT NULL,
        body TEXT NOT NULL,
        modified INTEGER NOT NULL,
        PRIMARY KEY (account, name)
      );
    `,
  },
  {
    // Histogram parts keyed by (metric, hour, write) instead of (metric, bucket, part): one call's
    // parts for a metric land side by side, so a commit touches a page per metric and hour, not
    // one per bucket (a call spread over an hour wrote ~600 scattered pages to the WAL).
    version: 2,
    sql: `
      CREATE TABLE cloudwatch_parts (
        metric_id INTEGER NOT NULL,
        hour INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        ts INTEGER NOT NULL,
        unit TEXT NOT NULL,
        vals BLOB NOT NULL,
        PRIMARY KEY (metric_id, hour, seq, ts, unit)
      ) WITHOUT ROWID;
      INSERT INTO cloudwatch_parts (metric_id, hour, seq, ts, unit, vals)
        SELECT metric_id, ts / 3600000, part, ts, unit, vals FROM cloudwatch_values;
      DROP TABLE cloudwatch_values;
    `,
  },
  {
    version: 3,
    sql: `CREATE TABLE cloudwatch_pending (seq INTEGER PRIMARY KEY, buckets BLOB NOT NULL);`,
  },
  {
    // the ingest log moved to a journal file (one write() per call instead of a commit); only the
    // sequence applied through stays here, updated by each flush
    version: 4,
    sql: `
      DROP TABLE cloudwatch_pending;
      CREATE TABLE cloudwatch_journal (applied_through REAL NOT NULL);
      INSERT INTO cloudwatch_journal (applied_through) VALUES (0);
    `,
  },
  {
    // alarm tags moved from the alarm document ($.tags, a [{Key, Value}] list) to core_tags, by
    // the ARN AlarmEngine.arnOf gives
    version: 5,
    sql: `
      INSERT OR REPLACE INTO core_tags (arn, key, value)
        SELECT 'arn:aws:cloudwatch:' || a.region || ':' || a.account || ':alarm:' || a.name,
               json_extract(j.value, '$.Key'), json_extract(j.value, '$.Value')
        FROM cloudwatch_alarms AS a, json_each(a.doc, '$.tags') AS j ORDER BY a.rowid, j.id;
      UPDATE cloudwatch_alarms SET doc = json_remove(doc, '$.tags') WHERE json_type(doc, '$.tags') IS NOT NULL;
    `,
  },
];

/** Flush the dirty buckets this long after the first one arrived, or sooner past these sizes. */

const HOUR = 3_600_000;

export interface MetricRow {
  id: number;
  account: string;
  region: string;
  namespace: string;
  name: string;
  /** JSON of [[Name, Value], …] sorted by Name. */
  dims: string;
  last_put: number;
}

/** One stored bucket, as read for statistics: [ts, unit, n, sum, min, max, vals?, metric_id?]. */
export type PointRow = [number, string, number, number, number, number, (Buffer | null)?, number?];

export interface HistoryRow {
  id: number;
  alarm_name: string;
  alarm_type: string;
  ts: number;
  item_type: string;
  summary: string;
  data: string;
}

export type CloudwatchStore = ReturnType<typeof createCloudwatchStore>;

interface MetricRef {
  id: number;
  touched: number;
}

interface Trie {
  next?: Map<string, Trie>;
  ref?: MetricRef;
}

export function createCloudwatchStore(store: Store) {
  migrateTagTable(store);
  store.migrate('cloudwatch', MIGRATIONS);
  const db = store.db;
  const q = {
    metricByKey: db.prepare(
      'SELECT id, last_put FROM cloudwatch_metrics WHERE account = ? AND region = ? AND namespace = ? AND name = ? AND dims = ?',
    ),
    insertMetric: db.prepare('INSERT INTO cloudwatch_metrics (account, region, namespace, name, dims, last_put) VALUES (?, ?, ?, ?, ?, ?)'),
    touchMetric: db.prepare('UPDATE cloudwatch_metrics SET last_put = ? WHERE id = ?'),
    metricsIn: db.prepare('SELECT * FROM cloudwatch_metrics WHERE account = ? AND region = ? AND namespace = ?'),
    upsertPoint: db.prepare(
      `INSERT INTO cloudwatch_points (metric_id, ts, unit, n, sum, min, max, parts) VALUES (?, ?, ?, ?, ?, ?, ?, 1)
       ON CONFLICT (metric_id, ts, unit) DO UPDATE SET n = n + excluded.n, sum = sum + excluded.sum,
         min = min(min, excluded.min), max = max(max, excluded.max), parts = parts + 1`,
    ),
    insertPart: db.prepare('INSERT INTO cloudwatch_parts (metric_id, hour, seq, ts, unit, vals) VALUES (?, ?, ?, ?, ?, ?)'),
    appliedThrough: db.prepare('SELECT applied_through FROM cloudwatch_journal').pluck(),
    setAppliedThrough: db.prepare('UPDATE cloudwatch_journal SET applied_through = ?'),
    points: db.prepare('SELECT ts, unit, n, sum, min, max FROM cloudwatch_points WHERE metric_id = ? AND ts >= ? AND ts < ?').raw(),
    values: db
      .prepare('SELECT ts, unit, vals FROM cloudwatch_parts WHERE metric_id = ? AND hour >= ? AND hour <= ? AND ts >= ? AND ts < ?')
      .raw(),
    allAlarms: db.prepare('SELECT doc, state FROM cloudwatch_alarms'),
    putState: db.prepare('UPDATE cloudwatch_alarms SET state = ? WHERE account = ? AND region = ? AND name = ?'),
    putAlarm: db.prepare('INSERT OR REPLACE INTO cloudwatch_alarms (account, region, name, doc, state) VALUES (?, ?, ?, ?, ?)'),
    deleteAlarm: db.prepare('DELETE FROM cloudwatch_alarms WHERE account = ? AND region = ? AND name = ?'),
    insertHistory: db.prepare(
      'INSERT INTO cloudwatch_history (account, region, alarm_name, alarm_type, ts, item_type, summary, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    putDashboard: db.prepare('INSERT OR REPLACE INTO cloudwatch_dashboards (account, name, body, modified) VALUES (?, ?, ?, ?)'),
    getDashboard: db.prepare('SELECT * FROM cloudwatch_dashboards WHERE account = ? AND name = ?'),
    listDashboards: db.prepare(
      'SELECT name, length(body) AS size, modified FROM cloudwatch_dashboards WHERE account = ? AND name >= ? ORDER BY name',
    ),
    deleteDashboard: db.prepare('DELETE FROM cloudwatch_dashboards WHERE account = ? AND name = ?'),
  };

  /** account|region|namespace|name|dims → id and when the row's last_put was last written. */
  const ids = new Map<string, MetricRef>();
  /**
   * account|region|namespace → a trie over [MetricName, Name₁, Value₁, …] in the caller's order, whose
   * nodes point at the shared MetricRef of `ids`: ingest finds a metric with a few Map lookups and no
   * key string. Another order of the same dimensions is another path to the same ref.
   */
  const tries = new Map<string, Trie>();
  const step = (node: Trie, k: string): Trie => {
    const next = (node.next ??= new Map());
    let n = next.get(k);
    if (!n) next.set(k, (n = {}));
    return n;
  };

  function metricRef(account: string, region: string, namespace: string, name: string, dims: string, now: number): MetricRef {
    const key = `${account}|${region}|${namespace}|${name}|${dims}`;
    const hit = ids.get(key);
    if (hit) {
      if (now - hit.touched > 60_000) {
        q.touchMetric.run(now, hit.id);
        hit.touched = now;
      }
      return hit;
    }
    const row = q.metricByKey.get(account, region, namespace, name, dims) as { id: number; last_put: number } | undefined;
    let id: number;
    if (row) {
      id = row.id;
      q.touchMetric.run(now, id);
    } else id = Number(q.insertMetric.run(account, region, namespace, name, dims, now).lastInsertRowid);
    const ref = { id, touched: now };
    ids.set(key, ref);
    return ref;
  }
  const tx = db.transaction((fn: () => unknown) => fn());

  const writeBehind = new WriteBehind(db, q, join(store.dataDir, 'cloudwatch-ingest.journal'));
  const prepared = new Map<string, Database.Statement>();
  /** Statements whose SQL depends on which filters a request uses, prepared once per shape. */
  const prep = (sql: string) => prepared.get(sql) ?? prepared.set(sql, db.prepare(sql)).get(sql)!;

  const api = {
    db,
    q,
    prep,
    /** Called after each committed bucket write (the alarm engine mirrors recent buckets). */
    onWrite: undefined as
      undefined | ((metricId: number, ts: number, unit: string, n: number, sum: number, min: number, max: number, vals: Buffer) => void),
    transaction: <T>(fn: () => T) => tx(fn) as T,
    /** Forgets the cached ids (after a rolled-back transaction that may have inserted some). */
    forgetIds() {
      ids.clear();
      tries.clear();
    },

    /**
     * For one namespace, a resolver of (name, dimensions as given on the wire) to the metric's id,
     * created on first use; last_put is refreshed at most once a minute.
     */
    metricIds(account: string, region: string, namespace: string, now: number) {
      const scopeKey = `${account}|${region}|${namespace}`;
      let root = tries.get(scopeKey);
      if (!root) tries.set(scopeKey, (root = {}));
      const top = root;
      return (name: string, dims: readonly { Name: string; Value?: string }[] | undefined): number => {
        let node = step(top, name);
        if (dims) for (let i = 0; i < dims.length; i++) node = step(step(node, dims[i].Name), dims[i].Value ?? '');
        let ref = node.ref;
        if (!ref) ref = node.ref = metricRef(account, region, namespace, name, dimsKey(dims), now);
        else if (now - ref.touched > 60_000) {
          q.touchMetric.run(now, ref.id);
          ref.touched = now;
        }
        return ref.id;
      };
    },

    /** The metric's id if it was ever put, without creating it. */
    findMetricId(account: string, region: string, namespace: string, name: string, dims: string): number | undefined {
      const hit = ids.get(`${account}|${region}|${namespace}|${name}|${dims}`);
      if (hit) return hit.id;
      return (q.metricByKey.get(account, region, namespace, name, dims) as { id: number } | undefined)?.id;
    },

    /**
     * Appends the buckets `fold` returns to the ingest journal, once any metric rows it creates are
     * committed, then merges them into the dirty buckets. Returns them.
     */
    ingest(fold: () => BucketWrite[]): BucketWrite[] {
      let rows: BucketWrite[];
      try {
        rows = tx(fold) as BucketWrite[];
      } catch (e) {
        api.forgetIds(); // ids cached during the rolled-back transaction may not exist
        throw e;
      }
      writeBehind.write(rows);
      return rows;
    },

    /** Merges the dirty buckets into the tables in one transaction, and empties the journal. */
    flush: () => writeBehind.flush(),

    close: () => writeBehind.close(),

    /** Bucket rows of [from, to); with `withValues`, each carries its merged histogram at index 6. */
    points(metricId: number, from: number, to: number, withValues: boolean): PointRow[] {
      const rows = q.points.all(metricId, from, to) as PointRow[];
      const pending = writeBehind.pending(metricId);
      if (!withValues && !pending) return rows;
      const byKey = new Map(rows.map((r) => [bucketKey(r[0], r[1]), r]));
      if (withValues) {
        const hours = [Math.floor(from / HOUR), Math.floor(Math.min(to, Number.MAX_SAFE_INTEGER) / HOUR)];
        for (const [ts, unit, vals] of q.values.iterate(metricId, ...hours, from, to) as Iterable<[number, string, Buffer]>) {
          const r = byKey.get(bucketKey(ts, unit));
          if (r) r[6] = r[6] === undefined ? vals : mergeHistograms(r[6], vals);
        }
      }
      for (const d of pending ?? []) {
        if (d.ts < from || d.ts >= to) continue;
        const vals = withValues ? (d.vals ? d.vals.encode() : unavailable()) : undefined;
        const r = byKey.get(bucketKey(d.ts, d.unit));
        if (!r) {
          rows.push([d.ts, d.unit, d.n, d.sum, d.min, d.max, vals]);
          continue;
        }
        r[2] += d.n;
        r[3] += d.sum;
        if (d.min < r[4]) r[4] = d.min;
        if (d.max > r[5]) r[5] = d.max;
        if (vals) r[6] = r[6] === undefined ? vals : mergeHistograms(r[6], vals);
      }
      return rows;
    },

    history(
      account: string,
      region: string,
      alarmName: string,
      alarmType: string,
      ts: number,
      itemType: string,
      summary: string,
      data: string,
    ) {
      q.insertHistory.run(account, region, alarmName, alarmType, ts, itemType, summary, data);
    },

    queryHistory(
      account: string,
      region: string,
      f: {
        alarmName?: string;
        types?: string[];
        itemType?: string;
        start?: number;
        end?: number;
        ascending: boolean;
        afterId?: number;
        limit: number;
      },
    ): HistoryRow[] {
      const where = ['account = ?', 'region = ?'];
      const args: unknown[] = [account, region];
      if (f.alarmName !== undefined) {
        where.push('alarm_name = ?');
        args.push(f.alarmName);
      }
      if (f.types?.length) {
        where.push(`alarm_type IN (${f.types.map(() => '?').join(', ')})`);
        args.push(...f.types);
      }
      if (f.itemType) {
        where.push('item_type = ?');
        args.push(f.itemType);
      }
      if (f.start !== undefined) {
        where.push('ts >= ?');
        args.push(f.start);
      }
      if (f.end !== undefined) {
        where.push('ts <= ?');
        args.push(f.end);
      }
      if (f.afterId !== undefined) {
        where.push(f.ascending ? 'id > ?' : 'id < ?');
        args.push(f.afterId);
      }
      const dir = f.ascending ? 'ASC' : 'DESC';
      return prep(
        `SELECT id, alarm_name, alarm_type, ts, item_type, summary, data FROM cloudwatch_history WHERE ${where.join(' AND ')} ORDER BY id ${dir} LIMIT ?`,
      ).all(...args, f.limit) as HistoryRow[];
    },

    /** @throws ResourceNotFound (404) when the dashboard does not exist. */
    requireDashboard(account: string, name: string) {
      const row = q.getDashboard.get(account, name) as { name: string; body: string; modified: number } | undefined;
      if (!row) throw new AwsError('ResourceNotFound', 'Dashboard does not exist', 404);
      return row;
    },
  };
  return api;
}
