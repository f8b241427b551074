/**
 * Smithy RPC v2 CBOR: POST /service/<ServiceName>/operation/<Operation>, header
 * smithy-protocol: rpc-v2-cbor, CBOR bodies (timestamps as tag 1 epoch seconds, blobs as byte
 * strings). botocore ≥ 1.42, the Go and Ruby SDKs use it for CloudWatch. Errors carry __type and
 * message in the body; awsQueryCompatible services add x-amzn-query-error.
 */
import { decode, encode } from 'cbor2';
import type { ServerResponse } from 'node:http';
import type { AwsError } from '../core/errors.js';
import type { Operation } from '../model/model.js';
import { fromJson, toJson } from './jsonValues.js';
import type { Protocol, ResponseMeta, WireRequest } from './types.js';
import { serializationError } from './values.js';

const encodeCbor = (value: unknown) => Buffer.from(encode(value));

export const RPC_V2_PATH = /^\/service\/([^/]+)\/operation\/([^/]+)$/;

export const rpcv2Cbor: Protocol = {
  name: 'rpc-v2-cbor',

  parse(model, op: Operation, req: WireRequest) {
    let doc: unknown = {};
    if (req.body && req.body.length) {
      try {
        doc = decode(req.body);
      } catch {
        throw serializationError('Malformed CBOR request body');
      }
    }
    if (!op.input) return {};
    return fromJson(model, op.input, doc, '');
  },

  serialize(op: Operation, output: any, meta: ResponseMeta, res: ServerResponse) {
    const doc = op.output ? toJson(meta.model, op.output, output ?? {}, { blobAsBytes: true, timestampAsDate: true }) : {};
    send(res, 200, encodeCbor(doc), meta);
  },

  serializeError(err: AwsError, meta: ResponseMeta, res: ServerResponse) {
    const headers: Record<string, string> = { 'x-amzn-ErrorType': err.code };
    if (meta.queryCompatible) headers['x-amzn-query-error'] = `${err.code};${err.sender ? 'Sender' : 'Receiver'}`;
    send(res, err.status, encodeCbor({ __type: err.code, message: err.message, ...err.fields }), meta, headers);
  },
};

function send(res: ServerResponse, status: number, body: Buffer, meta: ResponseMeta, extra: Record<string, string> = {}) {
  res.writeHead(status, {
    'Content-Type': 'application/cbor',
    'Content-Length': body.length,
    'smithy-protocol': 'rpc-v2-cbor',
    'x-amzn-RequestId': meta.requestId,
    ...extra,
  });
  res.end(body);
}
