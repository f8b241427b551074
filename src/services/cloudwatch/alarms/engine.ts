/**
 * The alarm engine: every alarm in memory (written through to cloudwatch_alarms), one timer on
 * env.clock that evaluates all metric alarms at each minute boundary and the high-resolution ones
 * (a period under a minute) every 10 seconds, as AWS does, and the state transition that
 * follows AWS: history item, "CloudWatch Alarm State Change" on the bus, the new state's actions
 * through env.targets, then the composite alarms that read the changed alarm.
 * How one metric alarm's datapoints become a state lives in evaluate.ts.
 */
import { arn as makeArn, parseArn } from '../../../core/arn.js';
import { log } from '../../../core/log.js';
import type { ServiceEnv } from '../../../gateway/service.js';
import type { PutMetricAlarmInput } from '../api.generated.js';
import { evalRule, parseRule, ruleAlarms, type Rule } from './composite.js';
import { evaluateMetricAlarm, metricsPeriod, type Reads } from './evaluate.js';
import { alarmEvent, lambdaAlarmEvent, notification, stateChangeSubject } from './notify.js';
import { awsDate } from '../format.js';
import { RecentPoints } from './recent.js';
import type { CloudwatchStore } from '../store.js';

export type StateValue = 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';

export interface AlarmState {
  value: StateValue;
  reason: string;
  reasonData?: string;
  updated: number;
  transitioned: number;
}

export interface Alarm {
  account: string;
  region: string;
  name: string;
  type: 'MetricAlarm' | 'CompositeAlarm';
  arn: string;
  /** The PutMetricAlarm / PutCompositeAlarm input, minus Tags. */
  config: Record<string, any>;
  actionsEnabled: boolean;
  state: AlarmState;
  configUpdated: number;
}

export type MetricAlarmConfig = Omit<PutMetricAlarmInput, 'Tags'>;

const key = (account: string, region: string, name: string) => `${account}|${region}|${name}`;

/** High-resolution alarms are evaluated this often; every alarm at each minute boundary. */
const HIGH_RES_TICK = 10_000;

const highResolution = (a: Alarm) =>
  a.type === 'MetricAlarm' && (a.config.Metrics ? metricsPeriod(a.config.Metrics) : a.config.Period) < 60;

export class AlarmEngine {
  readonly alarms = new Map<string, Alarm>();
  /** The composite alarms among them, so a transition does not scan every alarm. */
  private composites = new Map<string, Alarm>();
  /** The metric alarms with a period under a minute, by key. */
  private highRes = new Map<string, Alarm>();
  private rules = new Map<string, Rule>();
  private timer: { cancel(): void } | undefined;
  private recent: RecentPoints;
  /** Called once per tick after alarms are evaluated (opsbox's own health metrics). */
  onTick: (() => void) | undefined;

  constructor(
    private env: ServiceEnv,
    private store: CloudwatchStore,
  ) {
    this.recent = new RecentPoints(store);
    for (const row of store.q.allAlarms.all() as { doc: string; state: string | null }[]) {
      const a = JSON.parse(row.doc) as Alarm;
      if (row.state) a.state = JSON.parse(row.state);
      this.index(a);
    }
  }

  private index(a: Alarm) {
    const k = key(a.account, a.region, a.name);
    this.alarms.set(k, a);
    if (a.type === 'CompositeAlarm') this.composites.set(a.arn, a);
    if (highResolution(a)) this.highRes.set(k, a);
    else this.highRes.delete(k);
  }

  start() {
    const now = this.env.clock.now();
    this.timer = this.env.clock.setTimeout(() => this.tick(), HIGH_RES_TICK - (now % HIGH_RES_TICK));
  }

  stop() {
    this.timer?.cancel();
    this.timer = undefined;
  }

  /**
   * At a minute boundary evaluates every metric alarm, else the high-resolution ones; never throws.
   * Returns how many were evaluated.
   */
  tick(): number {
    this.timer = undefined;
    let n = 0;
    try {
      if (this.env.clock.now() % 60_000 < HIGH_RES_TICK) {
        n = this.evaluateAll();
        this.onTick?.();
      } else if (this.highRes.size) n = this.evaluateSome(this.highRes.values(), false);
    } catch (err) {
      log.error('cloudwatch alarm tick failed', { err: String(err) });
    }
    if (!this.timer) this.start();
    return n;
  }

