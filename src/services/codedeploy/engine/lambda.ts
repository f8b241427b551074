/**
 * Lambda deployments: the AppSpec names a function, its alias and the current and target versions;
 * the alias's traffic moves to the target version by the config's steps (AdditionalVersionWeights
 * through Lambda's own UpdateAlias, so invocations of the alias really split), with the
 * BeforeAllowTraffic and AfterAllowTraffic hook functions invoked as AWS invokes them
 * ({DeploymentId, LifecycleEventHookExecutionId}, asynchronously) and awaited until they report
 * with PutLifecycleEventHookExecutionStatus. Stopping half-way puts the alias back on the current version.
 */
import { randomUUID } from 'node:crypto';
import type { ServiceEnv } from '../../../gateway/service.js';
import type { RevisionLocation } from '../api.generated.js';
import type { DeploymentDoc, GroupDoc, LifecycleEventDoc, TargetDoc } from '../model.js';
import { requireConfig } from '../configs.js';
import type { CodedeployStore } from '../store.js';
import { AppSpecError, parseLambdaAppSpec, type LambdaAppSpec } from './appspec.js';
import { revisionText } from './bundle.js';
import { DeploymentFailure, type Platform, type RunControl } from './runner.js';
import { trafficSteps } from './traffic.js';

const EVENTS = ['Start', 'BeforeAllowTraffic', 'AllowTraffic', 'AfterAllowTraffic', 'End'];

