/** CloudWatch Logs: log groups and streams, PutLogEvents, GetLogEvents, FilterLogEvents. */
import type { ServiceSpec } from '../../gateway/service.js';

export const logs: ServiceSpec = {
  name: 'logs',
  model: 'logs-2014-03-28',
  signingName: 'logs',
  protocols: ['json1.1'],
  patch: { validationErrorCode: 'InvalidParameterException' },
  create: () => ({}),
};
