import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { AwsChunkedDecoder } from '../../src/protocol/awsChunked.js';

async function decode(pieces: Buffer[]) {
  const d = new AwsChunkedDecoder();
  const out: Buffer[] = [];
  for await (const c of Readable.from(pieces).pipe(d)) out.push(c);
  return { body: Buffer.concat(out).toString(), trailers: d.trailers };
}

const framed = Buffer.from('5;chunk-signature=abc\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n');

test('aws-chunked: framing stripped, trailers read', async () => {
  const r = await decode([framed]);
  assert.equal(r.body, 'hello world');
  assert.deepEqual(r.trailers, { 'x-amz-checksum-crc32': 'AAAAAA==' });
});

test('aws-chunked: any split of the input gives the same body', async () => {
  for (let size = 1; size <= 7; size++) {
    const pieces: Buffer[] = [];
    for (let i = 0; i < framed.length; i += size) pieces.push(framed.subarray(i, i + size));
    assert.equal((await decode(pieces)).body, 'hello world', `pieces of ${size}`);
  }
});

test('aws-chunked: a truncated body fails with IncompleteBody', async () => {
  await assert.rejects(decode([Buffer.from('5\r\nhel')]), (e: any) => e.code === 'IncompleteBody');
  await assert.rejects(decode([Buffer.from('zz\r\n')]), (e: any) => e.code === 'IncompleteBody');
});
