/**
 * The OCI distribution API at /v2/ on opsbox's own port, as ECR serves it: what docker, podman and
 * skopeo push to and pull from. Pull (manifests and blobs, with Range), push (monolithic POST,
 * POST + PUT, chunked PATCH with Content-Range, upload status and cancel, cross-repository mount),
 * content discovery (tags with n/last paging, the referrers API) and content management (manifest
 * and tag deletes). Every upload's digest is checked while it streams to disk; nothing is held whole
 * in memory except a manifest (at most 4 MiB, as ECR allows).
 *
 * Requests carrying AWS SigV4 credentials are not the registry's: an S3 bucket named "v2" stays S3's.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Scope } from '../../core/arn.js';
import { log } from '../../core/log.js';
import type { HttpRoute, ServiceEnv } from '../../gateway/service.js';
import type { registryAuth } from './auth.js';
import { algorithmOf, ContentError, immutableTagMessage, storeManifest, type BlobUploads, type ContentProblem } from './content.js';
import { DIGEST, MEDIA, REPOSITORY_NAME, TAG } from './manifests.js';
import type { EcrStore, ImageRow, RepoRow } from './store.js';

const MAX_MANIFEST = 4 * 1024 * 1024;
const PREFIX = '/v2/';

/** What a push or delete changed, for ECR's events and scan-on-push. */
export interface RegistryHooks {
  pushed(repo: RepoRow, image: ImageRow, tag: string | undefined): void;
  deleted(repo: RepoRow, digest: string, tag: string | undefined): void;
}

class RegistryError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly detail?: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const nameUnknown = (name: string, account: string) =>
  new RegistryError(404, 'NAME_UNKNOWN', `The repository with name '${name}' does not exist in the registry with id '${account}'`);
const blobUnknown = (digest: string) => new RegistryError(404, 'BLOB_UNKNOWN', 'blob unknown to registry', { digest });
const manifestUnknown = (ref: string) => new RegistryError(404, 'MANIFEST_UNKNOWN', 'manifest unknown', { reference: ref });
const uploadUnknown = () => new RegistryError(404, 'BLOB_UPLOAD_UNKNOWN', 'blob upload unknown to registry');
const digestInvalid = (message = 'provided digest did not match uploaded content') => new RegistryError(400, 'DIGEST_INVALID', message);

/** Splits /v2/<name>/<kind>/<rest>; names hold slashes, so the last kind keyword decides. */
function route(path: string): { name: string; kind: 'blobs' | 'uploads' | 'manifests' | 'tags' | 'referrers'; rest: string } | undefined {
  const p = path.slice(PREFIX.length);
  const patterns: [RegExp, 'blobs' | 'uploads' | 'manifests' | 'tags' | 'referrers'][] = [
    [/^(.+)\/blobs\/uploads\/?(.*)$/, 'uploads'],
    [/^(.+)\/blobs\/([^/]+)$/, 'blobs'],
    [/^(.+)\/manifests\/([^/]+)$/, 'manifests'],
    [/^(.+)\/tags\/list$/, 'tags'],
    [/^(.+)\/referrers\/([^/]+)$/, 'referrers'],
  ];
  for (const [re, kind] of patterns) {
    const m = re.exec(p);
    if (m) return { name: m[1], kind, rest: decodeURIComponent(m[2] ?? '') };
  }
  return undefined;
}

