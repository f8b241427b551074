/**
 * One build's life once it is started: QUEUED (a slot under the project's and opsbox's concurrency
 * limits) → PROVISIONING (pick and prepare a backend) → DOWNLOAD_SOURCE (sources, buildspec,
 * variables) → INSTALL … POST_BUILD (one driver script, followed through its marker lines) →
 * UPLOAD_ARTIFACTS → FINALIZING → COMPLETED. Each transition is saved, logged as AWS logs it and
 * published on the bus; StopBuild and the timeout abort the backend, which kills everything.
 * A build that was running when opsbox stopped is ended as FAULT when it starts again.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Scope } from '../../../core/arn.js';
import { log } from '../../../core/log.js';
import type { ServiceEnv } from '../../../gateway/service.js';
import { uploadArtifacts } from './artifacts.js';
import { BuildLog } from './logs.js';
import { buildVariables, PhaseFailure, readBuildspec, roleCredentials, storedVariables } from './env.js';
import { publishPhaseChange, publishStateChange } from './events.js';
import { BuildspecError, type Buildspec } from './buildspec.js';
import { commandFailureContext, commandOf, generateDriver, parseMarker, phaseKey, type Marker } from './driver.js';
import type { Backends } from './backends/select.js';
import type { Active, BuildPrivate, BuildRunner } from './runner.js';
import { ProvisioningError, type ExecutionBackend } from './backends/types.js';
import { localCacheEnabled, restoreCache, saveCache } from './cache.js';
import { recordReports } from '../reportGroups.js';
import { fetchSource, SourceError, type SourceToFetch } from './sources.js';
import type { BuildDoc, CodebuildStore } from '../store.js';

type Status = 'SUCCEEDED' | 'FAILED' | 'FAULT' | 'TIMED_OUT' | 'STOPPED';
/** A phase can also end CLIENT_ERROR (an image or source it cannot get), as AWS reports it. */
type PhaseStatus = Status | 'CLIENT_ERROR';
interface PhaseContext {
  statusCode: string;
  message: string;
}

/** How long a build-timeout minute lasts (tests shorten it). */
const MINUTE_MS = Number(process.env.OPSBOX_CODEBUILD_MINUTE_MS) || 60_000;

export class Run {
  private logs: BuildLog;
  private priv: BuildPrivate;
  private buildspec: Buildspec | undefined;
  private exported = new Map<string, string>();
  private failed = false;
  private reachedBuild = false;

  constructor(
    private runner: BuildRunner,
    private env: ServiceEnv,
    private store: CodebuildStore,
    private scope: Scope,
    private doc: BuildDoc,
  ) {
    this.priv = doc.opsbox;
    const cw = doc.logs?.cloudWatchLogs;
    this.logs = new BuildLog(env.services, env.clock, scope, doc.logs.groupName, doc.logs.streamName, cw?.status !== 'DISABLED');
  }

  private now() {
    return this.env.clock.now();
  }

  // phases

  private openPhase(type: string) {
    const now = this.now();
    this.doc.phases.push({ phaseType: type, startTime: now });
    this.doc.currentPhase = type;
    this.save();
  }

  private closePhase(status: PhaseStatus, context: PhaseContext = { statusCode: '', message: '' }) {
    const p = this.doc.phases[this.doc.phases.length - 1];
    if (!p || p.phaseStatus) return;
    const now = this.now();
    p.phaseStatus = status;
    p.endTime = now;
    p.durationInSeconds = Math.round((now - p.startTime) / 1000);
    p.contexts = [context];
    if (status !== 'SUCCEEDED') this.failed = true;
    this.save();
    publishPhaseChange(this.env.bus, this.scope, this.doc, { ...p, phaseStatus: status, endTime: now }, context);
  }

  private save() {
    this.store.saveBuild(this.doc);
  }

  // the whole build

