/**
 * The CloudWatch Logs Insights query language, parsed by recursive descent into commands and
 * expressions (evaluate.ts runs them). A query is commands separated by "|":
 *
 *   fields e [as a], …        display f, …        filter e        stats agg(e) [as a], … [by e [as a], …]
 *   sort e [asc|desc], …      limit n             dedup f, …      unmask f
 *   parse f "glob with * captures" as a, b        parse f /regex with (?<name>captures)/
 *
 * Expressions: literals ('s', "s", 1.5, durations 5m / 1h for bin()), fields (@timestamp,
 * a.b.c, `any name`), arithmetic + - * / % ^, comparisons = != < <= > >=, like "substring" or
 * like /regex/, =~ /regex/, in [..], not, and, or, and function calls. A malformed query throws
 * QuerySyntaxError with the character offsets AWS's MalformedQueryException carries.
 */

export class QuerySyntaxError extends Error {
  constructor(
    message: string,
    readonly start: number,
    readonly end: number,
  ) {
    super(message);
  }
}

export type Expr =
  | { k: 'lit'; v: string | number }
  | { k: 'field'; name: string }
  | { k: 'star' }
  | { k: 'regex'; re: RegExp }
  | { k: 'call'; fn: string; args: Expr[] }
  | { k: 'bin'; op: string; l: Expr; r: Expr }
  | { k: 'not'; e: Expr }
  | { k: 'neg'; e: Expr }
  | { k: 'in'; e: Expr; list: Expr[]; not: boolean }
  | { k: 'like'; e: Expr; pattern: Expr; not: boolean };

export interface Item {
  e: Expr;
  as: string;
}

export type Command =
  | { c: 'fields' | 'display'; items: Item[] }
  | { c: 'filter'; e: Expr }
  | { c: 'stats'; aggs: Item[]; by: Item[] }
  | { c: 'sort'; keys: { e: Expr; name: string; desc: boolean }[] }
  | { c: 'limit'; n: number }
  | { c: 'parse'; field: Expr; glob?: string[]; names: string[]; regex?: RegExp }
  | { c: 'dedup'; fields: string[] }
  | { c: 'unmask'; field: string };

const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  sec: 1000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
  hr: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
  mo: 30 * 86_400_000,
  q: 90 * 86_400_000,
  y: 365 * 86_400_000,
};

const COMMANDS = new Set(['fields', 'display', 'filter', 'stats', 'sort', 'limit', 'parse', 'dedup', 'unmask']);

class Parser {
  i = 0;
  constructor(readonly src: string) {}

  private ws() {
    while (this.i < this.src.length) {
      const c = this.src[this.i];
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r') this.i++;
      else if (c === '#') {
        // a comment to the end of the line
        while (this.i < this.src.length && this.src[this.i] !== '\n') this.i++;
      } else break;
    }
  }

  fail(what?: string): never {
    this.ws();
    const start = this.i;
    const m = /^(\S+)/.exec(this.src.slice(this.i));
    const sym = m ? m[1] : '<EOF>';
    const before = this.src.slice(0, start);
    const line = before.split('\n').length;
    const col = start - before.lastIndexOf('\n') - 1;
    throw new QuerySyntaxError(
      `${what ? what + ': ' : ''}unexpected symbol found ${sym} at line ${line} and position ${col}`,
      start,
      start + (m ? m[1].length - 1 : 0),
    );
  }

