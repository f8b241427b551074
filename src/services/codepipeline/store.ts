/**
 * CodePipeline's tables: pipelines (current declaration, every version kept for executions that
 * still run an older one, tags, disabled transitions), executions (status, trigger, variables,
 * source revisions and the engine's resumable state as JSON) and action executions (one row per
 * run of an action, what ListActionExecutions and GetPipelineState report).
 */
import { AwsError } from '../../core/errors.js';
import type { Store } from '../../core/store.js';
import { moveTagColumnSql } from '../../core/tags.js';

export interface Scope {
  account: string;
  region: string;
}

export interface PipelineRow {
  account: string;
  region: string;
  name: string;
  version: number;
  doc: string;
  created: number;
  updated: number;
  transitions: string;
}

export interface ExecutionRow {
  id: string;
  account: string;
  region: string;
  pipeline: string;
  version: number;
  status: string;
  summary: string | null;
  trigger: string;
  mode: string;
  started: number;
  updated: number;
  /** ExecState JSON (engine.ts). */
  state: string;
  seq: number;
}

export interface ActionRow {
  id: string;
  execution_id: string;
  account: string;
  region: string;
  pipeline: string;
  version: number;
  stage: string;
  action: string;
  status: string;
  started: number;
  updated: number;
  /** ActionRecord JSON (engine.ts): input, output, token, external ids, errors. */
  data: string;
}

export const TERMINAL = new Set(['Succeeded', 'Failed', 'Stopped', 'Superseded', 'Cancelled']);

