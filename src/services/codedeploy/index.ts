/**
 * CodeDeploy: applications, deployment groups and configs (applications.ts, groups.ts, configs.ts),
 * registered revisions (revisions.ts), on-premises instances (instances.ts) and deployments
 * (deployments.ts), stored in store.ts. engine/runner.ts runs each deployment through AWS's state
 * machine, watching the group's alarms and rolling back; engine/lambda.ts shifts a Lambda alias's
 * traffic, engine/server.ts is the agent that deploys a bundle to on-premises instances.
 * ECS blue/green deployments are not there yet: a deployment group for ECS can be created, and its
 * deployments fail with an error that says so.
 */
import type { ServiceEnv, ServiceSpec } from '../../gateway/service.js';
import type { CodedeployHandlers } from './api.generated.js';
import { applicationHandlers } from './applications.js';
import { configHandlers } from './configs.js';
import { deploymentHandlers, rollbackStarter } from './deployments.js';
import { lambdaPlatform } from './engine/lambda.js';
import { DeploymentFailure, DeploymentRunner, type Platform } from './engine/runner.js';
import { serverPlatform } from './engine/server.js';
import { groupHandlers } from './groups.js';
import { instanceHandlers } from './instances.js';
import { revisionHandlers } from './revisions.js';
import { createCodedeployStore } from './store.js';

const ecsNotYet: Platform = {
  async prepare() {
    throw new DeploymentFailure('INVALID_ECS_SERVICE', 'ECS blue/green deployments are not available in opsbox yet.');
  },
  async run() {},
  rollbackRevision: () => undefined,
};

export function createCodedeploy(env: ServiceEnv) {
  const store = createCodedeployStore(env.store);
  let runner: DeploymentRunner;
  const startRollback = rollbackStarter(
    store,
    () => env.clock.now(),
    () => runner,
  );
  runner = new DeploymentRunner(
    env,
    store,
    { Lambda: lambdaPlatform(env, store), Server: serverPlatform(env, store), ECS: ecsNotYet },
    startRollback,
  );
  const configInUse = (scope: { account: string; region: string }, name: string) =>
    store.apps(scope).some((a) => store.groups(a).some((g) => g.deploymentConfigName === name));
  const handlers: CodedeployHandlers = {
    ...applicationHandlers(store, env.tags),
    ...groupHandlers(store, env.tags),
    ...configHandlers(store, configInUse),
    ...revisionHandlers(store),
    ...instanceHandlers(store),
    ...deploymentHandlers(store, runner),
  };
  return { handlers, runner, start: () => runner.start(), close: () => runner.close() };
}

export const codedeploy: ServiceSpec<CodedeployHandlers> = {
  name: 'codedeploy',
  model: 'codedeploy-2014-10-06',
  signingName: 'codedeploy',
  protocols: ['json1.1'],
  patch: { validationErrorCode: 'InvalidInputException' },
  dependsOn: ['lambda', 'cloudwatch', 's3'],
  create: (env) => createCodedeploy(env),
};
