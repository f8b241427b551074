/**
 * The documents CodeDeploy keeps (store.ts holds them as JSON): a deployment group's settings, a
 * deployment and its progress, a deployment target and its lifecycle events, an on-premises
 * instance, a registered revision. Timestamps are epoch milliseconds here and Dates on the wire.
 */
import type {
  AlarmConfiguration,
  AutoRollbackConfiguration,
  BlueGreenDeploymentConfiguration,
  DeploymentStyle,
  ECSService,
  ErrorInformation,
  LoadBalancerInfo,
  RevisionLocation,
  TagFilter,
  TriggerConfig,
} from './api.generated.js';

export type ComputePlatform = 'Server' | 'Lambda' | 'ECS';

export interface GroupDoc {
  applicationName: string;
  deploymentGroupId: string;
  deploymentGroupName: string;
  deploymentConfigName: string;
  computePlatform: ComputePlatform;
  serviceRoleArn: string;
  onPremisesInstanceTagFilters?: TagFilter[];
  onPremisesTagSet?: { onPremisesTagSetList?: TagFilter[][] };
  ec2TagFilters?: TagFilter[];
  triggerConfigurations?: TriggerConfig[];
  alarmConfiguration?: AlarmConfiguration;
  autoRollbackConfiguration?: AutoRollbackConfiguration;
  deploymentStyle: DeploymentStyle;
  blueGreenDeploymentConfiguration?: BlueGreenDeploymentConfiguration;
  loadBalancerInfo?: LoadBalancerInfo;
  ecsServices?: ECSService[];
  outdatedInstancesStrategy?: string;
  targetRevision?: RevisionLocation;
  lastSuccessfulDeployment?: LastDeployment;
  lastAttemptedDeployment?: LastDeployment;
}

export interface LastDeployment {
  deploymentId: string;
  status: string;
  endTime?: number;
  createTime: number;
}

export type DeploymentStatus = 'Created' | 'Queued' | 'InProgress' | 'Baking' | 'Succeeded' | 'Failed' | 'Stopped' | 'Ready';

export interface DeploymentDoc {
  account: string;
  region: string;
  deploymentId: string;
  applicationName: string;
  deploymentGroupName: string;
  deploymentConfigName: string;
  computePlatform: ComputePlatform;
  revision: RevisionLocation;
  previousRevision?: RevisionLocation;
  status: DeploymentStatus;
  errorInformation?: ErrorInformation;
  createTime: number;
  startTime?: number;
  completeTime?: number;
  creator: 'user' | 'autoscaling' | 'codeDeployRollback' | 'CodeDeploy' | 'CloudFormation';
  description?: string;
  ignoreApplicationStopFailures: boolean;
  autoRollbackConfiguration?: AutoRollbackConfiguration;
  overrideAlarmConfiguration?: AlarmConfiguration;
  updateOutdatedInstancesOnly: boolean;
  fileExistsBehavior: string;
  rollbackInfo?: { rollbackDeploymentId?: string; rollbackTriggeringDeploymentId?: string; rollbackMessage?: string };
  deploymentStatusMessages: string[];
  instanceTerminationWaitTimeStarted?: boolean;
  /** The user or role that created it (DORA and the console show who deployed). */
  createdBy: string;
  /** Where the engine is, so a restart resumes: traffic shifted so far (Lambda, ECS), the step reached. */
  progress: { step: number; weight: number };
}

export type TargetStatus = 'Pending' | 'InProgress' | 'Succeeded' | 'Failed' | 'Skipped' | 'Unknown' | 'Ready';

export interface LifecycleEventDoc {
  lifecycleEventName: string;
  status: 'Pending' | 'InProgress' | 'Succeeded' | 'Failed' | 'Skipped' | 'Unknown';
  startTime?: number;
  endTime?: number;
  diagnostics?: { errorCode: string; scriptName: string; message: string; logTail: string };
  /** The hook execution a Lambda hook function reports on with PutLifecycleEventHookExecutionStatus. */
  hookExecutionId?: string;
}

export interface TargetDoc {
  deploymentId: string;
  targetId: string;
  targetArn: string;
  deploymentTargetType: 'InstanceTarget' | 'LambdaTarget' | 'ECSTarget';
  status: TargetStatus;
  lastUpdatedAt: number;
  lifecycleEvents: LifecycleEventDoc[];
  lambdaFunctionInfo?: {
    functionName: string;
    functionAlias: string;
    currentVersion: string;
    targetVersion: string;
    targetVersionWeight: number;
  };
}

export interface InstanceDoc {
  instanceName: string;
  instanceArn: string;
  iamUserArn?: string;
  iamSessionArn?: string;
  registerTime: number;
  deregisterTime?: number;
  tags: { Key: string; Value: string }[];
}

export interface RevisionDoc {
  revisionLocation: RevisionLocation;
  description?: string;
  deploymentGroups: string[];
  firstUsedTime?: number;
  lastUsedTime?: number;
  registerTime: number;
}
