/**
 * ECR tables. Repositories are scoped by account and region; everything else hangs off a
 * repository's surrogate id. Blobs (layers and configs) are content-addressed once per account and
 * region: `ecr_blobs` maps a digest to the files (core/blobs) that hold its bytes, in order — a
 * chunked upload's parts are kept as they came, never copied into one file — and `ecr_repo_blobs`
 * says which repositories may serve it (uploaded or mounted there). A blob appears in ecr_blobs only
 * once its digest was verified, so an upload cut short by kill -9 is never visible.
 *
 * Images are manifests stored whole (a manifest is at most 4 MiB) with the digests they reference
 * (`ecr_image_refs`: layers and config of an image manifest, child manifests of an index); tags point
 * at image digests. Blobs no manifest references and no upload holds are garbage (collectGarbage).
 */
import { arn, type Scope } from '../../core/arn.js';
import type { BlobStore } from '../../core/blobs.js';
import type { Store } from '../../core/store.js';
import type { Tags } from '../../core/tags.js';

export interface RepoRow {
  id: number;
  account: string;
  region: string;
  name: string;
  created: number;
  mutability: 'MUTABLE' | 'IMMUTABLE';
  scan_on_push: number;
  encryption: string;
  kms_key: string | null;
  policy: string | null;
  lifecycle: string | null;
  lifecycle_updated: number | null;
  /** When the lifecycle engine last evaluated the repository's policy (migration 2). */
  lifecycle_evaluated: number | null;
}

/** A lifecycle policy preview: the policy previewed and, computed when it started, the images it expires (JSON PreviewResult[]). */
export interface PreviewRow {
  repo_id: number;
  policy: string;
  started: number;
  complete_at: number;
  results: string;
}

export interface PreviewResult {
  digest: string;
  tags: string[];
  pushed: number;
  rulePriority: number;
}

export interface BlobPart {
  id: string;
  size: number;
}

export interface BlobRow {
  digest: string;
  size: number;
  parts: BlobPart[];
}

export interface ImageRow {
  repo_id: number;
  digest: string;
  media_type: string;
  artifact_type: string | null;
  subject: string | null;
  manifest: Buffer;
  size: number;
  pushed: number;
  last_pull: number | null;
}

export interface UploadRow {
  uuid: string;
  repo_id: number;
  started: number;
  size: number;
}

export interface ScanRow {
  repo_id: number;
  digest: string;
  status: string;
  description: string | null;
  started: number;
  completed: number | null;
  findings: string | null;
}

