/**
 * Logs Insights evaluation: a log event as a record (@timestamp, @message, @logStream, @log,
 * @ingestionTime and, discovered on first use, the fields of a JSON message, nested keys joined by
 * "."), expressions and functions over it, and the aggregate functions of stats. Values are numbers,
 * strings, booleans, times (shown as AWS shows them, "2024-05-01 12:00:00.000") or undefined for a
 * field the record does not have, which every comparison fails.
 */
import { isIP } from 'node:net';
import type { Expr } from './parse.js';
import { QuerySyntaxError } from './parse.js';

export class Time {
  constructor(readonly ms: number) {}
}

export type Value = string | number | boolean | Time | undefined;

export class LogRecord {
  private discovered = false;
  constructor(
    readonly f: Record<string, Value>,
    private readonly message: string,
  ) {}

  get(name: string): Value {
    const v = this.f[name];
    if (v !== undefined || this.discovered) return v;
    this.discovered = true;
    discoverJson(this.message, this.f);
    return this.f[name];
  }

  set(name: string, v: Value) {
    this.f[name] = v;
  }
}

/** A stored log event as a query sees it. */
export const eventRecord = (ts: number, message: string, stream: string | undefined, logName: string, ingested?: number) =>
  new LogRecord(
    {
      '@timestamp': new Time(ts),
      '@message': message,
      '@logStream': stream,
      '@log': logName,
      '@ingestionTime': ingested === undefined ? undefined : new Time(ingested),
    },
    message,
  );

