/**
 * The routing engine: events in (PutEvents, the internal bus, other buses, schedules), rules
 * matched, targets invoked through env.targets. Each bus's enabled rules are compiled once into a
 * route (indexed by the exact `source` or `detail-type` values a pattern demands) and rebuilt
 * lazily after a change. Events queue up and are routed on setImmediate, in arrival order, so a
 * publisher never waits on matching or delivery; a failing target is counted and logged, never thrown.
 * Schedules share one clock timer armed for the earliest next firing.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../../core/clock.js';
import type { BusEvent } from '../../core/events.js';
import { log } from '../../core/log.js';
import type { MetricDatum, Metrics } from '../../core/metrics.js';
import type { Targets } from '../../core/targets.js';
import { compilePattern, type Matcher } from './pattern.js';
import { nextFire, parseSchedule, type Schedule } from './schedule.js';
import { ruleArn, type EventsStore, type RuleRow } from './store.js';
import { compileTransformer, evaluatePath, parsePath, type CompiledTransformer } from './transform.js';

/** An event as rules see it: the internal bus's shape, or whatever PutEvents and forwarding carry. */
export type EventDoc = Omit<BusEvent, 'version'> & { version: string; [k: string]: unknown };

interface WireTarget {
  Id: string;
  Arn: string;
  RoleArn?: string;
  Input?: string;
  InputPath?: string;
  InputTransformer?: { InputPathsMap?: Record<string, string>; InputTemplate: string };
  [k: string]: unknown;
}

interface CompiledTarget {
  target: WireTarget;
  /** What the invoker gets in `options` (the target's parameters and where it fired from). */
  options: Record<string, unknown>;
  payload(event: EventDoc, rule: CompiledRule): string;
}

interface CompiledRule {
  row: RuleRow;
  arn: string;
  match: Matcher;
  targets: CompiledTarget[];
  /** Matches and invocations since the last AWS/Events metrics flush. */
  triggered: number;
  invocations: number;
}

interface Route {
  bySource: Map<string, CompiledRule[]>;
  byDetailType: Map<string, CompiledRule[]>;
  rest: CompiledRule[];
}

/** An event waiting to be routed: through a bus's rules, or straight to one rule's targets (schedules). */
type Item = { account: string; region: string; bus: string; event: EventDoc; hops: number } | { rule: CompiledRule; event: EventDoc };

/** An event forwarded bus to bus more often than this is dropped (rule loops). */
const MAX_HOPS = 5;
/** Never arm the clock further ahead than this: a far cron firing is re-armed on the way. */
const MAX_TIMER_MS = 6 * 3_600_000;

export const eventTime = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

export class EventsEngine {
  readonly stats = { events: 0, matched: 0, invoked: 0, delivered: 0, failed: 0 };
  /** Compiled routes by account, region and bus name. */
  private routes = new Map<string, Map<string, Map<string, Route>>>();
  private queue: Item[] = [];
  private draining = false;
  private schedules = new Map<number, { row: RuleRow; schedule: Schedule; next: number }>();
  private timer?: { cancel(): void };
  private closed = false;
  /** The last event serialized: the targets of every rule it matches share one JSON.stringify. */
  private lastEvent?: EventDoc;
  private lastJson = '';
  private json = (e: EventDoc) => {
    if (e !== this.lastEvent) {
      this.lastJson = JSON.stringify(e);
      this.lastEvent = e;
    }
    return this.lastJson;
  };

  /** Rules that fired during the current drain; their AWS/Events counts go out once at its end. */
  private fired = new Set<CompiledRule>();

  constructor(
    private store: EventsStore,
    private targets: Targets,
    private clock: Clock,
    private metrics?: Metrics,
  ) {}

  /** Picks up the stored schedules and arms the timer (the service instance's start). */
  start() {
    for (const row of this.store.scheduledRules()) this.scheduleRule(row);
    this.arm();
  }

  close() {
    this.closed = true;
    this.timer?.cancel();
    this.timer = undefined;
    this.queue = [];
  }

  // -------------------------------------------------------------------------------------------
  // Events in

  /** Queues an event for the rules of bus `bus` in the given account and region. */
  put(account: string, region: string, bus: string, event: EventDoc, hops = 0) {
    if (this.closed) return;
    this.stats.events++;
    this.queue.push({ account, region, bus, event, hops });
    this.kick();
  }

  /** Routes everything queued; tests and benchmarks call it to run synchronously. */
  drain() {
    this.draining = false;
    while (this.queue.length) {
      const items = this.queue;
      this.queue = [];
      for (const item of items) {
        try {
          if ('rule' in item) this.deliver(item.rule, item.event, 0);
          else this.route(this.routeFor(item.account, item.region, item.bus), item.event, item.hops);
        } catch (err) {
          log.warn('events: routing failed', { err: String(err) });
        }
      }
    }
    if (this.fired.size) this.flushMetrics();
  }

