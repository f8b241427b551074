/** S3 through the aws CLI v2 (mb, cp, ls, sync, s3api error codes) and presigned URLs driven by curl. */
import { GetObjectCommand, PutObjectCommand, S3Client, CreateBucketCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { awsCli, clientConfig, startOpsbox, unique, type RunningOpsbox } from '../helpers/opsbox.js';

const run = promisify(execFile);
let box: RunningOpsbox;
let s3: S3Client;
let work: string;

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}

async function cli(args: string[]) {
  const r = await awsCli(box.url, args);
  assert.equal(r.code, 0, `aws ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

before(async () => {
  box = await startOpsbox();
  s3 = new S3Client({ ...clientConfig(box.url), forcePathStyle: true });
  work = mkdtempSync(join(tmpdir(), 'opsbox-s3-cli-'));
});
after(async () => {
  await box?.dispose();
  rmSync(work, { recursive: true, force: true });
});

describe('S3 with the aws CLI', () => {
  test('s3 mb, cp up and down, ls --recursive', async () => {
    const b = unique('cli');
    await cli(['s3', 'mb', `s3://${b}`]);
    const file = join(work, 'hello.txt');
    writeFileSync(file, 'hello from the cli\n');
    await cli(['s3', 'cp', file, `s3://${b}/docs/hello.txt`]);
    await cli(['s3', 'cp', file, `s3://${b}/docs/nested/again.txt`]);
    const ls = await cli(['s3', 'ls', '--recursive', `s3://${b}`]);
    assert.match(ls, /docs\/hello\.txt/);
    assert.match(ls, /docs\/nested\/again\.txt/);
    const top = await cli(['s3', 'ls', `s3://${b}/`]);
    assert.match(top, /PRE docs\//);
    const back = join(work, 'back.txt');
    await cli(['s3', 'cp', `s3://${b}/docs/hello.txt`, back]);
    assert.equal(readFileSync(back, 'utf8'), 'hello from the cli\n');
  });

  test('s3 sync: 1,000 small files up to a bucket and back down, identical', async () => {
    const b = unique('sync');
    await cli(['s3', 'mb', `s3://${b}`]);
    const src = join(work, 'sync-src');
    for (let i = 0; i < 1000; i++) {
      const dir = join(src, `d${i % 10}`, i % 3 === 0 ? 'deep' : '');
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `file ${i}+x.txt`);
      writeFileSync(file, `content of file ${i}\n`.repeat((i % 7) + 1));
      // S3's LastModified has whole seconds: a file written in the same second as its upload would look
      // newer than its object to the next sync (as against AWS), so date the sources a minute back
      utimesSync(file, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    }
    await cli(['s3', 'sync', src, `s3://${b}/data`]);
    const listed = await s3.send(new (await import('@aws-sdk/client-s3')).ListObjectsV2Command({ Bucket: b, Prefix: 'data/' }));
    assert.equal(listed.KeyCount, 1000);
    const dst = join(work, 'sync-dst');
    await cli(['s3', 'sync', `s3://${b}/data`, dst]);
    const files = (d: string) =>
      walk(d)
        .map((p) => relative(d, p))
        .sort();
    assert.deepEqual(files(dst), files(src));
    for (const f of files(src)) assert.equal(readFileSync(join(dst, f), 'utf8'), readFileSync(join(src, f), 'utf8'));
    // a second sync has nothing to do
    const again = await cli(['s3', 'sync', src, `s3://${b}/data`]);
    assert.equal(again.trim(), '');
  });

  test('s3api error paths: NoSuchBucket, NoSuchKey, 404 on head-object', async () => {
    const b = unique('errs');
    await cli(['s3api', 'create-bucket', '--bucket', b]);
    const noBucket = await awsCli(box.url, ['s3api', 'list-objects-v2', '--bucket', unique('missing')]);
    assert.notEqual(noBucket.code, 0);
    assert.match(noBucket.stderr, /\(NoSuchBucket\)/);
    const noKey = await awsCli(box.url, ['s3api', 'get-object', '--bucket', b, '--key', 'nope', join(work, 'nope')]);
    assert.notEqual(noKey.code, 0);
    assert.match(noKey.stderr, /\(NoSuchKey\)/);
    const head = await awsCli(box.url, ['s3api', 'head-object', '--bucket', b, '--key', 'nope']);
    assert.match(head.stderr, /\(404\)/);
    const loc = JSON.parse(await cli(['s3api', 'get-bucket-location', '--bucket', b]));
    assert.equal(loc.LocationConstraint, null);
    const dup = await awsCli(box.url, [
      's3api',
      'create-bucket',
      '--bucket',
      b,
      '--region',
      'us-west-2',
      '--create-bucket-configuration',
      'LocationConstraint=us-west-2',
    ]);
    assert.match(dup.stderr, /\(BucketAlreadyOwnedByYou\)|\(IllegalLocationConstraintException\)/);
  });
});

describe('S3 presigned URLs', () => {
  test('presigned PUT and GET work with curl', async () => {
    const b = unique('presign');
    await s3.send(new CreateBucketCommand({ Bucket: b }));
    const putUrl = await getSignedUrl(s3, new PutObjectCommand({ Bucket: b, Key: 'up/loaded file.txt' }), { expiresIn: 300 });
    assert.match(putUrl, /X-Amz-Signature=/);
    const file = join(work, 'presigned.txt');
    writeFileSync(file, 'uploaded with a presigned url');
    const put = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '-X', 'PUT', '--data-binary', `@${file}`, putUrl]);
    assert.equal(put.stdout, '200');
    const got = await s3.send(new GetObjectCommand({ Bucket: b, Key: 'up/loaded file.txt' }));
    assert.equal(await got.Body!.transformToString(), 'uploaded with a presigned url');
    const getUrl = await getSignedUrl(s3, new GetObjectCommand({ Bucket: b, Key: 'up/loaded file.txt' }), { expiresIn: 300 });
    const get = await run('curl', ['-sS', '-f', getUrl]);
    assert.equal(get.stdout, 'uploaded with a presigned url');
    const missing = await getSignedUrl(s3, new GetObjectCommand({ Bucket: b, Key: 'missing' }), { expiresIn: 300 });
    const miss = await run('curl', ['-sS', '-w', '\n%{http_code}', missing]);
    assert.match(miss.stdout, /<Code>NoSuchKey<\/Code>/);
    assert.match(miss.stdout, /404$/);
  });
});
