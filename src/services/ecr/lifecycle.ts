/**
 * ECR lifecycle policies, pure: parsing and validating a policy document as PutLifecyclePolicy does
 * (AWS checks it against a JSON schema, then the rules among themselves) and evaluating it against a
 * repository's images. No store, no clock: lifecyclePolicies.ts runs it, test/unit/ecr-lifecycle.test.ts
 * tests it alone.
 *
 * AWS's evaluation rules, as its user guide states them:
 *  - rules apply in rulePriority order, lowest first; a rule with tagStatus "any" must come last;
 *  - each rule identifies the images its selection matches: tagged (with a tag matching every entry
 *    of tagPrefixList / tagPatternList — several entries mean all of them), untagged, or any;
 *  - imageCountMoreThan N keeps the N most recently pushed identified images and expires the rest;
 *    sinceImagePushed N days expires identified images pushed more than N days ago;
 *  - an image is expired by at most one rule, the first that identifies it: an image a higher
 *    priority rule identified (kept or expired) is never expired by a later rule, though it still
 *    counts towards that later rule's imageCountMoreThan as if it were there.
 */

export type TagStatus = 'tagged' | 'untagged' | 'any';
export type CountType = 'imageCountMoreThan' | 'sinceImagePushed';

export interface LifecycleSelection {
  tagStatus: TagStatus;
  tagPrefixList?: string[];
  tagPatternList?: string[];
  countType: CountType;
  countUnit?: 'days';
  countNumber: number;
}

export interface LifecycleRule {
  rulePriority: number;
  description?: string;
  selection: LifecycleSelection;
  action: { type: 'expire' };
}

export interface LifecyclePolicy {
  rules: LifecycleRule[];
}

/** What AWS says after "Lifecycle policy validation failure: ". */
export class LifecyclePolicyError extends Error {}

export interface LifecycleImage {
  digest: string;
  tags: string[];
  /** Epoch milliseconds. */
  pushedAt: number;
}

export interface Expiry {
  image: LifecycleImage;
  /** The rule that expires it. */
  rulePriority: number;
}

const DAY_MS = 86_400_000;
const MAX_WILDCARDS = 4;

const RULE_PROPERTIES = ['action', 'description', 'rulePriority', 'selection'];
const RULE_REQUIRED = ['action', 'rulePriority', 'selection'];
const SELECTION_PROPERTIES = ['countNumber', 'countType', 'countUnit', 'tagPatternList', 'tagPrefixList', 'tagStatus'];
const SELECTION_REQUIRED = ['countNumber', 'countType', 'tagStatus'];
const TAG_STATUSES = ['any', 'tagged', 'untagged'];
const COUNT_UNITS = ['days'];
const ACTION_TYPES = ['expire'];

/** The JSON schema type name of a value, as the validator AWS uses words it. */
function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

const fail = (message: string): never => {
  throw new LifecyclePolicyError(message);
};

function expectType(v: unknown, ...allowed: string[]) {
  const t = typeName(v);
  if (!allowed.includes(t) && !(t === 'integer' && allowed.includes('number')))
    fail(`instance type (${t}) does not match any allowed primitive type (allowed: ${JSON.stringify(allowed)})`);
}

function checkProperties(o: Record<string, unknown>, allowed: string[], required: string[]) {
  const missing = required.filter((k) => !(k in o));
  if (missing.length) fail(`object has missing required properties (${JSON.stringify(missing)})`);
  const extra = Object.keys(o)
    .filter((k) => !allowed.includes(k))
    .sort();
  if (extra.length) fail(`object instance has properties which are not allowed by the schema: (${JSON.stringify(extra)})`);
}

function checkEnum(v: unknown, values: string[]) {
  if (typeof v !== 'string' || !values.includes(v))
    fail(`instance value (${JSON.stringify(v)}) not found in enum (possible values: ${JSON.stringify(values)})`);
}

function checkMinimum(v: unknown, min: number) {
  expectType(v, 'integer');
  if ((v as number) < min) fail(`numeric instance is lower than the required minimum (minimum: ${min}, found: ${v as number})`);
}

function checkTagList(v: unknown, name: string, wildcards: boolean): string[] {
  expectType(v, 'array');
  const list = v as unknown[];
  if (list.length === 0) fail(`array is too short: must have at least 1 elements but instance has 0 elements`);
  for (const s of list) {
    expectType(s, 'string');
    if ((s as string).length === 0) fail(`${name} must not contain an empty string`);
    if (wildcards && ((s as string).match(/\*/g) ?? []).length > MAX_WILDCARDS)
      fail(`${name} entry '${s as string}' has more than ${MAX_WILDCARDS} wildcards`);
  }
  return list as string[];
}

