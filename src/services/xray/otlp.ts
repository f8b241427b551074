/**
 * OpenTelemetry traces over OTLP/HTTP: POST /v1/traces on opsbox's port, protobuf
 * (application/x-protobuf, otlpProtobuf.ts) or JSON (application/json), gzip or not; the answer is
 * an empty ExportTraceServiceResponse in the request's encoding, 400 with a google.rpc.Status for a
 * body that is not one. A SigV4-signed request (AWS's own OTLP endpoint is signed for "xray") goes
 * to the signer's account and region; an unsigned one to the default account.
 *
 * Spans become X-Ray segments as the AWS OTel exporter (awsxray) translates them: the W3C trace id
 * becomes 1-<8 hex>-<24 hex>; a SERVER or CONSUMER span, or one without a parent, is a segment
 * named after the resource's service.name; any other span is an independent subsegment under its
 * parent span; CLIENT and PRODUCER spans call a downstream node (namespace "aws" for AWS SDK calls,
 * "remote" otherwise) named after peer.service, the AWS service, the database or the host; http.*
 * and url.* attributes fill http, 4xx is error (429 throttle), 5xx or status ERROR is fault,
 * exception events the cause; attributes listed in aws.xray.annotations are annotations, the rest
 * metadata; cloud.platform gives the origin.
 */
import { gunzipSync } from 'node:zlib';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Scope } from '../../core/arn.js';
import type { Credentials } from '../../core/credentials.js';
import { DEFAULT_ACCOUNT } from '../../core/credentials.js';
import type { HttpRoute } from '../../gateway/service.js';
import { readSigV4 } from '../../gateway/sigv4.js';
import type { Ingest } from './ingest.js';
import { decodeTraceRequest, encodeStatus, ProtobufError } from './otlpProtobuf.js';
import { xrayTraceId, type SegmentDoc } from './segments.js';

export type Attributes = Record<string, unknown>;

export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  /** seconds */
  start: number;
  end: number;
  attributes: Attributes;
  events: { time: number; name: string; attributes: Attributes }[];
  status: { code: number; message?: string };
}

export interface OtlpResourceSpans {
  resource: Attributes;
  scopes: { name: string; spans: OtlpSpan[] }[];
}

const KIND = { INTERNAL: 1, SERVER: 2, CLIENT: 3, PRODUCER: 4, CONSUMER: 5 };
const KIND_NAMES: Record<string, number> = {
  SPAN_KIND_INTERNAL: 1,
  SPAN_KIND_SERVER: 2,
  SPAN_KIND_CLIENT: 3,
  SPAN_KIND_PRODUCER: 4,
  SPAN_KIND_CONSUMER: 5,
};
const STATUS_ERROR = 2;
const MAX_BODY = 16 * 1024 * 1024;

const ORIGINS: Record<string, string> = {
  aws_ec2: 'AWS::EC2::Instance',
  aws_ecs: 'AWS::ECS::Container',
  aws_eks: 'AWS::EKS::Container',
  aws_elastic_beanstalk: 'AWS::ElasticBeanstalk::Environment',
  aws_lambda: 'AWS::Lambda::Function',
};

export class OtlpError extends Error {}

// ---- OTLP/JSON ----

function jsonValue(v: any): unknown {
  if (v === null || typeof v !== 'object') return undefined;
  if ('stringValue' in v) return v.stringValue;
  if ('boolValue' in v) return v.boolValue;
  if ('intValue' in v) return Number(v.intValue);
  if ('doubleValue' in v) return Number(v.doubleValue);
  if ('arrayValue' in v) return ((v.arrayValue?.values ?? []) as any[]).map(jsonValue);
  if ('kvlistValue' in v) return jsonAttributes(v.kvlistValue?.values);
  if ('bytesValue' in v) return v.bytesValue;
  return undefined;
}

function jsonAttributes(list: unknown): Attributes {
  const out: Attributes = {};
  if (Array.isArray(list)) for (const kv of list) if (kv && typeof kv.key === 'string') out[kv.key] = jsonValue(kv.value);
  return out;
}

/** OTLP/JSON ids are hex; some senders use base64 (protobuf's JSON mapping). */
function jsonId(v: unknown, bytes: number): string {
  if (typeof v !== 'string' || v === '') return '';
  if (v.length === bytes * 2 && /^[0-9a-fA-F]+$/.test(v)) return v.toLowerCase();
  return Buffer.from(v, 'base64').toString('hex');
}

const nanos = (v: unknown) => Number(v ?? 0) / 1e9;

