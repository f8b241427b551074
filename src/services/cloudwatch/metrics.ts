/**
 * PutMetricData, ListMetrics and GetMetricStatistics, plus `ingest`, the write path that the
 * handler and the internal metrics sink (core/metrics) share: datapoints of one call are folded
 * per (metric, bucket, unit) in memory (foldBuckets), then written with one UPSERT each, in one
 * transaction. A large JSON call arrives already checked and folded by a worker (prepare.ts).
 */
import { AwsError } from '../../core/errors.js';
import type { Scope } from '../../core/arn.js';
import type { CloudwatchHandlers, PutMetricDataInput } from './api.generated.js';
import { dimsFromKey, dimsKey } from './format.js';
import { alignStart, BASIC, checkPeriod, fold, percentileOf, statistic } from './stats.js';
import type { BucketWrite, CloudwatchStore } from './store.js';
import { unavailable, ValueCounts } from './values.js';
import { encodeToken, readToken } from '../../core/pagination.js';

export const UNITS = [
  'Seconds', 'Microseconds', 'Milliseconds', 'Bytes', 'Kilobytes', 'Megabytes', 'Gigabytes', 'Terabytes', 'Bits',
  'Kilobits', 'Megabits', 'Gigabits', 'Terabits', 'Percent', 'Count', 'Bytes/Second', 'Kilobytes/Second',
  'Megabytes/Second', 'Gigabytes/Second', 'Terabytes/Second', 'Bits/Second', 'Kilobits/Second', 'Megabits/Second',
  'Gigabits/Second', 'Terabits/Second', 'Count/Second', 'None',
];
const UNIT_SET = new Set(UNITS);

export type Datum = PutMetricDataInput['MetricData'][number];

const MAX_MAGNITUDE = 2 ** 360;
const MIN_MAGNITUDE = 2 ** -360;
/** CloudWatch accepts values of magnitude 2^-360 … 2^360 (and 0); NaN and ±Infinity are refused. */
export const acceptedValue = (v: number) => v === 0 || (Math.abs(v) <= MAX_MAGNITUDE && Math.abs(v) >= MIN_MAGNITUDE);

const invalid = (msg: string) => new AwsError('InvalidParameterValue', msg, 400);
const combination = (msg: string) => new AwsError('InvalidParameterCombination', msg, 400);

/** AWS's checks on one MetricData member (1-based index n, as the query wire names it). */
function checkDatum(d: Datum, n: number, now: number) {
  const at = `MetricData.member.${n}`;
  if ((d.Dimensions?.length ?? 0) > 30) throw invalid(`The collection ${at}.Dimensions must not have a size greater than 30.`);
  const hasValues = d.Values !== undefined && d.Values.length > 0;
  if (d.Value !== undefined && hasValues) throw combination(`The parameters ${at}.Value and ${at}.Values are mutually exclusive and you have specified both.`);
  if (d.Value !== undefined && d.StatisticValues) throw combination(`The parameters ${at}.Value and ${at}.StatisticValues are mutually exclusive and you have specified both.`);
  if (hasValues && d.StatisticValues) throw combination(`The parameters ${at}.Values and ${at}.StatisticValues are mutually exclusive and you have specified both.`);
  if (d.Value === undefined && !hasValues && !d.StatisticValues)
    throw new AwsError('MissingParameter', `At least one of the parameters ${at}.Value, ${at}.StatisticValues or ${at}.Values must be specified.`, 400);
  if (d.Value !== undefined && !acceptedValue(d.Value)) throw invalid(`The value ${d.Value} for parameter ${at}.Value is invalid.`);
  if (hasValues) {
    if (d.Values!.length > 150) throw invalid(`The collection ${at}.Values must not have a size greater than 150.`);
    if (d.Counts?.length && d.Counts.length !== d.Values!.length)
      throw invalid(`The parameters ${at}.Values and ${at}.Counts must be of the same size.`);
    for (const v of d.Values!) if (!acceptedValue(v)) throw invalid(`The value ${v} for parameter ${at}.Values is invalid.`);
    for (const c of d.Counts ?? []) if (!Number.isFinite(c) || c < 0) throw invalid(`The value ${c} for parameter ${at}.Counts is invalid.`);
  } else if (d.Counts?.length) throw invalid(`The parameters ${at}.Values and ${at}.Counts must be of the same size.`);
  const s = d.StatisticValues;
  if (s) {
    for (const k of ['SampleCount', 'Sum', 'Minimum', 'Maximum'] as const)
      if (!acceptedValue(s[k])) throw invalid(`The value ${s[k]} for parameter ${at}.StatisticValues.${k} is invalid.`);
    if (s.SampleCount <= 0) throw invalid(`The parameter ${at}.StatisticValues.SampleCount must be greater than 0.`);
    if (s.Maximum < s.Minimum) throw invalid(`The parameter ${at}.StatisticValues.Maximum must be greater than ${at}.StatisticValues.Minimum.`);
  }
  if (d.Unit !== undefined && !UNIT_SET.has(d.Unit)) throw invalid(`The value ${d.Unit} for parameter ${at}.Unit is invalid.`);
  if (d.StorageResolution !== undefined && d.StorageResolution !== 1 && d.StorageResolution !== 60)
    throw invalid(`The value ${d.StorageResolution} for parameter ${at}.StorageResolution is invalid.`);
  for (const dim of d.Dimensions ?? []) {
    if (!dim.Name || dim.Name.length > 255) throw invalid(`The value ${dim.Name ?? ''} for parameter ${at}.Dimensions.Name is invalid.`);
    if (!dim.Value || dim.Value.length > 1024) throw invalid(`The value ${dim.Value ?? ''} for parameter ${at}.Dimensions.Value is invalid.`);
  }
  if (d.Timestamp) {
    const ts = d.Timestamp.getTime();
    if (ts < now - 14 * 86_400_000) throw invalid(`The parameter ${at}.Timestamp must specify a time no more than two weeks in the past.`);
    if (ts > now + 2 * 3_600_000) throw invalid(`The parameter ${at}.Timestamp must specify a time no more than two hours in the future.`);
  }
}

