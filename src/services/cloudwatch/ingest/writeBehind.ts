/**
 * CloudWatch's write-behind ingest (see ../store.ts for the tables). A call's folded buckets are
 * appended as one record to the ingest journal (core/journal.ts, so an acknowledged write survives
 * kill -9) and merged into the dirty buckets in memory; a flush merges them into cloudwatch_points
 * and cloudwatch_parts in one transaction that also records the journal sequence it applied
 * through, then empties the journal. Reads overlay pending() on the stored rows; the journal is
 * replayed when the buffer is created.
 */
import type Database from 'better-sqlite3';
import { Journal } from '../../../core/journal.js';
import { log } from '../../../core/log.js';
import { bucketKey } from '../units.js';
import { decode, unavailable, ValueCounts } from '../values.js';

const FLUSH_AFTER_MS = 1000;
const FLUSH_BUCKETS = 20_000;
const FLUSH_PAIRS = 500_000;
const HOUR = 3_600_000;

export interface BucketWrite {
  metricId: number;
  ts: number;
  unit: string;
  n: number;
  sum: number;
  min: number;
  max: number;
  vals: Buffer;
}

/** A bucket acknowledged but not flushed yet: its aggregate so far, its histogram being built (null: unavailable). */
export type DirtyBucket = Omit<BucketWrite, 'vals'> & { vals: ValueCounts | null };

/**
 * The ingest journal's record: per bucket, metricId, ts, n, sum, min and max as float64, the unit (a length
 * byte and UTF-8) and the histogram (a uint32 byte length and its float64 pairs).
 */
function encodeBuckets(rows: readonly BucketWrite[]): Buffer {
  let size = 0;
  for (const r of rows) size += 53 + r.unit.length * 3 + r.vals.length;
  const b = Buffer.allocUnsafe(size);
  let o = 0;
  for (const r of rows) {
    o = b.writeDoubleLE(r.metricId, o);
    o = b.writeDoubleLE(r.ts, o);
    o = b.writeDoubleLE(r.n, o);
    o = b.writeDoubleLE(r.sum, o);
    o = b.writeDoubleLE(r.min, o);
    o = b.writeDoubleLE(r.max, o);
    const len = b.write(r.unit, o + 1, 'utf8');
    b[o] = len;
    o = b.writeUInt32LE(r.vals.length, o + 1 + len);
    o += r.vals.copy(b, o);
  }
  return b.subarray(0, o);
}

function decodeBuckets(b: Buffer): BucketWrite[] {
  const out: BucketWrite[] = [];
  for (let o = 0; o < b.length;) {
    const r = {
      metricId: b.readDoubleLE(o),
      ts: b.readDoubleLE(o + 8),
      n: b.readDoubleLE(o + 16),
      sum: b.readDoubleLE(o + 24),
      min: b.readDoubleLE(o + 32),
      max: b.readDoubleLE(o + 40),
    };
    const len = b[o + 48];
    const unit = b.toString('utf8', o + 49, o + 49 + len);
    const size = b.readUInt32LE(o + 49 + len);
    o += 53 + len;
    out.push({ ...r, unit, vals: b.subarray(o, o + size) });
    o += size;
  }
  return out;
}

/** The statements a flush runs (store.ts prepares them). */
export interface FlushStatements {
  upsertPoint: Database.Statement;
  insertPart: Database.Statement;
  appliedThrough: Database.Statement;
  setAppliedThrough: Database.Statement;
}

export class WriteBehind {
  /** metric id → bucketKey → the bucket's writes not flushed yet. */
  private readonly dirty = new Map<number, Map<number | string, DirtyBucket>>();
  private dirtyBuckets = 0;
  private dirtyPairs = 0;
  private readonly journal: Journal;
  /** The last journal record merged into `dirty` (0: nothing dirty). */
  private loggedThrough = 0;
  private flushTimer: NodeJS.Timeout | undefined;
  /**
   * Write sequence of a flush, the `seq` of its histogram parts: increasing, and unique across
   * restarts as long as the wall clock does not step back (it starts at Date.now() × 1000).
   */
  private writeSeq = Date.now() * 1000;
  private readonly tx: (fn: () => void) => void;

