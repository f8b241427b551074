/**
 * GetServiceGraph and GetTimeSeriesServiceStatistics. Without a group (or with the Default group)
 * both read the per-minute buckets the settled traces added up (settle.ts): an hour is ~60 rows per
 * node and edge however many segments it held. A group with a filter expression reads the traces of
 * the window instead and adds up the contributions of those its expression matches.
 */
import type { Scope } from '../../core/arn.js';
import type { TimeSeriesServiceStatisticsOut, XrayHandlers } from './api.generated.js';
import { FilterExpressionError, parseFilterExpression, type Node } from './filterExpression.js';
import { addStats, emptyStats, entityOf, histogram, renderGraph, SEP2, summary, type Stats } from './graph.js';
import { invalidRequest, type Groups } from './groups.js';
import { factsOf, type Contribution, type Settler } from './settle.js';
import type { XrayStore } from './store.js';

type Minutes = Map<number, Map<string, Stats>>;

export function serviceGraphHandlers(store: XrayStore, settler: Settler, groups: Groups): XrayHandlers {
  /** Node and edge statistics per minute in [from, to) seconds, for every trace or a group's. */
  function minutes(scope: Scope, from: number, to: number, group?: { name?: string; arn?: string }): Minutes {
    settler.settleRange(scope, from, to);
    const filter = groups.groupFilter(scope, group?.name, group?.arn);
    const out: Minutes = new Map();
    const add = (m: number, key: string, s: Stats) => {
      const byKey = out.get(m) ?? out.set(m, new Map()).get(m)!;
      addStats(byKey.get(key) ?? byKey.set(key, emptyStats()).get(key)!, s);
    };
    if (!filter) {
      for (const b of store.buckets(scope, Math.floor(from / 60), Math.ceil(to / 60))) add(b.minute, b.key, JSON.parse(b.stats) as Stats);
      return out;
    }
    let after: [number, string] = [-Infinity, ''];
    for (;;) {
      const rows = store.tracesIn(scope, from, to, after, 1000);
      for (const row of rows) {
        after = [row.start, row.trace_id];
        if (!row.summary || !row.contrib || !filter.test(factsOf(row))) continue;
        const c = JSON.parse(row.contrib) as Contribution;
        for (const [k, s] of Object.entries(c.s)) add(c.m, k, s);
      }
      if (rows.length < 1000) return out;
    }
  }

  function selector(src: string | undefined): Node | undefined {
    if (src === undefined) return undefined;
    try {
      const n = parseFilterExpression(src);
      if (n.kind !== 'service' && n.kind !== 'edge')
        throw new FilterExpressionError('An entity selector is a service(), id() or edge() expression');
      return n;
    } catch (e) {
      if (e instanceof FilterExpressionError) throw invalidRequest(`Invalid entity selector expression: ${e.message}`);
      throw e;
    }
  }

  return {
    GetServiceGraph(input, ctx) {
      const from = input.StartTime.getTime() / 1000;
      const to = input.EndTime.getTime() / 1000;
      if (to < from) throw invalidRequest('StartTime must be before EndTime');
      const total = new Map<string, Stats>();
      for (const byKey of minutes(ctx, from, to, { name: input.GroupName, arn: input.GroupARN }).values())
        for (const [k, s] of byKey) addStats(total.get(k) ?? total.set(k, emptyStats()).get(k)!, s);
      return {
        StartTime: input.StartTime,
        EndTime: input.EndTime,
        Services: renderGraph(total, input.StartTime, input.EndTime, ctx.account),
        ContainsOldGroupVersions: false,
      };
    },

    GetTimeSeriesServiceStatistics(input, ctx) {
      const from = input.StartTime.getTime() / 1000;
      const to = input.EndTime.getTime() / 1000;
      const period = input.Period ?? 60;
      if (period % 60 !== 0 || period <= 0) throw invalidRequest('Period must be a multiple of 60 seconds');
      if (to < from) throw invalidRequest('StartTime must be before EndTime');
      const sel = selector(input.EntitySelectorExpression);
      const wanted = (key: string) => {
        if (key[0] === 'n') {
          if (sel?.kind !== 'service') return false;
          const e = entityOf(key);
          return (sel.name === undefined || e.name === sel.name) && (sel.type === undefined || e.type === sel.type);
        }
        const [a, b] = key.slice(2).split(SEP2).map(entityOf);
        if (sel === undefined) return a.type === 'client';
        return sel.kind === 'edge' && a.name === sel.from && b.name === sel.to;
      };
      const periods = new Map<number, Stats>();
      for (const [m, byKey] of minutes(ctx, from, to, { name: input.GroupName, arn: input.GroupARN }))
        for (const [k, s] of byKey) {
          if (!wanted(k)) continue;
          const p = Math.floor((m * 60) / period) * period;
          addStats(periods.get(p) ?? periods.set(p, emptyStats()).get(p)!, s);
        }
      const series: TimeSeriesServiceStatisticsOut[] = [...periods.entries()]
        .sort((a, b) => a[0] - b[0])
        .map(([p, s]) => ({
          Timestamp: new Date(p * 1000),
          ...(sel?.kind === 'service' ? { ServiceSummaryStatistics: summary(s) } : { EdgeSummaryStatistics: summary(s) }),
          ResponseTimeHistogram: histogram(s.hist),
        }));
      return { TimeSeriesServiceStatistics: series, ContainsOldGroupVersions: false };
    },
  };
}
