/**
 * A build's life after StartBuild: QUEUED (a slot under the project's and opsbox's concurrency
 * limits) → PROVISIONING (pick and prepare a backend) → DOWNLOAD_SOURCE (sources, buildspec,
 * variables) → INSTALL … POST_BUILD (one driver script, followed through its marker lines) →
 * UPLOAD_ARTIFACTS → FINALIZING → COMPLETED. Each transition is saved, logged as AWS logs it and
 * published on the bus; StopBuild and the timeout abort the backend, which kills everything.
 * A build that was running when opsbox stopped is ended as FAULT when it starts again.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Scope } from '../../core/arn.js';
import { log } from '../../core/log.js';
import type { ServiceEnv } from '../../gateway/service.js';
import { uploadArtifacts } from './artifacts.js';
import { BuildLog } from './buildLogs.js';
import { BuildspecError, parseBuildspec, type Buildspec } from './buildspec.js';
import { commandFailureContext, commandOf, generateDriver, parseMarker, type Marker } from './driver.js';
import type { Backends } from './backends/select.js';
import { ProvisioningError, type ExecutionBackend } from './backends/types.js';
import { localCacheEnabled, restoreCache, saveCache } from './cache.js';
import { recordReports } from './reportGroups.js';
import { fetchSource, SourceError, type SourceToFetch } from './sources.js';
import type { BuildDoc, CodebuildStore } from './store.js';

type Status = 'SUCCEEDED' | 'FAILED' | 'FAULT' | 'TIMED_OUT' | 'STOPPED';
/** A phase can also end CLIENT_ERROR (an image or source it cannot get), as AWS reports it. */
type PhaseStatus = Status | 'CLIENT_ERROR';
interface PhaseContext {
  statusCode: string;
  message: string;
}

/** What only opsbox keeps about a build (never returned): the StartBuild input, pipeline artifacts. */
export interface BuildPrivate {
  input: Record<string, any>;
  /** The project's concurrentBuildLimit when the build started. */
  concurrentBuildLimit?: number;
  /** The effective artifact settings (project's, with StartBuild's overrides). */
  artifacts?: any;
  secondaryArtifacts?: any[];
  /** 'host' or 'container' when the project asks for one (tag opsbox:backend). */
  backend?: 'host' | 'container';
  pipeline?: { inputArtifacts: { name: string; bucket: string; key: string; revision?: string }[]; outputArtifacts: { name: string; bucket: string; key: string }[]; primarySource?: string };
}

const MINUTE_MS = Number(process.env.OPSBOX_CODEBUILD_MINUTE_MS) || 60_000;
const MAX_RUNNING = Number(process.env.OPSBOX_CODEBUILD_CONCURRENCY) || 4;

class Failure extends Error {
  constructor(readonly status: Status, readonly context: PhaseContext) {
    super(context.message);
  }
}

interface Active {
  abort: AbortController;
  /** Why the backend was aborted. */
  reason?: 'STOPPED' | 'TIMED_OUT';
  done: Promise<void>;
}

export class BuildRunner {
  private active = new Map<string, Active>();
  private waiting: { scope: Scope; project: string; go: () => void }[] = [];
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
    active.done = run.execute(active).catch((err) => log.error('codebuild: build crashed', { id: doc.id, err: err instanceof Error ? err.stack : String(err) }));
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

  isActive(id: string) {
    return this.active.has(id);
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
        scope,
        project,
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
      this.waiting.push(entry as any);
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
    for (const w of [...this.waiting]) if ((w.go as () => boolean)()) this.waiting = this.waiting.filter((x) => x !== w);
  }

  get backendsFor() {
    return this.backends;
  }

  async close() {
    for (const a of this.active.values()) a.abort.abort();
    await Promise.race([Promise.all([...this.active.values()].map((a) => a.done)), new Promise((r) => setTimeout(r, 3000).unref())]);
  }
}

