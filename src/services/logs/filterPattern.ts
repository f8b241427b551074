/**
 * CloudWatch Logs filter pattern engine (pure, no I/O), used by FilterLogEvents,
 * metric filters, subscription filters and TestMetricFilter.
 * compileFilterPattern() parses a pattern once and returns a matcher. Three syntaxes:
 *   - unstructured terms:  ERROR  "exact phrase"  -exclude  ?alt  %regex%
 *   - JSON:                { $.a.b[0] = "x*" && ($.n > 5 || $.f IS TRUE) }
 *   - space-delimited:     [ip, user, ..., status = 4* && status != 404, bytes > 1000]
 * Layout: small lexers -> parsers producing an AST -> evaluator closures.
 */

export class FilterPatternError extends Error {
  override name = 'FilterPatternError';
}

export type LogMatcher = (message: string) => boolean;

// ---------------------------------------------------------------- AST

type CmpOp = '=' | '!=' | '<' | '>' | '<=' | '>=';
type Literal =
  | { kind: 'string'; text: string } // '*' at start/end is a wildcard
  | { kind: 'number'; num: number; text: string }
  | { kind: 'regex'; re: RegExp };
type PathSeg = { prop: string } | { index: number };
type Target = { kind: 'path'; text: string; segs: PathSeg[] } | { kind: 'field'; name: string };
type Check = 'null' | 'true' | 'false' | 'notExists';
type Cond =
  | { type: 'and' | 'or'; left: Cond; right: Cond }
  | { type: 'cmp'; target: Target; op: CmpOp; value: Literal }
  | { type: 'check'; target: Target; check: Check };
type Term = { kind: 'text'; text: string } | { kind: 'regex'; re: RegExp };
type TermGroup = { include: Term[]; exclude: Term[] };
type Field = { kind: 'ellipsis' } | { kind: 'named'; name: string; cond?: Cond };

// ---------------------------------------------------------------- entry point

export function compileFilterPattern(pattern: string | undefined): LogMatcher {
  const match = compileFieldMatcher(pattern);
  return (message) => match(message) !== undefined;
}

/**
 * What a matched event offers metric filters and TestMetricFilter: a JSON pattern's selectors
 * (`$.a.b`) and a space-delimited pattern's named fields (`$status`); nothing for terms.
 */
export interface MatchedFields {
  /** The value a `$.path` or `$field` selector takes in the event, or undefined. */
  lookup(selector: string): string | undefined;
  /** The selectors the pattern itself names, with their values: TestMetricFilter's extractedValues. */
  extracted(): Record<string, string>;
}

const NO_FIELDS: MatchedFields = { lookup: () => undefined, extracted: () => ({}) };

const scalar = (v: unknown): string | undefined =>
  v === MISSING || v === undefined || (typeof v === 'object' && v !== null) ? undefined : String(v);

/** compileFilterPattern that also says which fields a matched event bound; undefined when it does not match. */
export function compileFieldMatcher(pattern: string | undefined): (message: string) => MatchedFields | undefined {
  const src = (pattern ?? '').trim();
  if (src === '') return () => NO_FIELDS;
  if (src.startsWith('{')) {
    if (!src.endsWith('}')) fail(`a JSON filter pattern that starts with '{' must end with '}'`);
    const cond = parseCondition(src.slice(1, -1), 1, 'json');
    const named = [...new Set(targetsOf(cond))];
    return (message) => {
      const doc = parseJsonObject(message);
      if (doc === undefined || !evalCond(cond, (t) => resolveTarget(doc, t))) return undefined;
      const lookup = (selector: string) => {
        const target = jsonSelector(selector);
        return target && scalar(resolveTarget(doc, target));
      };
      return {
        lookup,
        extracted: () => Object.fromEntries(named.flatMap((n) => (lookup(n) === undefined ? [] : [[n, lookup(n)!]]))),
      };
    };
  }
  if (src.startsWith('[')) {
    if (!src.endsWith(']')) fail(`a space-delimited filter pattern that starts with '[' must end with ']'`);
    const fields = parseFields(src.slice(1, -1), 1);
    return (message) => {
      const bound = new Map<string, string>();
      if (!matchFields(fields, splitFields(message), 0, 0, bound)) return undefined;
      return {
        lookup: (selector) => (selector.startsWith('$') ? bound.get(selector.slice(1)) : undefined),
        extracted: () => Object.fromEntries([...bound].map(([k, v]) => [`$${k}`, v])),
      };
    };
  }
  const { required, alternatives } = parseTerms(src);
  return (message) =>
    groupMatches(required, message) && (alternatives.length === 0 || alternatives.some((g) => groupMatches(g, message)))
      ? NO_FIELDS
      : undefined;
}

