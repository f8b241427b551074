/**
 * Deployments and their targets: CreateDeployment (checked, recorded, handed to the runner),
 * Get/BatchGet/List, StopDeployment (with or without rollback), ContinueDeployment, the target and
 * instance views with their lifecycle events, and PutLifecycleEventHookExecutionStatus, through
 * which a hook function reports back.
 */
import { AwsError } from '../../core/errors.js';
import { pageByOffset } from '../../core/pagination.js';
import type { RequestContext } from '../../gateway/context.js';
import type { CodedeployHandlers, DeploymentInfoOut, DeploymentTargetOut, RevisionLocation } from './api.generated.js';
import { checkApplicationName, checkGroupName, deploymentId, invalidNextToken } from './common.js';
import { DEFAULT_CONFIG, requireConfig } from './configs.js';
import type { DeploymentRunner } from './engine/runner.js';
import type { DeploymentDoc, GroupDoc, TargetDoc } from './model.js';
import { checkRevision, recordRevisionUse } from './revisions.js';
import type { AppRow, CodedeployStore } from './store.js';

const ACTIVE = ['Created', 'Queued', 'InProgress', 'Baking', 'Ready'];
const STATUSES = ['Created', 'Queued', 'InProgress', 'Baking', 'Succeeded', 'Failed', 'Stopped', 'Ready'];
const date = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms));

function checkDeploymentId(id: string | undefined): string {
  if (!id) throw new AwsError('DeploymentIdRequiredException', 'Deployment ID is required');
  if (!/^d-[A-Z0-9]{9}$/.test(id))
    throw new AwsError('InvalidDeploymentIdException', `Specified DeploymentId is not in the valid format: ${id}`);
  return id;
}

export function deploymentView(store: CodedeployStore, d: DeploymentDoc, g: GroupDoc | undefined): DeploymentInfoOut {
  const targets = store.targets(d.deploymentId);
  const count = (s: string) => targets.filter((t) => t.status === s).length;
  return {
    applicationName: d.applicationName,
    deploymentGroupName: d.deploymentGroupName,
    deploymentConfigName: d.deploymentConfigName,
    deploymentId: d.deploymentId,
    previousRevision: d.previousRevision,
    revision: d.revision,
    status: d.status,
    errorInformation: d.errorInformation,
    createTime: date(d.createTime),
    startTime: date(d.startTime),
    completeTime: date(d.completeTime),
    deploymentOverview: {
      Pending: count('Pending'),
      InProgress: count('InProgress'),
      Succeeded: count('Succeeded'),
      Failed: count('Failed'),
      Skipped: count('Skipped'),
      Ready: count('Ready'),
    },
    description: d.description,
    creator: d.creator,
    ignoreApplicationStopFailures: d.ignoreApplicationStopFailures,
    autoRollbackConfiguration: d.autoRollbackConfiguration ?? g?.autoRollbackConfiguration,
    updateOutdatedInstancesOnly: d.updateOutdatedInstancesOnly,
    rollbackInfo: d.rollbackInfo,
    deploymentStyle: g?.deploymentStyle,
    instanceTerminationWaitTimeStarted: false,
    loadBalancerInfo: g?.loadBalancerInfo,
    fileExistsBehavior: d.fileExistsBehavior,
    deploymentStatusMessages: d.deploymentStatusMessages,
    computePlatform: d.computePlatform,
    overrideAlarmConfiguration: d.overrideAlarmConfiguration,
  };
}

function targetView(t: TargetDoc): DeploymentTargetOut {
  const base = {
    deploymentId: t.deploymentId,
    targetId: t.targetId,
    targetArn: t.targetArn,
    status: t.status,
    lastUpdatedAt: new Date(t.lastUpdatedAt),
    lifecycleEvents: t.lifecycleEvents.map((e) => ({
      lifecycleEventName: e.lifecycleEventName,
      diagnostics: e.diagnostics,
      startTime: date(e.startTime),
      endTime: date(e.endTime),
      status: e.status,
    })),
  };
  if (t.deploymentTargetType === 'LambdaTarget')
    return { deploymentTargetType: 'LambdaTarget', lambdaTarget: { ...base, lambdaFunctionInfo: t.lambdaFunctionInfo } };
  if (t.deploymentTargetType === 'ECSTarget') return { deploymentTargetType: 'ECSTarget', ecsTarget: base };
  return { deploymentTargetType: 'InstanceTarget', instanceTarget: base };
}

