/**
 * Object handlers: PutObject, GetObject/HeadObject (ranges, conditional requests, versions, delete
 * markers), DeleteObject(s), CopyObject and object tagging. Bodies stream between the request,
 * core/blobs and the response; nothing here holds a whole object in memory.
 */
import { Readable } from 'node:stream';
import { AwsError } from '../../core/errors.js';
import type { RequestContext } from '../../gateway/context.js';
import type { ServiceEnv } from '../../gateway/service.js';
import { HTTP_STATUS } from '../../protocol/rest.js';
import type { DeletedObject, ErrorShape, GetObjectInput, HeadObjectInput, S3Handlers } from './api.generated.js';
import {
  checkObjectTags,
  checkWrite,
  commitVersion,
  malformedXml,
  parseTaggingHeader,
  pickHeaders,
  quoteEtag,
  reportedVersion,
  rowTags,
  unquote,
  type StoredHeaders,
} from './common.js';
import type { Notifier } from './notifications.js';
import { canonicalId, type BucketRow, type ObjectRow, type S3Store } from './store.js';

const noSuchKey = (key: string) => new AwsError('NoSuchKey', 'The specified key does not exist.', 404, { Key: key });

const withHeaders = (err: AwsError, headers: Record<string, string>) => Object.assign(err, { headers });

/** The version a GET/HEAD addresses; throws NoSuchKey / NoSuchVersion / MethodNotAllowed (delete marker) as S3. */
export function resolveVersion(store: S3Store, bucket: BucketRow, key: string, versionId: string | undefined, method: string): ObjectRow {
  if (versionId !== undefined) {
    const row = store.version(bucket.name, key, versionId);
    if (!row) {
      if (versionId !== 'null' && !/^[A-Za-z0-9._]{32}$/.test(versionId))
        throw new AwsError('InvalidArgument', 'Invalid version id specified', 400, { ArgumentName: 'versionId', ArgumentValue: versionId });
      throw new AwsError('NoSuchVersion', 'The specified version does not exist.', 404, { Key: key, VersionId: versionId });
    }
    if (row.delete_marker)
      throw withHeaders(
        new AwsError('MethodNotAllowed', 'The specified method is not allowed against this resource.', 405, {
          Method: method,
          ResourceType: 'DeleteMarker',
        }),
        { 'x-amz-delete-marker': 'true', 'x-amz-version-id': row.version_id, 'Last-Modified': new Date(row.last_modified).toUTCString() },
      );
    return row;
  }
  const row = store.latest(bucket.name, key);
  if (!row) throw noSuchKey(key);
  if (row.delete_marker) throw withHeaders(noSuchKey(key), { 'x-amz-delete-marker': 'true', 'x-amz-version-id': row.version_id });
  return row;
}

const etagMatches = (header: string, etag: string) => header.split(',').some((t) => t.trim() === '*' || unquote(t) === unquote(etag));

const seconds = (ms: number) => Math.floor(ms / 1000) * 1000;

interface Conditions {
  IfMatch?: string;
  IfNoneMatch?: string;
  IfModifiedSince?: Date;
  IfUnmodifiedSince?: Date;
}

/** S3's conditional GET/HEAD: If-Match/If-Unmodified-Since → 412, If-None-Match/If-Modified-Since → 304. */
function checkConditions(c: Conditions, row: ObjectRow) {
  const modified = seconds(row.last_modified);
  const fail = (cond: string) =>
    new AwsError('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', 412, { Condition: cond });
  if (c.IfMatch !== undefined) {
    if (!etagMatches(c.IfMatch, row.etag)) throw fail('If-Match');
  } else if (c.IfUnmodifiedSince && modified > c.IfUnmodifiedSince.getTime()) throw fail('If-Unmodified-Since');
  const notModified = () =>
    withHeaders(new AwsError('NotModified', 'Not Modified', 304), {
      ETag: row.etag,
      'Last-Modified': new Date(row.last_modified).toUTCString(),
    });
  if (c.IfNoneMatch !== undefined) {
    if (etagMatches(c.IfNoneMatch, row.etag)) throw notModified();
  } else if (c.IfModifiedSince && modified <= c.IfModifiedSince.getTime()) throw notModified();
}

