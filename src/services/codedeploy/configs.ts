/**
 * Deployment configs: AWS's predefined CodeDeployDefault.* for the three compute platforms (in every
 * account and region, never stored) and custom ones (CreateDeploymentConfig). A config says how
 * many server instances must stay healthy, or how traffic moves for Lambda and ECS.
 */
import { createHash, randomUUID } from 'node:crypto';
import { AwsError } from '../../core/errors.js';
import { pageByOffset } from '../../core/pagination.js';
import type { Scope } from '../../core/arn.js';
import type { CodedeployHandlers, DeploymentConfigInfoOut, MinimumHealthyHosts, TrafficRoutingConfig } from './api.generated.js';
import { invalidNextToken } from './common.js';
import type { ComputePlatform } from './model.js';
import type { CodedeployStore } from './store.js';

export interface DeploymentConfig {
  deploymentConfigId: string;
  deploymentConfigName: string;
  computePlatform: ComputePlatform;
  minimumHealthyHosts?: MinimumHealthyHosts;
  trafficRoutingConfig?: TrafficRoutingConfig;
  createTime: number;
}

const predefinedId = (name: string) => {
  const h = createHash('sha256').update(name).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
};

const canary = (percentage: number, interval: number): TrafficRoutingConfig => ({
  type: 'TimeBasedCanary',
  timeBasedCanary: { canaryPercentage: percentage, canaryInterval: interval },
});
const linear = (percentage: number, interval: number): TrafficRoutingConfig => ({
  type: 'TimeBasedLinear',
  timeBasedLinear: { linearPercentage: percentage, linearInterval: interval },
});
const allAtOnce: TrafficRoutingConfig = { type: 'AllAtOnce' };

const PREDEFINED: Omit<DeploymentConfig, 'deploymentConfigId' | 'createTime'>[] = [
  {
    deploymentConfigName: 'CodeDeployDefault.OneAtATime',
    computePlatform: 'Server',
    minimumHealthyHosts: { type: 'FLEET_PERCENT', value: 100 },
  },
  {
    deploymentConfigName: 'CodeDeployDefault.HalfAtATime',
    computePlatform: 'Server',
    minimumHealthyHosts: { type: 'FLEET_PERCENT', value: 50 },
  },
  { deploymentConfigName: 'CodeDeployDefault.AllAtOnce', computePlatform: 'Server', minimumHealthyHosts: { type: 'HOST_COUNT', value: 0 } },
  { deploymentConfigName: 'CodeDeployDefault.LambdaAllAtOnce', computePlatform: 'Lambda', trafficRoutingConfig: allAtOnce },
  ...[5, 10, 15, 30].map((m) => ({
    deploymentConfigName: `CodeDeployDefault.LambdaCanary10Percent${m}Minutes`,
    computePlatform: 'Lambda' as const,
    trafficRoutingConfig: canary(10, m),
  })),
  ...[1, 2, 3, 10].map((m) => ({
    deploymentConfigName: `CodeDeployDefault.LambdaLinear10PercentEvery${m}Minute${m === 1 ? '' : 's'}`,
    computePlatform: 'Lambda' as const,
    trafficRoutingConfig: linear(10, m),
  })),
  { deploymentConfigName: 'CodeDeployDefault.ECSAllAtOnce', computePlatform: 'ECS', trafficRoutingConfig: allAtOnce },
  ...[5, 15].map((m) => ({
    deploymentConfigName: `CodeDeployDefault.ECSCanary10Percent${m}Minutes`,
    computePlatform: 'ECS' as const,
    trafficRoutingConfig: canary(10, m),
  })),
  ...[1, 3].map((m) => ({
    deploymentConfigName: `CodeDeployDefault.ECSLinear10PercentEvery${m}Minutes`,
    computePlatform: 'ECS' as const,
    trafficRoutingConfig: linear(10, m),
  })),
];
// AWS's predefined configs date from the service's launch; a fixed time keeps them stable across restarts
const PREDEFINED_TIME = Date.UTC(2014, 10, 12);
const predefined = new Map(
  PREDEFINED.map((c) => [
    c.deploymentConfigName,
    { ...c, deploymentConfigId: predefinedId(c.deploymentConfigName), createTime: PREDEFINED_TIME },
  ]),
);

export const DEFAULT_CONFIG: Record<ComputePlatform, string> = {
  Server: 'CodeDeployDefault.OneAtATime',
  Lambda: 'CodeDeployDefault.LambdaAllAtOnce',
  ECS: 'CodeDeployDefault.ECSAllAtOnce',
};

const noConfig = (name: string) =>
  new AwsError('DeploymentConfigDoesNotExistException', `No deployment configuration found for name: ${name}`);

/** A config by name, predefined or the scope's own; undefined when there is none. */
export function findConfig(store: CodedeployStore, scope: Scope, name: string): DeploymentConfig | undefined {
  const p = predefined.get(name);
  if (p) return p;
  const row = store.config(scope, name);
  return row ? (JSON.parse(row.doc) as DeploymentConfig) : undefined;
}

/** findConfig, or DeploymentConfigDoesNotExistException. */
export function requireConfig(store: CodedeployStore, scope: Scope, name: string): DeploymentConfig {
  const c = findConfig(store, scope, name);
  if (!c) throw noConfig(name);
  return c;
}

