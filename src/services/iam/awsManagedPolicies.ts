/**
 * The AWS managed policies opsbox knows (arn:aws:iam::aws:policy<path><name>): enough of the catalog
 * for CDK, CodeBuild/CodePipeline/CodeDeploy setups and tutorials. Documents are faithful in shape
 * but abbreviated for the large ones (ReadOnlyAccess lists a representative set of actions).
 * Any other aws-managed ARN answers NoSuchEntity.
 */
export interface AwsManagedPolicy {
  name: string;
  path: string;
  /** Stable id (ANPA…), fixed so every account sees the same one, as on AWS. */
  id: string;
  description: string;
  defaultVersion: string;
  document: object;
}

const allow = (Action: string | string[], Resource: string | string[] = '*') => ({ Effect: 'Allow', Action, Resource });
const doc = (...Statement: object[]) => ({ Version: '2012-10-17', Statement });

export const AWS_MANAGED_POLICIES: AwsManagedPolicy[] = [
  { name: 'AdministratorAccess', path: '/', id: 'ANPAIWMBCKSKIEE64ZLYK', defaultVersion: 'v1',
    description: 'Provides full access to AWS services and resources.', document: doc(allow('*')) },
  { name: 'PowerUserAccess', path: '/', id: 'ANPAJYRXTHIB4FOVS3ZXS', defaultVersion: 'v5',
    description: 'Provides full access to AWS services and resources, but does not allow management of Users and groups.',
    document: doc({ Effect: 'Allow', NotAction: ['iam:*', 'organizations:*', 'account:*'], Resource: '*' },
      allow(['iam:CreateServiceLinkedRole', 'iam:DeleteServiceLinkedRole', 'iam:ListRoles', 'organizations:DescribeOrganization', 'account:ListRegions'])) },
  { name: 'ReadOnlyAccess', path: '/', id: 'ANPAILL3HVNFSB6DCOWYQ', defaultVersion: 'v1',
    description: 'Provides read-only access to AWS services and resources.',
    document: doc(allow(['cloudwatch:Describe*', 'cloudwatch:Get*', 'cloudwatch:List*', 'codebuild:BatchGet*', 'codebuild:List*',
      'codecommit:BatchGet*', 'codecommit:Get*', 'codecommit:List*', 'codedeploy:BatchGet*', 'codedeploy:Get*', 'codedeploy:List*',
      'codepipeline:Get*', 'codepipeline:List*', 'ec2:Describe*', 'ecr:BatchGet*', 'ecr:Describe*', 'ecr:Get*', 'ecr:List*',
      'iam:Get*', 'iam:List*', 'logs:Describe*', 'logs:Get*', 'logs:FilterLogEvents', 'logs:StartQuery', 'logs:StopQuery',
      's3:Get*', 's3:List*', 'sts:GetCallerIdentity'])) },
  { name: 'IAMFullAccess', path: '/', id: 'ANPAI7XKCFMBPM3QQRRVQ', defaultVersion: 'v2',
    description: 'Provides full access to IAM via the AWS Management Console.',
    document: doc(allow(['iam:*', 'organizations:DescribeAccount', 'organizations:DescribeOrganization', 'organizations:DescribeOrganizationalUnit', 'organizations:DescribePolicy', 'organizations:ListChildren', 'organizations:ListParents', 'organizations:ListPoliciesForTarget', 'organizations:ListRoots', 'organizations:ListPolicies', 'organizations:ListTargetsForPolicy'])) },
  { name: 'AmazonS3FullAccess', path: '/', id: 'ANPAIFIR6V6BVTRAHWINE', defaultVersion: 'v2',
    description: 'Provides full access to all buckets via the AWS Management Console.',
    document: doc(allow(['s3:*', 's3-object-lambda:*'])) },
  { name: 'AmazonS3ReadOnlyAccess', path: '/', id: 'ANPAIZTJ4DXE7G6AGAE6M', defaultVersion: 'v3',
    description: 'Provides read only access to all buckets via the AWS Management Console.',
    document: doc(allow(['s3:Get*', 's3:List*', 's3:Describe*', 's3-object-lambda:Get*', 's3-object-lambda:List*'])) },
  { name: 'CloudWatchLogsFullAccess', path: '/', id: 'ANPAJ3ZGNWK2R5HW5BQFO', defaultVersion: 'v2',
    description: 'Provides full access to CloudWatch Logs',
    document: doc(allow(['logs:*', 'cloudwatch:GenerateQuery'])) },
  { name: 'CloudWatchLogsReadOnlyAccess', path: '/', id: 'ANPAJ2YIYDYSNNEHK3VKW', defaultVersion: 'v4',
    description: 'Provides read only access to CloudWatch Logs',
    document: doc(allow(['logs:Describe*', 'logs:Get*', 'logs:List*', 'logs:StartQuery', 'logs:StopQuery', 'logs:TestMetricFilter', 'logs:FilterLogEvents', 'logs:StartLiveTail', 'logs:StopLiveTail', 'cloudwatch:GenerateQuery'])) },
  { name: 'CloudWatchFullAccess', path: '/', id: 'ANPAIKEABORKUXN6DEAZU', defaultVersion: 'v4',
    description: 'Provides full access to CloudWatch.',
    document: doc(allow(['autoscaling:Describe*', 'cloudwatch:*', 'logs:*', 'sns:*', 'iam:GetPolicy', 'iam:GetPolicyVersion', 'iam:GetRole', 'oam:ListSinks'])) },
  { name: 'AWSCodeBuildAdminAccess', path: '/', id: 'ANPAJQJGIOIE3CD2TQXDS', defaultVersion: 'v14',
    description: 'Provides full access to AWS CodeBuild via the AWS Management Console. Also attach AmazonS3ReadOnlyAccess to provide access to download build artifacts, and attach IAMFullAccess to create and manage the service role for CodeBuild.',
    document: doc(allow(['codebuild:*', 'codecommit:GetBranch', 'codecommit:GetCommit', 'codecommit:GetRepository', 'codecommit:ListBranches', 'codecommit:ListRepositories',
      'ecr:DescribeRepositories', 'ecr:ListImages', 'logs:GetLogEvents', 'logs:DeleteLogGroup', 's3:GetBucketLocation', 's3:ListAllMyBuckets', 'iam:ListRoles'])) },
  { name: 'AWSCodeBuildDeveloperAccess', path: '/', id: 'ANPAIMKTMR34XSBQW45HS', defaultVersion: 'v12',
    description: 'Provides access to AWS CodeBuild via the AWS Management Console, but does not allow CodeBuild project administration.',
    document: doc(allow(['codebuild:StartBuild', 'codebuild:StopBuild', 'codebuild:BatchGet*', 'codebuild:GetResourcePolicy', 'codebuild:DescribeTestCases', 'codebuild:List*', 'codecommit:GetBranch', 'codecommit:GetCommit', 'codecommit:GetRepository', 'codecommit:ListBranches', 'logs:GetLogEvents', 's3:GetBucketLocation', 's3:ListAllMyBuckets'])) },
  { name: 'AWSCodePipeline_FullAccess', path: '/', id: 'ANPAZKAPJZG4DXHRXPXXN', defaultVersion: 'v3',
    description: 'Provides full access to AWS CodePipeline via the AWS Management Console.',
    document: doc(allow(['codepipeline:*', 'cloudformation:DescribeStacks', 'cloudformation:ListStacks', 'codebuild:BatchGetProjects', 'codebuild:ListProjects', 'codecommit:ListBranches', 'codecommit:ListRepositories',
      'codedeploy:GetApplication', 'codedeploy:GetDeploymentGroup', 'codedeploy:ListApplications', 'codedeploy:ListDeploymentGroups', 'ec2:DescribeSecurityGroups', 'ec2:DescribeSubnets', 'ec2:DescribeVpcs',
      'ecr:DescribeRepositories', 'ecs:ListClusters', 'ecs:ListServices', 'iam:ListRoles', 'lambda:ListFunctions', 's3:ListAllMyBuckets', 'sns:ListTopics'])) },
  { name: 'AWSCodePipeline_ReadOnlyAccess', path: '/', id: 'ANPAZKAPJZG4HQ4ZWLHKK', defaultVersion: 'v2',
    description: 'Provides read only access to AWS CodePipeline via the AWS Management Console.',
    document: doc(allow(['codepipeline:GetPipeline', 'codepipeline:GetPipelineExecution', 'codepipeline:GetPipelineState', 'codepipeline:ListActionExecutions', 'codepipeline:ListActionTypes', 'codepipeline:ListPipelineExecutions', 'codepipeline:ListPipelines', 'codepipeline:ListTagsForResource', 's3:GetBucketPolicy', 's3:GetObject', 's3:ListBucket'])) },
  { name: 'AWSCodeDeployRole', path: '/service-role/', id: 'ANPAJ2NKMKD73QS5NBFLA', defaultVersion: 'v12',
    description: 'Provides CodeDeploy service access to expand tags and interact with Auto Scaling on your behalf.',
    document: doc(allow(['autoscaling:CompleteLifecycleAction', 'autoscaling:DeleteLifecycleHook', 'autoscaling:DescribeAutoScalingGroups', 'autoscaling:DescribeLifecycleHooks', 'autoscaling:PutLifecycleHook', 'autoscaling:RecordLifecycleActionHeartbeat',
      'ec2:DescribeInstances', 'ec2:DescribeInstanceStatus', 'tag:GetResources', 'sns:Publish', 'cloudwatch:DescribeAlarms', 'cloudwatch:PutMetricAlarm', 'elasticloadbalancing:DescribeLoadBalancers', 'elasticloadbalancing:DescribeTargetGroups', 'elasticloadbalancing:RegisterTargets', 'elasticloadbalancing:DeregisterTargets'])) },
  { name: 'AWSCodeDeployFullAccess', path: '/', id: 'ANPAIONKN3TJZUKXCHXWC', defaultVersion: 'v1',
    description: 'Provides full access to CodeDeploy resources.', document: doc(allow('codedeploy:*')) },
  { name: 'AWSCodeCommitFullAccess', path: '/', id: 'ANPAI4VCZ3XPIZLQ5NZV2', defaultVersion: 'v8',
    description: 'Provides full access to AWS CodeCommit via the AWS Management Console.', document: doc(allow('codecommit:*')) },
  { name: 'AWSLambdaBasicExecutionRole', path: '/service-role/', id: 'ANPAJNCQGXC42545SKXIK', defaultVersion: 'v1',
    description: 'Provides write permissions to CloudWatch Logs.',
    document: doc(allow(['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'])) },
  { name: 'AmazonEC2ContainerRegistryReadOnly', path: '/', id: 'ANPAIFYZPA37OOHVIH7KQ', defaultVersion: 'v3',
    description: 'Provides read-only access to Amazon EC2 Container Registry repositories.',
    document: doc(allow(['ecr:GetAuthorizationToken', 'ecr:BatchCheckLayerAvailability', 'ecr:GetDownloadUrlForLayer', 'ecr:GetRepositoryPolicy', 'ecr:DescribeRepositories', 'ecr:ListImages', 'ecr:DescribeImages', 'ecr:BatchGetImage', 'ecr:GetLifecyclePolicy', 'ecr:GetLifecyclePolicyPreview', 'ecr:ListTagsForResource', 'ecr:DescribeImageScanFindings'])) },
  { name: 'AmazonSSMManagedInstanceCore', path: '/', id: 'ANPAIXSHM2BNB2D3AXXRU', defaultVersion: 'v2',
    description: 'The policy for Amazon EC2 Role to enable AWS Systems Manager service core functionality.',
    document: doc(allow(['ssm:DescribeAssociation', 'ssm:GetDeployablePatchSnapshotForInstance', 'ssm:GetDocument', 'ssm:DescribeDocument', 'ssm:GetManifest', 'ssm:GetParameter', 'ssm:GetParameters', 'ssm:ListAssociations', 'ssm:ListInstanceAssociations', 'ssm:PutInventory', 'ssm:PutComplianceItems', 'ssm:PutConfigurePackageResult', 'ssm:UpdateAssociationStatus', 'ssm:UpdateInstanceAssociationStatus', 'ssm:UpdateInstanceInformation', 'ssmmessages:*', 'ec2messages:*'])) },
];

const byArn = new Map(AWS_MANAGED_POLICIES.map((p) => [`arn:aws:iam::aws:policy${p.path}${p.name}`, p]));

export const awsPolicyArn = (p: AwsManagedPolicy) => `arn:aws:iam::aws:policy${p.path}${p.name}`;
export const findAwsManagedPolicy = (arn: string) => byArn.get(arn);
