/**
 * Multipart uploads: parts stream to their own blobs; CompleteMultipartUpload checks the part list
 * as S3 does (InvalidPart, InvalidPartOrder, EntityTooSmall) and concatenates the blobs by streaming
 * into the object's blob before committing it as the newest version.
 */
import { Readable } from 'node:stream';
import { AwsError } from '../../core/errors.js';
import { randomString } from '../../core/ids.js';
import type { ServiceEnv } from '../../gateway/service.js';
import type { S3Handlers } from './api.generated.js';
import {
  checkWrite,
  commitVersion,
  malformedXml,
  multipartEtag,
  parseTaggingHeader,
  pickHeaders,
  quoteEtag,
  reportedVersion,
  unquote,
  type StoredHeaders,
} from './common.js';
import type { Notifier } from './notifications.js';
import { parseCopySource, resolveVersion, trailerChecksums } from './objects.js';
import { canonicalId, ownerOf, type S3Store } from './store.js';

const MIN_PART = 5 * 1024 * 1024;
const UPLOAD_ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-';

function checkPartNumber(n: number) {
  if (!Number.isInteger(n) || n < 1 || n > 10000)
    throw new AwsError('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive', 400, {
      ArgumentName: 'partNumber',
      ArgumentValue: String(n),
    });
}

