/**
 * Reading traces: GetTraceSummaries (a time range walked through the start-time index, or through
 * the service index when the filter expression names a service, each settled trace's facts tested
 * against the expression), BatchGetTraces (a trace's segment documents as X-Ray returns them:
 * independent subsegments merged into their segment, inferred segments added for downstream calls
 * nothing instrumented answered) and GetTraceGraph (the service graph of a few traces).
 */
import { createHash } from 'node:crypto';
import type { Scope } from '../../core/arn.js';
import { decodeToken, encodeToken } from '../../core/pagination.js';
import type { TraceSummaryOut, XrayHandlers } from './api.generated.js';
import { compileFilterExpression, FilterExpressionError } from './filterExpression.js';
import { addStats, emptyStats, renderGraph, type Stats } from './graph.js';
import { invalidRequest, type Groups } from './groups.js';
import { traceEpoch, type SegmentDoc, type SubsegmentDoc } from './segments.js';
import { factsOf, type Settler } from './settle.js';
import type { TraceRow, XrayStore } from './store.js';
import { computeTrace, type AnnotationValue, type TraceFacts } from './trace.js';

/** Summaries per page, and traces examined per call before answering with a NextToken. */
const PAGE = 100;
const SCAN_BUDGET = 20_000;

const annotationValue = (v: AnnotationValue) =>
  typeof v === 'number' ? { NumberValue: v } : typeof v === 'boolean' ? { BooleanValue: v } : { StringValue: v };

export function summaryOf(f: TraceFacts, account: string): TraceSummaryOut {
  const sid = (name: string, type?: string) => ({ Name: name, Names: [name], AccountId: account, Type: type || undefined });
  const seen = new Map<string, ReturnType<typeof sid>>();
  for (const c of f.calls) if (!seen.has(c.name + '\u0001' + c.type)) seen.set(c.name + '\u0001' + c.type, sid(c.name, c.type));
  return {
    Id: f.id,
    StartTime: new Date(f.start * 1000),
    Duration: round3(f.duration),
    ResponseTime: f.rt !== undefined ? round3(f.rt) : undefined,
    HasFault: f.fault,
    HasError: f.error,
    HasThrottle: f.throttle,
    IsPartial: f.partial,
    Http: f.http
      ? {
          HttpURL: f.http.url,
          HttpStatus: f.http.status,
          HttpMethod: f.http.method,
          UserAgent: f.http.useragent,
          ClientIp: f.http.clientip,
        }
      : undefined,
    Annotations: Object.fromEntries(
      Object.entries(f.ann).map(([k, list]) => [
        k,
        list.map(([v, services]) => ({ AnnotationValue: annotationValue(v), ServiceIds: services.map((s) => sid(s)) })),
      ]),
    ),
    Users: f.users.map((u) => ({ UserName: u, ServiceIds: f.entry ? [sid(f.entry.name, f.entry.type)] : [] })),
    ServiceIds: [...seen.values()],
    ResourceARNs: f.arns.map((ARN) => ({ ARN })),
    EntryPoint: f.entry ? sid(f.entry.name, f.entry.type) : undefined,
    Revision: f.revision,
    MatchedEventTime: new Date(f.start * 1000),
  };
}

const round3 = (v: number) => Math.round(v * 1000) / 1000;

/** A deterministic draw in [0, 1) per trace: Sampling keeps the same traces on every page. */
const draw = (id: string) => createHash('sha1').update(id).digest().readUInt32BE(0) / 2 ** 32;

/** The trace's documents as BatchGetTraces returns them. */
export function assembleTrace(traceId: string, docs: SegmentDoc[]): SegmentDoc[] {
  const segments = docs.filter((d) => d.type !== 'subsegment').map((d) => structuredClone(d));
  const byId = new Map<string, SubsegmentDoc>();
  const index = (d: SubsegmentDoc) => {
    byId.set(d.id, d);
    for (const s of d.subsegments ?? []) index(s);
  };
  segments.forEach(index);
  let loose = docs.filter((d) => d.type === 'subsegment');
  while (loose.length) {
    const left = loose.filter((sub) => {
      const parent = byId.get(sub.parent_id!);
      if (!parent) return true;
      const { trace_id: _t, parent_id: _p, type: _y, ...rest } = structuredClone(sub);
      (parent.subsegments ??= []).push(rest);
      index(rest);
      return false;
    });
    if (left.length === loose.length) break;
    loose = left;
  }
  const answered = new Set(segments.map((s) => s.parent_id).filter((p) => p !== undefined));
  const inferred: SegmentDoc[] = [];
  for (const s of byId.values()) {
    if ((s.namespace !== 'remote' && s.namespace !== 'aws') || answered.has(s.id) || s.end_time === undefined) continue;
    inferred.push({
      id: createHash('sha1').update(s.id).digest('hex').slice(0, 16),
      name: s.namespace === 'aws' && typeof s.aws?.table_name === 'string' ? s.aws.table_name : s.name,
      trace_id: traceId,
      parent_id: s.id,
      start_time: s.start_time,
      end_time: s.end_time,
      inferred: true,
      origin: s.namespace === 'aws' ? (typeof s.aws?.table_name === 'string' ? 'AWS::DynamoDB::Table' : `AWS::${s.name}`) : undefined,
      http: s.http,
      aws: s.aws,
      error: s.error,
      fault: s.fault,
      throttle: s.throttle,
    });
  }
  return [...segments, ...inferred];
}

