/** What CodeDeploy's handler files share: ARNs, name checks, the errors several operations throw. */
import { arn, type Scope } from '../../core/arn.js';
import { AwsError } from '../../core/errors.js';
import { tagMapOf, type TagMap, type TagRules } from '../../core/tags.js';

export const invalidNextToken = () => new AwsError('InvalidNextTokenException', 'The next token was specified in an invalid format.');

export const applicationArn = (scope: Scope, name: string) => arn('codedeploy', scope, `application:${name}`);
export const groupArn = (scope: Scope, app: string, group: string) => arn('codedeploy', scope, `deploymentgroup:${app}/${group}`);
export const instanceArn = (scope: Scope, name: string) => arn('codedeploy', scope, `instance/${name}`);

export function checkApplicationName(name: string | undefined): string {
  if (!name) throw new AwsError('ApplicationNameRequiredException', 'Application name is required');
  if (name.length > 100) throw new AwsError('InvalidApplicationNameException', 'The application name was specified in an invalid format.');
  return name;
}

export function checkGroupName(name: string | undefined): string {
  if (!name) throw new AwsError('DeploymentGroupNameRequiredException', 'Deployment group name is required');
  if (name.length > 100)
    throw new AwsError('InvalidDeploymentGroupNameException', 'The deployment group name was specified in an invalid format.');
  return name;
}

export const tagRules: TagRules = {
  errors: (p) =>
    p.kind === 'tooMany'
      ? new AwsError('TagLimitExceededException', 'The maximum allowed number of tags was exceeded.')
      : new AwsError('InvalidTagsToAddException', 'The specified tags are not valid.'),
};

/** A deployment id as AWS makes them: "d-" and nine upper-case letters and digits. */
export function deploymentId(): string {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  let s = 'd-';
  for (let i = 0; i < 9; i++) s += chars[Math.floor(Math.random() * chars.length)];
  return s;
}

/** CodeDeploy's tag lists leave Key and Value optional in the model: a missing one reads as "". */
export const tagMap = (list: readonly { Key?: string; Value?: string }[] | undefined): TagMap =>
  tagMapOf(
    (list ?? []).map((t) => ({ Key: t.Key ?? '', Value: t.Value ?? '' })),
    tagRules.errors,
  );