export function decodeJsonRequest(text: string): OtlpResourceSpans[] {
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    throw new OtlpError('request body is not JSON');
  }
  if (!body || typeof body !== 'object') throw new OtlpError('request body is not an ExportTraceServiceRequest');
  return ((body.resourceSpans ?? []) as any[]).map((rs) => ({
    resource: jsonAttributes(rs.resource?.attributes),
    scopes: ((rs.scopeSpans ?? rs.instrumentationLibrarySpans ?? []) as any[]).map((ss) => ({
      name: String(ss.scope?.name ?? ''),
      spans: ((ss.spans ?? []) as any[]).map((s): OtlpSpan => ({
        traceId: jsonId(s.traceId, 16),
        spanId: jsonId(s.spanId, 8),
        parentSpanId: jsonId(s.parentSpanId, 8) || undefined,
        name: String(s.name ?? ''),
        kind: typeof s.kind === 'string' ? (KIND_NAMES[s.kind] ?? 0) : Number(s.kind ?? 0),
        start: nanos(s.startTimeUnixNano),
        end: nanos(s.endTimeUnixNano),
        attributes: jsonAttributes(s.attributes),
        events: ((s.events ?? []) as any[]).map((e) => ({
          time: nanos(e.timeUnixNano),
          name: String(e.name ?? ''),
          attributes: jsonAttributes(e.attributes),
        })),
        status: {
          code: typeof s.status?.code === 'string' ? (s.status.code === 'STATUS_CODE_ERROR' ? 2 : 0) : Number(s.status?.code ?? 0),
          message: s.status?.message,
        },
      })),
    })),
  }));
}

// ---- spans → segments ----

const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
const num = (v: unknown) => (typeof v === 'number' ? v : typeof v === 'string' && v !== '' && !isNaN(Number(v)) ? Number(v) : undefined);

function httpOf(a: Attributes, server: boolean): SegmentDoc['http'] | undefined {
  const method = str(a['http.request.method']) ?? str(a['http.method']);
  const status = num(a['http.response.status_code']) ?? num(a['http.status_code']);
  let url = str(a['url.full']) ?? str(a['http.url']);
  if (!url) {
    const host = str(a['server.address']) ?? str(a['http.host']) ?? str(a['net.host.name']);
    const path = str(a['url.path']) ?? str(a['http.target']);
    if (host && path !== undefined) {
      const port = num(a['server.port']) ?? num(a['net.host.port']);
      url = `${str(a['url.scheme']) ?? str(a['http.scheme']) ?? 'http'}://${host}${port ? `:${port}` : ''}${path}${str(a['url.query']) ? `?${a['url.query']}` : ''}`;
    }
  }
  if (!method && status === undefined && !url) return undefined;
  const request: NonNullable<SegmentDoc['http']>['request'] = { method, url };
  const ua = str(a['user_agent.original']) ?? str(a['http.user_agent']);
  if (ua) request.user_agent = ua;
  const ip = server ? (str(a['client.address']) ?? str(a['http.client_ip']) ?? str(a['net.sock.peer.addr'])) : undefined;
  if (ip) request.client_ip = ip;
  return { request, response: status !== undefined ? { status } : undefined };
}

function downstreamName(s: OtlpSpan, a: Attributes): { name: string; namespace: 'aws' | 'remote' } {
  const isAws = a['rpc.system'] === 'aws-api' || str(a['aws.service']) !== undefined;
  if (isAws) return { name: str(a['rpc.service']) ?? str(a['aws.service']) ?? s.name, namespace: 'aws' };
  const peer = str(a['peer.service']);
  if (peer) return { name: peer, namespace: 'remote' };
  const db = str(a['db.system']);
  const host = str(a['server.address']) ?? str(a['net.peer.name']) ?? str(a['http.host']);
  if (db) return { name: str(a['db.name']) && host ? `${a['db.name']}@${host}` : (str(a['db.name']) ?? host ?? db), namespace: 'remote' };
  if (host) return { name: host, namespace: 'remote' };
  const url = str(a['url.full']) ?? str(a['http.url']);
  if (url) {
    try {
      return { name: new URL(url).hostname, namespace: 'remote' };
    } catch {
      /* not a URL: the span's name below */
    }
  }
  return { name: s.name, namespace: 'remote' };
}

