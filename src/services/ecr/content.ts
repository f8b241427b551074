/**
 * What the OCI registry (registry.ts) and the ECR API (images.ts) both do to a repository's
 * content: blob uploads whose digest is verified before the blob exists, and manifests checked and
 * stored with their tag. Problems are thrown as ContentError with a typed `problem`; each caller
 * words it its own way (a registry error code, an AWS exception).
 */
import { createHash, randomUUID, type Hash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { ServiceEnv } from '../../gateway/service.js';
import { DIGEST, ManifestError, parseManifest, type ParsedManifest } from './manifests.js';
import type { BlobPart, EcrStore, ImageRow, RepoRow } from './store.js';

export type ContentProblem =
  /** The manifest cannot be read (parseManifest's message). */
  | { kind: 'manifestInvalid'; message: string }
  /** The content's digest is not the one the client named. */
  | { kind: 'digestMismatch'; expected: string; actual?: string }
  /** An image manifest references blobs the repository does not hold. */
  | { kind: 'blobsMissing'; digests: string[] }
  /** An index references manifests the repository does not hold. */
  | { kind: 'manifestsMissing'; digests: string[] }
  /** The repository is immutable and the tag names another image. */
  | { kind: 'tagImmutable'; tag: string; digest: string }
  /** Nothing would change: the image exists and the tag (if any) already names it (only with `refuseUnchanged`). */
  | { kind: 'unchanged'; digest: string; tag?: string };

export class ContentError extends Error {
  constructor(readonly problem: ContentProblem) {
    super(problem.kind);
  }
}

export const algorithmOf = (digest: string) => digest.slice(0, digest.indexOf(':'));

/** The digest of bytes, in the algorithm `algorithm` ('sha256' or 'sha512'). */
export const digestOf = (bytes: Buffer, algorithm = 'sha256') => `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;

/** The message AWS and the registry give a tag an immutable repository refuses to move. */
export const immutableTagMessage = (tag: string, repo: string) =>
  `The image tag '${tag}' already exists in the '${repo}' repository and cannot be overwritten because the repository is immutable.`;

export type BlobUploads = ReturnType<typeof blobUploads>;

/**
 * Uploads of blobs in parts (ecr_uploads / ecr_upload_parts), shared by the registry's POST/PATCH/PUT
 * and the API's InitiateLayerUpload/UploadLayerPart/CompleteLayerUpload, so either can continue
 * the other's upload. While this process lives an upload's digest runs along as its parts arrive;
 * after a restart (or a failed part) it is computed from the parts when the upload completes.
 */
export function blobUploads(env: ServiceEnv, store: EcrStore) {
  const running = new Map<string, { algorithm: string; hash: Hash }>();

  async function digestOfParts(parts: BlobPart[], algorithm: string): Promise<string> {
    const hash = createHash(algorithm);
    for (const p of parts) for await (const chunk of env.blobs.read(p.id)) hash.update(chunk as Buffer);
    return `${algorithm}:${hash.digest('hex')}`;
  }

  return {
    /** Starts an upload in `repo`; its digest runs in `algorithm` (a monolithic upload knows its digest's). */
    start(repo: RepoRow, algorithm = 'sha256'): string {
      const uuid = randomUUID();
      store.insertUpload(repo, uuid, env.clock.now());
      running.set(uuid, { algorithm, hash: createHash(algorithm) });
      return uuid;
    },

    /** Streams `body` into a new part at the end of the upload; an empty body adds no part. Returns the part's size. */
    async append(uuid: string, body: Readable): Promise<number> {
      const run = running.get(uuid);
      let stored;
      try {
        stored = await env.blobs.write(body, { onChunk: run ? (c) => run.hash.update(c) : undefined });
      } catch (err) {
        running.delete(uuid); // the running digest saw bytes no part holds
        throw err;
      }
      if (stored.size > 0) store.addPart(uuid, { id: stored.id, size: stored.size });
      else env.blobs.delete(stored.id);
      return stored.size;
    },

    /** Forgets an upload and deletes its parts. */
    cancel(uuid: string) {
      running.delete(uuid);
      store.deleteUpload(uuid, false);
    },

    /**
     * Turns the upload into the blob `digest` of `repo` once its content matches; otherwise the
     * upload is dropped and ContentError digestMismatch thrown. Returns the blob's size.
     */
    async complete(repo: RepoRow, uuid: string, digest: string): Promise<number> {
      const algorithm = algorithmOf(digest);
      const run = running.get(uuid);
      running.delete(uuid);
      const parts = store.uploadParts(uuid);
      const actual = run && run.algorithm === algorithm ? `${algorithm}:${run.hash.digest('hex')}` : await digestOfParts(parts, algorithm);
      if (actual !== digest) {
        store.deleteUpload(uuid, false);
        throw new ContentError({ kind: 'digestMismatch', expected: digest, actual });
      }
      const size = parts.reduce((n, p) => n + p.size, 0);
      store.addBlob(repo, digest, size, parts, env.clock.now());
      store.deleteUpload(uuid, true);
      return size;
    },
  };
}

export interface StoredManifest {
  image: ImageRow;
  parsed: ParsedManifest;
  /** The image is new, or the tag now names it: what counts as a push. */
  changed: boolean;
}

/**
 * Checks a manifest and stores it in `repo`, pointing `tag` at it. `contentType` is the media type
 * the client declared (Content-Type, PutImage's imageManifestMediaType); `expectedDigest` the digest
 * it named, which must be the manifest's (in that digest's algorithm). Everything the manifest
 * references must be in the repository: blobs uploaded or mounted there, child manifests pushed
 * there. Throws ContentError for what cannot be stored.
 */
export function storeManifest(
  store: EcrStore,
  repo: RepoRow,
  body: Buffer,
  opts: { contentType?: string; expectedDigest?: string; tag?: string; now: number; refuseUnchanged?: boolean },
): StoredManifest {
  let parsed: ParsedManifest;
  try {
    parsed = parseManifest(body, opts.contentType);
  } catch (err) {
    if (err instanceof ManifestError) throw new ContentError({ kind: 'manifestInvalid', message: err.message });
    throw err;
  }
  const expected = opts.expectedDigest;
  const digest = digestOf(body, expected !== undefined && DIGEST.test(expected) ? algorithmOf(expected) : 'sha256');
  if (expected !== undefined && digest !== expected) throw new ContentError({ kind: 'digestMismatch', expected, actual: digest });
  const missingBlobs = parsed.refs.filter(
    (r) => r.kind === 'blob' && !(store.repoHasBlob(repo, r.digest) && store.findBlob(repo, r.digest)),
  );
  if (missingBlobs.length > 0) throw new ContentError({ kind: 'blobsMissing', digests: missingBlobs.map((r) => r.digest) });
  const missingManifests = parsed.refs.filter((r) => r.kind === 'manifest' && !store.findImage(repo, r.digest));
  if (missingManifests.length > 0) throw new ContentError({ kind: 'manifestsMissing', digests: missingManifests.map((r) => r.digest) });

  const tag = opts.tag;
  const previous = tag !== undefined ? store.findTag(repo, tag)?.digest : undefined;
  if (tag !== undefined && previous !== undefined && previous !== digest && repo.mutability === 'IMMUTABLE')
    throw new ContentError({ kind: 'tagImmutable', tag, digest: previous });
  const existed = store.findImage(repo, digest) !== undefined;
  const changed = !existed || (tag !== undefined && previous !== digest);
  if (!changed && opts.refuseUnchanged) throw new ContentError({ kind: 'unchanged', digest, tag });
  store.putImage(
    repo,
    {
      digest,
      media_type: parsed.mediaType,
      artifact_type: parsed.artifactType ?? null,
      subject: parsed.subject ?? null,
      manifest: body,
      size: parsed.size,
      pushed: opts.now,
    },
    parsed.refs,
    tag,
    opts.now,
  );
  return { image: store.findImage(repo, digest)!, parsed, changed };
}
