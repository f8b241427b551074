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
    if (v === undefined || v === null) problems.push(`Value null at '${path}${lowerFirst(name)}' failed to satisfy constraint: Member must not be null`);
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
        v.forEach((el, i) => el && checkRequired(model, item, el as Record<string, unknown>, `${path}${lowerFirst(name)}.${i + 1}.member.`, problems));
    }
  }
}

const patterns = new Map<string, RegExp>();
function patternOf(pattern: string): RegExp {
  let re = patterns.get(pattern);
  if (!re) patterns.set(pattern, (re = new RegExp(`^(?:${pattern})$`, 'u')));
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

function checkConstraint(name: string, value: unknown, c: Constraint, problems: string[]) {
  const show = typeof value === 'string' || typeof value === 'number' ? `'${value}'` : Array.isArray(value) ? `'${listText(value)}'` : 'null';
  const at = `Value ${show} at '${lowerFirst(name)}' failed to satisfy constraint: `;
  if (typeof value === 'string' || Array.isArray(value)) {
    const len = value.length;
    if (c.min !== undefined && len < c.min) problems.push(`${at}Member must have length greater than or equal to ${c.min}`);
    if (c.max !== undefined && len > c.max) problems.push(`${at}Member must have length less than or equal to ${c.max}`);
  } else if (typeof value === 'number') {
    if (c.min !== undefined && value < c.min) problems.push(`${at}Member must have value greater than or equal to ${c.min}`);
    if (c.max !== undefined && value > c.max) problems.push(`${at}Member must have value less than or equal to ${c.max}`);
  }
  if (typeof value === 'string' && c.pattern && !patternOf(c.pattern).test(value))
    problems.push(`${at}Member must satisfy regular expression pattern: ${c.pattern}`);
  if (typeof value === 'string' && c.enum && !c.enum.includes(value))
    problems.push(`${at}Member must satisfy enum value set: [${c.enum.join(', ')}]`);
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
  if (patch.constraints) {
    for (const name in shape.members) {
      const c = patch.constraints[`${operation}.${name}`] ?? patch.constraints[name];
      const v = input[name];
      if (c && v !== undefined && v !== null) checkConstraint(name, v, c, problems);
    }
  }
  if (problems.length === 0) return;
  const n = problems.length;
  throw new AwsError(
    patch.validationErrorCode ?? defaultCode,
    patch.validationMessage ?? `${n} validation error${n > 1 ? 's' : ''} detected: ${problems.join('; ')}`,
    400,
  );
}