const signedForAws = (req: IncomingMessage, url: URL) =>
  String(req.headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256 ') || url.searchParams.has('X-Amz-Algorithm');

/** A content problem in the registry's words. */
function registryError(p: ContentProblem, repo: RepoRow): RegistryError {
  switch (p.kind) {
    case 'manifestInvalid':
      return new RegistryError(400, 'MANIFEST_INVALID', p.message);
    case 'digestMismatch':
      return digestInvalid();
    case 'blobsMissing':
      return new RegistryError(400, 'MANIFEST_BLOB_UNKNOWN', 'blob unknown to registry', { digest: p.digests[0] });
    case 'manifestsMissing':
      return new RegistryError(400, 'MANIFEST_UNKNOWN', 'manifest unknown', { digest: p.digests[0] });
    case 'tagImmutable':
      return new RegistryError(400, 'TAG_INVALID', immutableTagMessage(p.tag, repo.name));
    case 'unchanged':
      return new RegistryError(500, 'UNKNOWN', 'unknown error');
  }
}

export function registryRoute(
  env: ServiceEnv,
  store: EcrStore,
  auth: ReturnType<typeof registryAuth>,
  uploads: BlobUploads,
  hooks: RegistryHooks,
): HttpRoute {
  /** Runs `fn`, turning its content problems into registry errors. */
  async function content<T>(repo: RepoRow, fn: () => T | Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof ContentError) throw registryError(err.problem, repo);
      throw err;
    }
  }

  function reply(res: ServerResponse, status: number, headers: Record<string, string | number> = {}, body?: string | Buffer) {
    res.writeHead(status, {
      'Docker-Distribution-API-Version': 'registry/2.0',
      'Content-Length': body ? Buffer.byteLength(body) : 0,
      ...headers,
    });
    res.end(body);
  }

  function fail(res: ServerResponse, err: RegistryError) {
    const body = JSON.stringify({ errors: [{ code: err.code, message: err.message, detail: err.detail ?? {} }] });
    reply(res, err.status, { 'Content-Type': 'application/json; charset=utf-8', ...err.headers }, body);
  }

  function requireRepo(scope: Scope, name: string): RepoRow {
    if (!REPOSITORY_NAME.test(name)) throw new RegistryError(400, 'NAME_INVALID', 'invalid repository name', { name });
    const repo = store.findRepo(scope, name);
    if (!repo) throw nameUnknown(name, scope.account);
    return repo;
  }

  function uploadLocation(name: string, uuid: string) {
    return `${PREFIX}${name}/blobs/uploads/${uuid}`;
  }

  function uploadHeaders(name: string, uuid: string, size: number) {
    return { Location: uploadLocation(name, uuid), Range: `0-${Math.max(0, size - 1)}`, 'Docker-Upload-UUID': uuid };
  }

  async function startUpload(req: IncomingMessage, res: ServerResponse, repo: RepoRow, url: URL) {
    const mount = url.searchParams.get('mount');
    const from = url.searchParams.get('from');
    if (mount && from && DIGEST.test(mount)) {
      const source = store.findRepo(repo, from);
      if (source && store.repoHasBlob(source, mount) && store.findBlob(repo, mount)) {
        store.linkBlob(repo, mount);
        req.resume();
        return reply(res, 201, { Location: `${PREFIX}${repo.name}/blobs/${mount}`, 'Docker-Content-Digest': mount });
      }
    }
    const digest = url.searchParams.get('digest');
    if (digest !== null) {
      // monolithic upload: the whole blob in this POST
      if (!DIGEST.test(digest)) {
        req.resume();
        throw digestInvalid('invalid digest');
      }
      const uuid = uploads.start(repo, algorithmOf(digest));
      await uploads.append(uuid, req);
      await content(repo, () => uploads.complete(repo, uuid, digest));
      return reply(res, 201, { Location: `${PREFIX}${repo.name}/blobs/${digest}`, 'Docker-Content-Digest': digest });
    }
    req.resume();
    const uuid = uploads.start(repo);
    reply(res, 202, uploadHeaders(repo.name, uuid, 0));
  }

  async function upload(req: IncomingMessage, res: ServerResponse, repo: RepoRow, uuid: string, url: URL) {
    const up = uuid ? store.findUpload(uuid) : undefined;
    if (!up || up.repo_id !== repo.id) {
      req.resume();
      throw uploadUnknown();
    }
    const method = req.method;
    if (method === 'GET') return reply(res, 204, uploadHeaders(repo.name, uuid, up.size));
    if (method === 'DELETE') {
      uploads.cancel(uuid);
      return reply(res, 204);
    }
    if (method !== 'PATCH' && method !== 'PUT') throw new RegistryError(405, 'UNSUPPORTED', 'The operation is unsupported.');
    const range = req.headers['content-range'];
    if (range !== undefined) {
      const m = /^(?:bytes )?(\d+)-(\d+)$/.exec(String(range));
      if (!m || Number(m[1]) !== up.size) {
        req.resume();
        throw new RegistryError(
          416,
          'BLOB_UPLOAD_INVALID',
          'Requested range not satisfiable',
          undefined,
          uploadHeaders(repo.name, uuid, up.size),
        );
      }
    }
    const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
    if (hasBody) await uploads.append(uuid, req);
    else req.resume();
    if (method === 'PATCH') return reply(res, 202, uploadHeaders(repo.name, uuid, store.findUpload(uuid)!.size));
    const digest = url.searchParams.get('digest');
    if (!digest || !DIGEST.test(digest)) throw digestInvalid('digest parameter missing or invalid');
    await content(repo, () => uploads.complete(repo, uuid, digest));
    reply(res, 201, { Location: `${PREFIX}${repo.name}/blobs/${digest}`, 'Docker-Content-Digest': digest });
  }

  async function getBlob(req: IncomingMessage, res: ServerResponse, repo: RepoRow, digest: string) {
    if (!DIGEST.test(digest)) throw digestInvalid('invalid digest');
    const blob = store.repoHasBlob(repo, digest) ? store.findBlob(repo, digest) : undefined;
    if (!blob) throw blobUnknown(digest);
    if (req.method === 'DELETE') throw new RegistryError(405, 'UNSUPPORTED', 'The operation is unsupported.');
    const headers: Record<string, string | number> = {
      'Content-Type': 'application/octet-stream',
      'Docker-Content-Digest': digest,
      'Accept-Ranges': 'bytes',
      ETag: `"${digest}"`,
    };
    let start = 0;
    let end = blob.size - 1;
    let status = 200;
    const range = req.headers.range;
    if (range && blob.size > 0) {
      const m = /^bytes=(\d*)-(\d*)$/.exec(range);
      if (m && (m[1] || m[2])) {
        start = m[1] ? Number(m[1]) : Math.max(0, blob.size - Number(m[2]));
        end = m[1] && m[2] ? Math.min(Number(m[2]), blob.size - 1) : blob.size - 1;
        if (start > end || start >= blob.size) {
          return reply(res, 416, { 'Content-Range': `bytes */${blob.size}` });
        }
        status = 206;
        headers['Content-Range'] = `bytes ${start}-${end}/${blob.size}`;
      }
    }
    headers['Content-Length'] = blob.size === 0 ? 0 : end - start + 1;
    res.writeHead(status, { 'Docker-Distribution-API-Version': 'registry/2.0', ...headers });
    if (req.method === 'HEAD' || blob.size === 0) return void res.end();
    const read = env.blobs.read.bind(env.blobs);
    async function* bytes() {
      let offset = 0;
      for (const p of blob!.parts) {
        const pStart = Math.max(start - offset, 0);
        const pEnd = Math.min(end - offset, p.size - 1);
        if (pStart <= pEnd) yield* read(p.id, { start: pStart, end: pEnd });
        offset += p.size;
      }
    }
    await pipeline(Readable.from(bytes()), res);
  }

  /** The image a manifest reference (tag or digest) names. */
  function imageOf(repo: RepoRow, ref: string): ImageRow | undefined {
    if (DIGEST.test(ref)) return store.findImage(repo, ref);
    const t = store.findTag(repo, ref);
    return t ? store.findImage(repo, t.digest) : undefined;
  }

  async function readManifestBody(req: IncomingMessage): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > MAX_MANIFEST) throw new RegistryError(413, 'SIZE_INVALID', 'manifest is larger than 4 MiB');
      chunks.push(c as Buffer);
    }
    return Buffer.concat(chunks);
  }

  async function putManifest(req: IncomingMessage, res: ServerResponse, repo: RepoRow, ref: string) {
    const isDigest = DIGEST.test(ref);
    if (!isDigest && !TAG.test(ref)) {
      req.resume();
      throw new RegistryError(400, 'TAG_INVALID', 'manifest tag did not match URI', { tag: ref });
    }
    const body = await readManifestBody(req);
    const tag = isDigest ? undefined : ref;
    const stored = await content(repo, () =>
      storeManifest(store, repo, body, {
        contentType: req.headers['content-type'],
        expectedDigest: isDigest ? ref : undefined,
        tag,
        now: env.clock.now(),
      }),
    );
    const digest = stored.image.digest;
    const headers: Record<string, string> = { Location: `${PREFIX}${repo.name}/manifests/${digest}`, 'Docker-Content-Digest': digest };
    if (stored.parsed.subject) headers['OCI-Subject'] = stored.parsed.subject;
    reply(res, 201, headers);
    if (stored.changed) hooks.pushed(repo, stored.image, tag);
  }

  function getManifest(req: IncomingMessage, res: ServerResponse, repo: RepoRow, ref: string) {
    const image = imageOf(repo, ref);
    if (!image) throw manifestUnknown(ref);
    const headers = {
      'Content-Type': image.media_type,
      'Docker-Content-Digest': image.digest,
      ETag: `"${image.digest}"`,
      'Content-Length': image.manifest.length,
    };
    res.writeHead(200, { 'Docker-Distribution-API-Version': 'registry/2.0', ...headers });
    if (req.method === 'HEAD') return void res.end();
    store.touchPull(repo, image.digest, env.clock.now());
    res.end(image.manifest);
  }

  function deleteManifest(res: ServerResponse, repo: RepoRow, ref: string) {
    if (!DIGEST.test(ref)) {
      const tagged = store.findTag(repo, ref);
      if (!tagged) throw manifestUnknown(ref);
      store.deleteTag(repo, ref);
      hooks.deleted(repo, tagged.digest, ref);
      return reply(res, 202);
    }
    if (!store.findImage(repo, ref)) throw manifestUnknown(ref);
    store.deleteImage(repo, ref);
    hooks.deleted(repo, ref, undefined);
    reply(res, 202);
  }

  function listTags(res: ServerResponse, repo: RepoRow, url: URL) {
    let tags = store.tags(repo).map((t) => t.tag);
    const last = url.searchParams.get('last');
    if (last) tags = tags.filter((t) => t > last);
    const n = url.searchParams.get('n');
    const headers: Record<string, string> = { 'Content-Type': 'application/json; charset=utf-8' };
    if (n !== null) {
      const limit = Number(n);
      if (!Number.isInteger(limit) || limit < 0)
        throw new RegistryError(400, 'PAGINATION_NUMBER_INVALID', 'invalid number of results requested', { n });
      if (tags.length > limit) {
        tags = tags.slice(0, limit);
        headers.Link = `<${PREFIX}${repo.name}/tags/list?n=${limit}&last=${encodeURIComponent(tags[tags.length - 1] ?? '')}>; rel="next"`;
      }
    }
    reply(res, 200, headers, JSON.stringify({ name: repo.name, tags }));
  }

  function referrers(res: ServerResponse, repo: RepoRow, digest: string, url: URL) {
    if (!DIGEST.test(digest)) throw digestInvalid('invalid digest');
    const wanted = url.searchParams.get('artifactType');
    const manifests = store
      .referrers(repo, digest)
      .filter((r) => wanted === null || r.artifact_type === wanted)
      .map((r) => {
        const annotations = (JSON.parse(r.manifest.toString('utf8')) as { annotations?: Record<string, string> }).annotations;
        return {
          mediaType: r.media_type,
          digest: r.digest,
          size: r.manifest.length,
          ...(r.artifact_type ? { artifactType: r.artifact_type } : {}),
          ...(annotations ? { annotations } : {}),
        };
      });
    const headers: Record<string, string> = { 'Content-Type': MEDIA.ociIndex };
    if (wanted !== null) headers['OCI-Filters-Applied'] = 'artifactType';
    reply(res, 200, headers, JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests }));
  }

  async function serve(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://registry');
    const who = auth.identify(req, env.clock.now());
    if (!who.ok) {
      req.resume();
      const host = String(req.headers.host ?? 'localhost');
      return fail(
        res,
        new RegistryError(who.status, who.code, who.message, undefined, {
          'WWW-Authenticate': `Basic realm="https://${host}/",service="ecr.amazonaws.com"`,
        }),
      );
    }
    if (url.pathname === PREFIX || url.pathname === '/v2') {
      req.resume();
      return reply(res, 200, { 'Content-Type': 'application/json; charset=utf-8' }, '{}');
    }
    const r = route(url.pathname);
    if (!r) {
      req.resume();
      throw new RegistryError(404, 'NAME_UNKNOWN', 'repository name not known to registry');
    }
    const repo = requireRepo(who.scope, r.name);
    switch (r.kind) {
      case 'uploads':
        if (req.method === 'POST' && r.rest === '') return startUpload(req, res, repo, url);
        return upload(req, res, repo, r.rest, url);
      case 'blobs':
        req.resume();
        return getBlob(req, res, repo, r.rest);
      case 'manifests':
        if (req.method === 'PUT') return putManifest(req, res, repo, r.rest);
        req.resume();
        if (req.method === 'DELETE') return deleteManifest(res, repo, r.rest);
        return getManifest(req, res, repo, r.rest);
      case 'tags':
        req.resume();
        return listTags(res, repo, url);
      case 'referrers':
        req.resume();
        return referrers(res, repo, r.rest, url);
    }
  }

  return {
    prefix: PREFIX,
    claims: (req) => !signedForAws(req, new URL(req.url ?? '/', 'http://registry')),
    async handle(req, res) {
      try {
        await serve(req, res);
      } catch (err) {
        if (err instanceof RegistryError) {
          if (!res.headersSent) return fail(res, err);
          return void res.destroy();
        }
        log.error('ecr registry request failed', { url: req.url, err: err instanceof Error ? err.stack : String(err) });
        if (!res.headersSent) fail(res, new RegistryError(500, 'UNKNOWN', 'unknown error'));
        else res.destroy();
      }
    },
  };
}