export function deploymentHandlers(store: CodedeployStore, runner: DeploymentRunner): CodedeployHandlers {
  const requireDeployment = (ctx: RequestContext, id: string | undefined) => {
    const d = store.deployment(checkDeploymentId(id));
    if (!d || d.account !== ctx.account || d.region !== ctx.region)
      throw new AwsError('DeploymentDoesNotExistException', `Deployment ${id} does not exist.`);
    return d;
  };
  const groupOf = (d: DeploymentDoc) => {
    const app = store.app(d, d.applicationName);
    return app && store.group(app, d.deploymentGroupName);
  };
  const requireTarget = (d: DeploymentDoc, targetId: string | undefined) => {
    if (!targetId) throw new AwsError('DeploymentTargetIdRequiredException', 'A deployment target ID was not provided.');
    const t = store.target(d.deploymentId, targetId);
    if (!t)
      throw new AwsError(
        'DeploymentTargetDoesNotExistException',
        `The provided target ID ${targetId} does not belong to the attempted deployment.`,
      );
    return t;
  };

  return {
    CreateDeployment(input, ctx) {
      const app = store.requireApp(ctx, checkApplicationName(input.applicationName));
      if (input.deploymentGroupName === undefined)
        throw new AwsError('DeploymentGroupNameRequiredException', 'Deployment group name is required');
      const g = store.requireGroup(app, checkGroupName(input.deploymentGroupName));
      const revision = checkRevision(input.revision ?? g.targetRevision);
      const configName = input.deploymentConfigName ?? g.deploymentConfigName ?? DEFAULT_CONFIG[g.computePlatform];
      const config = requireConfig(store, ctx, configName);
      if (config.computePlatform !== g.computePlatform)
        throw new AwsError(
          'InvalidDeploymentConfigNameException',
          `Deployment config ${configName} is for the ${config.computePlatform} compute platform, not ${g.computePlatform}.`,
        );
      const fileExistsBehavior = input.fileExistsBehavior ?? 'DISALLOW';
      if (!['DISALLOW', 'OVERWRITE', 'RETAIN'].includes(fileExistsBehavior))
        throw new AwsError('InvalidFileExistsBehaviorException', 'An invalid fileExistsBehavior option was specified.');
      if (g.computePlatform !== 'Server' && input.ignoreApplicationStopFailures)
        throw new AwsError(
          'InvalidIgnoreApplicationStopFailuresValueException',
          `The IgnoreApplicationStopFailures value is invalid. For ${g.computePlatform} deployments, false is expected.`,
        );
      return store.transaction(() => {
        const active = store
          .deployments(ctx)
          .find((d) => d.applicationName === app.name && d.deploymentGroupName === g.deploymentGroupName && ACTIVE.includes(d.status));
        if (active)
          throw new AwsError(
            'DeploymentLimitExceededException',
            `The Deployment Group '${g.deploymentGroupName}' already has an active Deployment '${active.deploymentId}'`,
          );
        const d = newDeployment(ctx, app, g, revision, configName, {
          description: input.description,
          ignoreApplicationStopFailures: !!input.ignoreApplicationStopFailures,
          autoRollbackConfiguration: input.autoRollbackConfiguration,
          overrideAlarmConfiguration: input.overrideAlarmConfiguration,
          updateOutdatedInstancesOnly: !!input.updateOutdatedInstancesOnly,
          fileExistsBehavior,
          creator: 'user',
          createdBy: ctx.caller.arn,
        });
        store.putDeployment(d);
        recordRevisionUse(store, app, revision, g.deploymentGroupName, d.createTime);
        runner.launch(d);
        return { deploymentId: d.deploymentId };
      });
    },

    GetDeployment(input, ctx) {
      const d = requireDeployment(ctx, input.deploymentId);
      return { deploymentInfo: deploymentView(store, d, groupOf(d)) };
    },

    BatchGetDeployments(input, ctx) {
      if (input.deploymentIds.length > 25)
        throw new AwsError('BatchLimitExceededException', 'The maximum number of names or IDs allowed for this request (25) was exceeded.');
      const found = input.deploymentIds.flatMap((id) => {
        const d = store.deployment(checkDeploymentId(id));
        return d && d.account === ctx.account && d.region === ctx.region ? [deploymentView(store, d, groupOf(d))] : [];
      });
      return { deploymentsInfo: found };
    },

    ListDeployments(input, ctx) {
      if (input.deploymentGroupName !== undefined && input.applicationName === undefined)
        throw new AwsError('ApplicationNameRequiredException', 'If deploymentGroupName is specified, applicationName must be specified.');
      if (input.applicationName !== undefined && input.deploymentGroupName === undefined)
        throw new AwsError(
          'DeploymentGroupNameRequiredException',
          'If applicationName is specified, then deploymentGroupName must be specified.',
        );
      if (input.applicationName !== undefined) store.requireGroup(store.requireApp(ctx, input.applicationName), input.deploymentGroupName!);
      for (const s of input.includeOnlyStatuses ?? [])
        if (!STATUSES.includes(s))
          throw new AwsError('InvalidDeploymentStatusException', `The specified deployment status doesn't exist: ${s}`);
      const start = input.createTimeRange?.start ? new Date(input.createTimeRange.start).getTime() : -Infinity;
      const end = input.createTimeRange?.end ? new Date(input.createTimeRange.end).getTime() : Infinity;
      const ids = store
        .deployments(ctx)
        .filter(
          (d) =>
            (input.applicationName === undefined ||
              (d.applicationName === input.applicationName && d.deploymentGroupName === input.deploymentGroupName)) &&
            (!input.includeOnlyStatuses?.length || input.includeOnlyStatuses.includes(d.status)) &&
            d.createTime >= start &&
            d.createTime <= end,
        )
        .map((d) => d.deploymentId);
      const page = pageByOffset(ids, input.nextToken, 100, invalidNextToken);
      return { deployments: page.items, nextToken: page.nextToken };
    },

    StopDeployment(input, ctx) {
      const d = requireDeployment(ctx, input.deploymentId);
      if (!ACTIVE.includes(d.status))
        throw new AwsError('DeploymentAlreadyCompletedException', `Deployment is already completed: ${d.deploymentId}`);
      runner.stop(d, !!input.autoRollbackEnabled);
      return { status: 'Pending', statusMessage: 'Stopping Pending. Stopping to schedule commands in the deployment instances' };
    },

    ContinueDeployment(input, ctx) {
      const d = requireDeployment(ctx, input.deploymentId);
      if (
        input.deploymentWaitType !== undefined &&
        input.deploymentWaitType !== 'READY_WAIT' &&
        input.deploymentWaitType !== 'TERMINATION_WAIT'
      )
        throw new AwsError('InvalidDeploymentWaitTypeException', 'The wait type is invalid.');
      if (d.status !== 'Ready')
        throw new AwsError('DeploymentIsNotInReadyStateException', `The deployment ${d.deploymentId} is not in the Ready state.`);
    },

    ListDeploymentTargets(input, ctx) {
      const d = requireDeployment(ctx, input.deploymentId);
      const statuses = input.targetFilters?.TargetStatus;
      const ids = store
        .targets(d.deploymentId)
        .filter((t) => !statuses?.length || statuses.includes(t.status))
        .map((t) => t.targetId);
      const page = pageByOffset(ids, input.nextToken, 100, invalidNextToken);
      return { targetIds: page.items, nextToken: page.nextToken };
    },

    GetDeploymentTarget(input, ctx) {
      const d = requireDeployment(ctx, input.deploymentId);
      return { deploymentTarget: targetView(requireTarget(d, input.targetId)) };
    },

    BatchGetDeploymentTargets(input, ctx) {
      const d = requireDeployment(ctx, input.deploymentId);
      if (input.targetIds.length > 25)
        throw new AwsError(
          'DeploymentTargetListSizeExceededException',
          'The maximum number of targets that can be associated with a deployment was exceeded.',
        );
      return { deploymentTargets: input.targetIds.map((id) => targetView(requireTarget(d, id))) };
    },

    ListDeploymentInstances(input, ctx) {
      const d = requireDeployment(ctx, input.deploymentId);
      const statuses = input.instanceStatusFilter;
      const ids = store
        .targets(d.deploymentId)
        .filter((t) => t.deploymentTargetType === 'InstanceTarget' && (!statuses?.length || statuses.includes(t.status)))
        .map((t) => t.targetId);
      const page = pageByOffset(ids, input.nextToken, 100, invalidNextToken);
      return { instancesList: page.items, nextToken: page.nextToken };
    },

    GetDeploymentInstance(input, ctx) {
      const d = requireDeployment(ctx, input.deploymentId);
      if (!input.instanceId) throw new AwsError('InstanceIdRequiredException', 'Instance ID is required');
      const t = store.target(d.deploymentId, input.instanceId);
      if (!t)
        throw new AwsError(
          'InstanceDoesNotExistException',
          `The specified instance ${input.instanceId} does not exist in the deployment group.`,
        );
      const v = targetView(t).instanceTarget!;
      return {
        instanceSummary: {
          deploymentId: d.deploymentId,
          instanceId: t.targetArn,
          status: v.status,
          lastUpdatedAt: v.lastUpdatedAt,
          lifecycleEvents: v.lifecycleEvents,
        },
      };
    },

    PutLifecycleEventHookExecutionStatus(input, ctx) {
      const d = requireDeployment(ctx, input.deploymentId);
      if (input.status !== 'Succeeded' && input.status !== 'Failed')
        throw new AwsError(
          'InvalidLifecycleEventHookExecutionStatusException',
          'The result of a Lambda validation function that verifies a lifecycle event is invalid. It should return Succeeded or Failed.',
        );
      const id = input.lifecycleEventHookExecutionId;
      const event = store
        .targets(d.deploymentId)
        .flatMap((t) => t.lifecycleEvents)
        .find((e) => e.hookExecutionId === id);
      if (!id || !event)
        throw new AwsError(
          'InvalidLifecycleEventHookExecutionIdException',
          `The lifecycle event hook execution id ${id} is not valid for deployment ${d.deploymentId}.`,
        );
      if (event.status !== 'InProgress' || !runner.reportHook(id, input.status))
        throw new AwsError(
          'LifecycleEventAlreadyCompletedException',
          `The lifecycle event ${event.lifecycleEventName} of deployment ${d.deploymentId} is already completed.`,
        );
      return { lifecycleEventHookExecutionId: id };
    },
  };

  function newDeployment(
    ctx: { account: string; region: string; clock: { now(): number } },
    app: AppRow,
    g: GroupDoc,
    revision: RevisionLocation,
    configName: string,
    rest: Pick<
      DeploymentDoc,
      | 'description'
      | 'ignoreApplicationStopFailures'
      | 'autoRollbackConfiguration'
      | 'overrideAlarmConfiguration'
      | 'updateOutdatedInstancesOnly'
      | 'fileExistsBehavior'
      | 'creator'
      | 'createdBy'
    > & { rollbackInfo?: DeploymentDoc['rollbackInfo'] },
  ): DeploymentDoc {
    return {
      account: ctx.account,
      region: ctx.region,
      deploymentId: deploymentId(),
      applicationName: app.name,
      deploymentGroupName: g.deploymentGroupName,
      deploymentConfigName: configName,
      computePlatform: g.computePlatform,
      revision,
      previousRevision: g.targetRevision,
      status: 'Created',
      createTime: ctx.clock.now(),
      deploymentStatusMessages: [],
      progress: { step: 0, weight: 0 },
      ...rest,
    };
  }
}

