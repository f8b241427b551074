/**
 * EventBridge: event buses, rules (event patterns and schedules), targets, PutEvents, and the
 * routing of every event services publish on the internal bus through the default bus's rules.
 * buses.ts / rules.ts / targets.ts / putEvents.ts hold the handlers, store.ts the tables,
 * engine.ts the routing and schedules, pattern.ts / schedule.ts / transform.ts the pure parts.
 */
import type { ServiceEnv, ServiceInstance, ServiceSpec } from '../../gateway/service.js';
import type { EventsHandlers } from './api.generated.js';
import { busHandlers } from './buses.js';
import { EventsEngine, type EventDoc } from './engine.js';
import { putEventsHandlers } from './putEvents.js';
import { ruleHandlers } from './rules.js';
import { createEventsStore } from './store.js';
import { targetHandlers } from './targets.js';

export interface EventsInstance extends ServiceInstance<EventsHandlers> {
  /** The routing and schedules, for in-process tests and benchmarks. */
  engine: EventsEngine;
}

export function createEvents(env: ServiceEnv): EventsInstance {
  const store = createEventsStore(env.store);
  const engine = new EventsEngine(store, env.targets, env.clock, env.metrics);
  env.targets.register('events', engine.invokeBus);
  // every event a service publishes goes through the rules of its account's default bus
  const unsubscribe = env.bus.subscribe((e) => engine.put(e.account, e.region, 'default', e as unknown as EventDoc));
  return {
    handlers: {
      ...busHandlers(store, engine, env.tags),
      ...ruleHandlers(store, engine, env.tags),
      ...targetHandlers(store, engine),
      ...putEventsHandlers(store, engine),
    },
    engine,
    start: () => engine.start(),
    close() {
      unsubscribe();
      engine.close();
    },
  };
}

const NAME = '[\\.\\-_A-Za-z0-9]+';
const BUS = '(arn:aws[\\w-]*:events:[a-z]{2}-[a-z]+-[\\w-]+:[0-9]{12}:event-bus\\/)?[\\/\\.\\-_A-Za-z0-9]+';

export const events: ServiceSpec<EventsHandlers> = {
  name: 'events',
  model: 'events-2015-10-07',
  signingName: 'events',
  protocols: ['json1.1'],
  bodyLimits: { PutEvents: 1024 * 1024 },
  patch: {
    validationErrorCode: 'ValidationException',
    constraints: {
      'CreateEventBus.Name': { min: 1, max: 256, pattern: '[\\/\\.\\-_A-Za-z0-9]+' },
      'DeleteEventBus.Name': { min: 1, max: 256, pattern: '[\\/\\.\\-_A-Za-z0-9]+' },
      'DescribeEventBus.Name': { min: 1, max: 1600, pattern: BUS },
      EventBusName: { min: 1, max: 1600, pattern: BUS },
      NamePrefix: { min: 1, max: 64, pattern: NAME },
      State: { enum: ['ENABLED', 'DISABLED', 'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS'] },
      Description: { max: 512 },
      RoleArn: { min: 1, max: 1600 },
      Targets: { min: 1, max: 10 },
      Entries: { min: 1, max: 10 },
      Tags: { max: 50 },
    },
  },
  create: createEvents,
};