/** One span as an X-Ray document (a segment, or an independent subsegment under its parent). */
export function spanToDocument(s: OtlpSpan, resource: Attributes): SegmentDoc {
  const a = s.attributes;
  const isSegment = s.kind === KIND.SERVER || s.kind === KIND.CONSUMER || !s.parentSpanId;
  const doc: SegmentDoc = {
    trace_id: xrayTraceId(s.traceId),
    id: s.spanId,
    name: s.name,
    start_time: s.start,
    end_time: Math.max(s.end, s.start),
  };
  if (s.parentSpanId) doc.parent_id = s.parentSpanId;
  if (isSegment) {
    doc.name = str(resource['service.name']) ?? 'unknown_service';
    const origin = ORIGINS[str(resource['cloud.platform']) ?? ''];
    if (origin) doc.origin = origin;
    const user = str(a['enduser.id']);
    if (user) doc.user = user;
    const version = str(resource['service.version']);
    if (version) doc.service = { version };
  } else {
    doc.type = 'subsegment';
    if (s.kind === KIND.CLIENT || s.kind === KIND.PRODUCER) {
      const d = downstreamName(s, a);
      doc.name = d.name;
      doc.namespace = d.namespace;
      if (d.namespace === 'aws') {
        const tables = a['aws.dynamodb.table_names'];
        doc.aws = {
          operation: str(a['rpc.method']) ?? s.name,
          region: str(a['cloud.region']),
          table_name: Array.isArray(tables) ? tables[0] : undefined,
          request_id: str(a['aws.request_id']),
        };
      }
      const db = str(a['db.system']);
      if (db)
        doc.sql = {
          database_type: db,
          sanitized_query: str(a['db.statement']) ?? str(a['db.query.text']),
          user: str(a['db.user']),
          url: str(a['db.connection_string']),
        };
    }
  }
  const http = httpOf(a, isSegment);
  if (http) doc.http = http;
  const status = http?.response?.status;
  if (status !== undefined && status >= 400 && status < 500) {
    doc.error = true;
    if (status === 429) doc.throttle = true;
  } else if ((status !== undefined && status >= 500) || s.status.code === STATUS_ERROR) doc.fault = true;
  const exceptions = s.events
    .filter((e) => e.name === 'exception')
    .map((e, i) => ({
      id: `${s.spanId.slice(0, 12)}${String(i).padStart(4, '0')}`,
      type: str(e.attributes['exception.type']),
      message: str(e.attributes['exception.message']) ?? s.status.message,
      stack: str(e.attributes['exception.stacktrace']),
    }));
  if (exceptions.length) doc.cause = { exceptions };
  const indexed = new Set(Array.isArray(a['aws.xray.annotations']) ? (a['aws.xray.annotations'] as unknown[]).map(String) : []);
  const annotations: Record<string, string | number | boolean> = {};
  const metadata: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(a)) {
    if (k === 'aws.xray.annotations') continue;
    if (indexed.has(k) && (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean'))
      annotations[k.replace(/[^A-Za-z0-9_]/g, '_')] = v;
    else metadata[k] = v;
  }
  if (Object.keys(annotations).length) doc.annotations = annotations;
  if (Object.keys(metadata).length) doc.metadata = { default: metadata };
  return doc;
}

export function documentsOf(batches: OtlpResourceSpans[]): SegmentDoc[] {
  const docs: SegmentDoc[] = [];
  for (const rs of batches)
    for (const scope of rs.scopes)
      for (const s of scope.spans) {
        if (!/^[0-9a-f]{32}$/.test(s.traceId) || !/^[0-9a-f]{16}$/.test(s.spanId))
          throw new OtlpError('span with an invalid trace or span id');
        docs.push(spanToDocument(s, rs.resource));
      }
  return docs;
}

// ---- the route ----

export function otlpRoute(ingest: Ingest, credentials: Credentials, region: string): HttpRoute {
  return {
    prefix: '/v1/traces',
    claims: (req) => req.method === 'POST' && (req.url === '/v1/traces' || req.url!.startsWith('/v1/traces?')),
    async handle(req: IncomingMessage, res: ServerResponse) {
      const proto = !/json/i.test(String(req.headers['content-type'] ?? ''));
      const fail = (status: number, message: string) => {
        const body = proto ? encodeStatus(3, message) : Buffer.from(JSON.stringify({ code: 3, message }));
        res
          .writeHead(status, { 'Content-Type': proto ? 'application/x-protobuf' : 'application/json', 'Content-Length': body.length })
          .end(body);
      };
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const c of req as AsyncIterable<Buffer>) {
        size += c.length;
        if (size > MAX_BODY) return fail(413, 'request body too large');
        chunks.push(c);
      }
      let body = Buffer.concat(chunks);
      try {
        if (/gzip/i.test(String(req.headers['content-encoding'] ?? ''))) body = gunzipSync(body);
        const batches = proto ? decodeTraceRequest(body) : decodeJsonRequest(body.toString('utf8'));
        const auth = readSigV4(req.headers, new URLSearchParams());
        const scope: Scope = { account: auth ? credentials.accountOf(auth.accessKeyId) : DEFAULT_ACCOUNT, region: auth?.region || region };
        const refused = ingest(scope, documentsOf(batches));
        const partial = refused.length ? { rejectedSpans: refused.length, errorMessage: refused[0].Message } : undefined;
        const out = proto ? Buffer.alloc(0) : Buffer.from(JSON.stringify(partial ? { partialSuccess: partial } : {}));
        res
          .writeHead(200, { 'Content-Type': proto ? 'application/x-protobuf' : 'application/json', 'Content-Length': out.length })
          .end(out);
      } catch (e) {
        if (e instanceof ProtobufError || e instanceof OtlpError || (e as NodeJS.ErrnoException).code === 'Z_DATA_ERROR')
          return fail(400, (e as Error).message);
        throw e;
      }
    },
  };
}
