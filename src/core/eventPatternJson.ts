/**
 * Reading an event pattern's JSON as EventBridge does: Event Ruler's JsonRuleCompiler pulls tokens
 * from a Jackson (jackson-core 2.x) streaming parser, so
 *
 *  - a syntax error reads as Jackson words it, with Jackson's location: "Unexpected character ('\'
 *    (code 92)): was expecting double-quote to start field name\n at [Source: (String)"…"; line: 1,
 *    column: 3]" (the form AWS answers in InvalidEventPatternException);
 *  - the text ends where the root value ends: what follows it is never read;
 *  - a root that is not an object is "Filter is not an object" as soon as its first token is read.
 *
 * readPatternJson only finds the end of the root object or the first syntax error; JSON.parse then
 * reads the object itself.
 */

export class PatternJsonError extends Error {}

/** What readPatternJson found: the root object ends before `end`, or the root is not an object. */
export type PatternJsonRead = { kind: 'object'; end: number } | { kind: 'not-object' };

const VALID_TOKENS = "(JSON String, Number, Array, Object or token 'null', 'true' or 'false')";
const MAX_ERROR_TOKEN_LENGTH = 256;
const MAX_SOURCE_CHARS = 500;

/** Character.isJavaIdentifierStart / isJavaIdentifierPart, near enough. */
const identStart = (c: string) => /[\p{L}\p{Nl}\p{Sc}\p{Pc}]/u.test(c);
const identPart = (c: string) => /[\p{L}\p{Nl}\p{Sc}\p{Pc}\p{Nd}\p{Mn}\p{Mc}]/u.test(c);

interface Scope {
  type: 'Object' | 'Array';
  line: number;
  column: number;
}

export function readPatternJson(text: string): PatternJsonRead {
  return new Reader(text).root();
}

class Reader {
  private i = 0;
  private line = 1;
  private rowStart = 0;
  private scopes: Scope[] = [];

  constructor(private readonly text: string) {}

  root(): PatternJsonRead {
    const c = this.skipWs();
    if (c === undefined) return { kind: 'not-object' };
    if (c === '{') {
      this.i++;
      this.object();
      return { kind: 'object', end: this.i };
    }
    // Jackson hands over the first token before Ruler looks at it: strings and arrays are not read
    // further; numbers and true/false/null are, and can fail first.
    if (c === '[' || c === '"') return { kind: 'not-object' };
    this.i++;
    this.scalar(c);
    // a number at the root must be followed by white space (or the end)
    const after = this.text[this.i];
    if ((c === '-' || (c >= '0' && c <= '9')) && after !== undefined && !' \t\r\n'.includes(after)) {
      this.i++;
      this.unexpected(after, 'Expected space separating root-level values');
    }
    return { kind: 'not-object' };
  }

  // locations

  private source(): string {
    const t = this.text;
    const shown = t.length > MAX_SOURCE_CHARS ? t.slice(0, MAX_SOURCE_CHARS) : t;
    return `(String)"${shown}"${t.length > MAX_SOURCE_CHARS ? `[truncated ${t.length - MAX_SOURCE_CHARS} chars]` : ''}`;
  }

  private location(line = this.line, column = this.i - this.rowStart + 1): string {
    return `[Source: ${this.source()}; line: ${line}, column: ${column}]`;
  }

  private fail(message: string): never {
    throw new PatternJsonError(`${message}\n at ${this.location()}`);
  }

