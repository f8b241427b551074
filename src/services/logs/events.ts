/**
 * Log events: PutLogEvents (AWS's batch rules, one transaction per batch), GetLogEvents (one
 * stream, forward/backward tokens) and FilterLogEvents (a whole group in timestamp order, through
 * the filter-pattern engine). Reads walk an index with a cursor and stop at the page limit, the
 * 1 MB response cap or (FilterLogEvents) a scan budget, so no call materialises a whole stream.
 */
import { AwsError } from '../../core/errors.js';
import { log } from '../../core/log.js';
import type { LogsHandlers } from './api.generated.js';
import { compileFilterPattern, FilterPatternError, type LogMatcher } from './filterPattern.js';
import { decodeToken, encodeToken, resolveGroup, retentionFloor } from './groups.js';
import { sequenceToken } from './streams.js';
import type { EventRow, GroupRow, LogsStore, Position, StreamRow } from './store.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const MAX_BATCH_BYTES = 1_048_576;
const EVENT_OVERHEAD = 26;
const MAX_RESPONSE_BYTES = 1_048_576;
const MAX_EVENTS = 10_000;
/** Rows FilterLogEvents examines per call before it answers with what it has and a nextToken. */
const SCAN_BUDGET = 100_000;
const START: Position = { ts: Number.MIN_SAFE_INTEGER, id: 0 };
const END: Position = { ts: Number.MAX_SAFE_INTEGER, id: Number.MAX_SAFE_INTEGER };

const invalid = (message: string) => new AwsError('InvalidParameterException', message, 400);
const pad = (n: number) => String(n).padStart(16, '0');

/** GetLogEvents tokens: "f/" or "b/" then the (timestamp, id) of the event the page stopped at. */
const streamToken = (dir: 'f' | 'b', p: Position) => `${dir}/${pad(Math.max(p.ts, 0))}${pad(p.id)}`;
function parseStreamToken(token: string): { dir: 'f' | 'b'; pos: Position } {
  const m = /^([fb])\/(\d{16})(\d{16})$/.exec(token);
  if (!m) throw invalid('The specified nextToken is invalid.');
  return { dir: m[1] as 'f' | 'b', pos: { ts: Number(m[2]), id: Number(m[3]) } };
}

function parseFilterToken(token: string): Position {
  const m = /^(\d+)\/(\d+)$/.exec(decodeToken(token));
  if (!m) throw invalid('The specified nextToken is invalid.');
  return { ts: Number(m[1]), id: Number(m[2]) };
}

/** Told of every batch PutLogEvents stored: the accepted events, and the batch's sequence number in its stream. */
export type IngestListener = (
  group: GroupRow,
  stream: StreamRow,
  seq: number,
  events: readonly { timestamp: number; message: string }[],
) => void;

