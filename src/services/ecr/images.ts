/**
 * Images through the ECR API, over the same store the registry serves: DescribeImages, ListImages,
 * BatchGetImage, BatchDeleteImage, PutImage, and the layer API the ECR proxy pushes with
 * (BatchCheckLayerAvailability, InitiateLayerUpload, UploadLayerPart, CompleteLayerUpload,
 * GetDownloadUrlForLayer). Uploads and manifests go through content.ts, as the registry's do, so a
 * layer uploaded here can be pulled there and a manifest put here checks what a push would.
 */
import { Readable } from 'node:stream';
import { AwsError } from '../../core/errors.js';
import { decodeToken, keysetPage } from '../../core/pagination.js';
import type { RequestContext } from '../../gateway/context.js';
import type { ServiceEnv } from '../../gateway/service.js';
import type {
  EcrHandlers,
  Image,
  ImageDetailOut,
  ImageFailure,
  ImageIdentifier,
  ImageScanFindingsSummaryOut,
  Layer,
  LayerFailure,
} from './api.generated.js';
import { ContentError, immutableTagMessage, storeManifest, type BlobUploads, type ContentProblem } from './content.js';
import { DIGEST, TAG } from './manifests.js';
import type { RegistryHooks } from './registry.js';
import { invalidParameter, registryHost, type RequireRepo } from './repositories.js';
import type { EcrStore, ImageRow, RepoRow, ScanRow } from './store.js';

/** DescribeImages and ListImages answer up to 100 results when maxResults is not given. */
const DEFAULT_PAGE = 100;
/** What InitiateLayerUpload tells clients to send per part. */
export const PART_SIZE = 10 * 1024 * 1024;
/** Every part of an API upload but the last must be at least this big (LayerPartTooSmallException). */
export const MIN_PART = 5 * 1024 * 1024;
/** The digest syntax ECR accepts in requests (its failures quote it). */
const REQUEST_DIGEST = /^[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+$/;
const DIGEST_REGEX_TEXT = '[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+';

export type TagStatus = 'TAGGED' | 'UNTAGGED' | 'ANY';

/** An image as the listings see it: its row and its tags (sorted). */
export interface Listed {
  image: ImageRow;
  tags: string[];
}

/** The images whose tags match `status` (ANY when not given). */
export function byTagStatus<T extends { tags: string[] }>(items: T[], status: string | undefined): T[] {
  if (status === 'TAGGED') return items.filter((i) => i.tags.length > 0);
  if (status === 'UNTAGGED') return items.filter((i) => i.tags.length === 0);
  return items;
}

/** ListImages' entries: one per tag of a tagged image, one without a tag for an untagged image. */
export function listEntries(items: Listed[]): { key: Cursor; id: ImageIdentifier }[] {
  return items.flatMap(({ image, tags }) =>
    tags.length === 0
      ? [{ key: [image.pushed, image.digest, ''] as Cursor, id: { imageDigest: image.digest } }]
      : tags.map((tag) => ({ key: [image.pushed, image.digest, tag] as Cursor, id: { imageDigest: image.digest, imageTag: tag } })),
  );
}

/** Where a listing page ends: push time, digest and tag ('' for none), the listings' order. */
export type Cursor = [number, string, string];

const compareStrings = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
export const compareCursors = (a: Cursor, b: Cursor) => a[0] - b[0] || compareStrings(a[1], b[1]) || compareStrings(a[2], b[2]);

const badToken = () => invalidParameter('Invalid parameter: the nextToken is not valid.');

/** The cursor inside a nextToken opsbox made; InvalidParameterException for any other. */
export function readCursor(token: string): Cursor {
  let c: unknown;
  try {
    c = JSON.parse(decodeToken(token, badToken));
  } catch (err) {
    if (err instanceof AwsError) throw err;
    throw badToken();
  }
  if (!Array.isArray(c) || c.length !== 3 || typeof c[0] !== 'number' || typeof c[1] !== 'string' || typeof c[2] !== 'string')
    throw badToken();
  return c as Cursor;
}

/** One page of `items` (in cursor order) after the token's cursor. */
export function pageAfter<T>(items: T[], keyOf: (item: T) => Cursor, token: string | undefined, limit: number) {
  const after = token === undefined ? undefined : readCursor(token);
  const rest = after ? items.filter((i) => compareCursors(keyOf(i), after) > 0) : items;
  const page = keysetPage(rest, limit, (i) => JSON.stringify(keyOf(i)));
  return { items: page.items, nextToken: page.next };
}

/** How AWS names an image id in ImageNotFoundException: {imageDigest:'…', imageTag:'…'} with 'null' for what is missing. */
export const imageIdText = (id: ImageIdentifier) => `{imageDigest:'${id.imageDigest ?? 'null'}', imageTag:'${id.imageTag ?? 'null'}'}`;

/**
 * A scan's summary: `findings` holds the scan's ImageScanFindings as JSON; its findingSeverityCounts
 * are the summary's, else the severities of its findings are counted.
 */
export function scanSummary(scan: ScanRow): ImageScanFindingsSummaryOut | undefined {
  if (scan.completed === null) return undefined;
  let doc: {
    findingSeverityCounts?: Record<string, number>;
    counts?: Record<string, number>;
    findings?: { severity?: string }[];
    vulnerabilitySourceUpdatedAt?: number;
  } = {};
  try {
    const parsed: unknown = scan.findings ? JSON.parse(scan.findings) : {};
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) doc = parsed;
  } catch {
    // an unreadable findings column summarises as no findings
  }
  // the scanner (scan/scanner.ts ScanResult) stores the counts as `counts`
  let counts = doc.findingSeverityCounts ?? doc.counts;
  if (!counts && Array.isArray(doc.findings)) {
    counts = {};
    for (const f of doc.findings) if (typeof f?.severity === 'string') counts[f.severity] = (counts[f.severity] ?? 0) + 1;
  }
  return {
    imageScanCompletedAt: new Date(scan.completed),
    vulnerabilitySourceUpdatedAt:
      typeof doc.vulnerabilitySourceUpdatedAt === 'number' ? new Date(doc.vulnerabilitySourceUpdatedAt) : undefined,
    findingSeverityCounts: counts ?? {},
  };
}

