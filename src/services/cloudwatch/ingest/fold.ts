/**
 * `ingest`, the write path that PutMetricData and the internal metrics sink (core/metrics) share:
 * datapoints of one call are checked as AWS checks them, folded per (metric, bucket, unit) in memory
 * (foldBuckets), then handed to the store in one transaction. A large JSON call arrives already
 * checked and folded by a worker (prepare.ts).
 */
import { AwsError } from '../../../core/errors.js';
import type { Scope } from '../../../core/arn.js';
import type { PutMetricDataInput } from '../api.generated.js';
import type { BucketWrite, CloudwatchStore } from '../store.js';
import { bucketKey, UNITS } from '../units.js';
import { unavailable, ValueCounts } from '../values.js';

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
  if (d.Value !== undefined && hasValues)
    throw combination(`The parameters ${at}.Value and ${at}.Values are mutually exclusive and you have specified both.`);
  if (d.Value !== undefined && d.StatisticValues)
    throw combination(`The parameters ${at}.Value and ${at}.StatisticValues are mutually exclusive and you have specified both.`);
  if (hasValues && d.StatisticValues)
    throw combination(`The parameters ${at}.Values and ${at}.StatisticValues are mutually exclusive and you have specified both.`);
  if (d.Value === undefined && !hasValues && !d.StatisticValues)
    throw new AwsError(
      'MissingParameter',
      `At least one of the parameters ${at}.Value, ${at}.StatisticValues or ${at}.Values must be specified.`,
      400,
    );
  if (d.Value !== undefined && !acceptedValue(d.Value)) throw invalid(`The value ${d.Value} for parameter ${at}.Value is invalid.`);
  if (hasValues) {
    if (d.Values!.length > 150) throw invalid(`The collection ${at}.Values must not have a size greater than 150.`);
    if (d.Counts?.length && d.Counts.length !== d.Values!.length)
      throw invalid(`The parameters ${at}.Values and ${at}.Counts must be of the same size.`);
    for (const v of d.Values!) if (!acceptedValue(v)) throw invalid(`The value ${v} for parameter ${at}.Values is invalid.`);
    for (const c of d.Counts ?? [])
      if (!Number.isFinite(c) || c < 0) throw invalid(`The value ${c} for parameter ${at}.Counts is invalid.`);
  } else if (d.Counts?.length) throw invalid(`The parameters ${at}.Values and ${at}.Counts must be of the same size.`);
  const s = d.StatisticValues;
  if (s) {
    for (const k of ['SampleCount', 'Sum', 'Minimum', 'Maximum'] as const)
      if (!acceptedValue(s[k])) throw invalid(`The value ${s[k]} for parameter ${at}.StatisticValues.${k} is invalid.`);
    if (s.SampleCount <= 0) throw invalid(`The parameter ${at}.StatisticValues.SampleCount must be greater than 0.`);
    if (s.Maximum < s.Minimum)
      throw invalid(`The parameter ${at}.StatisticValues.Maximum must be greater than ${at}.StatisticValues.Minimum.`);
  }
  if (d.Unit !== undefined && !UNIT_SET.has(d.Unit)) throw invalid(`The value ${d.Unit} for parameter ${at}.Unit is invalid.`);
  if (d.StorageResolution !== undefined && d.StorageResolution !== 1 && d.StorageResolution !== 60)
    throw invalid(`The value ${d.StorageResolution} for parameter ${at}.StorageResolution is invalid.`);
  for (const dim of d.Dimensions ?? []) {
    if (!dim.Name || dim.Name.length > 255) throw invalid(`The value ${dim.Name ?? ''} for parameter ${at}.Dimensions.Name is invalid.`);
    if (!dim.Value || dim.Value.length > 1024)
      throw invalid(`The value ${dim.Value ?? ''} for parameter ${at}.Dimensions.Value is invalid.`);
  }
  if (d.Timestamp) {
    const ts = d.Timestamp.getTime();
    if (ts < now - 14 * 86_400_000) throw invalid(`The parameter ${at}.Timestamp must specify a time no more than two weeks in the past.`);
    if (ts > now + 2 * 3_600_000) throw invalid(`The parameter ${at}.Timestamp must specify a time no more than two hours in the future.`);
  }
}

/** A bucket being folded; `vals` is null once a statistic set with Minimum ≠ Maximum made percentiles unavailable. */
export type Acc = Omit<BucketWrite, 'metricId' | 'vals'> & { vals: ValueCounts | null };

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
      out.push({
        metric: a.metric,
        ts: a.ts,
        unit: a.unit,
        n: a.n,
        sum: a.sum,
        min: a.min,
        max: a.max,
        vals: a.vals ? a.vals.encode() : unavailable(),
      });
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
  if (input.Namespace.startsWith('AWS/')) throw invalid(`The value ${input.Namespace} for parameter Namespace is invalid.`);
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
    return put.buckets.map((b) => ({
      ...b,
      metric: ids[b.metric],
      vals: Buffer.from(b.vals.buffer, b.vals.byteOffset, b.vals.byteLength),
    }));
  });
}

/** Stores folded buckets (metric = id) and tells the alarm engine's mirror; returns how many samples were written. */
function store_(store: CloudwatchStore, folded: () => Folded<number>[]) {
  const written = store.ingest(() =>
    folded().map((f): BucketWrite => ({
      metricId: f.metric,
      ts: f.ts,
      unit: f.unit,
      n: f.n,
      sum: f.sum,
      min: f.min,
      max: f.max,
      vals: f.vals,
    })),
  );
  let samples = 0;
  for (const w of written) samples += w.n;
  if (store.onWrite) for (const w of written) store.onWrite(w.metricId, w.ts, w.unit, w.n, w.sum, w.min, w.max, w.vals);
  return samples;
}
