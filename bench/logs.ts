/**
 * CloudWatch Logs PutLogEvents (awsJson1.1) in batches of 1,000 events on one keep-alive
 * connection, after CreateLogGroup and CreateLogStream. Request bodies are built and signed before
 * the clock starts, so the figure is the server's ingest rate.
 */
import { describeFailure } from './load.js';
import { RawConnection } from './rawHttp.js';
import { na, val, type Row } from './report.js';
import { rawRequest, signV4 } from './sigv4.js';
import type { Target, TargetName } from './targets.js';

function logsRequest(t: Target, operation: string, input: unknown): Buffer {
  const body = JSON.stringify(input);
  const headers = signV4({
    method: 'POST',
    host: `${t.host}:${t.port}`,
    path: '/',
    service: 'logs',
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `Logs_20140328.${operation}` },
    body,
  });
  return rawRequest('POST', '/', headers, body);
}

export interface LogsPlan {
  batches: number;
  batchSize: number;
  /** Rounds, targets taking turns (the median round counts), each into a fresh log stream. */
  rounds: number;
  /** Stop a target's round once this much time went by (moto can be slow). */
  budgetMs: number;
}

const LINE = ' GET /api/items?page=2 200 12ms user-agent="bench/1.0" trace=1-5f84c7a1-abcdef012345678901234567';

/** The signed PutLogEvents requests of one round, built before the clock starts. */
function batches(t: Target, plan: LogsPlan, logGroupName: string, logStreamName: string): Buffer[] {
  // ascending timestamps ending about now; one batch spans 1 s, well inside AWS's 24 h limit
  const base = Date.now() - plan.batches * plan.batchSize;
  const requests: Buffer[] = [];
  for (let b = 0; b < plan.batches; b++) {
    const logEvents = [];
    for (let i = 0; i < plan.batchSize; i++) {
      const ts = base + b * plan.batchSize + i;
      logEvents.push({ timestamp: ts, message: `${new Date(ts).toISOString()} event ${b}-${i}${LINE}` });
    }
    requests.push(logsRequest(t, 'PutLogEvents', { logGroupName, logStreamName, logEvents }));
  }
  return requests;
}

async function call(conn: RawConnection, t: Target, op: string, input: unknown) {
  const res = await conn.request(logsRequest(t, op, input));
  if (res.status !== 200) throw new Error(`${op}: ${describeFailure(res)}`);
}

interface Round {
  batches: number;
  seconds: number;
  eventsPerSecond: number;
  p50Ms: number;
}

async function round(t: Target, conn: RawConnection, plan: LogsPlan, logGroupName: string, n: number): Promise<Round> {
  const logStreamName = `stream-${n}`;
  await call(conn, t, 'CreateLogStream', { logGroupName, logStreamName });
  const requests = batches(t, plan, logGroupName, logStreamName);
  const lat: number[] = [];
  const t0 = performance.now();
  for (const req of requests) {
    if (performance.now() - t0 > plan.budgetMs) break;
    const s = performance.now();
    const res = await conn.request(req, 60_000);
    lat.push(performance.now() - s);
    if (res.status !== 200) throw new Error(`PutLogEvents: ${describeFailure(res)}`);
    if (res.body.includes('rejectedLogEventsInfo')) throw new Error(`PutLogEvents rejected events: ${res.body.toString().slice(0, 200)}`);
  }
  const seconds = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  return {
    batches: lat.length,
    seconds,
    eventsPerSecond: (lat.length * plan.batchSize) / seconds,
    p50Ms: lat[Math.ceil(lat.length / 2) - 1],
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.ceil(xs.length / 2) - 1];

export async function logsScenario(targets: Partial<Record<TargetName, Target | Error>>, plan: LogsPlan, log: (s: string) => void) {
  const section = 'CloudWatch Logs PutLogEvents (awsJson1.1)';
  const rate: Row = {
    section,
    label: `${plan.batches} batches of ${plan.batchSize.toLocaleString('en-US')} events, 1 connection`,
    unit: 'events/s',
    better: 'higher',
    target: { op: '>=', value: 200_000 },
    cells: {},
  };
  const p50: Row = { section, label: 'PutLogEvents p50 per batch', unit: 'ms', better: 'lower', cells: {} };
  const live = new Map<Target, { conn: RawConnection; group: string; rounds: Round[] }>();
  for (const [name, t] of Object.entries(targets) as [TargetName, Target | Error][]) {
    if (t instanceof Error) {
      rate.cells[name] = p50.cells[name] = na(t.message);
      continue;
    }
    const conn = new RawConnection(t.host, t.port);
    const group = `/bench/${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
    try {
      await call(conn, t, 'CreateLogGroup', { logGroupName: group });
      live.set(t, { conn, group, rounds: [] });
    } catch (e) {
      rate.cells[name] = p50.cells[name] = na(e);
      conn.destroy();
    }
  }
  for (let n = 0; n < plan.rounds; n++) {
    for (const [t, s] of live) {
      log(`logs: ${t.name}, round ${n + 1}/${plan.rounds}: ${plan.batches} × PutLogEvents(${plan.batchSize})`);
      try {
        const r = await round(t, s.conn, plan, s.group, n);
        if (r.batches < plan.batches) log(`logs: ${t.name}: only ${r.batches} batches fit the time budget`);
        s.rounds.push(r);
      } catch (e) {
        rate.cells[t.name] = p50.cells[t.name] = na(e);
        s.conn.destroy();
        live.delete(t);
      }
    }
  }
  const details: Record<string, Round[]> = {};
  for (const [t, s] of live) {
    s.conn.destroy();
    details[t.name] = s.rounds;
    rate.cells[t.name] = val(median(s.rounds.map((r) => r.eventsPerSecond)));
    p50.cells[t.name] = val(median(s.rounds.map((r) => r.p50Ms)));
  }
  return { rows: [rate, p50], details };
}
