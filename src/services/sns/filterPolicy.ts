/**
 * SNS subscription filter policies: the language of core/eventPattern.ts as SNS validates it
 * (InvalidParameter with SNS's words, at most 5 keys and 150 combinations, no exact or wildcard,
 * nested keys only in the MessageBody scope, anything-but as SNS has it), matched on the message
 * attributes (FilterPolicyScope MessageAttributes, typed by DataType) or on the JSON message body
 * (MessageBody, where keys nest). An empty policy filters nothing.
 */
import { AwsError } from '../../core/errors.js';
import {
  ABSENT,
  compileTree,
  fieldMatcher,
  JSON_FIELDS,
  parsePattern,
  prefixWording,
  RULER,
  RULER_WORDING,
  type FieldModel,
  type FieldValue,
  type PatternDialect,
  type Wording,
} from '../../core/eventPattern.js';

export type Scope = 'MessageAttributes' | 'MessageBody';

/** A validated policy, ready to match either way. */
export interface Policy {
  attributes: (attributes: Record<string, MessageAttribute>) => boolean;
  body: (at: unknown[]) => boolean;
}

/** A message attribute as Publish receives it. */
export interface MessageAttribute {
  DataType: string;
  StringValue?: string;
  BinaryValue?: Buffer;
}

const OR = 'FilterPolicy: $or must be an array of at least two objects';
const ONE_KEY = 'FilterPolicy: Only one key allowed in match expression';

/** SNS's words where they are not Event Ruler's with "FilterPolicy: " in front (AWS's messages, as the unit tests hold them). */
const SAY: Wording = {
  ...prefixWording(RULER_WORDING, 'FilterPolicy: '),
  json: () => 'FilterPolicy: failed to parse JSON.',
  notObject: () => 'FilterPolicy: Filter policy must be a JSON object',
  nested: () => 'Filter policy scope MessageAttributes does not support nested filter policy',
  orNotArray: () => OR,
  orNotObject: () => OR,
  orTooFew: () => OR,
  noMatchName: () => ONE_KEY,
  oneKey: () => ONE_KEY,
  numericNotArray: () => 'FilterPolicy: Invalid member in numeric match: ]',
  numericMember: (v) => `FilterPolicy: Invalid member in numeric match: ${v === undefined ? ']' : v}`,
  numericValue: (op) => `FilterPolicy: Value of ${op === '=' ? 'equals' : op} must be numeric`,
  rangeValue: (v) => `FilterPolicy: Bad value in numeric range: ${v}`,
  abNoName: () => 'FilterPolicy: Unsupported anything-but pattern: undefined',
  abOneKey: (first) => `FilterPolicy: Unsupported anything-but pattern: ${first}`,
  abAffixNotString: (op) => `FilterPolicy: ${op} match pattern must be a string`,
  abIgnoreCaseList: () => 'FilterPolicy: equals-ignore-case match pattern must be a string',
  abScalar: () => 'FilterPolicy: Inside anything but list, start|null|boolean is not supported.',
};

/**
 * `subscribe` picks AWS's message prefix: Subscribe says "Invalid parameter: Attributes Reason:
 * FilterPolicy: …", SetSubscriptionAttributes "Invalid parameter: FilterPolicy: …".
 */
function dialect(scope: Scope, subscribe: boolean): PatternDialect {
  const prefix = subscribe ? 'Invalid parameter: Attributes Reason: ' : 'Invalid parameter: ';
  return {
    ...RULER,
    fail(reason: string): never {
      throw new AwsError('InvalidParameter', `${prefix}${reason}`, 400);
    },
    say: SAY,
    operators: new Set(['prefix', 'suffix', 'equals-ignore-case', 'anything-but', 'numeric', 'exists', 'cidr']),
    nested: scope === 'MessageBody',
    maxKeys: 5,
    maxCombinations: 150,
    emptyObjects: true,
    reservedInOr: false,
    ignoreCaseAffixes: false,
    anythingBut: 'lenient',
    closedEqualRange: false,
  };
}

/** Parses and validates a FilterPolicy attribute value; undefined for an empty policy. */
export function parseFilterPolicy(text: string, scope: Scope, subscribe = false): Policy | undefined {
  if (text.trim() === '') return undefined;
  const d = dialect(scope, subscribe);
  const root = parsePattern(text, d);
  if (Object.keys(root).length === 0) return undefined;
  const tree = compileTree(root, d);
  return { attributes: fieldMatcher(tree, ATTRIBUTES), body: fieldMatcher(tree, JSON_FIELDS) };
}

/** Does a message with these attributes pass the policy? */
export function matchesAttributes(policy: Policy, attributes: Record<string, MessageAttribute> | undefined): boolean {
  return policy.attributes(attributes ?? {});
}

/** Does this message body (a JSON object, or it never matches) pass the policy? */
export function matchesBody(policy: Policy, body: string): boolean {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    return false;
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return false;
  return policy.body([doc]);
}

/** Message attributes for fieldMatcher: the root context is the attribute map, a key reaches one attribute. */
const ATTRIBUTES: FieldModel<unknown> = {
  child: (attrs, name) => (Object.hasOwn(attrs as object, name) ? (attrs as Record<string, MessageAttribute>)[name] : undefined),
  field: (a) => attributeField(a as MessageAttribute | undefined),
};

/** An attribute's values by its DataType: a String, a Number, the elements of a String.Array; Binary has none. */
function attributeField(a: MessageAttribute | undefined): FieldValue {
  if (!a) return ABSENT;
  const type = a.DataType.split('.')[0];
  if (a.DataType === 'String.Array') {
    try {
      const arr = JSON.parse(a.StringValue ?? '');
      return { present: true, values: Array.isArray(arr) ? arr : [] };
    } catch {
      return { present: true, values: [] };
    }
  }
  if (type === 'Number') return { present: true, values: [Number(a.StringValue)] };
  if (type === 'String') return { present: true, values: [a.StringValue ?? ''] };
  return { present: true, values: [] };
}