  async execute(active: Active) {
    const signal = active.abort.signal;
    const project = this.doc.projectName;
    publishStateChange(this.env.bus, this.scope, this.doc);
    this.openPhase('QUEUED');
    const timeOut = () => {
      active.reason ??= 'TIMED_OUT';
      active.abort.abort();
    };
    const queuedTimer = this.env.clock.setTimeout(timeOut, this.doc.queuedTimeoutInMinutes * MINUTE_MS);
    try {
      await this.runner.acquire(this.scope, project, this.priv.concurrentBuildLimit, signal);
    } catch {
      queuedTimer.cancel();
      const status = active.reason ?? 'STOPPED';
      this.closePhase(
        status,
        status === 'TIMED_OUT' ? { statusCode: 'BUILD_TIMED_OUT', message: 'Build has timed out in the queue.' } : undefined,
      );
      return this.finish(status);
    }
    queuedTimer.cancel();
    this.closePhase('SUCCEEDED');
    const timer = this.env.clock.setTimeout(timeOut, this.doc.timeoutInMinutes * MINUTE_MS);
    const work = join(this.env.config.dataDir, 'codebuild', 'builds', this.doc.id.slice(this.doc.id.indexOf(':') + 1));
    let status: Status = 'SUCCEEDED';
    try {
      status = await this.phases(work, active);
    } catch (err) {
      log.error('codebuild: build failed inside opsbox', { id: this.doc.id, err: err instanceof Error ? err.stack : String(err) });
      this.closePhase('FAULT', { statusCode: 'FAULT', message: `opsbox failed while running the build: ${String(err)}` });
      status = 'FAULT';
    } finally {
      timer.cancel();
      this.runner.release(this.scope, project);
    }
    this.openPhase('FINALIZING');
    rmSync(work, { recursive: true, force: true });
    this.closePhase('SUCCEEDED');
    await this.finish(status);
  }

