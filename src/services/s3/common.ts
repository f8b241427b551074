/**
 * What S3's handlers share: the object headers kept with each version, version ids, ETags, tag
 * parsing, and committing a written blob as the newest version of a key (blob first, row second,
 * the replaced blob removed only after the commit).
 */
import { createHash } from 'node:crypto';
import { AwsError } from '../../core/errors.js';
import { randomString } from '../../core/ids.js';
import type { ServiceEnv } from '../../gateway/service.js';
import type { BucketRow, ObjectRow, S3Store } from './store.js';

/** Object headers stored with a version and returned by GetObject/HeadObject, by wire member name. */
export const STORED_HEADERS = [
  'ContentType',
  'CacheControl',
  'ContentDisposition',
  'ContentEncoding',
  'ContentLanguage',
  'Expires',
  'WebsiteRedirectLocation',
  'StorageClass',
  'ServerSideEncryption',
  'ChecksumCRC32',
  'ChecksumCRC32C',
  'ChecksumSHA1',
  'ChecksumSHA256',
] as const;

export type StoredHeaders = Partial<Record<(typeof STORED_HEADERS)[number], string>>;

export function pickHeaders(input: Record<string, unknown>, withChecksums = true): StoredHeaders {
  const out: StoredHeaders = {};
  for (const name of STORED_HEADERS) {
    if (!withChecksums && name.startsWith('Checksum')) continue;
    const v = input[name];
    if (v === undefined || v === null) continue;
    out[name] = v instanceof Date ? v.toISOString() : String(v);
  }
  if (out.StorageClass === 'STANDARD') delete out.StorageClass;
  return out;
}

const VERSION_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._';
export const newVersionId = () => randomString(32, VERSION_ALPHABET);

export const quoteEtag = (hex: string) => `"${hex}"`;
export const unquote = (etag: string) =>
  etag
    .trim()
    .replace(/^W\//, '')
    .replace(/^"(.*)"$/, '$1');

/** The multipart ETag: MD5 of the concatenated binary part MD5s, "-" and the part count. */
export function multipartEtag(partEtags: string[]) {
  const h = createHash('md5');
  for (const e of partEtags) h.update(Buffer.from(unquote(e), 'hex'));
  return quoteEtag(`${h.digest('hex')}-${partEtags.length}`);
}

export interface Tag {
  Key: string;
  Value: string;
}

/** Tags from the x-amz-tagging header (URL query form). */
export function parseTaggingHeader(header: string | undefined): Tag[] | undefined {
  if (header === undefined) return undefined;
  const tags: Tag[] = [];
  for (const [Key, Value] of new URLSearchParams(header)) tags.push({ Key, Value });
  return checkObjectTags(tags);
}

/**
 * AWS's object tag limits: at most 10, unique keys, key ≤ 128 and value ≤ 256 characters. Object
 * tags stay in their object rows; bucket tags are core_tags' (buckets.ts).
 */
export function checkObjectTags(tags: Tag[]): Tag[] {
  if (tags.length > 10) throw new AwsError('BadRequest', 'Object tags cannot be greater than 10', 400);
  const seen = new Set<string>();
  for (const t of tags) {
    if (seen.has(t.Key)) throw new AwsError('InvalidTag', 'Cannot provide multiple Tags with the same key', 400);
    seen.add(t.Key);
    if (!t.Key || [...t.Key].length > 128) throw new AwsError('InvalidTag', 'The TagKey you have provided is invalid', 400);
    if ([...(t.Value ?? '')].length > 256) throw new AwsError('InvalidTag', 'The TagValue you have provided is invalid', 400);
  }
  return tags;
}

export const MALFORMED_XML = 'The XML you provided was not well-formed or did not validate against our published schema';
export const malformedXml = () => new AwsError('MalformedXML', MALFORMED_XML, 400);

export function checkKey(key: string) {
  if (Buffer.byteLength(key) > 1024) throw new AwsError('KeyTooLongError', 'Your key is too long', 400);
}

const STORAGE_CLASSES = new Set([
  'STANDARD',
  'REDUCED_REDUNDANCY',
  'STANDARD_IA',
  'ONEZONE_IA',
  'INTELLIGENT_TIERING',
  'GLACIER',
  'DEEP_ARCHIVE',
  'OUTPOSTS',
  'GLACIER_IR',
  'SNOW',
  'EXPRESS_ONEZONE',
]);
const MAX_OBJECT = 5 * 1024 ** 3;
const MAX_METADATA = 2048;

/** The limits S3 checks before reading an object body: key length, size, storage class, metadata size. */
export function checkWrite(input: { Key: string; ContentLength?: number; StorageClass?: string; Metadata?: Record<string, string> }) {
  checkKey(input.Key);
  if (input.ContentLength !== undefined && input.ContentLength > MAX_OBJECT)
    throw new AwsError('EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size', 400, {
      ProposedSize: String(input.ContentLength),
      MaxSizeAllowed: String(MAX_OBJECT),
    });
  if (input.StorageClass !== undefined && !STORAGE_CLASSES.has(input.StorageClass))
    throw new AwsError('InvalidStorageClass', 'The storage class you specified is not valid', 400, {
      StorageClassRequested: input.StorageClass,
    });
  let size = 0;
  for (const [k, v] of Object.entries(input.Metadata ?? {})) size += Buffer.byteLength(k) + Buffer.byteLength(v);
  if (size > MAX_METADATA)
    throw new AwsError('MetadataTooLarge', 'Your metadata headers exceed the maximum allowed metadata size.', 400, {
      Size: String(size),
      MaxSizeAllowed: String(MAX_METADATA),
    });
}

export interface NewVersion {
  blobId: string | null;
  size: number;
  etag: string;
  headers: StoredHeaders;
  metadata: Record<string, string>;
  tags?: Tag[];
  partsCount?: number;
  deleteMarker?: boolean;
}

/**
 * Commits `v` as the newest version of bucket/key: a fresh version id when versioning is Enabled,
 * 'null' otherwise (replacing the previous 'null' version, whose blob is deleted after the commit).
 */
export function commitVersion(env: ServiceEnv, store: S3Store, bucket: BucketRow, key: string, owner: string, v: NewVersion) {
  const versionId = bucket.versioning === 'Enabled' ? newVersionId() : 'null';
  // S3 keeps Last-Modified to the second (listings show .000Z), so GET, HEAD and listings agree
  const lastModified = Math.floor(env.clock.now() / 1000) * 1000;
  const { orphans } = store.putVersion({
    bucket: bucket.name,
    key,
    version_id: versionId,
    delete_marker: v.deleteMarker ? 1 : 0,
    blob_id: v.blobId,
    size: v.size,
    etag: v.etag,
    last_modified: lastModified,
    headers: JSON.stringify(v.headers),
    metadata: JSON.stringify(v.metadata),
    tags: v.tags && v.tags.length ? JSON.stringify(v.tags) : null,
    parts_count: v.partsCount ?? null,
    owner,
  });
  for (const id of orphans) env.blobs.delete(id);
  return { versionId, lastModified };
}

/** The version id as S3 reports it: only for buckets that have had versioning configured. */
export const reportedVersion = (bucket: BucketRow, versionId: string) => (bucket.versioning ? versionId : undefined);

export const rowTags = (row: ObjectRow): Tag[] => (row.tags ? JSON.parse(row.tags) : []);
