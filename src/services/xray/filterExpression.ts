/**
 * X-Ray's filter expression language: a recursive-descent parser to an AST and an evaluator over a
 * settled trace's facts (trace.ts). No store, no context: unit-tested alone.
 *
 *   expr      := or
 *   or        := and (("OR" | "||") and)*
 *   and       := not (("AND" | "&&") not)*
 *   not       := ("NOT" | "!") not | primary
 *   primary   := "(" expr ")" | complex ["{" expr "}"] | keyword [op value]
 *   complex   := service "(" [string | id(...)] ")" | edge "(" string "," string ")" | id "(" name: string [, type: string] ")"
 *   keyword   := ok | error | fault | throttle | partial | inferred          (boolean; bare means "= true")
 *              | responsetime | duration | http.status                       (number: = != < <= > >=)
 *              | http.url | http.method | http.useragent | http.clientip | user (string: = != CONTAINS BEGINSWITH ENDSWITH)
 *              | annotation.KEY | annotation[KEY]                            (any; bare means "present")
 *              | group.name | group.arn                                      (the group's own expression)
 *
 * Keywords test the whole trace; inside service(...){…} and edge(...){…} they test each call into
 * that service (or across that edge), and the complex keyword matches when one call does.
 */
import type { AnnotationValue, CallFacts, TraceFacts } from './trace.js';

export class FilterExpressionError extends Error {}

type Op = '=' | '!=' | '<' | '<=' | '>' | '>=' | 'CONTAINS' | 'BEGINSWITH' | 'ENDSWITH';
type Value = string | number | boolean;

export type Node =
  | { kind: 'and' | 'or'; left: Node; right: Node }
  | { kind: 'not'; expr: Node }
  | { kind: 'cmp'; key: string; op?: Op; value?: Value }
  | { kind: 'service'; name?: string; type?: string; inner?: Node }
  | { kind: 'edge'; from: string; to: string; inner?: Node }
  | { kind: 'group'; by: 'name' | 'arn'; value: string; op: '=' | '!=' };

const BOOLEAN = new Set(['ok', 'error', 'fault', 'throttle', 'partial', 'inferred']);
const NUMBER = new Set(['responsetime', 'duration', 'http.status']);
const STRING = new Set(['http.url', 'http.method', 'http.useragent', 'http.clientip', 'user']);
const OPS: Op[] = ['<=', '>=', '!=', '=', '<', '>'];
const WORD_OPS = new Set(['CONTAINS', 'BEGINSWITH', 'ENDSWITH']);

interface Token {
  t: 'word' | 'string' | 'number' | 'punct';
  v: string;
  pos: number;
}

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const pos = i;
    if (c === '"' || c === "'") {
      let s = '';
      i++;
      while (i < src.length && src[i] !== c) {
        if (src[i] === '\\' && i + 1 < src.length) i++;
        s += src[i++];
      }
      if (i >= src.length) throw new FilterExpressionError(`Unterminated string at position ${pos}`);
      i++;
      out.push({ t: 'string', v: s, pos });
    } else if (/[0-9]/.test(c) || (c === '-' && /[0-9.]/.test(src[i + 1] ?? '')) || (c === '.' && /[0-9]/.test(src[i + 1] ?? ''))) {
      const m = /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?/.exec(src.slice(i))!;
      out.push({ t: 'number', v: m[0], pos });
      i += m[0].length;
    } else if (/[A-Za-z_@]/.test(c)) {
      const m = /^[A-Za-z_@][A-Za-z0-9_.@]*/.exec(src.slice(i))!;
      let v = m[0];
      // annotation[key]
      if (/^annotation$/i.test(v) && src[i + v.length] === '[') {
        const close = src.indexOf(']', i + v.length);
        if (close < 0) throw new FilterExpressionError(`Unterminated annotation key at position ${pos}`);
        v = `annotation.${src.slice(i + v.length + 1, close).replace(/^["']|["']$/g, '')}`;
        i = close + 1;
      } else i += v.length;
      out.push({ t: 'word', v, pos });
    } else {
      const two = src.slice(i, i + 2);
      if (['<=', '>=', '!=', '&&', '||'].includes(two)) {
        out.push({ t: 'punct', v: two, pos });
        i += 2;
      } else if ('=<>!(){},:'.includes(c)) {
        out.push({ t: 'punct', v: c, pos });
        i++;
      } else throw new FilterExpressionError(`Unexpected character '${c}' at position ${pos}`);
    }
  }
  return out;
}

class Parser {
  private i = 0;
  constructor(
    private toks: Token[],
    private src: string,
  ) {}

