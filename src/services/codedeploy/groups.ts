/**
 * Deployment groups: what a deployment goes to (on-premises instances by tag, a Lambda function's
 * alias named in the AppSpec, an ECS service behind a target group pair), with which config, and
 * what stops and rolls it back (alarms, auto-rollback events). Checked as AWS checks them.
 */
import { randomUUID } from 'node:crypto';
import { AwsError } from '../../core/errors.js';
import { pageByOffset } from '../../core/pagination.js';
import type { Tags } from '../../core/tags.js';
import type {
  AlarmConfiguration,
  AutoRollbackConfiguration,
  CodedeployHandlers,
  CreateDeploymentGroupInput,
  DeploymentGroupInfoOut,
  DeploymentStyle,
} from './api.generated.js';
import { checkApplicationName, checkGroupName, groupArn, invalidNextToken, tagMap, tagRules } from './common.js';
import { DEFAULT_CONFIG, requireConfig } from './configs.js';
import type { ComputePlatform, GroupDoc } from './model.js';
import type { AppRow, CodedeployStore } from './store.js';

const MAX_ALARMS = 10;
const MAX_TRIGGERS = 10;
const ROLLBACK_EVENTS = ['DEPLOYMENT_FAILURE', 'DEPLOYMENT_STOP_ON_ALARM', 'DEPLOYMENT_STOP_ON_REQUEST'];

function checkAlarms(a: AlarmConfiguration | undefined) {
  if (!a) return;
  if ((a.alarms?.length ?? 0) > MAX_ALARMS)
    throw new AwsError('AlarmsLimitExceededException', 'The maximum number of alarms for a deployment group (10) was exceeded.');
  if (a.enabled && (!a.alarms?.length || a.alarms.some((x) => !x.name)))
    throw new AwsError(
      'InvalidAlarmConfigException',
      'The alarm configuration is invalid: an enabled alarm configuration needs at least one alarm with a name.',
    );
}

function checkRollback(r: AutoRollbackConfiguration | undefined) {
  if (!r?.enabled) return;
  if (!r.events?.length || r.events.some((e) => !ROLLBACK_EVENTS.includes(e)))
    throw new AwsError(
      'InvalidAutoRollbackConfigException',
      'The automatic rollback configuration is invalid: when enabled it needs events from DEPLOYMENT_FAILURE, DEPLOYMENT_STOP_ON_ALARM, DEPLOYMENT_STOP_ON_REQUEST.',
    );
}

/** AWS fills the style a platform allows: Lambda and ECS are blue/green with traffic control, Server defaults to in-place. */
function styleFor(platform: ComputePlatform, style: DeploymentStyle | undefined): DeploymentStyle {
  if (platform === 'Server')
    return { deploymentType: style?.deploymentType ?? 'IN_PLACE', deploymentOption: style?.deploymentOption ?? 'WITHOUT_TRAFFIC_CONTROL' };
  if (platform === 'Lambda') return { deploymentType: 'BLUE_GREEN', deploymentOption: 'WITH_TRAFFIC_CONTROL' };
  if (
    (style?.deploymentType ?? 'BLUE_GREEN') !== 'BLUE_GREEN' ||
    (style?.deploymentOption ?? 'WITH_TRAFFIC_CONTROL') !== 'WITH_TRAFFIC_CONTROL'
  )
    throw new AwsError(
      'InvalidDeploymentStyleException',
      'An ECS deployment group must use deploymentType BLUE_GREEN with deploymentOption WITH_TRAFFIC_CONTROL.',
    );
  return { deploymentType: 'BLUE_GREEN', deploymentOption: 'WITH_TRAFFIC_CONTROL' };
}

type GroupSettings = Omit<CreateDeploymentGroupInput, 'applicationName' | 'deploymentGroupName' | 'tags'>;

