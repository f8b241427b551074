/**
 * The fast path of a JSON PutMetricData: one pass over the body's bytes that reads, checks and folds
 * the datapoints without building the request object (JSON.parse of 1,000 entries allocates ~5,000
 * objects, the model walk as many again; this allocates per metric and per bucket only).
 *
 * It takes the form clients send, and only input it is sure about: ASCII strings without escapes,
 * the members of the model (each once, none null), numbers within JSON's grammar, and values that
 * pass every check of checkPut and the model's constraints. For anything else it returns undefined
 * and the body takes the generic path (prepare.ts: JSON.parse, the model walk, checkPut,
 * foldBuckets), which answers the exact AWS error. So this path never answers an error, and what it
 * returns equals what the generic path returns for the same body (test/unit/cloudwatch-decoder).
 */
import { BucketFolder, UNITS, type PreparedPut } from './metrics.js';

/** Thrown (and caught below) when the body leaves the form this path reads. */
const GENERIC = new Error('take the generic path');

const UNIT_SET = new Set(UNITS);
const DAY = 86_400_000;
const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);

const enum C {
  Tab = 9, Lf = 10, Cr = 13, Space = 32, Quote = 34, Comma = 44, Minus = 45, Dot = 46, Zero = 48, Nine = 57,
  Colon = 58, LBracket = 91, Backslash = 92, RBracket = 93, LowerE = 101, UpperE = 69, Plus = 43, LBrace = 123, RBrace = 125,
}

/** A node of the trie over [MetricName, Name₁, Value₁, …] that numbers the call's metrics. */
interface MetricNode {
  next?: Map<string, MetricNode>;
  index?: number;
}

class Reader {
  pos = 0;
  /** Strings seen in this body by content hash, so repeated names and units are one string. */
  private strings = new Map<number, string>();

  constructor(private readonly b: Uint8Array) {}

  ws(): number {
    const b = this.b;
    let p = this.pos;
    let c = b[p];
    if (c > C.Space) return c;
    while (c === C.Space || c === C.Lf || c === C.Cr || c === C.Tab) c = b[++p];
    this.pos = p;
    return c;
  }

  expect(ch: number) {
    if (this.ws() !== ch) throw GENERIC;
    this.pos++;
  }

  /** After a member or item: true at ',' (another follows), false at the closing `close`. */
  more(close: number): boolean {
    const c = this.ws();
    this.pos++;
    if (c === C.Comma) return true;
    if (c === close) return false;
    throw GENERIC;
  }

  /** Opens `[` of a list that has items (an empty list is left to the generic path). */
  openList() {
    this.expect(C.LBracket);
    if (this.ws() === C.RBracket) throw GENERIC;
  }

  /** From `p`, after an opening quote, to the closing quote (ASCII without escapes only); returns where it is. */
  private closingQuote(p: number): number {
    const b = this.b;
    for (;;) {
      const c = b[p];
      if (c === C.Quote) return p;
      // escapes, control characters, non-ASCII, or the end of the body
      if (c === C.Backslash || !(c >= 0x20 && c < 0x80)) throw GENERIC;
      p++;
    }
  }

  /** Whether the bytes at `at` are the (quote-free ASCII) string `s` and its closing quote. */
  private holds(s: string, at: number): boolean {
    const b = this.b;
    const len = s.length;
    if (b[at + len] !== C.Quote) return false;
    for (let i = 0; i < len; i++) if (s.charCodeAt(i) !== b[at + i]) return false;
    return true;
  }

  /**
   * A member name followed by its colon, as its index in `names` (-1 when it is none of them): the
   * bytes are compared with the names that start with the same letter, without making a string.
   */
  key(names: MemberNames): number {
    if (this.ws() !== C.Quote) throw GENERIC;
    const b = this.b;
    const start = this.pos + 1;
    const candidates = names.byFirst[b[start]];
    if (candidates === undefined) return -1;
    next: for (let k = 0; k < candidates.length; k++) {
      const [index, name] = candidates[k];
      const len = name.length;
      if (b[start + len] !== C.Quote) continue;
      for (let i = 1; i < len; i++) if (name[i] !== b[start + i]) continue next;
      this.pos = start + len + 1;
      this.expect(C.Colon);
      return index;
    }
    return -1;
  }

