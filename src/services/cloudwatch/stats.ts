/**
 * From stored buckets to statistics: rows of one metric are folded into periods that start at
 * `start + k·period`, then a statistic (SampleCount, Average, Sum, Minimum, Maximum, pNN) is read
 * off each period. Shared by GetMetricStatistics, GetMetricData and the alarm evaluator.
 */
import { AwsError } from '../../core/errors.js';
import type { BucketWrite, PointRow } from './store.js';
import { decode, mergePairs, percentile, type Pairs } from './values.js';

/** A period's aggregate: a bucket's fields, with its value histogram decoded. */
export type Period = Omit<BucketWrite, 'metricId' | 'vals'> & {
  /** Value histogram, when percentiles were asked for and every row of the period has one. */
  pairs?: Pairs;
  noPercentiles?: boolean;
};

export const BASIC = ['SampleCount', 'Average', 'Sum', 'Minimum', 'Maximum'];
const PCT = /^p(\d{1,2}(?:\.\d{1,10})?|100)$/;

export function isStatistic(stat: string) {
  return BASIC.includes(stat) || PCT.test(stat);
}

/** The percentile a pNN statistic asks for, or undefined for the basic ones. */
export function percentileOf(stat: string): number | undefined {
  const m = PCT.exec(stat);
  return m ? Number(m[1]) : undefined;
}

/**
 * Folds rows into periods. `byUnit` keeps one period per (start, unit), as GetMetricStatistics
 * reports; otherwise every unit is combined. `values` false skips the histograms (no percentiles).
 */
export function fold(rows: PointRow[], start: number, periodMs: number, byUnit: boolean, values = true): Period[] {
  const out = new Map<string | number, Period>();
  for (const r of rows) {
    const ts = start + Math.floor((r[0] - start) / periodMs) * periodMs;
    const key = byUnit ? `${ts}|${r[1]}` : ts;
    const p = out.get(key);
    // vals is undefined or null when the read did not ask for histograms
    const vals = values ? (r[6] ?? undefined) : undefined;
    if (!p) {
      const pairs = vals === undefined ? undefined : decode(vals);
      out.set(key, { ts, unit: r[1], n: r[2], sum: r[3], min: r[4], max: r[5], pairs, noPercentiles: vals !== undefined && !pairs });
    } else {
      p.n += r[2];
      p.sum += r[3];
      if (r[4] < p.min) p.min = r[4];
      if (r[5] > p.max) p.max = r[5];
      if (vals !== undefined) {
        const more = decode(vals);
        if (!more || p.noPercentiles) {
          p.noPercentiles = true;
          p.pairs = undefined;
        } else p.pairs = p.pairs ? mergePairs(p.pairs, more) : more;
      }
    }
  }
  return [...out.values()].sort((a, b) => a.ts - b.ts);
}

/** The statistic of one period; undefined when it cannot be computed (percentiles of statistic sets). */
export function statistic(p: Period, stat: string): number | undefined {
  switch (stat) {
    case 'SampleCount':
      return p.n;
    case 'Sum':
      return p.sum;
    case 'Average':
      return p.n > 0 ? p.sum / p.n : undefined;
    case 'Minimum':
      return p.min;
    case 'Maximum':
      return p.max;
  }
  const pct = percentileOf(stat);
  if (pct === undefined || !p.pairs || p.noPercentiles) return undefined;
  return percentile(p.pairs, pct);
}

/** Period rules shared by GetMetricStatistics and MetricStat: 1, 5, 10, 30 or a multiple of 60. */
export function checkPeriod(period: number, name = 'Period') {
  if (!Number.isInteger(period) || period < 1 || (period < 60 ? ![1, 5, 10, 30].includes(period) : period % 60 !== 0))
    throw new AwsError('InvalidParameterValue', `The parameter ${name} must be a valid period: 1, 5, 10, 30, or any multiple of 60.`, 400);
}

/** Rounds a query's start as CloudWatch does: to the second for sub-minute periods, else to the minute. */
export function alignStart(start: number, periodSeconds: number) {
  const unit = periodSeconds < 60 ? 1000 : 60_000;
  return Math.floor(start / unit) * unit;
}