/** A metric filter's `$.a.b[0]` selector as a path target, or undefined when it is not one. */
function jsonSelector(selector: string): Target | undefined {
  const m = /^\$((?:\.[^.[\]]+|\[\d+\])+)$/.exec(selector);
  if (!m) return undefined;
  const segs: PathSeg[] = m[1]
    .match(/\.[^.[\]]+|\[\d+\]/g)!
    .map((x) => (x.startsWith('.') ? { prop: x.slice(1) } : { index: Number(x.slice(1, -1)) }));
  return { kind: 'path', text: selector, segs };
}

function fail(problem: string, pos?: number): never {
  throw new FilterPatternError(`Invalid filter pattern: ${problem}${pos === undefined ? '' : ` (at position ${pos})`}`);
}

// ---------------------------------------------------------------- shared lexing helpers

/** Reads a double-quoted string starting at src[i] === '"'. Supports \" and \\ escapes. */
function readQuoted(src: string, i: number, offset: number): { text: string; end: number } {
  let text = '';
  for (let j = i + 1; j < src.length; j++) {
    const c = src[j];
    if (c === '"') return { text, end: j + 1 };
    if (c === '\\' && (src[j + 1] === '"' || src[j + 1] === '\\')) {
      text += src[++j];
      continue;
    }
    text += c;
  }
  return fail('unterminated quoted string', offset + i);
}

// AWS only accepts these characters between the % signs (no spaces, no parentheses).
const REGEX_CHARS = /^[A-Za-z0-9:_#=@/;,\-^$?[\]{}|\\*+.]+$/;

/** Reads a %regex% starting at src[i] === '%'. */
function readRegex(src: string, i: number, offset: number): { re: RegExp; end: number } {
  const close = src.indexOf('%', i + 1);
  if (close === -1) fail(`unterminated regular expression (missing closing '%')`, offset + i);
  const body = src.slice(i + 1, close);
  if (body === '') fail('empty regular expression %%', offset + i);
  if (!REGEX_CHARS.test(body)) {
    fail(
      `regular expression %${body}% contains an unsupported character ` +
        `(allowed: letters, digits, : _ # = @ / ; , - and the operators ^ $ ? [ ] { } | \\ * + .)`,
      offset + i,
    );
  }
  try {
    return { re: new RegExp(body), end: close + 1 };
  } catch (e) {
    return fail(`bad regular expression %${body}%: ${(e as Error).message}`, offset + i);
  }
}

const NUMBER_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

// ---------------------------------------------------------------- unstructured terms

/**
 * Terms are ANDed. `-term` excludes. `?term` starts an OR alternative; plain and excluded
 * terms that follow a `?term` belong to that alternative (the convention the AWS CDK's
 * anyTermGroup relies on: `?"A" "B" ?"C"` = (A && B) || C). Terms before the first `?`
 * are required by every match.
 */
function parseTerms(src: string): { required: TermGroup; alternatives: TermGroup[] } {
  const required: TermGroup = { include: [], exclude: [] };
  const alternatives: TermGroup[] = [];
  let current = required;
  let i = 0;
  const skipSpace = () => {
    while (i < src.length && /\s/.test(src[i])) i++;
  };
  while (true) {
    skipSpace();
    if (i >= src.length) break;
    const start = i;
    let alt = false;
    let negate = false;
    if (src[i] === '?') {
      alt = true;
      i++;
      skipSpace();
    }
    if (src[i] === '-') {
      negate = true;
      i++;
      skipSpace();
    }
    if (i >= src.length) fail(`'${src.slice(start).trim()}' is not followed by a term`, start);
    let term: Term | undefined;
    if (src[i] === '"') {
      const q = readQuoted(src, i, 0);
      i = q.end;
      if (q.text.trim() !== '') term = { kind: 'text', text: q.text }; // "" and " " match everything
    } else if (src[i] === '%') {
      const r = readRegex(src, i, 0);
      i = r.end;
      term = { kind: 'regex', re: r.re };
    } else {
      let j = i;
      while (j < src.length && !/\s/.test(src[j])) j++;
      const word = src.slice(i, j);
      if (/["{}[\]()%@$\\]/.test(word)) {
        fail(`term '${word}' contains special characters and must be enclosed in double quotes`, i);
      }
      term = { kind: 'text', text: word };
      i = j;
    }
    if (i < src.length && !/\s/.test(src[i])) fail(`expected a space after the term ending here`, i);
    if (alt) {
      current = { include: [], exclude: [] };
      alternatives.push(current);
    }
    if (term) (negate ? current.exclude : current.include).push(term);
  }
  return { required, alternatives };
}

function termMatches(term: Term, message: string): boolean {
  return term.kind === 'text' ? message.includes(term.text) : term.re.test(message);
}

function groupMatches(g: TermGroup, message: string): boolean {
  return g.include.every((t) => termMatches(t, message)) && !g.exclude.some((t) => termMatches(t, message));
}

// ---------------------------------------------------------------- expression lexer (JSON / space-delimited)

type TokKind = 'lp' | 'rp' | 'comma' | 'and' | 'or' | 'op' | 'str' | 're' | 'word';
interface Tok {
  kind: TokKind;
  text: string;
  pos: number;
  re?: RegExp;
}

const OPS = new Set(['=', '!=', '<', '>', '<=', '>=']);
const WORD_STOP = '()&|=!<>"%{},';

function lex(src: string, offset: number): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    const pos = offset + i;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '(' || c === ')' || c === ',') {
      toks.push({ kind: c === '(' ? 'lp' : c === ')' ? 'rp' : 'comma', text: c, pos });
      i++;
    } else if (c === '&' || c === '|') {
      if (src[i + 1] !== c) fail(`'${c}' must be written as '${c}${c}'`, pos);
      toks.push({ kind: c === '&' ? 'and' : 'or', text: c + c, pos });
      i += 2;
    } else if ('=!<>'.includes(c)) {
      let j = i;
      while (j < src.length && '=!<>'.includes(src[j])) j++;
      const op = src.slice(i, j);
      if (!OPS.has(op)) fail(`invalid operator '${op}' (use one of =, !=, <, >, <=, >=)`, pos);
      toks.push({ kind: 'op', text: op, pos });
      i = j;
    } else if (c === '"') {
      const q = readQuoted(src, i, offset);
      toks.push({ kind: 'str', text: q.text, pos });
      i = q.end;
    } else if (c === '%') {
      const r = readRegex(src, i, offset);
      toks.push({ kind: 're', text: src.slice(i, r.end), pos, re: r.re });
      i = r.end;
    } else if (c === '{' || c === '}') {
      fail(`unexpected '${c}'`, pos);
    } else {
      let j = i;
      while (j < src.length && !/\s/.test(src[j]) && !WORD_STOP.includes(src[j])) j++;
      toks.push({ kind: 'word', text: src.slice(i, j), pos });
      i = j;
    }
  }
  return toks;
}

