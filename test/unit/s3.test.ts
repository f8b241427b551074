/** S3 pieces that need no server: the listing walker, bucket name rules, copy sources, multipart ETags. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { validBucketName } from '../../src/services/s3/buckets.js';
import { multipartEtag } from '../../src/services/s3/common.js';
import { successor, walk } from '../../src/services/s3/listing.js';
import { parseCopySource } from '../../src/services/s3/objects.js';
import type { ObjectRow } from '../../src/services/s3/store.js';

/** An in-memory stand-in for the key index: rows sorted by UTF-8 bytes, fetched from a cursor. */
function index(keys: string[]) {
  const rows = [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))).map((key, i) => ({ key, seq: i + 1 }) as ObjectRow);
  let fetches = 0;
  const fetch = (c: { from: Buffer; ge: boolean }, limit: number) => {
    fetches++;
    return rows
      .filter((r) => (c.ge ? Buffer.compare(Buffer.from(r.key), c.from) >= 0 : Buffer.compare(Buffer.from(r.key), c.from) > 0))
      .slice(0, limit);
  };
  return { fetch, fetches: () => fetches };
}

describe('S3 listing walker', () => {
  test('delimiter folds keys into CommonPrefixes and seeks past each prefix', () => {
    const keys = ['a', ...Array.from({ length: 500 }, (_, i) => `dir/${String(i).padStart(3, '0')}`), 'e/1', 'z'];
    const idx = index(keys);
    const w = walk(idx.fetch, { prefix: '', delimiter: '/', maxKeys: 1000 });
    assert.deepEqual(
      w.rows.map((r) => r.key),
      ['a', 'z'],
    );
    assert.deepEqual(w.prefixes, ['dir/', 'e/']);
    assert.equal(w.truncated, false);
    assert.ok(idx.fetches() <= 4, `fetched ${idx.fetches()} times`);
  });

  test('max-keys truncates and the marker continues after a common prefix', () => {
    const idx = index(['a/1', 'a/2', 'b/1', 'c', 'd']);
    const p1 = walk(idx.fetch, { prefix: '', delimiter: '/', maxKeys: 2 });
    assert.deepEqual(p1.prefixes, ['a/', 'b/']);
    assert.equal(p1.truncated, true);
    assert.equal(p1.last, 'b/');
    const p2 = walk(idx.fetch, { prefix: '', delimiter: '/', maxKeys: 2, after: p1.last });
    assert.deepEqual(
      p2.rows.map((r) => r.key),
      ['c', 'd'],
    );
    assert.equal(p2.truncated, false);
  });

  test('prefix bounds the walk; max-keys 0 returns nothing', () => {
    const idx = index(['a', 'b/1', 'b/2', 'c']);
    assert.deepEqual(
      walk(idx.fetch, { prefix: 'b/', maxKeys: 10 }).rows.map((r) => r.key),
      ['b/1', 'b/2'],
    );
    assert.deepEqual(walk(idx.fetch, { prefix: '', maxKeys: 0 }).rows, []);
  });

  test('successor is the first byte string after every extension of a prefix', () => {
    assert.deepEqual(successor('a/'), Buffer.from('a0'));
    assert.ok(Buffer.compare(successor('é/'), Buffer.from('é/\u{10FFFF}')) > 0);
  });
});

describe('S3 helpers', () => {
  test('validBucketName follows the general purpose bucket rules', () => {
    for (const ok of ['abc', 'my-bucket.logs', 'a'.repeat(63), '0bucket9']) assert.ok(validBucketName(ok), ok);
    for (const bad of ['ab', 'a'.repeat(64), 'Upper', 'under_score', '-x-', 'a..b', '10.0.0.1', 'xn--x', 'x-s3alias', 'sthree-x'])
      assert.ok(!validBucketName(bad), bad);
  });

  test('parseCopySource: URL-decoded bucket/key, leading slash and versionId', () => {
    assert.deepEqual(parseCopySource('b/dir/a%20b%2Bc'), { bucket: 'b', key: 'dir/a b+c', versionId: undefined });
    assert.deepEqual(parseCopySource('/b/k?versionId=abc'), { bucket: 'b', key: 'k', versionId: 'abc' });
    assert.throws(() => parseCopySource('bucket-only'), /Copy Source must mention/);
  });

  test('multipartEtag: md5 of the binary part md5s, then -N', () => {
    const parts = ['aaa', 'bbb'].map((s) => createHash('md5').update(s).digest());
    const expected = createHash('md5').update(Buffer.concat(parts)).digest('hex');
    assert.equal(multipartEtag(parts.map((p) => `"${p.toString('hex')}"`)), `"${expected}-2"`);
  });
});