export function traceHandlers(store: XrayStore, settler: Settler, groups: Groups): XrayHandlers {
  const docsOf = (scope: Scope, id: string) => store.segmentsOf(scope, id).map((r) => JSON.parse(r.doc) as SegmentDoc);
  const settledTrace = (scope: Scope, id: string): TraceRow | undefined => {
    const row = store.trace(scope, id);
    if (row && !row.settled) settler.settleRange(scope, row.start, row.end + 1);
    return store.trace(scope, id);
  };

  return {
    GetTraceSummaries(input, ctx) {
      const from = input.StartTime.getTime() / 1000;
      const to = input.EndTime.getTime() / 1000;
      if (to < from) throw invalidRequest('StartTime must be before EndTime');
      let filter: ReturnType<typeof compileFilterExpression> | undefined;
      if (input.FilterExpression !== undefined && input.FilterExpression.trim() !== '') {
        try {
          filter = compileFilterExpression(input.FilterExpression, groups.lookup(ctx));
        } catch (e) {
          if (e instanceof FilterExpressionError) throw invalidRequest(`Invalid filter expression: ${e.message}`);
          throw e;
        }
      }
      const rate = input.Sampling ? (input.SamplingStrategy?.Name === 'FixedRate' ? (input.SamplingStrategy.Value ?? 0.1) : 0.1) : 1;
      let after: [number, string] = [-Infinity, ''];
      if (input.NextToken !== undefined) {
        const m = /^(-?[\d.e+]+)\/(.+)$/.exec(decodeToken(input.NextToken, () => invalidRequest('Invalid NextToken')));
        if (!m) throw invalidRequest('Invalid NextToken');
        after = [Number(m[1]), m[2]];
      }
      // a trace can start up to its duration before the window and still have events in it: settle those too
      settler.settleRange(ctx, from, to);
      const summaries: TraceSummaryOut[] = [];
      let scanned = 0;
      let next: string | undefined;
      outer: for (;;) {
        const rows = filter?.service
          ? store.tracesOfService(ctx, filter.service, from, to, after, 500)
          : store.tracesIn(ctx, from, to, after, 500);
        for (const row of rows) {
          if (summaries.length >= PAGE || scanned >= SCAN_BUDGET) {
            next = encodeToken(`${after[0]}/${after[1]}`);
            break outer;
          }
          after = [row.start, row.trace_id];
          scanned++;
          if (!row.summary) continue;
          if (input.TimeRangeType === 'TraceId') {
            const epoch = traceEpoch(row.trace_id);
            if (epoch < Math.floor(from) || epoch > to) continue;
          }
          if (rate < 1 && draw(row.trace_id) >= rate) continue;
          const facts = factsOf(row);
          if (filter && !filter.test(facts)) continue;
          summaries.push(summaryOf(facts, ctx.account));
        }
        if (rows.length < 500) break;
      }
      return { TraceSummaries: summaries, ApproximateTime: new Date(), TracesProcessedCount: scanned, NextToken: next };
    },

    BatchGetTraces(input, ctx) {
      if (input.TraceIds.length > 5) throw invalidRequest('TraceIds can contain at most 5 trace IDs');
      const traces = [];
      const unprocessed: string[] = [];
      for (const id of input.TraceIds) {
        const row = settledTrace(ctx, id);
        if (!row || !row.summary) {
          unprocessed.push(id);
          continue;
        }
        const facts = factsOf(row);
        const docs = assembleTrace(id, docsOf(ctx, id));
        traces.push({
          Id: id,
          Duration: round3(facts.duration),
          LimitExceeded: false,
          Segments: docs.map((d) => ({ Id: d.id, Document: JSON.stringify(d) })),
        });
      }
      return { Traces: traces, UnprocessedTraceIds: unprocessed };
    },

    GetTraceGraph(input, ctx) {
      const stats = new Map<string, Stats>();
      let start = Infinity;
      let end = -Infinity;
      for (const id of input.TraceIds) {
        const docs = docsOf(ctx, id);
        if (docs.length === 0) continue;
        const t = computeTrace(id, docs);
        start = Math.min(start, t.facts.start);
        end = Math.max(end, t.facts.end);
        for (const [k, s] of Object.entries(t.stats)) addStats(stats.get(k) ?? stats.set(k, emptyStats()).get(k)!, s);
      }
      if (stats.size === 0) return { Services: [] };
      return { Services: renderGraph(stats, new Date(start * 1000), new Date(end * 1000), ctx.account) };
    },
  };
}
