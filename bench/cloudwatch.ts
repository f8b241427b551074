/**
 * CloudWatch: three figures of the observability issue.
 *  1. PutMetricData ingest in batches of 1,000 datapoints (awsJson 1.0 as SDK v3 sends it, minus
 *     the gzip the SDK adds over 10 KB), one keep-alive connection, bodies built and signed before
 *     the clock starts, after a warm-up of the same calls. Each batch: 10 metrics (dimension Host) × values 1–500, timestamps spread
 *     over the last 10 minutes, so a batch touches ~100 (metric, minute) buckets. Once as 1,000
 *     MetricData entries, once as 10 MetricData × 100 Values (same datapoints, compact form).
 *  2. GetMetricData latency for one metric over 24 h at a 1-minute period with 10 million stored
 *     datapoints. Seeded through 15 PutMetricData calls of 100 MetricData × 150 Values/Counts
 *     (1,440 minutes × ~6,950 samples each): CloudWatch-style pre-aggregation stores those
 *     10 million samples as 1,440 per-minute rows, which is what makes the query fast.
 *     Measured for Average and for p99 (which reads the value histograms).
 *  3. Alarm evaluation cost: 10,000 metric alarms on 10,000 metrics, measured in-process (a tick
 *     is the engine's own `evaluateAll`), new datapoints before each tick, ~10 % of alarms
 *     changing state each time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../src/core/clock.js';
import type { RequestContext } from '../src/gateway/context.js';
import { createServiceEnv } from '../src/server/env.js';
import { createCloudwatch } from '../src/services/cloudwatch/index.js';
import { ingest } from '../src/services/cloudwatch/ingest/fold.js';
import { describeFailure, percentile } from './load.js';
import { RawConnection } from './rawHttp.js';
import { na, val, type Row } from './report.js';
import { rawRequest, signV4 } from './sigv4.js';
import type { Target, TargetName } from './targets.js';

export interface CloudwatchPlan {
  /** Calls sent before the ingest rounds and not measured (the server's JIT compiles the hot path). */
  warmupMs: number;
  batches: number;
  rounds: number;
  budgetMs: number;
  queries: number;
  alarms: number;
  ticks: number;
  /** Each tick, 1 in `churnEvery` metrics gets a breaching datapoint (so ~2/churnEvery of the alarms change state). */
  churnEvery: number;
}

function cwRequest(t: Target, operation: string, input: unknown): Buffer {
  const body = JSON.stringify(input);
  const headers = signV4({
    method: 'POST',
    host: `${t.host}:${t.port}`,
    path: '/',
    service: 'monitoring',
    headers: {
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': `GraniteServiceVersion20100801.${operation}`,
      'x-amzn-query-mode': 'true',
    },
    body,
  });
  return rawRequest('POST', '/', headers, body);
}

async function call(conn: RawConnection, t: Target, op: string, input: unknown) {
  const res = await conn.request(cwRequest(t, op, input), 60_000);
  if (res.status !== 200) throw new Error(`${op}: ${describeFailure(res)}`);
  return res.body.length ? JSON.parse(res.body.toString()) : {};
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.ceil(xs.length / 2) - 1];

/** `arrays`: the same 1,000 datapoints as 10 MetricData × 100 Values (the wire format's compact form). */
export function ingestBatches(t: Target, plan: Pick<CloudwatchPlan, 'batches'>, namespace: string, arrays = false): Buffer[] {
  const now = Date.now();
  const out: Buffer[] = [];
  let seed = 1;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let b = 0; b < plan.batches; b++) {
    const MetricData = arrays
      ? Array.from({ length: 10 }, (_, i) => ({
          MetricName: 'Latency',
          Dimensions: [{ Name: 'Host', Value: `h${i}` }],
          Unit: 'Milliseconds',
          Values: Array.from({ length: 100 }, () => 1 + Math.floor(rand() * 500)),
          Timestamp: (now - Math.floor(rand() * 600_000)) / 1000,
        }))
      : Array.from({ length: 1000 }, (_, i) => ({
          MetricName: 'Latency',
          Dimensions: [{ Name: 'Host', Value: `h${i % 10}` }],
          Unit: 'Milliseconds',
          Value: 1 + Math.floor(rand() * 500),
          Timestamp: (now - Math.floor(rand() * 600_000)) / 1000,
        }));
    out.push(cwRequest(t, 'PutMetricData', { Namespace: namespace, MetricData }));
  }
  return out;
}

