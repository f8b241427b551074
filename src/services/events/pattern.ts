/**
 * EventBridge event patterns: validate a pattern as AWS does and compile it once into a matcher
 * closure. Semantics follow AWS's content filtering (the Event Ruler engine): leaf arrays are ORs of
 * value tests, object keys are ANDs, `$or` forks branches, an event array matches when any of its
 * elements does, and an object pattern applied to an array of objects needs one element that
 * satisfies the whole object (fields matched from different elements do not combine).
 * Absent fields match only {"exists": false}; objects are not leaf values.
 */

export class EventPatternError extends Error {}

export type Matcher = (event: unknown) => boolean;

export interface CompiledPattern {
  match: Matcher;
  /** Exact top-level values the event must have in `field` (source or detail-type), for rule indexing. */
  index?: { field: string; values: string[] };
}

type ValueTest = (v: unknown) => boolean;
type LeafMatcher = (v: unknown) => boolean;

const MATCH_TYPES = ['prefix', 'suffix', 'anything-but', 'numeric', 'exists', 'cidr', 'equals-ignore-case', 'wildcard', 'exact'];

const fail = (reason: string): never => {
  throw new EventPatternError(`Event pattern is not valid. Reason: ${reason}`);
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses, validates and compiles; throws EventPatternError with AWS's message. */
export function compilePattern(text: string): CompiledPattern {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    fail((e as Error).message);
  }
  if (!isObject(parsed)) fail('Filter is not an object');
  const root = parsed as Record<string, unknown>;
  const match = compileObject(root, false);
  return { match, index: indexOf(root) };
}

