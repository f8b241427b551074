/** S3 buckets: naming, ownership across accounts, location, versioning, stored configurations, addressing styles. */
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteBucketCorsCommand,
  DeleteBucketPolicyCommand,
  DeleteBucketTaggingCommand,
  GetBucketCorsCommand,
  GetBucketLifecycleConfigurationCommand,
  GetBucketLocationCommand,
  GetBucketPolicyCommand,
  GetBucketTaggingCommand,
  GetBucketVersioningCommand,
  HeadBucketCommand,
  ListBucketsCommand,
  PutBucketCorsCommand,
  PutBucketLifecycleConfigurationCommand,
  PutBucketPolicyCommand,
  PutBucketTaggingCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client,
  DeleteBucketLifecycleCommand,
  GetBucketAclCommand,
  DeleteObjectsCommand,
} from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { clientConfig, startOpsbox, unique, type RunningOpsbox } from '../helpers/opsbox.js';

let box: RunningOpsbox;
let s3: S3Client;

async function rejects(p: Promise<unknown>, name: string, status: number) {
  await assert.rejects(p, (e: any) => {
    assert.equal(e.name, name);
    assert.equal(e.$metadata?.httpStatusCode, status);
    return true;
  });
}

/** A raw request with an explicit Host header (virtual-hosted style without DNS for *.localhost). */
function raw(method: string, host: string, path: string, body?: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; headers: Record<string, any>; body: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: box.port, method, path, headers: { ...headers, host } }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (data += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: data }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

before(async () => {
  box = await startOpsbox();
  s3 = new S3Client({ ...clientConfig(box.url), forcePathStyle: true });
});
after(async () => box?.dispose());