/** "bytes=a-b" | "bytes=a-" | "bytes=-n" → inclusive byte range; anything else is ignored as S3 does. */
export function parseRange(header: string | undefined, size: number) {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  let start: number;
  let end: number;
  if (m[1] === '') {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
    if (Number(m[2]) === 0) start = size;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (m[2] !== '' && Number(m[2]) < start) return undefined;
  }
  if (start >= size)
    throw new AwsError('InvalidRange', 'The requested range is not satisfiable', 416, {
      RangeRequested: header,
      ActualObjectSize: String(size),
    });
  return { start, end };
}

/** The headers of a stored version as GetObject/HeadObject members. */
function describe(bucket: BucketRow, row: ObjectRow) {
  const h = JSON.parse(row.headers) as StoredHeaders;
  const tags = rowTags(row);
  return {
    ...h,
    ContentType: h.ContentType ?? 'binary/octet-stream',
    Expires: h.Expires ? new Date(h.Expires) : undefined,
    LastModified: new Date(row.last_modified),
    ETag: row.etag,
    ContentLength: row.size,
    AcceptRanges: 'bytes',
    Metadata: JSON.parse(row.metadata) as Record<string, string>,
    VersionId: reportedVersion(bucket, row.version_id),
    TagCount: tags.length || undefined,
  };
}

