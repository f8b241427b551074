/** S3 objects: put/get/head, ranges, conditions, Content-MD5, copy, tagging, delete, listing, versioning, durability. */
import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  DeleteObjectTaggingCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  type ListObjectsV2CommandOutput,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { Agent } from 'node:http';
import { dirname, join } from 'node:path';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { clientConfig, startOpsbox, unique, type RunningOpsbox } from '../helpers/opsbox.js';

let box: RunningOpsbox;
let s3: S3Client;

async function rejects(p: Promise<unknown>, name: string, status: number, check?: (e: any) => void) {
  await assert.rejects(p, (e: any) => {
    assert.equal(e.name, name);
    assert.equal(e.$metadata?.httpStatusCode, status);
    check?.(e);
    return true;
  });
}

async function bucket(prefix = 'obj') {
  const name = unique(prefix);
  await s3.send(new CreateBucketCommand({ Bucket: name }));
  return name;
}

const text = async (bucketName: string, key: string, extra: Record<string, unknown> = {}) =>
  (await s3.send(new GetObjectCommand({ Bucket: bucketName, Key: key, ...extra }))).Body!.transformToString();

const md5 = (s: string | Buffer) => createHash('md5').update(s).digest();

before(async () => {
  box = await startOpsbox();
  s3 = new S3Client({ ...clientConfig(box.url), forcePathStyle: true });
});
after(async () => box?.dispose());

