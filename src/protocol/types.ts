import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AwsError } from '../core/errors.js';
import type { Operation, ServiceModel } from '../model/model.js';
import type { ModelPatch } from '../model/patch.js';
import type { ChunkSignatures } from '../gateway/sigv4.js';

/** What strict mode requires of a streamed body: the SHA-256 it was signed with, or its chunk signature chain. */
export type PayloadCheck = { sha256: string } | { chunks: ChunkSignatures; signedTrailer: boolean };

export type WireProtocol = 'query' | 'json1.0' | 'json1.1' | 'rest-json' | 'rest-xml' | 'rpc-v2-cbor';

/** A request as the gateway hands it to a protocol: headers lowercased by node, body read unless streamed. */
export interface WireRequest {
  method: string;
  /** Raw (still percent-encoded) path without the query string. */
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  /** The whole body, for protocols and operations that do not stream. */
  body?: Buffer;
  /** The request itself, for streaming payloads (S3 PutObject, UploadPart). */
  stream: IncomingMessage;
  /** Set by strict mode for a streamed body; requestStream fails the stream when the body does not match. */
  payloadCheck?: PayloadCheck;
}

/** The request as the protocols read it: path and query split, the body still unread (or `body`, already read). */
export function wireRequestOf(req: IncomingMessage, body?: Buffer): WireRequest {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return {
    method: req.method ?? 'GET',
    path: q === -1 ? url : url.slice(0, q),
    query: new URLSearchParams(q === -1 ? '' : url.slice(q + 1)),
    headers: req.headers,
    body,
    stream: req,
  };
}

export interface ResponseMeta {
  requestId: string;
  service: string;
  model: ServiceModel;
  /** awsQueryCompatible services also name the query error code in a header. */
  queryCompatible: boolean;
  patch: ModelPatch;
  /** rest-xml errors as a bare <Error> document with RequestId and HostId (S3: ServiceFront.bareErrors). */
  bareErrors: boolean;
  /** The XML namespace of responses when the model has none (ServiceFront.xmlNamespace). */
  xmlNamespace?: string;
}

export interface Protocol {
  readonly name: WireProtocol;
  parse(model: ServiceModel, op: Operation, req: WireRequest, labels?: Record<string, string>): unknown | Promise<unknown>;
  serialize(op: Operation, output: any, meta: ResponseMeta, res: ServerResponse, req: WireRequest): void | Promise<void>;
  serializeError(err: AwsError, meta: ResponseMeta, res: ServerResponse, req: WireRequest): void;
}