const MIGRATIONS = [
  {
    version: 1,
    sql: `
      CREATE TABLE ecr_repos (
        id INTEGER PRIMARY KEY, account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL, created INTEGER NOT NULL,
        mutability TEXT NOT NULL DEFAULT 'MUTABLE', scan_on_push INTEGER NOT NULL DEFAULT 0,
        encryption TEXT NOT NULL DEFAULT 'AES256', kms_key TEXT, policy TEXT, lifecycle TEXT, lifecycle_updated INTEGER,
        UNIQUE (account, region, name));
      CREATE TABLE ecr_blobs (
        account TEXT NOT NULL, region TEXT NOT NULL, digest TEXT NOT NULL, size INTEGER NOT NULL, parts TEXT NOT NULL,
        created INTEGER NOT NULL, PRIMARY KEY (account, region, digest));
      CREATE TABLE ecr_repo_blobs (
        repo_id INTEGER NOT NULL REFERENCES ecr_repos (id) ON DELETE CASCADE, digest TEXT NOT NULL, PRIMARY KEY (repo_id, digest));
      CREATE TABLE ecr_uploads (
        uuid TEXT PRIMARY KEY, repo_id INTEGER NOT NULL REFERENCES ecr_repos (id) ON DELETE CASCADE, started INTEGER NOT NULL,
        size INTEGER NOT NULL DEFAULT 0);
      CREATE TABLE ecr_upload_parts (
        uuid TEXT NOT NULL REFERENCES ecr_uploads (uuid) ON DELETE CASCADE, seq INTEGER NOT NULL, blob_id TEXT NOT NULL,
        size INTEGER NOT NULL, PRIMARY KEY (uuid, seq));
      CREATE TABLE ecr_images (
        repo_id INTEGER NOT NULL REFERENCES ecr_repos (id) ON DELETE CASCADE, digest TEXT NOT NULL, media_type TEXT NOT NULL,
        artifact_type TEXT, subject TEXT, manifest BLOB NOT NULL, size INTEGER NOT NULL, pushed INTEGER NOT NULL,
        last_pull INTEGER, PRIMARY KEY (repo_id, digest));
      CREATE INDEX ecr_images_by_subject ON ecr_images (repo_id, subject);
      CREATE TABLE ecr_image_refs (
        repo_id INTEGER NOT NULL, digest TEXT NOT NULL, ref TEXT NOT NULL, kind TEXT NOT NULL,
        PRIMARY KEY (repo_id, digest, ref),
        FOREIGN KEY (repo_id, digest) REFERENCES ecr_images (repo_id, digest) ON DELETE CASCADE);
      CREATE INDEX ecr_image_refs_by_ref ON ecr_image_refs (ref);
      CREATE TABLE ecr_tags (
        repo_id INTEGER NOT NULL, tag TEXT NOT NULL, digest TEXT NOT NULL, updated INTEGER NOT NULL,
        PRIMARY KEY (repo_id, tag),
        FOREIGN KEY (repo_id, digest) REFERENCES ecr_images (repo_id, digest) ON DELETE CASCADE);
      CREATE INDEX ecr_tags_by_digest ON ecr_tags (repo_id, digest);
      CREATE TABLE ecr_scans (
        repo_id INTEGER NOT NULL, digest TEXT NOT NULL, status TEXT NOT NULL, description TEXT, started INTEGER NOT NULL,
        completed INTEGER, findings TEXT, PRIMARY KEY (repo_id, digest),
        FOREIGN KEY (repo_id, digest) REFERENCES ecr_images (repo_id, digest) ON DELETE CASCADE);
      CREATE TABLE ecr_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    `,
  },
  {
    version: 2,
    sql: `
      ALTER TABLE ecr_repos ADD COLUMN lifecycle_evaluated INTEGER;
      CREATE TABLE ecr_lifecycle_previews (
        repo_id INTEGER PRIMARY KEY REFERENCES ecr_repos (id) ON DELETE CASCADE, policy TEXT NOT NULL, started INTEGER NOT NULL,
        complete_at INTEGER NOT NULL, results TEXT NOT NULL);
    `,
  },
];

export const repoArn = (scope: Scope, name: string) => arn('ecr', scope, `repository/${name}`);

export type EcrStore = ReturnType<typeof createEcrStore>;