/** A bucket being folded; `vals` is null once a statistic set with Minimum ≠ Maximum made percentiles unavailable. */
export type Acc = Omit<BucketWrite, 'metricId' | 'vals'> & { vals: ValueCounts | null };

const UNIT_NO = new Map(UNITS.map((u, i) => [u, i]));

/** (bucket start, unit) as one Map key: a number for CloudWatch's units (start × 32 + the unit's index), else a string. */
export function bucketKey(ts: number, unit: string): number | string {
  const no = UNIT_NO.get(unit);
  return no === undefined ? `${ts}|${unit}` : ts * 32 + no;
}

/** One (metric, bucket, unit) of a call, folded: `metric` is whatever groupOf() said the datum belongs to. */
export type Folded<M> = Omit<BucketWrite, 'metricId'> & { metric: M };

/**
 * Folds datapoints per (metric, bucket, unit): `metric` is whatever the caller says a datum belongs
 * to (the metric id on the event loop, an index into the call's own metric list in prepare.ts).
 */
export class BucketFolder<M> {
  /** metric → bucketKey → accumulator. */
  private groups = new Map<M, Map<number | string, Acc & { metric: M }>>();
  private accs: (Acc & { metric: M })[] = [];

  /** The accumulator of a datum of `metric` at `t` (ms) with this StorageResolution and unit. */
  bucket(metric: M, t: number, storageResolution: number | undefined, unit: string): Acc {
    const res = storageResolution === 1 ? 1000 : 60_000;
    const ts = t - (((t % res) + res) % res);
    const key = bucketKey(ts, unit);
    let byKey = this.groups.get(metric);
    if (!byKey) this.groups.set(metric, (byKey = new Map()));
    let acc = byKey.get(key);
    if (!acc) {
      byKey.set(key, (acc = { metric, ts, unit, n: 0, sum: 0, min: Infinity, max: -Infinity, vals: new ValueCounts() }));
      this.accs.push(acc);
    }
    return acc;
  }

  /** `c` samples of value `v`. */
  static add(acc: Acc, v: number, c: number) {
    if (c <= 0) return;
    acc.n += c;
    acc.sum += v * c;
    if (v < acc.min) acc.min = v;
    if (v > acc.max) acc.max = v;
    acc.vals?.add(v, c);
  }

