/**
 * X-Ray segment documents: the JSON the SDKs, the daemon and PutTraceSegments carry, its checks
 * (what AWS answers in UnprocessedTraceSegments for a document it refuses) and trace ids.
 *
 * A segment has name, id (16 hex digits), trace_id (1-<8 hex epoch>-<24 hex>), start_time and
 * end_time or in_progress; it may hold subsegments (nested, same shape minus trace_id) or be one sent
 * on its own (type "subsegment" with parent_id). Everything else (http, aws, sql, annotations,
 * metadata, error/fault/throttle, cause, origin, user, namespace) is optional and kept as sent.
 */

export interface HttpDoc {
  request?: { method?: string; url?: string; user_agent?: string; client_ip?: string; x_forwarded_for?: boolean; traced?: boolean };
  response?: { status?: number; content_length?: number };
}

export interface SubsegmentDoc {
  id: string;
  name: string;
  start_time: number;
  end_time?: number;
  in_progress?: boolean;
  namespace?: string;
  http?: HttpDoc;
  aws?: Record<string, unknown>;
  sql?: Record<string, unknown>;
  error?: boolean;
  fault?: boolean;
  throttle?: boolean;
  cause?: unknown;
  annotations?: Record<string, string | number | boolean>;
  metadata?: Record<string, unknown>;
  subsegments?: SubsegmentDoc[];
  precursor_ids?: string[];
  traced?: boolean;
}

export interface SegmentDoc extends SubsegmentDoc {
  trace_id: string;
  parent_id?: string;
  type?: string;
  origin?: string;
  user?: string;
  resource_arn?: string;
  service?: { version?: string };
  inferred?: boolean;
}

export const TRACE_ID = /^1-[0-9a-f]{8}-[0-9a-f]{24}$/;
export const SEGMENT_ID = /^[0-9a-f]{16}$/;

/** A document AWS refuses: what goes into UnprocessedTraceSegments. */
export class BadSegment extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly id?: string,
  ) {
    super(message);
  }
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Parses and checks one segment document; throws BadSegment with AWS's error code. */
export function parseSegment(text: string): SegmentDoc {
  let doc: any;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new BadSegment('JSONFormatError', 'Bad JSON data');
  }
  return checkSegment(doc);
}

export function checkSegment(doc: any): SegmentDoc {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new BadSegment('JSONFormatError', 'Bad JSON data');
  const id = typeof doc.id === 'string' ? doc.id : undefined;
  if (!id) throw new BadSegment('MissingParam', 'Missing segment ID');
  if (!SEGMENT_ID.test(id)) throw new BadSegment('InvalidId', `Invalid segment ID: ${id}`, id);
  if (typeof doc.trace_id !== 'string') throw new BadSegment('MissingParam', 'Missing trace ID', id);
  if (!TRACE_ID.test(doc.trace_id)) throw new BadSegment('InvalidTraceId', `Invalid trace ID: ${doc.trace_id}`, id);
  if (typeof doc.name !== 'string' || doc.name.length === 0) throw new BadSegment('MissingParam', 'Missing segment name', id);
  if (doc.name.length > 200) throw new BadSegment('InvalidName', 'Segment name exceeds 200 characters', id);
  if (!isNum(doc.start_time)) throw new BadSegment('MissingParam', 'Missing start_time', id);
  if (doc.end_time === undefined && doc.in_progress !== true) throw new BadSegment('MissingParam', 'Missing end_time or in_progress', id);
  if (doc.end_time !== undefined && (!isNum(doc.end_time) || doc.end_time < doc.start_time))
    throw new BadSegment('InvalidEndTime', 'end_time must be a number not before start_time', id);
  if (doc.parent_id !== undefined && (typeof doc.parent_id !== 'string' || !SEGMENT_ID.test(doc.parent_id)))
    throw new BadSegment('InvalidParentId', `Invalid parent ID: ${doc.parent_id}`, id);
  if (doc.type === 'subsegment' && doc.parent_id === undefined)
    throw new BadSegment('MissingParam', 'Missing parent_id for subsegment', id);
  if (doc.subsegments !== undefined) checkSubsegments(doc.subsegments, id);
  return doc as SegmentDoc;
}

function checkSubsegments(list: unknown, owner: string) {
  if (!Array.isArray(list)) throw new BadSegment('InvalidSubsegments', 'subsegments must be an array', owner);
  for (const s of list as any[]) {
    if (typeof s !== 'object' || s === null) throw new BadSegment('InvalidSubsegments', 'subsegments must be objects', owner);
    if (typeof s.id !== 'string' || !SEGMENT_ID.test(s.id)) throw new BadSegment('InvalidId', `Invalid subsegment ID: ${s.id}`, owner);
    if (typeof s.name !== 'string' || s.name.length === 0) throw new BadSegment('MissingParam', 'Missing subsegment name', owner);
    if (!isNum(s.start_time)) throw new BadSegment('MissingParam', 'Missing subsegment start_time', owner);
    if (s.end_time === undefined && s.in_progress !== true)
      throw new BadSegment('MissingParam', 'Missing subsegment end_time or in_progress', owner);
    if (s.subsegments !== undefined) checkSubsegments(s.subsegments, owner);
  }
}

/** The trace id's epoch seconds (its second field): when the trace began, by AWS's reading. */
export const traceEpoch = (traceId: string) => parseInt(traceId.slice(2, 10), 16);

/** W3C / OpenTelemetry 32-hex trace id → X-Ray's 1-xxxxxxxx-yyyy… form. */
export const xrayTraceId = (hex32: string) => `1-${hex32.slice(0, 8)}-${hex32.slice(8, 32)}`;

/** The X-Amzn-Trace-Id header's fields: Root, Parent, Sampled. */
export function parseTraceHeader(header: string): { root?: string; parent?: string; sampled?: string } {
  const out: { root?: string; parent?: string; sampled?: string } = {};
  for (const part of header.split(';')) {
    const [k, v] = part.trim().split('=');
    if (k === 'Root') out.root = v;
    else if (k === 'Parent') out.parent = v;
    else if (k === 'Sampled') out.sampled = v;
  }
  return out;
}