  constructor(
    db: Database.Database,
    private readonly q: FlushStatements,
    journalPath: string,
  ) {
    this.tx = db.transaction((fn: () => void) => fn());
    this.journal = new Journal(journalPath);
    // what the last run acknowledged but did not flush
    for (const [seq, buckets] of this.journal.replay(q.appliedThrough.get() as number)) this.absorb(decodeBuckets(buckets), seq);
    this.flush();
  }

  /** Journals a call's buckets (durable when this returns), then merges them into the dirty ones. */
  write(rows: readonly BucketWrite[]) {
    this.absorb(rows, this.journal.append(encodeBuckets(rows)));
  }

  /** The buckets of a metric acknowledged but not flushed yet. */
  pending(metricId: number): Iterable<DirtyBucket> | undefined {
    return this.dirty.get(metricId)?.values();
  }

  private absorb(rows: readonly BucketWrite[], seq: number) {
    for (const r of rows) {
      let byKey = this.dirty.get(r.metricId);
      if (!byKey) this.dirty.set(r.metricId, (byKey = new Map()));
      const key = bucketKey(r.ts, r.unit);
      let d = byKey.get(key);
      if (!d) {
        byKey.set(
          key,
          (d = { metricId: r.metricId, ts: r.ts, unit: r.unit, n: 0, sum: 0, min: Infinity, max: -Infinity, vals: new ValueCounts() }),
        );
        this.dirtyBuckets++;
      }
      d.n += r.n;
      d.sum += r.sum;
      if (r.min < d.min) d.min = r.min;
      if (r.max > d.max) d.max = r.max;
      const pairs = decode(r.vals);
      if (!pairs) d.vals = null;
      else if (d.vals) {
        const before = d.vals.size;
        d.vals.addPairs(pairs);
        this.dirtyPairs += d.vals.size - before;
      }
    }
    this.loggedThrough = seq;
    if (this.dirtyBuckets > FLUSH_BUCKETS || this.dirtyPairs > FLUSH_PAIRS) this.flushOrRetry();
    else if (!this.flushTimer && this.dirtyBuckets > 0) this.flushTimer = setTimeout(() => this.flushOrRetry(), FLUSH_AFTER_MS).unref();
  }

  /** A failed flush (the disk full, say) loses nothing: the buckets stay dirty and journaled, and it is tried again. */
  private flushOrRetry() {
    try {
      this.flush();
    } catch (err) {
      log.error('cloudwatch: writing ingested datapoints to the store failed; retrying', { err: String(err) });
      this.flushTimer ??= setTimeout(() => this.flushOrRetry(), FLUSH_AFTER_MS).unref();
    }
  }

  /** Merges the dirty buckets into the tables in one transaction, and empties the journal. */
  flush() {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.loggedThrough === 0) return;
    const write = ++this.writeSeq;
    const { q } = this;
    this.tx(() => {
      for (const byKey of this.dirty.values())
        for (const d of byKey.values()) {
          q.upsertPoint.run(d.metricId, d.ts, d.unit, d.n, d.sum, d.min, d.max);
          q.insertPart.run(d.metricId, Math.floor(d.ts / HOUR), write, d.ts, d.unit, d.vals ? d.vals.encode() : unavailable());
        }
      q.setAppliedThrough.run(this.loggedThrough);
    });
    this.dirty.clear();
    this.dirtyBuckets = this.dirtyPairs = 0;
    this.loggedThrough = 0;
    // records left behind if this fails are at or below applied_through: replay skips them
    this.journal.clear();
  }

  close() {
    this.flush();
    clearTimeout(this.flushTimer);
    this.journal.close();
  }
}