const view = (c: DeploymentConfig): DeploymentConfigInfoOut => ({
  deploymentConfigId: c.deploymentConfigId,
  deploymentConfigName: c.deploymentConfigName,
  minimumHealthyHosts: c.minimumHealthyHosts,
  createTime: new Date(c.createTime),
  computePlatform: c.computePlatform,
  trafficRoutingConfig: c.trafficRoutingConfig,
});

function checkTrafficRouting(t: TrafficRoutingConfig) {
  const bad = (m: string) => new AwsError('InvalidTrafficRoutingConfigurationException', m);
  if (t.type === 'AllAtOnce') return;
  if (t.type === 'TimeBasedCanary') {
    const c = t.timeBasedCanary;
    if (!c || !c.canaryPercentage || c.canaryPercentage < 1 || c.canaryPercentage > 99 || !c.canaryInterval || c.canaryInterval < 1)
      throw bad(
        'The traffic routing configuration is invalid: timeBasedCanary needs canaryPercentage 1-99 and a canaryInterval of at least 1 minute.',
      );
    return;
  }
  if (t.type === 'TimeBasedLinear') {
    const l = t.timeBasedLinear;
    if (!l || !l.linearPercentage || l.linearPercentage < 1 || l.linearPercentage > 99 || !l.linearInterval || l.linearInterval < 1)
      throw bad(
        'The traffic routing configuration is invalid: timeBasedLinear needs linearPercentage 1-99 and a linearInterval of at least 1 minute.',
      );
    return;
  }
  throw bad(`The traffic routing configuration type ${String(t.type)} is invalid.`);
}

export function configHandlers(store: CodedeployStore, inUse: (scope: Scope, name: string) => boolean): CodedeployHandlers {
  return {
    CreateDeploymentConfig(input, ctx) {
      const name = input.deploymentConfigName;
      if (!name) throw new AwsError('DeploymentConfigNameRequiredException', 'Deployment config name is required');
      if (name.startsWith('CodeDeployDefault.'))
        throw new AwsError('InvalidDeploymentConfigNameException', 'Deployment config names cannot begin with CodeDeployDefault.');
      if (findConfig(store, ctx, name))
        throw new AwsError('DeploymentConfigAlreadyExistsException', `Deployment configuration already exists: ${name}`);
      const platform = (input.computePlatform ?? 'Server') as ComputePlatform;
      if (!['Server', 'Lambda', 'ECS'].includes(platform))
        throw new AwsError(
          'InvalidComputePlatformException',
          'The computePlatform is invalid. The computePlatform should be Lambda, Server, or ECS.',
        );
      if (platform === 'Server') {
        const m = input.minimumHealthyHosts;
        if (
          !m ||
          (m.type !== 'HOST_COUNT' && m.type !== 'FLEET_PERCENT') ||
          m.value === undefined ||
          m.value < 0 ||
          (m.type === 'FLEET_PERCENT' && m.value > 99)
        )
          throw new AwsError(
            'InvalidMinimumHealthyHostValueException',
            'The minimum healthy instance value was specified in an invalid format.',
          );
        if (input.trafficRoutingConfig && input.trafficRoutingConfig.type !== 'AllAtOnce')
          throw new AwsError(
            'InvalidTrafficRoutingConfigurationException',
            'Traffic routing configuration is not supported for the Server compute platform.',
          );
      } else {
        if (input.minimumHealthyHosts)
          throw new AwsError(
            'InvalidMinimumHealthyHostValueException',
            `Minimum healthy hosts are not supported for the ${platform} compute platform.`,
          );
        checkTrafficRouting(input.trafficRoutingConfig ?? allAtOnce);
      }
      const c: DeploymentConfig = {
        deploymentConfigId: randomUUID(),
        deploymentConfigName: name,
        computePlatform: platform,
        minimumHealthyHosts: platform === 'Server' ? input.minimumHealthyHosts : undefined,
        trafficRoutingConfig: platform === 'Server' ? undefined : (input.trafficRoutingConfig ?? allAtOnce),
        createTime: ctx.clock.now(),
      };
      store.insertConfig({
        id: c.deploymentConfigId,
        account: ctx.account,
        region: ctx.region,
        name,
        doc: JSON.stringify(c),
        created: c.createTime,
      });
      return { deploymentConfigId: c.deploymentConfigId };
    },

    GetDeploymentConfig(input, ctx) {
      return { deploymentConfigInfo: view(requireConfig(store, ctx, input.deploymentConfigName)) };
    },

    ListDeploymentConfigs(input, ctx) {
      const names = [...predefined.keys(), ...store.configs(ctx).map((c) => c.name)];
      const page = pageByOffset(names, input.nextToken, 100, invalidNextToken);
      return { deploymentConfigsList: page.items, nextToken: page.nextToken };
    },

    DeleteDeploymentConfig(input, ctx) {
      const name = input.deploymentConfigName;
      if (predefined.has(name))
        throw new AwsError('InvalidOperationException', 'The predefined deployment configurations cannot be deleted.');
      const row = store.config(ctx, name);
      if (!row) return;
      if (inUse(ctx, name)) throw new AwsError('DeploymentConfigInUseException', `The deployment configuration ${name} is still in use.`);
      store.deleteConfig(row);
    },
  };
}