  /** A statistic set: its values are known only when all its samples are one value. */
  static addStats(acc: Acc, s: { SampleCount: number; Sum: number; Minimum: number; Maximum: number }) {
    acc.n += s.SampleCount;
    acc.sum += s.Sum;
    if (s.Minimum < acc.min) acc.min = s.Minimum;
    if (s.Maximum > acc.max) acc.max = s.Maximum;
    if (s.SampleCount === 1 || s.Minimum === s.Maximum) acc.vals?.add(s.Minimum, s.SampleCount);
    else acc.vals = null;
  }

  result(): Folded<M>[] {
    const out: Folded<M>[] = [];
    for (const a of this.accs) {
      if (a.n === 0) continue;
      out.push({ metric: a.metric, ts: a.ts, unit: a.unit, n: a.n, sum: a.sum, min: a.min, max: a.max, vals: a.vals ? a.vals.encode() : unavailable() });
    }
    return out;
  }
}

/** Folds a call's (checked) datapoints; see BucketFolder. */
export function foldBuckets<M>(data: Datum[], now: number, groupOf: (d: Datum) => M): Folded<M>[] {
  const folder = new BucketFolder<M>();
  for (let i = 0; i < data.length; i++) {
    const d = data[i];
    const acc = folder.bucket(groupOf(d), d.Timestamp ? d.Timestamp.getTime() : now, d.StorageResolution, d.Unit ?? 'None');
    if (d.Value !== undefined) BucketFolder.add(acc, d.Value, 1);
    else if (d.Values?.length) d.Values.forEach((v, i) => BucketFolder.add(acc, v, d.Counts?.length ? d.Counts[i] : 1));
    else if (d.StatisticValues) BucketFolder.addStats(acc, d.StatisticValues);
  }
  return folder.result();
}

/** A PutMetricData folded in a worker (prepare.ts): its metrics, and its buckets pointing into them. */
export interface PreparedPut {
  prepared: true;
  Namespace: string;
  metrics: { MetricName: string; Dimensions?: { Name: string; Value: string }[] }[];
  buckets: Folded<number>[];
}

export const isPrepared = (input: unknown): input is PreparedPut => (input as PreparedPut).prepared === true;