describe('S3 objects', () => {
  test('PutObject/GetObject: body, ETag = quoted MD5, metadata and standard headers round-trip', async () => {
    const b = await bucket();
    const put = await s3.send(
      new PutObjectCommand({
        Bucket: b,
        Key: 'docs/readme.txt',
        Body: 'hello world',
        ContentType: 'text/plain',
        CacheControl: 'max-age=60',
        ContentDisposition: 'attachment; filename="r.txt"',
        ContentLanguage: 'en',
        Metadata: { owner: 'alice', 'x-team': 'blue' },
      }),
    );
    assert.equal(put.ETag, `"${md5('hello world').toString('hex')}"`);
    const got = await s3.send(new GetObjectCommand({ Bucket: b, Key: 'docs/readme.txt' }));
    assert.equal(await got.Body!.transformToString(), 'hello world');
    assert.equal(got.ETag, put.ETag);
    assert.equal(got.ContentType, 'text/plain');
    assert.equal(got.CacheControl, 'max-age=60');
    assert.equal(got.ContentDisposition, 'attachment; filename="r.txt"');
    assert.equal(got.ContentLanguage, 'en');
    assert.equal(got.ContentLength, 11);
    assert.deepEqual(got.Metadata, { owner: 'alice', 'x-team': 'blue' });
    assert.ok(got.LastModified instanceof Date);
    const head = await s3.send(new HeadObjectCommand({ Bucket: b, Key: 'docs/readme.txt' }));
    assert.equal(head.ContentLength, 11);
    assert.equal(head.ETag, put.ETag);
    assert.equal(head.AcceptRanges, 'bytes');
  });

  test('PutObject: empty body and unicode keys', async () => {
    const b = await bucket();
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'empty', Body: '' }));
    assert.equal(await text(b, 'empty'), '');
    const key = 'ünïcødé/ключ 日本 +%&?=.txt';
    await s3.send(new PutObjectCommand({ Bucket: b, Key: key, Body: 'u' }));
    assert.equal(await text(b, key), 'u');
    const list = await s3.send(new ListObjectsV2Command({ Bucket: b }));
    assert.deepEqual(
      list.Contents!.map((c) => c.Key),
      ['empty', key],
    );
  });

  test('PutObject: Content-MD5 mismatch → BadDigest 400; not an MD5 → InvalidDigest 400', async () => {
    const b = await bucket();
    await rejects(
      s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'abc', ContentMD5: md5('xyz').toString('base64') })),
      'BadDigest',
      400,
    );
    await rejects(s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'abc', ContentMD5: 'bm90LW1kNQ==' })), 'InvalidDigest', 400);
    await rejects(s3.send(new HeadObjectCommand({ Bucket: b, Key: 'k' })), 'NotFound', 404);
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'abc', ContentMD5: md5('abc').toString('base64') }));
    assert.equal(await text(b, 'k'), 'abc');
  });

  test('PutObject: metadata over 2 KB → MetadataTooLarge; unknown storage class → InvalidStorageClass; key over 1024 bytes → KeyTooLongError', async () => {
    const b = await bucket();
    await rejects(
      s3.send(new PutObjectCommand({ Bucket: b, Key: 'm', Body: 'x', Metadata: { big: 'v'.repeat(2100) } })),
      'MetadataTooLarge',
      400,
    );
    await rejects(
      s3.send(new PutObjectCommand({ Bucket: b, Key: 'm', Body: 'x', StorageClass: 'SHINY' as any })),
      'InvalidStorageClass',
      400,
    );
    await rejects(s3.send(new PutObjectCommand({ Bucket: b, Key: 'k'.repeat(1025), Body: 'x' })), 'KeyTooLongError', 400);
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'ia', Body: 'x', StorageClass: 'STANDARD_IA' }));
    assert.equal((await s3.send(new HeadObjectCommand({ Bucket: b, Key: 'ia' }))).StorageClass, 'STANDARD_IA');
    assert.equal((await s3.send(new ListObjectsV2Command({ Bucket: b }))).Contents![0].StorageClass, 'STANDARD_IA');
  });

  test('GetObject: missing key → NoSuchKey 404 with Key; missing bucket → NoSuchBucket 404', async () => {
    const b = await bucket();
    await rejects(s3.send(new GetObjectCommand({ Bucket: b, Key: 'nope' })), 'NoSuchKey', 404, (e) => assert.equal(e.Key, 'nope'));
    await rejects(s3.send(new GetObjectCommand({ Bucket: unique('missing'), Key: 'k' })), 'NoSuchBucket', 404, (e) =>
      assert.ok(e.BucketName),
    );
    await rejects(s3.send(new HeadObjectCommand({ Bucket: b, Key: 'nope' })), 'NotFound', 404);
  });

  test('GetObject: Range → 206 with Content-Range; suffix and open ranges; past the end → InvalidRange 416', async () => {
    const b = await bucket();
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'r', Body: '0123456789' }));
    const mid = await s3.send(new GetObjectCommand({ Bucket: b, Key: 'r', Range: 'bytes=2-5' }));
    assert.equal(mid.$metadata.httpStatusCode, 206);
    assert.equal(mid.ContentRange, 'bytes 2-5/10');
    assert.equal(mid.ContentLength, 4);
    assert.equal(await mid.Body!.transformToString(), '2345');
    assert.equal(await text(b, 'r', { Range: 'bytes=-3' }), '789');
    assert.equal(await text(b, 'r', { Range: 'bytes=7-' }), '789');
    assert.equal(await text(b, 'r', { Range: 'bytes=8-100' }), '89');
    await rejects(s3.send(new GetObjectCommand({ Bucket: b, Key: 'r', Range: 'bytes=10-20' })), 'InvalidRange', 416);
  });

  test('GetObject: If-Match mismatch → 412, If-None-Match match → 304, If-Modified-Since future → 304', async () => {
    const b = await bucket();
    const { ETag } = await s3.send(new PutObjectCommand({ Bucket: b, Key: 'c', Body: 'cond' }));
    await rejects(s3.send(new GetObjectCommand({ Bucket: b, Key: 'c', IfMatch: '"0000"' })), 'PreconditionFailed', 412);
    assert.equal(await text(b, 'c', { IfMatch: ETag }), 'cond');
    await assert.rejects(
      s3.send(new GetObjectCommand({ Bucket: b, Key: 'c', IfNoneMatch: ETag })),
      (e: any) => e.$metadata.httpStatusCode === 304,
    );
    await assert.rejects(
      s3.send(new GetObjectCommand({ Bucket: b, Key: 'c', IfModifiedSince: new Date(Date.now() + 3600_000) })),
      (e: any) => e.$metadata.httpStatusCode === 304,
    );
    assert.equal(await text(b, 'c', { IfModifiedSince: new Date(Date.now() - 3600_000) }), 'cond');
    await rejects(
      s3.send(new GetObjectCommand({ Bucket: b, Key: 'c', IfUnmodifiedSince: new Date(Date.now() - 3600_000) })),
      'PreconditionFailed',
      412,
    );
  });

  test('DeleteObject: idempotent on missing keys; DeleteObjects quiet and verbose', async () => {
    const b = await bucket();
    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'never-existed' }));
    for (const k of ['a', 'b', 'c', 'd']) await s3.send(new PutObjectCommand({ Bucket: b, Key: k, Body: k }));
    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'a' }));
    await rejects(s3.send(new GetObjectCommand({ Bucket: b, Key: 'a' })), 'NoSuchKey', 404);
    const verbose = await s3.send(new DeleteObjectsCommand({ Bucket: b, Delete: { Objects: [{ Key: 'b' }, { Key: 'zzz' }] } }));
    assert.deepEqual(verbose.Deleted!.map((d) => d.Key).sort(), ['b', 'zzz']);
    const quiet = await s3.send(new DeleteObjectsCommand({ Bucket: b, Delete: { Objects: [{ Key: 'c' }, { Key: 'd' }], Quiet: true } }));
    assert.equal(quiet.Deleted, undefined);
    assert.equal((await s3.send(new ListObjectsV2Command({ Bucket: b }))).KeyCount, 0);
    // per-key errors are reported even in quiet mode, beside the keys that were deleted
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'e', Body: 'e' }));
    const mixed = await s3.send(
      new DeleteObjectsCommand({ Bucket: b, Delete: { Objects: [{ Key: 'e' }, { Key: 'f', VersionId: 'not-a-version' }], Quiet: true } }),
    );
    assert.deepEqual(
      mixed.Errors!.map((e) => [e.Key, e.Code]),
      [['f', 'InvalidArgument']],
    );
    await rejects(s3.send(new HeadObjectCommand({ Bucket: b, Key: 'e' })), 'NotFound', 404);
  });

  test('CopyObject: COPY keeps metadata, REPLACE replaces it; copy onto itself unchanged → InvalidRequest', async () => {
    const b = await bucket();
    const dst = await bucket('dst');
    const put = await s3.send(
      new PutObjectCommand({ Bucket: b, Key: 'src key+1', Body: 'copy me', ContentType: 'text/x-src', Metadata: { a: '1' } }),
    );
    const copy = await s3.send(
      new CopyObjectCommand({ Bucket: dst, Key: 'copied', CopySource: `${b}/${encodeURIComponent('src key+1')}` }),
    );
    assert.equal(copy.CopyObjectResult!.ETag, put.ETag);
    const got = await s3.send(new GetObjectCommand({ Bucket: dst, Key: 'copied' }));
    assert.equal(await got.Body!.transformToString(), 'copy me');
    assert.equal(got.ContentType, 'text/x-src');
    assert.deepEqual(got.Metadata, { a: '1' });
    await s3.send(
      new CopyObjectCommand({
        Bucket: dst,
        Key: 'replaced',
        CopySource: `${b}/src%20key%2B1`,
        MetadataDirective: 'REPLACE',
        Metadata: { b: '2' },
        ContentType: 'text/y',
      }),
    );
    const rep = await s3.send(new HeadObjectCommand({ Bucket: dst, Key: 'replaced' }));
    assert.deepEqual(rep.Metadata, { b: '2' });
    assert.equal(rep.ContentType, 'text/y');
    await rejects(s3.send(new CopyObjectCommand({ Bucket: b, Key: 'src key+1', CopySource: `${b}/src%20key%2B1` })), 'InvalidRequest', 400);
    await s3.send(
      new CopyObjectCommand({
        Bucket: b,
        Key: 'src key+1',
        CopySource: `${b}/src%20key%2B1`,
        MetadataDirective: 'REPLACE',
        Metadata: { c: '3' },
      }),
    );
    assert.deepEqual((await s3.send(new HeadObjectCommand({ Bucket: b, Key: 'src key+1' }))).Metadata, { c: '3' });
    await rejects(s3.send(new CopyObjectCommand({ Bucket: dst, Key: 'x', CopySource: `${b}/missing` })), 'NoSuchKey', 404);
  });

  test('Object tagging: x-amz-tagging on put, put/get/delete tagging, TagCount on get', async () => {
    const b = await bucket();
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 't', Body: 't', Tagging: 'a=1&b=two%20words' }));
    assert.deepEqual((await s3.send(new GetObjectTaggingCommand({ Bucket: b, Key: 't' }))).TagSet, [
      { Key: 'a', Value: '1' },
      { Key: 'b', Value: 'two words' },
    ]);
    assert.equal((await s3.send(new GetObjectCommand({ Bucket: b, Key: 't' }))).TagCount, 2);
    await s3.send(new PutObjectTaggingCommand({ Bucket: b, Key: 't', Tagging: { TagSet: [{ Key: 'x', Value: 'y' }] } }));
    assert.deepEqual((await s3.send(new GetObjectTaggingCommand({ Bucket: b, Key: 't' }))).TagSet, [{ Key: 'x', Value: 'y' }]);
    await s3.send(new DeleteObjectTaggingCommand({ Bucket: b, Key: 't' }));
    assert.deepEqual((await s3.send(new GetObjectTaggingCommand({ Bucket: b, Key: 't' }))).TagSet ?? [], []);
    await rejects(
      s3.send(
        new PutObjectTaggingCommand({
          Bucket: b,
          Key: 't',
          Tagging: {
            TagSet: [
              { Key: 'k', Value: '1' },
              { Key: 'k', Value: '2' },
            ],
          },
        }),
      ),
      'InvalidTag',
      400,
    );
  });

  test('keys like ../../etc/passwd are ordinary keys and never touch files outside the data dir', async () => {
    const b = await bucket();
    const keys = ['../../etc/passwd', 'a/../../b', '../outside.txt', '/abs/path', './.', '..'];
    for (const k of keys) await s3.send(new PutObjectCommand({ Bucket: b, Key: k, Body: `body of ${k}` }));
    for (const k of keys) assert.equal(await text(b, k), `body of ${k}`);
    const listed = (await s3.send(new ListObjectsV2Command({ Bucket: b }))).Contents!.map((c) => c.Key!);
    assert.deepEqual(
      listed,
      [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))),
    );
    assert.ok(!existsSync(join(dirname(box.dataDir), 'outside.txt')));
    assert.ok(!existsSync(join(box.dataDir, 'b')));
    // only opsbox's own names live in the data dir
    for (const entry of readdirSync(box.dataDir)) assert.match(entry, /^(opsbox\.db(-wal|-shm)?|blobs|[a-z0-9_-]+(\.journal)?)$/);
  });

  test('overwrite and delete remove the old blob file; a versioned bucket keeps it', async () => {
    const blobCount = () =>
      readdirSync(join(box.dataDir, 'blobs'))
        .filter((d) => d !== 'tmp')
        .reduce((n, d) => n + readdirSync(join(box.dataDir, 'blobs', d)).length, 0);
    const b = await bucket('blobs');
    const before = blobCount();
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'one' }));
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'two' }));
    assert.equal(blobCount(), before + 1);
    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'k' }));
    assert.equal(blobCount(), before);
    await s3.send(new PutBucketVersioningCommand({ Bucket: b, VersioningConfiguration: { Status: 'Enabled' } }));
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'one' }));
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'two' }));
    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'k' }));
    assert.equal(blobCount(), before + 2);
  });

  test('virtual-hosted SDK client (bucket.localhost resolved to 127.0.0.1)', async () => {
    const b = await bucket('vh');
    const lookup = (_host: string, opts: any, cb: any) =>
      opts?.all ? cb(null, [{ address: '127.0.0.1', family: 4 }]) : cb(null, '127.0.0.1', 4);
    const { NodeHttpHandler } = await import('@smithy/node-http-handler');
    const vh = new S3Client({
      ...clientConfig(`http://localhost:${box.port}`),
      forcePathStyle: false,
      requestHandler: new NodeHttpHandler({ httpAgent: new Agent({ lookup } as any) }),
    });
    await vh.send(new PutObjectCommand({ Bucket: b, Key: 'v/h.txt', Body: 'virtual' }));
    assert.equal(await text(b, 'v/h.txt'), 'virtual');
    const list = await vh.send(new ListObjectsV2Command({ Bucket: b }));
    assert.deepEqual(
      list.Contents!.map((c) => c.Key),
      ['v/h.txt'],
    );
    assert.equal(await (await vh.send(new GetObjectCommand({ Bucket: b, Key: 'v/h.txt' }))).Body!.transformToString(), 'virtual');
  });
});