/** Compiles and discards: undefined when valid, AWS's message otherwise. */
export function checkPattern(text: string): string | undefined {
  try {
    compilePattern(text);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

function indexOf(root: Record<string, unknown>): CompiledPattern['index'] {
  for (const field of ['source', 'detail-type']) {
    const v = root[field];
    if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string')) return { field, values: v as string[] };
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Objects

function compileObject(obj: Record<string, unknown>, insideOr: boolean): Matcher {
  const keys = Object.keys(obj);
  if (keys.length === 0) fail('Empty objects are not allowed');
  // cheap, selective fields first
  keys.sort((a, b) => rank(a) - rank(b));
  const fieldKeys: string[] = [];
  const fieldMatchers: LeafMatcher[] = [];
  const ors: Matcher[][] = [];
  for (const key of keys) {
    const value = obj[key];
    if (key === '$or') {
      if (!Array.isArray(value)) fail('It must be an Array followed with $or.');
      const branches = (value as unknown[]).map((b) => {
        if (!isObject(b)) fail('Only JSON object is allowed in array of $or relationship.');
        return compileObject(b as Record<string, unknown>, true);
      });
      if (branches.length < 2) fail('There must have at least 2 Objects in $or relationship.');
      ors.push(branches);
      continue;
    }
    if (insideOr && MATCH_TYPES.includes(key)) fail(`${key} is Ruler reserved fieldName which cannot be used inside $or.`);
    fieldKeys.push(key);
    if (isObject(value)) fieldMatchers.push(compileObject(value, insideOr));
    else if (Array.isArray(value)) fieldMatchers.push(compileLeaf(value));
    else fail(`"${key}" must be an object or an array`);
  }
  const n = fieldKeys.length;
  const single = (v: unknown): boolean => {
    const o = isObject(v) ? v : undefined;
    for (let i = 0; i < n; i++) {
      let x = o === undefined ? undefined : o[fieldKeys[i]];
      if (typeof x === 'function') x = undefined; // Object.prototype members are not event fields
      if (!fieldMatchers[i](x)) return false;
    }
    for (const branches of ors) {
      let any = false;
      for (const b of branches) if (b(v)) { any = true; break; }
      if (!any) return false;
    }
    return true;
  };
  const each = (v: unknown): boolean => {
    if (!Array.isArray(v)) return single(v);
    if (v.length === 0) return single(undefined);
    for (const el of v) if (each(el)) return true;
    return false;
  };
  return each;
}

const rank = (k: string) => (k === 'source' ? 0 : k === 'detail-type' ? 1 : k === '$or' ? 3 : 2);

// ---------------------------------------------------------------------------------------------
// Leaves: an array of value tests

function compileLeaf(values: unknown[]): LeafMatcher {
  if (values.length === 0) fail('Empty arrays are not allowed');
  const tests: ValueTest[] = [];
  const strings: string[] = [];
  let absentOk = false;
  let onlyExact = true;
  for (const v of values) {
    if (typeof v === 'string') strings.push(v);
    else if (typeof v === 'number') tests.push((x) => x === v);
    else if (v === null || typeof v === 'boolean') tests.push((x) => x === v);
    else if (isObject(v)) {
      onlyExact = false;
      const t = compileMatchExpression(v);
      if (t === 'absent') absentOk = true;
      else tests.push(t);
    } else fail('Match value must be String, number, true, false, or null');
  }
  if (strings.length === 1) {
    const s = strings[0];
    tests.unshift((x) => x === s);
  } else if (strings.length > 1) {
    const set = new Set(strings);
    tests.unshift((x) => typeof x === 'string' && set.has(x));
  }
  const test: ValueTest = tests.length === 1 ? tests[0] : (x) => {
    for (const t of tests) if (t(x)) return true;
    return false;
  };
  if (onlyExact && strings.length === 1 && tests.length === 1) {
    // the most common leaf of all: one exact string
    const s = strings[0];
    return (v) => v === s || (Array.isArray(v) && anyLeaf(v, test));
  }
  if (onlyExact && !absentOk) {
    // the common case: no exists:false, so an absent or object value simply fails
    return (v) => {
      if (!Array.isArray(v)) return v !== undefined && (typeof v !== 'object' || v === null) && test(v);
      return anyLeaf(v, test);
    };
  }
  return (v) => {
    if (Array.isArray(v)) return hasLeaf(v) ? anyLeaf(v, test) : absentOk;
    if (v === undefined || (typeof v === 'object' && v !== null)) return absentOk;
    return test(v);
  };
}

function anyLeaf(arr: unknown[], test: ValueTest): boolean {
  for (const el of arr) {
    if (Array.isArray(el)) {
      if (anyLeaf(el, test)) return true;
    } else if (el !== undefined && (typeof el !== 'object' || el === null) && test(el)) return true;
  }
  return false;
}

function hasLeaf(arr: unknown[]): boolean {
  for (const el of arr) if (Array.isArray(el) ? hasLeaf(el) : typeof el !== 'object' || el === null) return true;
  return false;
}

/** One {"op": …} object in a leaf array; 'absent' for {"exists": false}. */
function compileMatchExpression(expr: Record<string, unknown>): ValueTest | 'absent' {
  const keys = Object.keys(expr);
  if (keys.length === 0) fail('Match expression name not found');
  const op = keys[0];
  const arg = expr[op];
  const onlyOne = (message = 'Only one key allowed in match expression') => {
    if (keys.length > 1) fail(message);
  };
  switch (op) {
    case 'exact': {
      if (typeof arg !== 'string') fail('exact match pattern must be a string');
      onlyOne();
      return (x) => x === arg;
    }
    case 'prefix':
    case 'suffix': {
      onlyOne();
      const s = stringOrIgnoreCase(arg, `${op} match pattern must be a string`);
      if (op === 'prefix')
        return s.ignoreCase ? (x) => typeof x === 'string' && x.slice(0, s.value.length).toLowerCase() === s.value : (x) => typeof x === 'string' && x.startsWith(s.value);
      return s.ignoreCase ? (x) => typeof x === 'string' && x.slice(x.length - s.value.length).toLowerCase() === s.value : (x) => typeof x === 'string' && x.endsWith(s.value);
    }
    case 'equals-ignore-case': {
      if (typeof arg !== 'string') fail('equals-ignore-case match pattern must be a string');
      onlyOne();
      const lower = (arg as string).toLowerCase();
      return (x) => typeof x === 'string' && x.toLowerCase() === lower;
    }
    case 'wildcard': {
      if (typeof arg !== 'string') fail('wildcard match pattern must be a string');
      onlyOne();
      const re = wildcardRegExp(arg as string);
      return (x) => typeof x === 'string' && re.test(x);
    }
    case 'numeric': {
      if (!Array.isArray(arg)) fail('Value of numeric must be an array.');
      onlyOne('Too many elements in numeric expression');
      return compileNumeric(arg as unknown[]);
    }
    case 'exists': {
      if (typeof arg !== 'boolean') fail('exists match pattern must be either true or false.');
      onlyOne();
      return arg ? () => true : 'absent';
    }
    case 'cidr': {
      if (typeof arg !== 'string') fail('prefix match pattern must be a string');
      onlyOne();
      return compileCidr(arg as string);
    }
    case 'anything-but': {
      onlyOne('Too many elements in numeric expression');
      return compileAnythingBut(arg);
    }
    default:
      return fail(`Unrecognized match type ${op}`);
  }
}

/** "x" or {"equals-ignore-case": "x"} (prefix and suffix accept both); ignore-case values are lowered. */
function stringOrIgnoreCase(arg: unknown, message: string): { value: string; ignoreCase: boolean } {
  if (typeof arg === 'string') return { value: arg, ignoreCase: false };
  if (isObject(arg)) {
    const keys = Object.keys(arg);
    if (keys[0] === 'equals-ignore-case' && typeof arg[keys[0]] === 'string') {
      if (keys.length > 1) fail('Only one key allowed in match expression');
      return { value: (arg[keys[0]] as string).toLowerCase(), ignoreCase: true };
    }
  }
  return fail(message);
}

function compileAnythingBut(arg: unknown): ValueTest {
  if (isObject(arg)) {
    const keys = Object.keys(arg);
    if (keys.length === 0) fail('Anything-But expression name not found');
    if (keys.length > 1) fail('Only one key allowed in match expression');
    const op = keys[0];
    const inner = arg[op];
    if (op === 'prefix' || op === 'suffix') {
      if (typeof inner !== 'string') fail('prefix/suffix match pattern must be a string');
      const s = inner as string;
      if (s === '') fail('Null prefix/suffix not allowed');
      return op === 'prefix' ? (x) => typeof x !== 'string' || !x.startsWith(s) : (x) => typeof x !== 'string' || !x.endsWith(s);
    }
    if (op === 'equals-ignore-case') {
      const list = Array.isArray(inner) ? inner : [inner];
      if (list.length === 0 || !list.every((s) => typeof s === 'string'))
        fail('Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported.');
      const set = new Set((list as string[]).map((s) => s.toLowerCase()));
      return (x) => typeof x !== 'string' || !set.has(x.toLowerCase());
    }
    if (op === 'wildcard') {
      const list = Array.isArray(inner) ? inner : [inner];
      if (list.length === 0 || !list.every((s) => typeof s === 'string')) fail('wildcard match pattern must be a string');
      const res = (list as string[]).map(wildcardRegExp);
      return (x) => typeof x !== 'string' || !res.some((re) => re.test(x));
    }
    return fail(`Unsupported anything-but pattern: ${op}`);
  }
  if (typeof arg === 'string') return (x) => x !== arg;
  if (typeof arg === 'number') return (x) => x !== arg;
  if (!Array.isArray(arg)) return fail('Value of anything-but must be an array or single string/number value.');
  let strings = 0;
  let numbers = 0;
  for (const v of arg) {
    if (typeof v === 'string') strings++;
    else if (typeof v === 'number') numbers++;
    else fail('Inside anything but list, start|null|boolean is not supported.');
  }
  if ((strings > 0) === (numbers > 0)) fail('Inside anything but list, either all values are number or string, mixed type is not supported');
  const set = new Set<unknown>(arg);
  return (x) => !set.has(x);
}

function compileNumeric(terms: unknown[]): ValueTest {
  const checks: ((n: number) => boolean)[] = [];
  const operand = (i: number, op: string): number => {
    const v = terms[i];
    if (typeof v !== 'number') fail(`Value of ${op} must be numeric`);
    return v as number;
  };
  const first = terms[0];
  if (typeof first !== 'string') fail(`Invalid member in numeric match: ${JSON.stringify(first ?? null)}`);
  const op = first as string;
  if (op === '=') {
    const v = operand(1, op);
    if (terms.length > 2) fail('Too many elements in numeric expression');
    checks.push((n) => n === v);
  } else if (op === '<' || op === '<=') {
    const v = operand(1, op);
    if (terms.length > 2) fail('Too many elements in numeric expression');
    checks.push(op === '<' ? (n) => n < v : (n) => n <= v);
  } else if (op === '>' || op === '>=') {
    const v = operand(1, op);
    checks.push(op === '>' ? (n) => n > v : (n) => n >= v);
    if (terms.length > 2) {
      const top = terms[2];
      if (typeof top !== 'string') fail(`Bad value in numeric range: ${JSON.stringify(top)}`);
      if (top !== '<' && top !== '<=') fail(`Bad numeric range operator: ${top}`);
      const t = operand(3, top as string);
      if (terms.length > 4) fail('Too many terms in numeric range expression');
      if (t < v || (t === v && (op === '>' || top === '<'))) fail('Bottom must be less than top');
      checks.push(top === '<' ? (n) => n < t : (n) => n <= t);
    }
  } else fail(`Unrecognized numeric range operator: ${op}`);
  if (checks.length === 1) {
    const c = checks[0];
    return (x) => typeof x === 'number' && c(x);
  }
  const [a, b] = checks;
  return (x) => typeof x === 'number' && a(x) && b(x);
}

/** "*" matches any run of characters; "\*" and "\\" are literal; "**" is rejected as AWS does. */
export function wildcardRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      const next = pattern[i + 1];
      if (next !== '*' && next !== '\\') fail(`Invalid escape character at pos ${i + 1}`);
      re += '\\' + next;
      i++;
    } else if (c === '*') {
      if (pattern[i + 1] === '*') fail(`Consecutive wildcard characters at pos ${i + 1}`);
      re += '[\\s\\S]*';
    } else re += c.replace(/[.+?^${}()|[\]\\/-]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

// ---------------------------------------------------------------------------------------------
// CIDR (IPv4 and IPv6)

function compileCidr(text: string): ValueTest {
  const nonsense = () => fail(`Nonsensical CIDR: ${text}`);
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
