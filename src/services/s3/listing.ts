/**
 * ListObjectsV2, ListObjects (v1) and ListObjectVersions. One walker pages through the key index in
 * UTF-8 byte order from a cursor, folds keys into CommonPrefixes when a delimiter is given and seeks
 * past a whole common prefix in one index lookup, so a page costs O(page), not O(bucket).
 */
import { AwsError } from '../../core/errors.js';
import type { DeleteMarkerEntryOut, ObjectVersionOut, S3Handlers } from './api.generated.js';
import type { StoredHeaders } from './common.js';
import type { ObjectRow, S3Store } from './store.js';
import { decodeToken, encodeToken } from '../../core/pagination.js';

interface Cursor {
  /** Rows strictly after `from` (or from it inclusive when `ge`), as UTF-8 bytes. */
  from: Buffer;
  ge: boolean;
  /** Versions listing: continue with older versions of this key first. */
  olderThan?: { key: string; seq: number };
}

interface Walk {
  rows: ObjectRow[];
  prefixes: string[];
  truncated: boolean;
  /** The last key (or common prefix) returned: the next page's marker. */
  last?: string;
  lastRow?: ObjectRow;
}

/** The smallest byte string greater than every string starting with `prefix`. */
export function successor(prefix: string): Buffer {
  const b = Buffer.from(prefix);
  let i = b.length - 1;
  while (i >= 0 && b[i] === 0xff) i--;
  if (i < 0) return Buffer.concat([b, Buffer.from([0xff])]);
  const out = Buffer.from(b.subarray(0, i + 1));
  out[i]++;
  return out;
}

export function walk(
  fetch: (c: Cursor, limit: number) => ObjectRow[],
  opts: { prefix: string; delimiter?: string; after?: string; maxKeys: number; olderThan?: { key: string; seq: number } },
): Walk {
  const { prefix, delimiter, maxKeys } = opts;
  const out: Walk = { rows: [], prefixes: [], truncated: false };
  let cursor: Cursor = { from: Buffer.from(prefix), ge: true };
  const after = opts.after;
  if (after !== undefined && Buffer.compare(Buffer.from(after), Buffer.from(prefix)) >= 0) {
    cursor = { from: Buffer.from(after), ge: false, olderThan: opts.olderThan };
    // a marker that is itself a common prefix continues after everything under it
    if (
      delimiter &&
      after.startsWith(prefix) &&
      after.endsWith(delimiter) &&
      after.indexOf(delimiter, prefix.length) === after.length - delimiter.length
    )
      cursor = { from: successor(after), ge: true };
  }
  if (maxKeys === 0) return out;
  const batch = Math.min(maxKeys + 1, 1000);
  let count = 0;
  for (;;) {
    const rows = fetch(cursor, batch);
    let reseek = false;
    for (const row of rows) {
      if (!row.key.startsWith(prefix)) return out;
      if (count === maxKeys) {
        out.truncated = true;
        return out;
      }
      if (delimiter) {
        const at = row.key.indexOf(delimiter, prefix.length);
        if (at !== -1) {
          const cp = row.key.slice(0, at + delimiter.length);
          out.prefixes.push(cp);
          out.last = cp;
          out.lastRow = undefined;
          count++;
          cursor = { from: successor(cp), ge: true };
          reseek = true;
          break;
        }
      }
      out.rows.push(row);
      out.last = row.key;
      out.lastRow = row;
      count++;
      cursor = { from: Buffer.from(row.key), ge: false, olderThan: { key: row.key, seq: row.seq } };
    }
    if (!reseek && rows.length < batch) return out;
  }
}

function maxKeysOf(n: number | undefined) {
  if (n === undefined) return 1000;
  if (n < 0)
    throw new AwsError('InvalidArgument', 'max-keys cannot be negative', 400, { ArgumentName: 'max-keys', ArgumentValue: String(n) });
  return Math.min(n, 1000);
}

function checkEncoding(t: string | undefined) {
  if (t !== undefined && t !== 'url')
    throw new AwsError('InvalidArgument', 'Invalid Encoding Method specified in Request', 400, {
      ArgumentName: 'encoding-type',
      ArgumentValue: t,
    });
}

/** S3's encoding-type=url: percent-encoding that keeps "/" (botocore unquote_plus-decodes it). */
const urlEncode = (s: string) =>
  encodeURIComponent(s)
    .replace(/%2F/g, '/')
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

const token = {
  encode: encodeToken,
  decode: (t: string) =>
    decodeToken(
      t,
      () => new AwsError('InvalidArgument', 'The continuation token provided is incorrect', 400, { ArgumentName: 'continuation-token' }),
    ),
};

const content = (row: ObjectRow, withOwner: boolean, enc: (s: string) => string) => ({
  Key: enc(row.key),
  LastModified: new Date(row.last_modified),
  ETag: row.etag,
  Size: row.size,
  StorageClass: (JSON.parse(row.headers).StorageClass as string | undefined) ?? 'STANDARD',
  Owner: withOwner ? ownerOfRow(row) : undefined,
});

const ownerOfRow = (row: ObjectRow) => ({ ID: row.owner, DisplayName: undefined });

