/** EventBridge: event buses, rules (event patterns and schedules), targets, PutEvents. */
import type { ServiceSpec } from '../../gateway/service.js';
import type { EventsHandlers } from './api.generated.js';

export const events: ServiceSpec<EventsHandlers> = {
  name: 'events',
  model: 'eventbridge-2015-10-07',
  signingName: 'events',
  protocols: ['json1.1'],
  patch: { validationErrorCode: 'ValidationException' },
  create: () => ({}),
};
