/** S3 multipart uploads: the part rules, listing, abort, UploadPartCopy, and a 200 MiB lib-storage upload. */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { clientConfig, startOpsbox, unique, type RunningOpsbox } from '../helpers/opsbox.js';

let box: RunningOpsbox;
let s3: S3Client;
const MiB = 1024 * 1024;

async function rejects(p: Promise<unknown>, name: string, status: number) {
  await assert.rejects(p, (e: any) => {
    assert.equal(e.name, name);
    assert.equal(e.$metadata?.httpStatusCode, status);
    return true;
  });
}

async function bucket() {
  const name = unique('mpu');
  await s3.send(new CreateBucketCommand({ Bucket: name }));
  return name;
}

const md5hex = (b: Buffer) => createHash('md5').update(b).digest('hex');

before(async () => {
  box = await startOpsbox();
  s3 = new S3Client({ ...clientConfig(box.url), forcePathStyle: true });
});
after(async () => box?.dispose());

describe('S3 multipart uploads', () => {
  test('CompleteMultipartUpload: ETag is md5-of-part-md5s-N, metadata from Create, parts listed then gone', async () => {
    const b = await bucket();
    const { UploadId } = await s3.send(
      new CreateMultipartUploadCommand({ Bucket: b, Key: 'big', ContentType: 'application/x-big', Metadata: { m: 'v' } }),
    );
    const p1 = Buffer.alloc(5 * MiB, 1);
    const p2 = Buffer.from('tail');
    const e1 = (await s3.send(new UploadPartCommand({ Bucket: b, Key: 'big', UploadId, PartNumber: 1, Body: p1 }))).ETag!;
    const e2 = (await s3.send(new UploadPartCommand({ Bucket: b, Key: 'big', UploadId, PartNumber: 2, Body: p2 }))).ETag!;
    assert.equal(e1, `"${md5hex(p1)}"`);
    const parts = await s3.send(new ListPartsCommand({ Bucket: b, Key: 'big', UploadId }));
    assert.deepEqual(
      parts.Parts!.map((p) => [p.PartNumber, p.ETag, p.Size]),
      [
        [1, e1, p1.length],
        [2, e2, 4],
      ],
    );
    const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: b }));
    assert.deepEqual(
      uploads.Uploads!.map((u) => [u.Key, u.UploadId]),
      [['big', UploadId]],
    );
    const done = await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: b,
        Key: 'big',
        UploadId,
        MultipartUpload: {
          Parts: [
            { PartNumber: 1, ETag: e1 },
            { PartNumber: 2, ETag: e2 },
          ],
        },
      }),
    );
    const expected = createHash('md5')
      .update(Buffer.concat([Buffer.from(md5hex(p1), 'hex'), Buffer.from(md5hex(p2), 'hex')]))
      .digest('hex');
    assert.equal(done.ETag, `"${expected}-2"`);
    const head = await s3.send(new HeadObjectCommand({ Bucket: b, Key: 'big' }));
    assert.equal(head.ContentLength, p1.length + 4);
    assert.equal(head.ContentType, 'application/x-big');
    assert.deepEqual(head.Metadata, { m: 'v' });
    const tail = await s3.send(new GetObjectCommand({ Bucket: b, Key: 'big', Range: 'bytes=-6' }));
    assert.deepEqual(Buffer.from(await tail.Body!.transformToByteArray()), Buffer.concat([Buffer.from([1, 1]), p2]));
    await rejects(s3.send(new ListPartsCommand({ Bucket: b, Key: 'big', UploadId })), 'NoSuchUpload', 404);
    assert.equal((await s3.send(new ListMultipartUploadsCommand({ Bucket: b }))).Uploads, undefined);
  });

  test('CompleteMultipartUpload: part < 5 MiB before the last → EntityTooSmall; wrong ETag → InvalidPart; unordered → InvalidPartOrder', async () => {
    const b = await bucket();
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: b, Key: 'k' }));
    const e1 = (await s3.send(new UploadPartCommand({ Bucket: b, Key: 'k', UploadId, PartNumber: 1, Body: 'small' }))).ETag!;
    const e2 = (await s3.send(new UploadPartCommand({ Bucket: b, Key: 'k', UploadId, PartNumber: 2, Body: 'small too' }))).ETag!;
    const complete = (Parts: { PartNumber: number; ETag: string }[]) =>
      s3.send(new CompleteMultipartUploadCommand({ Bucket: b, Key: 'k', UploadId, MultipartUpload: { Parts } }));
    await rejects(
      complete([
        { PartNumber: 1, ETag: e1 },
        { PartNumber: 2, ETag: e2 },
      ]),
      'EntityTooSmall',
      400,
    );
    await rejects(complete([{ PartNumber: 1, ETag: '"00000000000000000000000000000000"' }]), 'InvalidPart', 400);
    await rejects(complete([{ PartNumber: 3, ETag: e1 }]), 'InvalidPart', 400);
    await rejects(
      complete([
        { PartNumber: 2, ETag: e2 },
        { PartNumber: 1, ETag: e1 },
      ]),
      'InvalidPartOrder',
      400,
    );
    // a single small part is fine: the last part may be any size
    const done = await complete([{ PartNumber: 1, ETag: e1 }]);
    assert.match(done.ETag!, /^"[0-9a-f]{32}-1"$/);
    assert.equal(await (await s3.send(new GetObjectCommand({ Bucket: b, Key: 'k' }))).Body!.transformToString(), 'small');
  });

  test('AbortMultipartUpload: removes the upload; unknown id → NoSuchUpload 404', async () => {
    const b = await bucket();
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: b, Key: 'k' }));
    await s3.send(new UploadPartCommand({ Bucket: b, Key: 'k', UploadId, PartNumber: 1, Body: 'x' }));
    await s3.send(new AbortMultipartUploadCommand({ Bucket: b, Key: 'k', UploadId }));
    await rejects(s3.send(new AbortMultipartUploadCommand({ Bucket: b, Key: 'k', UploadId })), 'NoSuchUpload', 404);
    await rejects(s3.send(new UploadPartCommand({ Bucket: b, Key: 'k', UploadId, PartNumber: 1, Body: 'x' })), 'NoSuchUpload', 404);
  });

  test('UploadPartCopy: copies a byte range of an object into a part', async () => {
    const b = await bucket();
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'src', Body: '0123456789' }));
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: b, Key: 'dst' }));
    const part = await s3.send(
      new UploadPartCopyCommand({ Bucket: b, Key: 'dst', UploadId, PartNumber: 1, CopySource: `${b}/src`, CopySourceRange: 'bytes=2-5' }),
    );
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: b,
        Key: 'dst',
        UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.CopyPartResult!.ETag }] },
      }),
    );
    assert.equal(await (await s3.send(new GetObjectCommand({ Bucket: b, Key: 'dst' }))).Body!.transformToString(), '2345');
  });

  test('lib-storage Upload: 200 MiB streamed in 8 MiB parts; ETag and ranged GET of the tail match', async () => {
    const b = await bucket();
    const total = 200 * MiB;
    const partSize = 8 * MiB;
    const base = randomBytes(MiB);
    const block = (j: number) => {
      const out = Buffer.from(base);
      out.writeUInt32BE(j, 0);
      return out;
    };
    const partMd5s: Buffer[] = [];
    let partHash = createHash('md5');
    let inPart = 0;
    function* blocks() {
      for (let j = 0; j < total / MiB; j++) {
        const buf = block(j);
        partHash.update(buf);
        inPart += buf.length;
        if (inPart === partSize) {
          partMd5s.push(partHash.digest());
          partHash = createHash('md5');
          inPart = 0;
        }
        yield buf;
      }
    }
    const upload = new Upload({
      client: s3,
      params: { Bucket: b, Key: 'huge.bin', Body: Readable.from(blocks()) },
      partSize,
      queueSize: 4,
    });
    const result = await upload.done();
    const expected = `"${createHash('md5').update(Buffer.concat(partMd5s)).digest('hex')}-${total / partSize}"`;
    assert.equal(result.ETag, expected);
    const head = await s3.send(new HeadObjectCommand({ Bucket: b, Key: 'huge.bin' }));
    assert.equal(head.ContentLength, total);
    assert.equal(head.ETag, expected);
    const tail = await s3.send(new GetObjectCommand({ Bucket: b, Key: 'huge.bin', Range: `bytes=${total - 1000}-` }));
    assert.equal(tail.ContentRange, `bytes ${total - 1000}-${total - 1}/${total}`);
    assert.deepEqual(Buffer.from(await tail.Body!.transformToByteArray()), block(total / MiB - 1).subarray(MiB - 1000));
    const mid = await s3.send(new GetObjectCommand({ Bucket: b, Key: 'huge.bin', Range: `bytes=${100 * MiB}-${100 * MiB + 7}` }));
    assert.deepEqual(Buffer.from(await mid.Body!.transformToByteArray()), block(100).subarray(0, 8));
  });
});
