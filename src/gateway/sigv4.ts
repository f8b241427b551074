/**
 * AWS Signature Version 4: reading who signed a request (Authorization header or presigned query)
 * and, in strict mode, recomputing the signature. Only the credential scope is needed to route and
 * scope a request; verification needs the secret from core/credentials.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export interface SigV4Auth {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
  presigned: boolean;
  /** X-Amz-Date / x-amz-date value. */
  amzDate?: string;
  expires?: number;
}

const HEADER_RE =
  /^AWS4-HMAC-SHA256\s+Credential=([^/,\s]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request,\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]+)/;

export function readSigV4(headers: IncomingHttpHeaders, query: URLSearchParams): SigV4Auth | undefined {
  const auth = headers.authorization;
  if (auth) {
    const m = HEADER_RE.exec(auth);
    if (m)
      return {
        accessKeyId: m[1],
        date: m[2],
        region: m[3],
        service: m[4],
        signedHeaders: m[5].split(';'),
        signature: m[6],
        presigned: false,
        amzDate: (headers['x-amz-date'] as string) ?? undefined,
      };
    const v2 = /^AWS ([^:]+):/.exec(auth);
    if (v2) return { accessKeyId: v2[1], date: '', region: '', service: '', signedHeaders: [], signature: '', presigned: false };
    return undefined;
  }
  const cred = query.get('X-Amz-Credential');
  if (cred && query.get('X-Amz-Algorithm') === 'AWS4-HMAC-SHA256') {
    const [accessKeyId, date, region, service] = cred.split('/');
    return {
      accessKeyId,
      date,
      region,
      service,
      signedHeaders: (query.get('X-Amz-SignedHeaders') ?? 'host').split(';'),
      signature: query.get('X-Amz-Signature') ?? '',
      presigned: true,
      amzDate: query.get('X-Amz-Date') ?? undefined,
      expires: query.has('X-Amz-Expires') ? Number(query.get('X-Amz-Expires')) : undefined,
    };
  }
  return undefined;
}

const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();
export const sha256Hex = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

/** RFC 3986 encoding as SigV4 wants it (unreserved characters kept, everything else %XX). */
export function uriEncode(s: string, keepSlash = false) {
  let out = encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
  if (keepSlash) out = out.replace(/%2F/g, '/');
  return out;
}

export interface SignableRequest {
  method: string;
  /** Raw path as sent. */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  payloadHash: string;
}

export function canonicalRequest(req: SignableRequest, auth: SigV4Auth): string {
  const s3 = auth.service === 's3';
  const decodedPath = safeDecode(req.path);
  const canonicalUri = s3 ? uriEncode(decodedPath, true) : uriEncode(uriEncode(decodedPath, true), true);
  const params = [...req.query].filter(([k]) => !(auth.presigned && k === 'X-Amz-Signature'));
  const canonicalQuery = params
    .map(([k, v]) => [uriEncode(k), uriEncode(v)])
    .sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const canonicalHeaders = auth.signedHeaders
    .map((h) => {
      const v = req.headers[h];
      const value = Array.isArray(v) ? v.join(',') : (v ?? '');
      return `${h}:${String(value).trim().replace(/\s+/g, ' ')}\n`;
    })
    .join('');
  return [req.method, canonicalUri, canonicalQuery, canonicalHeaders, auth.signedHeaders.join(';'), req.payloadHash].join('\n');
}

const scopeOf = (auth: SigV4Auth) => `${auth.date}/${auth.region}/${auth.service}/aws4_request`;

export function signingKey(auth: SigV4Auth, secret: string): Buffer {
  return hmac(hmac(hmac(hmac('AWS4' + secret, auth.date), auth.region), auth.service), 'aws4_request');
}

/** The signature, and the canonical request and string to sign it was made from (AWS shows both when they differ). */
export function signRequest(req: SignableRequest, auth: SigV4Auth, secret: string) {
  const canonical = canonicalRequest(req, auth);
  const stringToSign = ['AWS4-HMAC-SHA256', auth.amzDate ?? '', scopeOf(auth), sha256Hex(canonical)].join('\n');
  return { canonical, stringToSign, signature: createHmac('sha256', signingKey(auth, secret)).update(stringToSign, 'utf8').digest('hex') };
}

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/**
 * The signature chain of a STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER] body: each chunk's signature
 * covers its data and the previous signature, starting from the request's own ("seed") signature,
 * so chunks can be neither altered, dropped nor reordered; a signed trailer closes the chain.
 */
export class ChunkSignatures {
  private previous: string;
  private readonly key: Buffer;
  private readonly prefix: string;

  constructor(auth: SigV4Auth, secret: string) {
    this.previous = auth.signature;
    this.key = signingKey(auth, secret);
    this.prefix = `${auth.amzDate ?? ''}\n${scopeOf(auth)}\n`;
  }

  /** The signature the chunk whose data hashes to `dataSha256` must carry; advances the chain. */
  next(dataSha256: string): string {
    const toSign = `AWS4-HMAC-SHA256-PAYLOAD\n${this.prefix}${this.previous}\n${EMPTY_SHA256}\n${dataSha256}`;
    return (this.previous = createHmac('sha256', this.key).update(toSign, 'utf8').digest('hex'));
  }

  /** The signature of the trailing headers (`name:value\n` each, as sent). */
  trailer(canonicalTrailers: string): string {
    const toSign = `AWS4-HMAC-SHA256-TRAILER\n${this.prefix}${this.previous}\n${sha256Hex(canonicalTrailers)}`;
    return (this.previous = createHmac('sha256', this.key).update(toSign, 'utf8').digest('hex'));
  }
}

export function signaturesEqual(a: string, b: string) {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Parses 20261126T014902Z. */
export function parseAmzDate(s: string | undefined): number | undefined {
  const m = s && /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  return m ? Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) : undefined;
}

const safeDecode = (s: string) => {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
};
