/**
 * A model-driven fuzzer for a running opsbox: for every operation of every served service it builds
 * inputs from the operation's input shape (fast-check), then mutates them as a hostile client would
 * (nulls, wrong types, huge and deep values, unknown members, truncated bodies), and sends them over
 * the service's wire protocols (awsJson 1.0/1.1, awsQuery, rest-xml, rpc-v2-cbor).
 * The properties: no answer is a 5xx, every answer arrives within a time bound, the server stays
 * healthy. `npm test` runs a bounded budget (test/integration/fuzz.test.ts), `npm run fuzz` a longer one.
 */
import fc from 'fast-check';
import { encode as cborEncode } from 'cbor2';
import { loadModel, type Operation, type ServiceModel, type Shape } from '../../src/model/model.js';
import { allServices } from '../../src/services/index.js';
import type { ServiceSpec } from '../../src/gateway/service.js';

/** Known hostile inputs, replayed before the random ones. */
export const SEEDS: { name: string; request: FuzzRequest }[] = [
  { name: 'JSON body null', request: json('CodeCommit_20150413.GetRepository', 'null') },
  { name: 'null list element', request: json('CodeCommit_20150413.BatchGetRepositories', '{"repositoryNames":[null]}') },
  {
    name: 'putFiles [null]',
    request: json('CodeCommit_20150413.CreateCommit', '{"repositoryName":"r","branchName":"main","putFiles":[null]}'),
  },
  { name: 'Targets [null]', request: json('AWSEvents.PutTargets', '{"Rule":"r","Targets":[null]}') },
  {
    name: 'MetricDataQueries null element',
    request: json(
      'GraniteServiceVersion20100801.GetMetricData',
      '{"MetricDataQueries":[{"Id":"a","Expression":"1"},null],"StartTime":0,"EndTime":1}',
      '1.0',
    ),
  },
  {
    name: 'deep timestamp',
    request: json(
      'Logs_20140328.PutLogEvents',
      `{"logGroupName":"g","logStreamName":"s","logEvents":[{"timestamp":${'['.repeat(5000)}1${']'.repeat(5000)},"message":"m"}]}`,
    ),
  },
  {
    name: 'SNS attribute without DataType',
    request: query(
      'Action=Publish&Version=2010-03-31&TopicArn=arn:aws:sns:us-east-1:000000000000:t&Message=m&MessageAttributes.entry.1.Name=a&MessageAttributes.entry.1.Value.StringValue=v',
    ),
  },
  {
    name: 'git garbage pkt-line',
    request: {
      method: 'POST',
      path: '/v1/repos/nope/git-upload-pack',
      headers: { 'content-type': 'application/x-git-upload-pack-request' },
      body: Buffer.from('zzzzgarbage'),
    },
  },
];

export interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

function json(target: string, body: string, version = '1.1'): FuzzRequest {
  return {
    method: 'POST',
    path: '/',
    headers: { 'x-amz-target': target, 'content-type': `application/x-amz-json-${version}`, authorization: auth(target) },
    body: Buffer.from(body),
  };
}

function query(body: string, service = 'sns'): FuzzRequest {
  return {
    method: 'POST',
    path: '/',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: auth(service) },
    body: Buffer.from(body),
  };
}

/** An unverified SigV4 header naming the service (default auth mode reads only the scope). */
function auth(service: string) {
  const scope = service.includes('.') ? 'x' : service;
  return `AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/${scope}/aws4_request, SignedHeaders=host, Signature=${'0'.repeat(64)}`;
}

const text = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.constantFrom(
    '',
    ' ',
    'a'.repeat(300),
    '../../etc/passwd',
    'arn:aws:s3:::x',
    'arn:aws:iam::111111111111:role/r',
    '\u0000',
    '%',
    '{',
    '*',
  ),
);
const hostile = fc.oneof(
  fc.constant(null),
  fc.constant([null]),
  fc.constant({}),
  fc.constant('x'.repeat(70_000)),
  fc.integer(),
  fc.double(),
  fc.constantFrom(1e308, -1, Number.MAX_SAFE_INTEGER, true, 'not-a-number'),
  fc.constant(Array.from({ length: 3000 }, () => ({}))),
  fc.anything({ maxDepth: 3 }),
);

/** An arbitrary value of a shape, sometimes replaced by a hostile one (nulls, wrong types, sizes). */
function valueOf(model: ServiceModel, shape: Shape, depth: number): fc.Arbitrary<unknown> {
  const wellTyped = ((): fc.Arbitrary<unknown> => {
    if (depth > 6) return fc.constant(undefined);
    switch (shape.type) {
      case 'structure': {
        const members = Object.keys(shape.members ?? {});
        if (shape.document || members.length === 0) return fc.anything({ maxDepth: 2 });
        const rec: Record<string, fc.Arbitrary<unknown>> = {};
        for (const name of members) rec[name] = valueOf(model, model.member(shape, name), depth + 1);
        return fc.record(rec, { requiredKeys: (shape.required ?? []).filter((r) => members.includes(r)) });
      }
      case 'list':
        return fc.array(valueOf(model, model.resolve(shape.member!), depth + 1), { maxLength: 3 });
      case 'map':
        return fc.dictionary(fc.string({ maxLength: 6 }), valueOf(model, model.resolve(shape.value!), depth + 1), { maxKeys: 3 });
      case 'integer':
      case 'long':
        return fc.integer({ min: -5, max: 100_000 });
      case 'float':
      case 'double':
        return fc.double({ noNaN: true, noDefaultInfinity: true });
      case 'boolean':
        return fc.boolean();
      case 'timestamp':
        return fc.oneof(fc.integer({ min: 0, max: 2_000_000_000 }), fc.constantFrom('2026-01-01T00:00:00Z', 'yesterday'));
      case 'blob':
        return fc.base64String({ maxLength: 40 });
      default:
        return text;
    }
  })();
  return fc.oneof({ weight: 6, arbitrary: wellTyped }, { weight: 1, arbitrary: hostile });
}