/** The group `settings` describe for an application on `platform`, or AWS's error for what is wrong. */
function groupDoc(
  store: CodedeployStore,
  ctx: { account: string; region: string },
  app: AppRow,
  name: string,
  id: string,
  s: GroupSettings,
): GroupDoc {
  const platform = app.platform as ComputePlatform;
  if (!/^arn:aws:iam::\d{12}:role\/.+/.test(s.serviceRoleArn))
    throw new AwsError('InvalidRoleException', 'The service role ARN was specified in an invalid format.');
  const configName = s.deploymentConfigName ?? DEFAULT_CONFIG[platform];
  const config = requireConfig(store, ctx, configName);
  if (config.computePlatform !== platform)
    throw new AwsError(
      'InvalidDeploymentConfigNameException',
      `Deployment config ${configName} is for the ${config.computePlatform} compute platform, not ${platform}.`,
    );
  if (s.onPremisesInstanceTagFilters?.length && s.onPremisesTagSet)
    throw new AwsError(
      'InvalidOnPremisesTagCombinationException',
      'A call was submitted that specified both OnPremisesTagFilters and OnPremisesTagSet, but only one of these data types can be used in a single call.',
    );
  if ((s.onPremisesTagSet?.onPremisesTagSetList?.length ?? 0) > 3)
    throw new AwsError(
      'TagSetListLimitExceededException',
      'The number of tag groups included in the tag set list exceeded the maximum allowed limit of 3.',
    );
  if ((s.triggerConfigurations?.length ?? 0) > MAX_TRIGGERS)
    throw new AwsError('TriggerTargetsLimitExceededException', 'The maximum allowed number of triggers was exceeded.');
  checkAlarms(s.alarmConfiguration);
  checkRollback(s.autoRollbackConfiguration);
  const deploymentStyle = styleFor(platform, s.deploymentStyle);
  if (platform === 'ECS') {
    if (s.ecsServices?.length !== 1)
      throw new AwsError('InvalidECSServiceException', 'An ECS deployment group needs exactly one ECS service.');
    const pair = s.loadBalancerInfo?.targetGroupPairInfoList?.[0];
    if (!pair || pair.targetGroups?.length !== 2 || !pair.prodTrafficRoute?.listenerArns?.length)
      throw new AwsError(
        'InvalidTargetGroupPairException',
        'An ECS deployment group needs a target group pair with two target groups and a production listener.',
      );
    if (!s.blueGreenDeploymentConfiguration)
      throw new AwsError(
        'InvalidBlueGreenDeploymentConfigurationException',
        'An ECS deployment group needs a blueGreenDeploymentConfiguration.',
      );
  }
  return {
    applicationName: app.name,
    deploymentGroupId: id,
    deploymentGroupName: name,
    deploymentConfigName: configName,
    computePlatform: platform,
    serviceRoleArn: s.serviceRoleArn,
    onPremisesInstanceTagFilters: s.onPremisesInstanceTagFilters,
    onPremisesTagSet: s.onPremisesTagSet,
    ec2TagFilters: s.ec2TagFilters,
    triggerConfigurations: s.triggerConfigurations,
    alarmConfiguration: s.alarmConfiguration,
    autoRollbackConfiguration: s.autoRollbackConfiguration,
    deploymentStyle,
    blueGreenDeploymentConfiguration: s.blueGreenDeploymentConfiguration,
    loadBalancerInfo: s.loadBalancerInfo,
    ecsServices: s.ecsServices,
    outdatedInstancesStrategy: s.outdatedInstancesStrategy ?? 'UPDATE',
  };
}

export const groupView = (g: GroupDoc): DeploymentGroupInfoOut => ({
  applicationName: g.applicationName,
  deploymentGroupId: g.deploymentGroupId,
  deploymentGroupName: g.deploymentGroupName,
  deploymentConfigName: g.deploymentConfigName,
  ec2TagFilters: g.ec2TagFilters ?? [],
  onPremisesInstanceTagFilters: g.onPremisesInstanceTagFilters ?? [],
  autoScalingGroups: [],
  serviceRoleArn: g.serviceRoleArn,
  targetRevision: g.targetRevision,
  triggerConfigurations: g.triggerConfigurations ?? [],
  alarmConfiguration: g.alarmConfiguration ?? { enabled: false, ignorePollAlarmFailure: false, alarms: [] },
  autoRollbackConfiguration: g.autoRollbackConfiguration ?? { enabled: false },
  deploymentStyle: g.deploymentStyle,
  outdatedInstancesStrategy: g.outdatedInstancesStrategy,
  blueGreenDeploymentConfiguration: g.blueGreenDeploymentConfiguration,
  loadBalancerInfo: g.loadBalancerInfo,
  lastSuccessfulDeployment: g.lastSuccessfulDeployment && {
    ...g.lastSuccessfulDeployment,
    endTime: g.lastSuccessfulDeployment.endTime === undefined ? undefined : new Date(g.lastSuccessfulDeployment.endTime),
    createTime: new Date(g.lastSuccessfulDeployment.createTime),
  },
  lastAttemptedDeployment: g.lastAttemptedDeployment && {
    ...g.lastAttemptedDeployment,
    endTime: g.lastAttemptedDeployment.endTime === undefined ? undefined : new Date(g.lastAttemptedDeployment.endTime),
    createTime: new Date(g.lastAttemptedDeployment.createTime),
  },
  onPremisesTagSet: g.onPremisesTagSet,
  computePlatform: g.computePlatform,
  ecsServices: g.ecsServices,
  terminationHookEnabled: false,
});

