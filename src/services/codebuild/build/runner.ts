/**
 * Which builds run when: each StartBuild hands its build to start(); a build waits in QUEUED for a
 * slot under its project's concurrentBuildLimit and opsbox's own OPSBOX_CODEBUILD_CONCURRENCY
 * (default 4), then run.ts walks its phases. StopBuild and timeouts abort it; recover() ends the
 * builds a killed process left IN_PROGRESS.
 */
import type { Scope } from '../../../core/arn.js';
import { log } from '../../../core/log.js';
import type { ServiceEnv } from '../../../gateway/service.js';
import type { ProjectArtifacts, StartBuildInput } from '../api.generated.js';
import type { Backends } from './backends/select.js';
import { Run } from './run.js';
import type { BuildDoc, CodebuildStore } from '../store.js';

/** What only opsbox keeps about a build (never returned): the StartBuild input, pipeline artifacts. */
export interface BuildPrivate {
  input: StartBuildInput;
  /** The project's concurrentBuildLimit when the build started. */
  concurrentBuildLimit?: number;
  /** The effective artifact settings (project's, with StartBuild's overrides). */
  artifacts?: ProjectArtifacts;
  secondaryArtifacts?: ProjectArtifacts[];
  /** 'host' or 'container' when the project asks for one (tag opsbox:backend). */
  backend?: 'host' | 'container';
  /** The pipeline's action that started the build (CodePipeline passes it as internal.codepipeline). */
  pipeline?: {
    pipelineName?: string;
    inputArtifacts: { name: string; bucket: string; key: string; revision?: string }[];
    outputArtifacts: { name: string; bucket: string; key: string }[];
    primarySource?: string;
  };
}

const MAX_RUNNING = Number(process.env.OPSBOX_CODEBUILD_CONCURRENCY) || 4;

export interface Active {
  abort: AbortController;
  /** Why the backend was aborted. */
  reason?: 'STOPPED' | 'TIMED_OUT';
  done: Promise<void>;
}

export class BuildRunner {
  private active = new Map<string, Active>();
  /** Builds waiting in QUEUED; `go` takes a slot and returns true when one is free. */
  private waiting: { go: () => boolean }[] = [];
  private running = 0;

  constructor(
    private env: ServiceEnv,
    private store: CodebuildStore,
    private backends: Backends,
  ) {}

  /** Ends builds a previous opsbox process left IN_PROGRESS. */
  recover() {
    for (const { scope, doc } of this.store.runningBuilds()) {
      const run = new Run(this, this.env, this.store, scope, doc);
      run.endInterrupted();
    }
  }

  start(scope: Scope, doc: BuildDoc) {
    const abort = new AbortController();
    const active: Active = { abort, done: Promise.resolve() };
    const run = new Run(this, this.env, this.store, scope, doc);
    active.done = run
      .execute(active)
      .catch((err) => log.error('codebuild: build crashed', { id: doc.id, err: err instanceof Error ? err.stack : String(err) }));
    this.active.set(doc.id, active);
    active.done.finally(() => this.active.delete(doc.id));
  }

  /** Aborts a running build; resolves once it has ended (or after a few seconds). */
  async stop(id: string, reason: 'STOPPED' | 'TIMED_OUT' = 'STOPPED') {
    const a = this.active.get(id);
    if (!a) return;
    a.reason ??= reason;
    a.abort.abort();
    await Promise.race([a.done, new Promise((r) => setTimeout(r, 5000).unref())]);
  }

  /** Waits for a slot under the project's concurrentBuildLimit and opsbox's own limit. */
  acquire(scope: Scope, project: string, limit: number | undefined, signal: AbortSignal): Promise<void> {
    const free = () => this.running < MAX_RUNNING && (limit === undefined || this.projectRunning(scope, project) < limit);
    if (free()) {
      this.take(scope, project);
      return Promise.resolve();
    }
    return new Promise((ok, fail) => {
      const entry = {
        go: () => {
          if (!free()) return false;
          this.take(scope, project);
          signal.removeEventListener('abort', cancel);
          ok();
          return true;
        },
      };
      const cancel = () => {
        this.waiting = this.waiting.filter((w) => w !== entry);
        fail(new Error('aborted'));
      };
      signal.addEventListener('abort', cancel, { once: true });
      this.waiting.push(entry);
    });
  }

  private perProject = new Map<string, number>();
  private key = (scope: Scope, project: string) => `${scope.account}/${scope.region}/${project}`;
  private projectRunning(scope: Scope, project: string) {
    return this.perProject.get(this.key(scope, project)) ?? 0;
  }
  private take(scope: Scope, project: string) {
    this.running++;
    this.perProject.set(this.key(scope, project), this.projectRunning(scope, project) + 1);
  }

  release(scope: Scope, project: string) {
    this.running--;
    this.perProject.set(this.key(scope, project), this.projectRunning(scope, project) - 1);
    for (const w of [...this.waiting]) if (w.go()) this.waiting = this.waiting.filter((x) => x !== w);
  }

  /** Where builds run (shared by every build of this runner). */
  get executionBackends() {
    return this.backends;
  }

  async close() {
    for (const a of this.active.values()) a.abort.abort();
    await Promise.race([Promise.all([...this.active.values()].map((a) => a.done)), new Promise((r) => setTimeout(r, 3000).unref())]);
  }
}
