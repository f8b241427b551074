/**
 * S3's tables and queries. Bucket names are global (one row per name, owned by an account); an
 * object row is one version of a key ('null' is the version of unversioned writes), with the body in
 * core/blobs under an opsbox id. `seq` orders versions (newest = highest); exactly one row per key
 * has is_latest = 1. Listings walk the (bucket, key) indexes, never the whole table.
 */
import { createHash } from 'node:crypto';
import { AwsError } from '../../core/errors.js';
import type { Db, Store } from '../../core/store.js';
import { moveTagColumnSql } from '../../core/tags.js';
import type { RequestContext } from '../../gateway/context.js';

export interface BucketRow {
  name: string;
  account: string;
  region: string;
  created_at: number;
  versioning: string | null;
  /** 1 from PutBucketTagging (even of no tags) until DeleteBucketTagging; the tags are in core_tags (bucketArn). */
  tag_set: number;
  policy: string | null;
  cors: string | null;
  lifecycle: string | null;
  /** JSON: the WebsiteConfiguration as stored (website.ts); null without one. */
  website: string | null;
  /** JSON: the NotificationConfiguration with its ids (notifications.ts); null without one. */
  notification: string | null;
}

export interface ObjectRow {
  seq: number;
  bucket: string;
  key: string;
  version_id: string;
  is_latest: number;
  delete_marker: number;
  blob_id: string | null;
  size: number;
  etag: string;
  last_modified: number;
  /** JSON: ContentType, CacheControl, … and checksums, as the wire member names. */
  headers: string;
  metadata: string;
  tags: string | null;
  parts_count: number | null;
  owner: string;
}

export interface UploadRow {
  upload_id: string;
  bucket: string;
  key: string;
  account: string;
  initiated: number;
  headers: string;
  metadata: string;
  tags: string | null;
}

export interface PartRow {
  upload_id: string;
  part_number: number;
  blob_id: string;
  size: number;
  etag: string;
  last_modified: number;
}

const MIGRATIONS = [
  {
    version: 1,
    sql: `
CREATE TABLE s3_buckets (
  name TEXT PRIMARY KEY, account TEXT NOT NULL, region TEXT NOT NULL, created_at INTEGER NOT NULL,
  versioning TEXT, tags TEXT, policy TEXT, cors TEXT, lifecycle TEXT);
CREATE INDEX s3_buckets_account ON s3_buckets(account, name);
CREATE TABLE s3_objects (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, bucket TEXT NOT NULL, key TEXT NOT NULL, version_id TEXT NOT NULL,
  is_latest INTEGER NOT NULL, delete_marker INTEGER NOT NULL DEFAULT 0, blob_id TEXT, size INTEGER NOT NULL DEFAULT 0,
  etag TEXT NOT NULL DEFAULT '', last_modified INTEGER NOT NULL, headers TEXT NOT NULL DEFAULT '{}',
  metadata TEXT NOT NULL DEFAULT '{}', tags TEXT, parts_count INTEGER, owner TEXT NOT NULL,
  UNIQUE (bucket, key, version_id));
CREATE INDEX s3_objects_current ON s3_objects(bucket, key) WHERE is_latest = 1 AND delete_marker = 0;
CREATE INDEX s3_objects_versions ON s3_objects(bucket, key, seq DESC);
CREATE TABLE s3_uploads (
  upload_id TEXT PRIMARY KEY, bucket TEXT NOT NULL, key TEXT NOT NULL, account TEXT NOT NULL,
  initiated INTEGER NOT NULL, headers TEXT NOT NULL, metadata TEXT NOT NULL, tags TEXT);
CREATE INDEX s3_uploads_key ON s3_uploads(bucket, key, upload_id);
CREATE TABLE s3_parts (
  upload_id TEXT NOT NULL, part_number INTEGER NOT NULL, blob_id TEXT NOT NULL, size INTEGER NOT NULL,
  etag TEXT NOT NULL, last_modified INTEGER NOT NULL, PRIMARY KEY (upload_id, part_number));
`,
  },
  {
    // bucket tags move to core_tags (keyed by bucketArn); tag_set remembers that a bucket has a tag
    // set, empty or not (GetBucketTagging's NoSuchTagSet is for a bucket without one). Object tags stay.
    version: 2,
    sql: `
ALTER TABLE s3_buckets ADD COLUMN tag_set INTEGER NOT NULL DEFAULT 0;
UPDATE s3_buckets SET tag_set = 1 WHERE tags IS NOT NULL;
${moveTagColumnSql('s3_buckets', "'arn:aws:s3:::' || name", 'list')}`,
  },
  {
    // static website hosting and event notifications (website.ts, notifications.ts)
    version: 3,
    sql: `
ALTER TABLE s3_buckets ADD COLUMN website TEXT;
ALTER TABLE s3_buckets ADD COLUMN notification TEXT;`,
  },
];