// ---------------------------------------------------------------- expression parser

type Mode = 'json' | 'delimited';

class ExprParser {
  private i = 0;
  regexCount = 0;
  constructor(
    private readonly toks: Tok[],
    private readonly mode: Mode,
    private readonly endPos: number,
  ) {}

  peek(ahead = 0): Tok | undefined {
    return this.toks[this.i + ahead];
  }
  next(): Tok | undefined {
    return this.toks[this.i++];
  }
  atEnd(): boolean {
    return this.i >= this.toks.length;
  }
  posOf(t: Tok | undefined): number {
    return t ? t.pos : this.endPos;
  }
  describe(t: Tok | undefined): string {
    return t ? `'${t.text}'` : 'end of pattern';
  }

  parseOr(): Cond {
    let left = this.parseAnd();
    while (this.peek()?.kind === 'or') {
      this.i++;
      left = { type: 'or', left, right: this.parseAnd() };
    }
    return left;
  }

  parseAnd(): Cond {
    let left = this.parsePrimary();
    while (this.peek()?.kind === 'and') {
      this.i++;
      left = { type: 'and', left, right: this.parsePrimary() };
    }
    return left;
  }

  parsePrimary(): Cond {
    const t = this.next();
    if (t?.kind === 'lp') {
      const inner = this.parseOr();
      const close = this.next();
      if (close?.kind !== 'rp') fail(`expected ')' but found ${this.describe(close)}`, this.posOf(close));
      return inner;
    }
    if (t?.kind !== 'word') {
      const what = this.mode === 'json' ? 'a selector such as $.field' : 'a field name';
      return fail(`expected ${what} but found ${this.describe(t)}`, this.posOf(t));
    }
    const target = this.parseTarget(t);
    const opTok = this.next();
    if (opTok?.kind === 'word' && /^(IS|NOT)$/i.test(opTok.text)) {
      return { type: 'check', target, check: this.parseCheck(opTok) };
    }
    if (opTok?.kind !== 'op') {
      return fail(`expected a comparison operator after '${t.text}' but found ${this.describe(opTok)}`, this.posOf(opTok));
    }
    const op = opTok.text as CmpOp;
    const value = this.parseLiteral();
    if (op !== '=' && op !== '!=' && value.kind !== 'number') {
      fail(`operator '${op}' needs a numeric value`, opTok.pos);
    }
    return { type: 'cmp', target, op, value };
  }