  private static charDesc(c: string): string {
    const code = c.codePointAt(0)!;
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) return `(CTRL-CHAR, code ${code})`;
    if (code > 255) return `'${c}' (code ${code} / 0x${code.toString(16)})`;
    return `'${c}' (code ${code})`;
  }

  /** The character at i was read (and consumed): Jackson's "Unexpected character (…): <comment>". */
  private unexpected(c: string, comment: string): never {
    this.fail(`Unexpected character (${Reader.charDesc(c)}): ${comment}`);
  }

  private eof(message: string): never {
    this.fail(`Unexpected end-of-input${message}`);
  }

  private eofInScope(): never {
    const s = this.scopes[this.scopes.length - 1]!;
    this.eof(`: expected close marker for ${s.type} (start marker at ${this.location(s.line, s.column)})`);
  }

  // whitespace

  /** Skips Jackson's whitespace (space, \t, \n, \r; lines counted); the next character, unread, or undefined at the end. */
  private skipWs(): string | undefined {
    const t = this.text;
    while (this.i < t.length) {
      const c = t[this.i]!;
      if (c > ' ') return c;
      this.i++;
      if (c === '\n') {
        this.line++;
        this.rowStart = this.i;
      } else if (c === '\r') {
        if (t[this.i] === '\n') this.i++;
        this.line++;
        this.rowStart = this.i;
      } else if (c !== ' ' && c !== '\t')
        this.fail(`Illegal character (${Reader.charDesc(c)}): only regular white space (\\r, \\n, \\t) is allowed between tokens`);
    }
    return undefined;
  }

  /** Reads the next character after whitespace, or undefined at the end. */
  private next(): string | undefined {
    const c = this.skipWs();
    if (c !== undefined) this.i++;
    return c;
  }

  // values

  private open(type: Scope['type']) {
    // the '{' or '[' was just read: its column is where the scope starts
    this.scopes.push({ type, line: this.line, column: this.i - this.rowStart });
  }

  private object() {
    this.open('Object');
    let c = this.next();
    if (c === undefined) this.eofInScope();
    if (c === '}') return void this.scopes.pop();
    for (;;) {
      if (c !== '"') this.unexpected(c!, 'was expecting double-quote to start field name');
      this.string('name');
      c = this.next();
      if (c === undefined) this.eof(' within/between Object entries');
      if (c !== ':') this.unexpected(c, 'was expecting a colon to separate field name and value');
      c = this.next();
      if (c === undefined) this.eof(' within/between Object entries');
      this.value(c);
      c = this.next();
      if (c === undefined) this.eofInScope();
      if (c === '}') return void this.scopes.pop();
      if (c !== ',') this.unexpected(c, 'was expecting comma to separate Object entries');
      c = this.next();
      if (c === undefined) this.eof(' within/between Object entries');
    }
  }

  private array() {
    this.open('Array');
    let c = this.next();
    if (c === undefined) this.eofInScope();
    if (c === ']') return void this.scopes.pop();
    for (;;) {
      this.value(c!);
      c = this.next();
      if (c === undefined) this.eofInScope();
      if (c === ']') return void this.scopes.pop();
      if (c !== ',') this.unexpected(c, 'was expecting comma to separate Array entries');
      c = this.next();
      if (c === undefined) this.eof(' within/between Array entries');
    }
  }

  /** A value whose first character `c` was just read. */
  private value(c: string) {
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"') return this.string('string value');
    if (c === '}') this.unexpected(c, 'expected a value');
    this.scalar(c);
  }

  /** A number or true/false/null (or the error for anything else) whose first character `c` was just read. */
  private scalar(c: string) {
    if (c === 't' || c === 'f' || c === 'n') return this.token(c === 't' ? 'true' : c === 'f' ? 'false' : 'null');
    if (c === '-' || (c >= '0' && c <= '9')) return this.number(c);
    for (const word of ['NaN', 'Infinity'])
      if (c === word[0] && this.text.startsWith(word.slice(1), this.i) && !identPart(this.text[this.i + word.length - 1] ?? ' ')) {
        this.i += word.length - 1;
        this.fail(`Non-standard token '${word}': enable JsonParser.Feature.ALLOW_NON_NUMERIC_NUMBERS to allow`);
      }
    if (identStart(c)) this.invalidToken(c);
    this.unexpected(c, `expected a valid value ${VALID_TOKENS}`);
  }

  /** "Unrecognized token 'xyz'": the part matched so far, then the identifier characters after it. */
  private invalidToken(matched: string): never {
    let token = matched;
    const t = this.text;
    while (this.i < t.length && identPart(t[this.i]!)) {
      token += t[this.i++];
      if (token.length >= MAX_ERROR_TOKEN_LENGTH) {
        token += '...';
        break;
      }
    }
    this.fail(`Unrecognized token '${token}': was expecting ${VALID_TOKENS}`);
  }

  private token(word: string) {
    const t = this.text;
    for (let k = 1; k < word.length; k++) {
      if (t[this.i] !== word[k]) this.invalidToken(word.slice(0, k));
      this.i++;
    }
    const after = t[this.i];
    if (after !== undefined && after >= '0' && after !== ']' && after !== '}' && identPart(after)) this.invalidToken(word);
  }

  private numberChar(c: string | undefined, comment: string): never {
    if (c === undefined) this.eof(' in a Number value');
    this.i++;
    this.fail(`Unexpected character (${Reader.charDesc(c)}) in numeric value: ${comment}`);
  }

  private digits(): number {
    const t = this.text;
    const from = this.i;
    while (this.i < t.length && t[this.i]! >= '0' && t[this.i]! <= '9') this.i++;
    return this.i - from;
  }

  /** A number whose first character `c` (a digit or '-') was just read. */
  private number(c: string) {
    const t = this.text;
    let first = c;
    if (c === '-') {
      const d = t[this.i];
      if (d === undefined || d < '0' || d > '9') this.numberChar(d, 'expected digit (0-9) to follow minus sign, for valid numeric value');
      first = d;
      this.i++;
    }
    if (first === '0') {
      const d = t[this.i];
      if (d !== undefined && d >= '0' && d <= '9') this.fail('Invalid numeric value: Leading zeroes not allowed');
    } else this.digits();
    if (t[this.i] === '.') {
      this.i++;
      if (this.digits() === 0) this.numberChar(t[this.i], 'Decimal point not followed by a digit');
    }
    if (t[this.i] === 'e' || t[this.i] === 'E') {
      this.i++;
      if (t[this.i] === '+' || t[this.i] === '-') this.i++;
      if (this.digits() === 0) this.numberChar(t[this.i], 'Exponent indicator not followed by a digit');
    }
  }

  /** A string whose opening quote was just read; `what` is "name" or "string value". */
  private string(what: 'name' | 'string value') {
    const t = this.text;
    for (;;) {
      if (this.i >= t.length) this.eof(what === 'name' ? ' in field name' : ': was expecting closing quote for a string value');
      const c = t[this.i++]!;
      if (c === '"') return;
      if (c === '\\') this.escape();
      else if (c < ' ')
        this.fail(`Illegal unquoted character (${Reader.charDesc(c)}): has to be escaped using backslash to be included in ${what}`);
    }
  }

  private escape() {
    const t = this.text;
    if (this.i >= t.length) this.eof(' in character escape sequence');
    const c = t[this.i++]!;
    if ('"\\/bfnrt'.includes(c)) return;
    if (c !== 'u') this.fail(`Unrecognized character escape ${Reader.charDesc(c)}`);
    for (let k = 0; k < 4; k++) {
      if (this.i >= t.length) this.eof(' in character escape sequence');
      const h = t[this.i++]!;
      if (!/[0-9A-Fa-f]/.test(h)) this.unexpected(h, 'expected a hex-digit for character escape sequence');
    }
  }
}
