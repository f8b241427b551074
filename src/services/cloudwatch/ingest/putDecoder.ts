/**
 * The fast path of a JSON PutMetricData: one pass over the body's bytes that reads, checks and folds
 * the datapoints without building the request object (JSON.parse of 1,000 entries allocates ~5,000
 * objects, the model walk as many again; this allocates per metric and per bucket only).
 *
 * It reads with protocol/jsonScanner.ts, so it takes the form clients send (ASCII strings without
 * escapes, plain numbers), and only input it is sure about: the members of the model (each once,
 * none null) and values that pass every check of checkPut and the model's constraints. For anything else it returns undefined
 * and the body takes the generic path (prepare.ts: JSON.parse, the model walk, checkPut,
 * foldBuckets), which answers the exact AWS error. So this path never answers an error, and what it
 * returns equals what the generic path returns for the same body (test/unit/cloudwatch-decoder).
 */
import { Byte, DECLINE, JsonScanner, memberNames, scan } from '../../../protocol/jsonScanner.js';
import { acceptedValue, BucketFolder, type PreparedPut } from '../ingest/fold.js';
import { UNITS } from '../units.js';

const UNIT_SET = new Set(UNITS);
const DAY = 86_400_000;

/** A node of the trie over [MetricName, Name₁, Value₁, …] that numbers the call's metrics. */
interface MetricNode {
  next?: Map<string, MetricNode>;
  index?: number;
}

const finite = Number.isFinite;

/** The datum being read; reused across the call. */
class Datum {
  name: string | undefined;
  /** Whether the Dimensions member was there (an empty list is not read here). */
  hasDims = false;
  dims: string[] = [];
  dimCount = 0;
  timestamp: number | undefined;
  value: number | undefined;
  values = new Float64Array(150);
  valueCount = 0;
  counts = new Float64Array(150);
  countCount = 0;
  unit: string | undefined;
  resolution: number | undefined;
  stats: { SampleCount: number; Sum: number; Minimum: number; Maximum: number } | undefined;
  /** Bits (1 << M.x) of the members read. */
  seen = 0;

  /** The previous datum's name, unit and dimensions (by slot), likely this one's too. */
  lastName: string | undefined;
  lastUnit: string | undefined;
  lastDims: string[] = [];

  reset() {
    if (this.name !== undefined) this.lastName = this.name;
    if (this.unit !== undefined) this.lastUnit = this.unit;
    this.name = this.timestamp = this.value = this.unit = this.resolution = this.stats = undefined;
    this.hasDims = false;
    this.dimCount = this.valueCount = this.countCount = this.seen = 0;
  }
}

/** A datum's members, in the order of DATUM. */
const enum M {
  MetricName,
  Dimensions,
  Timestamp,
  Value,
  Values,
  Counts,
  Unit,
  StorageResolution,
  StatisticValues,
}
const DATUM = memberNames(
  'MetricName',
  'Dimensions',
  'Timestamp',
  'Value',
  'Values',
  'Counts',
  'Unit',
  'StorageResolution',
  'StatisticValues',
);
const DIMENSION = memberNames('Name', 'Value');
const STATS = memberNames('SampleCount', 'Sum', 'Minimum', 'Maximum');
const TOP = memberNames('Namespace', 'MetricData');

function readDatum(r: JsonScanner, d: Datum) {
  d.reset();
  r.expect(Byte.LBrace);
  if (r.ws() === Byte.RBrace) throw DECLINE;
  do {
    const k = r.key(DATUM);
    if (k < 0 || d.seen & (1 << k)) throw DECLINE;
    d.seen |= 1 << k;
    switch (k) {
      case M.MetricName:
        d.name = r.str(d.lastName);
        break;
      case M.Dimensions:
        d.hasDims = true;
        r.openList();
        do {
          if (d.dimCount === 30) throw DECLINE;
          readDimension(r, d.dims, 2 * d.dimCount++, d.lastDims);
        } while (r.more(Byte.RBracket));
        break;
      case M.Timestamp:
        d.timestamp = r.num();
        break;
      case M.Value:
        d.value = r.num();
        break;
      case M.Values:
        d.valueCount = r.nums(d.values, 150);
        break;
      case M.Counts:
        d.countCount = r.nums(d.counts, 150);
        break;
      case M.Unit:
        d.unit = r.str(d.lastUnit);
        break;
      case M.StorageResolution:
        d.resolution = r.num();
        break;
      case M.StatisticValues:
        d.stats = readStats(r);
        break;
    }
  } while (r.more(Byte.RBrace));
}

/** Reads a dimension into into[at] (name) and into[at + 1] (value); `likely` holds the previous datum's. */
function readDimension(r: JsonScanner, into: string[], at: number, likely: string[]) {
  let name: string | undefined;
  let value: string | undefined;
  r.expect(Byte.LBrace);
  do {
    const k = r.key(DIMENSION);
    if (k === 0 && name === undefined) name = r.str(likely[at]);
    else if (k === 1 && value === undefined) value = r.str(likely[at + 1]);
    else throw DECLINE;
  } while (r.more(Byte.RBrace));
  if (name === undefined || value === undefined || name.length === 0 || name.length > 255 || value.length === 0 || value.length > 1024)
    throw DECLINE;
  into[at] = likely[at] = name;
  into[at + 1] = likely[at + 1] = value;
}