  parseTarget(t: Tok): Target {
    if (this.mode === 'delimited') {
      if (!/^[A-Za-z0-9_-]+$/.test(t.text)) fail(`invalid field name '${t.text}'`, t.pos);
      return { kind: 'field', name: t.text };
    }
    return jsonSelector(t.text) ?? fail(`invalid JSON selector '${t.text}' (expected e.g. $.field, $.a.b or $.list[0])`, t.pos);
  }

  parseCheck(first: Tok): Check {
    if (this.mode !== 'json') fail(`'${first.text}' checks are only valid in JSON filter patterns`, first.pos);
    const second = this.next();
    const phrase = `${first.text} ${second?.kind === 'word' ? second.text : ''}`.toUpperCase().trim();
    const checks: Record<string, Check> = {
      'IS NULL': 'null',
      'IS TRUE': 'true',
      'IS FALSE': 'false',
      'NOT EXISTS': 'notExists',
    };
    if (!(phrase in checks)) fail(`expected IS NULL, IS TRUE, IS FALSE or NOT EXISTS, found '${phrase}'`, first.pos);
    return checks[phrase];
  }

  parseLiteral(): Literal {
    const t = this.next();
    if (t?.kind === 'str') return { kind: 'string', text: t.text };
    if (t?.kind === 're') {
      if (++this.regexCount > 2) fail('at most 2 regular expressions are allowed in one filter pattern', t.pos);
      return { kind: 'regex', re: t.re! };
    }
    if (t?.kind === 'word') {
      return NUMBER_RE.test(t.text) ? { kind: 'number', num: Number(t.text), text: t.text } : { kind: 'string', text: t.text };
    }
    return fail(`expected a value but found ${this.describe(t)}`, this.posOf(t));
  }
}

function parseCondition(body: string, offset: number, mode: Mode): Cond {
  const toks = lex(body, offset);
  if (toks.length === 0) fail('empty JSON filter pattern {}');
  const p = new ExprParser(toks, mode, offset + body.length);
  const cond = p.parseOr();
  if (!p.atEnd()) fail(`unexpected ${p.describe(p.peek())}`, p.posOf(p.peek()));
  return cond;
}

/** Space-delimited body: comma-separated fields; each is '...', a name, or conditions on one name. */
function parseFields(body: string, offset: number): Field[] {
  const toks = lex(body, offset);
  if (toks.length === 0) fail('empty space-delimited filter pattern []');
  const p = new ExprParser(toks, 'delimited', offset + body.length);
  const fields: Field[] = [];
  while (!p.atEnd()) {
    const t = p.peek()!;
    const isEllipsis = t.kind === 'word' && (t.text === '...' || t.text === '…');
    if (t.kind === 'word' && (p.peek(1) === undefined || p.peek(1)!.kind === 'comma')) {
      p.next();
      if (isEllipsis) fields.push({ kind: 'ellipsis' });
      else {
        p.parseTarget(t);
        fields.push({ kind: 'named', name: t.text });
      }
    } else {
      if (isEllipsis) fail(`'...' cannot have conditions`, t.pos);
      const cond = p.parseOr();
      const names = new Set(targetsOf(cond));
      if (names.size !== 1) {
        fail(`conditions in one field must all refer to the same field name (found ${[...names].join(', ')})`, t.pos);
      }
      fields.push({ kind: 'named', name: [...names][0], cond });
    }
    const sep = p.next();
    if (sep === undefined) break;
    if (sep.kind !== 'comma') fail(`expected ',' between fields but found '${sep.text}'`, sep.pos);
    if (p.atEnd()) break; // a single trailing comma is tolerated, as in the AWS docs
  }
  return fields;
}

function targetsOf(c: Cond): string[] {
  if (!('target' in c)) return [...targetsOf(c.left), ...targetsOf(c.right)];
  return [c.target.kind === 'field' ? c.target.name : c.target.text];
}