describe('S3 listing', () => {
  test('ListObjectsV2: prefix, delimiter with CommonPrefixes, max-keys pagination with continuation tokens', async () => {
    const b = await bucket('list');
    const keys = ['a.txt', 'dir1/x', 'dir1/y', 'dir1/sub/z', 'dir2/x', 'dir3/', 'z.txt'];
    for (const k of keys) await s3.send(new PutObjectCommand({ Bucket: b, Key: k, Body: k }));
    const top = await s3.send(new ListObjectsV2Command({ Bucket: b, Delimiter: '/' }));
    assert.deepEqual(
      top.Contents!.map((c) => c.Key),
      ['a.txt', 'z.txt'],
    );
    assert.deepEqual(
      top.CommonPrefixes!.map((p) => p.Prefix),
      ['dir1/', 'dir2/', 'dir3/'],
    );
    assert.equal(top.KeyCount, 5);
    const sub = await s3.send(new ListObjectsV2Command({ Bucket: b, Prefix: 'dir1/', Delimiter: '/' }));
    assert.deepEqual(
      sub.Contents!.map((c) => c.Key),
      ['dir1/x', 'dir1/y'],
    );
    assert.deepEqual(
      sub.CommonPrefixes!.map((p) => p.Prefix),
      ['dir1/sub/'],
    );
    // pagination with a delimiter: pages of 2 entries (keys or prefixes)
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page: ListObjectsV2CommandOutput = await s3.send(
        new ListObjectsV2Command({ Bucket: b, Delimiter: '/', MaxKeys: 2, ContinuationToken: token }),
      );
      pages++;
      seen.push(...(page.Contents ?? []).map((c) => c.Key!), ...(page.CommonPrefixes ?? []).map((p) => p.Prefix!));
      assert.ok(page.KeyCount! <= 2);
      token = page.NextContinuationToken;
      assert.equal(!!token, page.IsTruncated);
    } while (token);
    assert.equal(pages, 3);
    assert.deepEqual(seen.sort(), ['a.txt', 'dir1/', 'dir2/', 'dir3/', 'z.txt']);
    // flat pagination over every key
    const flat: string[] = [];
    token = undefined;
    do {
      const page: ListObjectsV2CommandOutput = await s3.send(new ListObjectsV2Command({ Bucket: b, MaxKeys: 3, ContinuationToken: token }));
      flat.push(...page.Contents!.map((c) => c.Key!));
      token = page.NextContinuationToken;
    } while (token);
    assert.deepEqual(flat, [...keys].sort());
    const startAfter = await s3.send(new ListObjectsV2Command({ Bucket: b, StartAfter: 'dir2/x' }));
    assert.deepEqual(
      startAfter.Contents!.map((c) => c.Key),
      ['dir3/', 'z.txt'],
    );
    const enc = await s3.send(new ListObjectsV2Command({ Bucket: b, Prefix: 'dir1/', EncodingType: 'url' }));
    assert.equal(enc.EncodingType, 'url');
    const none = await s3.send(new ListObjectsV2Command({ Bucket: b, MaxKeys: 0 }));
    assert.equal(none.KeyCount, 0);
  });

  test('ListObjectsV2: keys sort by UTF-8 bytes', async () => {
    const b = await bucket('sort');
    const keys = ['\u{1F600}', '\uFFFD', 'Z', 'a', 'é', '~'];
    for (const k of keys) await s3.send(new PutObjectCommand({ Bucket: b, Key: k, Body: 'x' }));
    const listed = (await s3.send(new ListObjectsV2Command({ Bucket: b }))).Contents!.map((c) => c.Key);
    assert.deepEqual(
      listed,
      [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))),
    );
  });

  test('ListObjects (v1): marker and NextMarker with a delimiter', async () => {
    const b = await bucket('v1');
    for (const k of ['a/1', 'a/2', 'b/1', 'c', 'd']) await s3.send(new PutObjectCommand({ Bucket: b, Key: k, Body: k }));
    const p1 = await s3.send(new ListObjectsCommand({ Bucket: b, Delimiter: '/', MaxKeys: 2 }));
    assert.deepEqual(
      p1.CommonPrefixes!.map((p) => p.Prefix),
      ['a/', 'b/'],
    );
    assert.equal(p1.IsTruncated, true);
    assert.equal(p1.NextMarker, 'b/');
    const p2 = await s3.send(new ListObjectsCommand({ Bucket: b, Delimiter: '/', MaxKeys: 2, Marker: p1.NextMarker }));
    assert.deepEqual(
      p2.Contents!.map((c) => c.Key),
      ['c', 'd'],
    );
    assert.equal(p2.IsTruncated, false);
    const all = await s3.send(new ListObjectsCommand({ Bucket: b, Marker: 'a/2' }));
    assert.deepEqual(
      all.Contents!.map((c) => c.Key),
      ['b/1', 'c', 'd'],
    );
    assert.equal(all.NextMarker, undefined);
  });
});

