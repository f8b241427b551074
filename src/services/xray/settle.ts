/**
 * Settling: a trace whose segments changed is recomputed (trace.ts) and its contribution to the
 * per-minute graph buckets replaced (the earlier one taken off, the new one added), in one
 * transaction per run. A timer settles traces quiet for a moment; a query first settles the
 * unsettled traces in its time range, so what was acknowledged is what every query sees.
 */
import type { Scope } from '../../core/arn.js';
import { addStats, emptyStats, type Stats } from './graph.js';
import type { SegmentDoc } from './segments.js';
import type { TraceRow, XrayStore } from './store.js';
import { computeTrace, type TraceFacts } from './trace.js';

/** What a settled trace added to the graph: its minute and node/edge statistics. */
export interface Contribution {
  m: number;
  s: Record<string, Stats>;
}

/** Traces settled per transaction. */
const BATCH = 500;

export function createSettler(store: XrayStore) {
  function settleRows(rows: TraceRow[]) {
    if (rows.length === 0) return 0;
    // bucket deltas of the whole run, written once per (scope, minute, key)
    const deltas = new Map<string, { scope: Scope; minute: number; key: string; stats: Stats }>();
    const delta = (scope: Scope, c: Contribution, sign: number) => {
      for (const [key, s] of Object.entries(c.s)) {
        const id = `${scope.account}/${scope.region}/${c.m}/${key}`;
        const d = deltas.get(id) ?? deltas.set(id, { scope, minute: c.m, key, stats: emptyStats() }).get(id)!;
        addStats(d.stats, s, sign);
      }
    };
    let settled = 0;
    store.transaction(() => {
      for (const row of rows) {
        const scope = { account: row.account, region: row.region };
        const docs = store.segmentsOf(scope, row.trace_id).map((r) => JSON.parse(r.doc) as SegmentDoc);
        if (docs.length === 0) {
          store.dropTrace(row);
          continue;
        }
        const { facts, stats, services } = computeTrace(row.trace_id, docs);
        const contrib: Contribution = { m: Math.floor(facts.start / 60), s: stats };
        if (!store.settle(row, JSON.stringify(facts), JSON.stringify(contrib))) continue;
        settled++;
        if (row.contrib) delta(scope, JSON.parse(row.contrib) as Contribution, -1);
        delta(scope, contrib, 1);
        for (const name of services) store.addService(scope, name, row.start, row.trace_id);
      }
      for (const d of deltas.values()) {
        const old = store.bucket(d.scope, d.minute, d.key);
        const s = old ? (JSON.parse(old) as Stats) : emptyStats();
        addStats(s, d.stats);
        store.putBucket(d.scope, d.minute, d.key, s.total > 0 ? JSON.stringify(s) : undefined);
      }
    });
    return settled;
  }

  return {
    /** Settles traces whose last segment came at or before `quietSince`; returns how many. */
    settleQuiet(quietSince: number) {
      let total = 0;
      for (;;) {
        const rows = store.unsettled(quietSince, BATCH);
        total += settleRows(rows);
        if (rows.length < BATCH) return total;
      }
    },

    /** Settles a scope's traces overlapping [from, to) before a query reads them. */
    settleRange(scope: Scope, from: number, to: number) {
      for (;;) {
        const rows = store.unsettledIn(scope, from, to, BATCH);
        settleRows(rows);
        if (rows.length < BATCH) return;
      }
    },
  };
}

export type Settler = ReturnType<typeof createSettler>;

/** A settled trace's facts (summary column). */
export const factsOf = (row: TraceRow) => JSON.parse(row.summary!) as TraceFacts;
