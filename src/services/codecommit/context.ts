/**
 * What every CodeCommit module shares: the store, the git runner, each repository's long-lived
 * object reader (`git cat-file --batch`) and ref updater (`git update-ref --stdin`), a
 * per-repository write lock (pushes and API ref updates serialize per repository so before/after
 * ref snapshots are exact; API commits build their objects outside it and hold it only for the
 * compare-and-swap of the branch), and `refsChanged`, the one place a reference change becomes
 * events, triggers and default-branch bookkeeping — whether it came from a git push or an API call.
 */
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { arn } from '../../core/arn.js';
import { log } from '../../core/log.js';
import { AwsError } from '../../core/errors.js';
import type { ServiceEnv } from '../../gateway/service.js';
import { Git, ZERO } from './git.js';
import { ObjectReader } from './objectReader.js';
import { writePack, type PendingObjects } from './objectWriter.js';
import { forgetRefs, readRef, RefUpdater } from './refs.js';
import { createCodecommitStore, type CodecommitStore, type RepoRow } from './store.js';

/** CodeCommit's answer to a nextToken it did not make. */
export const badContinuationToken = () =>
  new AwsError('InvalidContinuationTokenException', 'The specified continuation token is not valid.');

export interface RefChange {
  ref: string;
  old: string;
  next: string;
}

export interface MergeInfo {
  baseCommitId?: string;
  sourceCommitId?: string;
  destinationCommitId?: string;
  mergeOption?: string;
  conflictDetailsLevel?: string;
  conflictResolutionStrategy?: string;
}

export class Codecommit {
  readonly store: CodecommitStore;
  readonly git: Git;
  private locks = new Map<string, Promise<unknown>>();
  private readers = new Map<string, ObjectReader>();
  private updaters = new Map<string, RefUpdater>();
  /** Branch moves waiting for the repository lock (queueRefMove), by repository id. */
  private moves = new Map<
    string,
    {
      row: RepoRow;
      change: RefChange;
      callerArn: string;
      objects?: PendingObjects;
      resolve(ok: boolean): void;
      reject(err: unknown): void;
    }[]
  >();
  /** Packs written by queueRefMove per repository since the last repack, and repacks running. */
  private packs = new Map<string, number>();
  private repacks = new Map<string, ChildProcess>();
  /** Called (under the repository lock) after refs change: pull requests follow their branches. */
  readonly onRefsChanged: ((row: RepoRow, refs: Set<string>, callerUserArn: string) => Promise<void>)[] = [];

  constructor(readonly env: ServiceEnv) {
    this.store = createCodecommitStore(env.store);
    this.git = new Git(this.store.gitRoot);
    env.repos.install((account, region, name) => {
      const row = this.store.findRepo({ account, region }, name);
      return row && { name: row.name, arn: this.repoArn(row), gitDir: this.gitDir(row), defaultBranch: row.default_branch ?? undefined };
    });
  }

  gitDir(row: RepoRow) {
    return this.store.gitDir(row);
  }

  /** The repository's object reader (its child starts on first use and stops when idle). */
  reader(row: RepoRow): ObjectReader {
    const dir = this.gitDir(row);
    let r = this.readers.get(dir);
    if (!r) this.readers.set(dir, (r = new ObjectReader({ spawn: () => this.git.spawn(dir, ['cat-file', '--batch', '-z']) })));
    return r;
  }

  /** The repository's ref updater; call it with the repository lock held. */
  refUpdater(row: RepoRow): RefUpdater {
    const dir = this.gitDir(row);
    let u = this.updaters.get(dir);
    if (!u)
      this.updaters.set(
        dir,
        (u = new RefUpdater(
          () => this.git.spawn(dir, ['update-ref', '--stdin']),
          (ref) => readRef(dir, ref),
        )),
      );
    return u;
  }

