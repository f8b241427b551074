/**
 * PutApprovalResult: answers the manual approval action waiting with that token; the engine then
 * records who approved or rejected it and moves on (or fails the stage on Rejected).
 */
import { AwsError } from '../../core/errors.js';
import type { CodepipelineHandlers } from './api.generated.js';
import type { ActionRecord, Engine } from './engine.js';
import { pendingApproval } from './providers/approval.js';
import type { CodepipelineStore } from './store.js';
import type { PipelineDoc } from './validate.js';

export function approvalHandlers(store: CodepipelineStore, engine: Engine): CodepipelineHandlers {
  return {
    PutApprovalResult(input, ctx) {
      const row = store.requirePipeline(ctx, input.pipelineName);
      const doc = JSON.parse(row.doc) as PipelineDoc;
      const stage = doc.stages.find((s) => s.name === input.stageName);
      if (!stage)
        throw new AwsError('StageNotFoundException', `Stage '${input.stageName}' does not exist in pipeline '${input.pipelineName}'`);
      const action = stage.actions.find((a) => a.name === input.actionName);
      if (!action)
        throw new AwsError(
          'ActionNotFoundException',
          `Action '${input.actionName}' does not exist in stage '${input.stageName}' of pipeline '${input.pipelineName}'`,
        );
      for (const live of engine.live.values()) {
        if (live.row.account !== ctx.account || live.row.region !== ctx.region || live.row.pipeline !== row.name) continue;
        const a = live.state.stages[stage.name]?.actions[action.name];
        if (a?.status !== 'InProgress') continue;
        const pending = pendingApproval(a.id);
        if (!pending || pending.token !== input.token) continue;
        engine.approvedBy.set(a.id, ctx.caller.arn);
        pending.answer({
          status: input.result.status as 'Approved' | 'Rejected' /* the model's enum, checked by the gateway */,
          summary: input.result.summary,
          by: ctx.caller.arn,
        });
        return { approvedAt: new Date(ctx.clock.now()) };
      }
      const done = store
        .actionsOfPipeline(ctx, row.name, 2000)
        .find(
          (r) => r.stage === stage.name && r.action === action.name && (JSON.parse(r.data) as ActionRecord).saved.token === input.token,
        );
      if (done)
        throw new AwsError(
          'ApprovalAlreadyCompletedException',
          `The approval request for action '${action.name}' has already been completed.`,
        );
      throw new AwsError(
        'InvalidApprovalTokenException',
        `The approval token '${input.token}' is not valid for action '${action.name}' in stage '${stage.name}'.`,
      );
    },
  };
}
