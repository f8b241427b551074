/**
 * What one trace's segments add up to, computed when it settles: its facts (what GetTraceSummaries
 * answers and filter expressions test: times, http, error/fault/throttle, annotations, users, every
 * service and edge it touched) and its contribution to the service graph (node and edge statistics).
 *
 * How segments link, as X-Ray links them: a segment whose parent_id names a subsegment of another
 * segment is that segment's service calling this one (an edge between two real nodes, and that
 * subsegment is no inferred node); a subsegment with namespace "remote" or "aws" that no segment
 * answers is a call to an inferred downstream node (its name, type "remote" or AWS::<name>); a
 * segment with no parent here is a root, called by the client. Independent subsegments (type
 * "subsegment", OpenTelemetry's client spans) hang under the segment their parent_id leads to.
 */
import { CLIENT, edgeKey, emptyStats, nodeKey, record, type Entity, type Outcome, type Stats } from './graph.js';
import type { SegmentDoc, SubsegmentDoc } from './segments.js';

export type AnnotationValue = string | number | boolean;

/** One call into a service (a segment, or a subsegment to an inferred node): what service(){…} tests. */
export interface CallFacts extends Outcome {
  name: string;
  type: string;
  rt?: number;
  status?: number;
  url?: string;
  method?: string;
  partial?: boolean;
  ann?: Record<string, AnnotationValue>;
}

/** One edge traversal: what edge(a, b){…} tests (the callee's outcome and time). */
export interface EdgeFacts extends CallFacts {
  from: string;
  fromType: string;
}

export interface TraceFacts {
  id: string;
  start: number;
  end: number;
  duration: number;
  rt?: number;
  error: boolean;
  fault: boolean;
  throttle: boolean;
  partial: boolean;
  http?: { url?: string; status?: number; method?: string; useragent?: string; clientip?: string };
  users: string[];
  /** key → [value, service names that recorded it] */
  ann: Record<string, [AnnotationValue, string[]][]>;
  calls: CallFacts[];
  edges: EdgeFacts[];
  entry?: Entity;
  arns: string[];
  revision: number;
}

export interface TraceResult {
  facts: TraceFacts;
  stats: Record<string, Stats>;
  services: string[];
}

interface Owned {
  owner: SegmentDoc;
  sub?: SubsegmentDoc;
}

const entityOfSegment = (s: SegmentDoc): Entity => ({ name: s.name, type: s.origin ?? '' });

function inferredEntity(sub: SubsegmentDoc): Entity {
  if (sub.namespace === 'aws') {
    const table = sub.aws?.table_name;
    if (typeof table === 'string') return { name: table, type: 'AWS::DynamoDB::Table' };
    return { name: sub.name, type: `AWS::${sub.name}` };
  }
  return { name: sub.name, type: 'remote' };
}

const timeOf = (d: SubsegmentDoc) => (d.end_time !== undefined ? d.end_time - d.start_time : undefined);

