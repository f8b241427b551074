/**
 * One request replayed: latency and requests/s on 1 and on 32 keep-alive connections, for every
 * target, in rounds where targets take turns (the median round counts, so a burst of load from
 * elsewhere on the machine does not land on one target only). STS GetCallerIdentity, SSM
 * GetParameter and Secrets Manager GetSecretValue are measured this way.
 */
import { describeFailure, percentile, runLoad, type LoadResult } from './load.js';
import { RawConnection, type RawResponse } from './rawHttp.js';
import { na, rowsOf, val } from './report.js';
import type { Target, TargetName } from './targets.js';

export interface CallTiming {
  warmupMs: number;
  durationMs: number;
  rounds: number;
}

export interface Call {
  /** Section title in the report. */
  section: string;
  /** Short name in progress lines. */
  name: string;
  /** The signed request for a target (signed once and replayed). */
  request(t: Target): Buffer;
  ok(r: RawResponse): boolean;
  /** Whatever the call needs to exist first (a parameter, a secret); throws when the target cannot. */
  setup?(t: Target): Promise<void>;
}

const median = (xs: number[]) => percentile(Float64Array.from(xs).sort(), 50);

/** One request on a fresh connection; throws with the failure. */
export async function callOnce(t: { host: string; port: number }, request: Buffer, ok: (r: RawResponse) => boolean): Promise<RawResponse> {
  const c = new RawConnection(t.host, t.port);
  try {
    const res = await c.request(request);
    if (!ok(res)) throw new Error(describeFailure(res));
    return res;
  } finally {
    c.destroy();
  }
}

export async function callScenario(
  call: Call,
  targets: Partial<Record<TargetName, Target | Error>>,
  timing: CallTiming,
  log: (s: string) => void,
) {
  const mk = rowsOf(call.section);
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
  const live: { t: Target; request: Buffer }[] = [];
  for (const [name, t] of Object.entries(targets) as [TargetName, Target | Error][]) {
    if (t instanceof Error) {
      all.forEach((r) => (r.cells[name] = na(t.message)));
      continue;
    }
    try {
      await call.setup?.(t);
      const request = call.request(t);
      await callOnce(t, request, call.ok);
      live.push({ t, request });
    } catch (e) {
      all.forEach((r) => (r.cells[name] = na(e)));
    }
  }
  const details: Record<string, Record<string, LoadResult[]>> = {};
  for (const connections of [1, 32] as const) {
    const results = new Map<Target, LoadResult[]>(live.map(({ t }) => [t, []]));
    for (let round = 0; round < timing.rounds; round++) {
      for (const { t, request } of live) {
        const warmupMs = round === 0 ? timing.warmupMs : Math.min(200, timing.warmupMs);
        log(
          `${call.name}: ${t.name}, ${connections} connection(s), round ${round + 1}/${timing.rounds}, ${warmupMs} ms warmup + ${timing.durationMs} ms`,
        );
        const r = await runLoad({ host: t.host, port: t.port, request, connections, warmupMs, durationMs: timing.durationMs, ok: call.ok });
        if (r.errors) log(`${call.name}: ${t.name}: ${r.errors} errors, first: ${r.firstError}`);
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
