/**
 * Ingest: every path a segment arrives by (PutTraceSegments, the daemon's UDP packets, OTLP spans)
 * ends here. A document is checked (segments.ts), refused ones are reported back as AWS reports
 * them (UnprocessedTraceSegments: Id, ErrorCode, Message), the rest are stored in one transaction
 * per batch, so an acknowledged segment is committed. PutTelemetryRecords keeps the daemon's
 * telemetry (segments sent, refused, connection errors) for 30 days as well.
 */
import type { Scope } from '../../core/arn.js';
import type { Clock } from '../../core/clock.js';
import type { UnprocessedTraceSegment, XrayHandlers } from './api.generated.js';
import { BadSegment, checkSegment, parseSegment, type SegmentDoc } from './segments.js';
import type { XrayStore } from './store.js';

export type Ingest = (scope: Scope, docs: (string | SegmentDoc)[]) => UnprocessedTraceSegment[];

export function createIngest(store: XrayStore, clock: Clock): Ingest {
  return (scope, docs) => {
    const unprocessed: UnprocessedTraceSegment[] = [];
    const now = clock.now() / 1000;
    const touched = new Map<string, [number, number]>();
    store.transaction(() => {
      for (const d of docs) {
        let doc: SegmentDoc;
        let text: string;
        try {
          if (typeof d === 'string') {
            doc = parseSegment(d);
            text = d;
          } else {
            doc = checkSegment(d);
            text = JSON.stringify(d);
          }
        } catch (e) {
          if (!(e instanceof BadSegment)) throw e;
          unprocessed.push({ Id: e.id, ErrorCode: e.code, Message: e.message });
          continue;
        }
        store.putSegment(scope, doc.trace_id, doc.id, doc.start_time, text);
        const end = doc.end_time ?? doc.start_time;
        const t = touched.get(doc.trace_id);
        if (!t) touched.set(doc.trace_id, [doc.start_time, end]);
        else {
          t[0] = Math.min(t[0], doc.start_time);
          t[1] = Math.max(t[1], end);
        }
      }
      // one trace row update per trace of the batch, not per segment
      for (const [id, [start, end]] of touched) store.touchTrace(scope, id, start, end, now);
    });
    return unprocessed;
  };
}

export function ingestHandlers(store: XrayStore, ingest: Ingest, clock: Clock): XrayHandlers {
  return {
    PutTraceSegments(input, ctx) {
      return { UnprocessedTraceSegments: ingest(ctx, input.TraceSegmentDocuments) };
    },

    PutTelemetryRecords(input, ctx) {
      const at = clock.now() / 1000;
      store.transaction(() => {
        for (const r of input.TelemetryRecords)
          store.putTelemetry(
            ctx,
            at,
            input.ResourceARN ?? null,
            JSON.stringify({ ...r, EC2InstanceId: input.EC2InstanceId, Hostname: input.Hostname }),
          );
      });
      return {};
    },
  };
}