describe('S3 versioning', () => {
  test('versions kept when Enabled; GET by versionId; delete marker hides the key (NoSuchKey, x-amz-delete-marker)', async () => {
    const b = await bucket('vers');
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'before versioning' }));
    await s3.send(new PutBucketVersioningCommand({ Bucket: b, VersioningConfiguration: { Status: 'Enabled' } }));
    const v1 = await s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'one' }));
    const v2 = await s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'two' }));
    assert.ok(v1.VersionId && v2.VersionId && v1.VersionId !== v2.VersionId);
    assert.equal(await text(b, 'k'), 'two');
    assert.equal(await text(b, 'k', { VersionId: v1.VersionId }), 'one');
    assert.equal(await text(b, 'k', { VersionId: 'null' }), 'before versioning');
    const del = await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'k' }));
    assert.equal(del.DeleteMarker, true);
    assert.ok(del.VersionId);
    await rejects(s3.send(new GetObjectCommand({ Bucket: b, Key: 'k' })), 'NoSuchKey', 404);
    const rawRes = await fetch(`${box.url}/${b}/k`);
    assert.equal(rawRes.status, 404);
    assert.equal(rawRes.headers.get('x-amz-delete-marker'), 'true');
    assert.equal(rawRes.headers.get('x-amz-version-id'), del.VersionId);
    await rejects(s3.send(new GetObjectCommand({ Bucket: b, Key: 'k', VersionId: del.VersionId })), 'MethodNotAllowed', 405);
    const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: b }));
    assert.deepEqual(
      versions.Versions!.map((v) => v.VersionId),
      [v2.VersionId, v1.VersionId, 'null'],
    );
    assert.equal(versions.DeleteMarkers!.length, 1);
    assert.equal(versions.DeleteMarkers![0].IsLatest, true);
    assert.ok(versions.Versions!.every((v) => !v.IsLatest));
    assert.equal((await s3.send(new ListObjectsV2Command({ Bucket: b }))).KeyCount, 0);
    // removing the delete marker restores the previous version
    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'k', VersionId: del.VersionId }));
    assert.equal(await text(b, 'k'), 'two');
    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'k', VersionId: v2.VersionId }));
    assert.equal(await text(b, 'k'), 'one');
    await rejects(s3.send(new GetObjectCommand({ Bucket: b, Key: 'k', VersionId: v2.VersionId })), 'NoSuchVersion', 404);
  });

  test('Suspended: writes replace the "null" version; ListObjectVersions paginates with key and version-id markers', async () => {
    const b = await bucket('susp');
    await s3.send(new PutBucketVersioningCommand({ Bucket: b, VersioningConfiguration: { Status: 'Enabled' } }));
    const kept = await s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'kept' }));
    await s3.send(new PutBucketVersioningCommand({ Bucket: b, VersioningConfiguration: { Status: 'Suspended' } }));
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'null-1' }));
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'null-2' }));
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'other', Body: 'o' }));
    const all = await s3.send(new ListObjectVersionsCommand({ Bucket: b }));
    assert.deepEqual(
      all.Versions!.map((v) => `${v.Key}:${v.VersionId}`),
      ['k:null', `k:${kept.VersionId}`, 'other:null'],
    );
    assert.equal(await text(b, 'k'), 'null-2');
    const seen: string[] = [];
    let keyMarker: string | undefined;
    let versionMarker: string | undefined;
    for (;;) {
      const page = await s3.send(
        new ListObjectVersionsCommand({ Bucket: b, MaxKeys: 1, KeyMarker: keyMarker, VersionIdMarker: versionMarker }),
      );
      seen.push(...page.Versions!.map((v) => `${v.Key}:${v.VersionId}`));
      if (!page.IsTruncated) break;
      keyMarker = page.NextKeyMarker;
      versionMarker = page.NextVersionIdMarker;
    }
    assert.deepEqual(seen, ['k:null', `k:${kept.VersionId}`, 'other:null']);
    const del = await s3.send(
      new DeleteObjectsCommand({ Bucket: b, Delete: { Objects: [{ Key: 'k', VersionId: kept.VersionId }, { Key: 'other' }] } }),
    );
    assert.equal(del.Deleted!.find((d) => d.Key === 'other')!.DeleteMarker, true);
    assert.equal(del.Deleted!.find((d) => d.Key === 'other')!.DeleteMarkerVersionId, 'null');
  });
});

