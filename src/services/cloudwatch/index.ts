/**
 * CloudWatch metrics, alarms and dashboards, in whichever protocol the client chose: awsQuery
 * (aws CLI v2), awsJson 1.0 with awsQueryCompatible (SDK v3), or rpc-v2-cbor (botocore ≥ 1.42).
 * Handlers at the top: metrics.ts (PutMetricData, ListMetrics, GetMetricStatistics), query.ts
 * (GetMetricData, with math.ts), alarms.ts, dashboards.ts. Engines below: ingest/ (checking and
 * folding datapoints, the PutMetricData worker and its single-pass decoder, the write-behind
 * journal) and alarms/ (the engine on env.clock, evaluation, composite rules, actions, the recent
 * points alarms watch). store.ts holds the tables; health.ts opsbox's own metrics. create() also
 * installs the sink of core/metrics, so other services' datapoints land here.
 */
import { DEFAULT_ACCOUNT } from '../../core/credentials.js';
import { log } from '../../core/log.js';
import type { ServiceEnv, ServiceInstance, ServiceSpec } from '../../gateway/service.js';
import { alarmHandlers } from './alarms.js';
import type { CloudwatchHandlers } from './api.generated.js';
import { dashboardHandlers } from './dashboards.js';
import { AlarmEngine } from './alarms/engine.js';
import { HealthMetrics } from './health.js';
import { ingest } from './ingest/fold.js';
import { metricHandlers } from './metrics.js';
import { queryHandlers } from './query.js';
import { cloudwatchModelId, cloudwatchPatch } from './patch.js';
import { createCloudwatchStore } from './store.js';

export interface CloudwatchInstance extends ServiceInstance<CloudwatchHandlers> {
  engine: AlarmEngine;
  store: ReturnType<typeof createCloudwatchStore>;
}

/** The handlers plus the engine, for in-process tests and the bench. */
export function createCloudwatch(env: ServiceEnv): CloudwatchInstance {
  const store = createCloudwatchStore(env.store);
  const engine = new AlarmEngine(env, store);
  env.metrics.install((account, region, data) => {
    try {
      const byNamespace = new Map<string, typeof data>();
      for (const d of data) (byNamespace.get(d.namespace) ?? byNamespace.set(d.namespace, []).get(d.namespace)!).push(d);
      const now = env.clock.now();
      for (const [ns, items] of byNamespace)
        ingest(
          store,
          { account, region },
          ns,
          items.map((d) => ({
            MetricName: d.metricName,
            Dimensions: d.dimensions,
            Value: d.value,
            Unit: d.unit,
            Timestamp: d.timestamp === undefined ? undefined : new Date(d.timestamp),
          })),
          now,
        );
    } catch (err) {
      log.error('cloudwatch metrics sink failed', { err: String(err) });
    }
  });
  const health = new HealthMetrics();
  engine.onTick = () => env.metrics.put(DEFAULT_ACCOUNT, 'us-east-1', health.sample(env.clock.now()));
  const handlers: CloudwatchHandlers = {
    ...metricHandlers(store),
    ...queryHandlers(store),
    ...alarmHandlers(engine, store, env.tags),
    ...dashboardHandlers(store),
  };
  return {
    handlers,
    engine,
    store,
    start: () => engine.start(),
    close() {
      engine.stop();
      health.close();
      store.close();
    },
  };
}

export const cloudwatch: ServiceSpec<CloudwatchHandlers> = {
  name: 'cloudwatch',
  model: cloudwatchModelId,
  signingName: 'monitoring',
  protocols: ['query', 'json1.0', 'rpc-v2-cbor'],
  bodyLimits: { PutMetricData: 1024 * 1024, '*': 2 * 1024 * 1024 },
  targetPrefix: 'GraniteServiceVersion20100801',
  smithyName: 'GraniteServiceVersion20100801',
  queryCompatible: true,
  patch: cloudwatchPatch,
  // a large JSON PutMetricData is parsed, checked and folded into bucket rows in a worker thread
  offload: {
    PutMetricData: { module: new URL('./ingest/prepare.js', import.meta.url).href, fn: 'preparePutMetricData', minBytes: 16 * 1024 },
  },
  create: createCloudwatch,
};
