/**
 * CodeBuild: projects (projects.ts), builds (builds.ts) run for real by runner.ts — on the host or
 * in a container (backends/) — with buildspecs (buildspec.ts, driver.ts), live logs in CloudWatch
 * Logs (buildLogs.ts), artifacts in S3 (artifacts.ts) and test reports (reportGroups.ts, reports.ts).
 * Also: the env.targets invoker for arn:aws:codebuild:…:project/… (EventBridge rules start builds).
 */
import { parseArn } from '../../core/arn.js';
import { log } from '../../core/log.js';
import type { ServiceEnv, ServiceInstance, ServiceSpec } from '../../gateway/service.js';
import type { CodebuildHandlers } from './api.generated.js';
import { Backends } from './build/backends/select.js';
import { buildHandlers, startBuild } from './builds.js';
import { projectHandlers } from './projects.js';
import { reportGroupHandlers } from './reportGroups.js';
import { BuildRunner } from './build/runner.js';
import { createCodebuildStore } from './store.js';

export function createCodebuild(env: ServiceEnv): ServiceInstance<CodebuildHandlers> {
  const store = createCodebuildStore(env.store, env.tags);
  const backends = new Backends();
  const runner = new BuildRunner(env, store, backends);
  env.targets.register('codebuild', (inv) => {
    const p = parseArn(inv.arn)!;
    if (!p.resource.startsWith('project/')) throw new Error(`${inv.arn} is not a CodeBuild project`);
    const scope = { account: p.account || inv.account, region: p.region || inv.region };
    // what the target delivers (its Input or transformed input), when it is a JSON object of StartBuild's
    // parameters, configures the build, as on AWS; the plain event starts the project as it is
    let params: Record<string, unknown> = {};
    try {
      const parsed = JSON.parse(inv.payload);
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed) && !('detail-type' in parsed)) params = parsed;
    } catch {
      /* not parameters */
    }
    const caller = { account: scope.account, arn: `arn:aws:iam::${scope.account}:root`, userId: scope.account, accessKeyId: '' };
    const doc = startBuild(
      store,
      runner,
      { ...params, projectName: p.resource.slice('project/'.length) },
      { ...scope, caller, now: env.clock.now() },
    );
    log.info('codebuild: build started by a target', { id: doc.id, source: inv.source });
  });
  return {
    handlers: { ...projectHandlers(store), ...buildHandlers(store, runner), ...reportGroupHandlers(store) },
    // once every service exists, so the interrupted builds' final events reach their subscribers
    start: () => void runner.recover(),
    async close() {
      await runner.close();
      await backends.close();
    },
  };
}

export const codebuild: ServiceSpec<CodebuildHandlers> = {
  name: 'codebuild',
  model: 'codebuild-2016-10-06',
  signingName: 'codebuild',
  protocols: ['json1.1'],
  patch: {
    validationErrorCode: 'InvalidInputException',
    constraints: {
      'CreateProject.name': { min: 2, max: 255 },
      'CreateProject.description': { max: 255 },
    },
  },
  // interrupted builds write their last log lines and events when they are recovered
  dependsOn: ['logs', 'events', 's3'],
  create: createCodebuild,
};