describe('S3 durability', () => {
  test('objects and versions survive kill -9 and restart on the same data dir', async () => {
    const dataDir = (await import('node:fs')).mkdtempSync(join((await import('node:os')).tmpdir(), 'opsbox-s3-'));
    let other = await startOpsbox({ dataDir });
    try {
      let c = new S3Client({ ...clientConfig(other.url), forcePathStyle: true });
      const b = unique('durable');
      await c.send(new CreateBucketCommand({ Bucket: b }));
      await c.send(new PutBucketVersioningCommand({ Bucket: b, VersioningConfiguration: { Status: 'Enabled' } }));
      const v1 = await c.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'first' }));
      await c.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'second' }));
      await other.kill9();
      other = await startOpsbox({ dataDir });
      c = new S3Client({ ...clientConfig(other.url), forcePathStyle: true });
      assert.equal(await (await c.send(new GetObjectCommand({ Bucket: b, Key: 'k' }))).Body!.transformToString(), 'second');
      assert.equal(
        await (await c.send(new GetObjectCommand({ Bucket: b, Key: 'k', VersionId: v1.VersionId }))).Body!.transformToString(),
        'first',
      );
      assert.equal((await c.send(new ListObjectVersionsCommand({ Bucket: b }))).Versions!.length, 2);
    } finally {
      await other.stop();
      (await import('node:fs')).rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
