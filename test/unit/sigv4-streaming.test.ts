/**
 * Signed streaming uploads (STREAMING-AWS4-HMAC-SHA256-PAYLOAD) against AWS's own worked example
 * ("Signature Calculations for the Authorization Header: Transferring Payload in Multiple Chunks"):
 * 66,560 bytes of 'a' to examplebucket/chunkObject.txt in chunks of 64 KiB.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { ChunkSignatures, signRequest, type SigV4Auth } from '../../src/gateway/sigv4.js';
import { AwsChunkedDecoder } from '../../src/protocol/awsChunked.js';

const signature = (...args: Parameters<typeof signRequest>) => signRequest(...args).signature;

const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const SEED = '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9';
const CHUNKS = [
  ['a'.repeat(65536), 'ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648'],
  ['a'.repeat(1024), '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497'],
  ['', 'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9'],
] as const;

const auth: SigV4Auth = {
  accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
  date: '20130524',
  region: 'us-east-1',
  service: 's3',
  signedHeaders: [
    'content-encoding',
    'content-length',
    'host',
    'x-amz-content-sha256',
    'x-amz-date',
    'x-amz-decoded-content-length',
    'x-amz-storage-class',
  ],
  signature: SEED,
  presigned: false,
  amzDate: '20130524T000000Z',
};

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const body = (signatures: readonly string[]) =>
  Buffer.from(CHUNKS.map(([data], i) => `${data.length.toString(16)};chunk-signature=${signatures[i]}\r\n${data}\r\n`).join(''));

async function decode(input: Buffer, decoder: AwsChunkedDecoder) {
  let size = 0;
  for await (const c of Readable.from([input.subarray(0, 1000), input.subarray(1000)]).pipe(decoder)) size += c.length;
  return size;
}

test('seed signature: the request signature AWS documents for the streaming PUT', () => {
  const headers = {
    'content-encoding': 'aws-chunked',
    'content-length': '66824',
    host: 's3.amazonaws.com',
    'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
    'x-amz-date': '20130524T000000Z',
    'x-amz-decoded-content-length': '66560',
    'x-amz-storage-class': 'REDUCED_REDUNDANCY',
  };
  const request = {
    method: 'PUT',
    path: '/examplebucket/chunkObject.txt',
    query: new URLSearchParams(),
    headers,
    payloadHash: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
  };
  assert.equal(signature(request, auth, SECRET), SEED);
});

test('chunk signatures chain from the seed exactly as AWS documents', () => {
  const chain = new ChunkSignatures(auth, SECRET);
  for (const [data, signature] of CHUNKS) assert.equal(chain.next(sha256(data)), signature);
});

test('the decoder passes the documented body and refuses zeroed, swapped or reordered chunk signatures', async () => {
  const good = CHUNKS.map(([, s]) => s);
  assert.equal(await decode(body(good), new AwsChunkedDecoder(66560, new ChunkSignatures(auth, SECRET))), 66560);
  const refused = (e: any) => e.code === 'SignatureDoesNotMatch' && e.status === 403;
  await assert.rejects(
    decode(body(good.map(() => '0'.repeat(64))), new AwsChunkedDecoder(66560, new ChunkSignatures(auth, SECRET))),
    refused,
  );
  await assert.rejects(decode(body([good[1], good[0], good[2]]), new AwsChunkedDecoder(66560, new ChunkSignatures(auth, SECRET))), refused);
  const altered = body(good);
  altered[200] = 'b'.charCodeAt(0);
  await assert.rejects(decode(altered, new AwsChunkedDecoder(66560, new ChunkSignatures(auth, SECRET))), refused);
  // a chunk without any signature in a signed stream
  await assert.rejects(decode(Buffer.from('0\r\n\r\n'), new AwsChunkedDecoder(0, new ChunkSignatures(auth, SECRET))), refused);
});
