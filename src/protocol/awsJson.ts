/**
 * awsJson 1.0 and 1.1: POST / with X-Amz-Target: <TargetPrefix>.<Operation> and a JSON body.
 * Errors are {"__type": Code, "message": …} with x-amzn-ErrorType; services that are
 * awsQueryCompatible (CloudWatch, SQS) also send x-amzn-query-error: Code;Sender|Receiver.
 */
import type { ServerResponse } from 'node:http';
import type { AwsError } from '../core/errors.js';
import type { Operation } from '../model/model.js';
import { fromJson, toJson } from './jsonValues.js';
import type { Protocol, ResponseMeta, WireProtocol, WireRequest } from './types.js';
import { serializationError } from './values.js';

export function parseJsonBody(body: Buffer | undefined): unknown {
  if (!body || body.length === 0) return {};
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw serializationError('Start of structure or map found where not expected.');
  }
}

function makeAwsJson(version: '1.0' | '1.1'): Protocol {
  const contentType = `application/x-amz-json-${version}`;
  return {
    name: `json${version}` as WireProtocol,

    parse(model, op: Operation, req: WireRequest) {
      const doc = parseJsonBody(req.body);
      if (!op.input) return {};
      return fromJson(model, op.input, doc, '');
    },

    serialize(op: Operation, output: any, meta: ResponseMeta, res: ServerResponse) {
      const doc = op.output ? toJson(meta.model, op.output, output ?? {}) : {};
      const buf = Buffer.from(JSON.stringify(doc), 'utf8');
      res.writeHead(200, { 'Content-Type': contentType, 'Content-Length': buf.length, 'x-amzn-RequestId': meta.requestId });
      res.end(buf);
    },

    serializeError(err: AwsError, meta: ResponseMeta, res: ServerResponse) {
      const buf = Buffer.from(JSON.stringify({ __type: err.code, message: err.message, ...err.fields }), 'utf8');
      const headers: Record<string, string | number> = {
        'Content-Type': contentType,
        'Content-Length': buf.length,
        'x-amzn-RequestId': meta.requestId,
        'x-amzn-ErrorType': err.code,
      };
      if (meta.queryCompatible) headers['x-amzn-query-error'] = `${err.code};${err.sender ? 'Sender' : 'Receiver'}`;
      res.writeHead(err.status, headers);
      res.end(buf);
    },
  };
}

export const awsJson10 = makeAwsJson('1.0');
export const awsJson11 = makeAwsJson('1.1');
