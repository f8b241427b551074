/**
 * The REST bindings shared by restXml and restJson: routing a method + path + query to an operation
 * through the models' requestUri templates ("/{Bucket}/{Key+}?uploads"), reading labels, query
 * strings, headers and header-prefix maps into input members, and writing output members back to
 * status, headers and a payload. The body format (XML or JSON) is the caller's.
 */
import type { ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AwsError } from '../core/errors.js';
import type { Operation, ServiceModel, Shape } from '../model/model.js';
import { AwsChunkedDecoder, isAwsChunked } from './awsChunked.js';
import type { WireRequest } from './types.js';
import { formatTimestamp, scalarFromString, type TimestampFormat } from './values.js';

interface Route {
  op: Operation;
  method: string;
  regex: RegExp;
  labels: string[];
  query: [string, string | undefined][];
  /** Headers bound to required members: CopyObject shares PutObject's template but needs x-amz-copy-source. */
  requiredHeaders: string[];
  /** Query parameters bound to required members: UploadPart needs partNumber and uploadId. */
  requiredQuery: string[];
  score: number;
}

const routeCache = new WeakMap<ServiceModel, Route[]>();

function compileRoutes(model: ServiceModel): Route[] {
  let routes = routeCache.get(model);
  if (routes) return routes;
  routes = [];
  for (const op of model.operations.values()) {
    const uri = op.http.requestUri ?? '/';
    const [pathPart, queryPart] = uri.split('?');
    const labels: string[] = [];
    let literalChars = 0;
    let greedy = false;
    const pattern = pathPart.replace(/\{([^}]+)\}|[^{]+/g, (m, label: string | undefined) => {
      if (!label) {
        literalChars += m.length;
        return m.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      }
      if (label.endsWith('+')) {
        greedy = true;
        labels.push(label.slice(0, -1));
        return '(.+)';
      }
      labels.push(label);
      return '([^/]+)';
    });
    const query: [string, string | undefined][] = [];
    for (const part of queryPart ? queryPart.split('&') : []) {
      const [k, v] = part.split('=');
      if (k !== 'x-id') query.push([k, v]);
    }
    const trailing = pattern.endsWith('/') ? '' : '/?';
    const required = (op.input?.required ?? []).map((name) => model.member(op.input!, name));
    const requiredHeaders = required.filter((m) => m.location === 'header').map((m) => m.locationName!.toLowerCase());
    const requiredQuery = required.filter((m) => m.location === 'querystring' && m.locationName).map((m) => m.locationName!);
    routes.push({
      op,
      method: op.http.method ?? 'POST',
      regex: new RegExp(`^${pattern}${trailing}$`),
      labels,
      query,
      requiredHeaders,
      requiredQuery,
      // a deprecated operation loses ties to its replacement on the same route
      score:
        (query.length + requiredQuery.length) * 1000 +
        requiredHeaders.length * 100 +
        literalChars * 2 -
        labels.length -
        (greedy ? 1 : 0) -
        (op.deprecated ? 0.5 : 0),
    });
  }
  routes.sort((a, b) => b.score - a.score);
  routeCache.set(model, routes);
  return routes;
}

/** Finds the operation a REST request addresses; the most specific template wins. */
export function matchRestRoute(
  model: ServiceModel,
  method: string,
  path: string,
  query: URLSearchParams,
  headers: Record<string, unknown>,
) {
  for (const route of compileRoutes(model)) {
    if (route.method !== method) continue;
    if (!route.requiredHeaders.every((h) => headers[h] !== undefined)) continue;
    if (!route.requiredQuery.every((k) => query.has(k))) continue;
    const m = route.regex.exec(path);
    if (!m) continue;
    if (!route.query.every(([k, v]) => query.has(k) && (v === undefined || query.get(k) === v))) continue;
    const labels: Record<string, string> = {};
    route.labels.forEach((name, i) => (labels[name] = safeDecode(m[i + 1])));
    return { op: route.op, labels };
  }
  return undefined;
}