  /**
   * An API commit's compare-and-swap of its branch, without holding the lock while waiting for it:
   * moves queued while the repository lock is busy go together — one lock section, one pack of
   * their new objects, one update-ref round trip for all of them — then each one that succeeded
   * is published (refsChanged) in arrival order before its caller hears back. False: the ref was
   * not at `old`.
   */
  queueRefMove(row: RepoRow, change: RefChange, callerArn: string, objects?: PendingObjects): Promise<boolean> {
    return new Promise((resolve, reject) => {
      const item = { row, change, callerArn, objects, resolve, reject };
      const queue = this.moves.get(row.id);
      if (queue) return void queue.push(item);
      this.moves.set(row.id, [item]);
      void this.withLock(row.id, async () => {
        const batch = this.moves.get(row.id) ?? [];
        this.moves.delete(row.id);
        let i = 0;
        try {
          // deleted while these waited (DeleteRepository holds the lock too): nothing to write into
          if (!this.store.repoById(row.id)) throw new AwsError('RepositoryDoesNotExistException', `${row.name} does not exist`);
          const all = new Map(batch.flatMap((m) => [...(m.objects?.objects ?? [])]));
          if (await writePack(this.gitDir(row), all)) this.packWritten(row);
          const moved = await this.refUpdater(row).updateMany(batch.map((m) => m.change));
          for (; i < batch.length; i++) {
            const m = batch[i];
            if (moved[i]) await this.refsChanged(m.row, [m.change], m.callerArn);
            m.resolve(moved[i]);
          }
        } catch (err) {
          for (; i < batch.length; i++) batch[i].reject(err);
        }
      });
    });
  }

  /**
   * Every 32 packs written by API commits, `git repack --geometric=2 -d` folds the small packs
   * together in the background (git's own gc would only start at 50 packs, and only after a push),
   * so readers never search more than a few dozen packs.
   */
  private packWritten(row: RepoRow) {
    const n = (this.packs.get(row.id) ?? 0) + 1;
    this.packs.set(row.id, n >= 32 && !this.repacks.has(row.id) ? 0 : n);
    if (n < 32 || this.repacks.has(row.id)) return;
    const child = this.git.spawn(this.gitDir(row), ['repack', '--geometric=2', '-d', '-q']);
    this.repacks.set(row.id, child);
    child.once('close', () => this.repacks.get(row.id) === child && this.repacks.delete(row.id));
    child.stdin?.end();
    child.stdout?.resume();
    child.stderr?.resume();
    child.on('error', () => {});
    child.on('close', (code) => code && log.warn('codecommit repack failed', { repository: row.name, code }));
  }

  /** Stops a repository's git children (it is being deleted); resolves once a running repack has exited. */
  async forget(row: RepoRow) {
    const dir = this.gitDir(row);
    this.readers.get(dir)?.close();
    this.updaters.get(dir)?.close();
    this.readers.delete(dir);
    this.updaters.delete(dir);
    this.packs.delete(row.id);
    forgetRefs(dir);
    const repack = this.repacks.get(row.id);
    if (repack && repack.exitCode === null && repack.signalCode === null) {
      const exited = new Promise((ok) => repack.once('close', ok));
      repack.kill();
      await exited;
    }
  }

  /** Stops every git child (the server is stopping); they start again on use. */
  close() {
    for (const c of this.repacks.values()) c.kill();
    for (const r of this.readers.values()) r.close();
    for (const u of this.updaters.values()) u.close();
    this.readers.clear();
    this.updaters.clear();
  }

  repoArn(row: RepoRow) {
    return arn('codecommit', row, row.name);
  }