export function objectHandlers(env: ServiceEnv, store: S3Store, notifier: Notifier): S3Handlers {
  const { blobs } = env;

  function getOrHead(input: GetObjectInput | HeadObjectInput, ctx: RequestContext, withBody: boolean) {
    const bucket = store.requireBucket(input.Bucket, ctx);
    const row = resolveVersion(store, bucket, input.Key, input.VersionId, withBody ? 'GET' : 'HEAD');
    checkConditions(input, row);
    const out: Record<string | symbol, unknown> = describe(bucket, row);
    if (!withBody) delete out.TagCount;
    // checksums describe the whole object: only echoed when asked for and the whole object is sent
    if (input.ChecksumMode !== 'ENABLED')
      for (const k of ['ChecksumCRC32', 'ChecksumCRC32C', 'ChecksumSHA1', 'ChecksumSHA256']) delete out[k];
    const range = parseRange(input.Range, row.size);
    if (range) {
      out.ContentLength = range.end - range.start + 1;
      out.ContentRange = `bytes ${range.start}-${range.end}/${row.size}`;
      out[HTTP_STATUS] = 206;
      for (const k of ['ChecksumCRC32', 'ChecksumCRC32C', 'ChecksumSHA1', 'ChecksumSHA256']) delete out[k];
    }
    for (const [from, to] of [
      ['ResponseContentType', 'ContentType'],
      ['ResponseContentLanguage', 'ContentLanguage'],
      ['ResponseExpires', 'Expires'],
      ['ResponseCacheControl', 'CacheControl'],
      ['ResponseContentDisposition', 'ContentDisposition'],
      ['ResponseContentEncoding', 'ContentEncoding'],
    ] as const)
      if (input[from] !== undefined) out[to] = input[from];
    if (withBody) out.Body = row.size === 0 ? Readable.from([]) : blobs.read(row.blob_id!, range);
    return out;
  }

  /** Deletes the addressed version, or writes a delete marker when versioning is configured. */
  function deleteOne(bucket: BucketRow, key: string, versionId: string | undefined, owner: string) {
    if (versionId !== undefined) {
      const row = store.version(bucket.name, key, versionId);
      if (!row) {
        if (versionId !== 'null' && !/^[A-Za-z0-9._]{32}$/.test(versionId))
          throw new AwsError('InvalidArgument', 'Invalid version id specified', 400, {
            ArgumentName: 'versionId',
            ArgumentValue: versionId,
          });
        return { VersionId: versionId };
      }
      store.deleteVersion(row);
      if (row.blob_id) blobs.delete(row.blob_id);
      return { VersionId: versionId, DeleteMarker: row.delete_marker ? true : undefined };
    }
    if (!bucket.versioning) {
      const row = store.version(bucket.name, key, 'null');
      if (row) {
        store.deleteVersion(row);
        if (row.blob_id) blobs.delete(row.blob_id);
      }
      return {};
    }
    const { versionId: markerId } = commitVersion(env, store, bucket, key, owner, {
      blobId: null,
      size: 0,
      etag: '',
      headers: {},
      metadata: {},
      deleteMarker: true,
    });
    return { DeleteMarker: true, VersionId: markerId };
  }

  /** The event of a committed delete: a delete marker written, or a version (or unversioned object) gone. */
  function notifyRemoved(
    bucket: BucketRow,
    key: string,
    requested: string | undefined,
    r: { VersionId?: string; DeleteMarker?: boolean },
    ctx: RequestContext,
  ) {
    const marker = requested === undefined && !!r.DeleteMarker;
    notifier.emit(
      bucket,
      {
        event: marker ? 'ObjectRemoved:DeleteMarkerCreated' : 'ObjectRemoved:Delete',
        reason: 'DeleteObject',
        key,
        versionId: r.VersionId !== undefined ? reportedVersion(bucket, r.VersionId) : undefined,
      },
      ctx,
    );
  }

  return {
    async PutObject(input, ctx) {
      const bucket = store.requireBucket(input.Bucket, ctx);
      checkWrite(input);
      let expected: Buffer | undefined;
      if (input.ContentMD5 !== undefined) {
        expected = Buffer.from(input.ContentMD5, 'base64');
        if (expected.length !== 16 || expected.toString('base64') !== input.ContentMD5.trim())
          throw new AwsError('InvalidDigest', 'The Content-MD5 you specified was not valid.', 400, { 'Content-MD5': input.ContentMD5 });
      }
      const tags = parseTaggingHeader(input.Tagging);
      if (input.IfNoneMatch === '*' && store.latest(bucket.name, input.Key) && !store.latest(bucket.name, input.Key)!.delete_marker)
        throw new AwsError('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', 412, {
          Condition: 'If-None-Match',
        });
      const body = input.Body ?? Readable.from([]);
      const blob = await blobs.write(body);
      if (expected && !expected.equals(blob.md5)) {
        blobs.delete(blob.id);
        throw new AwsError('BadDigest', 'The Content-MD5 you specified did not match what we received.', 400, {
          ExpectedDigest: expected.toString('hex'),
          CalculatedDigest: blob.md5.toString('base64'),
        });
      }
      const headers = pickHeaders(input);
      Object.assign(headers, trailerChecksums(body));
      const etag = quoteEtag(blob.md5.toString('hex'));
      const { versionId } = commitVersion(env, store, bucket, input.Key, canonicalId(ctx.account), {
        blobId: blob.id,
        size: blob.size,
        etag,
        headers,
        metadata: input.Metadata ?? {},
        tags,
      });
      notifier.emit(
        bucket,
        {
          event: 'ObjectCreated:Put',
          reason: 'PutObject',
          key: input.Key,
          size: blob.size,
          etag,
          versionId: reportedVersion(bucket, versionId),
        },
        ctx,
      );
      return {
        ETag: etag,
        VersionId: bucket.versioning === 'Enabled' ? versionId : undefined,
        ChecksumCRC32: headers.ChecksumCRC32,
        ChecksumCRC32C: headers.ChecksumCRC32C,
        ChecksumSHA1: headers.ChecksumSHA1,
        ChecksumSHA256: headers.ChecksumSHA256,
      };
    },

    GetObject: (input, ctx) => getOrHead(input, ctx, true),
    HeadObject: (input, ctx) => getOrHead(input, ctx, false),

    DeleteObject(input, ctx) {
      const bucket = store.requireBucket(input.Bucket, ctx);
      const r = deleteOne(bucket, input.Key, input.VersionId, canonicalId(ctx.account));
      notifyRemoved(bucket, input.Key, input.VersionId, r, ctx);
      return r;
    },

    DeleteObjects(input, ctx) {
      const bucket = store.requireBucket(input.Bucket, ctx);
      requireIntegrityHeader(ctx);
      const objects = input.Delete.Objects ?? [];
      if (objects.length > 1000) throw malformedXml();
      const Deleted: DeletedObject[] = [];
      const Errors: ErrorShape[] = [];
      for (const o of objects) {
        try {
          const r = deleteOne(bucket, o.Key, o.VersionId, canonicalId(ctx.account));
          notifyRemoved(bucket, o.Key, o.VersionId, r, ctx);
          if (input.Delete.Quiet) continue;
          Deleted.push(
            o.VersionId !== undefined
              ? {
                  Key: o.Key,
                  VersionId: o.VersionId,
                  DeleteMarker: r.DeleteMarker,
                  DeleteMarkerVersionId: r.DeleteMarker ? o.VersionId : undefined,
                }
              : { Key: o.Key, DeleteMarker: r.DeleteMarker, DeleteMarkerVersionId: r.DeleteMarker ? r.VersionId : undefined },
          );
        } catch (err) {
          if (!(err instanceof AwsError)) throw err;
          Errors.push({ Key: o.Key, VersionId: o.VersionId, Code: err.code, Message: err.message });
        }
      }
      return { Deleted: Deleted.length ? Deleted : undefined, Errors: Errors.length ? Errors : undefined };
    },

    async CopyObject(input, ctx) {
      const bucket = store.requireBucket(input.Bucket, ctx);
      checkWrite(input);
      const src = parseCopySource(input.CopySource);
      const srcBucket = store.requireBucket(src.bucket, ctx);
      let row: ObjectRow;
      try {
        row = resolveVersion(store, srcBucket, src.key, src.versionId, 'GET');
      } catch (err) {
        if (err instanceof AwsError && err.code === 'MethodNotAllowed')
          throw new AwsError(
            'InvalidRequest',
            'The source of a copy request may not specifically refer to a delete marker by version id.',
            400,
          );
        throw err;
      }
      checkConditions(
        {
          IfMatch: input.CopySourceIfMatch,
          IfNoneMatch: input.CopySourceIfNoneMatch,
          IfModifiedSince: input.CopySourceIfModifiedSince,
          IfUnmodifiedSince: input.CopySourceIfUnmodifiedSince,
        },
        row,
      );
      const directive = input.MetadataDirective ?? 'COPY';
      if (directive !== 'COPY' && directive !== 'REPLACE')
        throw new AwsError('InvalidArgument', 'Unknown metadata directive.', 400, {
          ArgumentName: 'x-amz-metadata-directive',
          ArgumentValue: directive,
        });
      const tagDirective = input.TaggingDirective ?? 'COPY';
      const self = src.bucket === input.Bucket && src.key === input.Key && (src.versionId === undefined || row.is_latest);
      if (self && directive === 'COPY' && !input.StorageClass && !input.WebsiteRedirectLocation && !input.ServerSideEncryption)
        throw new AwsError(
          'InvalidRequest',
          "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
          400,
        );
      const srcHeaders = JSON.parse(row.headers) as StoredHeaders;
      const headers = directive === 'REPLACE' ? pickHeaders(input, false) : { ...srcHeaders };
      for (const k of ['StorageClass', 'WebsiteRedirectLocation', 'ServerSideEncryption'] as const) if (input[k]) headers[k] = input[k];
      if (directive === 'REPLACE')
        for (const k of ['ChecksumCRC32', 'ChecksumCRC32C', 'ChecksumSHA1', 'ChecksumSHA256'] as const)
          if (srcHeaders[k]) headers[k] = srcHeaders[k];
      const metadata = directive === 'REPLACE' ? (input.Metadata ?? {}) : JSON.parse(row.metadata);
      const tags = tagDirective === 'REPLACE' ? (parseTaggingHeader(input.Tagging) ?? []) : rowTags(row);
      const blob = await blobs.write(row.size === 0 ? Readable.from([]) : blobs.read(row.blob_id!));
      const { versionId, lastModified } = commitVersion(env, store, bucket, input.Key, canonicalId(ctx.account), {
        blobId: blob.id,
        size: blob.size,
        etag: row.etag,
        headers,
        metadata,
        tags,
        partsCount: row.parts_count ?? undefined,
      });
      notifier.emit(
        bucket,
        {
          event: 'ObjectCreated:Copy',
          reason: 'CopyObject',
          key: input.Key,
          size: blob.size,
          etag: row.etag,
          versionId: reportedVersion(bucket, versionId),
        },
        ctx,
      );
      return {
        CopyObjectResult: { ETag: row.etag, LastModified: new Date(lastModified) },
        VersionId: bucket.versioning === 'Enabled' ? versionId : undefined,
        CopySourceVersionId: reportedVersion(srcBucket, row.version_id),
      };
    },

    PutObjectTagging(input, ctx) {
      const bucket = store.requireBucket(input.Bucket, ctx);
      const row = resolveVersion(store, bucket, input.Key, input.VersionId, 'PUT');
      const tags = checkObjectTags(input.Tagging.TagSet ?? []);
      store.setObjectTags(row.seq, tags.length ? JSON.stringify(tags) : null);
      return { VersionId: reportedVersion(bucket, row.version_id) };
    },

    GetObjectTagging(input, ctx) {
      const bucket = store.requireBucket(input.Bucket, ctx);
      const row = resolveVersion(store, bucket, input.Key, input.VersionId, 'GET');
      return { TagSet: rowTags(row), VersionId: reportedVersion(bucket, row.version_id) };
    },

    DeleteObjectTagging(input, ctx) {
      const bucket = store.requireBucket(input.Bucket, ctx);
      const row = resolveVersion(store, bucket, input.Key, input.VersionId, 'DELETE');
      store.setObjectTags(row.seq, null);
      return { VersionId: reportedVersion(bucket, row.version_id) };
    },
  };
}

