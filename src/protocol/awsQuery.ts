/**
 * awsQuery: form-encoded requests (Action=…&Version=…&Tags.member.1.Key=…), XML responses
 * wrapped in <OpResponse><OpResult>…</OpResult><ResponseMetadata/></OpResponse>, errors as
 * <ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>.
 * IAM, STS, CloudWatch (for the aws CLI v2), CloudFormation and SNS speak it.
 */
import type { ServerResponse } from 'node:http';
import type { AwsError } from '../core/errors.js';
import type { Operation, ServiceModel, Shape } from '../model/model.js';
import type { Protocol, ResponseMeta, WireRequest } from './types.js';
import { scalarFromString } from './values.js';
import { escapeXml, writeMembers } from './xml.js';

/** The form fields of a query request: body for POST, query string for GET. */
export function queryParams(req: WireRequest): URLSearchParams {
  if (req.method === 'GET' || !req.body?.length) return req.query;
  return new URLSearchParams(req.body.toString('utf8'));
}

class Params {
  private prefixes = new Set<string>();
  constructor(readonly map: Map<string, string>) {
    for (const key of map.keys()) {
      let i = key.indexOf('.');
      while (i !== -1) {
        this.prefixes.add(key.slice(0, i));
        i = key.indexOf('.', i + 1);
      }
    }
  }
  has(prefix: string) {
    return this.map.has(prefix) || this.prefixes.has(prefix);
  }
}

function readStructure(model: ServiceModel, shape: Shape, params: Params, prefix: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name in shape.members) {
    const member = model.member(shape, name);
    const key = prefix + (member.queryName ?? member.locationName ?? name);
    if (!params.has(key)) continue;
    out[name] = readValue(model, member, params, key);
  }
  return out;
}

function readValue(model: ServiceModel, shape: Shape, params: Params, key: string): unknown {
  switch (shape.type) {
    case 'structure':
      return readStructure(model, shape, params, key + '.');
    case 'list': {
      const item = model.resolve(shape.member!);
      if (params.map.get(key) === '') return [];
      const base = shape.flattened ? key : `${key}.${item.locationName ?? 'member'}`;
      const out: unknown[] = [];
      for (let i = 1; params.has(`${base}.${i}`); i++) out.push(readValue(model, item, params, `${base}.${i}`));
      return out;
    }
    case 'map': {
      const k = model.resolve(shape.key!);
      const v = model.resolve(shape.value!);
      const base = shape.flattened ? key : `${key}.entry`;
      const out: Record<string, unknown> = {};
      for (let i = 1; params.has(`${base}.${i}`); i++) {
        const name = params.map.get(`${base}.${i}.${k.locationName ?? 'key'}`);
        if (name === undefined) continue;
        out[name] = readValue(model, v, params, `${base}.${i}.${v.locationName ?? 'value'}`);
      }
      return out;
    }
    default:
      return scalarFromString(shape, params.map.get(key) ?? '', key);
  }
}

export function parseQueryInput(model: ServiceModel, shape: Shape | undefined, form: URLSearchParams) {
  if (!shape) return {};
  return readStructure(model, shape, new Params(new Map(form)), '');
}

export const awsQuery: Protocol = {
  name: 'query',

  parse(model, op, req) {
    return parseQueryInput(model, op.input, queryParams(req));
  },

  serialize(op: Operation, output: any, meta: ResponseMeta, res: ServerResponse) {
    const ns = meta.model.metadata.xmlNamespace as string;
    const out = [`<${op.name}Response xmlns="${ns}">`];
    if (op.output) {
      const wrapper = op.output.resultWrapper ?? `${op.name}Result`;
      out.push(`<${wrapper}>`);
      writeMembers(meta.model, op.output, output ?? {}, out);
      out.push(`</${wrapper}>`);
    }
    out.push(`<ResponseMetadata><RequestId>${meta.requestId}</RequestId></ResponseMetadata></${op.name}Response>`);
    send(res, 200, out.join(''), meta);
  },

  serializeError(err: AwsError, meta: ResponseMeta, res: ServerResponse) {
    const ns = meta.model.metadata.xmlNamespace as string;
    const extra = Object.entries(err.fields)
      .map(([k, v]) => `<${k}>${escapeXml(String(v))}</${k}>`)
      .join('');
    const body =
      `<ErrorResponse xmlns="${ns}"><Error><Type>${err.sender ? 'Sender' : 'Receiver'}</Type>` +
      `<Code>${err.code}</Code><Message>${escapeXml(err.message)}</Message>${extra}</Error>` +
      `<RequestId>${meta.requestId}</RequestId></ErrorResponse>`;
    send(res, err.status, body, meta);
  },
};

function send(res: ServerResponse, status: number, body: string, meta: ResponseMeta) {
  const buf = Buffer.from(body, 'utf8');
  res.writeHead(status, {
    'Content-Type': 'text/xml',
    'Content-Length': buf.length,
    'x-amzn-RequestId': meta.requestId,
  });
  res.end(buf);
}