async function ingestRound(t: Target, conn: RawConnection, plan: CloudwatchPlan, arrays = false) {
  const requests = ingestBatches(t, plan, `Bench/${Date.now().toString(36)}`, arrays);
  const t0 = performance.now();
  let done = 0;
  for (const req of requests) {
    if (performance.now() - t0 > plan.budgetMs) break;
    const res = await conn.request(req, 60_000);
    if (res.status !== 200) throw new Error(`PutMetricData: ${describeFailure(res)}`);
    done++;
  }
  const seconds = (performance.now() - t0) / 1000;
  return { batches: done, seconds, datapointsPerSecond: (done * 1000) / seconds };
}

/** Both forms of the ingest calls, cycled for `ms` and not measured. */
async function warmUp(t: Target, conn: RawConnection, ms: number) {
  const ns = `Warmup/${Date.now().toString(36)}`;
  const requests = [...ingestBatches(t, { batches: 40 }, ns), ...ingestBatches(t, { batches: 10 }, ns, true)];
  const t0 = performance.now();
  for (let i = 0; performance.now() - t0 < ms; i++) {
    const res = await conn.request(requests[i % requests.length], 60_000);
    if (res.status !== 200) throw new Error(`PutMetricData: ${describeFailure(res)}`);
  }
}

/** The same batches sent by `connections` clients at once (hosts pushing metrics concurrently). */
async function ingestParallel(t: Target, plan: CloudwatchPlan, connections: number) {
  const requests = ingestBatches(t, plan, `Bench/${Date.now().toString(36)}`);
  const conns = Array.from({ length: connections }, () => new RawConnection(t.host, t.port));
  let next = 0;
  let done = 0;
  const t0 = performance.now();
  try {
    await Promise.all(
      conns.map(async (conn) => {
        while (next < requests.length && performance.now() - t0 < plan.budgetMs) {
          const res = await conn.request(requests[next++], 60_000);
          if (res.status !== 200) throw new Error(`PutMetricData: ${describeFailure(res)}`);
          done++;
        }
      }),
    );
  } finally {
    for (const c of conns) c.destroy();
  }
  const seconds = (performance.now() - t0) / 1000;
  return { batches: done, seconds, datapointsPerSecond: (done * 1000) / seconds };
}

/** 10 million samples in one metric over the last 24 h, then timed 24 h queries. */
async function queryLatency(t: Target, conn: RawConnection, plan: CloudwatchPlan) {
  const ns = `BenchQuery/${Date.now().toString(36)}`;
  const metric = { Namespace: ns, MetricName: 'Requests', Dimensions: [{ Name: 'Service', Value: 'api' }] };
  const end = Math.floor(Date.now() / 60_000) * 60_000;
  const start = end - 1440 * 60_000;
  const Values = Array.from({ length: 150 }, (_, i) => i + 1);
  let samples = 0;
  const seedStart = performance.now();
  for (let m0 = 0; m0 < 1440; m0 += 100) {
    const MetricData = [];
    for (let m = m0; m < Math.min(1440, m0 + 100); m++) {
      const Counts = Values.map((_, i) => 41 + ((i + m) % 13));
      samples += Counts.reduce((s, c) => s + c, 0);
      MetricData.push({
        MetricName: metric.MetricName,
        Dimensions: metric.Dimensions,
        Values,
        Counts,
        Timestamp: (start + m * 60_000 + 1000) / 1000,
      });
    }
    await call(conn, t, 'PutMetricData', { Namespace: ns, MetricData });
  }
  const seedSeconds = (performance.now() - seedStart) / 1000;
  const measure = async (Stat: string) => {
    const req = cwRequest(t, 'GetMetricData', {
      StartTime: start / 1000,
      EndTime: end / 1000,
      MetricDataQueries: [{ Id: 'm', MetricStat: { Metric: metric, Period: 60, Stat } }],
    });
    const lat: number[] = [];
    for (let i = 0; i < plan.queries + 3; i++) {
      const s = performance.now();
      const res = await conn.request(req, 60_000);
      const ms = performance.now() - s;
      if (res.status !== 200) throw new Error(`GetMetricData: ${describeFailure(res)}`);
      if (i === 0) {
        const n = JSON.parse(res.body.toString()).MetricDataResults?.[0]?.Values?.length;
        if (n !== 1440) throw new Error(`GetMetricData returned ${n} datapoints, expected 1440`);
      }
      if (i >= 3) lat.push(ms);
    }
    lat.sort((a, b) => a - b);
    return { p50: percentile(lat, 50), p99: percentile(lat, 99) };
  };
  const avg = await measure('Average');
  const p99 = await measure('p99');
  return { samples, seedSeconds, average: avg, percentile: p99 };
}

