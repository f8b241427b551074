/**
 * One metric alarm's evaluation, as AWS documents it ("Evaluating an alarm", "Configuring how
 * CloudWatch alarms treat missing data"):
 *  - the evaluation range is EvaluationPeriods + 2 periods ending at the last period boundary;
 *  - with at least N real datapoints in the range, the most recent N decide (M of N breaching →
 *    ALARM, else OK) and TreatMissingData does not matter;
 *  - with fewer, missing ones are filled as few times as possible: breaching / notBreaching fill
 *    them; `missing` judges the real ones alone (ALARM when min(M, real) breach) and goes to
 *    INSUFFICIENT_DATA when there are none; `ignore` moves only when the outcome is certain
 *    whatever the missing values were, and otherwise keeps the current state.
 * AWS's table for N = M = 3 — "0 - X - X" OK everywhere, "- - - - -" INSUFFICIENT_DATA / keep /
 * ALARM / OK, "0 X X - X" ALARM everywhere, "- - X - -" ALARM / keep / ALARM / OK — holds.
 */
import { dimsKey, javaDouble, reasonDate, awsDate } from '../format.js';
import type { Alarm, StateValue } from './engine.js';
import { runQueries } from '../query.js';
import { fold, percentileOf, statistic } from '../stats.js';
import type { CloudwatchStore, PointRow } from '../store.js';

export interface Reads {
  store: CloudwatchStore;
  points(metricId: number, from: number, to: number, withValues: boolean): PointRow[];
}

export interface Outcome {
  value: StateValue;
  reason: string;
  reasonData?: string;
}

interface Point {
  ts: number;
  value?: number;
  n?: number;
}

const OPS: Record<string, [string, (v: number, t: number) => boolean]> = {
  GreaterThanOrEqualToThreshold: ['greater than or equal to', (v, t) => v >= t],
  GreaterThanThreshold: ['greater than', (v, t) => v > t],
  LessThanThreshold: ['less than', (v, t) => v < t],
  LessThanOrEqualToThreshold: ['less than or equal to', (v, t) => v <= t],
};

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The alarm's metric id, remembered per configuration once the metric exists. */
const metricIds = new WeakMap<object, number>();
function metricIdOf(a: Alarm, store: CloudwatchStore): number | undefined {
  const hit = metricIds.get(a.config);
  if (hit !== undefined) return hit;
  const c = a.config;
  const id = store.findMetricId(a.account, a.region, c.Namespace, c.MetricName, dimsKey(c.Dimensions));
  if (id !== undefined) metricIds.set(a.config, id);
  return id;
}

/** The alarm's datapoints over the evaluation range, oldest first, one per period (value undefined when missing). */
function datapoints(a: Alarm, start: number, end: number, reads: Reads): Point[] {
  const c = a.config;
  const periodMs = (c.Period ?? 60) * 1000;
  const found = new Map<number, Point>();
  if (c.Metrics) {
    const r = runQueries(reads.store, a, c.Metrics, start, end).find((q) => q.returnData);
    r?.series.ts.forEach((t, i) => found.set(t, { ts: t, value: r.series.v[i] }));
  } else {
    const id = metricIdOf(a, reads.store);
    if (id !== undefined) {
      const stat = c.ExtendedStatistic ?? c.Statistic;
      const pct = percentileOf(stat) !== undefined;
      let rows = reads.points(id, start, end, pct);
      if (c.Unit !== undefined) rows = rows.filter((r) => r[1] === c.Unit);
      for (const p of fold(rows, start, periodMs, false, pct)) {
        const v = statistic(p, stat);
        if (v !== undefined) found.set(p.ts, { ts: p.ts, value: v, n: p.n });
      }
    }
  }
  const out: Point[] = [];
  for (let t = start; t < end; t += periodMs) out.push(found.get(t) ?? { ts: t });
  return out;
}

/** [start, end) of the alarm's evaluation range at `now`: EvaluationPeriods + 2 whole periods. */
export function evaluationWindow(a: Alarm, now: number): [number, number] {
  const c = a.config;
  const periodMs = (c.Metrics ? metricsPeriod(c.Metrics) : c.Period) * 1000;
  const end = Math.floor(now / periodMs) * periodMs;
  return [end - (c.EvaluationPeriods + 2) * periodMs, end];
}

