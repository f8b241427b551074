/**
 * Generic input validation: required members anywhere in the input (from the model) and the
 * constraints a service's patch declares for top-level members. Messages follow AWS's form:
 *   1 validation error detected: Value null at 'roleName' failed to satisfy constraint: Member must not be null
 */
import { AwsError } from '../core/errors.js';
import type { ServiceModel, Shape } from '../model/model.js';
import type { Constraint, ModelPatch } from '../model/patch.js';
import { requiredMissing } from '../protocol/jsonValues.js';

const lowerFirst = (s: string) => s.charAt(0).toLowerCase() + s.slice(1);

function checkRequired(model: ServiceModel, shape: Shape, value: Record<string, unknown>, path: string, problems: string[]) {
  for (const name of shape.required ?? []) {
    const v = value[name];
    if (v === undefined || v === null)
      problems.push(`Value null at '${path}${lowerFirst(name)}' failed to satisfy constraint: Member must not be null`);
  }
  for (const name in shape.members) {
    const v = value[name];
    if (v === undefined || v === null || typeof v !== 'object') continue;
    const m = model.member(shape, name);
    if (m.type === 'structure' && !m.document && !Buffer.isBuffer(v) && !(typeof (v as any).pipe === 'function'))
      checkRequired(model, m, v as Record<string, unknown>, `${path}${lowerFirst(name)}.`, problems);
    else if (m.type === 'list' && Array.isArray(v)) {
      const item = model.resolve(m.member!);
      if (item.type === 'structure')
        v.forEach(
          (el, i) =>
            el && checkRequired(model, item, el as Record<string, unknown>, `${path}${lowerFirst(name)}.${i + 1}.member.`, problems),
        );
    }
  }
}

const patterns = new Map<string, RegExp | null>();
/** The model's pattern as a JavaScript RegExp; null for the few Java-only constructs JavaScript cannot compile (never enforced). */
function patternOf(pattern: string): RegExp | null {
  let re = patterns.get(pattern);
  if (re === undefined) {
    try {
      re = new RegExp(`^(?:${pattern})$`, 'u');
    } catch {
      re = null;
    }
    patterns.set(pattern, re);
  }
  return re;
}

/** A list as AWS's messages print it (`[a, b]`), cut short: a 10,001-entry list is not echoed whole. */
function listText(list: unknown[]) {
  let out = '';
  for (const el of list) {
    out += (out ? ', ' : '') + (typeof el === 'object' && el !== null ? JSON.stringify(el) : String(el));
    if (out.length > 200) return `[${out.slice(0, 200)}...]`;
  }
  return `[${out}]`;
}

/**
 * `label`: the member's path as AWS prints it ('roleName', 'targets.1.member.id'), built only when
 * the value fails (a list of 10,000 log events is checked without making a string per event).
 */
function checkConstraint(label: string | (() => string), value: unknown, c: Constraint, problems: string[]) {
  const fail = (what: string) => {
    // a blob's bytes are not shown (AWS leaves a sensitive or binary value out of the message)
    const show = Buffer.isBuffer(value)
      ? ''
      : typeof value === 'string' || typeof value === 'number'
        ? ` '${value}'`
        : Array.isArray(value)
          ? ` '${listText(value)}'`
          : ' null';
    problems.push(`Value${show} at '${typeof label === 'string' ? label : label()}' failed to satisfy constraint: ${what}`);
  };
  if (typeof value === 'string' || Array.isArray(value) || Buffer.isBuffer(value)) {
    const len = value.length;
    if (c.min !== undefined && len < c.min) fail(`Member must have length greater than or equal to ${c.min}`);
    if (c.max !== undefined && len > c.max) fail(`Member must have length less than or equal to ${c.max}`);
  } else if (typeof value === 'number') {
    if (c.min !== undefined && value < c.min) fail(`Member must have value greater than or equal to ${c.min}`);
    if (c.max !== undefined && value > c.max) fail(`Member must have value less than or equal to ${c.max}`);
  }
  if (typeof value === 'string' && c.pattern && patternOf(c.pattern)?.test(value) === false)
    fail(`Member must satisfy regular expression pattern: ${c.pattern}`);
  if (typeof value === 'string' && c.enum && !c.enum.includes(value)) fail(`Member must satisfy enum value set: [${c.enum.join(', ')}]`);
}

/** A constraint the model puts on a shape (lengths, ranges, pattern, enum), if any. */
function modelConstraint(shape: Shape): Constraint | undefined {
  if (shape.min === undefined && shape.max === undefined && shape.pattern === undefined && shape.enum === undefined) return undefined;
  return { min: shape.min, max: shape.max, pattern: shape.pattern, enum: shape.enum };
}