  /** Runs fn with the repository's write lock held; callers queue in arrival order. */
  withLock<T>(repoId: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(repoId) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => {});
    this.locks.set(repoId, tail);
    void tail.then(() => {
      if (this.locks.get(repoId) === tail) this.locks.delete(repoId);
    });
    return run;
  }

  /** Diff of two for-each-ref snapshots, branches and tags only. */
  diffRefs(before: Map<string, string>, after: Map<string, string>): RefChange[] {
    const changes: RefChange[] = [];
    for (const [ref, next] of after) {
      const old = before.get(ref) ?? ZERO;
      if (old !== next) changes.push({ ref, old, next });
    }
    for (const [ref, old] of before) if (!after.has(ref)) changes.push({ ref, old, next: ZERO });
    return changes.filter((c) => c.ref.startsWith('refs/heads/') || c.ref.startsWith('refs/tags/'));
  }

  /**
   * Publishes one "CodeCommit Repository State Change" per changed ref, makes the first branch the
   * default branch (as AWS does for the first push to an empty repository), and fires triggers.
   */
  async refsChanged(row: RepoRow, changes: RefChange[], callerUserArn: string, merge?: MergeInfo) {
    if (changes.length === 0) return;
    const now = this.env.clock.now();
    const current = this.store.repoById(row.id) ?? row;
    let defaultBranch = current.default_branch;
    for (const c of changes) {
      const branch = c.ref.startsWith('refs/heads/') ? c.ref.slice('refs/heads/'.length) : undefined;
      if (branch && c.next !== ZERO && !defaultBranch) {
        defaultBranch = branch;
        this.store.setDefaultBranch(row.id, branch, now);
        await this.git.run(this.gitDir(row), ['symbolic-ref', 'HEAD', c.ref]).catch(() => {});
      }
    }
    this.store.touch(row.id, now);
    for (const c of changes) {
      const event = c.old === ZERO ? 'referenceCreated' : c.next === ZERO ? 'referenceDeleted' : 'referenceUpdated';
      const tag = c.ref.startsWith('refs/tags/');
      const detail: Record<string, unknown> = {
        callerUserArn,
        event,
        repositoryName: current.name,
        repositoryId: row.id,
        referenceType: tag ? 'tag' : 'branch',
        referenceName: c.ref.slice(tag ? 'refs/tags/'.length : 'refs/heads/'.length),
        referenceFullName: c.ref,
      };
      if (c.next !== ZERO) detail.commitId = c.next;
      if (c.old !== ZERO) detail.oldCommitId = c.old;
      if (merge && event === 'referenceUpdated') Object.assign(detail, merge);
      this.env.bus.publish({
        source: 'aws.codecommit',
        'detail-type': 'CodeCommit Repository State Change',
        account: row.account,
        region: row.region,
        time: new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z'),
        resources: [this.repoArn(current)],
        detail,
      });
    }
    this.fireTriggers(current, changes, callerUserArn);
    const refs = new Set(changes.map((c) => c.ref));
    for (const fn of this.onRefsChanged) {
      try {
        await fn(current, refs, callerUserArn);
      } catch (err) {
        log.error('codecommit ref listener failed', { err: String(err) });
      }
    }
  }

  private fireTriggers(row: RepoRow, changes: RefChange[], callerUserArn: string) {
    const triggers = JSON.parse(row.triggers) as {
      name: string;
      destinationArn: string;
      customData?: string;
      branches?: string[];
      events: string[];
    }[];
    if (triggers.length === 0) return;
    const records = changes.map((c) => ({
      c,
      kind: c.old === ZERO ? 'createReference' : c.next === ZERO ? 'deleteReference' : 'updateReference',
    }));
    for (const t of triggers) {
      const matching = records.filter(({ c, kind }) => {
        const branch = c.ref.replace(/^refs\/(heads|tags)\//, '');
        const branchOk = !t.branches?.length || t.branches.includes(branch);
        return branchOk && (t.events.includes('all') || t.events.includes(kind));
      });
      if (matching.length === 0) continue;
      void this.invokeTrigger(
        row,
        t,
        callerUserArn,
        matching.map(({ c }) => c),
      ).catch((err) => log.warn('codecommit trigger failed', { trigger: t.name, err: String(err) }));
    }
  }

  /** Delivers a trigger's notification the way AWS shapes it (a Records array). */
  invokeTrigger(
    row: RepoRow,
    t: { name: string; destinationArn: string; customData?: string },
    callerUserArn: string,
    changes: RefChange[],
    eventName = 'ReferenceChanges',
  ) {
    const now = new Date(this.env.clock.now()).toISOString();
    const payload = JSON.stringify({
      Records: [
        {
          awsRegion: row.region,
          codecommit: {
            references: changes.map((c) => ({
              commit: c.next === ZERO ? c.old : c.next,
              ref: c.ref,
              ...(c.old === ZERO ? { created: true } : {}),
              ...(c.next === ZERO ? { deleted: true } : {}),
            })),
          },
          customData: t.customData,
          eventId: randomUUID(),
          eventName,
          eventPartNumber: 1,
          eventSource: 'aws:codecommit',
          eventSourceARN: this.repoArn(row),
          eventTime: now,
          eventTotalParts: 1,
          eventTriggerConfigId: row.triggers_id,
          eventTriggerName: t.name,
          eventVersion: '1.0',
          userIdentityARN: callerUserArn,
        },
      ],
    });
    return this.env.targets.invoke({
      arn: t.destinationArn,
      account: row.account,
      region: row.region,
      payload,
      source: 'codecommit',
      subject: `CodeCommit trigger ${t.name}`,
    });
  }
}