  /** A string; `likely` (the same member's value in the previous datum) is checked first. */
  str(likely?: string): string {
    if (this.ws() !== C.Quote) throw GENERIC;
    const start = this.pos + 1;
    if (likely !== undefined && this.holds(likely, start)) {
      this.pos = start + likely.length + 1;
      return likely;
    }
    const b = this.b;
    const end = this.closingQuote(start);
    this.pos = end + 1;
    const len = end - start;
    // repeated names and units are one string: looked up by length and three of their bytes, then compared
    const h = len === 0 ? 0 : len * 0x1000193 + b[start] * 0x10000 + b[end - 1] * 0x100 + b[start + (len >> 1)];
    const known = this.strings.get(h);
    if (known !== undefined && this.holds(known, start)) return known;
    const s = String.fromCharCode.apply(null, b.subarray(start, end) as unknown as number[]);
    this.strings.set(h, s);
    return s;
  }

  /**
   * A JSON number, as JSON.parse reads it: up to 15 digits and no exponent are an exact integer
   * divided by an exact power of ten (one correctly rounded operation); longer ones go to Number().
   */
  num(): number {
    const b = this.b;
    let c = this.ws();
    let p = this.pos;
    const start = p;
    const negative = c === C.Minus;
    if (negative) c = b[++p];
    if (c === C.Zero) c = b[++p];
    else if (c > C.Zero && c <= C.Nine) {
      do c = b[++p];
      while (c >= C.Zero && c <= C.Nine);
    } else throw GENERIC;
    let fraction = 0;
    if (c === C.Dot) {
      const f = p + 1;
      do c = b[++p];
      while (c >= C.Zero && c <= C.Nine);
      fraction = p - f;
      if (fraction === 0) throw GENERIC;
    }
    let exponent = false;
    if (c === C.LowerE || c === C.UpperE) {
      exponent = true;
      c = b[++p];
      if (c === C.Plus || c === C.Minus) c = b[++p];
      if (!(c >= C.Zero && c <= C.Nine)) throw GENERIC;
      do c = b[++p];
      while (c >= C.Zero && c <= C.Nine);
    }
    this.pos = p;
    const digits = p - start - (negative ? 1 : 0) - (fraction ? 1 : 0);
    if (exponent || digits > 15) return Number(String.fromCharCode.apply(null, b.subarray(start, p) as unknown as number[]));
    let m = 0;
    for (let i = negative ? start + 1 : start; i < p; i++) {
      const d = b[i];
      if (d !== C.Dot) m = m * 10 + (d - C.Zero);
    }
    const v = fraction ? m / POW10[fraction] : m;
    return negative ? -v : v;
  }

  /** A list of numbers (at most `max`) into `into`; returns how many. */
  nums(into: Float64Array, max: number): number {
    this.openList();
    let n = 0;
    do {
      if (n === max) throw GENERIC;
      into[n++] = this.num();
    } while (this.more(C.RBracket));
    return n;
  }

