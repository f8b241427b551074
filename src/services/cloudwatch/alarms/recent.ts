/**
 * The recent buckets of the metrics alarms watch, kept in memory so the minute tick does not read
 * SQLite at all (reading 50,000 rows costs more than evaluating 10,000 alarms). An entry is loaded
 * from the store the first time an alarm needs a window of that metric, then every write the store
 * commits for a watched metric is merged in exactly as the UPSERT merges it; rows older than what
 * any alarm still needs are pruned at each tick.
 */
import type { CloudwatchStore, PointRow } from '../store.js';
import { mergeHistograms } from '../values.js';

interface Entry {
  /** Earliest bucket the entry holds completely. */
  from: number;
  /** `${ts}|${unit}` → row. */
  rows: Map<string, PointRow>;
}

export class RecentPoints {
  private entries = new Map<number, Entry>();

  constructor(private store: CloudwatchStore) {
    store.onWrite = (metricId, ts, unit, n, sum, min, max, vals) => {
      const e = this.entries.get(metricId);
      if (!e || ts < e.from) return;
      const k = `${ts}|${unit}`;
      const r = e.rows.get(k);
      if (!r) e.rows.set(k, [ts, unit, n, sum, min, max, vals]);
      else {
        r[2] += n;
        r[3] += sum;
        if (min < r[4]) r[4] = min;
        if (max > r[5]) r[5] = max;
        r[6] = mergeHistograms(r[6] ?? null, vals);
      }
    };
  }

  /** The rows of [from, to), from memory (loaded once per metric and window start). */
  points(metricId: number, from: number, to: number): PointRow[] {
    let e = this.entries.get(metricId);
    if (!e || e.from > from) {
      const rows = this.store.points(metricId, from, Number.MAX_SAFE_INTEGER, true);
      e = { from, rows: new Map(rows.map((r) => [`${r[0]}|${r[1]}`, r])) };
      this.entries.set(metricId, e);
    }
    const out: PointRow[] = [];
    for (const r of e.rows.values()) if (r[0] >= from && r[0] < to) out.push(r);
    return out;
  }

  /** Drops rows before `keepFrom` of each metric (the tick passes what its alarms still need). */
  prune(keepFrom: Map<number, number>) {
    for (const [id, e] of this.entries) {
      const from = keepFrom.get(id);
      if (from === undefined) {
        this.entries.delete(id);
        continue;
      }
      for (const [k, r] of e.rows) if (r[0] < from) e.rows.delete(k);
      e.from = Math.max(e.from, from);
    }
  }
}
