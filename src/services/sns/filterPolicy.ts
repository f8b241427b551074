/**
 * SNS subscription filter policies, as a pure module: validation with AWS's InvalidParameter
 * messages, and matching on message attributes (FilterPolicyScope MessageAttributes) or on the JSON
 * message body (MessageBody, where keys nest). A policy is an AND over its keys, an OR over the
 * values of one key; "$or" splits the policy into alternatives. Match expressions: exact strings,
 * numbers, booleans and null; prefix, suffix, equals-ignore-case, anything-but (values, prefix,
 * suffix), numeric ranges, exists.
 */
import { AwsError } from '../../core/errors.js';

export type Scope = 'MessageAttributes' | 'MessageBody';
export type Policy = Record<string, unknown>;

/** A message attribute as Publish receives it. */
export interface MessageAttribute {
  DataType: string;
  StringValue?: string;
  BinaryValue?: Buffer;
}

const MAX_KEYS = 5;
const MAX_COMBINATIONS = 150;

/**
 * Parses and validates a FilterPolicy attribute value. `subscribe` picks AWS's message prefix:
 * Subscribe says "Invalid parameter: Attributes Reason: FilterPolicy: …",
 * SetSubscriptionAttributes "Invalid parameter: FilterPolicy: …".
 */
export function parseFilterPolicy(text: string, scope: Scope, subscribe = false): Policy | undefined {
  const prefix = subscribe ? 'Invalid parameter: Attributes Reason: ' : 'Invalid parameter: ';
  const fail = (msg: string): never => {
    throw new AwsError('InvalidParameter', `${prefix}${msg}`, 400);
  };
  if (text.trim() === '') return undefined;
  let policy: unknown;
  try {
    policy = JSON.parse(text);
  } catch {
    return fail('FilterPolicy: failed to parse JSON.');
  }
  if (policy === null || typeof policy !== 'object' || Array.isArray(policy)) return fail('FilterPolicy: Filter policy must be a JSON object');
  if (Object.keys(policy).length === 0) return undefined;
  validatePolicy(policy as Policy, scope, fail);
  return policy as Policy;
}

function validatePolicy(policy: Policy, scope: Scope, fail: (msg: string) => never) {
  if (Object.keys(policy).length > MAX_KEYS) fail(`FilterPolicy: Filter policy can not have more than ${MAX_KEYS} keys`);
  let combinations = 0;
  for (const branch of expand(policy, fail, scope)) {
    let n = 1;
    for (const [path, rules] of branch) {
      n *= rules.length * path.length;
      for (const rule of rules) validateRule(rule, fail);
    }
    combinations += n;
  }
  if (combinations > MAX_COMBINATIONS) fail('FilterPolicy: Filter policy is too complex');
}

/** The policy as alternatives ($or expanded), each a list of [key path, rules]. */
function expand(policy: Policy, fail: (msg: string) => never, scope: Scope, parent: string[] = []): [string[], unknown[]][][] {
  let branches: [string[], unknown[]][][] = [[]];
  for (const [key, value] of Object.entries(policy)) {
    if (key === '$or') {
      if (!Array.isArray(value) || value.length < 2 || value.some((v) => v === null || typeof v !== 'object' || Array.isArray(v)))
        fail('FilterPolicy: $or must be an array of at least two objects');
      const alternatives = (value as Policy[]).flatMap((v) => expand(v, fail, scope, parent));
      branches = branches.flatMap((b) => alternatives.map((alt) => [...b, ...alt]));
    } else if (Array.isArray(value)) {
      if (value.length === 0) fail('FilterPolicy: Empty arrays are not allowed');
      branches = branches.map((b) => [...b, [[...parent, key], value]]);
    } else if (value !== null && typeof value === 'object') {
      if (scope === 'MessageAttributes') fail('Filter policy scope MessageAttributes does not support nested filter policy');
      const nested = expand(value as Policy, fail, scope, [...parent, key]);
      branches = branches.flatMap((b) => nested.map((n) => [...b, ...n]));
    } else {
      fail(`FilterPolicy: "${key}" must be an object or an array`);
    }
  }
  return branches;
}

function validateRule(rule: unknown, fail: (msg: string) => never): void {
  if (rule === null || typeof rule === 'string' || typeof rule === 'boolean' || typeof rule === 'number') return;
  if (Array.isArray(rule) || typeof rule !== 'object') return fail('FilterPolicy: Match value must be String, number, true, false, or null');
  const entries = Object.entries(rule);
  if (entries.length !== 1) fail('FilterPolicy: Only one key allowed in match expression');
  const [op, value] = entries[0];
  switch (op) {
    case 'prefix':
    case 'suffix':
    case 'equals-ignore-case':
      if (typeof value !== 'string') fail(`FilterPolicy: ${op} match pattern must be a string`);
      return;
    case 'exists':
      if (typeof value !== 'boolean') fail('FilterPolicy: exists match pattern must be either true or false.');
      return;
    case 'anything-but':
      if (Array.isArray(value)) {
        for (const v of value) if (typeof v !== 'string' && typeof v !== 'number') fail('FilterPolicy: Inside anything but list, start|null|boolean is not supported.');
        return;
      }
      if (value !== null && typeof value === 'object') {
        const [inner, ...more] = Object.keys(value);
        if (more.length || !['prefix', 'suffix', 'equals-ignore-case'].includes(inner)) fail(`FilterPolicy: Unsupported anything-but pattern: ${inner}`);
        return validateRule(value, fail);
      }
      if (typeof value !== 'string' && typeof value !== 'number') fail('FilterPolicy: Inside anything but list, start|null|boolean is not supported.');
      return;
    case 'numeric':
      return validateNumeric(value, fail);
    default:
      fail(`FilterPolicy: Unrecognized match type ${op}`);
  }
}