const safeDecode = (s: string) => {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
};

/** The input member bound to the payload, when the operation streams it (PutObject's Body). */
export function streamingPayload(model: ServiceModel, op: Operation): string | undefined {
  const name = op.input?.payload;
  if (!name) return undefined;
  const m = model.member(op.input!, name);
  return m.type === 'blob' && m.streaming ? name : undefined;
}

export function readRestInput(
  model: ServiceModel,
  op: Operation,
  req: WireRequest,
  labels: Record<string, string>,
  readBody: (shape: Shape, body: Buffer, isPayloadMember: boolean) => unknown,
): Record<string, unknown> {
  const shape = op.input;
  const out: Record<string, unknown> = {};
  if (!shape) return out;
  const bound = new Set<string>();
  let queryMap: string | undefined;
  for (const name in shape.members) {
    const m = model.member(shape, name);
    const wire = m.locationName ?? name;
    switch (m.location) {
      case 'uri':
        if (labels[wire] !== undefined) out[name] = scalarFromString(m, labels[wire], name);
        break;
      case 'querystring':
        if (m.type === 'map') {
          queryMap = name;
          break;
        }
        bound.add(wire);
        if (!req.query.has(wire)) break;
        out[name] =
          m.type === 'list'
            ? req.query.getAll(wire).map((v) => scalarFromString(model.resolve(m.member!), v, name))
            : scalarFromString(m, req.query.get(wire)!, name);
        break;
      case 'header': {
        let raw = req.headers[wire.toLowerCase()];
        if (raw === undefined) break;
        if (Array.isArray(raw)) raw = raw.join(', ');
        if (wire.toLowerCase() === 'content-encoding') {
          raw = raw
            .split(',')
            .map((s) => s.trim())
            .filter((s) => s && s !== 'aws-chunked')
            .join(', ');
          if (!raw) break;
        }
        if (wire.toLowerCase() === 'content-length' && req.headers['x-amz-decoded-content-length'])
          raw = String(req.headers['x-amz-decoded-content-length']);
        if (m.jsonvalue) out[name] = JSON.parse(Buffer.from(raw, 'base64').toString('utf8'));
        else if (m.type === 'list') out[name] = raw.split(',').map((s) => scalarFromString(model.resolve(m.member!), s.trim(), name));
        else out[name] = scalarFromString(m, raw, name);
        break;
      }
      case 'headers': {
        const prefix = wire.toLowerCase();
        const map: Record<string, string> = {};
        for (const [h, v] of Object.entries(req.headers))
          if (h.startsWith(prefix) && v !== undefined) map[h.slice(prefix.length)] = String(v);
        if (Object.keys(map).length) out[name] = map;
        break;
      }
    }
  }
  if (queryMap) {
    const map: Record<string, string> = {};
    for (const [k, v] of req.query) if (!bound.has(k)) map[k] = v;
    out[queryMap] = map;
  }
  const payload = shape.payload;
  if (payload) {
    const m = model.member(shape, payload);
    if (m.type === 'blob' && m.streaming) out[payload] = requestStream(req);
    else if (req.body && req.body.length) {
      out[payload] = m.type === 'blob' ? req.body : m.type === 'string' ? req.body.toString('utf8') : readBody(m, req.body, true);
    }
  } else if (req.body && req.body.length) {
    Object.assign(out, readBody(shape, req.body, false));
  }
  return out;
}

/**
 * The request body as a stream of payload bytes, with aws-chunked framing removed and, in strict
 * mode, checked against what was signed (req.payloadCheck): a mismatch fails the stream at its end,
 * so whoever stores it (core/blobs.ts) never commits it.
 */
