/** The action providers opsbox runs; CloudFormation, CodeDeployToECS and ECS register here later. */
import { registerApprovalProvider } from './approval.js';
import { registerCodeBuildProvider } from './codebuild.js';
import { registerCodeDeployProvider } from './codedeploy.js';
import { registerLambdaProvider } from './lambda.js';
import { registerS3DeployProvider } from './s3deploy.js';
import { registerSourceProviders } from './sources.js';

let registered = false;

export function registerBuiltinProviders() {
  if (registered) return;
  registered = true;
  registerSourceProviders();
  registerCodeBuildProvider();
  registerApprovalProvider();
  registerS3DeployProvider();
  registerLambdaProvider();
  registerCodeDeployProvider();
}