/** Adds a JSON message's fields (nested keys joined by ".", array items by index) to `into`. */
export function discoverJson(message: string, into: Record<string, Value>) {
  const start = message.indexOf('{');
  if (start < 0) return;
  let doc: unknown;
  try {
    doc = JSON.parse(message.slice(start));
  } catch {
    return;
  }
  const walk = (v: unknown, prefix: string) => {
    if (v === null || v === undefined) return;
    if (typeof v === 'object') {
      for (const [k, x] of Object.entries(v as object)) walk(x, prefix ? `${prefix}.${k}` : k);
      return;
    }
    if (!(prefix in into)) into[prefix] = typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean' ? v : String(v);
  };
  if (doc && typeof doc === 'object') walk(doc, '');
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');
export function formatTime(ms: number) {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}`;
}

/** A value as GetQueryResults shows it. */
export function show(v: Value): string | undefined {
  if (v === undefined) return undefined;
  if (v instanceof Time) return formatTime(v.ms);
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(Math.round(v * 1e10) / 1e10);
  return String(v);
}

const toNum = (v: Value): number | undefined => {
  if (v instanceof Time) return v.ms;
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string' && v.trim() !== '' && !isNaN(Number(v))) return Number(v);
  return undefined;
};
const toStr = (v: Value): string | undefined => (v === undefined ? undefined : show(v));

export function truthy(v: Value): boolean {
  if (v === undefined) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (v instanceof Time) return true;
  return v !== '';
}

/** Orders two values: numerically when both read as numbers, as strings otherwise; undefined when either is missing. */
export function compareValues(a: Value, b: Value): number | undefined {
  if (a === undefined || b === undefined) return undefined;
  const na = toNum(a);
  const nb = toNum(b);
  if (na !== undefined && nb !== undefined) return na - nb;
  const sa = toStr(a)!;
  const sb = toStr(b)!;
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

function ipv4(ip: string): number | undefined {
  if (isIP(ip) !== 4) return undefined;
  return ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}

function inSubnet(ip: string | undefined, cidr: string | undefined, family?: 4 | 6): boolean {
  if (!ip || !cidr) return false;
  const [net, bitsText] = cidr.split('/');
  const bits = Number(bitsText ?? (isIP(net) === 6 ? 128 : 32));
  if (isIP(ip) !== isIP(net) || (family && isIP(ip) !== family)) return false;
  if (isIP(ip) === 4) {
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    return (ipv4(ip)! & mask) >>> 0 === (ipv4(net)! & mask) >>> 0;
  }
  const expand = (a: string) => {
    const [h, t] = a.split('::');
    const head = h ? h.split(':') : [];
    const tail = t !== undefined && t ? t.split(':') : [];
    const groups = [...head, ...Array(8 - head.length - tail.length).fill('0'), ...tail];
    return groups.map((g) => parseInt(g, 16).toString(2).padStart(16, '0')).join('');
  };
  return expand(ip).slice(0, bits) === expand(net).slice(0, bits);
}

type Fn = (args: Value[], rec: LogRecord) => Value;

const num1 =
  (f: (n: number) => number): Fn =>
  (a) =>
    toNum(a[0]) === undefined ? undefined : f(toNum(a[0])!);
const str1 =
  (f: (s: string) => Value): Fn =>
  (a) =>
    toStr(a[0]) === undefined ? undefined : f(toStr(a[0])!);

const FUNCTIONS: Record<string, Fn> = {
  // string
  strlen: str1((s) => s.length),
  toupper: str1((s) => s.toUpperCase()),
  tolower: str1((s) => s.toLowerCase()),
  trim: (a) => trimWith(toStr(a[0]), toStr(a[1]), true, true),
  ltrim: (a) => trimWith(toStr(a[0]), toStr(a[1]), true, false),
  rtrim: (a) => trimWith(toStr(a[0]), toStr(a[1]), false, true),
  concat: (a) => a.map((v) => toStr(v) ?? '').join(''),
  substr: (a) => {
    const s = toStr(a[0]);
    if (s === undefined) return undefined;
    const start = toNum(a[1]) ?? 0;
    const len = toNum(a[2]);
    return len === undefined ? s.slice(start) : s.slice(start, start + len);
  },
  replace: (a) =>
    toStr(a[0])
      ?.split(toStr(a[1]) ?? '')
      .join(toStr(a[2]) ?? ''),
  strcontains: (a) => (toStr(a[0]) === undefined ? undefined : toStr(a[0])!.includes(toStr(a[1]) ?? '') ? 1 : 0),
  isempty: (a) => a[0] === undefined || toStr(a[0]) === '',
  isblank: (a) => a[0] === undefined || toStr(a[0])!.trim() === '',
  // numeric
  abs: num1(Math.abs),
  ceil: num1(Math.ceil),
  floor: num1(Math.floor),
  log: num1(Math.log),
  sqrt: num1(Math.sqrt),
  greatest: (a) => pick(a, (x, y) => x > y),
  least: (a) => pick(a, (x, y) => x < y),
  // datetime
  bin: (a, rec) => {
    const p = toNum(a[0]);
    const t = toNum(rec.get('@timestamp'));
    return p && t !== undefined ? new Time(Math.floor(t / p) * p) : undefined;
  },
  datefloor: (a) => {
    const t = toNum(a[0]);
    const p = toNum(a[1]);
    return t !== undefined && p ? new Time(Math.floor(t / p) * p) : undefined;
  },
  dateceil: (a) => {
    const t = toNum(a[0]);
    const p = toNum(a[1]);
    return t !== undefined && p ? new Time(Math.ceil(t / p) * p) : undefined;
  },
  frommillis: (a) => (toNum(a[0]) === undefined ? undefined : new Time(toNum(a[0])!)),
  tomillis: (a) => toNum(a[0]),
  // IP
  isvalidip: str1((s) => isIP(s) !== 0),
  isvalidipv4: str1((s) => isIP(s) === 4),
  isvalidipv6: str1((s) => isIP(s) === 6),
  isipinsubnet: (a) => inSubnet(toStr(a[0]), toStr(a[1])),
  isipv4insubnet: (a) => inSubnet(toStr(a[0]), toStr(a[1]), 4),
  isipv6insubnet: (a) => inSubnet(toStr(a[0]), toStr(a[1]), 6),
  // general
  ispresent: (a) => a[0] !== undefined,
  coalesce: (a) => a.find((v) => v !== undefined),
};

function trimWith(s: string | undefined, chars: string | undefined, left: boolean, right: boolean) {
  if (s === undefined) return undefined;
  const set = chars ?? ' \t\n\r';
  let i = 0;
  let j = s.length;
  if (left) while (i < j && set.includes(s[i])) i++;
  if (right) while (j > i && set.includes(s[j - 1])) j--;
  return s.slice(i, j);
}

function pick(a: Value[], better: (x: number, y: number) => boolean): Value {
  let best: Value;
  for (const v of a) if (toNum(v) !== undefined && (best === undefined || better(toNum(v)!, toNum(best)!))) best = v;
  return best;
}

export const AGGREGATES = new Set([
  'count',
  'count_distinct',
  'sum',
  'avg',
  'min',
  'max',
  'pct',
  'percentile',
  'stddev',
  'earliest',
  'latest',
  'sortsfirst',
  'sortslast',
]);

/** Checks that every function named in `e` exists (QuerySyntaxError otherwise); `aggregates` allows stats' own. */
export function checkFunctions(e: Expr, aggregates: boolean, src: string) {
  const visit = (x: Expr) => {
    if (x.k === 'call') {
      if (!(x.fn in FUNCTIONS) && !(aggregates && AGGREGATES.has(x.fn))) {
        const at = src.toLowerCase().indexOf(x.fn + '(');
        throw new QuerySyntaxError(`unknown function ${x.fn}`, Math.max(at, 0), Math.max(at, 0) + x.fn.length - 1);
      }
      x.args.forEach(visit);
    } else if (x.k === 'bin') {
      visit(x.l);
      visit(x.r);
    } else if (x.k === 'not' || x.k === 'neg') visit(x.e);
    else if (x.k === 'in') [x.e, ...x.list].forEach(visit);
    else if (x.k === 'like') visit(x.e);
  };
  visit(e);
}

export function evaluate(e: Expr, rec: LogRecord): Value {
  switch (e.k) {
    case 'lit':
      return e.v;
    case 'field':
      return rec.get(e.name);
    case 'star':
      return 1;
    case 'regex':
      return e.re.source;
    case 'call':
      return FUNCTIONS[e.fn](
        e.args.map((a) => evaluate(a, rec)),
        rec,
      );
    case 'not':
      return !truthy(evaluate(e.e, rec));
    case 'neg': {
      const n = toNum(evaluate(e.e, rec));
      return n === undefined ? undefined : -n;
    }
    case 'in': {
      const v = evaluate(e.e, rec);
      if (v === undefined) return false;
      const hit = e.list.some((x) => compareValues(v, evaluate(x, rec)) === 0);
      return e.not ? !hit : hit;
    }
    case 'like': {
      const v = toStr(evaluate(e.e, rec));
      if (v === undefined) return false;
      const hit = e.pattern.k === 'regex' ? e.pattern.re.test(v) : v.includes(toStr(evaluate(e.pattern, rec)) ?? '');
      return e.not ? !hit : hit;
    }
    case 'bin': {
      if (e.op === 'and') return truthy(evaluate(e.l, rec)) && truthy(evaluate(e.r, rec));
      if (e.op === 'or') return truthy(evaluate(e.l, rec)) || truthy(evaluate(e.r, rec));
      const l = evaluate(e.l, rec);
      const r = evaluate(e.r, rec);
      if (['=', '!=', '<', '<=', '>', '>='].includes(e.op)) {
        const c = compareValues(l, r);
        if (c === undefined) return false;
        return e.op === '='
          ? c === 0
          : e.op === '!='
            ? c !== 0
            : e.op === '<'
              ? c < 0
              : e.op === '<='
                ? c <= 0
                : e.op === '>'
                  ? c > 0
                  : c >= 0;
      }
      const a = toNum(l);
      const b = toNum(r);
      if (a === undefined || b === undefined) return undefined;
      switch (e.op) {
        case '+':
          return a + b;
        case '-':
          return a - b;
        case '*':
          return a * b;
        case '/':
          return b === 0 ? undefined : a / b;
        case '%':
          return b === 0 ? undefined : a % b;
        case '^':
          return a ** b;
      }
      return undefined;
    }
  }
}

/** One aggregate's running state for one group. */
export interface Aggregator {
  add(rec: LogRecord): void;
  result(): Value;
}

export function aggregator(e: Expr): Aggregator {
  if (e.k !== 'call' || !AGGREGATES.has(e.fn))
    throw new QuerySyntaxError('stats takes aggregate functions: count, sum, avg, min, max, pct …', 0, 0);
  const arg = e.args[0] ?? { k: 'star' };
  const val = (rec: LogRecord) => (arg.k === 'star' ? 1 : evaluate(arg, rec));
  switch (e.fn) {
    case 'count': {
      let n = 0;
      return { add: (r) => void (val(r) !== undefined && n++), result: () => n };
    }
    case 'count_distinct': {
      const seen = new Set<string>();
      return { add: (r) => void (val(r) !== undefined && seen.add(show(val(r))!)), result: () => seen.size };
    }
    case 'sum':
    case 'avg': {
      let sum = 0;
      let n = 0;
      const avg = e.fn === 'avg';
      return {
        add: (r) => {
          const v = toNum(val(r));
          if (v !== undefined) {
            sum += v;
            n++;
          }
        },
        result: () => (n === 0 ? undefined : avg ? sum / n : sum),
      };
    }
    case 'min':
    case 'max':
    case 'sortsfirst':
    case 'sortslast': {
      let best: Value;
      const lower = e.fn === 'min' || e.fn === 'sortsfirst';
      return {
        add: (r) => {
          const v = val(r);
          const c = compareValues(v, best);
          if (v !== undefined && (best === undefined || (lower ? c! < 0 : c! > 0))) best = v;
        },
        result: () => best,
      };
    }
    case 'stddev': {
      let n = 0;
      let mean = 0;
      let m2 = 0;
      return {
        add: (r) => {
          const v = toNum(val(r));
          if (v === undefined) return;
          n++;
          const d = v - mean;
          mean += d / n;
          m2 += d * (v - mean);
        },
        result: () => (n < 2 ? (n === 1 ? 0 : undefined) : Math.sqrt(m2 / (n - 1))),
      };
    }
    case 'pct':
    case 'percentile': {
      const p = e.args[1]?.k === 'lit' ? Number(e.args[1].v) : NaN;
      if (!(p >= 0 && p <= 100)) throw new QuerySyntaxError('pct takes a field and a percentile between 0 and 100', 0, 0);
      let values = new Float64Array(64);
      let n = 0;
      return {
        add: (r) => {
          const v = toNum(val(r));
          if (v === undefined) return;
          if (n === values.length) {
            const grown = new Float64Array(n * 2);
            grown.set(values);
            values = grown;
          }
          values[n++] = v;
        },
        result: () => {
          if (n === 0) return undefined;
          const sorted = values.subarray(0, n).sort();
          return sorted[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))];
        },
      };
    }
    case 'earliest':
    case 'latest': {
      let at = e.fn === 'earliest' ? Infinity : -Infinity;
      let best: Value;
      const earlier = e.fn === 'earliest';
      return {
        add: (r) => {
          const v = val(r);
          const t = toNum(r.get('@timestamp'))!;
          if (v !== undefined && (earlier ? t < at : t > at)) {
            at = t;
            best = v;
          }
        },
        result: () => best,
      };
    }
  }
  throw new QuerySyntaxError(`unknown aggregate ${e.fn}`, 0, 0);
}
