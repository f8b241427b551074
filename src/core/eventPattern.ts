/**
 * Event patterns: the content-filtering language of EventBridge rules and SNS subscription filter
 * policies (AWS's Event Ruler), validated once as AWS does and compiled into matcher closures.
 *
 * The language is shared: leaf arrays are ORs of value tests, object keys are ANDs, `$or` forks
 * branches; the match expressions are exact, prefix, suffix, equals-ignore-case, wildcard,
 * anything-but, numeric, exists and cidr. What a service does its own way is its PatternDialect:
 * the error it throws and its wording, the operators it offers, its limits (SNS: 5 keys, 150
 * combinations), whether keys may nest, and a few grammar points. compileTree validates a parsed
 * pattern into a tree whose leaves are compiled value tests; the tree is then bound to a document:
 *
 *  - eventMatcher (EventBridge): an event array matches when any element does, and an object
 *    pattern applied to an array of objects needs one element satisfying the whole object (fields
 *    from different elements do not combine); absent fields, objects and arrays without leaf
 *    values match only {"exists": false}.
 *  - fieldMatcher (SNS): a key path gathers every value along it, arrays flattened, so nested keys
 *    may be met by different elements; a key is present when it is there at all, whatever its
 *    value. A FieldModel says how keys reach values: JSON_FIELDS for a JSON message body, SNS's
 *    own for message attributes typed by DataType.
 *
 * Match expressions ({"prefix": …} and the rest) compile in eventPatternValues.ts. The services'
 * adapters: services/events/pattern.ts and services/sns/filterPolicy.ts.
 */
import { PatternJsonError, readPatternJson, type PatternJsonRead } from './eventPatternJson.js';
import { ANY, compileMatchExpression, type ValueTest } from './eventPatternValues.js';

export type Matcher = (doc: unknown) => boolean;
type LeafMatcher = (v: unknown) => boolean;

const MATCH_TYPES = ['prefix', 'suffix', 'anything-but', 'numeric', 'exists', 'cidr', 'equals-ignore-case', 'wildcard', 'exact'];

/** Why a pattern is rejected, in Event Ruler's words (as EventBridge says them); a dialect rewords what its service says otherwise. */
export const RULER_WORDING = {
  json: (message: string) => message,
  notObject: () => 'Filter is not an object',
  emptyObject: () => 'Empty objects are not allowed',
  // EventBridge has no limits of these kinds and always nests: the words are SNS's
  tooManyKeys: (max: number) => `Filter policy can not have more than ${max} keys`,
  tooComplex: () => 'Filter policy is too complex',
  nested: () => 'Filter policy scope MessageAttributes does not support nested filter policy',
  notObjectOrArray: (key: string) => `"${key}" must be an object or an array`,
  orNotArray: () => 'It must be an Array followed with $or.',
  orNotObject: () => 'Only JSON object is allowed in array of $or relationship.',
  orTooFew: () => 'There must have at least 2 Objects in $or relationship.',
  reservedInOr: (key: string) => `${key} is Ruler reserved fieldName which cannot be used inside $or.`,
  emptyArray: () => 'Empty arrays are not allowed',
  badMatchValue: () => 'Match value must be String, number, true, false, or null',
  noMatchName: () => 'Match expression name not found',
  unknownType: (op: string) => `Unrecognized match type ${op}`,
  oneKey: (op: string) =>
    op === 'numeric' || op === 'anything-but' ? 'Too many elements in numeric expression' : 'Only one key allowed in match expression',
  notString: (op: string) => `${op} match pattern must be a string`,
  existsNotBoolean: () => 'exists match pattern must be either true or false.',
  cidrNotString: () => 'prefix match pattern must be a string', // sic
  cidrNonsense: (cidr: string) => `Nonsensical CIDR: ${cidr}`,
  wildcardEscape: (pos: number) => `Invalid escape character at pos ${pos}`,
  wildcardConsecutive: (pos: number) => `Consecutive wildcard characters at pos ${pos}`,
  numericNotArray: () => 'Value of numeric must be an array.',
  numericMember: (v: unknown) => `Invalid member in numeric match: ${JSON.stringify(v ?? null)}`,
  numericOperator: (op: string) => `Unrecognized numeric range operator: ${op}`,
  numericValue: (op: string) => `Value of ${op} must be numeric`,
  numericElements: () => 'Too many elements in numeric expression',
  rangeValue: (v: unknown) => `Bad value in numeric range: ${JSON.stringify(v)}`,
  rangeOperator: (op: string) => `Bad numeric range operator: ${op}`,
  rangeTerms: () => 'Too many terms in numeric range expression',
  bottomTop: () => 'Bottom must be less than top',
  abNoName: () => 'Anything-But expression name not found',
  abOneKey: (_first: string) => 'Only one key allowed in match expression',
  abAffixNotString: (_op: string) => 'prefix/suffix match pattern must be a string',
  abNullAffix: () => 'Null prefix/suffix not allowed',
  abIgnoreCaseList: () => 'Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported.',
  abWildcardNotString: () => 'wildcard match pattern must be a string',
  abUnsupported: (op: string) => `Unsupported anything-but pattern: ${op}`,
  abScalar: () => 'Value of anything-but must be an array or single string/number value.',
  abListItem: () => 'Inside anything but list, start|null|boolean is not supported.',
  abMixed: () => 'Inside anything but list, either all values are number or string, mixed type is not supported',
};