export function listingHandlers(store: S3Store): S3Handlers {
  const current = (bucket: string) => (c: Cursor, limit: number) => store.currentFrom(bucket, c.from, c.ge, limit);
  const versions = (bucket: string) => (c: Cursor, limit: number) => store.versionsFrom(bucket, c.from, c.ge, limit, c.olderThan);

  return {
    ListObjectsV2(input, ctx) {
      const bucket = store.requireBucket(input.Bucket, ctx);
      checkEncoding(input.EncodingType);
      const enc = input.EncodingType === 'url' ? urlEncode : (s: string) => s;
      const maxKeys = maxKeysOf(input.MaxKeys);
      const prefix = input.Prefix ?? '';
      const after = input.ContinuationToken !== undefined ? token.decode(input.ContinuationToken) : input.StartAfter;
      const w = walk(current(bucket.name), { prefix, delimiter: input.Delimiter || undefined, after, maxKeys });
      return {
        Name: bucket.name,
        Prefix: enc(prefix),
        Delimiter: input.Delimiter ? enc(input.Delimiter) : undefined,
        MaxKeys: maxKeys,
        EncodingType: input.EncodingType,
        KeyCount: w.rows.length + w.prefixes.length,
        IsTruncated: w.truncated,
        ContinuationToken: input.ContinuationToken,
        NextContinuationToken: w.truncated && w.last !== undefined ? token.encode(w.last) : undefined,
        StartAfter: input.StartAfter !== undefined ? enc(input.StartAfter) : undefined,
        Contents: w.rows.length ? w.rows.map((r) => content(r, !!input.FetchOwner, enc)) : undefined,
        CommonPrefixes: w.prefixes.length ? w.prefixes.map((p) => ({ Prefix: enc(p) })) : undefined,
      };
    },

    ListObjects(input, ctx) {
      const bucket = store.requireBucket(input.Bucket, ctx);
      checkEncoding(input.EncodingType);
      const enc = input.EncodingType === 'url' ? urlEncode : (s: string) => s;
      const maxKeys = maxKeysOf(input.MaxKeys);
      const prefix = input.Prefix ?? '';
      const w = walk(current(bucket.name), { prefix, delimiter: input.Delimiter || undefined, after: input.Marker || undefined, maxKeys });
      return {
        Name: bucket.name,
        Prefix: enc(prefix),
        Marker: enc(input.Marker ?? ''),
        Delimiter: input.Delimiter ? enc(input.Delimiter) : undefined,
        MaxKeys: maxKeys,
        EncodingType: input.EncodingType,
        IsTruncated: w.truncated,
        NextMarker: w.truncated && input.Delimiter && w.last !== undefined ? enc(w.last) : undefined,
        Contents: w.rows.length ? w.rows.map((r) => content(r, true, enc)) : undefined,
        CommonPrefixes: w.prefixes.length ? w.prefixes.map((p) => ({ Prefix: enc(p) })) : undefined,
      };
    },

    ListObjectVersions(input, ctx) {
      const bucket = store.requireBucket(input.Bucket, ctx);
      checkEncoding(input.EncodingType);
      const enc = input.EncodingType === 'url' ? urlEncode : (s: string) => s;
      const maxKeys = maxKeysOf(input.MaxKeys);
      const prefix = input.Prefix ?? '';
      let olderThan: { key: string; seq: number } | undefined;
      let after = input.KeyMarker || undefined;
      if (after !== undefined && input.VersionIdMarker) {
        const marker = store.version(bucket.name, after, input.VersionIdMarker);
        if (!marker)
          throw new AwsError('InvalidArgument', 'Invalid version id specified', 400, {
            ArgumentName: 'version-id-marker',
            ArgumentValue: input.VersionIdMarker,
          });
        olderThan = { key: after, seq: marker.seq };
      }
      const w = walk(versions(bucket.name), { prefix, delimiter: input.Delimiter || undefined, after, maxKeys, olderThan });
      const Versions: ObjectVersionOut[] = [];
      const DeleteMarkers: DeleteMarkerEntryOut[] = [];
      for (const r of w.rows) {
        const common = {
          Key: enc(r.key),
          VersionId: r.version_id,
          IsLatest: !!r.is_latest,
          LastModified: new Date(r.last_modified),
          Owner: ownerOfRow(r),
        };
        if (r.delete_marker) DeleteMarkers.push(common);
        else
          Versions.push({
            ...common,
            ETag: r.etag,
            Size: r.size,
            StorageClass: (JSON.parse(r.headers) as StoredHeaders).StorageClass ?? 'STANDARD',
          });
      }
      return {
        Name: bucket.name,
        Prefix: enc(prefix),
        KeyMarker: enc(input.KeyMarker ?? ''),
        VersionIdMarker: input.VersionIdMarker ?? '',
        Delimiter: input.Delimiter ? enc(input.Delimiter) : undefined,
        MaxKeys: maxKeys,
        EncodingType: input.EncodingType,
        IsTruncated: w.truncated,
        NextKeyMarker: w.truncated && w.last !== undefined ? enc(w.last) : undefined,
        NextVersionIdMarker: w.truncated && w.lastRow ? w.lastRow.version_id : undefined,
        Versions: Versions.length ? Versions : undefined,
        DeleteMarkers: DeleteMarkers.length ? DeleteMarkers : undefined,
        CommonPrefixes: w.prefixes.length ? w.prefixes.map((p) => ({ Prefix: enc(p) })) : undefined,
      };
    },
  };
}