export function computeTrace(traceId: string, docs: SegmentDoc[]): TraceResult {
  const segments = docs.filter((d) => d.type !== 'subsegment');
  const loose = docs.filter((d) => d.type === 'subsegment');
  const byId = new Map<string, Owned>();
  const walk = (owner: SegmentDoc, list: SubsegmentDoc[] | undefined) => {
    for (const sub of list ?? []) {
      byId.set(sub.id, { owner, sub });
      walk(owner, sub.subsegments);
    }
  };
  for (const s of segments) {
    byId.set(s.id, { owner: s });
    walk(s, s.subsegments);
  }
  // independent subsegments, in any arrival order: attach each once its parent is known
  let pending = loose;
  while (pending.length > 0) {
    const next = pending.filter((sub) => {
      const parent = byId.get(sub.parent_id!);
      if (!parent) return true;
      byId.set(sub.id, { owner: parent.owner, sub });
      walk(parent.owner, sub.subsegments);
      return false;
    });
    if (next.length === pending.length) break;
    pending = next;
  }

  const stats: Record<string, Stats> = {};
  const add = (key: string, o: Outcome, t: number, node = false) => record((stats[key] ??= emptyStats()), o, t, node);
  const answered = new Set<string>();
  const calls: CallFacts[] = [];
  const edges: EdgeFacts[] = [];
  const ann: TraceFacts['ann'] = {};
  const users = new Set<string>();
  const arns = new Set<string>();
  let root: SegmentDoc | undefined;
  let partial = false;
  let error = false;
  let fault = false;
  let throttle = false;

  const note = (doc: SubsegmentDoc, service: string) => {
    for (const [k, v] of Object.entries(doc.annotations ?? {})) {
      const list = (ann[k] ??= []);
      const hit = list.find((e) => e[0] === v);
      if (hit) {
        if (!hit[1].includes(service)) hit[1].push(service);
      } else list.push([v, [service]]);
    }
    if (doc.in_progress) partial = true;
    error ||= !!doc.error;
    fault ||= !!doc.fault;
    throttle ||= !!doc.throttle;
  };
  const callOf = (e: Entity, d: SubsegmentDoc): CallFacts => ({
    name: e.name,
    type: e.type,
    error: !!d.error,
    fault: !!d.fault,
    throttle: !!d.throttle,
    rt: timeOf(d),
    status: d.http?.response?.status,
    url: d.http?.request?.url,
    method: d.http?.request?.method,
    partial: d.in_progress || undefined,
    ann: d.annotations,
  });

  for (const s of segments) {
    const me = entityOfSegment(s);
    const parent = s.parent_id !== undefined ? byId.get(s.parent_id) : undefined;
    const caller = parent && parent.owner !== s ? entityOfSegment(parent.owner) : undefined;
    if (parent?.sub) answered.add(parent.sub.id);
    const t = timeOf(s);
    const call = callOf(me, s);
    calls.push(call);
    if (!caller && (!root || s.start_time < root.start_time)) root = s;
    if (t !== undefined) {
      add(nodeKey(me), s, t, true);
      add(edgeKey(caller ?? CLIENT, me), s, t);
    }
    if (caller) edges.push({ ...call, from: caller.name, fromType: caller.type });
    if (s.user) users.add(s.user);
    if (s.resource_arn) arns.add(s.resource_arn);
    note(s, s.name);
  }

  // subsegments: annotations, flags, and calls to downstream nodes nothing instrumented answers
  for (const { owner, sub } of byId.values()) {
    if (!sub) continue;
    note(sub, owner.name);
    if ((sub.namespace !== 'remote' && sub.namespace !== 'aws') || answered.has(sub.id)) continue;
    const t = timeOf(sub);
    const to = inferredEntity(sub);
    const from = entityOfSegment(owner);
    const call = callOf(to, sub);
    calls.push(call);
    edges.push({ ...call, from: from.name, fromType: from.type });
    if (t !== undefined) {
      add(nodeKey(to), sub, t);
      add(edgeKey(from, to), sub, t);
    }
  }

  const start = Math.min(...docs.map((d) => d.start_time));
  const end = Math.max(...docs.map((d) => d.end_time ?? d.start_time));
  const req = root?.http?.request;
  const facts: TraceFacts = {
    id: traceId,
    start,
    end,
    duration: end - start,
    rt: root ? timeOf(root) : undefined,
    error,
    fault,
    throttle,
    partial: partial || pending.length > 0,
    http: root?.http
      ? { url: req?.url, status: root.http.response?.status, method: req?.method, useragent: req?.user_agent, clientip: req?.client_ip }
      : undefined,
    users: [...users],
    ann,
    calls,
    edges,
    entry: root ? entityOfSegment(root) : undefined,
    arns: [...arns],
    revision: docs.length,
  };
  const services = [...new Set(calls.map((c) => c.name))];
  return { facts, stats, services };
}
