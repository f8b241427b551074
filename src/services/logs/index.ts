/**
 * CloudWatch Logs: log groups and streams, PutLogEvents, GetLogEvents, FilterLogEvents, and Logs
 * Insights queries. groups.ts / streams.ts / events.ts / queries.ts hold the handlers, store.ts the
 * tables, filterPattern.ts the pattern engine, insights/ the query language (parse, evaluate,
 * execute). Regional: every group and stream row is scoped by account and region.
 * Each stored batch goes through the group's metric filters (metricFilters.ts: CloudWatch
 * datapoints) and subscription filters (subscriptions.ts: Lambda deliveries); exports.ts writes
 * export tasks to S3 (filterStore.ts holds the rows of all three).
 */
import type { ServiceEnv, ServiceSpec } from '../../gateway/service.js';
import type { LogsHandlers } from './api.generated.js';
import { eventHandlers } from './events.js';
import { groupHandlers } from './groups.js';
import { Exporter, exportHandlers } from './exports.js';
import { createFilterStore } from './filterStore.js';
import { metricFilterEngine, metricFilterHandlers, PatternCache } from './metricFilters.js';
import { createQueries } from './queries.js';
import { createLogsStore } from './store.js';
import { subscriptionEngine, subscriptionHandlers } from './subscriptions.js';
import { streamHandlers } from './streams.js';

export function createLogs(env: ServiceEnv) {
  const store = createLogsStore(env.store);
  const filters = createFilterStore(env.store);
  const patterns = new PatternCache();
  const metricFilters = metricFilterEngine(filters, env.metrics, patterns);
  const subscriptions = subscriptionEngine(filters, env.targets, patterns);
  const exporter = new Exporter(store, filters, env.services, env.clock);
  const queries = createQueries(store, env.clock);
  const handlers: LogsHandlers = {
    ...groupHandlers(store, env.tags),
    ...streamHandlers(store),
    ...eventHandlers(store, [
      (group, _stream, _seq, events) => metricFilters.ingest(group, events),
      (group, stream, seq, events) => subscriptions.ingest(group, stream, seq, events),
    ]),
    ...metricFilterHandlers(store, filters),
    ...subscriptionHandlers(store, filters, env.services),
    ...exportHandlers(store, filters, env.services, exporter),
    ...queries.handlers,
  };
  return {
    handlers,
    start: () => {
      exporter.resume();
      queries.start();
    },
    close: () => queries.close(),
  };
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
  create: (env) => createLogs(env),
};