/** AWS's checks on a whole PutMetricData call. */
export function checkPut(input: PutMetricDataInput, now: number) {
  if (/^AWS\//.test(input.Namespace)) throw invalid(`The value ${input.Namespace} for parameter Namespace is invalid.`);
  if (input.MetricData.length > 1000) throw invalid('The collection MetricData must not have a size greater than 1000.');
  input.MetricData.forEach((d, i) => checkDatum(d, i + 1, now));
}

/** Stores validated datapoints in one transaction; returns how many samples were written. */
export function ingest(store: CloudwatchStore, scope: Scope, namespace: string, data: Datum[], now: number) {
  return store_(store, () => {
    const metricId = store.metricIds(scope.account, scope.region, namespace, now);
    return foldBuckets(data, now, (d) => metricId(d.MetricName, d.Dimensions));
  });
}

/** Stores a call prepared in a worker: only the metric ids are resolved here. */
export function ingestPrepared(store: CloudwatchStore, scope: Scope, put: PreparedPut, now: number) {
  return store_(store, () => {
    const metricId = store.metricIds(scope.account, scope.region, put.Namespace, now);
    const ids = put.metrics.map((m) => metricId(m.MetricName, m.Dimensions));
    return put.buckets.map((b) => ({ ...b, metric: ids[b.metric], vals: Buffer.from(b.vals.buffer, b.vals.byteOffset, b.vals.byteLength) }));
  });
}

/** Stores folded buckets (metric = id) and tells the alarm engine's mirror; returns how many samples were written. */
function store_(store: CloudwatchStore, folded: () => Folded<number>[]) {
  const written = store.ingest(() =>
    folded().map((f): BucketWrite => ({ metricId: f.metric, ts: f.ts, unit: f.unit, n: f.n, sum: f.sum, min: f.min, max: f.max, vals: f.vals })),
  );
  let samples = 0;
  for (const w of written) samples += w.n;
  if (store.onWrite) for (const w of written) store.onWrite(w.metricId, w.ts, w.unit, w.n, w.sum, w.min, w.max, w.vals);
  return samples;
}

const LIST_PAGE = 500;

export function metricHandlers(store: CloudwatchStore): CloudwatchHandlers {
  return {
    PutMetricData(input, ctx) {
      const now = ctx.clock.now();
      if (isPrepared(input)) return void ingestPrepared(store, ctx, input, now);
      checkPut(input, now);
      ingest(store, ctx, input.Namespace, input.MetricData, now);
    },

    ListMetrics(input, ctx) {
      const where = ['account = ?', 'region = ?', 'id > ?'];
      const args: unknown[] = [ctx.account, ctx.region, Number(readToken(input.NextToken)) || 0];
      if (input.Namespace !== undefined) (where.push('namespace = ?'), args.push(input.Namespace));
      if (input.MetricName !== undefined) (where.push('name = ?'), args.push(input.MetricName));
      if (input.RecentlyActive !== undefined) {
        if (input.RecentlyActive !== 'PT3H') throw invalid(`The value ${input.RecentlyActive} for parameter RecentlyActive is invalid.`);
        (where.push('last_put >= ?'), args.push(ctx.clock.now() - 3 * 3_600_000));
      }
      const stmt = store.prep(`SELECT id, namespace, name, dims FROM cloudwatch_metrics WHERE ${where.join(' AND ')} ORDER BY id`);
      const wanted = input.Dimensions ?? [];
      const Metrics = [];
      let last = 0;
      let more = false;
      for (const row of stmt.iterate(...args) as Iterable<{ id: number; namespace: string; name: string; dims: string }>) {
        const dims = dimsFromKey(row.dims);
        if (!wanted.every((w) => dims.some((d) => d.Name === w.Name && (w.Value === undefined || d.Value === w.Value)))) continue;
        if (Metrics.length === LIST_PAGE) {
          more = true;
          break;
        }
        Metrics.push({ Namespace: row.namespace, MetricName: row.name, Dimensions: dims });
        last = row.id;
      }
      return { Metrics, NextToken: more ? encodeToken(last) : undefined };
    },

    GetMetricStatistics(input, ctx) {
      const stats = input.Statistics ?? [];
      const ext = input.ExtendedStatistics ?? [];
      if ((stats.length === 0) === (ext.length === 0))
        throw combination('Must specify either Statistics or ExtendedStatistics, but not both.');
      for (const s of stats) if (!BASIC.includes(s)) throw invalid(`The value ${s} for parameter Statistics is not supported.`);
      for (const s of ext) if (percentileOf(s) === undefined) throw invalid(`The value ${s} for parameter ExtendedStatistics is not supported.`);
      if (stats.length > 5 || ext.length > 10) throw invalid('The collection Statistics must not have a size greater than 5.');
      if (input.Unit !== undefined && !UNIT_SET.has(input.Unit)) throw invalid(`The value ${input.Unit} for parameter Unit is invalid.`);
      checkPeriod(input.Period);
      const periodMs = input.Period * 1000;
      const start = alignStart(input.StartTime.getTime(), input.Period);
      const end = input.EndTime.getTime();
      if (end <= start) throw invalid('The parameter StartTime must be less than the parameter EndTime.');
      const count = Math.ceil((end - start) / periodMs);
      if (count > 1440)
        throw combination(
          `You have requested up to ${count} datapoints, which exceeds the limit of 1440. You may reduce the datapoints requested by increasing Period, or decreasing the time range.`,
        );
      const id = store.findMetricId(ctx.account, ctx.region, input.Namespace, input.MetricName, dimsKey(input.Dimensions));
      if (id === undefined) return { Label: input.MetricName, Datapoints: [] };
      let rows = store.points(id, start, end, ext.length > 0);
      if (input.Unit !== undefined) rows = rows.filter((r) => r[1] === input.Unit);
      const Datapoints = fold(rows, start, periodMs, true).map((p) => {
        const dp: Record<string, unknown> = { Timestamp: new Date(p.ts), Unit: p.unit };
        for (const s of stats) dp[s] = statistic(p, s);
        if (ext.length) {
          const values: Record<string, number> = {};
          for (const s of ext) {
            const v = statistic(p, s);
            if (v !== undefined) values[s] = v;
          }
          dp.ExtendedStatistics = values;
        }
        return dp;
      });
      return { Label: input.MetricName, Datapoints };
    },
  };
}
