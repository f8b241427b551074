/**
 * Execution handlers: StartPipelineExecution (variables, source revision overrides),
 * StopPipelineExecution, RetryStageExecution, GetPipelineExecution, ListPipelineExecutions,
 * ListActionExecutions and GetPipelineState, read from the rows the engine writes.
 */
import { AwsError } from '../../core/errors.js';
import { decodeToken, encodeToken } from '../../core/pagination.js';
import type { CodepipelineHandlers } from './api.generated.js';
import type { ActionRecord, Engine, ExecState, Trigger } from './engine.js';
import { TERMINAL, type ActionRow, type CodepipelineStore, type ExecutionRow } from './store.js';
import type { PipelineDoc } from './validate.js';

const invalidToken = () =>
  new AwsError(
    'InvalidNextTokenException',
    'The next token was specified in an invalid format. Make sure that the next token you provide is the token returned by a previous call.',
  );

function artifactRevisions(state: ExecState) {
  return state.revisions.map((r) => ({
    name: r.name,
    revisionId: r.revisionId,
    revisionChangeIdentifier: r.revisionChangeIdentifier,
    revisionSummary: r.revisionSummary,
    created: r.created !== undefined ? new Date(r.created) : undefined,
    revisionUrl: r.revisionUrl,
  }));
}

export function actionDetail(r: ActionRow) {
  const d = JSON.parse(r.data) as ActionRecord;
  const res = d.result;
  const loc = (a: { name: string; bucket: string; key: string }) => ({ name: a.name, s3location: { bucket: a.bucket, key: a.key } });
  return {
    pipelineExecutionId: r.execution_id,
    actionExecutionId: r.id,
    pipelineVersion: r.version,
    stageName: r.stage,
    actionName: r.action,
    startTime: new Date(r.started),
    lastUpdateTime: new Date(r.updated),
    updatedBy: d.updatedBy,
    status: r.status,
    input: { ...d.input, inputArtifacts: d.input.inputArtifacts.map(loc) },
    output: {
      outputArtifacts: r.status === 'Succeeded' ? d.outputs.map(loc) : [],
      executionResult: {
        externalExecutionId: res?.externalExecutionId ?? (d.saved.buildId as string | undefined) ?? (d.saved.token as string | undefined),
        externalExecutionSummary: res?.summary,
        externalExecutionUrl: res?.externalExecutionUrl,
        errorDetails:
          res?.status === 'Failed' || r.status === 'Abandoned'
            ? { code: res?.errorCode ?? 'JobFailed', message: res?.errorMessage ?? res?.summary ?? r.status }
            : undefined,
      },
      outputVariables: res?.outputVariables ?? {},
    },
  };
}