function checkSelection(v: unknown, priority: number): LifecycleSelection {
  expectType(v, 'object');
  const s = v as Record<string, unknown>;
  checkProperties(s, SELECTION_PROPERTIES, SELECTION_REQUIRED);
  checkEnum(s.tagStatus, TAG_STATUSES);
  const tagStatus = s.tagStatus as TagStatus;
  // countType and countUnit are one schema of two in AWS's policy schema: a bad pair matches neither
  const oneOf = 'instance failed to match exactly one schema (matched 0 out of 2)';
  if (s.countType === 'sinceImagePushed') {
    if (!('countUnit' in s)) fail(oneOf);
    checkEnum(s.countUnit, COUNT_UNITS);
  } else if (s.countType !== 'imageCountMoreThan' || 'countUnit' in s) fail(oneOf);
  checkMinimum(s.countNumber, 1);
  const hasPrefixes = 'tagPrefixList' in s;
  const hasPatterns = 'tagPatternList' in s;
  const tagPrefixList = hasPrefixes ? checkTagList(s.tagPrefixList, 'tagPrefixList', false) : undefined;
  const tagPatternList = hasPatterns ? checkTagList(s.tagPatternList, 'tagPatternList', true) : undefined;
  if (tagStatus === 'tagged') {
    if (!hasPrefixes && !hasPatterns)
      fail(`The rule with priority ${priority} has tagStatus 'tagged' and must specify tagPrefixList or tagPatternList`);
    if (hasPrefixes && hasPatterns) fail(`The rule with priority ${priority} must not specify both tagPrefixList and tagPatternList`);
  } else if (hasPrefixes || hasPatterns)
    fail(`The rule with priority ${priority} has tagStatus '${tagStatus}' and must not specify tagPrefixList or tagPatternList`);
  return {
    tagStatus,
    ...(tagPrefixList ? { tagPrefixList } : {}),
    ...(tagPatternList ? { tagPatternList } : {}),
    countType: s.countType as CountType,
    ...(s.countUnit !== undefined ? { countUnit: 'days' as const } : {}),
    countNumber: s.countNumber as number,
  };
}

function checkRule(v: unknown): LifecycleRule {
  expectType(v, 'object');
  const r = v as Record<string, unknown>;
  checkProperties(r, RULE_PROPERTIES, RULE_REQUIRED);
  checkMinimum(r.rulePriority, 1);
  if ('description' in r) expectType(r.description, 'string');
  expectType(r.action, 'object');
  const action = r.action as Record<string, unknown>;
  checkProperties(action, ['type'], ['type']);
  checkEnum(action.type, ACTION_TYPES);
  const priority = r.rulePriority as number;
  return {
    rulePriority: priority,
    ...(typeof r.description === 'string' ? { description: r.description } : {}),
    selection: checkSelection(r.selection, priority),
    action: { type: 'expire' },
  };
}

/** The policy in `text`, or LifecyclePolicyError saying what AWS would refuse it for. */
export function parseLifecyclePolicy(text: string): LifecyclePolicy {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return fail('Could not map policyString into LifecyclePolicy.');
  }
  if (typeName(doc) !== 'object') fail('Could not map policyString into LifecyclePolicy.');
  const d = doc as Record<string, unknown>;
  if (!('rules' in d)) fail('object has missing required properties (["rules"])');
  expectType(d.rules, 'array');
  const raw = d.rules as unknown[];
  if (raw.length === 0) fail('array is too short: must have at least 1 elements but instance has 0 elements');
  const rules = raw.map(checkRule);
  const seen = new Set<number>();
  for (const r of rules) {
    if (seen.has(r.rulePriority))
      fail(`The rule priority ${r.rulePriority} is used by more than one rule. Rule priorities must be unique.`);
    seen.add(r.rulePriority);
  }
  const highest = Math.max(...rules.map((r) => r.rulePriority));
  for (const r of rules)
    if (r.selection.tagStatus === 'any' && r.rulePriority !== highest)
      fail(`The rule with priority ${r.rulePriority} has tagStatus 'any' and must have the highest rulePriority`);
  if (rules.filter((r) => r.selection.tagStatus === 'untagged').length > 1) fail('Only one rule may select untagged images');
  return { rules };
}

/** A tag pattern as a regular expression: `*` is any run of characters, everything else itself. */
function patternRegex(pattern: string): RegExp {
  const escaped = pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${escaped.join('.*')}$`, 's');
}

/** Whether `selection` identifies an image with these tags (every listed prefix or pattern matched by one of them). */
export function selects(selection: LifecycleSelection, tags: readonly string[]): boolean {
  switch (selection.tagStatus) {
    case 'any':
      return true;
    case 'untagged':
      return tags.length === 0;
    case 'tagged':
      if (tags.length === 0) return false;
      if (selection.tagPrefixList) return selection.tagPrefixList.every((p) => tags.some((t) => t.startsWith(p)));
      return (selection.tagPatternList ?? []).map(patternRegex).every((re) => tags.some((t) => re.test(t)));
  }
}

/** Newest first; equal push times by digest, so the answer never depends on input order. */
const newestFirst = (a: LifecycleImage, b: LifecycleImage) => b.pushedAt - a.pushedAt || (a.digest < b.digest ? -1 : 1);

/** The images `policy` expires at `now`, each with the rule that expires it, oldest first. */
export function evaluateLifecycle(policy: LifecyclePolicy, images: readonly LifecycleImage[], now: number): Expiry[] {
  const rules = [...policy.rules].sort((a, b) => a.rulePriority - b.rulePriority);
  const identified = new Set<string>();
  const expired = new Map<string, Expiry>();
  for (const rule of rules) {
    const { selection } = rule;
    const matched = images.filter((i) => selects(selection, i.tags));
    const expiring =
      selection.countType === 'imageCountMoreThan'
        ? [...matched].sort(newestFirst).slice(selection.countNumber)
        : matched.filter((i) => i.pushedAt < now - selection.countNumber * DAY_MS);
    for (const image of expiring) if (!identified.has(image.digest)) expired.set(image.digest, { image, rulePriority: rule.rulePriority });
    for (const image of matched) identified.add(image.digest);
  }
  return [...expired.values()].sort((a, b) => newestFirst(b.image, a.image));
}