export function createEcrStore(store: Store, blobs: BlobStore, tags: Tags) {
  store.migrate('ecr', MIGRATIONS);
  const db = store.db;
  const q = {
    repo: db.prepare<[string, string, string], RepoRow>('SELECT * FROM ecr_repos WHERE account = ? AND region = ? AND name = ?'),
    repoById: db.prepare<[number], RepoRow>('SELECT * FROM ecr_repos WHERE id = ?'),
    repos: db.prepare<[string, string, string, number], RepoRow>(
      'SELECT * FROM ecr_repos WHERE account = ? AND region = ? AND name > ? ORDER BY name LIMIT ?',
    ),
    allRepos: db.prepare<[], RepoRow>('SELECT * FROM ecr_repos ORDER BY id'),
    reposWithLifecycle: db.prepare<[], RepoRow>('SELECT * FROM ecr_repos WHERE lifecycle IS NOT NULL ORDER BY id'),
    insertRepo: db.prepare(
      `INSERT INTO ecr_repos (account, region, name, created, mutability, scan_on_push, encryption, kms_key)
       VALUES (@account, @region, @name, @created, @mutability, @scan_on_push, @encryption, @kms_key)`,
    ),
    deleteRepo: db.prepare('DELETE FROM ecr_repos WHERE id = ?'),
    setRepo: (column: string) => db.prepare(`UPDATE ecr_repos SET ${column} = ? WHERE id = ?`),

    blob: db.prepare<[string, string, string], { digest: string; size: number; parts: string }>(
      'SELECT digest, size, parts FROM ecr_blobs WHERE account = ? AND region = ? AND digest = ?',
    ),
    insertBlob: db.prepare('INSERT OR IGNORE INTO ecr_blobs (account, region, digest, size, parts, created) VALUES (?, ?, ?, ?, ?, ?)'),
    repoHasBlob: db.prepare<[number, string], { n: number }>('SELECT 1 AS n FROM ecr_repo_blobs WHERE repo_id = ? AND digest = ?'),
    linkBlob: db.prepare('INSERT OR IGNORE INTO ecr_repo_blobs (repo_id, digest) VALUES (?, ?)'),

    upload: db.prepare<[string], UploadRow>('SELECT * FROM ecr_uploads WHERE uuid = ?'),
    insertUpload: db.prepare('INSERT INTO ecr_uploads (uuid, repo_id, started) VALUES (?, ?, ?)'),
    uploadParts: db.prepare<[string], { blob_id: string; size: number }>(
      'SELECT blob_id, size FROM ecr_upload_parts WHERE uuid = ? ORDER BY seq',
    ),
    addPart: db.prepare(
      'INSERT INTO ecr_upload_parts (uuid, seq, blob_id, size) VALUES (?, (SELECT COUNT(*) FROM ecr_upload_parts WHERE uuid = ?), ?, ?)',
    ),
    growUpload: db.prepare('UPDATE ecr_uploads SET size = size + ? WHERE uuid = ?'),
    deleteUpload: db.prepare('DELETE FROM ecr_uploads WHERE uuid = ?'),
    uploadPartsOfRepo: db.prepare<[number], { blob_id: string }>(
      'SELECT p.blob_id FROM ecr_upload_parts p JOIN ecr_uploads u ON u.uuid = p.uuid WHERE u.repo_id = ?',
    ),

    image: db.prepare<[number, string], ImageRow>('SELECT * FROM ecr_images WHERE repo_id = ? AND digest = ?'),
    images: db.prepare<[number], ImageRow>('SELECT * FROM ecr_images WHERE repo_id = ? ORDER BY pushed, digest'),
    insertImage: db.prepare(
      `INSERT INTO ecr_images (repo_id, digest, media_type, artifact_type, subject, manifest, size, pushed)
       VALUES (@repo_id, @digest, @media_type, @artifact_type, @subject, @manifest, @size, @pushed)
       ON CONFLICT (repo_id, digest) DO NOTHING`,
    ),
    insertRef: db.prepare('INSERT OR IGNORE INTO ecr_image_refs (repo_id, digest, ref, kind) VALUES (?, ?, ?, ?)'),
    deleteImage: db.prepare('DELETE FROM ecr_images WHERE repo_id = ? AND digest = ?'),
    touchPull: db.prepare('UPDATE ecr_images SET last_pull = ? WHERE repo_id = ? AND digest = ?'),
    referrers: db.prepare<[number, string], ImageRow>('SELECT * FROM ecr_images WHERE repo_id = ? AND subject = ? ORDER BY pushed, digest'),
    parentsOf: db.prepare<[number, string], { digest: string }>(
      "SELECT digest FROM ecr_image_refs WHERE repo_id = ? AND ref = ? AND kind = 'manifest'",
    ),
    blobReferenced: db.prepare<[number, string], { n: number }>(
      "SELECT 1 AS n FROM ecr_image_refs WHERE repo_id = ? AND ref = ? AND kind = 'blob' LIMIT 1",
    ),

    tag: db.prepare<[number, string], { tag: string; digest: string; updated: number }>(
      'SELECT * FROM ecr_tags WHERE repo_id = ? AND tag = ?',
    ),
    tags: db.prepare<[number], { tag: string; digest: string; updated: number }>('SELECT * FROM ecr_tags WHERE repo_id = ? ORDER BY tag'),
    tagsOf: db.prepare<[number, string], { tag: string }>('SELECT tag FROM ecr_tags WHERE repo_id = ? AND digest = ? ORDER BY tag'),
    putTag: db.prepare(
      'INSERT INTO ecr_tags (repo_id, tag, digest, updated) VALUES (?, ?, ?, ?) ON CONFLICT (repo_id, tag) DO UPDATE SET digest = excluded.digest, updated = excluded.updated',
    ),
    deleteTag: db.prepare('DELETE FROM ecr_tags WHERE repo_id = ? AND tag = ?'),

    scan: db.prepare<[number, string], ScanRow>('SELECT * FROM ecr_scans WHERE repo_id = ? AND digest = ?'),
    putScan: db.prepare(
      `INSERT INTO ecr_scans (repo_id, digest, status, description, started, completed, findings) VALUES (@repo_id, @digest, @status, @description, @started, @completed, @findings)
       ON CONFLICT (repo_id, digest) DO UPDATE SET status = excluded.status, description = excluded.description, started = excluded.started,
       completed = excluded.completed, findings = excluded.findings`,
    ),
    scansInStatus: db.prepare<[string], ScanRow>('SELECT * FROM ecr_scans WHERE status = ? ORDER BY started'),

    preview: db.prepare<[number], PreviewRow>('SELECT * FROM ecr_lifecycle_previews WHERE repo_id = ?'),
    putPreview: db.prepare(
      `INSERT INTO ecr_lifecycle_previews (repo_id, policy, started, complete_at, results) VALUES (@repo_id, @policy, @started, @complete_at, @results)
       ON CONFLICT (repo_id) DO UPDATE SET policy = excluded.policy, started = excluded.started, complete_at = excluded.complete_at,
       results = excluded.results`,
    ),

    meta: db.prepare<[string], { value: string }>('SELECT value FROM ecr_meta WHERE key = ?'),
    putMeta: db.prepare('INSERT OR IGNORE INTO ecr_meta (key, value) VALUES (?, ?)'),

    garbage: db.prepare<[number], { account: string; region: string; digest: string; parts: string }>(
      `SELECT b.account, b.region, b.digest, b.parts FROM ecr_blobs b
       WHERE b.created < ? AND NOT EXISTS (SELECT 1 FROM ecr_image_refs r JOIN ecr_repos p ON p.id = r.repo_id
                                          WHERE r.ref = b.digest AND p.account = b.account AND p.region = b.region)`,
    ),
    deleteBlob: db.prepare('DELETE FROM ecr_blobs WHERE account = ? AND region = ? AND digest = ?'),
    unlinkBlob: db.prepare(
      'DELETE FROM ecr_repo_blobs WHERE digest = ? AND repo_id IN (SELECT id FROM ecr_repos WHERE account = ? AND region = ?)',
    ),
  };
  const repoSetters = {
    mutability: q.setRepo('mutability'),
    scan_on_push: q.setRepo('scan_on_push'),
    policy: q.setRepo('policy'),
    lifecycle: q.setRepo('lifecycle'),
    lifecycle_updated: q.setRepo('lifecycle_updated'),
    lifecycle_evaluated: q.setRepo('lifecycle_evaluated'),
  };

  const readBlob = (r: { digest: string; size: number; parts: string } | undefined): BlobRow | undefined =>
    r && { digest: r.digest, size: r.size, parts: JSON.parse(r.parts) as BlobPart[] };

  return {
    transaction: <T>(fn: () => T): T => db.transaction(fn)(),

    findRepo: (scope: Scope, name: string) => q.repo.get(scope.account, scope.region, name),
    repoById: (id: number) => q.repoById.get(id),
    listRepos: (scope: Scope, after: string, limit: number) => q.repos.all(scope.account, scope.region, after, limit),
    allRepos: () => q.allRepos.all(),
    /** Repositories with a lifecycle policy, for the lifecycle engine. */
    reposWithLifecycle: () => q.reposWithLifecycle.all(),
    insertRepo(row: Omit<RepoRow, 'id' | 'policy' | 'lifecycle' | 'lifecycle_updated' | 'lifecycle_evaluated'>) {
      q.insertRepo.run(row);
      return q.repo.get(row.account, row.region, row.name)!;
    },
    /** Deletes the repository with its images, tags, scans, uploads and tags; its blobs become garbage if nothing else holds them. */
    deleteRepo(r: RepoRow) {
      db.transaction(() => {
        for (const part of q.uploadPartsOfRepo.all(r.id)) blobs.delete(part.blob_id);
        q.deleteRepo.run(r.id);
        tags.delete(repoArn(r, r.name));
      })();
    },
    setRepo(r: RepoRow, column: keyof typeof repoSetters, value: string | number | null) {
      repoSetters[column].run(value, r.id);
    },

    findBlob: (scope: Scope, digest: string) => readBlob(q.blob.get(scope.account, scope.region, digest)),
    repoHasBlob: (repo: RepoRow, digest: string) => q.repoHasBlob.get(repo.id, digest) !== undefined,
    linkBlob: (repo: RepoRow, digest: string) => q.linkBlob.run(repo.id, digest),
    /** Records a verified blob and links it to the repository; when the digest is known already, the new parts are deleted. */
    addBlob(repo: RepoRow, digest: string, size: number, parts: BlobPart[], now: number) {
      const added = db.transaction(() => {
        const changes = q.insertBlob.run(repo.account, repo.region, digest, size, JSON.stringify(parts), now).changes;
        q.linkBlob.run(repo.id, digest);
        return changes > 0;
      })();
      if (!added) for (const p of parts) blobs.delete(p.id);
    },

    findUpload: (uuid: string) => q.upload.get(uuid),
    insertUpload: (repo: RepoRow, uuid: string, now: number) => q.insertUpload.run(uuid, repo.id, now),
    uploadParts: (uuid: string): BlobPart[] => q.uploadParts.all(uuid).map((p) => ({ id: p.blob_id, size: p.size })),
    addPart(uuid: string, part: BlobPart) {
      db.transaction(() => {
        q.addPart.run(uuid, uuid, part.id, part.size);
        q.growUpload.run(part.size, uuid);
      })();
    },
    /** Forgets an upload; `keepParts` when its parts became a blob. */
    deleteUpload(uuid: string, keepParts: boolean) {
      const parts = q.uploadParts.all(uuid);
      q.deleteUpload.run(uuid);
      if (!keepParts) for (const p of parts) blobs.delete(p.blob_id);
    },

    findImage: (repo: RepoRow, digest: string) => q.image.get(repo.id, digest),
    images: (repo: RepoRow) => q.images.all(repo.id),
    /** Stores a manifest and what it references, and points `tag` at it (in one transaction). */
    putImage(
      repo: RepoRow,
      image: Omit<ImageRow, 'repo_id' | 'last_pull'>,
      refs: { digest: string; kind: 'blob' | 'manifest' }[],
      tag: string | undefined,
      now: number,
    ) {
      db.transaction(() => {
        q.insertImage.run({ repo_id: repo.id, ...image });
        for (const r of refs) q.insertRef.run(repo.id, image.digest, r.digest, r.kind);
        if (tag !== undefined) q.putTag.run(repo.id, tag, image.digest, now);
      })();
    },
    deleteImage: (repo: RepoRow, digest: string) => q.deleteImage.run(repo.id, digest).changes > 0,
    touchPull: (repo: RepoRow, digest: string, now: number) => q.touchPull.run(now, repo.id, digest),
    referrers: (repo: RepoRow, digest: string) => q.referrers.all(repo.id, digest),
    /** Index manifests in the repository that list `digest` as a child. */
    parentsOf: (repo: RepoRow, digest: string) => q.parentsOf.all(repo.id, digest).map((r) => r.digest),
    /** Whether an image of the repository references the blob `digest` (as config or layer). */
    blobReferenced: (repo: RepoRow, digest: string) => q.blobReferenced.get(repo.id, digest) !== undefined,

    findTag: (repo: RepoRow, tag: string) => q.tag.get(repo.id, tag),
    tags: (repo: RepoRow) => q.tags.all(repo.id),
    tagsOf: (repo: RepoRow, digest: string) => q.tagsOf.all(repo.id, digest).map((r) => r.tag),
    putTag: (repo: RepoRow, tag: string, digest: string, now: number) => q.putTag.run(repo.id, tag, digest, now),
    deleteTag: (repo: RepoRow, tag: string) => q.deleteTag.run(repo.id, tag).changes > 0,

    findPreview: (repo: RepoRow) => q.preview.get(repo.id),
    putPreview: (row: PreviewRow) => q.putPreview.run(row),

    findScan: (repo: RepoRow, digest: string) => q.scan.get(repo.id, digest),
    putScan: (row: ScanRow) => q.putScan.run(row),
    /** Scans in a status across all repositories (IN_PROGRESS ones a stopped process left). */
    scansInStatus: (status: string) => q.scansInStatus.all(status),

    /** A value kept once per data dir (the token signing key), made by `make` the first time. */
    meta(key: string, make: () => string): string {
      q.putMeta.run(key, make());
      return q.meta.get(key)!.value;
    },

    /**
     * Deletes blobs no image references in their account and region, and their files; only blobs
     * stored before `before`, so a layer pushed just ahead of its manifest is not taken. Returns how many.
     */
    collectGarbage(before: number): number {
      let n = 0;
      for (const g of q.garbage.all(before)) {
        db.transaction(() => {
          q.unlinkBlob.run(g.digest, g.account, g.region);
          q.deleteBlob.run(g.account, g.region, g.digest);
        })();
        for (const p of JSON.parse(g.parts) as BlobPart[]) blobs.delete(p.id);
        n++;
      }
      return n;
    },
  };
}