  end() {
    if (this.ws() !== undefined) throw GENERIC;
  }
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

/** Member names by their first byte, each with its index in the list given. */
interface MemberNames {
  byFirst: ([number, Uint8Array][] | undefined)[];
}

function names(...list: string[]): MemberNames {
  const byFirst: MemberNames['byFirst'] = [];
  list.forEach((n, i) => (byFirst[n.charCodeAt(0)] ??= []).push([i, Buffer.from(n, 'latin1')]));
  return { byFirst };
}

/** A datum's members, in the order of DATUM. */
const enum M { MetricName, Dimensions, Timestamp, Value, Values, Counts, Unit, StorageResolution, StatisticValues }
const DATUM = names('MetricName', 'Dimensions', 'Timestamp', 'Value', 'Values', 'Counts', 'Unit', 'StorageResolution', 'StatisticValues');
const DIMENSION = names('Name', 'Value');
const STATS = names('SampleCount', 'Sum', 'Minimum', 'Maximum');
const TOP = names('Namespace', 'MetricData');

function readDatum(r: Reader, d: Datum) {
  d.reset();
  r.expect(C.LBrace);
  if (r.ws() === C.RBrace) throw GENERIC;
  do {
    const k = r.key(DATUM);
    if (k < 0 || d.seen & (1 << k)) throw GENERIC;
    d.seen |= 1 << k;
    switch (k) {
      case M.MetricName:
        d.name = r.str(d.lastName);
        break;
      case M.Dimensions:
        d.hasDims = true;
        r.openList();
        do {
          if (d.dimCount === 30) throw GENERIC;
          readDimension(r, d.dims, 2 * d.dimCount++, d.lastDims);
        } while (r.more(C.RBracket));
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
  } while (r.more(C.RBrace));
}

/** Reads a dimension into into[at] (name) and into[at + 1] (value); `likely` holds the previous datum's. */
function readDimension(r: Reader, into: string[], at: number, likely: string[]) {
  let name: string | undefined;
  let value: string | undefined;
  r.expect(C.LBrace);
  do {
    const k = r.key(DIMENSION);
    if (k === 0 && name === undefined) name = r.str(likely[at]);
    else if (k === 1 && value === undefined) value = r.str(likely[at + 1]);
    else throw GENERIC;
  } while (r.more(C.RBrace));
  if (name === undefined || value === undefined || name.length === 0 || name.length > 255 || value.length === 0 || value.length > 1024) throw GENERIC;
  into[at] = likely[at] = name;
  into[at + 1] = likely[at + 1] = value;
}

function readStats(r: Reader) {
  const s = [NaN, NaN, NaN, NaN];
  let seen = 0;
  r.expect(C.LBrace);
  do {
    const k = r.key(STATS);
    if (k < 0 || seen & (1 << k)) throw GENERIC;
    seen |= 1 << k;
    s[k] = r.num();
  } while (r.more(C.RBrace));
  const [SampleCount, Sum, Minimum, Maximum] = s;
  if (seen !== 15 || !finite(SampleCount) || !finite(Sum) || !finite(Minimum) || !finite(Maximum)) throw GENERIC;
  if (SampleCount <= 0 || Maximum < Minimum) throw GENERIC;
  return { SampleCount, Sum, Minimum, Maximum };
}

/** Folds `d` if it passes every check the generic path makes; `metricOf` numbers its metric. */
function foldDatum(d: Datum, now: number, folder: BucketFolder<number>, metricOf: (d: Datum) => number) {
  if (d.name === undefined || d.name.length === 0 || d.name.length > 255) throw GENERIC;
  if (d.hasDims && d.dimCount === 0) throw GENERIC;
  const kinds = (d.value !== undefined ? 1 : 0) + (d.valueCount > 0 ? 1 : 0) + (d.stats ? 1 : 0);
  if (kinds !== 1) throw GENERIC;
  if (d.seen & (1 << M.Counts) && (d.countCount !== d.valueCount || d.valueCount === 0)) throw GENERIC;
  if (d.unit !== undefined && !UNIT_SET.has(d.unit)) throw GENERIC;
  if (d.resolution !== undefined && d.resolution !== 1 && d.resolution !== 60) throw GENERIC;
  let t = now;
  if (d.timestamp !== undefined) {
    // as new Date(seconds × 1000).getTime() would
    const ms = d.timestamp * 1000;
    if (!(Math.abs(ms) <= 8.64e15)) throw GENERIC;
    t = Math.trunc(ms) + 0;
    if (t < now - 14 * DAY || t > now + 2 * 3_600_000) throw GENERIC;
  }
  const acc = folder.bucket(metricOf(d), t, d.resolution, d.unit ?? 'None');
  if (d.value !== undefined) {
    if (!finite(d.value)) throw GENERIC;
    BucketFolder.add(acc, d.value, 1);
  } else if (d.stats) BucketFolder.addStats(acc, d.stats);
  else {
    for (let i = 0; i < d.valueCount; i++) if (!finite(d.values[i])) throw GENERIC;
    for (let i = 0; i < d.countCount; i++) if (!finite(d.counts[i]) || d.counts[i] < 0) throw GENERIC;
    for (let i = 0; i < d.valueCount; i++) BucketFolder.add(acc, d.values[i], d.countCount ? d.counts[i] : 1);
  }
}

/** The call checked and folded, or undefined when the generic path must read it (see above). */
export function decodePutMetricData(body: Uint8Array, now: number): PreparedPut | undefined {
  try {
    return decode(body, now);
  } catch (err) {
    if (err === GENERIC) return undefined;
    throw err;
  }
}

function decode(body: Uint8Array, now: number): PreparedPut {
  const r = new Reader(body);
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
  r.expect(C.LBrace);
  do {
    const k = r.key(TOP);
    if (k === 0 && namespace === undefined) namespace = r.str();
    else if (k === 1 && datums === 0) {
      r.openList();
      const d = new Datum();
      do {
        if (++datums > 1000) throw GENERIC;
        readDatum(r, d);
        foldDatum(d, now, folder, metricOf);
      } while (r.more(C.RBracket));
    } else throw GENERIC;
  } while (r.more(C.RBrace));
  r.end();
  if (namespace === undefined || datums === 0 || namespace.length === 0 || namespace.length > 255) throw GENERIC;
  if (namespace.startsWith(':') || namespace.startsWith('AWS/')) throw GENERIC;
  return { prepared: true, Namespace: namespace, metrics, buckets: folder.result() };
}
