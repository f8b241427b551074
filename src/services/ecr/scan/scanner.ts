/**
 * Runs image scans in the background: start() records the scan IN_PROGRESS in ecr_scans and
 * queues it (OPSBOX_ECR_SCAN_CONCURRENCY at a time, default 2); the run streams the image's layers
 * from the blob store (inventory.ts), matches the packages against the OSV feed (osv.ts) and
 * records COMPLETE with the findings, or FAILED with what went wrong. A completed scan is published
 * as an "ECR Image Scan" event. close() aborts running scans; recover() re-runs the scans a
 * stopped process left IN_PROGRESS (a scan reads only stored blobs, so running it again is safe).
 */
import { repoArn, type BlobRow, type EcrStore, type ImageRow, type RepoRow, type ScanRow } from '../store.js';
import { log } from '../../../core/log.js';
import type { ServiceEnv } from '../../../gateway/service.js';
import { MEDIA } from '../manifests.js';
import { readInventory } from './inventory.js';
import { matchPackages, severityCounts, type Finding, type Severity, type VulnFeed } from './osv.js';

/** What ecr_scans.findings holds for a completed scan. */
export interface ScanResult {
  findings: Finding[];
  counts: Partial<Record<Severity, number>>;
  vulnerabilitySourceUpdatedAt?: number;
  /** How many packages the image has (of the ecosystems read). */
  packages: number;
}

export const COMPLETE_DESCRIPTION = 'The scan was completed successfully.';
export const NO_FEED_DESCRIPTION =
  'The scan was completed successfully, but no vulnerability feed is configured (set OPSBOX_VULN_DB to a directory of OSV advisories), so no findings are reported.';

const MAX_RUNNING = Number(process.env.OPSBOX_ECR_SCAN_CONCURRENCY) || 2;

/** Image manifests whose config is an image config: what ECR scans (not indexes, not other artifacts). */
export function scannable(image: ImageRow): boolean {
  if (image.media_type !== MEDIA.ociManifest && image.media_type !== MEDIA.dockerManifest) return false;
  return image.artifact_type === null || image.artifact_type === MEDIA.ociConfig || image.artifact_type === MEDIA.dockerConfig;
}

interface LayerRef {
  digest: string;
  urls?: unknown;
}

export class Scanner {
  private active = new Map<string, { abort: AbortController; done: Promise<void> }>();
  private waiting: (() => void)[] = [];
  private running = 0;
  private closed = false;

  constructor(
    private env: ServiceEnv,
    private store: EcrStore,
    private feed: VulnFeed,
  ) {}

  /** Records the scan IN_PROGRESS (replacing any earlier result) and runs it in the background. */
  start(repo: RepoRow, image: ImageRow): ScanRow {
    const key = `${repo.id}\0${image.digest}`;
    this.active.get(key)?.abort.abort();
    const row: ScanRow = {
      repo_id: repo.id,
      digest: image.digest,
      status: 'IN_PROGRESS',
      description: null,
      started: this.env.clock.now(),
      completed: null,
      findings: null,
    };
    this.store.putScan(row);
    this.schedule(repo, image.digest, row.started);
    return row;
  }

  private schedule(repo: RepoRow, digest: string, started: number) {
    const key = `${repo.id}\0${digest}`;
    const abort = new AbortController();
    const done = (async () => {
      await this.slot(abort.signal);
      try {
        if (!abort.signal.aborted) await this.run(repo, digest, started, abort.signal);
      } finally {
        this.running--;
        this.waiting.shift()?.();
      }
    })()
      .catch((err) => {
        if (!abort.signal.aborted)
          log.error('ecr scan failed', { repository: repo.name, digest, err: err instanceof Error ? err.stack : String(err) });
      })
      .finally(() => {
        if (this.active.get(key)?.abort === abort) this.active.delete(key);
      });
    this.active.set(key, { abort, done });
  }

