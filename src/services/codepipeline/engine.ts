/**
 * The execution engine. An execution walks the stages in order: it waits at each stage's gate
 * (inbound transition enabled, stage not occupied by another execution unless PARALLEL — see
 * gates.ts for SUPERSEDED/QUEUED), runs the stage's actions by runOrder (same runOrder in parallel),
 * and stops at the first failed group. Every step is written to SQLite before it is announced on
 * the bus, so resumeAll() after a restart picks executions up where they were: actions in progress
 * resume through their provider (builds re-polled, approvals re-awaited) or run again.
 */
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { arn } from '../../core/arn.js';
import { AwsError } from '../../core/errors.js';
import { randomString } from '../../core/ids.js';
import { log } from '../../core/log.js';
import type { ServiceEnv } from '../../gateway/service.js';
import { ExecutionEvents } from './events.js';
import { Gates } from './gates.js';
import {
  actionProvider,
  failed,
  type ActionContext,
  type ActionDeclaration,
  type ActionResult,
  type ArtifactLocation,
  type SourceRevision,
} from './providers/registry.js';
import { TERMINAL, type CodepipelineStore, type ExecutionRow, type Scope } from './store.js';
import { artifactBucket, type PipelineDoc, type StageDeclaration } from './validate.js';
import { resolveConfiguration, UnresolvedVariable, type Lookup } from './variables.js';

export interface Trigger {
  triggerType: string;
  triggerDetail?: string;
}

export interface ActionState {
  status: string;
  id: string;
}

export interface ExecState {
  stageIndex: number;
  phase: 'waiting' | 'running';
  stages: Record<string, { status: string; actions: Record<string, ActionState> }>;
  namespaces: Record<string, Record<string, string>>;
  variables: Record<string, string>;
  artifacts: Record<string, { bucket: string; key: string }>;
  revisions: (SourceRevision & { actionName: string; name: string })[];
  overrides: Record<string, { revisionType: string; revisionValue: string }>;
  stop?: { abandon: boolean; reason?: string };
  trigger: Trigger;
}

export interface ActionRecord {
  input: {
    actionTypeId: ActionDeclaration['actionTypeId'];
    configuration: Record<string, string>;
    resolvedConfiguration: Record<string, string>;
    roleArn?: string;
    region: string;
    inputArtifacts: ArtifactLocation[];
    namespace?: string;
  };
  outputs: ArtifactLocation[];
  saved: Record<string, unknown>;
  result?: ActionResult;
  updatedBy?: string;
}

export interface Live {
  row: ExecutionRow;
  state: ExecState;
  doc: PipelineDoc;
  aborts: Set<AbortController>;
  deleted?: boolean;
}