export function createCodepipelineStore(store: Store) {
  store.migrate('codepipeline', [
    {
      version: 1,
      sql: `
        CREATE TABLE codepipeline_pipelines (
          account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL, version INTEGER NOT NULL,
          doc TEXT NOT NULL, created INTEGER NOT NULL, updated INTEGER NOT NULL, tags TEXT NOT NULL,
          transitions TEXT NOT NULL, PRIMARY KEY (account, region, name));
        CREATE TABLE codepipeline_versions (
          account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL, version INTEGER NOT NULL,
          doc TEXT NOT NULL, PRIMARY KEY (account, region, name, version));
        CREATE TABLE codepipeline_executions (
          seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, account TEXT NOT NULL, region TEXT NOT NULL,
          pipeline TEXT NOT NULL, version INTEGER NOT NULL, status TEXT NOT NULL, summary TEXT, trigger TEXT NOT NULL,
          mode TEXT NOT NULL, started INTEGER NOT NULL, updated INTEGER NOT NULL, state TEXT NOT NULL);
        CREATE INDEX codepipeline_executions_by_pipeline ON codepipeline_executions (account, region, pipeline, seq);
        CREATE INDEX codepipeline_executions_by_status ON codepipeline_executions (status);
        CREATE TABLE codepipeline_actions (
          id TEXT PRIMARY KEY, execution_id TEXT NOT NULL, account TEXT NOT NULL, region TEXT NOT NULL,
          pipeline TEXT NOT NULL, version INTEGER NOT NULL, stage TEXT NOT NULL, action TEXT NOT NULL,
          status TEXT NOT NULL, started INTEGER NOT NULL, updated INTEGER NOT NULL, data TEXT NOT NULL);
        CREATE INDEX codepipeline_actions_by_execution ON codepipeline_actions (execution_id, started);
        CREATE INDEX codepipeline_actions_by_pipeline ON codepipeline_actions (account, region, pipeline, started);
      `,
    },
    {
      // tags move to core_tags, keyed by the pipeline ARN (Engine.pipelineArn): the stored [{key, value}]
      // lists are first respelled [{Key, Value}], the list form moveTagColumnSql reads
      version: 2,
      sql: `
        UPDATE codepipeline_pipelines SET tags = (
          SELECT json_group_array(json_object('Key', json_extract(j.value, '$.key'), 'Value', json_extract(j.value, '$.value')) ORDER BY j.id)
          FROM json_each(codepipeline_pipelines.tags) AS j);
        ${moveTagColumnSql('codepipeline_pipelines', "'arn:aws:codepipeline:' || region || ':' || account || ':' || name", 'list')}`,
    },
  ]);
  const db = store.db;
  const q = {
    pipeline: db.prepare('SELECT * FROM codepipeline_pipelines WHERE account = ? AND region = ? AND name = ?'),
    pipelines: db.prepare('SELECT * FROM codepipeline_pipelines WHERE account = ? AND region = ? AND name > ? ORDER BY name LIMIT ?'),
    allPipelines: db.prepare('SELECT * FROM codepipeline_pipelines'),
    insertPipeline: db.prepare(
      'INSERT INTO codepipeline_pipelines (account, region, name, version, doc, created, updated, transitions) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    updatePipeline: db.prepare(
      'UPDATE codepipeline_pipelines SET version = ?, doc = ?, updated = ? WHERE account = ? AND region = ? AND name = ?',
    ),
    setTransitions: db.prepare('UPDATE codepipeline_pipelines SET transitions = ? WHERE account = ? AND region = ? AND name = ?'),
    deletePipeline: db.prepare('DELETE FROM codepipeline_pipelines WHERE account = ? AND region = ? AND name = ?'),
    insertVersion: db.prepare('INSERT OR REPLACE INTO codepipeline_versions (account, region, name, version, doc) VALUES (?, ?, ?, ?, ?)'),
    version: db.prepare('SELECT doc FROM codepipeline_versions WHERE account = ? AND region = ? AND name = ? AND version = ?'),
    deleteVersions: db.prepare('DELETE FROM codepipeline_versions WHERE account = ? AND region = ? AND name = ?'),
    insertExecution: db.prepare(
      'INSERT INTO codepipeline_executions (id, account, region, pipeline, version, status, summary, trigger, mode, started, updated, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    execution: db.prepare('SELECT * FROM codepipeline_executions WHERE id = ?'),
    executions: db.prepare(
      'SELECT * FROM codepipeline_executions WHERE account = ? AND region = ? AND pipeline = ? AND seq < ? ORDER BY seq DESC LIMIT ?',
    ),
    running: db.prepare("SELECT * FROM codepipeline_executions WHERE status IN ('InProgress', 'Stopping') ORDER BY seq"),
    saveExecution: db.prepare('UPDATE codepipeline_executions SET status = ?, summary = ?, updated = ?, state = ? WHERE id = ?'),
    deleteExecutions: db.prepare('DELETE FROM codepipeline_executions WHERE account = ? AND region = ? AND pipeline = ?'),
    upsertAction: db.prepare(
      `INSERT INTO codepipeline_actions (id, execution_id, account, region, pipeline, version, stage, action, status, started, updated, data)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(id) DO UPDATE SET status = excluded.status, updated = excluded.updated, data = excluded.data`,
    ),
    action: db.prepare('SELECT * FROM codepipeline_actions WHERE id = ?'),
    actionsOfExecution: db.prepare('SELECT * FROM codepipeline_actions WHERE execution_id = ? ORDER BY started DESC, rowid DESC'),
    actionsOfPipeline: db.prepare(
      'SELECT * FROM codepipeline_actions WHERE account = ? AND region = ? AND pipeline = ? ORDER BY started DESC, rowid DESC LIMIT ?',
    ),
    deleteActions: db.prepare('DELETE FROM codepipeline_actions WHERE account = ? AND region = ? AND pipeline = ?'),
  };

  return {
    pipeline: (s: Scope, name: string) => q.pipeline.get(s.account, s.region, name) as PipelineRow | undefined,
    /** The pipeline, or PipelineNotFoundException as AWS words it. */
    requirePipeline(s: Scope, name: string): PipelineRow {
      const row = q.pipeline.get(s.account, s.region, name) as PipelineRow | undefined;
      if (!row) throw new AwsError('PipelineNotFoundException', `Account '${s.account}' does not have a pipeline with name '${name}'`);
      return row;
    },
    pipelines: (s: Scope, after: string, limit: number) => q.pipelines.all(s.account, s.region, after, limit) as PipelineRow[],
    allPipelines: () => q.allPipelines.all() as PipelineRow[],
    insertPipeline(s: Scope, name: string, doc: string, now: number) {
      db.transaction(() => {
        q.insertPipeline.run(s.account, s.region, name, 1, doc, now, now, '{}');
        q.insertVersion.run(s.account, s.region, name, 1, doc);
      })();
    },
    updatePipeline(s: Scope, name: string, version: number, doc: string, now: number) {
      db.transaction(() => {
        q.updatePipeline.run(version, doc, now, s.account, s.region, name);
        q.insertVersion.run(s.account, s.region, name, version, doc);
      })();
    },
    versionDoc: (s: Scope, name: string, version: number) =>
      (q.version.get(s.account, s.region, name, version) as { doc: string } | undefined)?.doc,
    setTransitions: (s: Scope, name: string, t: string) => q.setTransitions.run(t, s.account, s.region, name),
    /** Runs `fn` in one transaction (a pipeline and its tags change together). */
    transaction: <T>(fn: () => T): T => db.transaction(fn)(),
    deletePipeline(s: Scope, name: string) {
      db.transaction(() => {
        q.deletePipeline.run(s.account, s.region, name);
        q.deleteVersions.run(s.account, s.region, name);
        q.deleteExecutions.run(s.account, s.region, name);
        q.deleteActions.run(s.account, s.region, name);
      })();
    },
    insertExecution: (r: Omit<ExecutionRow, 'seq'>) =>
      q.insertExecution.run(
        r.id,
        r.account,
        r.region,
        r.pipeline,
        r.version,
        r.status,
        r.summary,
        r.trigger,
        r.mode,
        r.started,
        r.updated,
        r.state,
      ),
    execution: (id: string) => q.execution.get(id) as ExecutionRow | undefined,
    /** The execution of that pipeline, or PipelineExecutionNotFoundException. */
    requireExecution(s: Scope, pipeline: string, id: string): ExecutionRow {
      const row = q.execution.get(id) as ExecutionRow | undefined;
      if (!row || row.account !== s.account || row.region !== s.region || row.pipeline !== pipeline)
        throw new AwsError(
          'PipelineExecutionNotFoundException',
          `Pipeline Execution with id '${id}' does not exist in pipeline with name '${pipeline}'.`,
        );
      return row;
    },
    executions: (s: Scope, pipeline: string, beforeSeq: number, limit: number) =>
      q.executions.all(s.account, s.region, pipeline, beforeSeq, limit) as ExecutionRow[],
    running: () => q.running.all() as ExecutionRow[],
    saveExecution: (id: string, status: string, summary: string | null, now: number, state: string) =>
      q.saveExecution.run(status, summary, now, state, id),
    upsertAction: (r: ActionRow) =>
      q.upsertAction.run(
        r.id,
        r.execution_id,
        r.account,
        r.region,
        r.pipeline,
        r.version,
        r.stage,
        r.action,
        r.status,
        r.started,
        r.updated,
        r.data,
      ),
    action: (id: string) => q.action.get(id) as ActionRow | undefined,
    actionsOfExecution: (id: string) => q.actionsOfExecution.all(id) as ActionRow[],
    actionsOfPipeline: (s: Scope, pipeline: string, limit: number) =>
      q.actionsOfPipeline.all(s.account, s.region, pipeline, limit) as ActionRow[],
  };
}

export type CodepipelineStore = ReturnType<typeof createCodepipelineStore>;