/** A reason for each way a pattern can be wrong. */
export type Wording = { [K in keyof typeof RULER_WORDING]: (...args: Parameters<(typeof RULER_WORDING)[K]>) => string };

/** Every reason of `wording` with `prefix` in front (SNS's "FilterPolicy: "). */
export function prefixWording(wording: Wording, prefix: string): Wording {
  const out: Record<string, (...args: never[]) => string> = {};
  for (const [name, say] of Object.entries(wording) as [string, (...args: never[]) => string][])
    out[name] = (...args) => prefix + say(...args);
  return out as unknown as Wording;
}

/** How one service validates and words patterns. */
export interface PatternDialect {
  /** Throws the service's error for a reason. */
  fail(reason: string): never;
  say: Wording;
  /** Match types offered; any other is "Unrecognized match type". */
  operators: ReadonlySet<string>;
  /** Keys may hold objects; otherwise say.nested. */
  nested: boolean;
  /** The most keys at the top level ($or counts as one). */
  maxKeys?: number;
  /** The most value combinations: the sum over $or alternatives of the product of each leaf's size × its key depth. */
  maxCombinations?: number;
  /** The order keys are checked (and matched) in, lowest first; otherwise as written. */
  rank?: (key: string) => number;
  /** {} is allowed below the top level (it asks for nothing). */
  emptyObjects: boolean;
  /** Match type names are rejected as keys inside $or. */
  reservedInOr: boolean;
  /** prefix and suffix also take {"equals-ignore-case": "…"}. */
  ignoreCaseAffixes: boolean;
  /**
   * anything-but as EventBridge has it ('strict': lists of one type and not empty, no empty
   * prefix/suffix, equals-ignore-case lists; its prefix/suffix/equals-ignore-case forms pass any
   * value that is not a string) or as SNS has it ('lenient': lists may mix or be empty, empty
   * prefixes are allowed, equals-ignore-case takes one string; those forms pass only strings).
   */
  anythingBut: 'strict' | 'lenient';
  /** [">=", 5, "<=", 5] is a valid range (otherwise the bottom must be below the top). */
  closedEqualRange: boolean;
  /**
   * The JSON is read as Event Ruler's Jackson parser reads it (eventPatternJson.ts): syntax errors
   * in Jackson's words, nothing read past the root object. Otherwise JSON.parse reads the whole text.
   */
  jackson?: boolean;
}

/** The whole language with Event Ruler's grammar and words; a service adds `fail` and its own differences. */
export const RULER: Omit<PatternDialect, 'fail'> = {
  say: RULER_WORDING,
  operators: new Set(MATCH_TYPES),
  nested: true,
  emptyObjects: false,
  reservedInOr: true,
  ignoreCaseAffixes: true,
  anythingBut: 'strict',
  closedEqualRange: true,
};

/** A validated pattern object: its keys (each a nested object or a leaf) and its $or groups. */
export interface PatternObject {
  keys: string[];
  children: (PatternObject | PatternLeaf)[];
  ors: PatternObject[][];
}

