/**
 * Metric math: the expression language of GetMetricData and math alarms. A small Pratt parser
 * turns "IF(m1 > 10, m1 * 2, 0)" into a tree; the evaluator works on sparse time series (ascending
 * timestamps + values), scalars and arrays of series (METRICS(), SEARCH()). Binary operators between
 * two series keep the timestamps both have; aggregates over an array (SUM(METRICS())) keep every
 * timestamp any member has; an aggregate over one series folds it into a scalar, as AWS documents.
 */
export interface Series {
  ts: number[];
  v: number[];
  /** Seconds. */
  period: number;
  label: string;
}
export type Value = number | string | Series | Series[];

export interface MathContext {
  get(id: string): Series | Series[];
  metrics(prefix?: string): Series[];
  search(expression: string, stat: string, period: number): Series[];
  /** Timestamps a series of this period has between the query's start and end (FILL's grid). */
  grid(period: number): number[];
}

export class MathError extends Error {}

type Node =
  | { k: 'num'; v: number }
  | { k: 'str'; v: string }
  | { k: 'id'; name: string }
  | { k: 'call'; name: string; args: Node[] }
  | { k: 'bin'; op: string; a: Node; b: Node }
  | { k: 'un'; op: string; a: Node };

const TOKEN =
  /\s*(?:(\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+)|([A-Za-z_][A-Za-z0-9_]*)|'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|(==|!=|<=|>=|&&|\|\||[-+*/^(),<>!]))/y;

function tokenize(src: string) {
  const out: { t: 'num' | 'id' | 'str' | 'op'; v: string }[] = [];
  TOKEN.lastIndex = 0;
  let pos = 0;
  while (pos < src.length) {
    if (/^\s*$/.test(src.slice(pos))) break;
    TOKEN.lastIndex = pos;
    const m = TOKEN.exec(src);
    if (!m) throw new MathError(`Unrecognized character at position ${pos}`);
    pos = TOKEN.lastIndex;
    if (m[1] !== undefined) out.push({ t: 'num', v: m[1] });
    else if (m[2] !== undefined) {
      const up = m[2].toUpperCase();
      out.push(up === 'AND' || up === 'OR' || up === 'NOT' ? { t: 'op', v: up } : { t: 'id', v: m[2] });
    } else if (m[3] !== undefined || m[4] !== undefined) out.push({ t: 'str', v: (m[3] ?? m[4]).replace(/\\(.)/g, '$1') });
    else out.push({ t: 'op', v: m[5] === '&&' ? 'AND' : m[5] === '||' ? 'OR' : m[5] === '!' ? 'NOT' : m[5] });
  }
  return out;
}

const BINARY: Record<string, number> = {
  OR: 1,
  AND: 2,
  '==': 3,
  '!=': 3,
  '<': 3,
  '>': 3,
  '<=': 3,
  '>=': 3,
  '+': 4,
  '-': 4,
  '*': 5,
  '/': 5,
  '^': 7,
};

export function parse(src: string): Node {
  const toks = tokenize(src);
  let i = 0;
  const peek = () => toks[i];
  const expect = (v: string) => {
    if (toks[i]?.v !== v) throw new MathError(`Expected '${v}'`);
    i++;
  };
  function unary(): Node {
    const t = peek();
    if (t?.t === 'op' && (t.v === '-' || t.v === 'NOT' || t.v === '+')) {
      i++;
      return { k: 'un', op: t.v, a: binary(6) };
    }
    return primary();
  }
  function primary(): Node {
    const t = toks[i++];
    if (!t) throw new MathError('Unexpected end of expression');
    if (t.t === 'num') return { k: 'num', v: Number(t.v) };
    if (t.t === 'str') return { k: 'str', v: t.v };
    if (t.t === 'id') {
      if (peek()?.v === '(') {
        i++;
        const args: Node[] = [];
        if (peek()?.v !== ')') {
          for (;;) {
            args.push(binary(0));
            if (peek()?.v === ',') i++;
            else break;
          }
        }
        expect(')');
        return { k: 'call', name: t.v.toUpperCase(), args };
      }
      return { k: 'id', name: t.v };
    }
    if (t.v === '(') {
      const e = binary(0);
      expect(')');
      return e;
    }
    throw new MathError(`Unexpected token '${t.v}'`);
  }
  function binary(min: number): Node {
    let left = unary();
    for (;;) {
      const t = peek();
      const prec = t?.t === 'op' ? BINARY[t.v] : undefined;
      if (prec === undefined || prec <= min) break;
      i++;
      // ^ is right-associative
      const right = binary(t.v === '^' ? prec - 1 : prec);
      left = { k: 'bin', op: t.v, a: left, b: right };
    }
    return left;
  }
  const tree = binary(0);
  if (i < toks.length) throw new MathError(`Unexpected token '${toks[i].v}'`);
  return tree;
}

/** Every query id an expression references (for dependency checks). */
export function references(n: Node, out = new Set<string>()): Set<string> {
  if (n.k === 'id') out.add(n.name);
  else if (n.k === 'call') n.args.forEach((a) => references(a, out));
  else if (n.k === 'bin') {
    references(n.a, out);
    references(n.b, out);
  } else if (n.k === 'un') references(n.a, out);
  return out;
}

const isSeries = (v: Value): v is Series => typeof v === 'object' && !Array.isArray(v);

function op2(op: string, x: number, y: number): number {
  switch (op) {
    case '+':
      return x + y;
    case '-':
      return x - y;
    case '*':
      return x * y;
    case '/':
      return x / y;
    case '^':
      return x ** y;
    case '==':
      return x === y ? 1 : 0;
    case '!=':
      return x !== y ? 1 : 0;
    case '<':
      return x < y ? 1 : 0;
    case '>':
      return x > y ? 1 : 0;
    case '<=':
      return x <= y ? 1 : 0;
    case '>=':
      return x >= y ? 1 : 0;
    case 'AND':
      return x !== 0 && y !== 0 ? 1 : 0;
    case 'OR':
      return x !== 0 || y !== 0 ? 1 : 0;
  }
  throw new MathError(`Unknown operator ${op}`);
}

const mapSeries = (s: Series, f: (v: number, i: number) => number): Series => ({ ...s, v: s.v.map(f) });

function binaryOp(op: string, a: Value, b: Value): Value {
  if (typeof a === 'string' || typeof b === 'string') throw new MathError(`Operator ${op} does not apply to strings`);
  if (Array.isArray(a) && Array.isArray(b)) throw new MathError(`Operator ${op} cannot combine two arrays of time series`);
  if (Array.isArray(a)) return a.map((s) => binaryOp(op, s, b) as Series);
  if (Array.isArray(b)) return b.map((s) => binaryOp(op, a, s) as Series);
  if (typeof a === 'number' && typeof b === 'number') return op2(op, a, b);
  if (typeof b === 'number') return mapSeries(a as Series, (v) => op2(op, v, b));
  if (typeof a === 'number') return mapSeries(b, (v) => op2(op, a, v));
  const ts: number[] = [];
  const v: number[] = [];
  let j = 0;
  for (let i = 0; i < a.ts.length; i++) {
    while (j < b.ts.length && b.ts[j] < a.ts[i]) j++;
    if (j < b.ts.length && b.ts[j] === a.ts[i]) {
      ts.push(a.ts[i]);
      v.push(op2(op, a.v[i], b.v[j]));
    }
  }
  return { ts, v, period: a.period, label: a.label };
}

type Agg = (xs: number[]) => number;
const AGG: Record<string, Agg> = {
  SUM: (xs) => xs.reduce((s, x) => s + x, 0),
  AVG: (xs) => xs.reduce((s, x) => s + x, 0) / xs.length,
  MIN: (xs) => Math.min(...xs),
  MAX: (xs) => Math.max(...xs),
  STDDEV: (xs) => {
    const m = xs.reduce((s, x) => s + x, 0) / xs.length;
    return Math.sqrt(xs.reduce((s, x) => s + (x - m) ** 2, 0) / xs.length);
  },
};

const ELEMENTWISE: Record<string, (x: number) => number> = {
  ABS: Math.abs,
  CEIL: Math.ceil,
  FLOOR: Math.floor,
  LOG: Math.log,
  LOG10: Math.log10,
  SQRT: Math.sqrt,
  EXP: Math.exp,
};

function aggregate(name: string, arg: Value): Value {
  const f = AGG[name];
  if (typeof arg === 'number') return arg;
  if (typeof arg === 'string') throw new MathError(`${name} does not take a string`);
  if (!Array.isArray(arg)) return arg.v.length ? f(arg.v) : NaN;
  const byTs = new Map<number, number[]>();
  for (const s of arg) s.ts.forEach((t, i) => (byTs.get(t) ?? byTs.set(t, []).get(t)!).push(s.v[i]));
  const ts = [...byTs.keys()].sort((x, y) => x - y);
  return { ts, v: ts.map((t) => f(byTs.get(t)!)), period: arg[0]?.period ?? 60, label: name };
}

function perSeries(v: Value, name: string, f: (s: Series) => Series): Value {
  if (Array.isArray(v)) return v.map(f);
  if (isSeries(v)) return f(v);
  throw new MathError(`${name} expects a time series or an array of time series`);
}

function fill(s: Series, how: Value, grid: number[]): Series {
  const have = new Map(s.ts.map((t, i) => [t, s.v[i]] as const));
  const ts: number[] = [];
  const v: number[] = [];
  const mode = typeof how === 'string' ? how.toUpperCase() : how;
  for (let g = 0; g < grid.length; g++) {
    const t = grid[g];
    let x = have.get(t);
    if (x === undefined) {
      if (typeof mode === 'number') x = mode;
      else if (isSeries(mode as Value)) {
        const o = mode as Series;
        const k = o.ts.indexOf(t);
        if (k >= 0) x = o.v[k];
      } else if (mode === 'REPEAT') x = v.length ? v[v.length - 1] : undefined;
      else if (mode === 'LINEAR') {
        const prev = ts.length ? ts.length - 1 : -1;
        const next = s.ts.findIndex((u) => u > t);
        if (prev >= 0 && next >= 0) x = v[prev] + ((s.v[next] - v[prev]) * (t - ts[prev])) / (s.ts[next] - ts[prev]);
      } else throw new MathError('FILL expects a number, REPEAT or LINEAR');
    }
    if (x !== undefined) {
      ts.push(t);
      v.push(x);
    }
  }
  return { ...s, ts, v };
}

function difference(s: Series, rate: boolean): Series {
  const ts: number[] = [];
  const v: number[] = [];
  for (let i = 1; i < s.ts.length; i++) {
    ts.push(s.ts[i]);
    const d = s.v[i] - s.v[i - 1];
    v.push(rate ? d / ((s.ts[i] - s.ts[i - 1]) / 1000) : d);
  }
  return { ...s, ts, v };
}

function at(v: Value, t: number): number | undefined {
  if (typeof v === 'number') return v;
  if (isSeries(v)) {
    const k = v.ts.indexOf(t);
    return k >= 0 ? v.v[k] : undefined;
  }
  throw new MathError('IF branches must be time series or scalars');
}

export function evaluate(n: Node, ctx: MathContext): Value {
  switch (n.k) {
    case 'num':
      return n.v;
    case 'str':
      return n.v;
    case 'id':
      if (/^(REPEAT|LINEAR)$/i.test(n.name)) return n.name.toUpperCase();
      return ctx.get(n.name);
    case 'un': {
      const a = evaluate(n.a, ctx);
      if (n.op === '+') return a;
      return n.op === '-' ? binaryOp('*', a, -1) : binaryOp('==', a, 0);
    }
    case 'bin':
      return binaryOp(n.op, evaluate(n.a, ctx), evaluate(n.b, ctx));
    case 'call':
      return call(n.name, n.args, ctx);
  }
}

function call(name: string, args: Node[], ctx: MathContext): Value {
  const ev = (i: number) => {
    if (!args[i]) throw new MathError(`${name} is missing argument ${i + 1}`);
    return evaluate(args[i], ctx);
  };
  if (AGG[name]) return aggregate(name, ev(0));
  if (ELEMENTWISE[name]) {
    const a = ev(0);
    return typeof a === 'number' ? ELEMENTWISE[name](a) : perSeries(a, name, (s) => mapSeries(s, ELEMENTWISE[name]));
  }
  switch (name) {
    case 'METRICS': {
      const p = args.length ? ev(0) : undefined;
      if (p !== undefined && typeof p !== 'string') throw new MathError('METRICS takes a string');
      return ctx.metrics(p);
    }
    case 'FILL': {
      const how = ev(1);
      return perSeries(ev(0), name, (s) => fill(s, how, ctx.grid(s.period)));
    }
    case 'RATE':
      return perSeries(ev(0), name, (s) => difference(s, true));
    case 'DIFF':
      return perSeries(ev(0), name, (s) => difference(s, false));
    case 'PERIOD':
      return perSeries(ev(0), name, (s) => mapSeries(s, () => s.period));
    case 'IF': {
      const cond = ev(0);
      const a = ev(1);
      const b = args.length > 2 ? ev(2) : undefined;
      const pick = (c: Series): Series => {
        const ts: number[] = [];
        const v: number[] = [];
        c.ts.forEach((t, i) => {
          const x = c.v[i] !== 0 ? at(a, t) : b === undefined ? undefined : at(b, t);
          if (x !== undefined) {
            ts.push(t);
            v.push(x);
          }
        });
        return { ...c, ts, v };
      };
      if (typeof cond === 'number') return cond !== 0 ? a : (b ?? NaN);
      return perSeries(cond, name, pick);
    }
    case 'SEARCH': {
      const expr = ev(0);
      const stat = ev(1);
      const period = ev(2);
      if (typeof expr !== 'string' || typeof stat !== 'string' || typeof period !== 'number')
        throw new MathError("SEARCH takes a search expression, a statistic and a period: SEARCH('{Namespace} MetricName', 'Sum', 300)");
      return ctx.search(expr, stat, period);
    }
  }
  throw new MathError(`Unknown function ${name}`);
}
