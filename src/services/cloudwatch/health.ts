/**
 * opsbox's own health under the "Opsbox" namespace, put once a minute on the alarm tick:
 * resident memory, V8 heap in use and event-loop lag (mean and max since the last tick).
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { MetricDatum } from '../../core/metrics.js';

export class HealthMetrics {
  private lag: IntervalHistogram = monitorEventLoopDelay({ resolution: 20 });

  constructor() {
    this.lag.enable();
  }

  sample(now: number): MetricDatum[] {
    const mem = process.memoryUsage();
    const ns = (v: number) => (Number.isFinite(v) ? v / 1e6 : 0);
    const data: MetricDatum[] = [
      { namespace: 'Opsbox', metricName: 'ProcessRSS', value: mem.rss, unit: 'Bytes', timestamp: now },
      { namespace: 'Opsbox', metricName: 'HeapUsed', value: mem.heapUsed, unit: 'Bytes', timestamp: now },
      { namespace: 'Opsbox', metricName: 'EventLoopLag', value: ns(this.lag.mean), unit: 'Milliseconds', timestamp: now },
      { namespace: 'Opsbox', metricName: 'EventLoopLagMax', value: ns(this.lag.max), unit: 'Milliseconds', timestamp: now },
    ];
    this.lag.reset();
    return data;
  }

  close() {
    this.lag.disable();
  }
}
