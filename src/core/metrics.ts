/**
 * How services report CloudWatch metrics about themselves (AWS/CodeBuild build counts and
 * durations, request metrics, opsbox's own health) without knowing CloudWatch's storage: the
 * CloudWatch service installs the sink when it starts; until then datapoints are dropped.
 */
export interface MetricDatum {
  namespace: string;
  metricName: string;
  dimensions?: { Name: string; Value: string }[];
  value: number;
  unit?: string;
  timestamp?: number;
}

export type MetricSink = (account: string, region: string, data: MetricDatum[]) => void;

export class Metrics {
  private sink: MetricSink | undefined;

  install(sink: MetricSink) {
    this.sink = sink;
  }

  put(account: string, region: string, data: MetricDatum[]) {
    this.sink?.(account, region, data);
  }
}
