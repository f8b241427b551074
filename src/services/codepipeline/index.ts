/**
 * CodePipeline: pipelines (pipelines.ts), executions and state (executions.ts), manual approvals
 * (approvals.ts), run by the engine (engine.ts, gates.ts) with action providers registered in
 * providers/ (the extension point for new action types), started by pushes, EventBridge targets
 * and S3 polls (triggers.ts). Executions live in SQLite (store.ts) and resume after a restart.
 */
import type { ServiceEnv, ServiceSpec } from '../../gateway/service.js';
import type { CodepipelineHandlers } from './api.generated.js';
import { actionTypeHandlers } from './actionTypes.js';
import { approvalHandlers } from './approvals.js';
import { Engine } from './engine.js';
import { executionHandlers } from './executions.js';
import { pipelineHandlers } from './pipelines.js';
import { registerBuiltinProviders } from './providers/index.js';
import { createCodepipelineStore } from './store.js';
import { PipelineTriggers } from './triggers.js';

export { registerActionProvider } from './providers/registry.js';

const running = new Set<{ triggers: PipelineTriggers; engine: Engine }>();

export function createCodepipelineHandlers(env: ServiceEnv): CodepipelineHandlers {
  registerBuiltinProviders();
  const store = createCodepipelineStore(env.store);
  const engine = new Engine(env, store);
  const triggers = new PipelineTriggers(env, store, engine);
  running.add({ triggers, engine });
  // after every service is registered: resumed actions call S3 and CodeBuild
  setImmediate(() => engine.resumeAll());
  return {
    ...pipelineHandlers(store, engine, triggers),
    ...executionHandlers(store, engine),
    ...approvalHandlers(store, engine),
    ...actionTypeHandlers(),
  };
}

export const codepipeline: ServiceSpec<CodepipelineHandlers> = {
  name: 'codepipeline',
  model: 'codepipeline-2015-07-09',
  signingName: 'codepipeline',
  protocols: ['json1.1'],
  patch: {
    validationErrorCode: 'ValidationException',
    constraints: {
      name: { min: 1, max: 100, pattern: '[A-Za-z0-9.@\\-_]+' },
      pipelineName: { min: 1, max: 100, pattern: '[A-Za-z0-9.@\\-_]+' },
      stageName: { min: 1, max: 100, pattern: '[A-Za-z0-9.@\\-_]+' },
      actionName: { min: 1, max: 100, pattern: '[A-Za-z0-9.@\\-_]+' },
      pipelineExecutionId: { pattern: '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}' },
      transitionType: { enum: ['Inbound', 'Outbound'] },
      reason: { min: 1, max: 300 },
      retryMode: { enum: ['FAILED_ACTIONS', 'ALL_ACTIONS'] },
      maxResults: { min: 1, max: 1000 },
      'ListPipelineExecutions.maxResults': { min: 1, max: 100 },
      'ListActionExecutions.maxResults': { min: 1, max: 100 },
      token: { pattern: '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}' },
      'StopPipelineExecution.reason': { max: 200 },
    },
  },
  create: createCodepipelineHandlers,
  close() {
    for (const r of running) r.triggers.close();
    running.clear();
  },
};
