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
import { createHash, randomUUID, type Hash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Scope } from '../../core/arn.js';
import { log } from '../../core/log.js';
import type { HttpRoute, ServiceEnv } from '../../gateway/service.js';
import type { registryAuth } from './auth.js';
import { DIGEST, ManifestError, MEDIA, parseManifest, REPOSITORY_NAME, TAG } from './manifests.js';
import type { BlobPart, EcrStore, ImageRow, RepoRow } from './store.js';

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

export function registryRoute(env: ServiceEnv, store: EcrStore, auth: ReturnType<typeof registryAuth>, hooks: RegistryHooks): HttpRoute {
  /** Running digests of chunked uploads still in this process; after a restart the digest is computed from the parts. */
  const running = new Map<string, Hash>();

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

  /** Streams the request body into one new blob file, hashing it; `hash` carries a running digest across chunks. */
  async function receive(req: IncomingMessage, hash: Hash): Promise<BlobPart> {
    const stored = await env.blobs.write(req, { onChunk: (c) => hash.update(c) });
    return { id: stored.id, size: stored.size };
  }

  async function digestOfParts(parts: BlobPart[], algorithm: string): Promise<string> {
    const hash = createHash(algorithm);
    for (const p of parts) for await (const chunk of env.blobs.read(p.id)) hash.update(chunk as Buffer);
    return hash.digest('hex');
  }

  const algorithmOf = (digest: string) => digest.slice(0, digest.indexOf(':'));

  function uploadLocation(name: string, uuid: string) {
    return `${PREFIX}${name}/blobs/uploads/${uuid}`;
  }

  function uploadHeaders(name: string, uuid: string, size: number) {
    return { Location: uploadLocation(name, uuid), Range: `0-${Math.max(0, size - 1)}`, 'Docker-Upload-UUID': uuid };
  }

  /** Turns an upload's parts into the blob `digest` once the content matches it. */
  async function finish(repo: RepoRow, uuid: string, digest: string, parts: BlobPart[], hash: Hash | undefined) {
    const algorithm = algorithmOf(digest);
    const hex = hash && algorithm === 'sha256' ? hash.digest('hex') : await digestOfParts(parts, algorithm);
    if (`${algorithm}:${hex}` !== digest) {
      store.deleteUpload(uuid, false);
      throw digestInvalid();
    }
    store.addBlob(
      repo,
      digest,
      parts.reduce((n, p) => n + p.size, 0),
      parts,
      env.clock.now(),
    );
    store.deleteUpload(uuid, true);
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
    const uuid = randomUUID();
    store.insertUpload(repo, uuid, env.clock.now());
    const digest = url.searchParams.get('digest');
    if (digest !== null) {
      // monolithic upload: the whole blob in this POST
      if (!DIGEST.test(digest)) throw digestInvalid('invalid digest');
      const hash = createHash(algorithmOf(digest));
      const part = await receive(req, hash);
      store.addPart(uuid, part);
      await finish(repo, uuid, digest, [part], algorithmOf(digest) === 'sha256' ? hash : undefined);
      return reply(res, 201, { Location: `${PREFIX}${repo.name}/blobs/${digest}`, 'Docker-Content-Digest': digest });
    }
    req.resume();
    running.set(uuid, createHash('sha256'));
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
      running.delete(uuid);
      store.deleteUpload(uuid, false);
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
    const hash = running.get(uuid);
    const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
    if (hasBody) {
      const part = await receive(req, hash ?? createHash('sha256'));
      if (part.size > 0) store.addPart(uuid, part);
      else env.blobs.delete(part.id);
    } else req.resume();
    if (method === 'PATCH') {
      if (!hash) running.delete(uuid);
      return reply(res, 202, uploadHeaders(repo.name, uuid, store.findUpload(uuid)!.size));
    }
    const digest = url.searchParams.get('digest');
    if (!digest || !DIGEST.test(digest)) throw digestInvalid('digest parameter missing or invalid');
    running.delete(uuid);
    await finish(repo, uuid, digest, store.uploadParts(uuid), hash);
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
    let parsed;
    try {
      parsed = parseManifest(body, req.headers['content-type']);
    } catch (err) {
      if (err instanceof ManifestError) throw new RegistryError(400, 'MANIFEST_INVALID', err.message);
      throw err;
    }
    const algorithm = isDigest ? algorithmOf(ref) : 'sha256';
    const digest = `${algorithm}:${createHash(algorithm).update(body).digest('hex')}`;
    if (isDigest && digest !== ref) throw digestInvalid('manifest digest did not match the digest in the URL');
    for (const r of parsed.refs) {
      const known =
        r.kind === 'blob' ? store.repoHasBlob(repo, r.digest) && store.findBlob(repo, r.digest) : store.findImage(repo, r.digest);
      if (!known)
        throw new RegistryError(
          400,
          r.kind === 'blob' ? 'MANIFEST_BLOB_UNKNOWN' : 'MANIFEST_UNKNOWN',
          r.kind === 'blob' ? 'blob unknown to registry' : 'manifest unknown',
          { digest: r.digest },
        );
    }
    const tag = isDigest ? undefined : ref;
    if (tag !== undefined && repo.mutability === 'IMMUTABLE') {
      const existing = store.findTag(repo, tag);
      if (existing && existing.digest !== digest)
        throw new RegistryError(
          400,
          'TAG_INVALID',
          `The image tag '${tag}' already exists in the '${repo.name}' repository and cannot be overwritten because the repository is immutable.`,
        );
    }
    const now = env.clock.now();
    const existed = store.findImage(repo, digest);
    const previousTag = tag !== undefined ? store.findTag(repo, tag)?.digest : undefined;
    store.putImage(
      repo,
      {
        digest,
        media_type: parsed.mediaType,
        artifact_type: parsed.artifactType ?? null,
        subject: parsed.subject ?? null,
        manifest: body,
        size: parsed.size,
        pushed: now,
      },
      parsed.refs,
      tag,
      now,
    );
    const headers: Record<string, string> = { Location: `${PREFIX}${repo.name}/manifests/${digest}`, 'Docker-Content-Digest': digest };
    if (parsed.subject) headers['OCI-Subject'] = parsed.subject;
    reply(res, 201, headers);
    if (!existed || previousTag !== digest) hooks.pushed(repo, store.findImage(repo, digest)!, tag);
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