  /** AWS/Events TriggeredRules and Invocations per rule, one put per drain. */
  private flushMetrics() {
    const timestamp = this.clock.now();
    const byScope = new Map<string, { account: string; region: string; data: MetricDatum[] }>();
    for (const r of this.fired) {
      const key = `${r.row.account} ${r.row.region}`;
      let batch = byScope.get(key);
      if (!batch) byScope.set(key, (batch = { account: r.row.account, region: r.row.region, data: [] }));
      const dimensions = ruleDimensions(r);
      batch.data.push({ namespace: 'AWS/Events', metricName: 'TriggeredRules', dimensions, value: r.triggered, unit: 'Count', timestamp });
      if (r.invocations)
        batch.data.push({ namespace: 'AWS/Events', metricName: 'Invocations', dimensions, value: r.invocations, unit: 'Count', timestamp });
      r.triggered = r.invocations = 0;
    }
    this.fired.clear();
    if (!this.metrics) return;
    for (const b of byScope.values()) {
      try {
        this.metrics.put(b.account, b.region, b.data);
      } catch (err) {
        log.warn('events: metrics not recorded', { err: String(err) });
      }
    }
  }

  private kick() {
    if (this.draining) return;
    this.draining = true;
    setImmediate(() => this.drain());
  }

  /** How many enabled rules with targets on the bus match the event, without delivering (benchmarks, diagnostics). */
  countMatches(account: string, region: string, bus: string, event: EventDoc): number {
    const route = this.routeFor(account, region, bus);
    let n = 0;
    const bySource = typeof event.source === 'string' ? route.bySource.get(event.source) : undefined;
    if (bySource) for (let i = 0; i < bySource.length; i++) if (bySource[i].match(event)) n++;
    const dt = event['detail-type'];
    const byType = typeof dt === 'string' ? route.byDetailType.get(dt) : undefined;
    if (byType) for (let i = 0; i < byType.length; i++) if (byType[i].match(event)) n++;
    for (let i = 0; i < route.rest.length; i++) if (route.rest[i].match(event)) n++;
    return n;
  }

  private route(route: Route, event: EventDoc, hops: number) {
    if (route.bySource.size) {
      const rules = typeof event.source === 'string' ? route.bySource.get(event.source) : undefined;
      if (rules) for (let i = 0; i < rules.length; i++) if (rules[i].match(event)) this.deliver(rules[i], event, hops);
    }
    if (route.byDetailType.size) {
      const dt = event['detail-type'];
      const rules = typeof dt === 'string' ? route.byDetailType.get(dt) : undefined;
      if (rules) for (let i = 0; i < rules.length; i++) if (rules[i].match(event)) this.deliver(rules[i], event, hops);
    }
    const rest = route.rest;
    for (let i = 0; i < rest.length; i++) if (rest[i].match(event)) this.deliver(rest[i], event, hops);
  }

  private deliver(rule: CompiledRule, event: EventDoc, hops: number) {
    this.stats.matched++;
    rule.triggered++;
    rule.invocations += rule.targets.length;
    this.fired.add(rule);
    for (const t of rule.targets) {
      let payload: string;
      try {
        payload = t.payload(event, rule);
      } catch (err) {
        this.stats.failed++;
        log.warn('events: target input could not be built', { rule: rule.arn, target: t.target.Id, err: String(err) });
        continue;
      }
      this.stats.invoked++;
      this.targets
        .invoke({
          arn: t.target.Arn,
          account: rule.row.account,
          region: rule.row.region,
          payload,
          source: 'events',
          options: hops === 0 ? t.options : { ...t.options, Hops: hops + 1 },
        })
        .then(this.onDelivered, (err) => this.onFailed(rule, t, err));
    }
  }

  private onDelivered = () => void this.stats.delivered++;

  private onFailed(rule: CompiledRule, t: CompiledTarget, err: unknown) {
    this.stats.failed++;
    try {
      this.metrics?.put(rule.row.account, rule.row.region, [
        {
          namespace: 'AWS/Events',
          metricName: 'FailedInvocations',
          dimensions: ruleDimensions(rule),
          value: 1,
          unit: 'Count',
          timestamp: this.clock.now(),
        },
      ]);
    } catch {
      // metrics are best effort
    }
    log.warn('events: target invocation failed', { rule: rule.arn, target: t.target.Arn, err: String(err) });
  }

  /** The invoker for arn:aws:events:…:event-bus/<name> targets: the event goes onto that bus. */
  invokeBus = (inv: { arn: string; payload: string; options?: Record<string, unknown> }) => {
    const m = /^arn:[\w-]+:events:([^:]*):(\d*):event-bus\/(.+)$/.exec(inv.arn);
    if (!m) throw new Error(`not an event bus: ${inv.arn}`);
    const hops = Number(inv.options?.Hops ?? 1);
    if (hops > MAX_HOPS) throw new Error(`event dropped after ${MAX_HOPS} bus-to-bus hops (a rule loop?)`);
    const event = JSON.parse(inv.payload) as EventDoc;
    if (!event || typeof event !== 'object' || typeof event.source !== 'string') throw new Error('payload is not an event');
    this.put(m[2], m[1], m[3], event, hops);
  };

  // -------------------------------------------------------------------------------------------
  // Compiled routes