  /** One transaction for the whole tick: state changes and history commit together, once. */
  evaluateAll(): number {
    return this.evaluateSome(this.alarms.values(), true);
  }

  /** `prune`: drop the recent rows no alarm evaluated here needs (only when all were evaluated). */
  private evaluateSome(alarms: Iterable<Alarm>, prune: boolean): number {
    const keep = new Map<number, number>();
    const reads = this.reads(keep);
    let n = 0;
    this.store.transaction(() => {
      for (const a of alarms) {
        if (a.type !== 'MetricAlarm') continue;
        this.evaluate(a, reads);
        n++;
      }
    });
    if (prune) this.recent.prune(keep);
    return n;
  }

  /** Reads for evaluation come from the in-memory recent buckets; `keep` collects what the tick still needs. */
  reads(keep?: Map<number, number>): Reads {
    return {
      store: this.store,
      points: (metricId, from, to) => {
        if (keep) {
          const k = keep.get(metricId);
          if (k === undefined || from < k) keep.set(metricId, from);
        }
        return this.recent.points(metricId, from, to);
      },
    };
  }

  evaluate(a: Alarm, reads = this.reads()) {
    try {
      const now = this.env.clock.now();
      const next = evaluateMetricAlarm(a, now, reads);
      if (next && next.value !== a.state.value) this.transition(a, next.value, next.reason, next.reasonData, now);
    } catch (err) {
      log.error('cloudwatch alarm evaluation failed', { alarm: a.name, err: String(err) });
    }
  }

  get(account: string, region: string, name: string) {
    return this.alarms.get(key(account, region, name));
  }

  arnOf(account: string, region: string, name: string) {
    return makeArn('cloudwatch', { account, region }, `alarm:${name}`);
  }

  save(a: Alarm) {
    if (a.type === 'CompositeAlarm' && this.rules.has(a.arn) && this.alarms.get(key(a.account, a.region, a.name))?.config !== a.config)
      this.rules.delete(a.arn);
    this.index(a);
    this.store.q.putAlarm.run(a.account, a.region, a.name, JSON.stringify({ ...a, state: undefined }), JSON.stringify(a.state));
  }

  /** A transition writes only the state column. */
  saveState(a: Alarm) {
    this.store.q.putState.run(JSON.stringify(a.state), a.account, a.region, a.name);
  }

  /** Forgets the alarm, and its tags. */
  delete(a: Alarm) {
    this.store.transaction(() => {
      this.store.q.deleteAlarm.run(a.account, a.region, a.name);
      this.env.tags.delete(a.arn);
    });
    this.alarms.delete(key(a.account, a.region, a.name));
    this.highRes.delete(key(a.account, a.region, a.name));
    this.rules.delete(a.arn);
    this.composites.delete(a.arn);
  }

  /** Records a history item; `data` is serialized unless it is already JSON ({ raw }). */
  history(a: Alarm, ts: number, itemType: string, summary: string, data: unknown) {
    const json = typeof data === 'object' && data !== null && 'raw' in data ? String((data as { raw: string }).raw) : JSON.stringify(data);
    this.store.history(a.account, a.region, a.name, a.type, ts, itemType, summary, json);
  }

  /** Moves the alarm to a new state and does everything AWS does on a transition. */
  transition(a: Alarm, value: StateValue, reason: string, reasonData: string | undefined, now: number) {
    const previous = a.state;
    a.state = { value, reason, reasonData, updated: now, transitioned: now };
    this.saveState(a);
    // stateReasonData goes in as written (AWS keeps its 5.0-style numbers inside the history JSON)
    const stateJson = (s: AlarmState) =>
      `{"stateValue":${JSON.stringify(s.value)},"stateReason":${JSON.stringify(s.reason)}${s.reasonData ? `,"stateReasonData":${s.reasonData}` : ''}}`;
    this.history(a, now, 'StateUpdate', `Alarm updated from ${previous.value} to ${value}`, {
      raw: `{"version":"1.0","oldState":${stateJson(previous)},"newState":${stateJson(a.state)}}`,
    });
    this.env.bus.publish({
      'detail-type': 'CloudWatch Alarm State Change',
      source: 'aws.cloudwatch',
      account: a.account,
      region: a.region,
      time: new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      resources: [a.arn],
      detail: alarmEvent(a, previous),
    });
    if (a.actionsEnabled) {
      const actions: string[] =
        (value === 'ALARM' ? a.config.AlarmActions : value === 'OK' ? a.config.OKActions : a.config.InsufficientDataActions) ?? [];
      for (const target of actions) void this.act(a, target, previous, now);
    }
    this.cascade(a, now);
  }

