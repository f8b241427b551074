/**
 * IAM policy language, as far as a role's trust policy needs it: who may call sts:AssumeRole.
 * An explicit Deny wins, then any Allow; nothing matching is an implicit deny. Statements match
 * on Action/NotAction (with * and ? wildcards), Principal/NotPrincipal and Condition blocks of
 * the string, ARN, Bool and Null operators. An operator opsbox does not know never matches, so
 * an Allow it cannot evaluate grants nothing.
 */

export type Principal =
  /** An IAM user, a role session or an account root, by ARN. */
  | { kind: 'AWS'; arn: string; account: string }
  /** An AWS service acting on its own (codebuild.amazonaws.com). */
  | { kind: 'Service'; service: string };

export interface TrustRequest {
  principal: Principal;
  action: string;
  /** Condition keys present in the request (sts:ExternalId, aws:PrincipalAccount …), lower-cased. */
  context: Record<string, string | undefined>;
}

interface Statement {
  Effect?: string;
  Action?: string | string[];
  NotAction?: string | string[];
  Principal?: unknown;
  NotPrincipal?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

export function trustAllows(document: string, request: TrustRequest): boolean {
  let parsed: { Statement?: Statement | Statement[] };
  try {
    parsed = JSON.parse(document);
  } catch {
    return false;
  }
  const statements = ([] as Statement[]).concat(parsed?.Statement ?? []);
  const matching = statements.filter((s) => s && typeof s === 'object' && statementMatches(s, request));
  if (matching.some((s) => s.Effect === 'Deny')) return false;
  return matching.some((s) => s.Effect === 'Allow');
}

function statementMatches(s: Statement, req: TrustRequest): boolean {
  if (s.Action !== undefined && !list(s.Action).some((a) => wildcard(a, req.action, true))) return false;
  if (s.NotAction !== undefined && list(s.NotAction).some((a) => wildcard(a, req.action, true))) return false;
  if (s.Action === undefined && s.NotAction === undefined) return false;
  if (s.Principal !== undefined && !principalMatches(s.Principal, req.principal)) return false;
  if (s.NotPrincipal !== undefined && principalMatches(s.NotPrincipal, req.principal)) return false;
  if (s.Principal === undefined && s.NotPrincipal === undefined) return false;
  return Object.entries(s.Condition ?? {}).every(([operator, keys]) => conditionHolds(operator, keys, req.context));
}

function principalMatches(spec: unknown, who: Principal): boolean {
  if (spec === '*') return true;
  if (!spec || typeof spec !== 'object') return false;
  const byKind = spec as Record<string, unknown>;
  if (who.kind === 'Service') return list(byKind.Service).includes(who.service);
  return list(byKind.AWS).some((p) => awsPrincipalMatches(p, who));
}

/** "*", an account ("111111111111" or its :root ARN), a user or role ARN (a role matches its sessions), a session ARN. */
function awsPrincipalMatches(p: string, who: { arn: string; account: string }): boolean {
  if (p === '*') return true;
  if (/^\d{12}$/.test(p)) return p === who.account;
  const root = /^arn:aws[a-z-]*:iam::(\d{12}):root$/.exec(p);
  if (root) return root[1] === who.account;
  if (p === who.arn) return true;
  const role = /^arn:aws[a-z-]*:iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(p);
  const session = /^arn:aws[a-z-]*:sts::(\d{12}):assumed-role\/([^/]+)\//.exec(who.arn);
  return !!role && !!session && role[1] === session[1] && role[2] === session[2];
}

function conditionHolds(operator: string, keys: Record<string, unknown>, context: TrustRequest['context']): boolean {
  const ifExists = operator.endsWith('IfExists');
  const base = ifExists ? operator.slice(0, -'IfExists'.length) : operator;
  return Object.entries(keys ?? {}).every(([key, expected]) => {
    const actual = context[key.toLowerCase()];
    const values = list(expected).map(String);
    if (base === 'Null') return values.some((v) => (v === 'true') === (actual === undefined));
    if (actual === undefined) return ifExists || NEGATED.has(base);
    const test = COMPARE[base];
    if (!test) return false;
    const hit = values.some((v) => test(v, actual));
    return NEGATED.has(base) ? !hit : hit;
  });
}

const NEGATED = new Set(['StringNotEquals', 'StringNotEqualsIgnoreCase', 'StringNotLike', 'ArnNotEquals', 'ArnNotLike']);

const COMPARE: Record<string, (expected: string, actual: string) => boolean> = {
  StringEquals: (e, a) => e === a,
  StringNotEquals: (e, a) => e === a,
  StringEqualsIgnoreCase: (e, a) => e.toLowerCase() === a.toLowerCase(),
  StringNotEqualsIgnoreCase: (e, a) => e.toLowerCase() === a.toLowerCase(),
  StringLike: (e, a) => wildcard(e, a, false),
  StringNotLike: (e, a) => wildcard(e, a, false),
  ArnEquals: (e, a) => wildcard(e, a, false),
  ArnLike: (e, a) => wildcard(e, a, false),
  ArnNotEquals: (e, a) => wildcard(e, a, false),
  ArnNotLike: (e, a) => wildcard(e, a, false),
  Bool: (e, a) => e.toLowerCase() === a.toLowerCase(),
};

const list = (v: unknown): string[] => (v === undefined || v === null ? [] : Array.isArray(v) ? v.map(String) : [String(v)]);

/** IAM's * and ? wildcards; action names compare case-insensitively. */
function wildcard(pattern: string, value: string, ignoreCase: boolean): boolean {
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
    ignoreCase ? 'is' : 's',
  );
  return re.test(value);
}