/** A bucket's ARN (no region or account: bucket names are global). */
export const bucketArn = (name: string) => `arn:aws:s3:::${name}`;

/** S3's canonical user id for an account (64 hex, stable). */
export const canonicalId = (account: string) => createHash('sha256').update(`opsbox-s3-${account}`).digest('hex');
export const ownerOf = (account: string) => ({ ID: canonicalId(account), DisplayName: account });

export type S3Store = ReturnType<typeof createS3Store>;

export function createS3Store(store: Store) {
  store.migrate('s3', MIGRATIONS);
  const db: Db = store.db;
  const current = 'is_latest = 1 AND delete_marker = 0';
  const s = {
    bucket: db.prepare('SELECT * FROM s3_buckets WHERE name = ?'),
    insertBucket: db.prepare('INSERT INTO s3_buckets (name, account, region, created_at) VALUES (?, ?, ?, ?)'),
    deleteBucket: db.prepare('DELETE FROM s3_buckets WHERE name = ?'),
    setTagSet: db.prepare('UPDATE s3_buckets SET tag_set = ? WHERE name = ?'),
    listBuckets: db.prepare('SELECT * FROM s3_buckets WHERE account = ? ORDER BY name'),
    anyObject: db.prepare('SELECT 1 FROM s3_objects WHERE bucket = ? LIMIT 1'),
    anyUpload: db.prepare('SELECT upload_id FROM s3_uploads WHERE bucket = ?'),
    latest: db.prepare('SELECT * FROM s3_objects WHERE bucket = ? AND key = ? AND is_latest = 1'),
    version: db.prepare('SELECT * FROM s3_objects WHERE bucket = ? AND key = ? AND version_id = ?'),
    newestRemaining: db.prepare('SELECT seq FROM s3_objects WHERE bucket = ? AND key = ? ORDER BY seq DESC LIMIT 1'),
    setLatest: db.prepare('UPDATE s3_objects SET is_latest = ? WHERE seq = ?'),
    clearLatest: db.prepare('UPDATE s3_objects SET is_latest = 0 WHERE bucket = ? AND key = ? AND is_latest = 1'),
    deleteRow: db.prepare('DELETE FROM s3_objects WHERE seq = ?'),
    insertObject: db.prepare(
      `INSERT INTO s3_objects (bucket, key, version_id, is_latest, delete_marker, blob_id, size, etag, last_modified, headers, metadata, tags, parts_count, owner)
         VALUES (@bucket, @key, @version_id, 1, @delete_marker, @blob_id, @size, @etag, @last_modified, @headers, @metadata, @tags, @parts_count, @owner)`,
    ),
    setTags: db.prepare('UPDATE s3_objects SET tags = ? WHERE seq = ?'),
    // listing: current objects from a key on (gt / ge), in UTF-8 byte order (SQLite's BINARY collation)
    currentGt: db.prepare(`SELECT * FROM s3_objects WHERE bucket = ? AND key > CAST(? AS TEXT) AND ${current} ORDER BY key LIMIT ?`),
    currentGe: db.prepare(`SELECT * FROM s3_objects WHERE bucket = ? AND key >= CAST(? AS TEXT) AND ${current} ORDER BY key LIMIT ?`),
    versionsGt: db.prepare('SELECT * FROM s3_objects WHERE bucket = ? AND key > CAST(? AS TEXT) ORDER BY key, seq DESC LIMIT ?'),
    versionsGe: db.prepare('SELECT * FROM s3_objects WHERE bucket = ? AND key >= CAST(? AS TEXT) ORDER BY key, seq DESC LIMIT ?'),
    versionsOlder: db.prepare('SELECT * FROM s3_objects WHERE bucket = ? AND key = ? AND seq < ? ORDER BY seq DESC LIMIT ?'),
    upload: db.prepare('SELECT * FROM s3_uploads WHERE upload_id = ?'),
    insertUpload: db.prepare(
      'INSERT INTO s3_uploads (upload_id, bucket, key, account, initiated, headers, metadata, tags) VALUES (@upload_id, @bucket, @key, @account, @initiated, @headers, @metadata, @tags)',
    ),
    deleteUpload: db.prepare('DELETE FROM s3_uploads WHERE upload_id = ?'),
    uploads: db.prepare(
      'SELECT * FROM s3_uploads WHERE bucket = ? AND (key > ? OR (key = ? AND upload_id > ?)) ORDER BY key, upload_id LIMIT ?',
    ),
    part: db.prepare('SELECT * FROM s3_parts WHERE upload_id = ? AND part_number = ?'),
    parts: db.prepare('SELECT * FROM s3_parts WHERE upload_id = ? AND part_number > ? ORDER BY part_number LIMIT ?'),
    allParts: db.prepare('SELECT * FROM s3_parts WHERE upload_id = ? ORDER BY part_number'),
    upsertPart: db.prepare(
      `INSERT INTO s3_parts (upload_id, part_number, blob_id, size, etag, last_modified) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (upload_id, part_number) DO UPDATE SET blob_id = excluded.blob_id, size = excluded.size, etag = excluded.etag, last_modified = excluded.last_modified`,
    ),
    deleteParts: db.prepare('DELETE FROM s3_parts WHERE upload_id = ?'),
  };

  const self = {
    db,

    bucket(name: string) {
      return s.bucket.get(name) as BucketRow | undefined;
    },

    /** The caller's bucket; throws NoSuchBucket (404) or AccessDenied (403, another account owns the name). */
    requireBucket(name: string, ctx: RequestContext): BucketRow {
      const b = self.bucket(name);
      if (!b) throw new AwsError('NoSuchBucket', 'The specified bucket does not exist', 404, { BucketName: name });
      if (b.account !== ctx.account) throw new AwsError('AccessDenied', 'Access Denied', 403);
      return b;
    },

    insertBucket(name: string, account: string, region: string, now: number) {
      s.insertBucket.run(name, account, region, now);
    },

    setBucketField(name: string, field: 'versioning' | 'policy' | 'cors' | 'lifecycle' | 'website' | 'notification', value: string | null) {
      db.prepare(`UPDATE s3_buckets SET ${field} = ? WHERE name = ?`).run(value, name);
    },

    /** Whether the bucket has a tag set (its tags themselves are in core_tags). */
    setTagSet(name: string, present: boolean) {
      s.setTagSet.run(present ? 1 : 0, name);
    },

    /** Throws BucketNotEmpty (409) when any version or upload remains. */
    deleteBucket(name: string) {
      if (s.anyObject.get(name))
        throw new AwsError('BucketNotEmpty', 'The bucket you tried to delete is not empty', 409, { BucketName: name });
      const uploads = s.anyUpload.all(name) as { upload_id: string }[];
      return db.transaction(() => {
        const blobs: string[] = [];
        for (const u of uploads) {
          blobs.push(...(s.allParts.all(u.upload_id) as PartRow[]).map((p) => p.blob_id));
          s.deleteParts.run(u.upload_id);
          s.deleteUpload.run(u.upload_id);
        }
        s.deleteBucket.run(name);
        return blobs;
      })();
    },

    listBuckets(account: string) {
      return s.listBuckets.all(account) as BucketRow[];
    },

    latest(bucket: string, key: string) {
      return s.latest.get(bucket, key) as ObjectRow | undefined;
    },

    version(bucket: string, key: string, versionId: string) {
      return s.version.get(bucket, key, versionId) as ObjectRow | undefined;
    },

    /**
     * Commits a new latest version (object or delete marker). A write with version 'null' replaces the
     * existing 'null' version. Returns the blob ids no row references any more (delete them after).
     */
    putVersion(row: Omit<ObjectRow, 'seq' | 'is_latest'>): { seq: number; orphans: string[] } {
      return db.transaction(() => {
        const orphans: string[] = [];
        if (row.version_id === 'null') {
          const old = self.version(row.bucket, row.key, 'null');
          if (old) {
            s.deleteRow.run(old.seq);
            if (old.blob_id) orphans.push(old.blob_id);
          }
        }
        s.clearLatest.run(row.bucket, row.key);
        const seq = Number(s.insertObject.run(row).lastInsertRowid);
        return { seq, orphans };
      })();
    },

    /** Removes one version for good; the newest remaining version becomes the latest. */
    deleteVersion(row: ObjectRow) {
      db.transaction(() => {
        s.deleteRow.run(row.seq);
        if (row.is_latest) {
          const next = s.newestRemaining.get(row.bucket, row.key) as { seq: number } | undefined;
          if (next) s.setLatest.run(1, next.seq);
        }
      })();
    },

    setObjectTags(seq: number, tags: string | null) {
      s.setTags.run(tags, seq);
    },

    /** Current (non-deleted) objects after `from` (exclusive, or inclusive with `ge`), in key order. */
    currentFrom(bucket: string, from: Buffer, ge: boolean, limit: number) {
      return (ge ? s.currentGe : s.currentGt).all(bucket, from, limit) as ObjectRow[];
    },

    /** Every version after a cursor: older versions of `olderThan.key` first, then later keys. */
    versionsFrom(bucket: string, from: Buffer, ge: boolean, limit: number, olderThan?: { key: string; seq: number }) {
      const rows: ObjectRow[] = [];
      if (olderThan) rows.push(...(s.versionsOlder.all(bucket, olderThan.key, olderThan.seq, limit) as ObjectRow[]));
      if (rows.length < limit) rows.push(...((ge ? s.versionsGe : s.versionsGt).all(bucket, from, limit - rows.length) as ObjectRow[]));
      return rows;
    },

    upload(id: string) {
      return s.upload.get(id) as UploadRow | undefined;
    },

    /** Throws NoSuchUpload (404) when the id is unknown or belongs to another bucket/key. */
    requireUpload(bucket: string, key: string, id: string): UploadRow {
      const u = self.upload(id);
      if (!u || u.bucket !== bucket || u.key !== key)
        throw new AwsError(
          'NoSuchUpload',
          'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
          404,
          { UploadId: id },
        );
      return u;
    },

    insertUpload(u: UploadRow) {
      s.insertUpload.run(u);
    },

    uploadsAfter(bucket: string, key: string, uploadId: string, limit: number) {
      return s.uploads.all(bucket, key, key, uploadId, limit) as UploadRow[];
    },

    part(uploadId: string, n: number) {
      return s.part.get(uploadId, n) as PartRow | undefined;
    },

    partsAfter(uploadId: string, after: number, limit: number) {
      return s.parts.all(uploadId, after, limit) as PartRow[];
    },

    allParts(uploadId: string) {
      return s.allParts.all(uploadId) as PartRow[];
    },

    /** Stores a part; returns the blob of the part it replaced, if any. */
    putPart(p: PartRow): string | undefined {
      return db.transaction(() => {
        const old = self.part(p.upload_id, p.part_number);
        s.upsertPart.run(p.upload_id, p.part_number, p.blob_id, p.size, p.etag, p.last_modified);
        return old?.blob_id;
      })();
    },

    /** Drops an upload and its parts; returns the part blobs to delete. */
    dropUpload(uploadId: string, then?: () => void): string[] {
      return db.transaction(() => {
        const blobs = self.allParts(uploadId).map((p) => p.blob_id);
        s.deleteParts.run(uploadId);
        s.deleteUpload.run(uploadId);
        then?.();
        return blobs;
      })();
    },
  };
  return self;
}