  private async act(a: Alarm, target: string, previous: AlarmState, now: number) {
    // a Lambda function gets the state change itself; SNS topics (and the rest) the notification message
    const message = parseArn(target)?.service === 'lambda' ? lambdaAlarmEvent(a, previous) : notification(a, previous.value);
    try {
      await this.env.targets.invoke({
        arn: target,
        account: a.account,
        region: a.region,
        source: 'cloudwatch',
        subject: stateChangeSubject(a),
        payload: JSON.stringify(message),
      });
      this.history(a, this.env.clock.now(), 'Action', `Successfully executed action ${target}`, {
        actionState: 'Succeeded',
        stateUpdateTimestamp: now,
        notificationResource: target,
        publishedMessage: message,
      });
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      try {
        this.history(a, this.env.clock.now(), 'Action', `Failed to execute action ${target}. Received error: "${reason}"`, {
          actionState: 'Failed',
          stateUpdateTimestamp: now,
          error: reason,
        });
      } catch (e) {
        log.error('cloudwatch alarm action history failed', { alarm: a.name, err: String(e) });
      }
    }
  }

  rule(a: Alarm): Rule {
    let r = this.rules.get(a.arn);
    if (!r) this.rules.set(a.arn, (r = parseRule(a.config.AlarmRule)));
    return r;
  }

  /**
   * The alarm a rule argument (name or ARN) designates, in the composite's account and region: an
   * ARN of another account's or region's alarm designates none.
   */
  resolve(account: string, region: string, ref: string) {
    const m = /^arn:aws[a-z-]*:cloudwatch:([^:]*):(\d{12}):alarm:(.+)$/.exec(ref);
    if (!m) return this.get(account, region, ref);
    return m[2] === account && m[1] === region ? this.get(m[2], m[1], m[3]) : undefined;
  }

  /** Re-evaluates a composite alarm's rule; `trigger` is the child whose change caused it. */
  evaluateComposite(c: Alarm, now: number, trigger?: Alarm) {
    const rule = this.rule(c);
    const value: StateValue = evalRule(rule, (ref) => this.resolve(c.account, c.region, ref)?.state.value) ? 'ALARM' : 'OK';
    if (value === c.state.value) return;
    const t = trigger ?? [...ruleAlarms(rule)].map((r) => this.resolve(c.account, c.region, r)).find(Boolean);
    const reason = t
      ? `${t.arn} transitioned to ${t.state.value} at ${compositeDate(t.state.updated)}`
      : `Alarm rule evaluated to ${value === 'ALARM' ? 'TRUE' : 'FALSE'}`;
    const reasonData = t
      ? JSON.stringify({ triggeringAlarms: [{ arn: t.arn, state: { value: t.state.value, timestamp: awsDate(t.state.updated) } }] })
      : undefined;
    this.transition(c, value, reason, reasonData, now);
  }

  /** Composites that read `a` see its new state. */
  private cascade(a: Alarm, now: number) {
    for (const c of this.composites.values()) {
      if (c.account !== a.account || c === a) continue;
      let refs: Set<string>;
      try {
        refs = ruleAlarms(this.rule(c));
      } catch {
        continue;
      }
      if (refs.has(a.name) || refs.has(a.arn)) this.evaluateComposite(c, now, a);
    }
  }
}

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/** Thursday 26 November, 2026 01:02:00 UTC — how composite reasons date the child's change. */
function compositeDate(ms: number) {
  const d = new Date(ms);
  const hms = d.toISOString().slice(11, 19);
  return `${DAYS[d.getUTCDay()]} ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]}, ${d.getUTCFullYear()} ${hms} UTC`;
}