/** Where below a structure the model constrains something: what to check for each member, and where to descend. */
interface MemberCheck {
  name: string;
  constraint?: Constraint;
  /** A structure member's own checks, or a list's item checks (structures) / item constraint (scalars). */
  struct?: MemberCheck[];
  items?: { constraint?: Constraint; struct?: MemberCheck[] };
}

const plans = new WeakMap<Shape, MemberCheck[]>();

/** The checks under `shape`, built once per shape; subtrees without any constraint are left out. Recursive shapes stop at the cycle. */
function planOf(model: ServiceModel, shape: Shape, building = new Set<Shape>()): MemberCheck[] {
  const cached = plans.get(shape);
  if (cached) return cached;
  if (building.has(shape)) return [];
  building.add(shape);
  const checks: MemberCheck[] = [];
  for (const name in shape.members) {
    const m = model.member(shape, name);
    if (m.location === 'header' || m.location === 'headers' || m.location === 'uri' || m.location === 'querystring') {
      const c = modelConstraint(m);
      if (c) checks.push({ name, constraint: c });
      continue;
    }
    const check: MemberCheck = { name, constraint: modelConstraint(m) };
    if (m.type === 'structure' && !m.document) {
      const inner = planOf(model, m, building);
      if (inner.length) check.struct = inner;
    } else if (m.type === 'list' && m.member) {
      const item = model.resolve(m.member);
      const items = {
        constraint: modelConstraint(item),
        struct: item.type === 'structure' && !item.document ? planOf(model, item, building) : undefined,
      };
      if (items.struct?.length === 0) items.struct = undefined;
      if (items.constraint || items.struct) check.items = items;
    }
    if (check.constraint || check.struct || check.items) checks.push(check);
  }
  building.delete(shape);
  plans.set(shape, checks);
  return checks;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v) && typeof (v as { pipe?: unknown }).pipe !== 'function';

/** A path of member names and list positions, printed as AWS does: `targets.2.member.retryPolicy`. */
const pathText = (path: (string | number)[]) => path.map((p) => (typeof p === 'number' ? `${p}.member` : lowerFirst(p))).join('.');

/**
 * Model constraints below the top level. `path` is a stack of segments shared by the whole walk
 * and printed only for a failing value, so walking a large valid input allocates no strings.
 */
function checkNested(
  checks: MemberCheck[],
  value: Record<string, unknown>,
  path: (string | number)[],
  problems: string[],
  topLevel: boolean,
) {
  const label = () => pathText(path);
  for (const check of checks) {
    const v = value[check.name];
    if (v === undefined || v === null) continue;
    path.push(check.name);
    // the top level's own constraints were checked already (where a patch may override them)
    if (!topLevel && check.constraint) checkConstraint(label, v, check.constraint, problems);
    if (check.struct && isPlainObject(v)) checkNested(check.struct, v, path, problems, false);
    if (check.items && Array.isArray(v)) {
      const { constraint, struct } = check.items;
      for (let i = 0; i < v.length; i++) {
        const el = v[i];
        if (el === undefined || el === null) continue;
        path.push(i + 1);
        if (constraint) checkConstraint(label, el, constraint, problems);
        if (struct && isPlainObject(el)) checkNested(struct, el, path, problems, false);
        path.pop();
      }
    }
    path.pop();
  }
}

export function validateInput(
  model: ServiceModel,
  operation: string,
  shape: Shape | undefined,
  input: Record<string, unknown>,
  patch: ModelPatch,
  defaultCode: string,
) {
  if (!shape) return;
  const problems: string[] = [];
  // json/cbor bodies had their required members checked while being converted (jsonValues.ts)
  const missing = requiredMissing(input, shape);
  if (missing) for (const path of missing) problems.push(`Value null at '${path}' failed to satisfy constraint: Member must not be null`);
  else checkRequired(model, shape, input, '', problems);
  const useModel = patch.modelConstraints !== false;
  for (const name in shape.members) {
    const v = input[name];
    if (v === undefined || v === null) continue;
    const c =
      patch.constraints?.[`${operation}.${name}`] ??
      patch.constraints?.[name] ??
      (useModel ? modelConstraint(model.member(shape, name)) : undefined);
    if (c) checkConstraint(lowerFirst(name), v, c, problems);
  }
  if (useModel) checkNested(planOf(model, shape), input, [], problems, true);
  if (problems.length === 0) return;
  const n = problems.length;
  throw new AwsError(
    patch.validationErrorCode ?? defaultCode,
    patch.validationMessage ?? `${n} validation error${n > 1 ? 's' : ''} detected: ${problems.join('; ')}`,
    400,
  );
}
