/**
 * rest-json (Lambda, X-Ray, AppConfig …): REST bindings from rest.ts with JSON bodies. Errors name
 * their code in x-amzn-ErrorType and carry {"message": …}.
 */
import type { ServerResponse } from 'node:http';
import type { AwsError } from '../core/errors.js';
import type { Operation } from '../model/model.js';
import { parseJsonBody } from './awsJson.js';
import { fromJson, toJson } from './jsonValues.js';
import { readRestInput, sendBlob, writeRestOutput } from './rest.js';
import type { Protocol, ResponseMeta, WireRequest } from './types.js';

export const restJson: Protocol = {
  name: 'rest-json',

  parse(model, op: Operation, req: WireRequest, labels = {}) {
    return readRestInput(
      model,
      op,
      req,
      labels,
      (shape, body) => fromJson(model, shape, parseJsonBody(body), '') as Record<string, unknown>,
    );
  },

  async serialize(op: Operation, output: any, meta: ResponseMeta, res: ServerResponse, req: WireRequest) {
    output = output ?? {};
    const out = writeRestOutput(meta.model, op, output);
    const headers: Record<string, string | number> = { 'x-amzn-RequestId': meta.requestId, ...out.headers };
    if (out.payload) {
      const value = output[out.payload.name];
      if (out.payload.shape.type === 'structure' || out.payload.shape.document)
        return send(res, out.status, headers, JSON.stringify(toJson(meta.model, out.payload.shape, value ?? {})));
      res.writeHead(out.status, headers);
      return sendBlob(res, value, req.method === 'HEAD');
    }
    send(res, out.status, headers, JSON.stringify(op.output ? toJson(meta.model, op.output, output) : {}));
  },

  serializeError(err: AwsError, meta: ResponseMeta, res: ServerResponse) {
    send(
      res,
      err.status,
      { 'x-amzn-RequestId': meta.requestId, 'x-amzn-ErrorType': err.code },
      JSON.stringify({ message: err.message, ...err.fields }),
    );
  },
};

function send(res: ServerResponse, status: number, headers: Record<string, string | number>, text: string) {
  const buf = Buffer.from(text, 'utf8');
  res.writeHead(status, { ...headers, 'Content-Type': 'application/json', 'Content-Length': buf.length });
  res.end(buf);
}
