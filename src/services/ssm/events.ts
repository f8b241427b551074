/**
 * Parameter changes on the internal bus, shaped as AWS's EventBridge event "Parameter Store
 * Change" (source aws.ssm, the parameter ARN as resource): operation Create, Update, Delete or
 * LabelParameterVersion, with the parameter's name, type and description.
 */
import type { RequestContext } from '../../gateway/context.js';
import type { ServiceEnv } from '../../gateway/service.js';
import { parameterArn } from './names.js';

export function publishChange(
  env: ServiceEnv,
  ctx: RequestContext,
  p: { name: string; type: string; description: string | null },
  operation: 'Create' | 'Update' | 'Delete' | 'LabelParameterVersion',
) {
  env.bus.publish({
    source: 'aws.ssm',
    'detail-type': 'Parameter Store Change',
    account: ctx.account,
    region: ctx.region,
    time: new Date(ctx.clock.now()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    resources: [parameterArn(ctx, p.name)],
    detail: { operation, name: p.name, type: p.type, description: p.description ?? '' },
  });
}
