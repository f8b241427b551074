/**
 * Build and Test actions run by CodeBuild: StartBuild through env.services with the pipeline's
 * artifacts passed as `internal.codepipeline` (the first input, or PrimarySource, is the primary
 * source), then wait for the build's "CodeBuild Build State Change" on the bus (with a slow
 * BatchGetBuilds poll as a safety net and after a restart). Exported variables become the action's.
 */
import { AwsError } from '../../../core/errors.js';
import { failed, registerActionProvider, type ActionContext, type ActionResult } from './registry.js';

const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'FAULT', 'STOPPED', 'TIMED_OUT']);
const POLL_MS = 5000;

async function startBuild(ctx: ActionContext): Promise<ActionResult> {
  const c = ctx.configuration;
  if (!ctx.env.services.has('codebuild')) return failed('opsbox service codebuild is not running', 'JobFailed');
  let envVars: { name: string; value: string; type?: string }[] | undefined;
  if (c.EnvironmentVariables) {
    try {
      envVars = JSON.parse(c.EnvironmentVariables);
    } catch {
      return failed(
        `Action configuration EnvironmentVariables of action '${ctx.action.name}' is not a valid JSON array`,
        'ConfigurationError',
      );
    }
  }
  const inputs = [...ctx.inputArtifacts];
  if (c.PrimarySource) {
    const i = inputs.findIndex((a) => a.name === c.PrimarySource);
    if (i > 0) inputs.unshift(...inputs.splice(i, 1));
  }
  const scope = {
    account: ctx.account,
    region: ctx.region,
    internal: {
      codepipeline: {
        pipelineName: ctx.pipelineName,
        executionId: ctx.executionId,
        stageName: ctx.stageName,
        actionName: ctx.action.name,
        inputArtifacts: inputs,
        outputArtifacts: ctx.outputArtifacts,
        primarySource: c.PrimarySource,
      },
    },
  };
  let build: { id: string; arn: string };
  try {
    const res = await ctx.env.services.call(
      'codebuild',
      'StartBuild',
      { projectName: c.ProjectName, environmentVariablesOverride: envVars },
      scope,
    );
    build = res.build;
  } catch (err) {
    if (err instanceof AwsError) return failed(`${err.code}: ${err.message}`, 'JobFailed');
    return failed(String((err as Error).message ?? err), 'JobFailed');
  }
  ctx.save({ buildId: build.id, buildArn: build.arn });
  return waitForBuild(ctx, build.id, build.arn);
}

async function resumeBuild(ctx: ActionContext): Promise<ActionResult> {
  const id = ctx.saved.buildId as string | undefined;
  if (!id) return startBuild(ctx);
  if (!ctx.env.services.has('codebuild')) return failed('opsbox service codebuild is not running', 'JobFailed');
  return waitForBuild(ctx, id, String(ctx.saved.buildArn ?? ''));
}

function waitForBuild(ctx: ActionContext, id: string, arn: string): Promise<ActionResult> {
  const scope = { account: ctx.account, region: ctx.region };
  const url = `https://${ctx.region}.console.aws.amazon.com/codebuild/home?region=${ctx.region}#/builds/${encodeURIComponent(id)}/view/new`;
  return new Promise((resolve) => {
    let done = false;
    let timer: { cancel(): void } | undefined;
    const finish = (r: ActionResult) => {
      if (done) return;
      done = true;
      unsubscribe();
      timer?.cancel();
      ctx.signal.removeEventListener('abort', onAbort);
      resolve({ ...r, externalExecutionId: id, externalExecutionUrl: url });
    };
    const check = async () => {
      if (done) return;
      try {
        const res = await ctx.env.services.call('codebuild', 'BatchGetBuilds', { ids: [id] }, scope);
        const b = res.builds?.[0];
        if (!b) return finish(failed(`Build ${id} does not exist`, 'JobFailed'));
        if (!TERMINAL.has(b.buildStatus)) return;
        const outputVariables: Record<string, string> = {};
        for (const v of b.exportedEnvironmentVariables ?? []) if (v.name) outputVariables[v.name] = v.value ?? '';
        if (b.buildStatus === 'SUCCEEDED') finish({ status: 'Succeeded', summary: undefined, outputVariables });
        else finish({ ...failed(`Build terminated with state: ${b.buildStatus}`, 'JobFailed'), outputVariables });
      } catch (err) {
        finish(failed(`BatchGetBuilds failed: ${String((err as Error).message ?? err)}`, 'JobFailed'));
      }
    };
    const poll = () => {
      timer = ctx.env.clock.setTimeout(() => void check().then(() => !done && poll()), POLL_MS);
    };
    const unsubscribe = ctx.env.bus.subscribe((e) => {
      if (e['detail-type'] !== 'CodeBuild Build State Change' || e.account !== ctx.account) return;
      const bid = e.detail['build-id'];
      if ((bid === arn || bid === id) && TERMINAL.has(String(e.detail['build-status']))) void check();
    });
    const onAbort = () => {
      ctx.env.services.call('codebuild', 'StopBuild', { id }, scope).catch(() => {});
      finish(failed('Stopped', 'JobFailed'));
    };
    ctx.signal.addEventListener('abort', onAbort);
    void check();
    poll();
  });
}

export function registerCodeBuildProvider() {
  for (const category of ['Build', 'Test']) {
    registerActionProvider(category, 'AWS', 'CodeBuild', {
      inputs: [1, 5],
      outputs: [0, 5],
      required: ['ProjectName'],
      optional: ['PrimarySource', 'EnvironmentVariables', 'BatchEnabled', 'CombineArtifacts'],
      run: startBuild,
      resume: resumeBuild,
    });
  }
}