  private async phases(work: string, active: Active): Promise<Status> {
    const signal = active.abort.signal;
    const interrupted = (): Status | undefined => (signal.aborted ? (active.reason ?? 'STOPPED') : undefined);
    const stopPhase = (s: Status) =>
      this.closePhase(
        s,
        s === 'TIMED_OUT'
          ? { statusCode: 'BUILD_TIMED_OUT', message: 'Build has timed out. ' }
          : { statusCode: 'BUILD_STOPPED', message: 'Build was stopped by a user.' },
      );

    // PROVISIONING
    this.openPhase('PROVISIONING');
    let backend: ExecutionBackend;
    try {
      const choice = await this.backends().choose(this.doc.environment.image, this.priv.backend);
      backend = choice.backend;
      if (choice.note) this.logs.system(choice.note);
      this.logs.system(await backend.provision(this.doc.environment.image, signal));
    } catch (err) {
      const s = interrupted();
      if (s) return (stopPhase(s), s);
      const message = err instanceof ProvisioningError ? err.message : String(err);
      const statusCode = err instanceof ProvisioningError ? err.contextStatusCode : 'CLIENT_ERROR';
      this.logs.system(`Phase context status code: ${statusCode} Message: ${message}`);
      this.closePhase('CLIENT_ERROR', { statusCode, message });
      return 'FAILED';
    }
    if (interrupted()) return (stopPhase(interrupted()!), interrupted()!);
    this.closePhase('SUCCEEDED');

    // DOWNLOAD_SOURCE
    this.openPhase('DOWNLOAD_SOURCE');
    const containerRoot = `/codebuild/output/src${randomBytes(5).readUInt32BE() % 1_000_000_000}`;
    const hostPaths = backend.name === 'host';
    const srcDir = join(work, 'src');
    const tmp = join(work, 'tmp');
    mkdirSync(tmp, { recursive: true });
    const mounts: { host: string; container: string }[] = [];
    const vars: Record<string, string> = {};
    try {
      const fetched = await this.fetchSources(srcDir, work, tmp, containerRoot, hostPaths, mounts, vars);
      if (fetched.resolvedVersion) this.doc.resolvedSourceVersion = fetched.resolvedVersion;
      this.buildspec = await readBuildspec(this.env, this.scope, this.doc, srcDir, `${containerRoot}/src`);
      this.logs.system(`Processing environment variables`);
      const role = await roleCredentials(this.env, this.scope, this.doc, (m) => this.logs.system(m));
      const stored = await storedVariables(this.env, this.scope, this.doc, this.buildspec);
      // as CodeBuild does, values read from Parameter Store and Secrets Manager never appear in the log
      this.logs.mask(Object.values(stored));
      Object.assign(
        vars,
        buildVariables(this.env, this.scope, this.doc, this.buildspec, {
          ...fetched,
          srcDir: hostPaths ? srcDir : `${containerRoot}/src`,
          secondaryDirs: vars,
          role,
          stored,
        }),
      );
    } catch (err) {
      const s = interrupted();
      if (s) return (stopPhase(s), s);
      const context =
        err instanceof BuildspecError
          ? { statusCode: err.statusCode, message: err.message }
          : err instanceof SourceError || err instanceof PhaseFailure
            ? { statusCode: err.statusCode, message: err.message }
            : { statusCode: 'CLIENT_ERROR', message: String(err) };
      const phaseStatus = err instanceof SourceError ? 'CLIENT_ERROR' : 'FAILED';
      this.logs.system(`Phase complete: DOWNLOAD_SOURCE State: ${phaseStatus}`);
      this.logs.system(`Phase context status code: ${context.statusCode} Message: ${context.message}`);
      this.closePhase(phaseStatus, context);
      return 'FAILED';
    }
    this.logs.system('Phase complete: DOWNLOAD_SOURCE State: SUCCEEDED');
    this.logs.system('Phase context status code:  Message: ');
    this.closePhase('SUCCEEDED');

    // INSTALL … POST_BUILD
    const nonce = randomBytes(9)
      .toString('base64url')
      .replace(/[^A-Za-z0-9]/g, 'x');
    const scripts = join(work, 'opsbox');
    mkdirSync(scripts, { recursive: true });
    writeFileSync(join(scripts, 'driver.sh'), generateDriver(this.buildspec, { nonce }));
    const scriptPath = hostPaths ? join(scripts, 'driver.sh') : '/codebuild/opsbox/driver.sh';
    if (!hostPaths) mounts.push({ host: scripts, container: '/codebuild/opsbox' });
    const cachePaths = localCacheEnabled(this.doc.cache) ? (this.buildspec.cache?.paths ?? []) : [];
    const project = this.doc.projectName;
    if (cachePaths.length) await restoreCache(this.env.config.dataDir, this.scope, project, cachePaths, srcDir, (m) => this.logs.system(m));
    const shell = this.buildspec.env?.shell ?? 'sh';
    let sawDone = false;
    const onLine = (stream: 'stdout' | 'stderr', line: string) => {
      const m = stream === 'stdout' ? parseMarker(line, nonce) : undefined;
      if (!m) return this.logs.output(line);
      if (m.before) this.logs.output(m.before);
      if (m.kind === 'done') sawDone = true;
      this.onMarker(m);
    };
    const result = await backend.run({
      buildId: this.doc.id,
      image: this.doc.environment.image,
      workDir: srcDir,
      containerWorkDir: `${containerRoot}/src`,
      mounts,
      command: [shell === '/bin/sh' ? 'sh' : shell, scriptPath],
      env: vars,
      privileged: !!this.doc.environment.privilegedMode,
      onOutput: onLine,
      backlog: () => this.logs.backlog(),
      signal,
    });
    const s = interrupted();
    if (s) {
      this.logs.system(s === 'TIMED_OUT' ? 'Build timed out' : 'Build was stopped');
      if (this.doc.phases[this.doc.phases.length - 1].phaseStatus) this.openPhase(this.doc.currentPhase);
      stopPhase(s);
      return s;
    }
    if (!sawDone) {
      // the shell died (a command ran `exit`, or the engine lost the container)
      const ctx = {
        statusCode: 'COMMAND_EXECUTION_ERROR',
        message: `Error while executing command: the build's shell exited with ${result.exitCode ?? result.signal}`,
      };
      if (!this.doc.phases[this.doc.phases.length - 1].phaseStatus) this.closePhase('FAILED', ctx);
      else this.failed = true;
    }

    if (cachePaths.length && !this.failed)
      await saveCache(this.env.config.dataDir, this.scope, project, cachePaths, srcDir, (m) => this.logs.system(m));

    // UPLOAD_ARTIFACTS: attempted whenever the build got as far as BUILD, as on AWS
    if (this.reachedBuild) {
      this.openPhase('UPLOAD_ARTIFACTS');
      this.logs.system('Entering phase UPLOAD_ARTIFACTS');
      let context: PhaseContext | undefined;
      try {
        const reportArns = await recordReports(this.env, this.store, this.scope, this.doc, this.buildspec, srcDir);
        if (reportArns.length) this.doc.reportArns = reportArns;
        await uploadArtifacts(this.env, this.scope, this.doc, this.buildspec, srcDir, this.priv, vars, (m) => this.logs.system(m));
      } catch (err) {
        context = { statusCode: (err as { statusCode?: string }).statusCode ?? 'CLIENT_ERROR', message: (err as Error).message };
      }
      this.logs.system(`Phase complete: UPLOAD_ARTIFACTS State: ${context ? 'FAILED' : 'SUCCEEDED'}`);
      this.logs.system(`Phase context status code: ${context?.statusCode ?? ''} Message: ${context?.message ?? ''}`);
      this.closePhase(context ? 'FAILED' : 'SUCCEEDED', context);
    }
    return this.failed ? 'FAILED' : 'SUCCEEDED';
  }

