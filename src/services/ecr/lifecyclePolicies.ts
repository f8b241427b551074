/**
 * Lifecycle policies: PutLifecyclePolicy / GetLifecyclePolicy / DeleteLifecyclePolicy, the previews
 * (StartLifecyclePolicyPreview computes what the policy would expire then; GetLifecyclePolicyPreview
 * answers IN_PROGRESS for PREVIEW_MS, then COMPLETE with those results), and the engine that applies
 * every repository's policy on an interval (OPSBOX_ECR_LIFECYCLE_INTERVAL_MS, default an hour; AWS
 * promises within 24 hours): the images it expires are deleted for real, each published as an
 * "ECR Image Action" DELETE, and the blobs nothing references any more are collected.
 *
 * Images an index (manifest list) in the repository lists are left to the index: they are not
 * evaluated until it is gone, as AWS never expires an image a manifest list still references.
 */
import type { Clock } from '../../core/clock.js';
import { AwsError } from '../../core/errors.js';
import { log } from '../../core/log.js';
import { pageByOffset } from '../../core/pagination.js';
import type { RequestContext } from '../../gateway/context.js';
import type { EcrHandlers, LifecyclePolicyPreviewResultOut } from './api.generated.js';
import { evaluateLifecycle, LifecyclePolicyError, parseLifecyclePolicy, type Expiry, type LifecycleImage } from './lifecycle.js';
import { invalidParameter, type RequireRepo } from './repositories.js';
import type { EcrStore, PreviewResult, RepoRow } from './store.js';

/** How long a preview stays IN_PROGRESS. */
export const PREVIEW_MS = 1000;
export const DEFAULT_INTERVAL_MS = 3_600_000;
/** Blobs younger than this are never collected: a layer pushed just ahead of its manifest is not garbage yet. */
const GARBAGE_GRACE_MS = 3_600_000;

const policyNotFound = (repo: RepoRow) =>
  new AwsError(
    'LifecyclePolicyNotFoundException',
    `Lifecycle policy does not exist for the repository with name '${repo.name}' in the registry with id '${repo.account}'`,
    400,
  );

/** The policy in `text`, or AWS's InvalidParameterException for it. */
function validPolicy(text: string) {
  try {
    return parseLifecyclePolicy(text);
  } catch (err) {
    if (err instanceof LifecyclePolicyError)
      throw invalidParameter(
        `Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation failure: ${err.message}'`,
      );
    throw err;
  }
}

/** A repository's images as the evaluator sees them: tags and push times, without the children of its indexes. */
export function lifecycleImages(store: EcrStore, repo: RepoRow): LifecycleImage[] {
  const tags = new Map<string, string[]>();
  for (const t of store.tags(repo)) tags.set(t.digest, [...(tags.get(t.digest) ?? []), t.tag]);
  return store
    .images(repo)
    .filter((i) => store.parentsOf(repo, i.digest).length === 0)
    .map((i) => ({ digest: i.digest, tags: tags.get(i.digest) ?? [], pushedAt: i.pushed }));
}

export type ImageDeleted = (repo: RepoRow, digest: string, tag: string | undefined) => void;

export class LifecycleEngine {
  private timer: { cancel(): void } | undefined;
  private closed = false;

  constructor(
    private store: EcrStore,
    private clock: Clock,
    private deleted: ImageDeleted,
    readonly intervalMs: number,
  ) {}

  start() {
    this.closed = false;
    this.arm();
  }

  close() {
    this.closed = true;
    this.timer?.cancel();
    this.timer = undefined;
  }

  private arm() {
    if (this.closed) return;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.run();
      this.arm();
    }, this.intervalMs);
  }

  /** Applies every repository's policy now; returns the images expired. Never throws. */
  run(): Expiry[] {
    const now = this.clock.now();
    const all: Expiry[] = [];
    for (const repo of this.store.reposWithLifecycle()) {
      try {
        all.push(...this.apply(repo, now));
      } catch (err) {
        log.error('ecr lifecycle evaluation failed', { repository: repo.name, err: err instanceof Error ? err.stack : String(err) });
      }
    }
    try {
      if (all.length) this.store.collectGarbage(now - GARBAGE_GRACE_MS);
    } catch (err) {
      log.error('ecr garbage collection failed', { err: String(err) });
    }
    return all;
  }

  private apply(repo: RepoRow, now: number): Expiry[] {
    const policy = parseLifecyclePolicy(repo.lifecycle!);
    const expired = evaluateLifecycle(policy, lifecycleImages(this.store, repo), now);
    this.store.transaction(() => {
      for (const e of expired) this.store.deleteImage(repo, e.image.digest);
      this.store.setRepo(repo, 'lifecycle_evaluated', now);
    });
    for (const e of expired) this.deleted(repo, e.image.digest, [...e.image.tags].sort()[0]);
    if (expired.length) log.info('ecr lifecycle expired images', { repository: repo.name, count: expired.length });
    return expired;
  }
}

