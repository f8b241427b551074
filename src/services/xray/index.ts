/**
 * AWS X-Ray: traces from every path the SDKs use (PutTraceSegments, the daemon's UDP port in
 * daemon.ts, OTLP/HTTP at /v1/traces in otlp.ts), kept 30 days, and what is read from them: trace
 * summaries under filter expressions (filterExpression.ts), whole traces, the service graph and its
 * time series, groups and sampling rules. segments.ts checks documents, ingest.ts stores them,
 * trace.ts and settle.ts turn a trace's segments into its facts and its graph statistics (graph.ts).
 */
import type { ServiceEnv, ServiceInstance, ServiceSpec } from '../../gateway/service.js';
import { DEFAULT_ACCOUNT } from '../../core/credentials.js';
import { log } from '../../core/log.js';
import type { XrayHandlers } from './api.generated.js';
import { Daemon, daemonPort } from './daemon.js';
import { createGroups, tagHandlers } from './groups.js';
import { createIngest, ingestHandlers } from './ingest.js';
import { otlpRoute } from './otlp.js';
import { samplingHandlers } from './sampling.js';
import { serviceGraphHandlers } from './serviceGraph.js';
import { createSettler } from './settle.js';
import { createXrayStore } from './store.js';
import { traceHandlers } from './traces.js';

/** How long a trace stays quiet before the background settles it (queries settle what they read anyway). */
const SETTLE_AFTER_MS = 1000;
const TICK_MS = 1000;
const EXPIRE_EVERY_MS = 60 * 60 * 1000;

export function createXray(env: ServiceEnv): ServiceInstance<XrayHandlers> {
  const store = createXrayStore(env.store);
  const settler = createSettler(store);
  const ingest = createIngest(store, env.clock);
  const groups = createGroups(store, env.tags);
  const { ruleExists, ...sampling } = samplingHandlers(store, env.tags, env.clock);
  const region = process.env.OPSBOX_XRAY_DAEMON_REGION || process.env.AWS_REGION || 'us-east-1';
  const daemon = new Daemon({
    host: env.config.host,
    port: daemonPort(),
    region,
    ingest,
    call: (op, input) => env.services.call('xray', op, input, { account: DEFAULT_ACCOUNT, region }),
  });
  let tick: { cancel(): void } | undefined;
  let lastExpiry = 0;
  const loop = () => {
    try {
      const now = env.clock.now();
      settler.settleQuiet((now - SETTLE_AFTER_MS) / 1000);
      if (now - lastExpiry >= EXPIRE_EVERY_MS) {
        lastExpiry = now;
        while (store.expire(now / 1000));
      }
    } catch (err) {
      log.error('xray: settling traces failed', { err: err instanceof Error ? err.stack : String(err) });
    }
    tick = env.clock.setTimeout(loop, TICK_MS);
  };
  return {
    handlers: {
      ...ingestHandlers(store, ingest, env.clock),
      ...traceHandlers(store, settler, groups),
      ...serviceGraphHandlers(store, settler, groups),
      ...groups.handlers,
      ...sampling,
      ...tagHandlers(env.tags, (scope, arn) => ruleExists(scope, arn) || (arn.includes(':group/') && groups.exists(scope, arn))),
    },
    routes: [otlpRoute(ingest, env.credentials, region)],
    async start() {
      await daemon.start();
      loop();
    },
    async close() {
      tick?.cancel();
      await daemon.close();
    },
  };
}

export const xray: ServiceSpec<XrayHandlers> = {
  name: 'xray',
  model: 'xray-2016-04-12',
  signingName: 'xray',
  protocols: ['rest-json'],
  bodyLimits: { PutTraceSegments: 64 * 1024 * 1024 },
  patch: { validationErrorCode: 'InvalidRequestException' },
  create: createXray,
};