type Resolved = { ok: true; image: ImageRow } | { ok: false; failureCode: string; failureReason: string };

const failed = (failureCode: string, failureReason: string): Resolved => ({ ok: false, failureCode, failureReason });
const notFound = () => failed('ImageNotFound', 'Requested image not found');

export function imageHandlers(
  env: ServiceEnv,
  store: EcrStore,
  uploads: BlobUploads,
  hooks: RegistryHooks,
  requireRepo: RequireRepo,
): EcrHandlers {
  /** The image an imageId names: by digest (and then the tag must name it too) or by tag. */
  function resolve(repo: RepoRow, id: ImageIdentifier): Resolved {
    const { imageDigest: digest, imageTag: tag } = id;
    if (digest === undefined && tag === undefined)
      return failed('MissingDigestAndTag', 'Invalid request parameters: both tag and digest cannot be null');
    if (digest !== undefined && !REQUEST_DIGEST.test(digest))
      return failed('InvalidImageDigest', `Invalid request parameters: image digest should satisfy the regex '${DIGEST_REGEX_TEXT}'`);
    const tagged = tag !== undefined ? store.findTag(repo, tag) : undefined;
    if (digest !== undefined) {
      const image = store.findImage(repo, digest);
      if (!image) return notFound();
      if (tag !== undefined && tagged?.digest !== digest)
        return failed('ImageTagDoesNotMatchDigest', 'Invalid request parameters: the image tag does not match the image digest');
      return { ok: true, image };
    }
    const image = tagged && store.findImage(repo, tagged.digest);
    return image ? { ok: true, image } : notFound();
  }

  function listed(repo: RepoRow): Listed[] {
    const tagsBy = new Map<string, string[]>();
    for (const t of store.tags(repo)) tagsBy.set(t.digest, [...(tagsBy.get(t.digest) ?? []), t.tag]);
    return store.images(repo).map((image) => ({ image, tags: tagsBy.get(image.digest) ?? [] }));
  }

  function detail(repo: RepoRow, image: ImageRow, tags: string[]): ImageDetailOut {
    const scan = store.findScan(repo, image.digest);
    return {
      registryId: repo.account,
      repositoryName: repo.name,
      imageDigest: image.digest,
      imageTags: tags.length > 0 ? tags : undefined,
      imageSizeInBytes: image.size,
      imagePushedAt: new Date(image.pushed),
      imageManifestMediaType: image.media_type,
      artifactMediaType: image.artifact_type ?? undefined,
      lastRecordedPullTime: image.last_pull !== null ? new Date(image.last_pull) : undefined,
      subjectManifestDigest: image.subject ?? undefined,
      ...(scan
        ? {
            imageScanStatus: { status: scan.status, description: scan.description ?? undefined },
            imageScanFindingsSummary: scanSummary(scan),
          }
        : {}),
    };
  }

  /** PutImage's problems as AWS words them. */
  function putImageError(p: ContentProblem, repo: RepoRow): AwsError {
    const where = `the repository with name '${repo.name}' in the registry with id '${repo.account}'`;
    switch (p.kind) {
      case 'manifestInvalid':
        return invalidParameter(
          `Invalid parameter at 'ImageManifest' failed to satisfy constraint: '${p.message === 'manifest is not valid JSON' ? 'Invalid JSON syntax' : p.message}'`,
        );
      case 'digestMismatch':
        return new AwsError(
          'ImageDigestDoesNotMatchException',
          `The specified image digest '${p.expected}' does not match the digest that Amazon ECR calculated for the image ('${p.actual}').`,
          400,
        );
      case 'blobsMissing':
        return new AwsError(
          'LayersNotFoundException',
          `Layers with digests '[${p.digests.join(', ')}]' required for pushing image into ${where} do not exist`,
          400,
        );
      case 'manifestsMissing':
        return new AwsError(
          'ReferencedImagesNotFoundException',
          `Images with digests '[${p.digests.join(', ')}]' referenced by the manifest list do not exist in ${where}`,
          400,
        );
      case 'tagImmutable':
        return new AwsError('ImageTagAlreadyExistsException', immutableTagMessage(p.tag, repo.name), 400);
      case 'unchanged':
        return new AwsError(
          'ImageAlreadyExistsException',
          `Image with digest '${p.digest}' and tag '${p.tag ?? 'null'}' already exists in the repository with name '${repo.name}' in registry with id '${repo.account}'`,
          400,
        );
    }
  }

  function requireUpload(ctx: RequestContext, repo: RepoRow, uploadId: string) {
    const up = store.findUpload(uploadId);
    if (!up || up.repo_id !== repo.id)
      throw new AwsError(
        'UploadNotFoundException',
        `The upload with id '${uploadId}' does not exist in the repository with name '${repo.name}' in the registry with id '${ctx.account}'`,
        400,
      );
    return up;
  }

  return {
    DescribeImages(input, ctx) {
      const repo = requireRepo(ctx, input);
      if (input.filter?.imageStatus === 'ARCHIVED') return { imageDetails: [] }; // opsbox never archives
      if (input.imageIds) {
        if (input.nextToken !== undefined || input.maxResults !== undefined)
          throw invalidParameter('Invalid parameter: maxResults and nextToken cannot be used with imageIds.');
        const seen = new Set<string>();
        const imageDetails: ImageDetailOut[] = [];
        for (const id of input.imageIds) {
          const r = resolve(repo, id);
          if (!r.ok) {
            if (r.failureCode === 'MissingDigestAndTag' || r.failureCode === 'InvalidImageDigest')
              throw invalidParameter(`Invalid parameter at 'imageIds': ${r.failureReason}`);
            throw new AwsError(
              'ImageNotFoundException',
              `The image with imageId ${imageIdText(id)} does not exist within the repository with name '${repo.name}' in the registry with id '${repo.account}'`,
              400,
            );
          }
          if (seen.has(r.image.digest)) continue;
          seen.add(r.image.digest);
          imageDetails.push(detail(repo, r.image, store.tagsOf(repo, r.image.digest)));
        }
        return { imageDetails };
      }
      const page = pageAfter(
        byTagStatus(listed(repo), input.filter?.tagStatus),
        (l) => [l.image.pushed, l.image.digest, ''],
        input.nextToken,
        input.maxResults ?? DEFAULT_PAGE,
      );
      return { imageDetails: page.items.map((l) => detail(repo, l.image, l.tags)), nextToken: page.nextToken };
    },

    ListImages(input, ctx) {
      const repo = requireRepo(ctx, input);
      if (input.filter?.imageStatus === 'ARCHIVED') return { imageIds: [] };
      const entries = listEntries(byTagStatus(listed(repo), input.filter?.tagStatus));
      const page = pageAfter(entries, (e) => e.key, input.nextToken, input.maxResults ?? DEFAULT_PAGE);
      return { imageIds: page.items.map((e) => e.id), nextToken: page.nextToken };
    },

    BatchGetImage(input, ctx) {
      const repo = requireRepo(ctx, input);
      const accepted = input.acceptedMediaTypes;
      const images: Image[] = [];
      const failures: ImageFailure[] = [];
      const now = ctx.clock.now();
      for (const id of input.imageIds) {
        const r = resolve(repo, id);
        if (!r.ok) {
          failures.push({ imageId: id, failureCode: r.failureCode, failureReason: r.failureReason });
          continue;
        }
        if (accepted && !accepted.includes(r.image.media_type)) {
          // opsbox converts no manifest (no schema 1, no platform pick from a list): an image of another type is not there
          failures.push({ imageId: id, failureCode: 'ImageNotFound', failureReason: 'Requested image not found' });
          continue;
        }
        store.touchPull(repo, r.image.digest, now);
        images.push({
          registryId: repo.account,
          repositoryName: repo.name,
          imageId: { imageDigest: r.image.digest, imageTag: id.imageTag },
          imageManifest: r.image.manifest.toString('utf8'),
          imageManifestMediaType: r.image.media_type,
        });
      }
      return { images, failures };
    },

    BatchDeleteImage(input, ctx) {
      const repo = requireRepo(ctx, input);
      const imageIds: ImageIdentifier[] = [];
      const failures: ImageFailure[] = [];
      for (const id of input.imageIds) {
        const r = resolve(repo, id);
        if (!r.ok) {
          failures.push({ imageId: id, failureCode: r.failureCode, failureReason: r.failureReason });
          continue;
        }
        const digest = r.image.digest;
        const tags = store.tagsOf(repo, digest);
        if (id.imageDigest === undefined && tags.length > 1) {
          // by tag, and the image keeps other tags: only the tag goes
          store.deleteTag(repo, id.imageTag!);
          imageIds.push({ imageDigest: digest, imageTag: id.imageTag });
          hooks.deleted(repo, digest, id.imageTag);
          continue;
        }
        const parents = store.parentsOf(repo, digest);
        if (parents.length > 0) {
          failures.push({
            imageId: id,
            failureCode: 'ImageReferencedByManifestList',
            failureReason: `Requested image referenced by manifest list: [${parents.join(', ')}]`,
          });
          continue;
        }
        store.deleteImage(repo, digest);
        if (tags.length === 0) {
          imageIds.push({ imageDigest: digest });
          hooks.deleted(repo, digest, undefined);
        }
        for (const tag of tags) {
          imageIds.push({ imageDigest: digest, imageTag: tag });
          hooks.deleted(repo, digest, tag);
        }
      }
      // blobs the deleted images held go, but not ones uploaded in the last hour for a manifest still to come
      if (imageIds.length > 0) store.collectGarbage(ctx.clock.now() - 3_600_000);
      return { imageIds, failures };
    },

    PutImage(input, ctx) {
      const repo = requireRepo(ctx, input);
      const tag = input.imageTag;
      if (tag !== undefined && !TAG.test(tag))
        throw invalidParameter(
          `Invalid parameter at 'imageTag' failed to satisfy constraint: 'must satisfy regular expression '[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}''`,
        );
      let stored;
      try {
        stored = storeManifest(store, repo, Buffer.from(input.imageManifest, 'utf8'), {
          contentType: input.imageManifestMediaType,
          expectedDigest: input.imageDigest,
          tag,
          now: ctx.clock.now(),
          refuseUnchanged: true,
        });
      } catch (err) {
        if (err instanceof ContentError) throw putImageError(err.problem, repo);
        throw err;
      }
      hooks.pushed(repo, stored.image, tag);
      return {
        image: {
          registryId: repo.account,
          repositoryName: repo.name,
          imageId: { imageDigest: stored.image.digest, imageTag: tag },
          imageManifest: input.imageManifest,
          imageManifestMediaType: stored.image.media_type,
        },
      };
    },

    BatchCheckLayerAvailability(input, ctx) {
      const repo = requireRepo(ctx, input);
      const layers: Layer[] = [];
      const failures: LayerFailure[] = [];
      for (const digest of input.layerDigests) {
        if (digest === '') {
          failures.push({ layerDigest: digest, failureCode: 'MissingLayerDigest', failureReason: 'The layer digest is missing.' });
          continue;
        }
        if (!REQUEST_DIGEST.test(digest)) {
          failures.push({
            layerDigest: digest,
            failureCode: 'InvalidLayerDigest',
            failureReason: `Invalid request parameters: layer digest should satisfy the regex '${DIGEST_REGEX_TEXT}'`,
          });
          continue;
        }
        const blob = store.repoHasBlob(repo, digest) ? store.findBlob(repo, digest) : undefined;
        layers.push(
          blob
            ? { layerDigest: digest, layerAvailability: 'AVAILABLE', layerSize: blob.size }
            : { layerDigest: digest, layerAvailability: 'UNAVAILABLE' },
        );
      }
      return { layers, failures };
    },

    InitiateLayerUpload(input, ctx) {
      const repo = requireRepo(ctx, input);
      return { uploadId: uploads.start(repo), partSize: PART_SIZE };
    },

    async UploadLayerPart(input, ctx) {
      const repo = requireRepo(ctx, input);
      const up = requireUpload(ctx, repo, input.uploadId);
      const part = input.layerPartBlob;
      if (input.partFirstByte !== up.size || input.partLastByte - input.partFirstByte + 1 !== part.length || part.length === 0)
        throw new AwsError(
          'InvalidLayerPartException',
          `The layer part size is not valid, or the first byte specified is not consecutive to the last byte of a previous layer part upload (last valid byte received: ${up.size - 1}).`,
          400,
          { registryId: repo.account, repositoryName: repo.name, uploadId: input.uploadId, lastValidByteReceived: up.size - 1 },
        );
      await uploads.append(input.uploadId, Readable.from([part]));
      return { registryId: repo.account, repositoryName: repo.name, uploadId: input.uploadId, lastByteReceived: input.partLastByte };
    },

    async CompleteLayerUpload(input, ctx) {
      const repo = requireRepo(ctx, input);
      requireUpload(ctx, repo, input.uploadId);
      if (input.layerDigests.length !== 1)
        throw invalidParameter("Invalid parameter at 'layerDigests': exactly one layer digest must be given.");
      const digest = input.layerDigests[0];
      if (store.repoHasBlob(repo, digest) && store.findBlob(repo, digest)) {
        uploads.cancel(input.uploadId);
        throw new AwsError(
          'LayerAlreadyExistsException',
          `The layer '${digest}' already exists in the repository with name '${repo.name}' in the registry with id '${repo.account}'`,
          400,
        );
      }
      const parts = store.uploadParts(input.uploadId);
      if (parts.length === 0)
        throw new AwsError('EmptyUploadException', `The upload with id '${input.uploadId}' does not contain any layer parts.`, 400);
      if (parts.slice(0, -1).some((p) => p.size < MIN_PART))
        throw new AwsError('LayerPartTooSmallException', 'Layer parts must be at least 5 MiB in size.', 400);
      const invalidLayer = () =>
        new AwsError(
          'InvalidLayerException',
          `The layer digest calculation performed by Amazon ECR upon receipt of the image layer does not match the digest specified: '${digest}'`,
          400,
        );
      if (!DIGEST.test(digest)) {
        uploads.cancel(input.uploadId);
        throw invalidLayer();
      }
      try {
        await uploads.complete(repo, input.uploadId, digest);
      } catch (err) {
        if (err instanceof ContentError) throw invalidLayer();
        throw err;
      }
      return { registryId: repo.account, repositoryName: repo.name, uploadId: input.uploadId, layerDigest: digest };
    },

    GetDownloadUrlForLayer(input, ctx) {
      const repo = requireRepo(ctx, input);
      const digest = input.layerDigest;
      if (!(store.repoHasBlob(repo, digest) && store.findBlob(repo, digest)))
        throw new AwsError(
          'LayersNotFoundException',
          `The layer with digest '${digest}' does not exist in the repository with name '${repo.name}' in the registry with id '${repo.account}'`,
          400,
        );
      if (!store.blobReferenced(repo, digest))
        throw new AwsError(
          'LayerInaccessibleException',
          'The specified layer is not available because it is not associated with an image. Unassociated image layers may be cleaned up at any time.',
          400,
        );
      return { downloadUrl: `http://${registryHost(env)}/v2/${repo.name}/blobs/${digest}`, layerDigest: digest };
    },
  };
}