export function eventHandlers(store: LogsStore, ingested: IngestListener[] = []): LogsHandlers {
  return {
    PutLogEvents(input, ctx) {
      const group = store.requireGroup(ctx, input.logGroupName);
      const stream = store.requireStream(group, input.logStreamName);
      const events = input.logEvents;
      const n = events.length;
      let bytes = 0;
      let prev = -Infinity;
      for (let i = 0; i < n; i++) {
        const e = events[i];
        if (e.message.length === 0)
          throw invalid(
            `1 validation error detected: Value '' at 'logEvents.${i + 1}.member.message' failed to satisfy constraint: Member must have length greater than or equal to 1`,
          );
        if (e.timestamp < prev) throw invalid('Log events in a single PutLogEvents request must be in chronological order.');
        prev = e.timestamp;
        bytes += Buffer.byteLength(e.message, 'utf8') + EVENT_OVERHEAD;
      }
      if (bytes > MAX_BATCH_BYTES) throw invalid(`Upload too large: ${bytes} bytes exceeds limit of ${MAX_BATCH_BYTES}`);
      if (n > 0 && events[n - 1].timestamp - events[0].timestamp > DAY)
        throw invalid('The batch of log events in a single PutLogEvents request cannot span more than 24 hours.');

      // the batch is sorted, so each rejection is a prefix (too old / expired) or a suffix (too new)
      const now = ctx.clock.now();
      const floor = retentionFloor(group, now);
      const oldest = Math.max(now - 14 * DAY, floor);
      let tooOld = 0;
      while (tooOld < n && events[tooOld].timestamp < oldest) tooOld++;
      let expired = 0;
      while (expired < tooOld && events[expired].timestamp < floor) expired++;
      let tooNew = n;
      while (tooNew > tooOld && events[tooNew - 1].timestamp > now + 2 * HOUR) tooNew--;

      let stored = bytes - n * EVENT_OVERHEAD;
      if (tooOld > 0 || tooNew < n) {
        stored = 0;
        for (let i = tooOld; i < tooNew; i++) stored += Buffer.byteLength(events[i].message, 'utf8');
      }
      const seq = store.putEvents(group, stream, events, tooOld, tooNew, now, stored);
      if (ingested.length && tooNew > tooOld) {
        const accepted = tooOld === 0 && tooNew === n ? events : events.slice(tooOld, tooNew);
        for (const listener of ingested) {
          try {
            listener(group, stream, seq, accepted);
          } catch (err) {
            // the batch is stored: a filter that cannot emit must not fail the write
            log.warn(`logs: a filter on ${group.name} failed: ${(err as Error).message}`);
          }
        }
      }
      const rejected =
        tooOld > 0 || tooNew < n
          ? {
              tooOldLogEventEndIndex: tooOld > 0 ? tooOld : undefined,
              expiredLogEventEndIndex: expired > 0 ? expired : undefined,
              tooNewLogEventStartIndex: tooNew < n ? tooNew : undefined,
            }
          : undefined;
      return { nextSequenceToken: sequenceToken(seq), rejectedLogEventsInfo: rejected };
    },

    GetLogEvents(input, ctx) {
      const group = resolveGroup(store, ctx, input);
      const stream = store.requireStream(group, input.logStreamName);
      const limit = input.limit ?? MAX_EVENTS;
      const lo = Math.max(input.startTime ?? START.ts, retentionFloor(group, ctx.clock.now()));
      const hi = input.endTime ?? END.ts;
      const token = input.nextToken !== undefined ? parseStreamToken(input.nextToken) : undefined;
      const forward = token ? token.dir === 'f' : !!input.startFromHead;
      const from = token?.pos ?? (forward ? START : END);

      const rows: EventRow[] = [];
      let size = 0;
      const cursor = forward ? store.streamForward(stream, from, lo, hi) : store.streamBackward(stream, from, lo, hi);
      for (const row of cursor) {
        const b = Buffer.byteLength(row.message, 'utf8') + EVENT_OVERHEAD;
        if (rows.length > 0 && size + b > MAX_RESPONSE_BYTES) break;
        size += b;
        rows.push(row);
        if (rows.length >= limit) break;
      }
      if (!forward) rows.reverse();

      if (rows.length === 0) {
        // end of the stream in this direction: the same token again (or both at the start when there was none)
        const at = token?.pos ?? { ts: 0, id: 0 };
        return { events: [], nextForwardToken: streamToken('f', at), nextBackwardToken: streamToken('b', at) };
      }
      return {
        events: rows.map((r) => ({ timestamp: r.ts, message: r.message, ingestionTime: r.ingested })),
        nextForwardToken: streamToken('f', rows[rows.length - 1]),
        nextBackwardToken: streamToken('b', rows[0]),
      };
    },

    FilterLogEvents(input, ctx) {
      const group = resolveGroup(store, ctx, input);
      if (input.logStreamNames !== undefined && input.logStreamNamePrefix !== undefined)
        throw invalid('logStreamNames and logStreamNamePrefix are mutually exclusive parameters.');
      let match: LogMatcher;
      try {
        match = compileFilterPattern(input.filterPattern);
      } catch (e) {
        if (e instanceof FilterPatternError) throw invalid(e.message);
        throw e;
      }
      const names = store.streamNames(group);
      let only: Set<number> | undefined;
      if (input.logStreamNames !== undefined || input.logStreamNamePrefix !== undefined) {
        const wanted = input.logStreamNames ? new Set(input.logStreamNames) : undefined;
        const prefix = input.logStreamNamePrefix ?? '';
        only = new Set();
        for (const [id, name] of names) if (wanted ? wanted.has(name) : name.startsWith(prefix)) only.add(id);
      }
      const limit = input.limit ?? MAX_EVENTS;
      const lo = Math.max(input.startTime ?? START.ts, retentionFloor(group, ctx.clock.now()));
      const hi = input.endTime ?? END.ts;
      const from = input.nextToken !== undefined ? parseFilterToken(input.nextToken) : START;

      const events: { logStreamName: string; timestamp: number; message: string; ingestionTime: number; eventId: string }[] = [];
      let size = 0;
      let scanned = 0;
      let resumeAt: Position | undefined;
      let last: Position | undefined;
      if (only === undefined || only.size > 0) {
        // one named stream: walk that stream's index instead of the whole group's
        const rows = only?.size === 1 ? store.oneStreamForward([...only][0], from, lo, hi) : store.groupForward(group, from, lo, hi);
        for (const row of rows) {
          // a row beyond a full page or the scan budget: the next call resumes after the last row examined
          if (events.length >= limit || scanned >= SCAN_BUDGET) {
            resumeAt = last;
            break;
          }
          scanned++;
          if ((only === undefined || only.has(row.stream_id)) && match(row.message)) {
            const b = Buffer.byteLength(row.message, 'utf8') + EVENT_OVERHEAD;
            if (events.length > 0 && size + b > MAX_RESPONSE_BYTES) {
              resumeAt = last;
              break;
            }
            size += b;
            events.push({
              logStreamName: names.get(row.stream_id)!,
              timestamp: row.ts,
              message: row.message,
              ingestionTime: row.ingested,
              eventId: pad(row.ts) + pad(row.id),
            });
          }
          last = row;
        }
      }
      return { events, nextToken: resumeAt ? encodeToken(`${resumeAt.ts}/${resumeAt.id}`) : undefined };
    },
  };
}
