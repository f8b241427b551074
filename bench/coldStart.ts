/**
 * Cold start: spawn `node dist/src/cli.js start --port P --ephemeral` and poll GET
 * /_opsbox/health every 2 ms until it answers 200; median of N spawns. The same for the bare Node
 * server (what Node itself costs), and then the first GetCallerIdentity on the fresh process.
 */
import { percentile } from './load.js';
import { na, val, type Row } from './report.js';
import { oneCall } from './sts.js';
import { startBare, startOpsbox, type Target } from './targets.js';

const median = (xs: number[]) => percentile(Float64Array.from(xs).sort(), 50);

export async function coldStartScenario(spawns: number, log: (s: string) => void) {
  const section = 'Cold start (spawn → first 200)';
  const start: Row = {
    section,
    label: `spawn → health 200, median of ${spawns}`,
    unit: 'ms',
    better: 'lower',
    target: { op: '<=', value: 400 },
    cells: {},
  };
  const first: Row = { section, label: 'then first GetCallerIdentity', unit: 'ms', better: 'lower', cells: {} };
  const details: Record<string, { startMs: number[]; firstCallMs: number[] }> = {};
  for (const [name, launch] of [
    ['opsbox', startOpsbox],
    ['bare', startBare],
  ] as const) {
    const d = (details[name] = { startMs: [] as number[], firstCallMs: [] as number[] });
    try {
      for (let i = 0; i < spawns; i++) {
        const t: Target = await launch();
        try {
          d.startMs.push(t.startMs);
          d.firstCallMs.push(await oneCall(t));
        } finally {
          await t.stop();
        }
      }
      log(
        `cold start: ${name} ${d.startMs.map((x) => x.toFixed(0)).join(', ')} ms; first call ${d.firstCallMs.map((x) => x.toFixed(1)).join(', ')} ms`,
      );
      start.cells[name] = val(median(d.startMs));
      first.cells[name] = val(median(d.firstCallMs));
    } catch (e) {
      if (d.startMs.length) start.cells[name] = val(median(d.startMs));
      else start.cells[name] = na(e);
      first.cells[name] = na(e);
    }
  }
  return { rows: [start, first], details };
}
