/**
 * Closed-loop load: N keep-alive connections, each sending the same request as soon as the previous
 * answer arrived, for a warmup then a measured window. Reports latency percentiles and requests/s.
 */
import { RawConnection, type RawResponse } from './rawHttp.js';

export interface LoadOptions {
  host: string;
  port: number;
  request: Buffer;
  connections: number;
  warmupMs: number;
  durationMs: number;
  /** Whether an answer is a success; anything else counts as an error. */
  ok(res: RawResponse): boolean;
}

export interface LoadResult {
  requests: number;
  errors: number;
  firstError?: string;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  connects: number;
}

export function percentile(sorted: ArrayLike<number>, p: number) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const start = performance.now();
  const measureFrom = start + o.warmupMs;
  const measureTo = measureFrom + o.durationMs;
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let fatal: Error | undefined;
  const conns = Array.from({ length: o.connections }, () => new RawConnection(o.host, o.port));

  await Promise.all(
    conns.map(async (c) => {
      while (!fatal) {
        const t0 = performance.now();
        if (t0 >= measureTo) break;
        let res: RawResponse;
        try {
          res = await c.request(o.request);
        } catch (e) {
          errors++;
          firstError ??= (e as Error).message;
          // a server that stops answering ends the scenario rather than the whole run
          if (/no response within/.test((e as Error).message) || errors > 1000) fatal = e as Error;
          continue;
        }
        const t1 = performance.now();
        if (!o.ok(res)) {
          errors++;
          firstError ??= describeFailure(res);
          if (errors > 1000 && latencies.length === 0) fatal = new Error(firstError);
          continue;
        }
        if (t0 >= measureFrom && t1 <= measureTo) latencies.push(t1 - t0);
      }
    }),
  );
  for (const c of conns) c.destroy();
  const connects = conns.reduce((n, c) => n + c.connects, 0);
  const sorted = Float64Array.from(latencies).sort();
  const sum = latencies.reduce((a, b) => a + b, 0);
  return {
    requests: latencies.length,
    errors,
    firstError,
    rps: latencies.length / (o.durationMs / 1000),
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    meanMs: sum / (latencies.length || 1),
    connects,
  };
}

/** "HTTP 501 NotImplemented: …" from an AWS error body in XML or JSON. */
export function describeFailure(res: { status: number; body: Buffer | string }) {
  const text = res.body.toString();
  const code =
    /<Code>([^<]+)<\/Code>/.exec(text)?.[1] ??
    /"__type"\s*:\s*"(?:[^"#]*#)?([^"]+)"/.exec(text)?.[1] ??
    /"code"\s*:\s*"([^"]+)"/i.exec(text)?.[1];
  const msg = /<Message>([^<]*)<\/Message>/.exec(text)?.[1] ?? /"message"\s*:\s*"([^"]*)"/i.exec(text)?.[1];
  return `HTTP ${res.status}${code ? ` ${code}` : ''}${msg ? `: ${msg.slice(0, 120)}` : text && !code ? `: ${text.slice(0, 120).replace(/\s+/g, ' ')}` : ''}`;
}