function validateNumeric(value: unknown, fail: (msg: string) => never) {
  if (!Array.isArray(value) || value.length === 0) fail('FilterPolicy: Invalid member in numeric match: ]');
  const terms = [...(value as unknown[])];
  const op = terms.shift();
  if (typeof op !== 'string') fail(`FilterPolicy: Invalid member in numeric match: ${op}`);
  if (!['<', '<=', '=', '>', '>='].includes(op as string)) fail(`FilterPolicy: Unrecognized numeric range operator: ${op}`);
  const lower = terms.shift();
  if (typeof lower !== 'number') fail(`FilterPolicy: Value of ${op === '=' ? 'equals' : op} must be numeric`);
  if (!terms.length) return;
  if (op !== '>' && op !== '>=') fail('FilterPolicy: Too many elements in numeric expression');
  const op2 = terms.shift();
  if (typeof op2 !== 'string') fail(`FilterPolicy: Bad value in numeric range: ${op2}`);
  if (op2 !== '<' && op2 !== '<=') fail(`FilterPolicy: Bad numeric range operator: ${op2}`);
  const upper = terms.shift();
  if (typeof upper !== 'number') fail(`FilterPolicy: Value of ${op2} must be numeric`);
  if ((upper as number) <= (lower as number)) fail('FilterPolicy: Bottom must be less than top');
  if (terms.length) fail('FilterPolicy: Too many terms in numeric range expression');
}

/** What a key resolves to in the message: whether it is there, and its values (arrays flattened). */
interface Field {
  exists: boolean;
  values: unknown[];
}

const noFail = (msg: string): never => {
  throw new Error(msg);
};

/** Does a message with these attributes pass the (validated) policy? */
export function matchesAttributes(policy: Policy, attributes: Record<string, MessageAttribute> | undefined): boolean {
  const attrs = attributes ?? {};
  return expand(policy, noFail, 'MessageBody').some((branch) => branch.every(([path, rules]) => matchField(attributeField(attrs[path[0]]), rules)));
}

/** Does this message body (a JSON object, or it never matches) pass the (validated) policy? */
export function matchesBody(policy: Policy, body: string): boolean {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    return false;
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return false;
  return expand(policy, noFail, 'MessageBody').some((branch) => branch.every(([path, rules]) => matchField(bodyField(doc, path), rules)));
}

function attributeField(a: MessageAttribute | undefined): Field {
  if (!a) return { exists: false, values: [] };
  const type = a.DataType.split('.')[0];
  if (a.DataType === 'String.Array') {
    try {
      const arr = JSON.parse(a.StringValue ?? '');
      return { exists: true, values: Array.isArray(arr) ? arr : [] };
    } catch {
      return { exists: true, values: [] };
    }
  }
  if (type === 'Number') return { exists: true, values: [Number(a.StringValue)] };
  if (type === 'String') return { exists: true, values: [a.StringValue ?? ''] };
  return { exists: true, values: [] };
}

function bodyField(doc: unknown, path: string[]): Field {
  let nodes: unknown[] = [doc];
  for (const key of path) {
    const next: unknown[] = [];
    for (const n of nodes.flatMap((x) => (Array.isArray(x) ? x : [x]))) {
      if (n !== null && typeof n === 'object' && !Array.isArray(n) && key in n) next.push((n as Record<string, unknown>)[key]);
    }
    if (!next.length) return { exists: false, values: [] };
    nodes = next;
  }
  const values = nodes.flatMap((x) => (Array.isArray(x) ? x : [x]));
  // a key whose value is an object is not a leaf: it never matches a value rule
  return { exists: true, values: values.filter((v) => v === null || typeof v !== 'object') };
}

function matchField(field: Field, rules: unknown[]): boolean {
  return rules.some((rule) => {
    if (rule !== null && typeof rule === 'object' && 'exists' in rule) return (rule as { exists: boolean }).exists === field.exists;
    return field.exists && field.values.some((v) => matchValue(v, rule));
  });
}

function matchValue(v: unknown, rule: unknown): boolean {
  if (rule === null || typeof rule !== 'object') return v === rule;
  const [op, arg] = Object.entries(rule)[0];
  switch (op) {
    case 'prefix':
      return typeof v === 'string' && v.startsWith(arg as string);
    case 'suffix':
      return typeof v === 'string' && v.endsWith(arg as string);
    case 'equals-ignore-case':
      return typeof v === 'string' && v.toLowerCase() === (arg as string).toLowerCase();
    case 'numeric':
      return typeof v === 'number' && !Number.isNaN(v) && numeric(v, arg as unknown[]);
    case 'anything-but':
      if (Array.isArray(arg)) return !arg.includes(v);
      if (arg !== null && typeof arg === 'object') return typeof v === 'string' && !matchValue(v, arg);
      return v !== arg;
    default:
      return false;
  }
}

function numeric(v: number, terms: unknown[]): boolean {
  for (let i = 0; i < terms.length; i += 2) {
    const n = terms[i + 1] as number;
    const ok = { '=': v === n, '<': v < n, '<=': v <= n, '>': v > n, '>=': v >= n }[terms[i] as string];
    if (!ok) return false;
  }
  return true;
}
