/**
 * Service graph arithmetic: the statistics of a node or an edge (ok / error / throttle / fault
 * counts, total response time, response time and duration histograms), how they add up and come
 * off again (a trace that settles twice), and how a set of them renders as AWS's Services list:
 * nodes with ReferenceId, Name, Type, Root, State, SummaryStatistics, histograms and Edges.
 *
 * Keys: a node is "n" SEP type SEP name; an edge is "e" SEP its source node key SEP2 its target's.
 * The client node (type "client") stands for the callers of the traces' root services.
 */
import type { EdgeOut, Histogram, ServiceOut } from './api.generated.js';

export const SEP = '\u0001';
export const SEP2 = '\u0002';

export interface Stats {
  ok: number;
  error: number;
  throttle: number;
  fault: number;
  total: number;
  /** total response time, seconds */
  rt: number;
  /** response time histogram: value (2 significant digits) → count */
  hist: Record<string, number>;
  /** duration histogram (nodes) */
  dur?: Record<string, number>;
}

export interface Outcome {
  error?: boolean;
  fault?: boolean;
  throttle?: boolean;
}

export interface Entity {
  name: string;
  type: string;
}

export const CLIENT: Entity = { name: '', type: 'client' };
export const nodeKey = (e: Entity) => `n${SEP}${e.type}${SEP}${e.name}`;
export const edgeKey = (from: Entity, to: Entity) => `e${SEP}${nodeKey(from)}${SEP2}${nodeKey(to)}`;

export function entityOf(nodeKeyText: string): Entity {
  const [, type, name] = nodeKeyText.split(SEP);
  return { type, name };
}

/** Histogram bucket of a time in seconds: two significant digits, as AWS's histograms read. */
export const bucketOf = (seconds: number) => String(Number(Math.max(seconds, 0).toPrecision(2)));

export const emptyStats = (): Stats => ({ ok: 0, error: 0, throttle: 0, fault: 0, total: 0, rt: 0, hist: {} });

/** Adds one call with its outcome and time into `s`. */
export function record(s: Stats, o: Outcome, seconds: number, withDuration = false) {
  s.total++;
  if (o.fault) s.fault++;
  else if (o.throttle) s.throttle++;
  else if (o.error) s.error++;
  else s.ok++;
  s.rt += seconds;
  const b = bucketOf(seconds);
  s.hist[b] = (s.hist[b] ?? 0) + 1;
  if (withDuration) (s.dur ??= {})[b] = (s.dur[b] ?? 0) + 1;
}

function addHist(into: Record<string, number>, from: Record<string, number>, sign: number) {
  for (const k in from) {
    const v = (into[k] ?? 0) + sign * from[k];
    if (v > 0) into[k] = v;
    else delete into[k];
  }
}

/** into += sign × from (sign -1 takes a trace's earlier contribution back off). */
export function addStats(into: Stats, from: Stats, sign = 1) {
  into.ok += sign * from.ok;
  into.error += sign * from.error;
  into.throttle += sign * from.throttle;
  into.fault += sign * from.fault;
  into.total += sign * from.total;
  into.rt += sign * from.rt;
  addHist(into.hist, from.hist, sign);
  if (from.dur) addHist((into.dur ??= {}), from.dur, sign);
}

export const histogram = (h: Record<string, number> | undefined): Histogram =>
  Object.entries(h ?? {})
    .map(([v, c]) => ({ Value: Number(v), Count: c }))
    .sort((a, b) => a.Value - b.Value);

export function summary(s: Stats) {
  return {
    OkCount: s.ok,
    ErrorStatistics: { ThrottleCount: s.throttle, OtherCount: s.error, TotalCount: s.error + s.throttle },
    FaultStatistics: { OtherCount: s.fault, TotalCount: s.fault },
    TotalCount: s.total,
    TotalResponseTime: round(s.rt),
  };
}

export const round = (v: number) => Math.round(v * 1e6) / 1e6;

/**
 * Renders node and edge statistics (keyed as above) as AWS's Services list. ReferenceIds are
 * assigned in a stable order (client first, then by type and name); a node that the client calls is
 * Root; a node with its own segments is "active", an inferred one "unknown".
 */
export function renderGraph(stats: Map<string, Stats>, start: Date | number, end: Date | number, account?: string): ServiceOut[] {
  const nodes = [...stats.keys()].filter((k) => k[0] === 'n');
  // an edge's endpoints are nodes even when they carry no statistics of their own (the client)
  for (const k of stats.keys())
    if (k[0] === 'e') for (const n of k.slice(2).split(SEP2)) if (!stats.has(n) && !nodes.includes(n)) nodes.push(n);
  nodes.sort((a, b) => (entityOf(a).type === 'client' ? -1 : entityOf(b).type === 'client' ? 1 : a < b ? -1 : a > b ? 1 : 0));
  const refs = new Map(nodes.map((k, i) => [k, i]));
  const edges = new Map<string, EdgeOut[]>();
  const roots = new Set<string>();
  for (const [k, s] of stats) {
    if (k[0] !== 'e') continue;
    const [from, to] = k.slice(2).split(SEP2);
    if (entityOf(from).type === 'client') roots.add(to);
    const list = edges.get(from) ?? edges.set(from, []).get(from)!;
    list.push({
      ReferenceId: refs.get(to),
      StartTime: start,
      EndTime: end,
      SummaryStatistics: summary(s),
      ResponseTimeHistogram: histogram(s.hist),
      Aliases: [],
    });
  }
  return nodes.map((k) => {
    const e = entityOf(k);
    const s = stats.get(k);
    const out: ServiceOut = {
      ReferenceId: refs.get(k),
      Names: e.type === 'client' ? [] : [e.name],
      Root: roots.has(k),
      Type: e.type || undefined,
      State: s?.dur ? 'active' : 'unknown',
      StartTime: start,
      EndTime: end,
      Edges: (edges.get(k) ?? []).sort((a, b) => a.ReferenceId! - b.ReferenceId!),
    };
    if (e.type !== 'client') {
      out.Name = e.name;
      if (account) out.AccountId = account;
    }
    if (s) {
      out.SummaryStatistics = summary(s);
      out.ResponseTimeHistogram = histogram(s.hist);
      out.DurationHistogram = histogram(s.dur ?? s.hist);
    }
    return out;
  });
}