  private backends(): Backends {
    return this.runner.executionBackends;
  }

  private onMarker(m: Marker) {
    switch (m.kind) {
      case 'phase-start':
        if (m.phase === 'BUILD') this.reachedBuild = true;
        this.openPhase(m.phase);
        this.logs.system(`Entering phase ${m.phase}`);
        const runtimes = m.phase === 'INSTALL' ? this.buildspec!.phases.install?.runtimeVersions : undefined;
        if (runtimes)
          this.logs.system(
            `Processing runtime-versions ${Object.entries(runtimes)
              .map(([k, v]) => `${k}: ${v}`)
              .join(', ')}: the build's image provides its runtimes (opsbox does not switch them)`,
          );
        break;
      case 'command':
        this.logs.system(`Running command ${commandOf(this.buildspec!, m.phase, m.index, m.finally) ?? ''}`);
        break;
      case 'command-failed': {
        const cmd = commandOf(this.buildspec!, m.phase, m.index, m.finally) ?? '';
        this.logs.system(`Command did not exit successfully ${cmd} exit status ${m.exitCode}`);
        const p = this.doc.phases[this.doc.phases.length - 1];
        p.pendingContext ??= commandFailureContext(cmd, m.exitCode);
        break;
      }
      case 'phase-retry': {
        // on-failure RETRY: the phase keeps its one record; the failed attempt is in the log
        const p = this.doc.phases[this.doc.phases.length - 1];
        const context: PhaseContext = p.pendingContext ?? { statusCode: '', message: '' };
        delete p.pendingContext;
        const count = this.buildspec!.phases[phaseKey(m.phase)]?.retry?.count ?? m.retry;
        this.logs.system(`Phase context status code: ${context.statusCode} Message: ${context.message}`);
        this.logs.system(`Phase ${m.phase} failed: on-failure retry ${m.retry} of ${count}`);
        break;
      }
      case 'phase-end': {
        const p = this.doc.phases[this.doc.phases.length - 1];
        const context: PhaseContext = p.pendingContext ?? { statusCode: '', message: '' };
        delete p.pendingContext;
        this.logs.system(`Phase complete: ${m.phase} State: ${m.status}`);
        this.logs.system(`Phase context status code: ${context.statusCode} Message: ${context.message}`);
        this.closePhase(m.status, context);
        break;
      }
      case 'exported':
        this.exported.set(m.name, m.value);
        break;
      case 'done':
        if (m.failed) this.failed = true;
        break;
    }
  }

