/** SNS: topics, subscriptions with real HTTP delivery, Publish. */
import type { ServiceSpec } from '../../gateway/service.js';
import type { SnsHandlers } from './api.generated.js';

export const sns: ServiceSpec<SnsHandlers> = {
  name: 'sns',
  model: 'sns-2010-03-31',
  signingName: 'sns',
  protocols: ['query'],
  patch: { validationErrorCode: 'ValidationError' },
  create: () => ({}),
};
