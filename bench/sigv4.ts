/**
 * A minimal AWS Signature Version 4 signer (node:crypto only) for the benchmark's hand-built
 * requests. It signs the headers it is given plus host and x-amz-date; the payload hash is either
 * the body's SHA-256 or the literal UNSIGNED-PAYLOAD (S3).
 */
import { createHash, createHmac } from 'node:crypto';

export const CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };

export interface SignInput {
  method: string;
  host: string;
  path: string;
  service: string;
  region?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** 'UNSIGNED-PAYLOAD' for streamed S3 bodies; default: SHA-256 of body. */
  payloadHash?: string;
  date?: Date;
}

const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();
const sha256Hex = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

/** Returns the headers to send: the given ones plus Host, X-Amz-Date and Authorization. */
export function signV4(input: SignInput): Record<string, string> {
  const region = input.region ?? 'us-east-1';
  const amzDate = (input.date ?? new Date())
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  const day = amzDate.slice(0, 8);
  const payloadHash = input.payloadHash ?? sha256Hex(input.body ?? '');
  const headers: Record<string, string> = { ...input.headers, host: input.host, 'x-amz-date': amzDate };
  if (input.service === 's3') headers['x-amz-content-sha256'] = payloadHash;
  const names = Object.keys(headers)
    .map((h) => h.toLowerCase())
    .sort();
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v.trim().replace(/\s+/g, ' ')]));
  const canonical = [
    input.method,
    input.path
      .split('/')
      .map((s) => encodeURIComponent(s))
      .join('/'),
    '',
    names.map((n) => `${n}:${lower[n]}\n`).join(''),
    names.join(';'),
    payloadHash,
  ].join('\n');
  const scope = `${day}/${region}/${input.service}/aws4_request`;
  const toSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${sha256Hex(canonical)}`;
  let key = hmac('AWS4' + CREDENTIALS.secretAccessKey, day);
  key = hmac(key, region);
  key = hmac(key, input.service);
  key = hmac(key, 'aws4_request');
  const signature = createHmac('sha256', key).update(toSign).digest('hex');
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${CREDENTIALS.accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`;
  return headers;
}

/** The exact bytes of one HTTP/1.1 keep-alive request, for replaying on a raw socket. */
export function rawRequest(method: string, path: string, headers: Record<string, string>, body: string | Buffer): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body) : body;
  let head = `${method} ${path} HTTP/1.1\r\n`;
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
  head += `content-length: ${b.length}\r\nconnection: keep-alive\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), b]);
}

/** A SigV4-signed json1.1 call (X-Amz-Target), as bytes ready to send. */
export function jsonRequest(t: { host: string; port: number }, service: string, target: string, body: object): Buffer {
  const text = JSON.stringify(body);
  const headers = signV4({
    method: 'POST',
    host: `${t.host}:${t.port}`,
    path: '/',
    service,
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': target },
    body: text,
  });
  return rawRequest('POST', '/', headers, text);
}