export function lambdaPlatform(env: ServiceEnv, store: CodedeployStore): Platform {
  const scope = (d: DeploymentDoc) => ({ account: d.account, region: d.region });
  const call = <T>(d: DeploymentDoc, op: string, input: object) => env.services.call<T>('lambda', op, input, scope(d));

  async function appSpec(d: DeploymentDoc): Promise<LambdaAppSpec> {
    try {
      return parseLambdaAppSpec(await revisionText(env, d));
    } catch (err) {
      if (err instanceof AppSpecError) throw new DeploymentFailure('INVALID_REVISION', err.message);
      throw err;
    }
  }

  async function setWeight(d: DeploymentDoc, spec: LambdaAppSpec, weight: number) {
    const input =
      weight >= 100
        ? {
            FunctionName: spec.name,
            Name: spec.alias,
            FunctionVersion: spec.targetVersion,
            RoutingConfig: { AdditionalVersionWeights: {} },
          }
        : weight <= 0
          ? {
              FunctionName: spec.name,
              Name: spec.alias,
              FunctionVersion: spec.currentVersion,
              RoutingConfig: { AdditionalVersionWeights: {} },
            }
          : {
              FunctionName: spec.name,
              Name: spec.alias,
              FunctionVersion: spec.currentVersion,
              RoutingConfig: { AdditionalVersionWeights: { [spec.targetVersion]: weight / 100 } },
            };
    try {
      await call(d, 'UpdateAlias', input);
    } catch (err) {
      throw new DeploymentFailure(
        'INVALID_LAMBDA_CONFIGURATION',
        `Could not shift the traffic of ${spec.name}:${spec.alias}: ${(err as Error).message}`,
      );
    }
  }

  async function runHook(d: DeploymentDoc, t: TargetDoc, event: LifecycleEventDoc, fn: string | undefined, ctl: RunControl) {
    event.startTime = env.clock.now();
    if (!fn) {
      event.status = 'Succeeded';
      event.endTime = env.clock.now();
      return ctl.saveTarget(t);
    }
    event.status = 'InProgress';
    event.hookExecutionId = randomUUID();
    ctl.saveTarget(t);
    const result = ctl.hookResult(event.hookExecutionId);
    try {
      await call(d, 'Invoke', {
        FunctionName: fn,
        InvocationType: 'Event',
        Payload: Buffer.from(JSON.stringify({ DeploymentId: d.deploymentId, LifecycleEventHookExecutionId: event.hookExecutionId })),
      });
    } catch (err) {
      event.status = 'Failed';
      event.endTime = env.clock.now();
      event.diagnostics = { errorCode: 'UnknownError', scriptName: fn, message: (err as Error).message, logTail: '' };
      ctl.saveTarget(t);
      result.catch(() => undefined);
      throw new DeploymentFailure(
        'HOOK_EXECUTION_FAILURE',
        `The lifecycle event hook function ${fn} could not be invoked: ${(err as Error).message}`,
      );
    }
    const status = await result;
    event.status = status;
    event.endTime = env.clock.now();
    if (status === 'Failed')
      event.diagnostics = {
        errorCode: 'UnknownError',
        scriptName: fn,
        message: `${event.lifecycleEventName} hook ${fn} reported Failed.`,
        logTail: '',
      };
    ctl.saveTarget(t);
    if (status === 'Failed')
      throw new DeploymentFailure(
        'HOOK_EXECUTION_FAILURE',
        'The deployment failed because one or more of the lifecycle event hooks failed.',
      );
  }

  return {
    async prepare(d) {
      const spec = await appSpec(d);
      let alias: { FunctionVersion: string; AliasArn: string };
      try {
        alias = await call(d, 'GetAlias', { FunctionName: spec.name, Name: spec.alias });
      } catch (err) {
        throw new DeploymentFailure(
          'INVALID_LAMBDA_FUNCTION',
          `The alias ${spec.alias} of Lambda function ${spec.name} could not be read: ${(err as Error).message}`,
        );
      }
      try {
        await call(d, 'GetFunction', { FunctionName: spec.name, Qualifier: spec.targetVersion });
      } catch {
        throw new DeploymentFailure(
          'INVALID_LAMBDA_FUNCTION',
          `Version ${spec.targetVersion} of Lambda function ${spec.name} does not exist.`,
        );
      }
      if (d.creator !== 'codeDeployRollback' && alias.FunctionVersion !== spec.currentVersion)
        throw new DeploymentFailure(
          'INVALID_LAMBDA_CONFIGURATION',
          `The current version ${spec.currentVersion} in the AppSpec file does not match version ${alias.FunctionVersion} the alias ${spec.alias} points to.`,
        );
      const now = env.clock.now();
      return [
        {
          deploymentId: d.deploymentId,
          targetId: `${spec.name}:${spec.alias}`,
          targetArn: alias.AliasArn,
          deploymentTargetType: 'LambdaTarget',
          status: 'Pending',
          lastUpdatedAt: now,
          lifecycleEvents: EVENTS.map((e) => ({ lifecycleEventName: e, status: 'Pending' })),
          lambdaFunctionInfo: {
            functionName: spec.name,
            functionAlias: spec.alias,
            currentVersion: spec.currentVersion,
            targetVersion: spec.targetVersion,
            targetVersionWeight: 0,
          },
        },
      ];
    },

    async run(d, _g, targets, ctl) {
      const spec = await appSpec(d);
      const t = targets[0];
      const ev = (name: string) => t.lifecycleEvents.find((e) => e.lifecycleEventName === name)!;
      const done = (e: LifecycleEventDoc) => {
        e.status = 'Succeeded';
        e.startTime ??= env.clock.now();
        e.endTime = env.clock.now();
      };
      t.status = 'InProgress';
      done(ev('Start'));
      ctl.saveTarget(t);
      const rollback = d.creator === 'codeDeployRollback';
      if (ev('BeforeAllowTraffic').status !== 'Succeeded')
        await runHook(d, t, ev('BeforeAllowTraffic'), rollback ? undefined : spec.hooks.BeforeAllowTraffic, ctl);
      await ctl.checkpoint();

      const allow = ev('AllowTraffic');
      allow.status = 'InProgress';
      allow.startTime ??= env.clock.now();
      ctl.saveTarget(t);
      const steps = rollback
        ? [{ weight: 100, waitMinutes: 0 }]
        : trafficSteps(requireConfig(store, d, d.deploymentConfigName).trafficRoutingConfig);
      for (let i = d.progress.step; i < steps.length; i++) {
        await ctl.checkpoint();
        await setWeight(d, spec, steps[i].weight);
        d.progress = { step: i, weight: steps[i].weight };
        t.lambdaFunctionInfo!.targetVersionWeight = steps[i].weight / 100;
        ctl.save();
        ctl.saveTarget(t);
        if (steps[i].waitMinutes) await ctl.wait(steps[i].waitMinutes);
      }
      done(allow);
      ctl.saveTarget(t);

      await runHook(d, t, ev('AfterAllowTraffic'), rollback ? undefined : spec.hooks.AfterAllowTraffic, ctl);
      done(ev('End'));
      t.status = 'Succeeded';
      ctl.saveTarget(t);
    },

    rollbackRevision(d): RevisionLocation | undefined {
      const t = store.targets(d.deploymentId)[0]?.lambdaFunctionInfo;
      if (!t) return undefined;
      const content = JSON.stringify({
        version: 0.0,
        Resources: [
          {
            [t.functionName]: {
              Type: 'AWS::Lambda::Function',
              Properties: {
                Name: t.functionName,
                Alias: t.functionAlias,
                CurrentVersion: t.targetVersion,
                TargetVersion: t.currentVersion,
              },
            },
          },
        ],
      });
      return { revisionType: 'AppSpecContent', appSpecContent: { content } };
    },

    async revert(d, targets) {
      const info = targets[0]?.lambdaFunctionInfo;
      if (!info || d.progress.weight <= 0) return;
      await call(d, 'UpdateAlias', {
        FunctionName: info.functionName,
        Name: info.functionAlias,
        FunctionVersion: info.currentVersion,
        RoutingConfig: { AdditionalVersionWeights: {} },
      });
      info.targetVersionWeight = 0;
      store.putTarget(targets[0]);
    },
  };
}

export type { GroupDoc };