/** awsQuery's flattened form of a value (Member.1.Key=…), the way botocore writes it. */
function flatten(value: unknown, prefix: string, out: URLSearchParams) {
  if (value === null || value === undefined) return;
  if (Array.isArray(value)) value.forEach((v, i) => flatten(v, `${prefix}.member.${i + 1}`, out));
  else if (typeof value === 'object') for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  else out.append(prefix, String(value));
}

interface Target {
  spec: ServiceSpec;
  model: ServiceModel;
  op: Operation;
}

function targets(): Target[] {
  const out: Target[] = [];
  for (const spec of allServices()) {
    const model = loadModel(spec.model);
    for (const op of model.operations.values()) out.push({ spec, model, op });
  }
  return out;
}

/** One request for an operation: its input (possibly mutated) on one of the service's protocols. */
function requestArb(t: Target): fc.Arbitrary<FuzzRequest> {
  const input = t.op.input ? valueOf(t.model, t.op.input, 0) : fc.constant({});
  const protocols = t.spec.protocols;
  return fc.tuple(input, fc.constantFrom(...protocols), fc.nat({ max: 9 })).map(([value, protocol, cut]): FuzzRequest => {
    const name = t.op.name;
    const signing = t.spec.signingName;
    let req: FuzzRequest;
    if (protocol.startsWith('json')) {
      const prefix = t.spec.targetPrefix ?? t.model.metadata.targetPrefix;
      req = json(`${prefix}.${name}`, JSON.stringify(value) ?? 'null', protocol === 'json1.0' ? '1.0' : '1.1');
    } else if (protocol === 'query') {
      const form = new URLSearchParams({ Action: name, Version: t.model.metadata.apiVersion });
      flatten(value, '', form);
      req = query(form.toString(), signing);
    } else if (protocol === 'rpc-v2-cbor') {
      const body = Buffer.from(cborEncode(value ?? null));
      req = {
        method: 'POST',
        path: `/service/${t.spec.smithyName}/operation/${name}`,
        headers: {
          'smithy-protocol': 'rpc-v2-cbor',
          'content-type': 'application/cbor',
          accept: 'application/cbor',
          authorization: auth(signing),
        },
        body,
      };
    } else {
      // rest: the operation's route with its labels filled from the input where it has them
      const uri = (t.op.http.requestUri ?? '/').replace(/\{(\w+)\+?\}/g, (_m, label: string) => {
        const v = (value as Record<string, unknown> | null)?.[label];
        return encodeURIComponent(typeof v === 'string' && v ? v : 'fuzz-bucket');
      });
      req = {
        method: t.op.http.method ?? 'GET',
        path: uri,
        headers: { authorization: auth(signing), 'content-type': 'application/xml' },
        body: Buffer.from(`<x>${JSON.stringify(value)}</x>`),
      };
    }
    // now and then the body is cut short, as by a client that lost its connection mid-write
    if (cut === 0 && req.body && req.body.length > 2) req.body = req.body.subarray(0, req.body.length >> 1);
    return req;
  });
}

export interface FuzzReport {
  sent: number;
  failures: { name: string; status: number | string; body: string; request: FuzzRequest }[];
}

/** Sends one request; a 5xx, a transport error or an answer later than `timeoutMs` is a failure. */
async function send(url: string, req: FuzzRequest, timeoutMs: number): Promise<{ status: number | string; body: string }> {
  try {
    const res = await fetch(url + req.path, {
      method: req.method,
      headers: req.headers,
      body: req.method === 'GET' || req.method === 'HEAD' || !req.body ? undefined : new Uint8Array(req.body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    return { status: res.status, body: (await res.text()).slice(0, 300) };
  } catch (err) {
    return { status: `transport: ${(err as Error).message}`, body: '' };
  }
}

/** Runs the seeds, then `runs` random requests per operation; reports what broke a property. */
export async function fuzz(url: string, opts: { runs: number; seed?: number; timeoutMs?: number }): Promise<FuzzReport> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const report: FuzzReport = { sent: 0, failures: [] };
  const check = async (name: string, req: FuzzRequest) => {
    const r = await send(url, req, timeoutMs);
    report.sent++;
    // 501 NotImplemented is the uniform answer of an operation opsbox does not serve yet
    if (typeof r.status !== 'number' || (r.status >= 500 && r.status !== 501))
      report.failures.push({ name, status: r.status, body: r.body, request: req });
  };
  for (const s of SEEDS) await check(`seed: ${s.name}`, s.request);
  for (const t of targets()) {
    const samples = fc.sample(requestArb(t), { numRuns: opts.runs, seed: opts.seed ?? 42 });
    for (const req of samples) await check(`${t.spec.name} ${t.op.name}`, req);
  }
  return report;
}
