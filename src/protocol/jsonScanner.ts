/**
 * A scanner over JSON bytes for hot paths that read one known shape and act on it as they go,
 * without JSON.parse building the whole document (services/cloudwatch/putDecoder.ts reads
 * PutMetricData this way). It reads the common form only: strings of printable ASCII without
 * escapes, numbers as JSON.parse reads them. Anything else — and anything the caller does not
 * expect — throws DECLINE, which `scan()` turns into undefined: the caller then takes the generic,
 * model-driven path, which answers the exact error for bad input.
 */

/** Thrown when the input leaves the form the scanner (or its caller) reads. */
export const DECLINE = new Error('not the common form: take the generic path');

/** Runs `read` over the bytes; undefined when it declined. */
export function scan<T>(body: Uint8Array, read: (s: JsonScanner) => T): T | undefined {
  try {
    const s = new JsonScanner(body);
    const out = read(s);
    s.end();
    return out;
  } catch (err) {
    if (err === DECLINE) return undefined;
    throw err;
  }
}

const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);

/** The bytes the scanner (and its callers) look for. */
export const enum Byte {
  Tab = 9,
  Lf = 10,
  Cr = 13,
  Space = 32,
  Quote = 34,
  Comma = 44,
  Minus = 45,
  Dot = 46,
  Zero = 48,
  Nine = 57,
  Colon = 58,
  LBracket = 91,
  Backslash = 92,
  RBracket = 93,
  LowerE = 101,
  UpperE = 69,
  Plus = 43,
  LBrace = 123,
  RBrace = 125,
}

/** Member names by their first byte, each with its index in the list given (see JsonScanner.key). */
export interface MemberNames {
  byFirst: ([number, Uint8Array][] | undefined)[];
}

export function memberNames(...list: string[]): MemberNames {
  const byFirst: MemberNames['byFirst'] = [];
  list.forEach((n, i) => (byFirst[n.charCodeAt(0)] ??= []).push([i, Buffer.from(n, 'latin1')]));
  return { byFirst };
}

/** A cursor over the bytes; each read skips the whitespace before its token. */
export class JsonScanner {
  pos = 0;
  /** Strings seen in this body by content hash, so repeated names and units are one string. */
  private strings = new Map<number, string>();

  constructor(private readonly b: Uint8Array) {}

  ws(): number {
    const b = this.b;
    let p = this.pos;
    let c = b[p];
    if (c > Byte.Space) return c;
    while (c === Byte.Space || c === Byte.Lf || c === Byte.Cr || c === Byte.Tab) c = b[++p];
    this.pos = p;
    return c;
  }

  expect(ch: number) {
    if (this.ws() !== ch) throw DECLINE;
    this.pos++;
  }

  /** After a member or item: true at ',' (another follows), false at the closing `close`. */
  more(close: number): boolean {
    const c = this.ws();
    this.pos++;
    if (c === Byte.Comma) return true;
    if (c === close) return false;
    throw DECLINE;
  }

  /** Opens `[` of a list that has items (an empty list is left to the generic path). */
  openList() {
    this.expect(Byte.LBracket);
    if (this.ws() === Byte.RBracket) throw DECLINE;
  }

  /** From `p`, after an opening quote, to the closing quote (ASCII without escapes only); returns where it is. */
  private closingQuote(p: number): number {
    const b = this.b;
    for (;;) {
      const c = b[p];
      if (c === Byte.Quote) return p;
      // escapes, control characters, non-ASCII, or the end of the body
      if (c === Byte.Backslash || !(c >= 0x20 && c < 0x80)) throw DECLINE;
      p++;
    }
  }

  /** Whether the bytes at `at` are the (quote-free ASCII) string `s` and its closing quote. */
  private holds(s: string, at: number): boolean {
    const b = this.b;
    const len = s.length;
    if (b[at + len] !== Byte.Quote) return false;
    for (let i = 0; i < len; i++) if (s.charCodeAt(i) !== b[at + i]) return false;
    return true;
  }

  /**
   * A member name followed by its colon, as its index in `names` (-1 when it is none of them): the
   * bytes are compared with the names that start with the same letter, without making a string.
   */
  key(names: MemberNames): number {
    if (this.ws() !== Byte.Quote) throw DECLINE;
    const b = this.b;
    const start = this.pos + 1;
    const candidates = names.byFirst[b[start]];
    if (candidates === undefined) return -1;
    next: for (let k = 0; k < candidates.length; k++) {
      const [index, name] = candidates[k];
      const len = name.length;
      if (b[start + len] !== Byte.Quote) continue;
      for (let i = 1; i < len; i++) if (name[i] !== b[start + i]) continue next;
      this.pos = start + len + 1;
      this.expect(Byte.Colon);
      return index;
    }
    return -1;
  }

  /** A string; `likely` (the same member's value in the previous datum) is checked first. */
  str(likely?: string): string {
    if (this.ws() !== Byte.Quote) throw DECLINE;
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
    const negative = c === Byte.Minus;
    if (negative) c = b[++p];
    if (c === Byte.Zero) c = b[++p];
    else if (c > Byte.Zero && c <= Byte.Nine) {
      do c = b[++p];
      while (c >= Byte.Zero && c <= Byte.Nine);
    } else throw DECLINE;
    let fraction = 0;
    if (c === Byte.Dot) {
      const f = p + 1;
      do c = b[++p];
      while (c >= Byte.Zero && c <= Byte.Nine);
      fraction = p - f;
      if (fraction === 0) throw DECLINE;
    }
    let exponent = false;
    if (c === Byte.LowerE || c === Byte.UpperE) {
      exponent = true;
      c = b[++p];
      if (c === Byte.Plus || c === Byte.Minus) c = b[++p];
      if (!(c >= Byte.Zero && c <= Byte.Nine)) throw DECLINE;
      do c = b[++p];
      while (c >= Byte.Zero && c <= Byte.Nine);
    }
    this.pos = p;
    const digits = p - start - (negative ? 1 : 0) - (fraction ? 1 : 0);
    if (exponent || digits > 15) return Number(String.fromCharCode.apply(null, b.subarray(start, p) as unknown as number[]));
    let m = 0;
    for (let i = negative ? start + 1 : start; i < p; i++) {
      const d = b[i];
      if (d !== Byte.Dot) m = m * 10 + (d - Byte.Zero);
    }
    const v = fraction ? m / POW10[fraction] : m;
    return negative ? -v : v;
  }

  /** A list of numbers (at most `max`) into `into`; returns how many. */
  nums(into: Float64Array, max: number): number {
    this.openList();
    let n = 0;
    do {
      if (n === max) throw DECLINE;
      into[n++] = this.num();
    } while (this.more(Byte.RBracket));
    return n;
  }

  end() {
    if (this.ws() !== undefined) throw DECLINE;
  }
}