  private peek() {
    return this.toks[this.i];
  }
  private here() {
    return this.peek()?.pos ?? this.src.length;
  }
  private fail(what: string): never {
    const t = this.peek();
    throw new FilterExpressionError(`${what} at position ${this.here()}${t ? ` (found '${t.v}')` : ' (end of expression)'}`);
  }
  private isWord(w: string) {
    const t = this.peek();
    return t?.t === 'word' && t.v.toUpperCase() === w;
  }
  private isPunct(p: string) {
    const t = this.peek();
    return t?.t === 'punct' && t.v === p;
  }
  private expect(p: string) {
    if (!this.isPunct(p)) this.fail(`Expected '${p}'`);
    this.i++;
  }
  private string(): string {
    const t = this.peek();
    if (t?.t !== 'string') this.fail('Expected a quoted string');
    this.i++;
    return t.v;
  }

  parse(): Node {
    if (this.toks.length === 0) throw new FilterExpressionError('Empty filter expression');
    const n = this.or();
    if (this.i < this.toks.length) this.fail('Unexpected token');
    return n;
  }

  private or(): Node {
    let left = this.and();
    while (this.isWord('OR') || this.isPunct('||')) {
      this.i++;
      left = { kind: 'or', left, right: this.and() };
    }
    return left;
  }

  private and(): Node {
    let left = this.not();
    while (this.isWord('AND') || this.isPunct('&&')) {
      this.i++;
      left = { kind: 'and', left, right: this.not() };
    }
    return left;
  }

  private not(): Node {
    if (this.isWord('NOT') || this.isPunct('!')) {
      this.i++;
      return { kind: 'not', expr: this.not() };
    }
    return this.primary();
  }

  private inner(): Node | undefined {
    if (!this.isPunct('{')) return undefined;
    this.i++;
    const n = this.or();
    this.expect('}');
    return n;
  }

  private idArgs(): { name?: string; type?: string } {
    this.expect('(');
    const out: { name?: string; type?: string } = {};
    while (!this.isPunct(')')) {
      const t = this.peek();
      if (t?.t !== 'word' || !['name', 'type'].includes(t.v.toLowerCase())) this.fail("Expected 'name' or 'type'");
      this.i++;
      this.expect(':');
      out[t.v.toLowerCase() as 'name' | 'type'] = this.string();
      if (this.isPunct(',')) this.i++;
    }
    this.i++;
    return out;
  }

  private primary(): Node {
    if (this.isPunct('(')) {
      this.i++;
      const n = this.or();
      this.expect(')');
      return n;
    }
    const t = this.peek();
    if (t?.t !== 'word') this.fail('Expected a keyword');
    const word = t.v.toLowerCase();
    this.i++;
    if (word === 'service') {
      this.expect('(');
      let name: string | undefined;
      let type: string | undefined;
      if (this.isWord('ID')) {
        this.i++;
        ({ name, type } = this.idArgs());
      } else if (!this.isPunct(')')) name = this.string();
      this.expect(')');
      return { kind: 'service', name, type, inner: this.inner() };
    }
    if (word === 'id') {
      const { name, type } = this.idArgs();
      return { kind: 'service', name, type, inner: this.inner() };
    }
    if (word === 'edge') {
      this.expect('(');
      const from = this.string();
      this.expect(',');
      const to = this.string();
      this.expect(')');
      return { kind: 'edge', from, to, inner: this.inner() };
    }
    if (word === 'group.name' || word === 'group.arn') {
      const op = this.peek();
      if (!(op?.t === 'punct' && (op.v === '=' || op.v === '!='))) this.fail("Expected '=' or '!='");
      this.i++;
      return { kind: 'group', by: word === 'group.name' ? 'name' : 'arn', op: op.v as '=' | '!=', value: this.string() };
    }
    const key = word.startsWith('annotation.') ? `annotation.${t.v.slice('annotation.'.length)}` : word;
    const isAnnotation = key.startsWith('annotation.');
    if (!isAnnotation && !BOOLEAN.has(key) && !NUMBER.has(key) && !STRING.has(key)) {
      this.i--;
      this.fail(`Unknown keyword '${t.v}'`);
    }
    const op = this.op();
    if (!op) {
      if (NUMBER.has(key) || STRING.has(key)) this.fail(`Expected an operator after '${t.v}'`);
      return { kind: 'cmp', key };
    }
    const v = this.peek();
    let value: Value;
    if (v?.t === 'string') value = v.v;
    else if (v?.t === 'number') value = Number(v.v);
    else if (v?.t === 'word' && /^(true|false)$/i.test(v.v)) value = v.v.toLowerCase() === 'true';
    else this.fail('Expected a value');
    this.i++;
    if (BOOLEAN.has(key) && (typeof value !== 'boolean' || (op !== '=' && op !== '!=')))
      this.fail(`'${t.v}' compares with = or != to true or false`);
    if (NUMBER.has(key) && (typeof value !== 'number' || WORD_OPS.has(op))) this.fail(`'${t.v}' compares with a number`);
    if (STRING.has(key) && (typeof value !== 'string' || ['<', '<=', '>', '>='].includes(op))) this.fail(`'${t.v}' compares with a string`);
    return { kind: 'cmp', key, op, value };
  }