export function groupHandlers(store: CodedeployStore, tags: Tags): CodedeployHandlers {
  const app = (ctx: { account: string; region: string }, name: string | undefined) => store.requireApp(ctx, checkApplicationName(name));
  return {
    CreateDeploymentGroup(input, ctx) {
      const a = app(ctx, input.applicationName);
      const name = checkGroupName(input.deploymentGroupName);
      if (store.group(a, name))
        throw new AwsError('DeploymentGroupAlreadyExistsException', `Deployment group ${name} already exists for application ${a.name}.`);
      const { applicationName: _a, deploymentGroupName: _g, tags: tagList, ...settings } = input;
      const doc = groupDoc(store, ctx, a, name, randomUUID(), settings);
      const tagged = tagMap(tagList);
      store.transaction(() => {
        store.putGroup(a, doc);
        if (Object.keys(tagged).length) tags.add(groupArn(ctx, a.name, name), tagged, tagRules);
      });
      return { deploymentGroupId: doc.deploymentGroupId };
    },

    GetDeploymentGroup(input, ctx) {
      const a = app(ctx, input.applicationName);
      return { deploymentGroupInfo: groupView(store.requireGroup(a, checkGroupName(input.deploymentGroupName))) };
    },

    BatchGetDeploymentGroups(input, ctx) {
      const a = app(ctx, input.applicationName);
      const found: DeploymentGroupInfoOut[] = [];
      const missing: string[] = [];
      for (const n of input.deploymentGroupNames) {
        const g = store.group(a, n);
        if (g) found.push(groupView(g));
        else missing.push(n);
      }
      return {
        deploymentGroupsInfo: found,
        errorMessage: missing.length ? `Deployment groups not found: ${missing.join(', ')}` : undefined,
      };
    },

    ListDeploymentGroups(input, ctx) {
      const a = app(ctx, input.applicationName);
      const page = pageByOffset(
        store.groups(a).map((g) => g.deploymentGroupName),
        input.nextToken,
        100,
        invalidNextToken,
      );
      return { applicationName: a.name, deploymentGroups: page.items, nextToken: page.nextToken };
    },

    UpdateDeploymentGroup(input, ctx) {
      const a = app(ctx, input.applicationName);
      const current = store.requireGroup(a, checkGroupName(input.currentDeploymentGroupName));
      const name = checkGroupName(input.newDeploymentGroupName ?? current.deploymentGroupName);
      if (name !== current.deploymentGroupName && store.group(a, name))
        throw new AwsError('DeploymentGroupAlreadyExistsException', `Deployment group ${name} already exists for application ${a.name}.`);
      const pick = <K extends keyof GroupSettings>(k: K): GroupSettings[K] =>
        (input[k as keyof typeof input] ?? current[k as keyof GroupDoc]) as GroupSettings[K];
      const settings: GroupSettings = {
        serviceRoleArn: input.serviceRoleArn ?? current.serviceRoleArn,
        deploymentConfigName: input.deploymentConfigName ?? current.deploymentConfigName,
        ec2TagFilters: pick('ec2TagFilters'),
        onPremisesInstanceTagFilters: pick('onPremisesInstanceTagFilters'),
        onPremisesTagSet: pick('onPremisesTagSet'),
        triggerConfigurations: pick('triggerConfigurations'),
        alarmConfiguration: pick('alarmConfiguration'),
        autoRollbackConfiguration: pick('autoRollbackConfiguration'),
        outdatedInstancesStrategy: pick('outdatedInstancesStrategy'),
        deploymentStyle: pick('deploymentStyle'),
        blueGreenDeploymentConfiguration: pick('blueGreenDeploymentConfiguration'),
        loadBalancerInfo: pick('loadBalancerInfo'),
        ecsServices: pick('ecsServices'),
      };
      const doc = {
        ...groupDoc(store, ctx, a, name, current.deploymentGroupId, settings),
        targetRevision: current.targetRevision,
        lastSuccessfulDeployment: current.lastSuccessfulDeployment,
        lastAttemptedDeployment: current.lastAttemptedDeployment,
      };
      store.transaction(() => {
        if (name !== current.deploymentGroupName)
          tags.move(groupArn(ctx, a.name, current.deploymentGroupName), groupArn(ctx, a.name, name));
        store.putGroup(a, doc);
      });
      return { hooksNotCleanedUp: [] };
    },

    DeleteDeploymentGroup(input, ctx) {
      const a = app(ctx, input.applicationName);
      const g = store.group(a, checkGroupName(input.deploymentGroupName));
      if (g)
        store.transaction(() => {
          tags.delete(groupArn(ctx, a.name, g.deploymentGroupName));
          store.deleteGroup(g);
        });
      return { hooksNotCleanedUp: [] };
    },
  };
}