describe('S3 buckets', () => {
  test('CreateBucket: invalid names → InvalidBucketName 400', async () => {
    for (const name of ['ab', 'UPPER-case', 'has_underscore', '-leading', 'trailing-', 'a..b', '192.168.1.1', 'xn--abc', 'x'.repeat(64)])
      await rejects(s3.send(new CreateBucketCommand({ Bucket: name })), 'InvalidBucketName', 400);
  });

  test('CreateBucket: again in us-east-1 → 200; in another region → BucketAlreadyOwnedByYou 409', async () => {
    const name = unique('own');
    await s3.send(new CreateBucketCommand({ Bucket: name }));
    await s3.send(new CreateBucketCommand({ Bucket: name }));
    const west = unique('own-west');
    const s3w = new S3Client({ ...clientConfig(box.url, { region: 'us-west-2' }), forcePathStyle: true });
    await s3w.send(new CreateBucketCommand({ Bucket: west, CreateBucketConfiguration: { LocationConstraint: 'us-west-2' } }));
    await rejects(
      s3w.send(new CreateBucketCommand({ Bucket: west, CreateBucketConfiguration: { LocationConstraint: 'us-west-2' } })),
      'BucketAlreadyOwnedByYou',
      409,
    );
  });

  test('CreateBucket: name owned by another account → BucketAlreadyExists 409 (names are global)', async () => {
    const name = unique('global');
    await s3.send(new CreateBucketCommand({ Bucket: name }));
    const other = new S3Client({ ...clientConfig(box.url, { accessKeyId: '111111111111' }), forcePathStyle: true });
    await rejects(other.send(new CreateBucketCommand({ Bucket: name })), 'BucketAlreadyExists', 409);
    const theirs = await other.send(new ListBucketsCommand({}));
    assert.ok(!(theirs.Buckets ?? []).some((b) => b.Name === name));
    await rejects(other.send(new PutObjectCommand({ Bucket: name, Key: 'k', Body: 'x' })), 'AccessDenied', 403);
  });

  test('CreateBucket: LocationConstraint us-east-1 → InvalidLocationConstraint; mismatch with endpoint region → IllegalLocationConstraintException', async () => {
    await rejects(
      s3.send(new CreateBucketCommand({ Bucket: unique('loc'), CreateBucketConfiguration: { LocationConstraint: 'us-east-1' as any } })),
      'InvalidLocationConstraint',
      400,
    );
    const s3w = new S3Client({ ...clientConfig(box.url, { region: 'eu-west-1' }), forcePathStyle: true });
    await rejects(
      s3w.send(new CreateBucketCommand({ Bucket: unique('loc'), CreateBucketConfiguration: { LocationConstraint: 'us-west-2' } })),
      'IllegalLocationConstraintException',
      400,
    );
  });

  test('GetBucketLocation: empty for us-east-1, the region otherwise; HeadBucket reports x-amz-bucket-region', async () => {
    const east = unique('east');
    await s3.send(new CreateBucketCommand({ Bucket: east }));
    assert.equal((await s3.send(new GetBucketLocationCommand({ Bucket: east }))).LocationConstraint, undefined);
    const west = unique('west');
    await s3.send(new CreateBucketCommand({ Bucket: west, CreateBucketConfiguration: { LocationConstraint: 'eu-central-1' as const } }));
    assert.equal((await s3.send(new GetBucketLocationCommand({ Bucket: west }))).LocationConstraint, 'eu-central-1');
    const r = await raw('GET', `127.0.0.1:${box.port}`, `/${west}?location`);
    assert.match(r.body, /<LocationConstraint xmlns="http:\/\/s3.amazonaws.com\/doc\/2006-03-01\/">eu-central-1<\/LocationConstraint>/);
    const head = await s3.send(new HeadBucketCommand({ Bucket: west }));
    assert.equal(head.BucketRegion, 'eu-central-1');
  });

  test('HeadBucket: missing bucket → 404 NotFound without a body', async () => {
    await rejects(s3.send(new HeadBucketCommand({ Bucket: unique('none') })), 'NotFound', 404);
    const r = await raw('HEAD', `127.0.0.1:${box.port}`, `/${unique('none')}`);
    assert.equal(r.status, 404);
    assert.equal(r.body, '');
  });

  test('ListBuckets: lists own buckets sorted with owner', async () => {
    const a = unique('lb-b');
    const b = unique('lb-a');
    await s3.send(new CreateBucketCommand({ Bucket: a }));
    await s3.send(new CreateBucketCommand({ Bucket: b }));
    const out = await s3.send(new ListBucketsCommand({}));
    const names = out.Buckets!.map((x) => x.Name!);
    assert.ok(names.includes(a) && names.includes(b));
    assert.deepEqual(names, [...names].sort());
    assert.match(out.Owner!.ID!, /^[0-9a-f]{64}$/);
    assert.ok(out.Buckets![0].CreationDate instanceof Date);
  });

  test('DeleteBucket: not empty → BucketNotEmpty 409; missing → NoSuchBucket 404', async () => {
    const name = unique('del');
    await s3.send(new CreateBucketCommand({ Bucket: name }));
    await s3.send(new PutObjectCommand({ Bucket: name, Key: 'k', Body: 'x' }));
    await rejects(s3.send(new DeleteBucketCommand({ Bucket: name })), 'BucketNotEmpty', 409);
    const empty = unique('del');
    await s3.send(new CreateBucketCommand({ Bucket: empty }));
    await s3.send(new DeleteBucketCommand({ Bucket: empty }));
    await rejects(s3.send(new DeleteBucketCommand({ Bucket: empty })), 'NoSuchBucket', 404);
  });

  test('PutBucketVersioning / GetBucketVersioning: unset, Enabled, Suspended', async () => {
    const name = unique('ver');
    await s3.send(new CreateBucketCommand({ Bucket: name }));
    assert.equal((await s3.send(new GetBucketVersioningCommand({ Bucket: name }))).Status, undefined);
    await s3.send(new PutBucketVersioningCommand({ Bucket: name, VersioningConfiguration: { Status: 'Enabled' } }));
    assert.equal((await s3.send(new GetBucketVersioningCommand({ Bucket: name }))).Status, 'Enabled');
    await s3.send(new PutBucketVersioningCommand({ Bucket: name, VersioningConfiguration: { Status: 'Suspended' } }));
    assert.equal((await s3.send(new GetBucketVersioningCommand({ Bucket: name }))).Status, 'Suspended');
  });

  test('Bucket tagging: put/get/delete, then NoSuchTagSet 404', async () => {
    const name = unique('tags');
    await s3.send(new CreateBucketCommand({ Bucket: name }));
    await rejects(s3.send(new GetBucketTaggingCommand({ Bucket: name })), 'NoSuchTagSet', 404);
    await s3.send(
      new PutBucketTaggingCommand({
        Bucket: name,
        Tagging: {
          TagSet: [
            { Key: 'env', Value: 'dev' },
            { Key: 'team', Value: 'a' },
          ],
        },
      }),
    );
    assert.deepEqual((await s3.send(new GetBucketTaggingCommand({ Bucket: name }))).TagSet, [
      { Key: 'env', Value: 'dev' },
      { Key: 'team', Value: 'a' },
    ]);
    await s3.send(new DeleteBucketTaggingCommand({ Bucket: name }));
    await rejects(s3.send(new GetBucketTaggingCommand({ Bucket: name })), 'NoSuchTagSet', 404);
  });

  test('Bucket policy: stored as given; not JSON → MalformedPolicy; absent → NoSuchBucketPolicy', async () => {
    const name = unique('pol');
    await s3.send(new CreateBucketCommand({ Bucket: name }));
    await rejects(s3.send(new GetBucketPolicyCommand({ Bucket: name })), 'NoSuchBucketPolicy', 404);
    await rejects(s3.send(new PutBucketPolicyCommand({ Bucket: name, Policy: 'not json' })), 'MalformedPolicy', 400);
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${name}/*` }],
    });
    await s3.send(new PutBucketPolicyCommand({ Bucket: name, Policy: policy }));
    assert.equal((await s3.send(new GetBucketPolicyCommand({ Bucket: name }))).Policy, policy);
    await s3.send(new DeleteBucketPolicyCommand({ Bucket: name }));
    await rejects(s3.send(new GetBucketPolicyCommand({ Bucket: name })), 'NoSuchBucketPolicy', 404);
  });

  test('Bucket CORS: put/get/delete, then NoSuchCORSConfiguration', async () => {
    const name = unique('cors');
    await s3.send(new CreateBucketCommand({ Bucket: name }));
    await rejects(s3.send(new GetBucketCorsCommand({ Bucket: name })), 'NoSuchCORSConfiguration', 404);
    const rules = [
      {
        AllowedMethods: ['GET', 'PUT'],
        AllowedOrigins: ['https://example.com'],
        AllowedHeaders: ['*'],
        ExposeHeaders: ['ETag'],
        MaxAgeSeconds: 300,
      },
    ];
    await s3.send(new PutBucketCorsCommand({ Bucket: name, CORSConfiguration: { CORSRules: rules } }));
    assert.deepEqual((await s3.send(new GetBucketCorsCommand({ Bucket: name }))).CORSRules, rules);
    await s3.send(new DeleteBucketCorsCommand({ Bucket: name }));
    await rejects(s3.send(new GetBucketCorsCommand({ Bucket: name })), 'NoSuchCORSConfiguration', 404);
  });

  test('Bucket lifecycle: put/get/delete, then NoSuchLifecycleConfiguration', async () => {
    const name = unique('lc');
    await s3.send(new CreateBucketCommand({ Bucket: name }));
    await rejects(s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: name })), 'NoSuchLifecycleConfiguration', 404);
    const rules = [{ ID: 'expire-logs', Status: 'Enabled' as const, Filter: { Prefix: 'logs/' }, Expiration: { Days: 30 } }];
    await s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket: name, LifecycleConfiguration: { Rules: rules } }));
    assert.deepEqual((await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: name }))).Rules, rules);
    await s3.send(new DeleteBucketLifecycleCommand({ Bucket: name }));
    await rejects(s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: name })), 'NoSuchLifecycleConfiguration', 404);
  });

  test('PutBucketLifecycleConfiguration: Days -1 → InvalidArgument 400; a Tag without Value → MalformedXML 400', async () => {
    const name = unique('lcbad');
    await s3.send(new CreateBucketCommand({ Bucket: name }));
    const put = (rule: object) =>
      s3.send(
        new PutBucketLifecycleConfigurationCommand({
          Bucket: name,
          LifecycleConfiguration: { Rules: [{ ID: 'r', Status: 'Enabled', Filter: { Prefix: '' }, ...rule }] },
        }),
      );
    await assert.rejects(
      put({ Expiration: { Days: -1 } }),
      (e: any) => e.name === 'InvalidArgument' && /'Days' for Expiration action must be a positive integer/.test(e.message),
    );
    await rejects(put({ NoncurrentVersionExpiration: { NoncurrentDays: 0 } }), 'InvalidArgument', 400);
    await rejects(put({ Transitions: [{ Days: -1, StorageClass: 'GLACIER' }] }), 'InvalidArgument', 400);
    await rejects(s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: name })), 'NoSuchLifecycleConfiguration', 404);
    await assert.rejects(
      s3.send(new PutBucketTaggingCommand({ Bucket: name, Tagging: { TagSet: [{ Key: 'k' } as any] } })),
      (e: any) =>
        e.name === 'MalformedXML' && e.$metadata.httpStatusCode === 400 && /did not validate against our published schema/.test(e.message),
    );
  });

  test('DeleteObjects: an Object without Key → MalformedXML; no Content-MD5 nor checksum → InvalidRequest', async () => {
    const name = unique('delbad');
    await s3.send(new CreateBucketCommand({ Bucket: name }));
    await s3.send(new PutObjectCommand({ Bucket: name, Key: 'keep', Body: 'x' }));
    await rejects(
      s3.send(new DeleteObjectsCommand({ Bucket: name, Delete: { Objects: [{ VersionId: 'v' } as any] } })),
      'MalformedXML',
      400,
    );
    const body = '<Delete><Object><Key>keep</Key></Object></Delete>';
    const bare = await raw('POST', `127.0.0.1:${box.port}`, `/${name}?delete`, body);
    assert.equal(bare.status, 400);
    assert.match(bare.body, /<Code>InvalidRequest<\/Code><Message>Missing required header for this request: Content-MD5<\/Message>/);
    assert.equal((await raw('GET', `127.0.0.1:${box.port}`, `/${name}/keep`)).status, 200);
    const md5 = createHash('md5').update(body).digest('base64');
    const signed = await raw('POST', `127.0.0.1:${box.port}`, `/${name}?delete`, body, { 'content-md5': md5 });
    assert.equal(signed.status, 200, signed.body);
    assert.equal((await raw('GET', `127.0.0.1:${box.port}`, `/${name}/keep`)).status, 404);
  });

  test('GetBucketAcl: the owner has FULL_CONTROL', async () => {
    const name = unique('acl');
    await s3.send(new CreateBucketCommand({ Bucket: name }));
    const acl = await s3.send(new GetBucketAclCommand({ Bucket: name }));
    assert.equal(acl.Grants![0].Permission, 'FULL_CONTROL');
    assert.equal(acl.Grants![0].Grantee!.ID, acl.Owner!.ID);
  });

  test('virtual-hosted style: bucket.localhost Host header addresses the bucket', async () => {
    const name = unique('vhost');
    const host = `${name}.localhost:${box.port}`;
    assert.equal((await raw('PUT', host, '/')).status, 200);
    assert.equal((await raw('PUT', host, '/dir/hello.txt', 'hi there')).status, 200);
    const got = await raw('GET', host, '/dir/hello.txt');
    assert.equal(got.status, 200);
    assert.equal(got.body, 'hi there');
    const list = await raw('GET', host, '/?list-type=2&prefix=dir/');
    assert.match(list.body, /<ListBucketResult xmlns="http:\/\/s3.amazonaws.com\/doc\/2006-03-01\/">/);
    assert.match(list.body, /<Key>dir\/hello.txt<\/Key>/);
    assert.match(list.body, /<KeyCount>1<\/KeyCount>/);
    const missing = await raw('GET', host, '/nope');
    assert.equal(missing.status, 404);
    assert.match(missing.body, /<Code>NoSuchKey<\/Code>/);
    assert.match(missing.body, /<Key>nope<\/Key>/);
    // and an SDK client in virtual-hosted mode sees the same bucket through path-style
    const out = await s3.send(new GetBucketLocationCommand({ Bucket: name }));
    assert.equal(out.LocationConstraint, undefined);
  });
});
