import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SignatureV4 } from '@smithy/signature-v4';
import { createHash } from 'node:crypto';
import { readSigV4, signRequest } from '../../src/gateway/sigv4.js';
import { Sha256 } from '../helpers/sha256.js';

const signature = (...args: Parameters<typeof signRequest>) => signRequest(...args).signature;

const signer = (service: string) =>
  new SignatureV4({
    service,
    region: 'eu-west-1',
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' },
    sha256: Sha256 as any,
    uriEscapePath: service !== 's3',
  });

for (const [service, path, query] of [
  ['sts', '/', {}],
  ['s3', '/my bucket/a+b/ü.txt', { 'list-type': '2', prefix: 'a b' }],
  ['logs', '/', { z: '1', a: ['2', '1'] }],
] as const) {
  test(`SigV4 (${service}): opsbox recomputes the signature @smithy/signature-v4 made`, async () => {
    const body = 'Action=GetCallerIdentity&Version=2011-06-15';
    const signed = await signer(service).sign({
      method: 'POST',
      protocol: 'http:',
      hostname: 'localhost',
      port: 4566,
      path: path.split('/').map(encodeURIComponent).join('/'),
      query: query as any,
      headers: {
        host: 'localhost:4566',
        'content-type': 'application/x-www-form-urlencoded',
        'x-amz-content-sha256': createHash('sha256').update(body).digest('hex'),
      },
      body,
    });
    const headers = Object.fromEntries(Object.entries(signed.headers).map(([k, v]) => [k.toLowerCase(), v]));
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) for (const x of ([] as string[]).concat(v as any)) q.append(k, x);
    const auth = readSigV4(headers, q)!;
    assert.equal(auth.region, 'eu-west-1');
    assert.equal(auth.service, service);
    const mine = signature(
      { method: 'POST', path: signed.path, query: q, headers, payloadHash: headers['x-amz-content-sha256'] },
      auth,
      'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
    );
    assert.equal(mine, auth.signature);
    assert.notEqual(
      signature({ method: 'POST', path: signed.path, query: q, headers, payloadHash: headers['x-amz-content-sha256'] }, auth, 'other'),
      auth.signature,
    );
  });
}

test('presigned query credentials are read with their expiry', () => {
  const q = new URLSearchParams(
    'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20261126%2Fus-west-2%2Fs3%2Faws4_request&X-Amz-Date=20261126T000000Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Signature=abcd',
  );
  const a = readSigV4({}, q)!;
  assert.deepEqual([a.accessKeyId, a.region, a.service, a.expires, a.presigned], ['AKID', 'us-west-2', 's3', 300, true]);
});
