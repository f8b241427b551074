/**
 * EventBridge rule matching: events/s routed through 1,000 rules, measured in-process on the real
 * engine (compiled patterns, the bus route index, target payloads and a no-op invoker), since
 * routing runs after PutEvents has answered. Two shapes: rules that name an exact `source` (the
 * usual case, served by the index) and rules that do not (every rule evaluated for every event).
 * Events are built before the clock starts; JSON parsing of PutEvents bodies is not included.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../src/core/clock.js';
import { Store } from '../src/core/store.js';
import { Targets } from '../src/core/targets.js';
import { EventsEngine, type EventDoc } from '../src/services/events/engine.js';
import { createEventsStore } from '../src/services/events/store.js';
import { na, val, type Row } from './report.js';
import type { Target, TargetName } from './targets.js';

export interface EventsPlan {
  rules: number;
  events: number;
  rounds: number;
}

const SOURCES = 100;
const SCOPE = { account: '000000000000', region: 'us-east-1' };

/** Ten pattern shapes per source, one per operator family. */
function patternFor(i: number, indexed: boolean): unknown {
  const s = `bench.svc${String(i % SOURCES).padStart(2, '0')}`;
  const source = indexed ? [s] : [{ prefix: s }];
  const detail = [
    { 'detail-type': ['Order Placed'] },
    { detail: { status: [{ prefix: 'FAIL' }] } },
    { detail: { amount: [{ numeric: ['>', 500, '<=', 1000] }] } },
    { detail: { region: [{ 'anything-but': ['us-east-1', 'eu-west-1'] }] } },
    { detail: { tags: ['urgent'] } },
    { $or: [{ detail: { a: [1] } }, { detail: { b: [{ exists: true }] } }] },
    { detail: { user: { email: [{ suffix: '@example.com' }] } } },
    { detail: { status: [{ 'equals-ignore-case': 'ok' }] } },
    { detail: { path: [{ wildcard: '/api/*/items' }] } },
    { detail: { ip: [{ cidr: '10.0.0.0/8' }] } },
  ][Math.floor(i / SOURCES) % 10];
  return { source, ...detail };
}

function makeEvents(n: number): EventDoc[] {
  const statuses = ['OK', 'FAILED', 'pending', 'ok'];
  const out: EventDoc[] = [];
  for (let i = 0; i < n; i++) {
    out.push({
      version: '0',
      id: `id-${i}`,
      'detail-type': i % 7 === 0 ? 'Order Placed' : 'Order Updated',
      source: `bench.svc${String((i * 37) % SOURCES).padStart(2, '0')}`,
      account: SCOPE.account,
      time: '2024-01-01T00:00:00Z',
      region: SCOPE.region,
      resources: [],
      detail: {
        status: statuses[i % 4],
        amount: (i * 13) % 1200,
        region: i % 3 ? 'us-east-1' : 'ap-south-1',
        tags: i % 5 ? ['normal'] : ['urgent', 'vip'],
        user: { email: i % 2 ? 'a@example.com' : 'b@example.org' },
        path: `/api/v${i % 3}/items`,
        ip: i % 4 ? '10.1.2.3' : '192.168.0.1',
      },
    });
  }
  return out;
}

interface Round {
  events: number;
  seconds: number;
  eventsPerSecond: number;
  matchedPerEvent: number;
}

interface Measured {
  /** Matching only: the route index and compiled patterns (EventsEngine.countMatches). */
  match: Round[];
  /** Routing: queue, match, build each target's payload, invoke it (a no-op invoker). */
  route: Round[];
}

async function measure(plan: EventsPlan, indexed: boolean): Promise<Measured> {
  const dir = mkdtempSync(join(tmpdir(), 'opsbox-bench-events-'));
  const store = new Store(dir);
  try {
    const es = createEventsStore(store);
    const targets = new Targets();
    targets.register('bench', () => {});
    const engine = new EventsEngine(es, targets, systemClock);
    engine.start();
    store.db.transaction(() => {
      for (let i = 0; i < plan.rules; i++) {
        const id = es.insertRule({
          ...SCOPE,
          bus: 'default',
          name: `r${i}`,
          pattern: JSON.stringify(patternFor(i, indexed)),
          schedule: null,
          state: 'ENABLED',
          description: null,
          role_arn: null,
          managed_by: null,
          created: 0,
        });
        es.putTargets(id, [{ Id: 't', Arn: `arn:aws:bench:us-east-1:000000000000:sink/${i}` }]);
      }
    })();
    const events = makeEvents(plan.events);
    // warm-up: compiles the route and lets the JIT settle
    for (const e of events.slice(0, 2000)) engine.put(SCOPE.account, SCOPE.region, 'default', e);
    engine.drain();
    const out: Measured = { match: [], route: [] };
    for (let r = 0; r < plan.rounds; r++) {
      let matched = 0;
      let t0 = performance.now();
      for (const e of events) matched += engine.countMatches(SCOPE.account, SCOPE.region, 'default', e);
      let seconds = (performance.now() - t0) / 1000;
      out.match.push({
        events: events.length,
        seconds,
        eventsPerSecond: events.length / seconds,
        matchedPerEvent: matched / events.length,
      });

      const matchedBefore = engine.stats.matched;
      t0 = performance.now();
      for (const e of events) engine.put(SCOPE.account, SCOPE.region, 'default', e);
      engine.drain();
      await new Promise((ok) => setImmediate(ok)); // the invocations' promises settle too
      seconds = (performance.now() - t0) / 1000;
      out.route.push({
        events: events.length,
        seconds,
        eventsPerSecond: events.length / seconds,
        matchedPerEvent: (engine.stats.matched - matchedBefore) / events.length,
      });
    }
    engine.close();
    return out;
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.ceil(xs.length / 2) - 1];

export async function eventsScenario(targets: Partial<Record<TargetName, Target | Error>>, plan: EventsPlan, log: (s: string) => void) {
  const section = 'EventBridge rules (in-process engine)';
  const rules = plan.rules.toLocaleString('en-US');
  const row = (label: string, target?: number): Row => ({
    section,
    label,
    unit: 'events/s',
    better: 'higher',
    target: target ? { op: '>=', value: target } : undefined,
    cells: {},
  });
  const rows = {
    match: row(`matching against ${rules} rules (exact source)`, 50_000),
    route: row(`routing + target invocation, ${rules} rules (exact source)`),
    scan: row(`matching against ${rules} rules, none indexable`),
  };
  const details: Record<string, Measured> = {};
  void targets; // measured in this process: no server is involved, so moto has no counterpart
  try {
    log(`events: ${plan.rounds} rounds × ${plan.events} events, ${plan.rules} rules with an exact source`);
    details.indexed = await measure(plan, true);
    rows.match.cells.opsbox = val(median(details.indexed.match.map((r) => r.eventsPerSecond)));
    rows.route.cells.opsbox = val(median(details.indexed.route.map((r) => r.eventsPerSecond)));
    log(`events: ${plan.rounds} rounds × ${plan.events} events, ${plan.rules} rules matched by prefix (no index)`);
    details.unindexed = await measure(plan, false);
    rows.scan.cells.opsbox = val(median(details.unindexed.match.map((r) => r.eventsPerSecond)));
  } catch (e) {
    for (const r of Object.values(rows)) r.cells.opsbox ??= na(e);
  }
  for (const r of Object.values(rows)) r.cells.moto = na('measured in-process (engine only)');
  return { rows: Object.values(rows), details };
}
