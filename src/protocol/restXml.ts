/**
 * rest-xml (S3, and later Route 53 / CloudFront style services): REST bindings from rest.ts with
 * XML bodies. S3 answers errors as <Error><Code/><Message/>…<RequestId/><HostId/></Error>; other
 * rest-xml services wrap them in <ErrorResponse>.
 */
import type { ServerResponse } from 'node:http';
import type { AwsError } from '../core/errors.js';
import { AwsError as Err } from '../core/errors.js';
import type { Operation } from '../model/model.js';
import { readRestInput, sendBlob, writeRestOutput } from './rest.js';
import type { Protocol, ResponseMeta, WireRequest } from './types.js';
import { escapeXml, parseXmlDocument, readStructure, readValue, writeElement, writeMembers } from './xml.js';

const HOST_ID = Buffer.from('opsbox').toString('base64');

export const restXml: Protocol = {
  name: 'rest-xml',

  parse(model, op: Operation, req: WireRequest, labels = {}) {
    return readRestInput(model, op, req, labels, (shape, body, isPayload) => {
      let doc;
      try {
        doc = parseXmlDocument(body.toString('utf8'));
      } catch {
        throw malformedXml();
      }
      const rootName = Object.keys(doc).find((k) => !k.startsWith('?'));
      if (!rootName) throw malformedXml();
      const root = doc[rootName][0];
      return isPayload ? readValue(model, shape, root, shape.locationName ?? rootName) : readStructure(model, shape, root, '');
    });
  },

  async serialize(op: Operation, output: any, meta: ResponseMeta, res: ServerResponse, req: WireRequest) {
    output = output ?? {};
    const out = writeRestOutput(meta.model, op, output);
    const headers: Record<string, string | number> = { 'x-amz-request-id': meta.requestId, 'x-amz-id-2': HOST_ID, ...out.headers };
    const head = req.method === 'HEAD';
    if (out.payload) {
      const value = output[out.payload.name];
      const { shape } = out.payload;
      if (shape.type === 'structure' && value !== undefined) {
        const xml: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
        writeElement(meta.model, shape, shape.locationName ?? out.payload.name, value, xml, nsAttr(meta, shape.xmlNamespace?.uri));
        return sendText(res, out.status, headers, xml.join(''), 'application/xml', head);
      }
      if (value === undefined && !head) headers['Content-Length'] = 0;
      res.writeHead(out.status, headers);
      return sendBlob(res, value, head);
    }
    const shape = op.output;
    const hasBody = shape && Object.keys(shape.members ?? {}).some((n) => !meta.model.member(shape, n).location);
    if (!hasBody) {
      if (!('Content-Length' in headers)) headers['Content-Length'] = 0;
      res.writeHead(out.status, headers);
      return void res.end();
    }
    const root = meta.patch.xmlRootNames?.[op.name] ?? shape!.locationName ?? `${op.name}Result`;
    const xml: string[] = ['<?xml version="1.0" encoding="UTF-8"?>', `<${root}${nsAttr(meta)}>`];
    // a lone scalar body member named like the root is the root's text (S3 GetBucketLocation)
    const textRoot = shape!.members?.[root] && meta.model.member(shape!, root);
    if (textRoot && !textRoot.location && textRoot.type !== 'structure' && textRoot.type !== 'list' && textRoot.type !== 'map') {
      if (output[root] !== undefined && output[root] !== null) xml.push(escapeXml(String(output[root])));
    } else writeMembers(meta.model, shape!, output, xml);
    xml.push(`</${root}>`);
    sendText(res, out.status, headers, xml.join(''), 'application/xml', head);
  },

  serializeError(err: AwsError, meta: ResponseMeta, res: ServerResponse, req: WireRequest) {
    const fields = Object.entries(err.fields)
      .map(([k, v]) => `<${k}>${escapeXml(String(v))}</${k}>`)
      .join('');
    const body = meta.bareErrors
      ? `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${err.code}</Code><Message>${escapeXml(err.message)}</Message>${fields}<RequestId>${meta.requestId}</RequestId><HostId>${HOST_ID}</HostId></Error>`
      : `<ErrorResponse${nsAttr(meta)}><Error><Type>${err.sender ? 'Sender' : 'Receiver'}</Type><Code>${err.code}</Code><Message>${escapeXml(err.message)}</Message>${fields}</Error><RequestId>${meta.requestId}</RequestId></ErrorResponse>`;
    sendText(
      res,
      err.status,
      { ...err.headers, 'x-amz-request-id': meta.requestId, 'x-amz-id-2': HOST_ID },
      body,
      'application/xml',
      req.method === 'HEAD',
    );
  },
};

function nsAttr(meta: ResponseMeta, uri = meta.xmlNamespace ?? meta.model.metadata.xmlNamespace?.uri ?? meta.model.metadata.xmlNamespace) {
  return typeof uri === 'string' ? ` xmlns="${uri}"` : '';
}

function sendText(
  res: ServerResponse,
  status: number,
  headers: Record<string, string | number>,
  text: string,
  type: string,
  head: boolean,
) {
  const buf = Buffer.from(text, 'utf8');
  res.writeHead(status, { ...headers, 'Content-Type': type, 'Content-Length': buf.length });
  res.end(head ? undefined : buf);
}

const malformedXml = () =>
  new Err('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema', 400);
