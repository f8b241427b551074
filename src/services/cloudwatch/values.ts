/**
 * The value histograms that make percentiles possible without keeping every sample: a bucket keeps
 * its distinct values with their counts (Float64 pairs, sorted by value). Up to MAX_PAIRS (256) distinct
 * values the histogram is exact; past that, values are merged into logarithmic bins (1 % wide,
 * widened until they fit), each represented by its weighted mean — a bounded relative error, like
 * CloudWatch's own sketch. An empty histogram on a row with samples means "percentiles
 * unavailable" (a statistic set whose Minimum and Maximum differ, as AWS documents).
 */
export const MAX_PAIRS = 256;
const EMPTY = Buffer.alloc(0);

export type Pairs = Float64Array; // [v0, c0, v1, c1, …] sorted by value

/** Scratch space for ValueCounts.encode's sorted keys (grown as needed; encode does not yield). */
let scratch = new Float64Array(256);
const bits = new Float64Array(1);
const words = new Uint32Array(bits.buffer);

/**
 * A histogram being built: distinct values and their counts, in an open-addressing table of
 * [value, count] slot pairs in one plain array (unboxed doubles, allocated on the JS heap: a call
 * creates ~100 of these and adds ~1,000 values to them).
 */
export class ValueCounts {
  size = 0;
  /** [v0, c0, v1, c1, …]; a count of 0 marks an empty slot (counts are always positive). */
  private slots: number[] = new Array(32).fill(0);

  private slot(v: number): number {
    bits[0] = v;
    const h = Math.imul(words[0] ^ words[1], 0x9e3779b1);
    return ((h ^ (h >>> 15)) & ((this.slots.length >> 1) - 1)) << 1;
  }

  /** `c` more samples of `v` (-0 counts as 0, as a Map key would). */
  add(v: number, c: number) {
    if (!(c > 0)) return;
    if (v === 0) v = 0;
    const slots = this.slots;
    const mask = slots.length - 1;
    for (let i = this.slot(v); ; i = (i + 2) & mask) {
      if (slots[i + 1] === 0) {
        slots[i] = v;
        slots[i + 1] = c;
        if (++this.size * 4 > slots.length) this.grow();
        return;
      }
      if (slots[i] === v) {
        slots[i + 1] += c;
        return;
      }
    }
  }

  /** Adds every pair of an encoded histogram. */
  addPairs(p: Pairs) {
    for (let i = 0; i < p.length; i += 2) this.add(p[i], p[i + 1]);
  }

  private count(v: number): number {
    const slots = this.slots;
    const mask = slots.length - 1;
    for (let i = this.slot(v); slots[i + 1] !== 0; i = (i + 2) & mask) if (slots[i] === v) return slots[i + 1];
    return 0;
  }

  private grow() {
    const old = this.slots;
    this.slots = new Array(old.length * 2).fill(0);
    this.size = 0;
    for (let i = 0; i < old.length; i += 2) if (old[i + 1] !== 0) this.add(old[i], old[i + 1]);
  }

  /** The stored form: pairs sorted by value, compressed past MAX_PAIRS. */
  encode(): Buffer {
    const n = this.size;
    const slots = this.slots;
    if (scratch.length < n) scratch = new Float64Array(n * 2);
    const sorted = scratch.subarray(0, n);
    let k = 0;
    for (let i = 0; i < slots.length; i += 2) if (slots[i + 1] !== 0) sorted[k++] = slots[i];
    if (n > 1) sorted.sort();
    let out: Pairs = new Float64Array(n * 2);
    for (let i = 0; i < n; i++) {
      out[2 * i] = sorted[i];
      out[2 * i + 1] = this.count(sorted[i]);
    }
    if (n > MAX_PAIRS) out = compress(out);
    return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  }
}

export const unavailable = () => EMPTY;

export function decode(b: Buffer | null | undefined): Pairs | undefined {
  if (!b || b.length === 0) return undefined;
  if (b.byteOffset % 8 === 0) return new Float64Array(b.buffer, b.byteOffset, b.length / 8);
  // else a copy (SQLite's buffers are not 8-byte aligned)
  const copy = new Float64Array(b.length / 8);
  Buffer.from(copy.buffer).set(b);
  return copy;
}

/** Merges two sorted pair lists; either one unavailable makes the result unavailable. */
export function mergeHistograms(a: Buffer | null, b: Buffer | null): Buffer {
  const x = decode(a);
  const y = decode(b);
  if (!x || !y) return EMPTY;
  let out = mergePairs(x, y);
  if (out.length / 2 > MAX_PAIRS) out = compress(out);
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}

export function mergePairs(x: Pairs, y: Pairs): Pairs {
  const out = new Float64Array(x.length + y.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < x.length || j < y.length) {
    let v: number;
    let c: number;
    if (j >= y.length || (i < x.length && x[i] < y[j])) {
      v = x[i];
      c = x[i + 1];
      i += 2;
    } else if (i >= x.length || y[j] < x[i]) {
      v = y[j];
      c = y[j + 1];
      j += 2;
    } else {
      v = x[i];
      c = x[i + 1] + y[j + 1];
      i += 2;
      j += 2;
    }
    out[k++] = v;
    out[k++] = c;
  }
  return out.subarray(0, k);
}

function compress(p: Pairs): Pairs {
  for (let width = 0.01; ; width *= 2) {
    const logw = Math.log1p(width);
    const out: number[] = [];
    let key = NaN;
    let sum = 0;
    let count = 0;
    for (let i = 0; i < p.length; i += 2) {
      const v = p[i];
      const k = v === 0 ? 0 : Math.sign(v) * (1 + Math.floor(Math.log(Math.abs(v)) / logw + 1e6));
      if (k !== key && count > 0) {
        out.push(sum / count, count);
        sum = 0;
        count = 0;
      }
      key = k;
      sum += v * p[i + 1];
      count += p[i + 1];
    }
    if (count > 0) out.push(sum / count, count);
    if (out.length / 2 <= MAX_PAIRS) return Float64Array.from(out);
  }
}

/**
 * The pNN of a sorted pair list (nearest rank: the smallest value with at least p % of the samples
 * at or below it).
 */
export function percentile(p: Pairs, pct: number): number {
  let total = 0;
  for (let i = 1; i < p.length; i += 2) total += p[i];
  const rank = Math.max(1, Math.ceil((pct / 100) * total - 1e-9));
  let seen = 0;
  for (let i = 0; i < p.length; i += 2) {
    seen += p[i + 1];
    if (seen >= rank) return p[i];
  }
  return p[p.length - 2];
}
