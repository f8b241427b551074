/**
 * The match expressions of event patterns (core/eventPattern.ts): one {"op": …} object of a leaf
 * array compiled into a value test, validated in the dialect's grammar and words. prefix, suffix,
 * equals-ignore-case, exact, wildcard, exists, numeric ranges, anything-but (values and patterns)
 * and cidr (IPv4 and IPv6).
 */
import type { PatternDialect } from './eventPattern.js';

export type ValueTest = (v: unknown) => boolean;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** {"exists": true}: any value. */
export const ANY: ValueTest = () => true;

/** One {"op": …} object in a leaf array; 'absent' for {"exists": false}. */
export function compileMatchExpression(expr: Record<string, unknown>, d: PatternDialect): ValueTest | 'absent' {
  const keys = Object.keys(expr);
  if (keys.length === 0) d.fail(d.say.noMatchName());
  const op = keys[0];
  const arg = expr[op];
  if (!d.operators.has(op)) d.fail(d.say.unknownType(op));
  const onlyOne = () => {
    if (keys.length > 1) d.fail(d.say.oneKey(op));
  };
  switch (op) {
    case 'exact': {
      if (typeof arg !== 'string') d.fail(d.say.notString(op));
      onlyOne();
      return (x) => x === arg;
    }
    case 'prefix':
    case 'suffix': {
      onlyOne();
      const s = stringOrIgnoreCase(arg, op, d);
      if (op === 'prefix')
        return s.ignoreCase
          ? (x) => typeof x === 'string' && x.slice(0, s.value.length).toLowerCase() === s.value
          : (x) => typeof x === 'string' && x.startsWith(s.value);
      return s.ignoreCase
        ? (x) => typeof x === 'string' && x.slice(x.length - s.value.length).toLowerCase() === s.value
        : (x) => typeof x === 'string' && x.endsWith(s.value);
    }
    case 'equals-ignore-case': {
      if (typeof arg !== 'string') d.fail(d.say.notString(op));
      onlyOne();
      const lower = arg.toLowerCase();
      return (x) => typeof x === 'string' && x.toLowerCase() === lower;
    }
    case 'wildcard': {
      if (typeof arg !== 'string') d.fail(d.say.notString(op));
      onlyOne();
      const re = wildcardRegExp(arg, d);
      return (x) => typeof x === 'string' && re.test(x);
    }
    case 'numeric': {
      if (!Array.isArray(arg)) d.fail(d.say.numericNotArray());
      onlyOne();
      return compileNumeric(arg, d);
    }
    case 'exists': {
      if (typeof arg !== 'boolean') d.fail(d.say.existsNotBoolean());
      onlyOne();
      return arg ? ANY : 'absent';
    }
    case 'cidr': {
      if (typeof arg !== 'string') d.fail(d.say.cidrNotString());
      onlyOne();
      return compileCidr(arg, d);
    }
    case 'anything-but': {
      onlyOne();
      return compileAnythingBut(arg, d);
    }
    default:
      return d.fail(d.say.unknownType(op));
  }
}

/** "x" or, where the dialect allows, {"equals-ignore-case": "x"} (prefix and suffix); ignore-case values are lowered. */
function stringOrIgnoreCase(arg: unknown, op: string, d: PatternDialect): { value: string; ignoreCase: boolean } {
  if (typeof arg === 'string') return { value: arg, ignoreCase: false };
  if (d.ignoreCaseAffixes && isObject(arg)) {
    const keys = Object.keys(arg);
    const inner = arg[keys[0]];
    if (keys[0] === 'equals-ignore-case' && typeof inner === 'string') {
      if (keys.length > 1) d.fail(d.say.oneKey(keys[0]));
      return { value: inner.toLowerCase(), ignoreCase: true };
    }
  }
  return d.fail(d.say.notString(op));
}

function compileAnythingBut(arg: unknown, d: PatternDialect): ValueTest {
  const strict = d.anythingBut === 'strict';
  if (isObject(arg)) {
    const keys = Object.keys(arg);
    if (keys.length === 0) d.fail(d.say.abNoName());
    if (keys.length > 1) d.fail(d.say.abOneKey(keys[0]));
    const op = keys[0];
    const inner = arg[op];
    // `passes` says which strings get through; what a value that is not a string does depends on the dialect
    const unless = (passes: (s: string) => boolean): ValueTest =>
      strict ? (x) => typeof x !== 'string' || passes(x) : (x) => typeof x === 'string' && passes(x);
    if (op === 'prefix' || op === 'suffix') {
      if (typeof inner !== 'string') d.fail(d.say.abAffixNotString(op));
      if (inner === '' && strict) d.fail(d.say.abNullAffix());
      return op === 'prefix' ? unless((x) => !x.startsWith(inner)) : unless((x) => !x.endsWith(inner));
    }
    if (op === 'equals-ignore-case') {
      const list = strict && Array.isArray(inner) ? inner : [inner];
      if (list.length === 0 || !list.every((s) => typeof s === 'string')) d.fail(d.say.abIgnoreCaseList());
      const set = new Set((list as string[]).map((s) => s.toLowerCase()));
      return unless((x) => !set.has(x.toLowerCase()));
    }
    if (op === 'wildcard' && d.operators.has('wildcard')) {
      const list = Array.isArray(inner) ? inner : [inner];
      if (list.length === 0 || !list.every((s) => typeof s === 'string')) d.fail(d.say.abWildcardNotString());
      const res = (list as string[]).map((p) => wildcardRegExp(p, d));
      return unless((x) => !res.some((re) => re.test(x)));
    }
    return d.fail(d.say.abUnsupported(op));
  }
  if (typeof arg === 'string') return (x) => x !== arg;
  if (typeof arg === 'number') return (x) => x !== arg;
  if (!Array.isArray(arg)) return d.fail(d.say.abScalar());
  let strings = 0;
  let numbers = 0;
  for (const v of arg) {
    if (typeof v === 'string') strings++;
    else if (typeof v === 'number') numbers++;
    else d.fail(d.say.abListItem());
  }
  if (strict && strings > 0 === numbers > 0) d.fail(d.say.abMixed());
  const set = new Set<unknown>(arg);
  return (x) => !set.has(x);
}

