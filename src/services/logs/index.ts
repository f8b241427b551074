/**
 * CloudWatch Logs: log groups and streams, PutLogEvents, GetLogEvents, FilterLogEvents.
 * groups.ts / streams.ts / events.ts hold the handlers, store.ts the tables, filterPattern.ts the
 * pattern engine. Regional: every group and stream row is scoped by account and region.
 */
import type { ServiceEnv, ServiceSpec } from '../../gateway/service.js';
import type { LogsHandlers } from './api.generated.js';
import { eventHandlers } from './events.js';
import { groupHandlers } from './groups.js';
import { createLogsStore } from './store.js';
import { streamHandlers } from './streams.js';

export function createLogsHandlers(env: ServiceEnv): LogsHandlers {
  const store = createLogsStore(env.store);
  return { ...groupHandlers(store), ...streamHandlers(store), ...eventHandlers(store) };
}

const GROUP_NAME = '[\\.\\-_/#A-Za-z0-9]+';

export const logs: ServiceSpec<LogsHandlers> = {
  name: 'logs',
  model: 'logs-2014-03-28',
  signingName: 'logs',
  protocols: ['json1.1'],
  bodyLimits: { PutLogEvents: 5 * 1024 * 1024 },
  patch: {
    validationErrorCode: 'InvalidParameterException',
    constraints: {
      logGroupName: { min: 1, max: 512, pattern: GROUP_NAME },
      logGroupNamePrefix: { min: 1, max: 512, pattern: GROUP_NAME },
      logGroupNamePattern: { min: 0, max: 512, pattern: '[\\.\\-_/#A-Za-z0-9]*' },
      logGroupIdentifier: { min: 1, max: 2048, pattern: '[\\w#+=/:,.@-]*' },
      logStreamName: { min: 1, max: 512, pattern: '[^:*]*' },
      logStreamNamePrefix: { min: 1, max: 512, pattern: '[^:*]*' },
      logStreamNames: { min: 1, max: 100 },
      logGroupClass: { enum: ['STANDARD', 'INFREQUENT_ACCESS', 'DELIVERY'] },
      kmsKeyId: { max: 256 },
      resourceArn: { min: 1, max: 1011 },
      nextToken: { min: 1 },
      sequenceToken: { min: 1 },
      filterPattern: { min: 0, max: 1024 },
      startTime: { min: 0 },
      endTime: { min: 0 },
      logEvents: { min: 1, max: 10000 },
      orderBy: { enum: ['LogStreamName', 'LastEventTime'] },
      'DescribeLogGroups.limit': { min: 1, max: 50 },
      'DescribeLogStreams.limit': { min: 1, max: 50 },
      'GetLogEvents.limit': { min: 1, max: 10000 },
      'FilterLogEvents.limit': { min: 1, max: 10000 },
    },
  },
  create: createLogsHandlers,
};