  private async fetchSources(
    srcDir: string,
    work: string,
    tmp: string,
    containerRoot: string,
    hostPaths: boolean,
    mounts: { host: string; container: string }[],
    vars: Record<string, string>,
  ) {
    const pipeline = this.priv.pipeline;
    const primary: SourceToFetch = { ...this.doc.source };
    const secondaries: SourceToFetch[] = (this.doc.secondarySources ?? []).map((s) => ({ ...s }));
    if (pipeline) {
      const inputs = [...pipeline.inputArtifacts];
      const first = inputs.find((a) => a.name === pipeline.primarySource) ?? inputs[0];
      primary.artifact = first;
      if (first?.revision) this.doc.resolvedSourceVersion = first.revision;
      for (const a of inputs) if (a !== first) secondaries.push({ type: 'CODEPIPELINE', sourceIdentifier: a.name, artifact: a });
    }
    this.logs.system(`Waiting for DOWNLOAD_SOURCE`);
    const fetched = await fetchSource(this.env, this.scope, primary, this.doc.sourceVersion, srcDir, tmp, 'primary source');
    const versions = new Map<string, string>((this.doc.secondarySourceVersions ?? []).map((v) => [v.sourceIdentifier, v.sourceVersion]));
    for (const s of secondaries) {
      const id = s.sourceIdentifier!;
      const dir = join(work, `src_${id}`);
      await fetchSource(this.env, this.scope, s, versions.get(id), dir, tmp, `secondary source ${id}`);
      const inContainer = `${containerRoot}/src_${id}`;
      if (!hostPaths) mounts.push({ host: dir, container: inContainer });
      vars[`CODEBUILD_SRC_DIR_${id}`] = hostPaths ? dir : inContainer;
    }
    return fetched;
  }

  async finish(status: Status) {
    const now = this.now();
    this.doc.buildStatus = status;
    this.doc.endTime = now;
    this.doc.buildComplete = true;
    this.doc.phases.push({ phaseType: 'COMPLETED', startTime: now });
    this.doc.currentPhase = 'COMPLETED';
    if (this.exported.size || this.buildspec?.env?.exportedVariables?.length)
      this.doc.exportedEnvironmentVariables = [...this.exported].map(([name, value]) => ({ name, value }));
    this.save();
    await this.logs.flush();
    publishStateChange(this.env.bus, this.scope, this.doc);
    const seconds = (now - this.doc.startTime) / 1000;
    for (const dims of [[{ Name: 'ProjectName', Value: this.doc.projectName }], []]) {
      const d = dims.length ? dims : undefined;
      this.env.metrics.put(this.scope.account, this.scope.region, [
        { namespace: 'AWS/CodeBuild', metricName: 'Builds', dimensions: d, value: 1, unit: 'Count', timestamp: now },
        {
          namespace: 'AWS/CodeBuild',
          metricName: status === 'SUCCEEDED' ? 'SucceededBuilds' : 'FailedBuilds',
          dimensions: d,
          value: 1,
          unit: 'Count',
          timestamp: now,
        },
        { namespace: 'AWS/CodeBuild', metricName: 'Duration', dimensions: d, value: seconds, unit: 'Seconds', timestamp: now },
      ]);
    }
  }

  /** For a build a previous opsbox process left running. */
  endInterrupted() {
    const last = this.doc.phases[this.doc.phases.length - 1];
    if (last && !last.phaseStatus) this.closePhase('FAULT', { statusCode: 'FAULT', message: 'opsbox stopped while the build was running' });
    rmSync(join(this.env.config.dataDir, 'codebuild', 'builds', this.doc.id.slice(this.doc.id.indexOf(':') + 1)), {
      recursive: true,
      force: true,
    });
    void this.finish('FAULT');
  }
}
