/**
 * `node dist/bench/run.js --profile`: run opsbox under `node --cpu-prof`, drive 32 keep-alive
 * connections of GetCallerIdentity (or of a Call scenario: ssm, secretsmanager) for a while, stop it
 * (the profile is written at exit) and print the functions with the most self time, and the opsbox
 * functions with the most inclusive time.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Call } from './callScenario.js';
import { ingestBatches } from './cloudwatch.js';
import { runLoad } from './load.js';
import { RawConnection } from './rawHttp.js';
import { getCallerIdentityRequest, isIdentity } from './sts.js';
import { startOpsbox } from './targets.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

export async function profileOpsbox(durationMs: number, log: (s: string) => void, workload: 'sts' | 'putmetricdata' | Call = 'sts') {
  const dir = mkdtempSync(join(tmpdir(), 'opsbox-prof-'));
  const t = await startOpsbox(['--cpu-prof', `--cpu-prof-dir=${dir}`]);
  if (workload === 'putmetricdata') {
    const connections = Number(process.env.OPSBOX_PROFILE_CONNECTIONS ?? 4);
    log(`profiling opsbox (pid ${t.pid}) under PutMetricData(1,000 MetricData) on ${connections} connections for ${durationMs} ms`);
    const requests = ingestBatches(t, { batches: 3000 }, `Prof/${Date.now().toString(36)}`);
    const conns = Array.from({ length: connections }, () => new RawConnection(t.host, t.port));
    const t0 = performance.now();
    let n = 0;
    await Promise.all(
      conns.map(async (conn) => {
        while (performance.now() - t0 < durationMs && n < requests.length) {
          const res = await conn.request(requests[n++], 60_000);
          if (res.status !== 200) throw new Error(`PutMetricData ${res.status}`);
        }
      }),
    );
    log(`${((n * 1000) / ((performance.now() - t0) / 1000)).toFixed(0)} datapoints/s on ${connections} connections`);
    for (const c of conns) c.destroy();
  } else {
    const call = workload === 'sts' ? undefined : workload;
    log(`profiling opsbox (pid ${t.pid}) under 32 connections of ${call?.name ?? 'sts'} for ${durationMs} ms`);
    await call?.setup?.(t);
    const r = await runLoad({
      host: t.host,
      port: t.port,
      request: call ? call.request(t) : getCallerIdentityRequest(t),
      connections: 32,
      warmupMs: 500,
      durationMs,
      ok: call ? call.ok : isIdentity,
    });
    log(`${r.rps.toFixed(0)} req/s, p50 ${r.p50Ms.toFixed(2)} ms, errors ${r.errors}`);
  }
  await t.stop();
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`no .cpuprofile written in ${dir}`);
  const prof = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  prof.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0)));
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const name = (n: ProfileNode) =>
    `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*\/(dist|node_modules)\//, '$1/').replace(/^node:/, 'node:')}:${n.callFrame.lineNumber + 1}`;

  const selfBy = new Map<string, number>();
  for (const [id, us] of self) {
    const k = name(byId.get(id)!);
    selfBy.set(k, (selfBy.get(k) ?? 0) + us);
  }
  // inclusive time: each sample counts once for every distinct function on its stack
  const parent = new Map<number, number>();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const incl = new Map<string, number>();
  for (const [id, us] of self) {
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const k = name(byId.get(cur)!);
      if (seen.has(k)) continue;
      seen.add(k);
      incl.set(k, (incl.get(k) ?? 0) + us);
    }
  }
  const pct = (us: number) => `${((100 * us) / total).toFixed(1).padStart(5)}%`;
  console.log(`\nself time (top 25 of ${(total / 1e6).toFixed(1)} s sampled)`);
  for (const [k, us] of [...selfBy].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`${pct(us)}  ${k}`);
  console.log('\ninclusive time of opsbox functions (top 25)');
  for (const [k, us] of [...incl]
    .filter(([k]) => k.includes('dist/'))
    .sort((a, b) => b[1] - a[1])
    .slice(0, 25))
    console.log(`${pct(us)}  ${k}`);
  rmSync(dir, { recursive: true, force: true });
}