function compileNumeric(terms: unknown[], d: PatternDialect): ValueTest {
  const checks: ((n: number) => boolean)[] = [];
  const operand = (i: number, op: string): number => {
    const v = terms[i];
    if (typeof v !== 'number') d.fail(d.say.numericValue(op));
    return v;
  };
  const op = terms[0];
  if (typeof op !== 'string') d.fail(d.say.numericMember(op));
  if (op === '=') {
    const v = operand(1, op);
    if (terms.length > 2) d.fail(d.say.numericElements());
    checks.push((n) => n === v);
  } else if (op === '<' || op === '<=') {
    const v = operand(1, op);
    if (terms.length > 2) d.fail(d.say.numericElements());
    checks.push(op === '<' ? (n) => n < v : (n) => n <= v);
  } else if (op === '>' || op === '>=') {
    const v = operand(1, op);
    checks.push(op === '>' ? (n) => n > v : (n) => n >= v);
    if (terms.length > 2) {
      const top = terms[2];
      if (typeof top !== 'string') d.fail(d.say.rangeValue(top));
      if (top !== '<' && top !== '<=') d.fail(d.say.rangeOperator(top));
      const t = operand(3, top);
      if (terms.length > 4) d.fail(d.say.rangeTerms());
      if (t < v || (t === v && (!d.closedEqualRange || op === '>' || top === '<'))) d.fail(d.say.bottomTop());
      checks.push(top === '<' ? (n) => n < t : (n) => n <= t);
    }
  } else d.fail(d.say.numericOperator(op));
  if (checks.length === 1) {
    const c = checks[0];
    return (x) => typeof x === 'number' && c(x);
  }
  const [a, b] = checks;
  return (x) => typeof x === 'number' && a(x) && b(x);
}

/** "*" matches any run of characters; "\*" and "\\" are literal; "**" is rejected as AWS does. */
function wildcardRegExp(pattern: string, d: PatternDialect): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      const next = pattern[i + 1];
      if (next !== '*' && next !== '\\') d.fail(d.say.wildcardEscape(i + 1));
      re += '\\' + next;
      i++;
    } else if (c === '*') {
      if (pattern[i + 1] === '*') d.fail(d.say.wildcardConsecutive(i + 1));
      re += '[\\s\\S]*';
    } else re += c.replace(/[.+?^${}()|[\]\\/-]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

// ---------------------------------------------------------------------------------------------
// CIDR (IPv4 and IPv6)

function compileCidr(text: string, d: PatternDialect): ValueTest {
  const nonsense = () => d.fail(d.say.cidrNonsense(text));
  const slash = text.indexOf('/');
  if (slash < 0) nonsense();
  const addr = parseIp(text.slice(0, slash));
  const bitsText = text.slice(slash + 1);
  if (!addr || !/^\d{1,3}$/.test(bitsText)) return nonsense();
  const width = addr.v6 ? 128 : 32;
  const bits = Number(bitsText);
  if (bits > width) nonsense();
  const shift = BigInt(width - bits);
  const net = addr.value >> shift;
  return (x) => {
    if (typeof x !== 'string') return false;
    const ip = parseIp(x);
    return !!ip && ip.v6 === addr.v6 && ip.value >> shift === net;
  };
}

function parseIp(s: string): { v6: boolean; value: bigint } | undefined {
  if (s.includes(':')) {
    const halves = s.split('::');
    if (halves.length > 2) return undefined;
    const head = halves[0] ? halves[0].split(':') : [];
    const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
    const missing = 8 - head.length - tail.length;
    if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
    const groups = [...head, ...Array(halves.length === 2 ? missing : 0).fill('0'), ...tail];
    let value = 0n;
    for (const g of groups) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      value = (value << 16n) | BigInt(parseInt(g, 16));
    }
    return { v6: true, value };
  }
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    value = (value << 8n) | BigInt(Number(p));
  }
  return { v6: false, value };
}