function readStats(r: JsonScanner) {
  const s = [NaN, NaN, NaN, NaN];
  let seen = 0;
  r.expect(Byte.LBrace);
  do {
    const k = r.key(STATS);
    if (k < 0 || seen & (1 << k)) throw DECLINE;
    seen |= 1 << k;
    s[k] = r.num();
  } while (r.more(Byte.RBrace));
  const [SampleCount, Sum, Minimum, Maximum] = s;
  if (seen !== 15 || !acceptedValue(SampleCount) || !acceptedValue(Sum) || !acceptedValue(Minimum) || !acceptedValue(Maximum))
    throw DECLINE;
  if (SampleCount <= 0 || Maximum < Minimum) throw DECLINE;
  return { SampleCount, Sum, Minimum, Maximum };
}

/** Folds `d` if it passes every check the generic path makes; `metricOf` numbers its metric. */
function foldDatum(d: Datum, now: number, folder: BucketFolder<number>, metricOf: (d: Datum) => number) {
  if (d.name === undefined || d.name.length === 0 || d.name.length > 255) throw DECLINE;
  if (d.hasDims && d.dimCount === 0) throw DECLINE;
  const kinds = (d.value !== undefined ? 1 : 0) + (d.valueCount > 0 ? 1 : 0) + (d.stats ? 1 : 0);
  if (kinds !== 1) throw DECLINE;
  if (d.seen & (1 << M.Counts) && (d.countCount !== d.valueCount || d.valueCount === 0)) throw DECLINE;
  if (d.unit !== undefined && !UNIT_SET.has(d.unit)) throw DECLINE;
  if (d.resolution !== undefined && d.resolution !== 1 && d.resolution !== 60) throw DECLINE;
  let t = now;
  if (d.timestamp !== undefined) {
    // as new Date(seconds × 1000).getTime() would
    const ms = d.timestamp * 1000;
    if (!(Math.abs(ms) <= 8.64e15)) throw DECLINE;
    t = Math.trunc(ms) + 0;
    if (t < now - 14 * DAY || t > now + 2 * 3_600_000) throw DECLINE;
  }
  const acc = folder.bucket(metricOf(d), t, d.resolution, d.unit ?? 'None');
  if (d.value !== undefined) {
    if (!acceptedValue(d.value)) throw DECLINE;
    BucketFolder.add(acc, d.value, 1);
  } else if (d.stats) BucketFolder.addStats(acc, d.stats);
  else {
    for (let i = 0; i < d.valueCount; i++) if (!acceptedValue(d.values[i])) throw DECLINE;
    for (let i = 0; i < d.countCount; i++) if (!finite(d.counts[i]) || d.counts[i] < 0) throw DECLINE;
    for (let i = 0; i < d.valueCount; i++) BucketFolder.add(acc, d.values[i], d.countCount ? d.counts[i] : 1);
  }
}

/** The call checked and folded, or undefined when the generic path must read it (see above). */
export function decodePutMetricData(body: Uint8Array, now: number): PreparedPut | undefined {
  return scan(body, (r) => read(r, now));
}

function read(r: JsonScanner, now: number): PreparedPut {
  const folder = new BucketFolder<number>();
  const metrics: PreparedPut['metrics'] = [];
  const root: MetricNode = {};
  const step = (node: MetricNode, k: string) => {
    const next = (node.next ??= new Map());
    let n = next.get(k);
    if (!n) next.set(k, (n = {}));
    return n;
  };
  const metricOf = (d: Datum) => {
    let node = step(root, d.name!);
    for (let i = 0; i < 2 * d.dimCount; i++) node = step(node, d.dims[i]);
    if (node.index === undefined) {
      node.index = metrics.length;
      const Dimensions: { Name: string; Value: string }[] = [];
      for (let i = 0; i < d.dimCount; i++) Dimensions.push({ Name: d.dims[2 * i], Value: d.dims[2 * i + 1] });
      metrics.push({ MetricName: d.name!, Dimensions: d.hasDims ? Dimensions : undefined });
    }
    return node.index;
  };

  let namespace: string | undefined;
  let datums = 0;
  r.expect(Byte.LBrace);
  do {
    const k = r.key(TOP);
    if (k === 0 && namespace === undefined) namespace = r.str();
    else if (k === 1 && datums === 0) {
      r.openList();
      const d = new Datum();
      do {
        if (++datums > 1000) throw DECLINE;
        readDatum(r, d);
        foldDatum(d, now, folder, metricOf);
      } while (r.more(Byte.RBracket));
    } else throw DECLINE;
  } while (r.more(Byte.RBrace));
  if (namespace === undefined || datums === 0 || namespace.length === 0 || namespace.length > 255) throw DECLINE;
  if (namespace.startsWith(':') || namespace.startsWith('AWS/')) throw DECLINE;
  return { prepared: true, Namespace: namespace, metrics, buckets: folder.result() };
}