export function multipartHandlers(env: ServiceEnv, store: S3Store, notifier: Notifier): S3Handlers {
  const { blobs } = env;

  async function storePart(uploadId: string, partNumber: number, body: Readable, expectedMd5?: string) {
    const blob = await blobs.write(body);
    if (expectedMd5 !== undefined && !Buffer.from(expectedMd5, 'base64').equals(blob.md5)) {
      blobs.delete(blob.id);
      throw new AwsError('BadDigest', 'The Content-MD5 you specified did not match what we received.', 400);
    }
    const etag = quoteEtag(blob.md5.toString('hex'));
    const now = env.clock.now();
    // the upload may have been aborted or completed while the body streamed
    if (!store.upload(uploadId)) {
      blobs.delete(blob.id);
      throw new AwsError(
        'NoSuchUpload',
        'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
        404,
        { UploadId: uploadId },
      );
    }
    const replaced = store.putPart({
      upload_id: uploadId,
      part_number: partNumber,
      blob_id: blob.id,
      size: blob.size,
      etag,
      last_modified: now,
    });
    if (replaced) blobs.delete(replaced);
    return { etag, now };
  }

  return {
    CreateMultipartUpload(input, ctx) {
      const bucket = store.requireBucket(input.Bucket, ctx);
      checkWrite(input);
      const tags = parseTaggingHeader(input.Tagging);
      const uploadId = randomString(64, UPLOAD_ID_ALPHABET);
      store.insertUpload({
        upload_id: uploadId,
        bucket: bucket.name,
        key: input.Key,
        account: ctx.account,
        initiated: env.clock.now(),
        headers: JSON.stringify(pickHeaders(input, false)),
        metadata: JSON.stringify(input.Metadata ?? {}),
        tags: tags?.length ? JSON.stringify(tags) : null,
      });
      return { Bucket: bucket.name, Key: input.Key, UploadId: uploadId, ChecksumAlgorithm: input.ChecksumAlgorithm };
    },

    async UploadPart(input, ctx) {
      store.requireBucket(input.Bucket, ctx);
      checkPartNumber(input.PartNumber);
      store.requireUpload(input.Bucket, input.Key, input.UploadId);
      const body = input.Body ?? Readable.from([]);
      const { etag } = await storePart(input.UploadId, input.PartNumber, body, input.ContentMD5);
      const sums = trailerChecksums(body);
      return {
        ETag: etag,
        ChecksumCRC32: input.ChecksumCRC32 ?? sums.ChecksumCRC32,
        ChecksumCRC32C: input.ChecksumCRC32C ?? sums.ChecksumCRC32C,
        ChecksumSHA1: input.ChecksumSHA1 ?? sums.ChecksumSHA1,
        ChecksumSHA256: input.ChecksumSHA256 ?? sums.ChecksumSHA256,
      };
    },

    async UploadPartCopy(input, ctx) {
      store.requireBucket(input.Bucket, ctx);
      checkPartNumber(input.PartNumber);
      store.requireUpload(input.Bucket, input.Key, input.UploadId);
      const src = parseCopySource(input.CopySource);
      const srcBucket = store.requireBucket(src.bucket, ctx);
      const row = resolveVersion(store, srcBucket, src.key, src.versionId, 'GET');
      let range: { start: number; end: number } | undefined;
      if (input.CopySourceRange) {
        const m = /^bytes=(\d+)-(\d+)$/.exec(input.CopySourceRange);
        if (!m || Number(m[2]) < Number(m[1]) || Number(m[2]) >= row.size)
          throw new AwsError(
            'InvalidArgument',
            'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy',
            400,
            {
              ArgumentName: 'x-amz-copy-source-range',
              ArgumentValue: input.CopySourceRange,
            },
          );
        range = { start: Number(m[1]), end: Number(m[2]) };
      }
      const body = row.size === 0 ? Readable.from([]) : blobs.read(row.blob_id!, range);
      const { etag, now } = await storePart(input.UploadId, input.PartNumber, body);
      return {
        CopyPartResult: { ETag: etag, LastModified: new Date(now) },
        CopySourceVersionId: srcBucket.versioning ? row.version_id : undefined,
      };
    },

    async CompleteMultipartUpload(input, ctx) {
      const bucket = store.requireBucket(input.Bucket, ctx);
      const upload = store.requireUpload(bucket.name, input.Key, input.UploadId);
      const requested = input.MultipartUpload?.Parts ?? [];
      if (!requested.length) throw malformedXml();
      const parts = [];
      let previous = 0;
      for (const p of requested) {
        const n = p.PartNumber ?? 0;
        if (n <= previous)
          throw new AwsError(
            'InvalidPartOrder',
            'The list of parts was not in ascending order. Parts must be ordered by part number.',
            400,
            { UploadId: input.UploadId },
          );
        previous = n;
        const stored = store.part(upload.upload_id, n);
        if (!stored || unquote(p.ETag ?? '') !== unquote(stored.etag))
          throw new AwsError(
            'InvalidPart',
            "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not have matched the part's entity tag.",
            400,
            {
              UploadId: input.UploadId,
              PartNumber: String(n),
              ETag: p.ETag ?? '',
            },
          );
        parts.push(stored);
      }
      parts.forEach((p, i) => {
        if (i < parts.length - 1 && p.size < MIN_PART)
          throw new AwsError('EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed size', 400, {
            ProposedSize: String(p.size),
            MinSizeAllowed: String(MIN_PART),
            PartNumber: String(p.part_number),
            ETag: p.etag,
          });
      });
      const blob = await blobs.concat(parts.map((p) => p.blob_id));
      const etag = multipartEtag(parts.map((p) => p.etag));
      let partBlobs: string[] = [];
      let versionId = '';
      // the object row and the end of the upload commit together
      store.db.transaction(() => {
        if (!store.upload(upload.upload_id))
          throw new AwsError(
            'NoSuchUpload',
            'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
            404,
            { UploadId: upload.upload_id },
          );
        partBlobs = store.dropUpload(upload.upload_id);
        versionId = commitVersion(env, store, bucket, upload.key, canonicalId(ctx.account), {
          blobId: blob.id,
          size: blob.size,
          etag,
          headers: JSON.parse(upload.headers) as StoredHeaders,
          metadata: JSON.parse(upload.metadata),
          tags: upload.tags ? JSON.parse(upload.tags) : undefined,
          partsCount: parts.length,
        }).versionId;
      })();
      for (const id of partBlobs) blobs.delete(id);
      notifier.emit(
        bucket,
        {
          event: 'ObjectCreated:CompleteMultipartUpload',
          reason: 'CompleteMultipartUpload',
          key: upload.key,
          size: blob.size,
          etag,
          versionId: reportedVersion(bucket, versionId),
        },
        ctx,
      );
      return {
        Location: `http://${ctx.host}/${bucket.name}/${encodeURI(upload.key)}`,
        Bucket: bucket.name,
        Key: upload.key,
        ETag: etag,
        VersionId: bucket.versioning === 'Enabled' ? versionId : undefined,
      };
    },

    AbortMultipartUpload(input, ctx) {
      store.requireBucket(input.Bucket, ctx);
      store.requireUpload(input.Bucket, input.Key, input.UploadId);
      for (const id of store.dropUpload(input.UploadId)) blobs.delete(id);
      return {};
    },

    ListParts(input, ctx) {
      store.requireBucket(input.Bucket, ctx);
      const upload = store.requireUpload(input.Bucket, input.Key, input.UploadId);
      const max = Math.min(input.MaxParts ?? 1000, 1000);
      const after = Number(input.PartNumberMarker ?? 0);
      const rows = store.partsAfter(upload.upload_id, after, max + 1);
      const truncated = rows.length > max;
      const page = rows.slice(0, max);
      const owner = ownerOf(upload.account);
      return {
        Bucket: upload.bucket,
        Key: upload.key,
        UploadId: upload.upload_id,
        PartNumberMarker: after,
        NextPartNumberMarker: page.length ? page[page.length - 1].part_number : undefined,
        MaxParts: max,
        IsTruncated: truncated,
        Parts: page.length
          ? page.map((p) => ({ PartNumber: p.part_number, LastModified: new Date(p.last_modified), ETag: p.etag, Size: p.size }))
          : undefined,
        Initiator: owner,
        Owner: owner,
        StorageClass: (JSON.parse(upload.headers) as StoredHeaders).StorageClass ?? 'STANDARD',
      };
    },

    ListMultipartUploads(input, ctx) {
      const bucket = store.requireBucket(input.Bucket, ctx);
      const max = Math.min(input.MaxUploads ?? 1000, 1000);
      const prefix = input.Prefix ?? '';
      const keyMarker = input.KeyMarker ?? '';
      // with only a key marker, uploads of that key are skipped entirely
      const idMarker = input.KeyMarker && !input.UploadIdMarker ? '\u{10FFFF}' : (input.UploadIdMarker ?? '');
      const rows = store
        .uploadsAfter(bucket.name, keyMarker < prefix ? prefix : keyMarker, keyMarker < prefix ? '' : idMarker, max + 1)
        .filter((u) => u.key.startsWith(prefix));
      const truncated = rows.length > max;
      const page = rows.slice(0, max);
      const last = page[page.length - 1];
      return {
        Bucket: bucket.name,
        KeyMarker: input.KeyMarker ?? '',
        UploadIdMarker: input.UploadIdMarker ?? '',
        NextKeyMarker: truncated ? last.key : undefined,
        NextUploadIdMarker: truncated ? last.upload_id : undefined,
        Prefix: input.Prefix,
        MaxUploads: max,
        IsTruncated: truncated,
        Uploads: page.length
          ? page.map((u) => ({
              UploadId: u.upload_id,
              Key: u.key,
              Initiated: new Date(u.initiated),
              StorageClass: (JSON.parse(u.headers) as StoredHeaders).StorageClass ?? 'STANDARD',
              Owner: ownerOf(u.account),
              Initiator: ownerOf(u.account),
            }))
          : undefined,
      };
    },
  };
}