  /** Forgets the compiled route of a bus after its rules or targets changed. */
  invalidate(account: string, region: string, bus: string) {
    this.routes.get(account)?.get(region)?.delete(bus);
  }

  private routeFor(account: string, region: string, bus: string): Route {
    let byRegion = this.routes.get(account);
    if (!byRegion) this.routes.set(account, (byRegion = new Map()));
    let byBus = byRegion.get(region);
    if (!byBus) byRegion.set(region, (byBus = new Map()));
    let route = byBus.get(bus);
    if (route) return route;
    route = { bySource: new Map(), byDetailType: new Map(), rest: [] };
    for (const row of this.store.busRules({ account, region }, bus)) {
      if (!row.pattern || row.state === 'DISABLED') continue;
      let compiled;
      try {
        compiled = compilePattern(row.pattern);
      } catch {
        continue; // validated on PutRule; never fatal here
      }
      const rule = this.compileRule(row, compiled.match);
      if (!rule.targets.length) continue;
      if (compiled.index) {
        const index = compiled.index.field === 'source' ? route.bySource : route.byDetailType;
        for (const v of new Set(compiled.index.values)) {
          const list = index.get(v);
          if (list) list.push(rule);
          else index.set(v, [rule]);
        }
      } else route.rest.push(rule);
    }
    byBus.set(bus, route);
    return route;
  }

  private compileRule(row: RuleRow, match: Matcher): CompiledRule {
    const arn = ruleArn(row);
    const targets = this.store.targets(row.id).map((t) => {
      const target = JSON.parse(t.body) as WireTarget;
      const { Id, Arn: _a, Input: _i, InputPath: _p, InputTransformer: _t, ...params } = target;
      const options = { ...params, TargetId: Id, RuleArn: arn, RuleName: row.name, EventBusName: row.bus, Hops: 1 };
      return { ...compileTarget(target, this.clock, this.json), target, options };
    });
    return { row, arn, match, targets, triggered: 0, invocations: 0 };
  }

  // -------------------------------------------------------------------------------------------
  // Schedules

  /** (Re)reads a rule's schedule after PutRule/Enable/Disable/DeleteRule; `row` undefined removes it. */
  reschedule(id: number, row: RuleRow | undefined) {
    this.schedules.delete(id);
    if (row) this.scheduleRule(row);
    this.arm();
  }

  private scheduleRule(row: RuleRow) {
    if (!row.schedule || row.state === 'DISABLED') return;
    let schedule: Schedule;
    try {
      schedule = parseSchedule(row.schedule);
    } catch {
      return;
    }
    const next = nextFire(schedule, this.clock.now(), row.created);
    if (next !== undefined) this.schedules.set(row.id, { row, schedule, next });
  }

  private arm() {
    this.timer?.cancel();
    this.timer = undefined;
    if (this.closed || this.schedules.size === 0) return;
    let earliest = Infinity;
    for (const s of this.schedules.values()) if (s.next < earliest) earliest = s.next;
    const delay = Math.min(Math.max(0, earliest - this.clock.now()), MAX_TIMER_MS);
    this.timer = this.clock.setTimeout(() => this.fire(), delay);
  }

  private fire() {
    this.timer = undefined;
    const now = this.clock.now();
    for (const [id, s] of this.schedules) {
      if (s.next > now) continue;
      const fired = s.next;
      const next = nextFire(s.schedule, now, s.row.created);
      if (next === undefined) this.schedules.delete(id);
      else s.next = next;
      const rule = this.compileRule(s.row, () => true);
      if (!rule.targets.length) continue;
      const event: EventDoc = {
        version: '0',
        id: randomUUID(),
        'detail-type': 'Scheduled Event',
        source: 'aws.events',
        account: s.row.account,
        time: eventTime(fired),
        region: s.row.region,
        resources: [rule.arn],
        detail: {},
      };
      this.stats.events++;
      this.queue.push({ rule, event });
      this.kick();
    }
    this.arm();
  }
}

const ruleDimensions = (r: CompiledRule) =>
  r.row.bus === 'default'
    ? [{ Name: 'RuleName', Value: r.row.name }]
    : [
        { Name: 'EventBusName', Value: r.row.bus },
        { Name: 'RuleName', Value: r.row.name },
      ];

function compileTarget(target: WireTarget, clock: Clock, json: (e: EventDoc) => string): Pick<CompiledTarget, 'payload'> {
  if (target.Input !== undefined) {
    const input = target.Input;
    return { payload: () => input };
  }
  if (target.InputPath !== undefined) {
    const steps = parsePath(target.InputPath);
    return { payload: (e) => JSON.stringify(evaluatePath(steps, e) ?? null) };
  }
  if (target.InputTransformer) {
    const t: CompiledTransformer = compileTransformer(target.InputTransformer.InputPathsMap, target.InputTransformer.InputTemplate);
    return {
      payload: (e, rule) =>
        t.render({ event: e, ruleArn: rule.arn, ruleName: rule.row.name, ingestionTime: new Date(clock.now()).toISOString() }),
    };
  }
  return { payload: json };
}
