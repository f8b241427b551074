/**
 * STS GetCallerIdentity as the aws CLI sends it (awsQuery POST, SigV4 header), signed once per
 * target and replayed: latency and requests/s on 1 and on 32 keep-alive connections. Also the
 * first call after a cold start (which includes any lazy loading in the server).
 */
import { describeFailure, percentile, runLoad, type LoadResult } from './load.js';
import { RawConnection, type RawResponse } from './rawHttp.js';
import { na, val, type Row } from './report.js';
import { rawRequest, signV4 } from './sigv4.js';
import type { Target, TargetName } from './targets.js';

const BODY = 'Action=GetCallerIdentity&Version=2011-06-15';

export function getCallerIdentityRequest(t: { host: string; port: number }): Buffer {
  const headers = signV4({
    method: 'POST',
    host: `${t.host}:${t.port}`,
    path: '/',
    service: 'sts',
    headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
    body: BODY,
  });
  return rawRequest('POST', '/', headers, BODY);
}

export const isIdentity = (r: RawResponse) => r.status === 200 && r.body.includes('<Arn>');

/** One call on a fresh connection: ms, or throws with the failure. */
export async function oneCall(t: { host: string; port: number }): Promise<number> {
  const c = new RawConnection(t.host, t.port);
  const req = getCallerIdentityRequest(t);
  const t0 = performance.now();
  try {
    const res = await c.request(req);
    if (!isIdentity(res)) throw new Error(describeFailure(res));
    return performance.now() - t0;
  } finally {
    c.destroy();
  }
}

export interface StsTiming {
  warmupMs: number;
  durationMs: number;
  /** Rounds per connection count; targets take turns each round and the median round counts, so a
   * burst of load from elsewhere on the machine does not land on one target only. */
  rounds: number;
}

const median = (xs: number[]) => percentile(Float64Array.from(xs).sort(), 50);

export async function stsScenario(targets: Partial<Record<TargetName, Target | Error>>, timing: StsTiming, log: (s: string) => void) {
  const section = 'STS GetCallerIdentity (awsQuery, SigV4)';
  const mk = (label: string, unit: string, better: 'lower' | 'higher', target?: Row['target']): Row => ({
    section,
    label,
    unit,
    better,
    target,
    cells: {},
  });
  const rows = {
    c1: {
      p50: mk('1 connection p50', 'ms', 'lower', { op: '<=', value: 1 }),
      p99: mk('1 connection p99', 'ms', 'lower'),
      rps: mk('1 connection throughput', 'req/s', 'higher'),
    },
    c32: {
      p50: mk('32 connections p50', 'ms', 'lower'),
      p99: mk('32 connections p99', 'ms', 'lower'),
      rps: mk('32 connections throughput', 'req/s', 'higher', { op: '>=', value: 8000 }),
    },
  };
  const all = [...Object.values(rows.c1), ...Object.values(rows.c32)];
  const live: Target[] = [];
  for (const [name, t] of Object.entries(targets) as [TargetName, Target | Error][]) {
    if (t instanceof Error) {
      all.forEach((r) => (r.cells[name] = na(t.message)));
      continue;
    }
    try {
      await oneCall(t);
      live.push(t);
    } catch (e) {
      all.forEach((r) => (r.cells[name] = na(e)));
    }
  }
  const details: Record<string, Record<string, LoadResult[]>> = {};
  for (const connections of [1, 32] as const) {
    const results = new Map<Target, LoadResult[]>(live.map((t) => [t, []]));
    for (let round = 0; round < timing.rounds; round++) {
      for (const t of live) {
        const warmupMs = round === 0 ? timing.warmupMs : Math.min(200, timing.warmupMs);
        log(
          `sts: ${t.name}, ${connections} connection(s), round ${round + 1}/${timing.rounds}, ${warmupMs} ms warmup + ${timing.durationMs} ms`,
        );
        const r = await runLoad({
          host: t.host,
          port: t.port,
          request: getCallerIdentityRequest(t),
          connections,
          warmupMs,
          durationMs: timing.durationMs,
          ok: isIdentity,
        });
        if (r.errors) log(`sts: ${t.name}: ${r.errors} errors, first: ${r.firstError}`);
        results.get(t)!.push(r);
      }
    }
    const row = connections === 1 ? rows.c1 : rows.c32;
    for (const [t, rs] of results) {
      (details[t.name] ??= {})[`c${connections}`] = rs;
      const good = rs.filter((r) => r.requests > 0);
      if (!good.length) {
        Object.values(row).forEach((r) => (r.cells[t.name] = na(rs[0]?.firstError ?? 'no request completed')));
        continue;
      }
      row.p50.cells[t.name] = val(median(good.map((r) => r.p50Ms)));
      row.p99.cells[t.name] = val(median(good.map((r) => r.p99Ms)));
      row.rps.cells[t.name] = val(median(good.map((r) => r.rps)));
    }
  }
  return { rows: all, details };
}