export function requestStream(req: WireRequest): Readable {
  const check = req.payloadCheck;
  if (!isAwsChunked(req.headers)) {
    if (!check || !('sha256' in check)) return req.stream;
    const verified = new Sha256Check(check.sha256);
    pipeline(req.stream, verified).catch(() => {});
    return verified;
  }
  const declared = req.headers['x-amz-decoded-content-length'];
  const expected = declared === undefined ? undefined : Number(declared);
  if (expected !== undefined && !(Number.isSafeInteger(expected) && expected >= 0))
    throw new AwsError('InvalidArgument', 'x-amz-decoded-content-length is not a valid number of bytes', 400);
  const decoder =
    check && 'chunks' in check ? new AwsChunkedDecoder(expected, check.chunks, check.signedTrailer) : new AwsChunkedDecoder(expected);
  // pipeline puts an error handler on both: a decoder error (bad framing, wrong length) fails the
  // handler's read of the stream, or is dropped when nobody reads it, instead of crashing the process
  pipeline(req.stream, decoder).catch(() => {});
  return decoder;
}

/** Passes the body through and fails at its end unless it hashes to the signed x-amz-content-sha256. */
class Sha256Check extends Transform {
  private hash = createHash('sha256');
  constructor(private readonly expected: string) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
    this.hash.update(chunk);
    cb(null, chunk);
  }
  override _flush(cb: TransformCallback) {
    const computed = this.hash.digest('hex');
    cb(computed === this.expected ? null : contentSha256Mismatch(this.expected, computed));
  }
}

export const contentSha256Mismatch = (client: string, computed: string) =>
  new AwsError('XAmzContentSHA256Mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed.", 400, {
    ClientComputedContentSHA256: client,
    S3ComputedContentSHA256: computed,
  });

/**
 * A handler may set this (non-member) key on its output to answer with a status the model has no
 * member for, e.g. S3 GetObject's 206 Partial Content for a Range request.
 */
export const HTTP_STATUS = Symbol.for('opsbox.httpStatus');

export interface RestOutput {
  status: number;
  headers: Record<string, string | number>;
  /** Name of the payload member, or undefined when body members are serialized together. */
  payload?: { name: string; shape: Shape };
}

export function writeRestOutput(model: ServiceModel, op: Operation, output: Record<string, unknown>): RestOutput {
  const override = (output as Record<symbol, unknown>)[HTTP_STATUS];
  const result: RestOutput = { status: typeof override === 'number' ? override : (op.http.responseCode ?? 200), headers: {} };
  const shape = op.output;
  if (!shape) return result;
  for (const name in shape.members) {
    const v = output[name];
    if (v === undefined || v === null) continue;
    const m = model.member(shape, name);
    const wire = m.locationName ?? name;
    switch (m.location) {
      case 'statusCode':
        result.status = Number(v);
        break;
      case 'header':
        if (m.jsonvalue) result.headers[wire] = Buffer.from(JSON.stringify(v)).toString('base64');
        else if (m.type === 'timestamp')
          result.headers[wire] = String(formatTimestamp(v as Date, (m.timestampFormat as TimestampFormat) ?? 'rfc822'));
        else if (m.type === 'list') result.headers[wire] = (v as unknown[]).join(',');
        else result.headers[wire] = String(v);
        break;
      case 'headers':
        for (const [k, val] of Object.entries(v as object)) result.headers[wire + k] = String(val);
        break;
    }
  }
  if (shape.payload) result.payload = { name: shape.payload, shape: model.member(shape, shape.payload) };
  return result;
}

/** Sends a blob payload: a Buffer, string or Readable (streamed, never buffered). */
export async function sendBlob(res: ServerResponse, body: unknown, headOnly: boolean) {
  if (body === undefined || body === null || headOnly) {
    if (body instanceof Readable) body.destroy();
    res.end();
    return;
  }
  if (body instanceof Readable) {
    await pipeline(body, res).catch(() => res.destroy());
    return;
  }
  res.end(Buffer.isBuffer(body) ? body : Buffer.from(String(body)));
}