const ARTIFACT_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export class Engine {
  readonly live = new Map<string, Live>();
  /** Who answered an approval, by action execution id, until the action records it. */
  readonly approvedBy = new Map<string, string>();
  readonly gates: Gates;
  private events: ExecutionEvents;

  constructor(
    readonly env: ServiceEnv,
    readonly store: CodepipelineStore,
  ) {
    this.gates = new Gates(store);
    this.events = new ExecutionEvents(env, this.pipelineArn);
  }

  pipelineArn = (s: Scope, name: string) => arn('codepipeline', s, name);

  /** Starts an execution of the pipeline's current version; returns its id. */
  start(
    s: Scope,
    name: string,
    trigger: Trigger,
    opts: { variables?: { name: string; value: string }[]; overrides?: ExecState['overrides'] } = {},
  ): string {
    const row = this.store.requirePipeline(s, name);
    const doc = JSON.parse(row.doc) as PipelineDoc;
    const variables: Record<string, string> = {};
    const declared = new Map((doc.variables ?? []).map((v) => [v.name, v]));
    for (const v of opts.variables ?? []) {
      if (!declared.has(v.name))
        throw new AwsError('ValidationException', `Variable '${v.name}' is not declared in the pipeline '${name}'`);
      variables[v.name] = v.value;
    }
    for (const [n, v] of declared) {
      if (variables[n] !== undefined) continue;
      if (v.defaultValue === undefined && trigger.triggerType === 'StartPipelineExecution')
        throw new AwsError('ValidationException', `Variable '${n}' has no default value; a value must be provided`);
      variables[n] = v.defaultValue ?? '';
    }
    const now = this.env.clock.now();
    const state: ExecState = {
      stageIndex: 0,
      phase: 'waiting',
      stages: {},
      namespaces: {},
      variables,
      artifacts: {},
      revisions: [],
      overrides: opts.overrides ?? {},
      trigger,
    };
    const exec: Omit<ExecutionRow, 'seq'> = {
      id: randomUUID(),
      account: s.account,
      region: s.region,
      pipeline: name,
      version: row.version,
      status: 'InProgress',
      summary: null,
      trigger: JSON.stringify(trigger),
      mode: doc.executionMode,
      started: now,
      updated: now,
      state: JSON.stringify(state),
    };
    this.store.insertExecution(exec);
    const live: Live = { row: { ...exec, seq: 0 }, state, doc, aborts: new Set() };
    this.live.set(exec.id, live);
    this.events.pipeline(live, 'STARTED');
    void this.drive(live);
    return exec.id;
  }

  /** Picks up every execution that was in progress when opsbox stopped. */
  resumeAll() {
    const lives: Live[] = [];
    for (const row of this.store.running()) {
      const docJson = this.store.versionDoc(row, row.pipeline, row.version);
      if (!docJson) continue;
      const live: Live = { row, state: JSON.parse(row.state), doc: JSON.parse(docJson), aborts: new Set() };
      this.live.set(row.id, live);
      if (live.state.phase === 'running') this.gates.occupy(live, live.state.stageIndex);
      lives.push(live);
    }
    for (const live of lives) {
      if (live.row.status === 'Stopping' && live.state.stop?.abandon) void this.finish(live, 'Stopped', live.state.stop.reason);
      else void this.drive(live);
    }
    if (lives.length) log.info('codepipeline: resumed executions', { count: lives.length });
  }

  private async drive(live: Live) {
    try {
      const stages = live.doc.stages;
      while (live.state.stageIndex < stages.length) {
        const i = live.state.stageIndex;
        if (live.state.phase === 'waiting') {
          const r = live.state.stop ? 'stopped' : await this.gates.enter(live, i);
          if (live.deleted) return;
          if (r === 'superseded') return this.finish(live, 'Superseded');
          if (r === 'stopped') return this.finish(live, 'Stopped', live.state.stop?.reason);
          live.state.phase = 'running';
          this.save(live);
        }
        const result = await this.runStage(live, stages[i]);
        this.gates.leave(live, i);
        if (live.deleted) return;
        if (result !== 'Succeeded') return this.finish(live, result, live.state.stop?.reason);
        live.state.stageIndex = i + 1;
        live.state.phase = 'waiting';
        this.save(live);
      }
      this.finish(live, 'Succeeded');
    } catch (err) {
      log.error('codepipeline: execution failed unexpectedly', { id: live.row.id, err: String((err as Error).stack ?? err) });
      if (!live.deleted) this.finish(live, 'Failed', String((err as Error).message ?? err));
    }
  }

  private async runStage(live: Live, stage: StageDeclaration): Promise<'Succeeded' | 'Failed' | 'Stopped'> {
    let st = live.state.stages[stage.name];
    if (!st || st.status !== 'InProgress') {
      const retried = st?.status === 'Retrying';
      st = live.state.stages[stage.name] = { status: 'InProgress', actions: st?.actions ?? {} };
      this.save(live);
      this.events.stage(live, stage.name, retried ? 'RESUMED' : 'STARTED');
    }
    const orders = [...new Set(stage.actions.map((a) => a.runOrder ?? 1))].sort((a, b) => a - b);
    let outcome: 'Succeeded' | 'Failed' | 'Stopped' = 'Succeeded';
    for (const order of orders) {
      if (live.state.stop) {
        outcome = 'Stopped';
        break;
      }
      const group = stage.actions.filter((a) => (a.runOrder ?? 1) === order && st.actions[a.name]?.status !== 'Succeeded');
      const statuses = await Promise.all(group.map((a) => this.runAction(live, stage.name, a)));
      if (live.deleted) return 'Stopped';
      if (statuses.includes('Failed')) {
        outcome = 'Failed';
        break;
      }
      if (statuses.includes('Abandoned') || live.state.stop) {
        outcome = 'Stopped';
        break;
      }
    }
    st.status = outcome;
    this.save(live);
    this.events.stage(live, stage.name, outcome.toUpperCase());
    return outcome;
  }

  private lookup(live: Live): Lookup {
    return (ns, name) => {
      if (ns === 'codepipeline') return name === 'PipelineExecutionId' ? live.row.id : undefined;
      if (ns === 'variables') return live.state.variables[name];
      return live.state.namespaces[ns]?.[name];
    };
  }

  private async runAction(live: Live, stageName: string, decl: ActionDeclaration): Promise<string> {
    const { row, state } = live;
    const st = state.stages[stageName];
    const prev = st.actions[decl.name];
    const resuming = prev?.status === 'InProgress';
    const id = resuming ? prev.id : randomUUID();
    const prevRow = resuming ? this.store.action(id) : undefined;
    const started = prevRow?.started ?? this.env.clock.now();
    let record: ActionRecord;
    let early: ActionResult | undefined;
    if (prevRow) record = JSON.parse(prevRow.data);
    else {
      const bucket = artifactBucket(live.doc, row.region);
      let resolved: Record<string, string> = {};
      try {
        resolved = resolveConfiguration(decl.configuration, this.lookup(live));
      } catch (err) {
        if (!(err instanceof UnresolvedVariable)) throw err;
        early = failed(err.message, 'ConfigurationError');
      }
      const inputs: ArtifactLocation[] = [];
      for (const a of decl.inputArtifacts ?? []) {
        const loc = state.artifacts[a.name];
        if (!loc) early ??= failed(`Input artifact '${a.name}' was not produced in this execution`, 'ConfigurationError');
        else inputs.push({ name: a.name, ...loc, revision: state.revisions.find((r) => r.name === a.name)?.revisionId });
      }
      record = {
        input: {
          actionTypeId: decl.actionTypeId,
          configuration: decl.configuration ?? {},
          resolvedConfiguration: resolved,
          roleArn: decl.roleArn,
          region: decl.region ?? row.region,
          inputArtifacts: inputs,
          namespace: decl.namespace,
        },
        outputs: (decl.outputArtifacts ?? []).map((o) => ({
          name: o.name,
          bucket,
          key: `${row.pipeline.slice(0, 20)}/${o.name.slice(0, 10)}/${randomString(7, ARTIFACT_ALPHABET)}`,
        })),
        saved: {},
      };
    }
    st.actions[decl.name] = { status: 'InProgress', id };
    this.saveAction(live, stageName, decl.name, id, 'InProgress', started, record);
    this.save(live);
    if (!resuming) this.events.action(live, stageName, decl, id, 'STARTED', record);

    const provider = actionProvider(decl.actionTypeId);
    const ac = new AbortController();
    let result: ActionResult;
    if (early) result = early;
    else if (!provider)
      result = failed(`Action type ${decl.actionTypeId.category}/${decl.actionTypeId.provider} is not available`, 'ConfigurationError');
    else {
      live.aborts.add(ac);
      const scope = { account: row.account, region: row.region };
      const ctx: ActionContext = {
        env: this.env,
        account: row.account,
        region: row.region,
        pipelineName: row.pipeline,
        pipelineArn: this.pipelineArn(scope, row.pipeline),
        pipelineVersion: row.version,
        pipelineRoleArn: live.doc.roleArn,
        encryptionKey: live.doc.artifactStore?.encryptionKey,
        executionId: row.id,
        stageName,
        actionExecutionId: id,
        action: decl,
        configuration: record.input.resolvedConfiguration,
        inputArtifacts: record.input.inputArtifacts,
        outputArtifacts: record.outputs,
        sourceOverride: state.overrides[decl.name],
        signal: ac.signal,
        saved: record.saved,
        save: (facts) => {
          Object.assign(record.saved, facts);
          if (!live.deleted) this.saveAction(live, stageName, decl.name, id, 'InProgress', started, record);
        },
        putArtifact: (loc, body) => this.putArtifact(scope, loc, body),
        getArtifact: (loc) => this.getArtifact(scope, loc),
      };
      try {
        result = await (resuming && provider.resume ? provider.resume(ctx) : provider.run(ctx));
      } catch (err) {
        result = failed(String((err as Error).message ?? err), 'JobFailed');
      }
      live.aborts.delete(ac);
    }
    if (live.deleted) return 'Abandoned';
    const status = ac.signal.aborted ? 'Abandoned' : result.status;
    record.result = result;
    if (this.approvedBy.has(id)) {
      record.updatedBy = this.approvedBy.get(id);
      this.approvedBy.delete(id);
    }
    if (status === 'Succeeded') {
      for (const o of record.outputs) state.artifacts[o.name] = { bucket: o.bucket, key: o.key };
      if (decl.namespace) state.namespaces[decl.namespace] = result.outputVariables ?? {};
      if (result.revision) {
        state.revisions = state.revisions.filter((r) => r.actionName !== decl.name);
        state.revisions.push({ ...result.revision, actionName: decl.name, name: record.outputs[0]?.name ?? decl.name });
      }
    }
    st.actions[decl.name] = { status, id };
    this.saveAction(live, stageName, decl.name, id, status, started, record);
    this.save(live);
    this.events.action(live, stageName, decl, id, status.toUpperCase(), record);
    return status;
  }

  private async putArtifact(scope: Scope, loc: ArtifactLocation, body: Readable) {
    await this.env.services.call('s3', 'PutObject', { Bucket: loc.bucket, Key: loc.key, Body: body }, scope);
  }

  private async getArtifact(scope: Scope, loc: ArtifactLocation): Promise<Readable> {
    const res = await this.env.services.call('s3', 'GetObject', { Bucket: loc.bucket, Key: loc.key }, scope);
    return res.Body as Readable;
  }

  finish(live: Live, status: string, summary?: string) {
    if (TERMINAL.has(live.row.status)) return;
    live.row.status = status;
    live.row.summary = summary ?? null;
    this.gates.release(live);
    this.live.delete(live.row.id);
    if (live.deleted) return;
    this.save(live);
    this.events.pipeline(live, status.toUpperCase());
  }

  /** StopPipelineExecution: waits for actions in progress, or abandons them. */
  stop(live: Live, abandon: boolean, reason?: string) {
    live.state.stop = { abandon, reason };
    live.row.status = 'Stopping';
    this.save(live);
    this.events.pipeline(live, 'STOPPING');
    if (this.gates.cancelWait(live)) return;
    if (abandon) for (const ac of live.aborts) ac.abort();
  }

  /** RetryStageExecution: the execution re-enters the stage and runs its failed (or all) actions again. */
  retry(row: ExecutionRow, doc: PipelineDoc, stageIndex: number, mode: string) {
    const state = JSON.parse(row.state) as ExecState;
    const stage = doc.stages[stageIndex];
    const st = state.stages[stage.name];
    if (mode === 'ALL_ACTIONS') st.actions = {};
    else for (const [name, a] of Object.entries(st.actions)) if (a.status !== 'Succeeded') delete st.actions[name];
    st.status = 'Retrying';
    state.stageIndex = stageIndex;
    state.phase = 'waiting';
    delete state.stop;
    const live: Live = { row: { ...row, status: 'InProgress', summary: null }, state, doc, aborts: new Set() };
    this.live.set(row.id, live);
    this.save(live);
    this.events.pipeline(live, 'RESUMED');
    void this.drive(live);
  }

  /** DeletePipeline: every execution of it ends without writing anything more. */
  forget(s: Scope, pipeline: string) {
    for (const live of [...this.live.values()]) {
      if (live.row.account !== s.account || live.row.region !== s.region || live.row.pipeline !== pipeline) continue;
      live.deleted = true;
      for (const ac of live.aborts) ac.abort();
      this.gates.cancelWait(live);
      this.gates.release(live);
      this.live.delete(live.row.id);
    }
    this.gates.forget(s, pipeline);
  }

  private save(live: Live) {
    if (live.deleted) return;
    live.row.updated = this.env.clock.now();
    live.row.state = JSON.stringify(live.state);
    this.store.saveExecution(live.row.id, live.row.status, live.row.summary, live.row.updated, live.row.state);
  }

  private saveAction(live: Live, stage: string, action: string, id: string, status: string, started: number, record: ActionRecord) {
    const r = live.row;
    this.store.upsertAction({
      id,
      execution_id: r.id,
      account: r.account,
      region: r.region,
      pipeline: r.pipeline,
      version: r.version,
      stage,
      action,
      status,
      started,
      updated: this.env.clock.now(),
      data: JSON.stringify(record),
    });
  }
}
