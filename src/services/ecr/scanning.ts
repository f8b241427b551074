/**
 * Basic image scanning: StartImageScan, DescribeImageScanFindings and scan on push (a repository
 * with scanOnPush scans each image manifest pushed to it). The scans themselves run in scan/:
 * the image's layers are read for installed packages and matched against the OSV feed in
 * OPSBOX_VULN_DB; without a feed a scan completes with no findings and says why.
 *
 * As in AWS, an image is scanned at most once in 24 hours (scan on push included): StartImageScan
 * answers LimitExceededException inside that window. OPSBOX_ECR_SCAN_QUOTA_HOURS changes the
 * window (0 turns the limit off); a FAILED scan does not count.
 */
import { AwsError } from '../../core/errors.js';
import { pageByOffset } from '../../core/pagination.js';
import type { RequestContext } from '../../gateway/context.js';
import type { ServiceEnv } from '../../gateway/service.js';
import type { EcrHandlers, ImageIdentifier } from './api.generated.js';
import { DIGEST } from './manifests.js';
import { invalidParameter, type RequireRepo } from './repositories.js';
import { VulnFeed } from './scan/osv.js';
import { Scanner, scannable, type ScanResult } from './scan/scanner.js';
import type { EcrStore, ImageRow, RepoRow, ScanRow } from './store.js';

const HOUR = 3_600_000;

const idText = (id: ImageIdentifier) => `{imageDigest:'${id.imageDigest ?? 'null'}', imageTag:'${id.imageTag ?? 'null'}'}`;

export function scanning(env: ServiceEnv, store: EcrStore, requireRepo: RequireRepo) {
  const scanner = new Scanner(env, store, new VulnFeed(process.env.OPSBOX_VULN_DB || undefined));
  const quotaHours = Number(process.env.OPSBOX_ECR_SCAN_QUOTA_HOURS ?? 24);
  const quotaMs = Number.isFinite(quotaHours) && quotaHours > 0 ? quotaHours * HOUR : 0;

  /** The image an imageId names (by digest, tag, or both, which must agree). */
  function requireImage(repo: RepoRow, id: ImageIdentifier): ImageRow {
    if (id.imageDigest === undefined && id.imageTag === undefined)
      throw invalidParameter("Invalid parameter at 'imageId': an imageDigest or an imageTag is required.");
    const notFound = () =>
      new AwsError(
        'ImageNotFoundException',
        `The image with imageId ${idText(id)} does not exist within the repository with name '${repo.name}' in the registry with id '${repo.account}'`,
        400,
      );
    if (id.imageDigest !== undefined && !DIGEST.test(id.imageDigest))
      throw invalidParameter(`Invalid parameter at 'imageDigest' failed to satisfy constraint: 'Invalid image digest'`);
    let digest = id.imageDigest;
    if (id.imageTag !== undefined) {
      const tag = store.findTag(repo, id.imageTag);
      if (!tag || (digest !== undefined && tag.digest !== digest)) throw notFound();
      digest = tag.digest;
    }
    const image = store.findImage(repo, digest!);
    if (!image) throw notFound();
    return image;
  }

  /** Whether a scan of this image counts against the once-a-day quota. */
  const withinQuota = (scan: ScanRow | undefined, now: number) =>
    quotaMs > 0 && scan !== undefined && scan.status !== 'FAILED' && now - scan.started < quotaMs;

  const imageIdOf = (image: ImageRow, id: ImageIdentifier): ImageIdentifier => ({
    imageDigest: image.digest,
    ...(id.imageTag !== undefined ? { imageTag: id.imageTag } : {}),
  });

  const handlers: EcrHandlers = {
    StartImageScan(input, ctx: RequestContext) {
      const repo = requireRepo(ctx, input);
      const image = requireImage(repo, input.imageId);
      if (!scannable(image)) throw new AwsError('UnsupportedImageTypeException', 'The image is of a type that cannot be scanned.', 400);
      if (withinQuota(store.findScan(repo, image.digest), ctx.clock.now()))
        throw new AwsError('LimitExceededException', 'The scan quota per image has been exceeded. Wait and try again.', 400);
      scanner.start(repo, image);
      return {
        registryId: repo.account,
        repositoryName: repo.name,
        imageId: imageIdOf(image, input.imageId),
        imageScanStatus: { status: 'IN_PROGRESS' },
      };
    },

    DescribeImageScanFindings(input, ctx) {
      const repo = requireRepo(ctx, input);
      const image = requireImage(repo, input.imageId);
      const scan = store.findScan(repo, image.digest);
      if (!scan)
        throw new AwsError(
          'ScanNotFoundException',
          `Image scan does not exist for the image with '${idText(input.imageId)}' in the repository with name '${repo.name}' in the registry with id '${repo.account}'`,
          400,
        );
      const out = {
        registryId: repo.account,
        repositoryName: repo.name,
        imageId: imageIdOf(image, input.imageId),
        imageScanStatus: { status: scan.status, ...(scan.description ? { description: scan.description } : {}) },
      };
      if (scan.status !== 'COMPLETE' || !scan.findings) return out;
      const result = JSON.parse(scan.findings) as ScanResult;
      const page = pageByOffset(result.findings, input.nextToken, input.maxResults ?? 100, () =>
        invalidParameter("Invalid parameter at 'nextToken': the token is not valid."),
      );
      return {
        ...out,
        imageScanFindings: {
          imageScanCompletedAt: new Date(scan.completed!),
          ...(result.vulnerabilitySourceUpdatedAt !== undefined
            ? { vulnerabilitySourceUpdatedAt: new Date(result.vulnerabilitySourceUpdatedAt) }
            : {}),
          findingSeverityCounts: result.counts,
          findings: page.items,
        },
        nextToken: page.nextToken,
      };
    },
  };

  return {
    handlers,
    /** Scan on push: a scannable image pushed to a scanOnPush repository, unless it was scanned within the quota window. */
    pushed(repo: RepoRow, image: ImageRow) {
      if (repo.scan_on_push !== 1 || !scannable(image)) return;
      if (withinQuota(store.findScan(repo, image.digest), env.clock.now())) return;
      scanner.start(repo, image);
    },
    start: () => scanner.recover(),
    close: () => scanner.close(),
  };
}