const matchesFilter = (r: PreviewResult, tagStatus: string | undefined) =>
  tagStatus === undefined || tagStatus === 'ANY' || (tagStatus === 'TAGGED' ? r.tags.length > 0 : r.tags.length === 0);

export function lifecycleHandlers(store: EcrStore, requireRepo: RequireRepo): EcrHandlers {
  const evaluatedAt = (repo: RepoRow) => (repo.lifecycle_evaluated !== null ? new Date(repo.lifecycle_evaluated) : undefined);
  const requirePolicy = (ctx: RequestContext, input: { registryId?: string; repositoryName: string }) => {
    const repo = requireRepo(ctx, input);
    if (repo.lifecycle === null) throw policyNotFound(repo);
    return { repo, text: repo.lifecycle };
  };

  return {
    PutLifecyclePolicy(input, ctx) {
      const repo = requireRepo(ctx, input);
      validPolicy(input.lifecyclePolicyText);
      store.transaction(() => {
        store.setRepo(repo, 'lifecycle', input.lifecyclePolicyText);
        store.setRepo(repo, 'lifecycle_updated', ctx.clock.now());
        store.setRepo(repo, 'lifecycle_evaluated', null);
      });
      return { registryId: repo.account, repositoryName: repo.name, lifecyclePolicyText: input.lifecyclePolicyText };
    },

    GetLifecyclePolicy(input, ctx) {
      const { repo, text } = requirePolicy(ctx, input);
      return { registryId: repo.account, repositoryName: repo.name, lifecyclePolicyText: text, lastEvaluatedAt: evaluatedAt(repo) };
    },

    DeleteLifecyclePolicy(input, ctx) {
      const { repo, text } = requirePolicy(ctx, input);
      store.transaction(() => {
        store.setRepo(repo, 'lifecycle', null);
        store.setRepo(repo, 'lifecycle_updated', ctx.clock.now());
      });
      return { registryId: repo.account, repositoryName: repo.name, lifecyclePolicyText: text, lastEvaluatedAt: evaluatedAt(repo) };
    },

    StartLifecyclePolicyPreview(input, ctx) {
      const repo = requireRepo(ctx, input);
      const text = input.lifecyclePolicyText ?? requirePolicy(ctx, input).text;
      const policy = validPolicy(text);
      const now = ctx.clock.now();
      const previous = store.findPreview(repo);
      if (previous && now < previous.complete_at)
        throw new AwsError(
          'LifecyclePolicyPreviewInProgressException',
          'Previous lifecycle policy preview request has not completed. Please try again later.',
          400,
        );
      const results: PreviewResult[] = evaluateLifecycle(policy, lifecycleImages(store, repo), now).map((e) => ({
        digest: e.image.digest,
        tags: [...e.image.tags].sort(),
        pushed: e.image.pushedAt,
        rulePriority: e.rulePriority,
      }));
      store.putPreview({ repo_id: repo.id, policy: text, started: now, complete_at: now + PREVIEW_MS, results: JSON.stringify(results) });
      return { registryId: repo.account, repositoryName: repo.name, lifecyclePolicyText: text, status: 'IN_PROGRESS' };
    },

    GetLifecyclePolicyPreview(input, ctx) {
      const repo = requireRepo(ctx, input);
      const preview = store.findPreview(repo);
      if (!preview)
        throw new AwsError(
          'LifecyclePolicyPreviewNotFoundException',
          `There is no lifecycle policy preview for the repository with name '${repo.name}' in the registry with id '${repo.account}'`,
          400,
        );
      if (input.imageIds && (input.maxResults !== undefined || input.nextToken !== undefined))
        throw invalidParameter('Invalid parameter: maxResults and nextToken cannot be used with imageIds.');
      const base = { registryId: repo.account, repositoryName: repo.name, lifecyclePolicyText: preview.policy };
      if (ctx.clock.now() < preview.complete_at) return { ...base, status: 'IN_PROGRESS' };
      const all = JSON.parse(preview.results) as PreviewResult[];
      let results = all.filter((r) => matchesFilter(r, input.filter?.tagStatus));
      if (input.imageIds) {
        const ids = input.imageIds;
        results = results.filter((r) =>
          ids.some((id) => id.imageDigest === r.digest || (id.imageTag !== undefined && r.tags.includes(id.imageTag))),
        );
      }
      const page = input.imageIds
        ? { items: results, nextToken: undefined }
        : pageByOffset(results, input.nextToken, input.maxResults ?? 100, () =>
            invalidParameter("Invalid parameter at 'nextToken' failed to satisfy constraint: 'The nextToken is not valid.'"),
          );
      const previewResults: LifecyclePolicyPreviewResultOut[] = page.items.map((r) => ({
        imageDigest: r.digest,
        imageTags: r.tags,
        imagePushedAt: new Date(r.pushed),
        action: { type: 'EXPIRE' },
        appliedRulePriority: r.rulePriority,
      }));
      return {
        ...base,
        status: 'COMPLETE',
        previewResults,
        nextToken: page.nextToken,
        summary: { expiringImageTotalCount: all.length },
      };
    },
  };
}