  private slot(signal: AbortSignal): Promise<void> {
    if (this.running < MAX_RUNNING) {
      this.running++;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const go = () => {
        this.running++;
        resolve();
      };
      this.waiting.push(go);
      signal.addEventListener('abort', () => {
        const i = this.waiting.indexOf(go);
        if (i >= 0) {
          this.waiting.splice(i, 1);
          go();
        }
      });
    });
  }

  private blobBytes(blob: BlobRow) {
    const blobs = this.env.blobs;
    return async function* () {
      for (const p of blob.parts) yield* blobs.read(p.id);
    };
  }

  private async run(repo: RepoRow, digest: string, started: number, signal: AbortSignal) {
    const image = this.store.findImage(repo, digest);
    if (!image) return;
    let result: ScanResult;
    let description: string;
    try {
      const manifest = JSON.parse(image.manifest.toString('utf8')) as { layers?: LayerRef[] };
      const layers = (manifest.layers ?? []).filter((l) => !Array.isArray(l.urls)); // foreign layers live elsewhere
      const sources = layers.map((l) => {
        const blob = this.store.findBlob(repo, l.digest);
        if (!blob) throw new Error(`layer ${l.digest} is not in the registry`);
        return this.blobBytes(blob);
      });
      const inventory = await readInventory(sources, signal);
      const db = await this.feed.get().catch((err: unknown) => {
        throw new Error(
          `the vulnerability feed in ${this.feed.dir} could not be read: ${err instanceof Error ? err.message : String(err)}`,
        );
      });
      const findings = db ? matchPackages(db, inventory.packages, inventory.os) : [];
      result = {
        findings,
        counts: severityCounts(findings),
        vulnerabilitySourceUpdatedAt: db?.updatedAt,
        packages: inventory.packages.length,
      };
      description = db ? COMPLETE_DESCRIPTION : NO_FEED_DESCRIPTION;
      if (inventory.skipped.length) description += ` Not read: ${inventory.skipped.slice(0, 5).join('; ')}.`;
    } catch (err) {
      if (signal.aborted) return;
      return this.finish(repo, digest, started, 'FAILED', `The scan failed: ${err instanceof Error ? err.message : String(err)}`, null);
    }
    if (signal.aborted) return;
    if (this.finish(repo, digest, started, 'COMPLETE', description, result))
      this.env.bus.publish({
        'detail-type': 'ECR Image Scan',
        source: 'aws.ecr',
        account: repo.account,
        region: repo.region,
        resources: [repoArn(repo, repo.name)],
        detail: {
          'scan-status': 'COMPLETE',
          'repository-name': repo.name,
          'image-digest': digest,
          'image-tags': this.store.tagsOf(repo, digest),
          'finding-severity-counts': result.counts,
        },
      });
  }

  /** Records the outcome, unless the image was deleted or a newer scan replaced this one meanwhile. */
  private finish(
    repo: RepoRow,
    digest: string,
    started: number,
    status: 'COMPLETE' | 'FAILED',
    description: string,
    result: ScanResult | null,
  ) {
    return this.store.transaction(() => {
      const current = this.store.findScan(repo, digest);
      if (!current || current.started !== started || current.status !== 'IN_PROGRESS') return false;
      this.store.putScan({
        repo_id: repo.id,
        digest,
        status,
        description,
        started,
        completed: this.env.clock.now(),
        findings: result ? JSON.stringify(result) : null,
      });
      return true;
    });
  }

  /** Runs again the scans a previous process left IN_PROGRESS. */
  recover() {
    for (const scan of this.store.scansInStatus('IN_PROGRESS')) {
      const repo = this.store.repoById(scan.repo_id);
      if (repo) this.schedule(repo, scan.digest, scan.started);
    }
  }

  /** Aborts running and queued scans (they stay IN_PROGRESS, for recover() in the next process). */
  async close() {
    if (this.closed) return;
    this.closed = true;
    const all = [...this.active.values()];
    for (const a of all) a.abort.abort();
    await Promise.all(all.map((a) => a.done));
  }
}