class Run {
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
    this.priv = doc.opsbox as BuildPrivate;
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
    this.env.bus.publish({
      'detail-type': 'CodeBuild Build Phase Change',
      source: 'aws.codebuild',
      account: this.scope.account,
      region: this.scope.region,
      resources: [this.doc.arn],
      detail: {
        'completed-phase': p.phaseType,
        'completed-phase-status': status,
        'completed-phase-duration-seconds': (now - p.startTime) / 1000,
        'completed-phase-start': new Date(p.startTime).toISOString(),
        'completed-phase-end': new Date(now).toISOString(),
        'completed-phase-context': `[${context.statusCode ? `${context.statusCode}: ${context.message}` : ': '}]`,
        'project-name': this.doc.projectName,
        'build-id': this.doc.arn,
        'additional-information': this.additional(),
        version: '1',
      },
    });
  }

  private phase(type: string, status: Status, context?: PhaseContext) {
    this.openPhase(type);
    this.closePhase(status, context);
  }

  private save() {
    this.store.saveBuild(this.doc);
  }

  private additional() {
    return {
      'build-number': this.doc.buildNumber,
      initiator: this.doc.initiator,
      'build-start-time': new Date(this.doc.startTime).toISOString(),
      source: this.doc.source,
      'source-version': this.doc.sourceVersion,
      artifact: { location: this.doc.artifacts?.location ?? '' },
      environment: this.doc.environment,
      logs: { 'group-name': this.doc.logs.groupName, 'stream-name': this.doc.logs.streamName, 'deep-link': this.doc.logs.deepLink },
      phases: this.doc.phases,
      'queued-timeout-in-minutes': this.doc.queuedTimeoutInMinutes,
      'timeout-in-minutes': this.doc.timeoutInMinutes,
      'build-complete': !!this.doc.buildComplete,
    };
  }

  private stateChange() {
    this.env.bus.publish({
      'detail-type': 'CodeBuild Build State Change',
      source: 'aws.codebuild',
      account: this.scope.account,
      region: this.scope.region,
      resources: [this.doc.arn],
      detail: {
        'build-status': this.doc.buildStatus,
        'project-name': this.doc.projectName,
        'build-id': this.doc.arn,
        'current-phase': this.doc.currentPhase,
        'current-phase-context': '[]',
        'additional-information': this.additional(),
        version: '1',
      },
    });
  }

  // the whole build

  async execute(active: Active) {
    const signal = active.abort.signal;
    const project = this.doc.projectName;
    this.stateChange();
    this.openPhase('QUEUED');
    const queuedTimer = setTimeout(() => {
      active.reason ??= 'TIMED_OUT';
      active.abort.abort();
    }, this.doc.queuedTimeoutInMinutes * MINUTE_MS);
    queuedTimer.unref();
    try {
      await this.runner.acquire(this.scope, project, this.priv.concurrentBuildLimit, signal);
    } catch {
      clearTimeout(queuedTimer);
      const status = active.reason ?? 'STOPPED';
      this.closePhase(status, status === 'TIMED_OUT' ? { statusCode: 'BUILD_TIMED_OUT', message: 'Build has timed out in the queue.' } : undefined);
      return this.finish(status);
    }
    clearTimeout(queuedTimer);
    this.closePhase('SUCCEEDED');
    const timer = setTimeout(() => {
      active.reason ??= 'TIMED_OUT';
      active.abort.abort();
    }, this.doc.timeoutInMinutes * MINUTE_MS);
    timer.unref();
    const work = join(this.env.config.dataDir, 'codebuild', 'builds', this.doc.id.slice(this.doc.id.indexOf(':') + 1));
    let status: Status = 'SUCCEEDED';
    try {
      status = await this.phases(work, active);
    } catch (err) {
      log.error('codebuild: build failed inside opsbox', { id: this.doc.id, err: err instanceof Error ? err.stack : String(err) });
      this.closePhase('FAULT', { statusCode: 'FAULT', message: `opsbox failed while running the build: ${String(err)}` });
      status = 'FAULT';
    } finally {
      clearTimeout(timer);
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
      this.closePhase(s, s === 'TIMED_OUT' ? { statusCode: 'BUILD_TIMED_OUT', message: 'Build has timed out. ' } : { statusCode: 'BUILD_STOPPED', message: 'Build was stopped by a user.' });

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
      if (s) return stopPhase(s), s;
      const message = err instanceof ProvisioningError ? err.message : String(err);
      const statusCode = err instanceof ProvisioningError ? err.contextStatusCode : 'CLIENT_ERROR';
      this.logs.system(`Phase context status code: ${statusCode} Message: ${message}`);
      this.closePhase('CLIENT_ERROR', { statusCode, message });
      return 'FAILED';
    }
    if (interrupted()) return stopPhase(interrupted()!), interrupted()!;
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
      this.buildspec = await this.readBuildspec(srcDir);
      this.logs.system(`Processing environment variables`);
      const role = await this.roleCredentials();
      Object.assign(vars, this.variables(vars, fetched, hostPaths ? srcDir : `${containerRoot}/src`, role));
    } catch (err) {
      const s = interrupted();
      if (s) return stopPhase(s), s;
      const context =
        err instanceof BuildspecError ? { statusCode: err.statusCode, message: err.message }
        : err instanceof SourceError || err instanceof Failure ? (err instanceof Failure ? err.context : { statusCode: err.statusCode, message: err.message })
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
    const nonce = randomBytes(9).toString('base64url').replace(/[^A-Za-z0-9]/g, 'x');
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
      const ctx = { statusCode: 'COMMAND_EXECUTION_ERROR', message: `Error while executing command: the build's shell exited with ${result.exitCode ?? result.signal}` };
      if (!this.doc.phases[this.doc.phases.length - 1].phaseStatus) this.closePhase('FAILED', ctx);
      else this.failed = true;
    }

    if (cachePaths.length && !this.failed) await saveCache(this.env.config.dataDir, this.scope, project, cachePaths, srcDir, (m) => this.logs.system(m));

    // UPLOAD_ARTIFACTS: attempted whenever the build got as far as BUILD, as on AWS
    if (this.reachedBuild) {
      this.openPhase('UPLOAD_ARTIFACTS');
      this.logs.system('Entering phase UPLOAD_ARTIFACTS');
      let context: PhaseContext | undefined;
      try {
        const reportArns = await recordReports(this.env, this.store, this.scope, this.doc, this.buildspec, srcDir);
        if (reportArns.length) this.doc.reportArns = reportArns;
        await uploadArtifacts(this.env, this.scope, this.doc, this.buildspec, srcDir, this.priv, (m) => this.logs.system(m));
      } catch (err) {
        context = { statusCode: (err as any).statusCode ?? 'CLIENT_ERROR', message: (err as Error).message };
      }
      this.logs.system(`Phase complete: UPLOAD_ARTIFACTS State: ${context ? 'FAILED' : 'SUCCEEDED'}`);
      this.logs.system(`Phase context status code: ${context?.statusCode ?? ''} Message: ${context?.message ?? ''}`);
      this.closePhase(context ? 'FAILED' : 'SUCCEEDED', context);
    }
    return this.failed ? 'FAILED' : 'SUCCEEDED';
  }

  private backends(): Backends {
    return this.runner.backendsFor;
  }

  private onMarker(m: Marker) {
    switch (m.kind) {
      case 'phase-start':
        if (m.phase === 'BUILD') this.reachedBuild = true;
        this.openPhase(m.phase);
        this.logs.system(`Entering phase ${m.phase}`);
        const runtimes = m.phase === 'INSTALL' ? this.buildspec!.phases.install?.runtimeVersions : undefined;
        if (runtimes)
          this.logs.system(`Processing runtime-versions ${Object.entries(runtimes).map(([k, v]) => `${k}: ${v}`).join(', ')}: the build's image provides its runtimes (opsbox does not switch them)`);
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

  private async fetchSources(srcDir: string, work: string, tmp: string, containerRoot: string, hostPaths: boolean, mounts: { host: string; container: string }[], vars: Record<string, string>) {
    const pipeline = this.priv.pipeline;
    const primary: SourceToFetch = { ...this.doc.source };
    const secondaries: SourceToFetch[] = (this.doc.secondarySources ?? []).map((s: any) => ({ ...s }));
    if (pipeline) {
      const inputs = [...pipeline.inputArtifacts];
      const first = inputs.find((a) => a.name === pipeline.primarySource) ?? inputs[0];
      primary.artifact = first;
      if (first?.revision) this.doc.resolvedSourceVersion = first.revision;
      for (const a of inputs) if (a !== first) secondaries.push({ type: 'CODEPIPELINE', sourceIdentifier: a.name, artifact: a });
    }
    this.logs.system(`Waiting for DOWNLOAD_SOURCE`);
    const fetched = await fetchSource(this.env, this.scope, primary, this.doc.sourceVersion, srcDir, tmp, 'primary source');
    const versions = new Map<string, string>((this.doc.secondarySourceVersions ?? []).map((v: any) => [v.sourceIdentifier, v.sourceVersion]));
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

  private async readBuildspec(srcDir: string): Promise<Buildspec> {
    const { readFile } = await import('node:fs/promises');
    const configured: string | undefined = this.doc.source.buildspec;
    // a buildspec setting with a line break is the buildspec itself; otherwise it is a path in the source
    if (configured && /\n/.test(configured.trim())) return parseBuildspec(configured);
    if (configured?.startsWith('arn:aws:s3:::')) {
      const m = /^arn:aws:s3:::([^/]+)\/(.+)$/.exec(configured);
      const obj = m && (await this.env.objects.read(this.scope.account, m[1], m[2]));
      if (!obj) throw new BuildspecError(`unable to read buildspec ${configured}`);
      const chunks: Buffer[] = [];
      for await (const c of obj.body) chunks.push(c as Buffer);
      return parseBuildspec(Buffer.concat(chunks).toString('utf8'));
    }
    const rel = configured || 'buildspec.yml';
    const path = join(srcDir, rel);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch {
      throw new BuildspecError(`stat ${srcDir}/${rel}: no such file or directory`);
    }
    return parseBuildspec(text);
  }

  /** Temporary credentials of the build's service role, as CodeBuild gives every build (session AWSCodeBuild-<uuid>). */
  private async roleCredentials(): Promise<{ AccessKeyId: string; SecretAccessKey: string; SessionToken: string } | undefined> {
    if (!this.env.services.has('sts') || !this.doc.serviceRole) return undefined;
    try {
      const seconds = Math.min(43_200, Math.max(900, this.doc.timeoutInMinutes * 60 + 600));
      const r = await this.env.services.call(
        'sts',
        'AssumeRole',
        { RoleArn: this.doc.serviceRole, RoleSessionName: `AWSCodeBuild-${this.doc.id.slice(this.doc.id.indexOf(':') + 1)}`, DurationSeconds: seconds },
        this.scope,
      );
      return r.Credentials;
    } catch (err) {
      this.logs.system(`Could not assume the service role ${this.doc.serviceRole} (${(err as Error).message}); the build gets the account's credentials`);
      return undefined;
    }
  }

  /** The build's environment: buildspec variables < project variables < StartBuild overrides, then CodeBuild's own. */
  private variables(
    secondaryDirs: Record<string, string>,
    fetched: { resolvedVersion?: string; repoUrl?: string },
    srcDir: string,
    role?: { AccessKeyId: string; SecretAccessKey: string; SessionToken: string },
  ): Record<string, string> {
    const spec = this.buildspec!;
    const vars: Record<string, string> = { ...(spec.env?.variables ?? {}) };
    const unsupported = (kind: string, name: string, ref: string) =>
      new Failure('FAILED', {
        statusCode: 'Decrypted Variables Error',
        message: `${kind} is not available in opsbox yet: cannot resolve ${ref} for environment variable ${name}. Use a PLAINTEXT variable for now`,
      });
    for (const [name, ref] of Object.entries(spec.env?.parameterStore ?? {})) throw unsupported('Systems Manager Parameter Store', name, ref);
    for (const [name, ref] of Object.entries(spec.env?.secretsManager ?? {})) throw unsupported('Secrets Manager', name, ref);
    for (const v of this.doc.environment.environmentVariables ?? []) {
      if (v.type === 'PARAMETER_STORE') throw unsupported('Systems Manager Parameter Store', v.name, v.value);
      if (v.type === 'SECRETS_MANAGER') throw unsupported('Secrets Manager', v.name, v.value);
      vars[v.name] = v.value;
    }
    const scope = this.scope;
    return {
      ...vars,
      ...secondaryDirs,
      AWS_REGION: scope.region,
      AWS_DEFAULT_REGION: scope.region,
      // builds that call AWS reach this opsbox, as builds on AWS reach AWS (containers share the host's network)
      AWS_ENDPOINT_URL: `http://127.0.0.1:${this.env.config.port}`,
      ...(vars.AWS_ACCESS_KEY_ID
        ? {}
        : role
          ? { AWS_ACCESS_KEY_ID: role.AccessKeyId, AWS_SECRET_ACCESS_KEY: role.SecretAccessKey, AWS_SESSION_TOKEN: role.SessionToken }
          : { AWS_ACCESS_KEY_ID: scope.account, AWS_SECRET_ACCESS_KEY: 'opsbox' }),
      CODEBUILD_BUILD_ARN: this.doc.arn,
      CODEBUILD_BUILD_ID: this.doc.id,
      CODEBUILD_BUILD_IMAGE: this.doc.environment.image,
      CODEBUILD_BUILD_NUMBER: String(this.doc.buildNumber),
      CODEBUILD_BUILD_SUCCEEDING: '1',
      CODEBUILD_INITIATOR: this.doc.initiator,
      CODEBUILD_KMS_KEY_ID: this.doc.encryptionKey,
      CODEBUILD_LOG_PATH: this.doc.logs.streamName,
      CODEBUILD_PROJECT_ARN: this.doc.arn.replace(/:build\/([^:]+):.*$/, ':project/$1'),
      CODEBUILD_RESOLVED_SOURCE_VERSION: fetched.resolvedVersion ?? this.doc.resolvedSourceVersion ?? '',
      CODEBUILD_SOURCE_REPO_URL: fetched.repoUrl ?? this.doc.source.location ?? '',
      CODEBUILD_SOURCE_VERSION: this.doc.sourceVersion ?? '',
      CODEBUILD_SRC_DIR: srcDir,
      CODEBUILD_START_TIME: String(this.doc.startTime),
      CODEBUILD_CI: 'true',
    };
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
    this.stateChange();
    const seconds = (now - this.doc.startTime) / 1000;
    for (const dims of [[{ Name: 'ProjectName', Value: this.doc.projectName }], []]) {
      const d = dims.length ? dims : undefined;
      this.env.metrics.put(this.scope.account, this.scope.region, [
        { namespace: 'AWS/CodeBuild', metricName: 'Builds', dimensions: d, value: 1, unit: 'Count', timestamp: now },
        { namespace: 'AWS/CodeBuild', metricName: status === 'SUCCEEDED' ? 'SucceededBuilds' : 'FailedBuilds', dimensions: d, value: 1, unit: 'Count', timestamp: now },
        { namespace: 'AWS/CodeBuild', metricName: 'Duration', dimensions: d, value: seconds, unit: 'Seconds', timestamp: now },
      ]);
    }
  }

  /** For a build a previous opsbox process left running. */
  endInterrupted() {
    const last = this.doc.phases[this.doc.phases.length - 1];
    if (last && !last.phaseStatus) this.closePhase('FAULT', { statusCode: 'FAULT', message: 'opsbox stopped while the build was running' });
    rmSync(join(this.env.config.dataDir, 'codebuild', 'builds', this.doc.id.slice(this.doc.id.indexOf(':') + 1)), { recursive: true, force: true });
    void this.finish('FAULT');
  }
}
