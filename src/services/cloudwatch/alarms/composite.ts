/**
 * The AlarmRule language of composite alarms: ALARM("name"), OK(name), INSUFFICIENT_DATA(arn),
 * TRUE, FALSE, AND, OR, NOT and parentheses (NOT binds tightest, then AND, then OR). An argument is
 * an alarm name or ARN, quoted or not.
 */
export type Rule =
  | { k: 'state'; state: 'ALARM' | 'OK' | 'INSUFFICIENT_DATA'; alarm: string }
  | { k: 'const'; v: boolean }
  | { k: 'not'; a: Rule }
  | { k: 'and' | 'or'; a: Rule; b: Rule };

export class RuleError extends Error {}

const TOKEN = /\s*(?:(\()|(\))|"((?:[^"\\]|\\.)*)"|([^\s()"]+))/y;

export function parseRule(src: string): Rule {
  const toks: string[] = [];
  const quoted: boolean[] = [];
  let pos = 0;
  while (pos < src.length && !/^\s*$/.test(src.slice(pos))) {
    TOKEN.lastIndex = pos;
    const m = TOKEN.exec(src);
    if (!m) throw new RuleError(`Syntax error at position ${pos}`);
    pos = TOKEN.lastIndex;
    toks.push(m[1] ?? m[2] ?? m[3] ?? m[4]);
    quoted.push(m[3] !== undefined);
  }
  let i = 0;
  const word = (w: string) => !quoted[i] && toks[i]?.toUpperCase() === w;
  function or(): Rule {
    let a = and();
    while (word('OR')) {
      i++;
      a = { k: 'or', a, b: and() };
    }
    return a;
  }
  function and(): Rule {
    let a = not();
    while (word('AND')) {
      i++;
      a = { k: 'and', a, b: not() };
    }
    return a;
  }
  function not(): Rule {
    if (word('NOT')) return (i++, { k: 'not', a: not() });
    return atom();
  }
  function atom(): Rule {
    const t = toks[i];
    if (t === undefined) throw new RuleError('Unexpected end of alarm rule');
    if (t === '(' && !quoted[i]) {
      i++;
      const r = or();
      if (toks[i] !== ')') throw new RuleError("Expected ')'");
      i++;
      return r;
    }
    const up = t.toUpperCase();
    if (!quoted[i] && (up === 'TRUE' || up === 'FALSE')) return (i++, { k: 'const', v: up === 'TRUE' });
    if (!quoted[i] && (up === 'ALARM' || up === 'OK' || up === 'INSUFFICIENT_DATA') && toks[i + 1] === '(') {
      const alarm = toks[i + 2];
      if (alarm === undefined || toks[i + 3] !== ')') throw new RuleError(`Expected an alarm name in ${up}(…)`);
      i += 4;
      return { k: 'state', state: up as 'ALARM', alarm };
    }
    throw new RuleError(`Unexpected token ${t}`);
  }
  const r = or();
  if (i < toks.length) throw new RuleError(`Unexpected token ${toks[i]}`);
  return r;
}

/** The alarm names or ARNs a rule reads. */
export function ruleAlarms(r: Rule, out = new Set<string>()): Set<string> {
  if (r.k === 'state') out.add(r.alarm);
  else if (r.k === 'not') ruleAlarms(r.a, out);
  else if (r.k === 'and' || r.k === 'or') {
    ruleAlarms(r.a, out);
    ruleAlarms(r.b, out);
  }
  return out;
}

export function evalRule(r: Rule, stateOf: (alarm: string) => string | undefined): boolean {
  switch (r.k) {
    case 'const':
      return r.v;
    case 'state':
      return stateOf(r.alarm) === r.state;
    case 'not':
      return !evalRule(r.a, stateOf);
    case 'and':
      return evalRule(r.a, stateOf) && evalRule(r.b, stateOf);
    case 'or':
      return evalRule(r.a, stateOf) || evalRule(r.b, stateOf);
  }
}