// ---------------------------------------------------------------- evaluation

const MISSING = Symbol('missing');

function parseJsonObject(message: string): object | undefined {
  const s = message.trim();
  if (!s.startsWith('{') && !s.startsWith('[')) return undefined;
  try {
    const doc: unknown = JSON.parse(s);
    return typeof doc === 'object' && doc !== null ? doc : undefined;
  } catch {
    return undefined;
  }
}

function resolveTarget(doc: object, t: Target): unknown {
  if (t.kind !== 'path') return MISSING;
  let cur: unknown = doc;
  for (const seg of t.segs) {
    if ('prop' in seg) {
      if (typeof cur !== 'object' || cur === null || Array.isArray(cur) || !Object.hasOwn(cur, seg.prop)) return MISSING;
      cur = (cur as Record<string, unknown>)[seg.prop];
    } else {
      if (!Array.isArray(cur) || seg.index >= cur.length) return MISSING;
      cur = cur[seg.index];
    }
  }
  return cur;
}

function evalCond(c: Cond, lookup: (t: Target) => unknown): boolean {
  switch (c.type) {
    case 'and':
      return evalCond(c.left, lookup) && evalCond(c.right, lookup);
    case 'or':
      return evalCond(c.left, lookup) || evalCond(c.right, lookup);
    case 'check': {
      const v = lookup(c.target);
      if (c.check === 'notExists') return v === MISSING;
      return c.check === 'null' ? v === null : v === (c.check === 'true');
    }
    case 'cmp':
      return compare(lookup(c.target), c.op, c.value);
  }
}

/** Only value nodes (string, number, boolean) can be compared; missing/null/objects/arrays never match. */
function compare(actual: unknown, op: CmpOp, lit: Literal): boolean {
  if (typeof actual !== 'string' && typeof actual !== 'number' && typeof actual !== 'boolean') return false;
  const str = String(actual);
  const num = typeof actual === 'number' ? actual : typeof actual === 'string' && NUMBER_RE.test(actual) ? Number(actual) : NaN;
  let equal: boolean;
  if (lit.kind === 'regex') equal = lit.re.test(str);
  else if (lit.kind === 'string') equal = wildcardEquals(str, lit.text);
  else {
    switch (op) {
      case '<':
        return num < lit.num;
      case '>':
        return num > lit.num;
      case '<=':
        return num <= lit.num;
      case '>=':
        return num >= lit.num;
    }
    equal = num === lit.num || str === lit.text;
  }
  return op === '!=' ? !equal : equal;
}

/** AWS wildcard rule: '*' only acts as a wildcard at the start and/or end of the value. */
function wildcardEquals(value: string, pattern: string): boolean {
  if (pattern === '*') return true;
  const lead = pattern.startsWith('*');
  const trail = pattern.endsWith('*');
  const core = pattern.slice(lead ? 1 : 0, trail ? -1 : undefined);
  if (lead && trail) return value.includes(core);
  if (lead) return value.endsWith(core);
  if (trail) return value.startsWith(core);
  return value === core;
}

/** Splits a message into fields; "..." and [...] groups form a single field (delimiters dropped). */
function splitFields(message: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < message.length) {
    if (/\s/.test(message[i])) {
      i++;
      continue;
    }
    const open = message[i];
    if (open === '"' || open === '[') {
      const end = message.indexOf(open === '"' ? '"' : ']', i + 1);
      if (end !== -1) {
        out.push(message.slice(i + 1, end));
        i = end + 1;
        continue;
      }
    }
    let j = i;
    while (j < message.length && !/\s/.test(message[j])) j++;
    out.push(message.slice(i, j));
    i = j;
  }
  return out;
}

/** Matches fields to values, backtracking over "..."; `bound` receives the named fields of the match. */
function matchFields(fields: Field[], values: string[], fi: number, vi: number, bound: Map<string, string>): boolean {
  if (fi === fields.length) return vi === values.length;
  const f = fields[fi];
  if (f.kind === 'ellipsis') {
    for (let k = vi; k <= values.length; k++) if (matchFields(fields, values, fi + 1, k, bound)) return true;
    return false;
  }
  if (vi >= values.length) return false;
  const value = values[vi];
  if (f.cond && !evalCond(f.cond, () => value)) return false;
  bound.set(f.name, value);
  if (matchFields(fields, values, fi + 1, vi + 1, bound)) return true;
  bound.delete(f.name);
  return false;
}