/** The rollback of `of` to `revision` as a deployment of its own (AWS's creator codeDeployRollback), saved and started. */
export function rollbackStarter(store: CodedeployStore, now: () => number, runnerOf: () => DeploymentRunner) {
  return (of: DeploymentDoc, revision: RevisionLocation): string => {
    const app = store.app(of, of.applicationName)!;
    const g = store.group(app, of.deploymentGroupName)!;
    const d: DeploymentDoc = {
      account: of.account,
      region: of.region,
      deploymentId: deploymentId(),
      applicationName: of.applicationName,
      deploymentGroupName: of.deploymentGroupName,
      deploymentConfigName: g.computePlatform === 'Server' ? of.deploymentConfigName : DEFAULT_CONFIG[g.computePlatform],
      computePlatform: of.computePlatform,
      revision,
      previousRevision: of.revision,
      status: 'Created',
      createTime: now(),
      creator: 'codeDeployRollback',
      ignoreApplicationStopFailures: of.ignoreApplicationStopFailures,
      updateOutdatedInstancesOnly: false,
      fileExistsBehavior: 'OVERWRITE',
      rollbackInfo: {
        rollbackTriggeringDeploymentId: of.deploymentId,
        rollbackMessage: `Deployment ${of.deploymentId} is rolled back by this deployment.`,
      },
      deploymentStatusMessages: [],
      createdBy: of.createdBy,
      progress: { step: 0, weight: 0 },
    };
    store.putDeployment(d);
    runnerOf().launch(d);
    return d.deploymentId;
  };
}