/** A leaf array compiled: one test for its values ORed, and what exists asks. */
interface PatternLeaf {
  leaf: true;
  test: ValueTest;
  /** The leaf is one exact string and nothing else (the commonest leaf of all). */
  single?: string;
  /** Only literal values, no match expressions. */
  onlyExact: boolean;
  /** {"exists": true} is among the values. */
  existsTrue: boolean;
  /** {"exists": false} is among the values. */
  absent: boolean;
  /** How many values the array has. */
  size: number;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isLeaf = (n: PatternObject | PatternLeaf): n is PatternLeaf => 'leaf' in n;

/** JSON text to the pattern object, or the dialect's error. */
export function parsePattern(text: string, d: PatternDialect): Record<string, unknown> {
  let parsed: unknown;
  if (d.jackson) {
    let read: PatternJsonRead;
    try {
      read = readPatternJson(text);
    } catch (e) {
      if (e instanceof PatternJsonError) d.fail(d.say.json(e.message));
      throw e;
    }
    if (read.kind === 'not-object') d.fail(d.say.notObject());
    try {
      return JSON.parse(text.slice(0, read.end)) as Record<string, unknown>;
    } catch (e) {
      d.fail(d.say.json((e as Error).message)); // not reached: the reader accepts no more than JSON.parse does
    }
  }
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    d.fail(d.say.json((e as Error).message));
  }
  if (!isObject(parsed)) d.fail(d.say.notObject());
  return parsed;
}

/** Validates a parsed pattern as the dialect's service does and compiles its leaves; throws through d.fail. */
export function compileTree(root: Record<string, unknown>, d: PatternDialect): PatternObject {
  if (d.maxKeys !== undefined && Object.keys(root).length > d.maxKeys) d.fail(d.say.tooManyKeys(d.maxKeys));
  const tree = compileObject(root, false, d);
  if (d.maxCombinations !== undefined && combinations(tree, 1) > d.maxCombinations) d.fail(d.say.tooComplex());
  return tree;
}

// ---------------------------------------------------------------------------------------------
// Objects

function compileObject(obj: Record<string, unknown>, insideOr: boolean, d: PatternDialect): PatternObject {
  const keys = Object.keys(obj);
  if (keys.length === 0 && !d.emptyObjects) d.fail(d.say.emptyObject());
  const rank = d.rank;
  if (rank) keys.sort((a, b) => rank(a) - rank(b));
  const node: PatternObject = { keys: [], children: [], ors: [] };
  for (const key of keys) {
    const value = obj[key];
    if (key === '$or') {
      if (!Array.isArray(value)) d.fail(d.say.orNotArray());
      const branches = value.map((b) => {
        if (!isObject(b)) d.fail(d.say.orNotObject());
        return compileObject(b, true, d);
      });
      if (branches.length < 2) d.fail(d.say.orTooFew());
      node.ors.push(branches);
      continue;
    }
    if (insideOr && d.reservedInOr && MATCH_TYPES.includes(key)) d.fail(d.say.reservedInOr(key));
    node.keys.push(key);
    if (isObject(value)) {
      if (!d.nested) d.fail(d.say.nested());
      node.children.push(compileObject(value, insideOr, d));
    } else if (Array.isArray(value)) node.children.push(compileLeaf(value, d));
    else d.fail(d.say.notObjectOrArray(key));
  }
  return node;
}

/** Σ over $or alternatives of Π (leaf size × key depth), by distributing: alternatives add, keys multiply. */
function combinations(node: PatternObject, depth: number): number {
  let n = 1;
  for (const c of node.children) n *= isLeaf(c) ? c.size * depth : combinations(c, depth + 1);
  for (const branches of node.ors) n *= branches.reduce((sum, b) => sum + combinations(b, depth), 0);
  return n;
}

