/**
 * CloudWatch Logs: log groups and streams, PutLogEvents, GetLogEvents, FilterLogEvents, and Logs
 * Insights queries. groups.ts / streams.ts / events.ts / queries.ts hold the handlers, store.ts the
 * tables, filterPattern.ts the pattern engine, insights/ the query language (parse, evaluate,
 * execute). Regional: every group and stream row is scoped by account and region.
 */
import type { ServiceEnv, ServiceSpec } from '../../gateway/service.js';
import type { LogsHandlers } from './api.generated.js';
import { eventHandlers } from './events.js';
import { groupHandlers } from './groups.js';
import { createQueries } from './queries.js';
import { createLogsStore } from './store.js';
import { streamHandlers } from './streams.js';

export function createLogsHandlers(env: ServiceEnv): LogsHandlers {
  const store = createLogsStore(env.store);
  return { ...groupHandlers(store, env.tags), ...streamHandlers(store), ...eventHandlers(store) };
}

export const logs: ServiceSpec<LogsHandlers> = {
  name: 'logs',
  model: 'logs-2014-03-28',
  signingName: 'logs',
  protocols: ['json1.1'],
  bodyLimits: { PutLogEvents: 5 * 1024 * 1024 },
  patch: {
    validationErrorCode: 'InvalidParameterException',
    constraints: {
      logGroupNamePattern: { min: 0, max: 512, pattern: '[\\.\\-_/#A-Za-z0-9]*' },
      kmsKeyId: { max: 256 },
      resourceArn: { min: 1, max: 1011 },
      nextToken: { min: 1 },
    },
  },
  create: (env) => {
    const queries = createQueries(createLogsStore(env.store), env.clock);
    return { handlers: { ...createLogsHandlers(env), ...queries.handlers }, start: () => queries.start(), close: () => queries.close() };
  },
};