/** "bucket/key[?versionId=…]", URL-encoded, with an optional leading slash. */
export function parseCopySource(source: string) {
  let s = source.startsWith('/') ? source.slice(1) : source;
  let versionId: string | undefined;
  const q = s.indexOf('?');
  if (q !== -1) {
    versionId = new URLSearchParams(s.slice(q + 1)).get('versionId') ?? undefined;
    s = s.slice(0, q);
  }
  let decoded: string;
  try {
    decoded = decodeURIComponent(s);
  } catch {
    decoded = s;
  }
  const slash = decoded.indexOf('/');
  if (slash <= 0 || slash === decoded.length - 1)
    throw new AwsError('InvalidArgument', 'Copy Source must mention the source bucket and key: sourcebucket/sourcekey', 400, {
      ArgumentName: 'x-amz-copy-source',
      ArgumentValue: source,
    });
  return { bucket: decoded.slice(0, slash), key: decoded.slice(slash + 1), versionId };
}

/** Checksums an SDK sent as aws-chunked trailers (the decoder keeps them once the body is read). */
export function trailerChecksums(body: unknown): StoredHeaders {
  const trailers = (body as { trailers?: Record<string, string> }).trailers;
  const out: StoredHeaders = {};
  if (!trailers) return out;
  const names = {
    'x-amz-checksum-crc32': 'ChecksumCRC32',
    'x-amz-checksum-crc32c': 'ChecksumCRC32C',
    'x-amz-checksum-sha1': 'ChecksumSHA1',
    'x-amz-checksum-sha256': 'ChecksumSHA256',
  } as const;
  for (const [h, m] of Object.entries(names)) if (trailers[h]) out[m] = trailers[h];
  return out;
}

/**
 * Multi-object delete must carry Content-MD5 or one of the newer checksums (a header, or a trailer
 * announced by x-amz-trailer), as on AWS:
 *   <Code>InvalidRequest</Code><Message>Missing required header for this request: Content-MD5</Message>
 */
function requireIntegrityHeader(ctx: RequestContext) {
  const h = ctx.headers;
  if (h['content-md5'] || h['x-amz-trailer'] || Object.keys(h).some((k) => k.startsWith('x-amz-checksum-'))) return;
  throw new AwsError('InvalidRequest', 'Missing required header for this request: Content-MD5', 400);
}