export function executionHandlers(store: CodepipelineStore, engine: Engine): CodepipelineHandlers {
  const docOf = (row: ExecutionRow) => JSON.parse(store.versionDoc(row, row.pipeline, row.version) ?? '{"stages":[]}') as PipelineDoc;
  const stateOf = (row: ExecutionRow) => (engine.live.get(row.id)?.state ?? JSON.parse(row.state)) as ExecState;

  return {
    StartPipelineExecution(input, ctx) {
      const row = store.requirePipeline(ctx, input.name);
      const doc = JSON.parse(row.doc) as PipelineDoc;
      const overrides: ExecState['overrides'] = {};
      for (const o of input.sourceRevisions ?? []) {
        const action = doc.stages[0].actions.find((a) => a.name === o.actionName);
        if (!action) throw new AwsError('ValidationException', `Source action '${o.actionName}' does not exist in pipeline '${row.name}'`);
        if (o.revisionType === 'S3_OBJECT_KEY' && action.configuration?.AllowOverrideForS3ObjectKey !== 'true')
          throw new AwsError('ValidationException', `Source action '${o.actionName}' does not allow overriding its S3 object key`);
        overrides[o.actionName] = { revisionType: o.revisionType, revisionValue: o.revisionValue };
      }
      const trigger: Trigger = { triggerType: 'StartPipelineExecution', triggerDetail: ctx.caller.arn };
      return { pipelineExecutionId: engine.start(ctx, row.name, trigger, { variables: input.variables, overrides }) };
    },

    StopPipelineExecution(input, ctx) {
      store.requirePipeline(ctx, input.pipelineName);
      const row = store.requireExecution(ctx, input.pipelineName, input.pipelineExecutionId);
      const live = engine.live.get(row.id);
      if (!live || TERMINAL.has(live.row.status))
        throw new AwsError(
          'PipelineExecutionNotStoppableException',
          `Unable to stop pipeline execution '${row.id}' because it is in a ${row.status} state.`,
        );
      if (live.row.status === 'Stopping' && (live.state.stop?.abandon || !input.abandon))
        throw new AwsError('DuplicatedStopRequestException', `A stop request for pipeline execution '${row.id}' is already in progress.`);
      engine.stop(live, !!input.abandon, input.reason);
      return { pipelineExecutionId: row.id };
    },

    RetryStageExecution(input, ctx) {
      const pipeline = store.requirePipeline(ctx, input.pipelineName);
      const row = store.requireExecution(ctx, input.pipelineName, input.pipelineExecutionId);
      const doc = docOf(row);
      const index = doc.stages.findIndex((s) => s.name === input.stageName);
      if (index === -1)
        throw new AwsError('StageNotFoundException', `Stage '${input.stageName}' does not exist in pipeline '${input.pipelineName}'`);
      // AWS: a stage is retryable when it has failed actions; one that succeeded (or never ran) has
      // none, whatever a later stage is doing. "In progress" is only for the stage, or the execution, still running.
      const live = engine.live.get(row.id);
      const st = (live?.state ?? (JSON.parse(row.state) as ExecState)).stages[input.stageName];
      if (st?.status === 'InProgress' || st?.status === 'Retrying')
        throw new AwsError(
          'StageNotRetryableException',
          `Stage '${input.stageName}' of pipeline execution '${row.id}' is in progress and cannot be retried.`,
        );
      if (!st || (st.status !== 'Failed' && st.status !== 'Stopped'))
        throw new AwsError(
          'StageNotRetryableException',
          `Stage '${input.stageName}' of pipeline execution '${row.id}' has no failed actions to retry.`,
        );
      if (live)
        throw new AwsError(
          'StageNotRetryableException',
          `Stage '${input.stageName}' of pipeline execution '${row.id}' cannot be retried while the execution is in progress.`,
        );
      if (pipeline.version !== row.version)
        throw new AwsError(
          'StageNotRetryableException',
          `Pipeline '${input.pipelineName}' was updated since execution '${row.id}' ran; its stages cannot be retried.`,
        );
      const latest = store.actionsOfPipeline(ctx, row.pipeline, 1000).find((a) => a.stage === input.stageName);
      if (latest && latest.execution_id !== row.id)
        throw new AwsError(
          'NotLatestPipelineExecutionException',
          `Pipeline execution '${row.id}' is not the latest execution of stage '${input.stageName}'.`,
        );
      engine.retry(row, doc, index, input.retryMode);
      return { pipelineExecutionId: row.id };
    },

    GetPipelineExecution(input, ctx) {
      store.requirePipeline(ctx, input.pipelineName);
      const row = store.requireExecution(ctx, input.pipelineName, input.pipelineExecutionId);
      const live = engine.live.get(row.id);
      const r = live?.row ?? row;
      const state = stateOf(row);
      return {
        pipelineExecution: {
          pipelineName: r.pipeline,
          pipelineVersion: r.version,
          pipelineExecutionId: r.id,
          status: r.status,
          statusSummary: r.summary ?? undefined,
          artifactRevisions: artifactRevisions(state),
          variables: Object.entries(state.variables).map(([name, resolvedValue]) => ({ name, resolvedValue })),
          trigger: state.trigger,
          executionMode: r.mode,
          executionType: 'STANDARD',
        },
      };
    },

    ListPipelineExecutions(input, ctx) {
      store.requirePipeline(ctx, input.pipelineName);
      const limit = input.maxResults ?? 100;
      const before = input.nextToken ? Number(decodeToken(input.nextToken, invalidToken)) : Number.MAX_SAFE_INTEGER;
      const stageFilter = input.filter?.succeededInStage?.stageName;
      const out = [];
      let cursor = before;
      let lastSeq = 0;
      let more = false;
      outer: for (;;) {
        const rows = store.executions(ctx, input.pipelineName, cursor, 200);
        if (rows.length === 0) break;
        for (const row of rows) {
          cursor = row.seq;
          const r = engine.live.get(row.id)?.row ?? row;
          const state = stateOf(row);
          if (stageFilter && state.stages[stageFilter]?.status !== 'Succeeded') continue;
          if (out.length === limit) {
            more = true;
            break outer;
          }
          lastSeq = row.seq;
          out.push({
            pipelineExecutionId: r.id,
            status: r.status,
            statusSummary: r.summary ?? undefined,
            startTime: new Date(r.started),
            lastUpdateTime: new Date(r.updated),
            sourceRevisions: state.revisions.map((s) => ({
              actionName: s.actionName,
              revisionId: s.revisionId,
              revisionSummary: s.revisionSummary,
              revisionUrl: s.revisionUrl,
            })),
            trigger: state.trigger,
            stopTrigger: state.stop?.reason ? { reason: state.stop.reason } : undefined,
            executionMode: r.mode,
            executionType: 'STANDARD',
          });
        }
      }
      return { pipelineExecutionSummaries: out, nextToken: more ? encodeToken(lastSeq) : undefined };
    },

    ListActionExecutions(input, ctx) {
      store.requirePipeline(ctx, input.pipelineName);
      const limit = input.maxResults ?? 100;
      const offset = input.nextToken ? Number(decodeToken(input.nextToken, invalidToken)) : 0;
      const id = input.filter?.pipelineExecutionId;
      if (id) store.requireExecution(ctx, input.pipelineName, id);
      const rows = id ? store.actionsOfExecution(id) : store.actionsOfPipeline(ctx, input.pipelineName, offset + limit + 1);
      const page = rows.slice(offset, offset + limit);
      return {
        actionExecutionDetails: page.map(actionDetail),
        nextToken: rows.length > offset + limit ? encodeToken(offset + limit) : undefined,
      };
    },

    GetPipelineState(input, ctx) {
      const pipeline = store.requirePipeline(ctx, input.name);
      const doc = JSON.parse(pipeline.doc) as PipelineDoc;
      const actions = store.actionsOfPipeline(ctx, pipeline.name, 2000);
      const transitions = engine.gates.transitions(ctx, pipeline.name);
      const execCache = new Map<string, ExecutionRow | undefined>();
      const execRow = (id: string) => {
        if (!execCache.has(id)) execCache.set(id, engine.live.get(id)?.row ?? store.execution(id));
        return execCache.get(id);
      };
      return {
        pipelineName: pipeline.name,
        pipelineVersion: pipeline.version,
        created: new Date(pipeline.created),
        updated: new Date(pipeline.updated),
        stageStates: doc.stages.map((stage, i) => {
          const inStage = actions.filter((a) => a.stage === stage.name);
          const latestRow = inStage[0] && execRow(inStage[0].execution_id);
          const t = transitions[`${stage.name}|Inbound`];
          const waiting = engine.gates.waiting(ctx, pipeline.name, i);
          return {
            stageName: stage.name,
            inboundExecution: waiting[0]
              ? { pipelineExecutionId: waiting[0].row.id, status: waiting[0].row.status, type: 'STANDARD' }
              : undefined,
            inboundExecutions: waiting.length
              ? waiting.map((w) => ({ pipelineExecutionId: w.row.id, status: w.row.status, type: 'STANDARD' }))
              : undefined,
            inboundTransitionState: t
              ? {
                  enabled: t.enabled,
                  lastChangedBy: t.by,
                  lastChangedAt: t.at ? new Date(t.at) : undefined,
                  disabledReason: t.enabled ? undefined : t.reason,
                }
              : { enabled: true },
            actionStates: stage.actions.map((a) => {
              const last = inStage.find((r) => r.action === a.name);
              if (!last) return { actionName: a.name };
              const d = JSON.parse(last.data) as ActionRecord;
              const res = d.result;
              const rev = d.result?.revision;
              return {
                actionName: a.name,
                currentRevision: rev
                  ? {
                      revisionId: rev.revisionId,
                      revisionChangeId: rev.revisionChangeIdentifier ?? rev.revisionId,
                      created: rev.created ? new Date(rev.created) : undefined,
                    }
                  : undefined,
                latestExecution: {
                  actionExecutionId: last.id,
                  status: last.status,
                  summary: res?.summary,
                  lastStatusChange: new Date(last.updated),
                  token: last.status === 'InProgress' ? (d.saved.token as string | undefined) : undefined,
                  lastUpdatedBy: d.updatedBy,
                  externalExecutionId: res?.externalExecutionId ?? (d.saved.buildId as string | undefined),
                  externalExecutionUrl: res?.externalExecutionUrl,
                  errorDetails:
                    res?.status === 'Failed'
                      ? { code: res.errorCode ?? 'JobFailed', message: res.errorMessage ?? res.summary ?? 'Failed' }
                      : undefined,
                },
                revisionUrl: rev?.revisionUrl,
              };
            }),
            latestExecution: latestRow
              ? {
                  pipelineExecutionId: latestRow.id,
                  status: stateOf(latestRow).stages[stage.name]?.status ?? latestRow.status,
                  type: 'STANDARD',
                }
              : undefined,
          };
        }),
      };
    },
  };
}