  private peekWord(): string | undefined {
    this.ws();
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.src.slice(this.i));
    return m?.[0].toLowerCase();
  }

  private word(w: string): boolean {
    if (this.peekWord() !== w) return false;
    const next = this.src[this.i + w.length];
    if (next !== undefined && /[A-Za-z0-9_.@]/.test(next)) return false;
    this.i += w.length;
    return true;
  }

  private punct(p: string): boolean {
    this.ws();
    if (!this.src.startsWith(p, this.i)) return false;
    this.i += p.length;
    return true;
  }

  private expect(p: string) {
    if (!this.punct(p)) this.fail(`expected '${p}'`);
  }

  atEnd() {
    this.ws();
    return this.i >= this.src.length;
  }

  query(): Command[] {
    const out: Command[] = [];
    do {
      if (this.atEnd()) this.fail('expected a command');
      out.push(this.command());
    } while (this.punct('|'));
    if (!this.atEnd()) this.fail();
    return out;
  }

  private command(): Command {
    const w = this.peekWord();
    if (!w || !COMMANDS.has(w)) this.fail();
    this.i += w.length;
    switch (w) {
      case 'fields':
      case 'display':
        return { c: w, items: this.items() };
      case 'filter':
        return { c: 'filter', e: this.expr() };
      case 'stats': {
        const aggs = this.items();
        const by = this.word('by') ? this.items() : [];
        return { c: 'stats', aggs, by };
      }
      case 'sort': {
        const keys = [];
        do {
          this.ws();
          const start = this.i;
          const e = this.expr();
          const name = nameOf(e, this.src.slice(start, this.i).trim());
          const desc = this.word('desc') ? true : (this.word('asc'), false);
          keys.push({ e, name, desc });
        } while (this.punct(','));
        return { c: 'sort', keys };
      }
      case 'limit': {
        this.ws();
        const m = /^\d+/.exec(this.src.slice(this.i));
        if (!m) this.fail('limit takes a number');
        this.i += m[0].length;
        const n = Number(m[0]);
        if (n < 1 || n > 10000) throw new QuerySyntaxError('limit must be between 1 and 10000', this.i - m[0].length, this.i - 1);
        return { c: 'limit', n };
      }
      case 'dedup': {
        const fields = [];
        do fields.push(this.fieldName());
        while (this.punct(','));
        return { c: 'dedup', fields };
      }
      case 'unmask':
        return { c: 'unmask', field: this.fieldName() };
      default:
        return this.parse();
    }
  }

  private parse(): Command {
    const field = this.primary();
    this.ws();
    if (this.src[this.i] === '/') {
      const re = this.regex();
      const names = [...re.source.matchAll(/\(\?<([A-Za-z_][A-Za-z0-9_]*)>/g)].map((m) => m[1]);
      if (names.length === 0) this.fail('a parse regex needs named captures (?<name>…)');
      return { c: 'parse', field, regex: re, names };
    }
    const pattern = this.primary();
    if (pattern.k !== 'lit' || typeof pattern.v !== 'string') this.fail('parse takes a glob string or a /regex/');
    const glob = pattern.v.split('*');
    if (!this.word('as')) this.fail("expected 'as'");
    const names = [];
    do names.push(this.fieldName());
    while (this.punct(','));
    if (names.length !== glob.length - 1) this.fail(`the glob has ${glob.length - 1} wildcards for ${names.length} fields`);
    return { c: 'parse', field, glob, names };
  }

  private items(): Item[] {
    const out: Item[] = [];
    do {
      this.ws();
      const start = this.i;
      const e = this.expr();
      const as = this.word('as') ? this.fieldName() : nameOf(e, this.src.slice(start, this.i).trim());
      out.push({ e, as });
    } while (this.punct(','));
    return out;
  }

  fieldName(): string {
    this.ws();
    if (this.src[this.i] === '`') {
      const end = this.src.indexOf('`', this.i + 1);
      if (end < 0) this.fail('unterminated `');
      const name = this.src.slice(this.i + 1, end);
      this.i = end + 1;
      return name;
    }
    const m = /^[A-Za-z_@$][A-Za-z0-9_.@$-]*/.exec(this.src.slice(this.i));
    if (!m) this.fail('expected a field name');
    this.i += m[0].length;
    return m[0];
  }

  private regex(): RegExp {
    this.ws();
    const start = this.i;
    let j = this.i + 1;
    let body = '';
    while (j < this.src.length && this.src[j] !== '/') {
      if (this.src[j] === '\\' && j + 1 < this.src.length) {
        body += this.src[j] + this.src[j + 1];
        j += 2;
      } else body += this.src[j++];
    }
    if (j >= this.src.length) throw new QuerySyntaxError('unterminated regular expression', start, this.src.length - 1);
    const flags = /^[a-z]*/.exec(this.src.slice(j + 1))![0];
    this.i = j + 1 + flags.length;
    try {
      return new RegExp(body.replace(/\(\?i\)/g, ''), flags.replace(/[^imsu]/g, '') + (body.includes('(?i)') ? 'i' : ''));
    } catch (e) {
      throw new QuerySyntaxError(`invalid regular expression: ${(e as Error).message}`, start, this.i - 1);
    }
  }

  expr(): Expr {
    let l = this.and();
    while (this.word('or')) l = { k: 'bin', op: 'or', l, r: this.and() };
    return l;
  }

  private and(): Expr {
    let l = this.not();
    while (this.word('and')) l = { k: 'bin', op: 'and', l, r: this.not() };
    return l;
  }

  private not(): Expr {
    if (this.word('not')) return { k: 'not', e: this.not() };
    this.ws();
    if (this.src[this.i] === '!' && this.src[this.i + 1] !== '=') {
      this.i++;
      return { k: 'not', e: this.not() };
    }
    return this.comparison();
  }

  private comparison(): Expr {
    const l = this.additive();
    for (const op of ['=~', '!=', '<=', '>=', '==', '=', '<', '>']) {
      if (this.punct(op)) {
        if (op === '=~') return { k: 'like', e: l, pattern: { k: 'regex', re: this.regex() }, not: false };
        return { k: 'bin', op: op === '==' ? '=' : op, l, r: this.additive() };
      }
    }
    const save = this.i;
    const negated = this.word('not');
    if (this.word('like')) {
      this.ws();
      const pattern: Expr = this.src[this.i] === '/' ? { k: 'regex', re: this.regex() } : this.additive();
      return { k: 'like', e: l, pattern, not: negated };
    }
    if (this.word('in')) {
      this.expect('[');
      const list: Expr[] = [];
      if (!this.punct(']')) {
        do list.push(this.additive());
        while (this.punct(','));
        this.expect(']');
      }
      return { k: 'in', e: l, list, not: negated };
    }
    this.i = save;
    return l;
  }

  private additive(): Expr {
    let l = this.multiplicative();
    for (;;) {
      if (this.punct('+')) l = { k: 'bin', op: '+', l, r: this.multiplicative() };
      else if (this.punct('-')) l = { k: 'bin', op: '-', l, r: this.multiplicative() };
      else return l;
    }
  }

  private multiplicative(): Expr {
    let l = this.unary();
    for (;;) {
      this.ws();
      const c = this.src[this.i];
      if (c === '*' || c === '/' || c === '%') {
        this.i++;
        l = { k: 'bin', op: c, l, r: this.unary() };
      } else return l;
    }
  }

  private unary(): Expr {
    if (this.punct('-')) return { k: 'neg', e: this.unary() };
    const base = this.primary();
    if (this.punct('^')) return { k: 'bin', op: '^', l: base, r: this.unary() };
    return base;
  }

  primary(): Expr {
    this.ws();
    const c = this.src[this.i];
    if (c === undefined) this.fail('expected an expression');
    if (c === '(') {
      this.i++;
      const e = this.expr();
      this.expect(')');
      return e;
    }
    if (c === "'" || c === '"') {
      let j = this.i + 1;
      let s = '';
      while (j < this.src.length && this.src[j] !== c) {
        if (this.src[j] === '\\' && j + 1 < this.src.length) j++;
        s += this.src[j++];
      }
      if (j >= this.src.length) throw new QuerySyntaxError('unterminated string', this.i, this.src.length - 1);
      this.i = j + 1;
      return { k: 'lit', v: s };
    }
    if (c === '*') {
      this.i++;
      return { k: 'star' };
    }
    if (c === '/') return { k: 'regex', re: this.regex() };
    const num = /^(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?([a-z]+)?/.exec(this.src.slice(this.i));
    if (num) {
      if (num[3] !== undefined && !(num[3] in UNITS)) this.fail('unknown time unit');
      this.i += num[0].length;
      return { k: 'lit', v: Number(num[1] + (num[2] ?? '')) * (num[3] ? UNITS[num[3]] : 1) };
    }
    const name = this.fieldName();
    if (this.punct('(')) {
      const args: Expr[] = [];
      if (!this.punct(')')) {
        do args.push(this.expr());
        while (this.punct(','));
        this.expect(')');
      }
      return { k: 'call', fn: name.toLowerCase(), args };
    }
    return { k: 'field', name };
  }
}

/** The result column a bare expression gets: a field's own name, otherwise the expression's text. */
function nameOf(e: Expr, text: string): string {
  return e.k === 'field' ? e.name : text;
}

export function parseQuery(src: string): Command[] {
  return new Parser(src).query();
}