/** In-process: the engine's tick over `plan.alarms` alarms. */
export async function alarmTicks(plan: Pick<CloudwatchPlan, 'alarms' | 'ticks' | 'churnEvery'>) {
  const dir = mkdtempSync(join(tmpdir(), 'opsbox-bench-cw-'));
  const clock = new ManualClock(Math.floor(Date.now() / 60_000) * 60_000);
  const env = createServiceEnv({ host: '127.0.0.1', port: 0, dataDir: dir, auth: 'default', ephemeral: true }, clock);
  const cw = createCloudwatch(env);
  cw.start?.();
  try {
    const scope = { account: '000000000000', region: 'us-east-1' };
    const ctx = {
      ...scope,
      clock,
      requestId: 'bench',
      service: 'cloudwatch',
      operation: 'PutMetricAlarm',
      host: 'localhost',
      headers: {},
      caller: {},
    } as unknown as RequestContext;
    const putAll = (minute: number) =>
      ingest(
        cw.store,
        scope,
        'Bench',
        Array.from({ length: plan.alarms }, (_, i) => ({
          MetricName: `m${i}`,
          Value: i % plan.churnEvery === minute % plan.churnEvery ? 100 : 1,
          Timestamp: new Date(clock.now() - 30_000),
        })),
        clock.now(),
      );
    putAll(0);
    const createStart = performance.now();
    for (let i = 0; i < plan.alarms; i++)
      await cw.handlers.PutMetricAlarm!(
        {
          AlarmName: `alarm-${i}`,
          Namespace: 'Bench',
          MetricName: `m${i}`,
          Statistic: 'Average',
          Period: 60,
          EvaluationPeriods: 3,
          DatapointsToAlarm: 1,
          Threshold: 50,
          ComparisonOperator: 'GreaterThanThreshold',
          TreatMissingData: 'notBreaching',
        },
        ctx,
      );
    const createSeconds = (performance.now() - createStart) / 1000;
    let transitions = 0;
    env.bus.subscribe(() => void transitions++);
    const ticks: number[] = [];
    for (let k = 1; k <= plan.ticks; k++) {
      clock.advance(60_000);
      putAll(k);
      const s = performance.now();
      const n = cw.engine.evaluateAll();
      ticks.push(performance.now() - s);
      if (n !== plan.alarms) throw new Error(`tick evaluated ${n} alarms`);
    }
    return { alarms: plan.alarms, createSeconds, tickMs: ticks, medianTickMs: median(ticks), transitions };
  } finally {
    await cw.close?.();
    env.store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function cloudwatchScenario(
  targets: Partial<Record<TargetName, Target | Error>>,
  plan: CloudwatchPlan,
  log: (s: string) => void,
) {
  const section = 'CloudWatch metrics and alarms (awsJson 1.0)';
  const ingestRow: Row = {
    section,
    label: 'PutMetricData, 1,000 MetricData per call, 1 connection',
    unit: 'datapoints/s',
    better: 'higher',
    target: { op: '>=', value: 500_000 },
    cells: {},
  };
  const parallelRow: Row = {
    section,
    label: 'PutMetricData, 1,000 MetricData per call, 4 connections',
    unit: 'datapoints/s',
    better: 'higher',
    target: { op: '>=', value: 500_000 },
    cells: {},
  };
  const arraysRow: Row = {
    section,
    label: 'PutMetricData, 1,000 datapoints as 10 × 100 Values',
    unit: 'datapoints/s',
    better: 'higher',
    cells: {},
  };
  const queryRow: Row = {
    section,
    label: 'GetMetricData 24 h @ 1 min, 10M datapoints, Average p50',
    unit: 'ms',
    better: 'lower',
    target: { op: '<=', value: 20 },
    cells: {},
  };
  const pctRow: Row = {
    section,
    label: 'GetMetricData 24 h @ 1 min, 10M datapoints, p99 stat p50',
    unit: 'ms',
    better: 'lower',
    cells: {},
  };
  const tickRow: Row = {
    section,
    label: `alarm tick, ${plan.alarms.toLocaleString('en-US')} alarms (in-process)`,
    unit: 'ms',
    better: 'lower',
    target: { op: '<=', value: 200 },
    cells: {},
  };
  const details: Record<string, unknown> = {};
  for (const [name, t] of Object.entries(targets) as [TargetName, Target | Error][]) {
    if (!t) continue;
    if (t instanceof Error) {
      ingestRow.cells[name] = parallelRow.cells[name] = arraysRow.cells[name] = queryRow.cells[name] = pctRow.cells[name] = na(t.message);
      continue;
    }
    const conn = new RawConnection(t.host, t.port);
    const mine: Record<string, unknown> = {};
    try {
      log(`cloudwatch: ${t.name}, warming up for ${plan.warmupMs} ms`);
      await warmUp(t, conn, plan.warmupMs);
      const rounds = [];
      for (let n = 0; n < plan.rounds; n++) {
        log(`cloudwatch: ${t.name}, ingest round ${n + 1}/${plan.rounds}: ${plan.batches} × PutMetricData(1000)`);
        rounds.push(await ingestRound(t, conn, plan));
      }
      mine.ingest = rounds;
      ingestRow.cells[name] = val(median(rounds.map((r) => r.datapointsPerSecond)));
    } catch (e) {
      ingestRow.cells[name] = na(e);
    }
    try {
      const rounds = [];
      for (let n = 0; n < plan.rounds; n++) rounds.push(await ingestParallel(t, plan, 4));
      mine.ingestParallel = rounds;
      parallelRow.cells[name] = val(median(rounds.map((r) => r.datapointsPerSecond)));
    } catch (e) {
      parallelRow.cells[name] = na(e);
    }
    try {
      const rounds = [];
      for (let n = 0; n < plan.rounds; n++) rounds.push(await ingestRound(t, conn, plan, true));
      mine.ingestArrays = rounds;
      arraysRow.cells[name] = val(median(rounds.map((r) => r.datapointsPerSecond)));
    } catch (e) {
      arraysRow.cells[name] = na(e);
    }
    // the bare server only takes the bodies in (the most a Node HTTP server can ingest); it stores nothing to query
    if (name !== 'bare')
      try {
        log(`cloudwatch: ${t.name}, seeding 10M datapoints and timing 24 h GetMetricData`);
        const q = await queryLatency(t, conn, plan);
        mine.query = q;
        queryRow.cells[name] = val(q.average.p50);
        pctRow.cells[name] = val(q.percentile.p50);
      } catch (e) {
        queryRow.cells[name] = pctRow.cells[name] = na(e);
      }
    conn.destroy();
    details[name] = mine;
  }
  try {
    log(`cloudwatch: in-process alarm ticks over ${plan.alarms} alarms`);
    const a = await alarmTicks(plan);
    details.alarms = a;
    tickRow.cells.opsbox = val(a.medianTickMs);
  } catch (e) {
    tickRow.cells.opsbox = na(e);
  }
  return { rows: [ingestRow, parallelRow, arraysRow, queryRow, pctRow, tickRow], details };
}