export function evaluateMetricAlarm(a: Alarm, now: number, reads: Reads): Outcome | undefined {
  const c = a.config;
  const period = c.Metrics ? metricsPeriod(c.Metrics) : c.Period;
  const N: number = c.EvaluationPeriods;
  const M: number = c.DatapointsToAlarm ?? N;
  const [start, end] = evaluationWindow(a, now);
  const [opText, breaches] = OPS[c.ComparisonOperator];
  const threshold: number = c.Threshold;
  const range = datapoints(a, start, end, { ...reads }).reverse(); // newest first
  const real = range.filter((p) => p.value !== undefined);

  const pct = c.ExtendedStatistic ? percentileOf(c.ExtendedStatistic) : undefined;
  if (pct !== undefined && c.EvaluateLowSampleCountPercentile === 'ignore') {
    const needed = pct >= 100 ? 1 : 1 / (1 - pct / 100);
    if (real.slice(0, N).some((p) => (p.n ?? Infinity) < needed)) return undefined;
  }

  const treat = c.TreatMissingData ?? 'missing';
  let evaluated: Point[];
  let filled = 0;
  let fillBreaching = false;
  let value: StateValue;
  if (real.length >= N) {
    evaluated = real.slice(0, N);
    value = evaluated.filter((p) => breaches(p.value!, threshold)).length >= M ? 'ALARM' : 'OK';
  } else {
    evaluated = real;
    const b = real.filter((p) => breaches(p.value!, threshold)).length;
    const ok = real.length - b;
    filled = N - real.length;
    if (treat === 'breaching' || treat === 'notBreaching') {
      fillBreaching = treat === 'breaching';
      value = b + (fillBreaching ? filled : 0) >= M ? 'ALARM' : 'OK';
    } else if (treat === 'ignore') {
      filled = 0;
      if (b >= M) value = 'ALARM';
      else if (ok > N - M) value = 'OK';
      else return undefined;
    } else {
      filled = 0;
      if (real.length === 0) {
        return {
          value: 'INSUFFICIENT_DATA',
          reason: `Insufficient Data: ${plural(N, 'datapoint')} ${N === 1 ? 'was' : 'were'} unknown.`,
          reasonData: reasonData(a, now, range, [], period),
        };
      }
      value = b >= Math.min(M, real.length) ? 'ALARM' : 'OK';
    }
  }
  if (value === a.state.value) return { value, reason: a.state.reason, reasonData: a.state.reasonData };

  let reason: string;
  if (evaluated.length === 0) {
    reason = `Threshold Crossed: no datapoints were received for ${plural(N, 'period')} and ${plural(filled, 'missing datapoint')} ${filled === 1 ? 'was' : 'were'} treated as [${fillBreaching ? 'Breaching' : 'NonBreaching'}].`;
  } else {
    const alarming = value === 'ALARM';
    const shown = evaluated.filter((p) => breaches(p.value!, threshold) === alarming);
    const count = shown.length + (fillBreaching === alarming ? filled : 0);
    const list = shown.map((p) => `${javaDouble(p.value!)} (${reasonDate(p.ts)})`).join(', ');
    const minimum = alarming ? M : N - M + 1;
    reason =
      `Threshold Crossed: ${count} out of the last ${N} datapoints [${list}] ${count === 1 ? 'was' : 'were'} ${alarming ? '' : 'not '}${opText} the threshold (${javaDouble(threshold)}) ` +
      `(minimum ${plural(minimum, 'datapoint')} for ${a.state.value} -> ${value} transition).`;
    if (filled > 0)
      reason =
        reason.slice(0, -1) +
        ` ${plural(filled, 'missing datapoint')} ${filled === 1 ? 'was' : 'were'} treated as [${fillBreaching ? 'Breaching' : 'NonBreaching'}].`;
  }
  return { value, reason, reasonData: reasonData(a, now, range, evaluated, period) };
}

/** The period of a math alarm: its MetricStats' (they share one), or the expression's. */
export function metricsPeriod(metrics: { MetricStat?: { Period: number }; Period?: number }[]): number {
  for (const m of metrics) if (m.MetricStat?.Period) return m.MetricStat.Period;
  for (const m of metrics) if (m.Period) return m.Period;
  return 60;
}

/** StateReasonData as AWS writes it: Java doubles (5.0), +0000 dates, this key order. */
function reasonData(a: Alarm, now: number, range: Point[], evaluated: Point[], period: number): string {
  const c = a.config;
  const parts: string[] = ['"version":"1.0"', `"queryDate":"${awsDate(now)}"`];
  const oldest = evaluated.length ? evaluated[evaluated.length - 1].ts : (range[range.length - 1]?.ts ?? now);
  parts.push(`"startDate":"${awsDate(oldest)}"`);
  if (!c.Metrics) {
    if (c.ExtendedStatistic) parts.push(`"extendedStatistic":${JSON.stringify(c.ExtendedStatistic)}`);
    else parts.push(`"statistic":${JSON.stringify(c.Statistic)}`);
    if (c.Unit) parts.push(`"unit":${JSON.stringify(c.Unit)}`);
  }
  parts.push(`"period":${period}`);
  const recent = [...range].reverse().filter((p) => p.value !== undefined);
  parts.push(`"recentDatapoints":[${recent.map((p) => javaDouble(p.value!)).join(',')}]`);
  parts.push(`"threshold":${javaDouble(c.Threshold)}`);
  const ev = evaluated.map(
    (p) =>
      `{"timestamp":"${awsDate(p.ts)}",${p.n !== undefined ? `"sampleCount":${javaDouble(p.n)},` : ''}"value":${javaDouble(p.value!)}}`,
  );
  parts.push(`"evaluatedDatapoints":[${ev.join(',')}]`);
  return `{${parts.join(',')}}`;
}
