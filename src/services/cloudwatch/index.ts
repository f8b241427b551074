/**
 * CloudWatch metrics, alarms and dashboards. Its operations come with the observability issue;
 * today every operation answers NotImplemented, in whichever protocol the client chose: awsQuery
 * (aws CLI v2), awsJson 1.0 with awsQueryCompatible (SDK v3), or rpc-v2-cbor (botocore ≥ 1.42).
 */
import type { ServiceSpec } from '../../gateway/service.js';
import type { CloudwatchHandlers } from './api.generated.js';

export const cloudwatch: ServiceSpec<CloudwatchHandlers> = {
  name: 'cloudwatch',
  model: 'monitoring-2010-08-01',
  signingName: 'monitoring',
  protocols: ['query', 'json1.0', 'rpc-v2-cbor'],
  targetPrefix: 'GraniteServiceVersion20100801',
  smithyName: 'GraniteServiceVersion20100801',
  queryCompatible: true,
  patch: { validationErrorCode: 'ValidationError' },
  create: () => ({}),
};
