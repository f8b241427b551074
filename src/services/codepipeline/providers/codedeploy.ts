/**
 * Deploy actions run by CodeDeploy (provider CodeDeploy: Server and Lambda deployment groups): the
 * input artifact, where it lies in the artifact store, is the deployment's revision (a zip bundle;
 * for Lambda, the appspec file inside it); CreateDeployment through env.services, then the action
 * waits for the deployment's state-change event. Each deployment records the pipeline execution
 * it came from in its description, so DORA can follow a commit to its deployment.
 */
import { AwsError } from '../../../core/errors.js';
import { awaitExternal } from './external.js';
import { failed, registerActionProvider, type ActionContext, type ActionResult } from './registry.js';

const TERMINAL: Record<string, 'Succeeded' | 'Failed'> = { Succeeded: 'Succeeded', Failed: 'Failed', Stopped: 'Failed' };

async function startDeployment(ctx: ActionContext): Promise<ActionResult> {
  const c = ctx.configuration;
  if (!ctx.env.services.has('codedeploy')) return failed('opsbox service codedeploy is not running', 'JobFailed');
  const input = ctx.inputArtifacts[0];
  let deploymentId: string;
  try {
    const out = await ctx.env.services.call<{ deploymentId: string }>(
      'codedeploy',
      'CreateDeployment',
      {
        applicationName: c.ApplicationName,
        deploymentGroupName: c.DeploymentGroupName,
        revision: { revisionType: 'S3', s3Location: { bucket: input.bucket, key: input.key, bundleType: 'zip' } },
        description: `CodePipeline ${ctx.pipelineName} execution ${ctx.executionId}${input.revision ? ` (source revision ${input.revision})` : ''}`,
      },
      { account: ctx.account, region: ctx.region },
    );
    deploymentId = out.deploymentId;
  } catch (err) {
    if (err instanceof AwsError) return failed(`${err.code}: ${err.message}`, 'JobFailed');
    throw err;
  }
  ctx.save({ deploymentId });
  return waitForDeployment(ctx, deploymentId);
}

function waitForDeployment(ctx: ActionContext, deploymentId: string): Promise<ActionResult> {
  const scope = { account: ctx.account, region: ctx.region };
  return awaitExternal(ctx, {
    externalExecutionId: deploymentId,
    externalExecutionUrl: `https://console.aws.amazon.com/codedeploy/home?region=${ctx.region}#/deployments/${deploymentId}`,
    concerns: (e) => e['detail-type'] === 'CodeDeploy Deployment State-change Notification' && e.detail.deploymentId === deploymentId,
    stop: () => ctx.env.services.call('codedeploy', 'StopDeployment', { deploymentId }, scope),
    async check() {
      const out = await ctx.env.services.call<{
        deploymentInfo: { status: string; errorInformation?: { code?: string; message?: string } };
      }>('codedeploy', 'GetDeployment', { deploymentId }, scope);
      const status = TERMINAL[out.deploymentInfo.status];
      if (!status) return undefined;
      if (status === 'Succeeded') return { status, summary: `Deployment ${deploymentId} succeeded` };
      const e = out.deploymentInfo.errorInformation;
      return failed(
        `Deployment ${deploymentId} ${out.deploymentInfo.status.toLowerCase()}${e ? `: ${e.code}: ${e.message}` : ''}`,
        'JobFailed',
      );
    },
  });
}

export function registerCodeDeployProvider() {
  registerActionProvider('Deploy', 'AWS', 'CodeDeploy', {
    inputs: [1, 1],
    outputs: [0, 0],
    required: ['ApplicationName', 'DeploymentGroupName'],
    optional: [],
    run: startDeployment,
    resume: (ctx) => (typeof ctx.saved.deploymentId === 'string' ? waitForDeployment(ctx, ctx.saved.deploymentId) : startDeployment(ctx)),
  });
}