  private op(): Op | undefined {
    const t = this.peek();
    if (t?.t === 'punct' && (OPS as string[]).includes(t.v)) {
      this.i++;
      return t.v as Op;
    }
    if (t?.t === 'word' && WORD_OPS.has(t.v.toUpperCase())) {
      this.i++;
      return t.v.toUpperCase() as Op;
    }
    return undefined;
  }
}

export function parseFilterExpression(src: string): Node {
  return new Parser(tokenize(src), src).parse();
}

function compare(actual: Value | undefined, op: Op | undefined, expected: Value | undefined): boolean {
  if (op === undefined) return actual !== undefined && actual !== false;
  if (actual === undefined) return op === '!=';
  if (typeof actual !== typeof expected) return op === '!=';
  switch (op) {
    case '=':
      return actual === expected;
    case '!=':
      return actual !== expected;
    case '<':
      return actual < expected!;
    case '<=':
      return actual <= expected!;
    case '>':
      return actual > expected!;
    case '>=':
      return actual >= expected!;
    case 'CONTAINS':
      return String(actual).includes(String(expected));
    case 'BEGINSWITH':
      return String(actual).startsWith(String(expected));
    case 'ENDSWITH':
      return String(actual).endsWith(String(expected));
  }
}

/** A keyword's values in a trace (several for annotations and users) or in one call. */
function valuesIn(key: string, trace: TraceFacts, call: CallFacts | undefined): (Value | undefined)[] {
  if (key.startsWith('annotation.')) {
    const k = key.slice('annotation.'.length);
    if (call) return call.ann && k in call.ann ? [call.ann[k] as AnnotationValue] : [undefined];
    const list = trace.ann[k];
    return list ? list.map((e) => e[0]) : [undefined];
  }
  const subject = call ?? trace;
  switch (key) {
    case 'ok':
      return [!subject.error && !subject.fault && !subject.throttle];
    case 'error':
      return [!!subject.error];
    case 'fault':
      return [!!subject.fault];
    case 'throttle':
      return [!!subject.throttle];
    case 'partial':
      return [!!subject.partial];
    case 'inferred':
      return [call ? call.type === 'remote' || call.type.startsWith('AWS::') : trace.calls.some((c) => c.type === 'remote')];
    case 'responsetime':
      return [call ? call.rt : trace.rt];
    case 'duration':
      return [call ? call.rt : trace.duration];
    case 'http.status':
      return [call ? call.status : trace.http?.status];
    case 'http.url':
      return [call ? call.url : trace.http?.url];
    case 'http.method':
      return [call ? call.method : trace.http?.method];
    case 'http.useragent':
      return [trace.http?.useragent];
    case 'http.clientip':
      return [trace.http?.clientip];
    case 'user':
      return trace.users.length ? trace.users : [undefined];
  }
  return [undefined];
}

/** Resolves group.name / group.arn to the group's own expression ('all': a group without one; undefined: no such group). */
export type GroupLookup = (by: 'name' | 'arn', value: string) => Node | 'all' | undefined;

export function evaluate(n: Node, trace: TraceFacts, groups?: GroupLookup, call?: CallFacts): boolean {
  switch (n.kind) {
    case 'and':
      return evaluate(n.left, trace, groups, call) && evaluate(n.right, trace, groups, call);
    case 'or':
      return evaluate(n.left, trace, groups, call) || evaluate(n.right, trace, groups, call);
    case 'not':
      return !evaluate(n.expr, trace, groups, call);
    case 'cmp':
      return valuesIn(n.key, trace, call).some((v) => compare(v, n.op, n.value));
    case 'service':
      return trace.calls.some(
        (c) =>
          (n.name === undefined || c.name === n.name) &&
          (n.type === undefined || c.type === n.type) &&
          (!n.inner || evaluate(n.inner, trace, groups, c)),
      );
    case 'edge':
      return trace.edges.some((e) => e.from === n.from && e.name === n.to && (!n.inner || evaluate(n.inner, trace, groups, e)));
    case 'group': {
      const g = groups?.(n.by, n.value);
      const hit = g === undefined ? false : g === 'all' ? true : evaluate(g, trace, undefined);
      return n.op === '=' ? hit : !hit;
    }
  }
}

/** A service every matching trace must contain (the index can narrow by it), if the expression says one. */
export function requiredService(n: Node): string | undefined {
  if (n.kind === 'service') return n.name;
  if (n.kind === 'edge') return n.to;
  if (n.kind === 'and') return requiredService(n.left) ?? requiredService(n.right);
  return undefined;
}

/** Compiles an expression into a trace predicate; throws FilterExpressionError with the position. */
export function compileFilterExpression(
  src: string,
  groups?: GroupLookup,
): { test: (t: TraceFacts) => boolean; service?: string; ast: Node } {
  const ast = parseFilterExpression(src);
  return { test: (t) => evaluate(ast, t, groups), service: requiredService(ast), ast };
}
