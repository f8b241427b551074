/**
 * CodePipeline: pipelines (pipelines.ts), executions and state (executions.ts), manual approvals
 * (approvals.ts), the job results of Lambda Invoke actions (jobs.ts), run by the engine (engine.ts,
 * gates.ts) with action providers registered in providers/ (the extension point for new action
 * types), started by pushes, EventBridge targets and S3 polls (triggers.ts). Executions live in SQLite (store.ts) and resume after a restart.
 */
import type { ServiceEnv, ServiceInstance, ServiceSpec } from '../../gateway/service.js';
import type { CodepipelineHandlers } from './api.generated.js';
import { actionTypeHandlers } from './actionTypes.js';
import { approvalHandlers } from './approvals.js';
import { Engine } from './engine.js';
import { executionHandlers } from './executions.js';
import { jobHandlers } from './jobs.js';
import { pipelineHandlers } from './pipelines.js';
import { registerBuiltinProviders } from './providers/index.js';
import { createCodepipelineStore } from './store.js';
import { PipelineTriggers } from './triggers.js';

export { registerActionProvider } from './providers/registry.js';

export function createCodepipeline(env: ServiceEnv): ServiceInstance<CodepipelineHandlers> {
  registerBuiltinProviders();
  const store = createCodepipelineStore(env.store);
  const engine = new Engine(env, store);
  const triggers = new PipelineTriggers(env, store, engine);
  return {
    handlers: {
      ...pipelineHandlers(store, engine, triggers, env.tags),
      ...executionHandlers(store, engine),
      ...approvalHandlers(store, engine),
      ...jobHandlers(),
      ...actionTypeHandlers(),
    },
    start: () => void engine.resumeAll(),
    close: () => triggers.close(),
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
      reason: { min: 1, max: 300 },
      maxResults: { min: 1, max: 1000 },
    },
  },
  // resumed actions call S3, CodeBuild and Lambda, and wait on their events
  dependsOn: ['s3', 'codebuild', 'events', 'lambda'],
  create: createCodepipeline,
};