/** The tree matched against events (EventBridge), as the header says. */
export function eventMatcher(node: PatternObject): Matcher {
  const fieldKeys = node.keys;
  const fieldMatchers = node.children.map((c) => (isLeaf(c) ? eventLeaf(c) : eventMatcher(c)));
  const ors = node.ors.map((branches) => branches.map(eventMatcher));
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
      for (const b of branches)
        if (b(v)) {
          any = true;
          break;
        }
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

/** What a key reaches in a document, for fieldMatcher: whether it is there, and its leaf values. */
export interface FieldValue {
  present: boolean;
  values: readonly unknown[];
}

/** How fieldMatcher walks a document: `child` follows a key from a context, `field` reads what a context holds. */
export interface FieldModel<C> {
  child(at: C, key: string): C;
  field(at: C): FieldValue;
}

export const ABSENT: FieldValue = { present: false, values: [] };

/** The tree matched key path by key path (SNS), as the header says; call the result with the model's root context. */
export function fieldMatcher<C>(node: PatternObject, model: FieldModel<C>): (at: C) => boolean {
  const parts = node.children.map((c, i): ((at: C) => boolean) => {
    const key = node.keys[i];
    if (!isLeaf(c)) {
      const below = fieldMatcher(c, model);
      return (at) => below(model.child(at, key));
    }
    return (at) => {
      const f = model.field(model.child(at, key));
      return f.present ? c.existsTrue || f.values.some((v) => c.test(v)) : c.absent;
    };
  });
  const ors = node.ors.map((branches) => branches.map((b) => fieldMatcher(b, model)));
  return (at) => parts.every((p) => p(at)) && ors.every((branches) => branches.some((b) => b(at)));
}

/**
 * A JSON document for fieldMatcher; the context is every value a key path reached (the root is
 * [doc]). Arrays are flattened one level at each step; a key holding an object or an array of
 * arrays is present without leaf values.
 */
export const JSON_FIELDS: FieldModel<unknown[]> = {
  child(at, key) {
    const next: unknown[] = [];
    for (const x of at) for (const n of Array.isArray(x) ? x : [x]) if (isObject(n) && Object.hasOwn(n, key)) next.push(n[key]);
    return next;
  },
  field(at) {
    if (at.length === 0) return ABSENT;
    return { present: true, values: at.flatMap((x) => (Array.isArray(x) ? x : [x])).filter((v) => v === null || typeof v !== 'object') };
  },
};

// ---------------------------------------------------------------------------------------------
// Leaves: an array of value tests

function compileLeaf(values: unknown[], d: PatternDialect): PatternLeaf {
  if (values.length === 0) d.fail(d.say.emptyArray());
  const tests: ValueTest[] = [];
  const strings: string[] = [];
  let absent = false;
  let existsTrue = false;
  let onlyExact = true;
  for (const v of values) {
    if (typeof v === 'string') strings.push(v);
    else if (typeof v === 'number') tests.push((x) => x === v);
    else if (v === null || typeof v === 'boolean') tests.push((x) => x === v);
    else if (isObject(v)) {
      onlyExact = false;
      const t = compileMatchExpression(v, d);
      if (t === 'absent') absent = true;
      else {
        if (t === ANY) existsTrue = true;
        tests.push(t);
      }
    } else d.fail(d.say.badMatchValue());
  }
  if (strings.length === 1) {
    const s = strings[0];
    tests.unshift((x) => x === s);
  } else if (strings.length > 1) {
    const set = new Set(strings);
    tests.unshift((x) => typeof x === 'string' && set.has(x));
  }
  const test: ValueTest =
    tests.length === 1
      ? tests[0]
      : (x) => {
          for (const t of tests) if (t(x)) return true;
          return false;
        };
  const single = onlyExact && strings.length === 1 && tests.length === 1 ? strings[0] : undefined;
  return { leaf: true, test, single, onlyExact, existsTrue, absent, size: values.length };
}

/** A leaf bound to the event model: arrays match when any leaf in them does, objects are not leaves. */
function eventLeaf(l: PatternLeaf): LeafMatcher {
  const { test, single, absent } = l;
  if (single !== undefined) return (v) => v === single || (Array.isArray(v) && anyLeaf(v, test));
  if (l.onlyExact && !absent) {
    // the common case: no exists:false, so an absent or object value simply fails
    return (v) => {
      if (!Array.isArray(v)) return v !== undefined && (typeof v !== 'object' || v === null) && test(v);
      return anyLeaf(v, test);
    };
  }
  return (v) => {
    if (Array.isArray(v)) return hasLeaf(v) ? anyLeaf(v, test) : absent;
    if (v === undefined || (typeof v === 'object' && v !== null)) return absent;
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
