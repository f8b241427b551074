/**
 * Intrinsic functions and conditions: turns a template fragment into plain JSON, given what a
 * reference means at this point of the stack (parameter values, pseudo parameters, mappings,
 * conditions, and the stack engine's physical ids and attributes of resources). `AWS::NoValue`
 * removes the property or list item it stands for. Dynamic references ({{resolve:…}}) are async
 * and resolved afterwards by dynamicRefs.ts.
 */
import { AwsError } from '../../../core/errors.js';
import type { Template } from './parse.js';

export const templateError = (msg: string) => new AwsError('ValidationError', `Template error: ${msg}`, 400);

export const NO_VALUE: unique symbol = Symbol('AWS::NoValue');

export interface EvalContext {
  /** Parameter values, pseudo parameters included ("AWS::Region" → "us-east-1"). */
  params: Record<string, string | string[]>;
  mappings: NonNullable<Template['Mappings']>;
  conditions: Record<string, unknown>;
  region: string;
  /** Ref of a resource: its physical id. */
  ref?(logicalId: string): string;
  getAtt?(logicalId: string, attribute: string): unknown;
  importValue?(name: string): string;
}

const conditionCache = new WeakMap<EvalContext, Map<string, boolean>>();

/** Evaluates the named condition (memoized per context); an unknown name is AWS's template error. */
export function evalCondition(name: string, ctx: EvalContext, seen: string[] = []): boolean {
  let cache = conditionCache.get(ctx);
  if (!cache) conditionCache.set(ctx, (cache = new Map()));
  const hit = cache.get(name);
  if (hit !== undefined) return hit;
  if (!(name in ctx.conditions)) throw templateError(`unresolved condition dependency ${name} in Fn::If`);
  if (seen.includes(name))
    throw new AwsError('ValidationError', `Circular dependency between conditions: [${[...seen, name].join(', ')}]`, 400);
  const v = toBool(resolveValue(ctx.conditions[name], ctx, [...seen, name]), name);
  cache.set(name, v);
  return v;
}

function toBool(v: unknown, where: string): boolean {
  if (v === true || v === 'true') return true;
  if (v === false || v === 'false') return false;
  throw templateError(`Fn::If, Fn::And, Fn::Or and Fn::Not need boolean conditions; ${where} is not`);
}

const str = (v: unknown): string =>
  typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v);

/** Resolves every intrinsic in `value`; `seenConditions` guards condition cycles. */
export function resolveValue(value: unknown, ctx: EvalContext, seenConditions: string[] = []): any {
  const r = (v: unknown) => resolveValue(v, ctx, seenConditions);
  if (Array.isArray(value)) return value.map(r).filter((v) => v !== NO_VALUE);
  if (typeof value !== 'object' || value === null) return value;
  const keys = Object.keys(value);
  const obj = value as Record<string, any>;
  if (keys.length === 1) {
    const k = keys[0];
    const arg = obj[k];
    switch (k) {
      case 'Ref':
        return ref(String(r(arg)), ctx);
      case 'Condition':
        if (typeof arg === 'string') return evalCondition(arg, ctx, seenConditions);
        break;
      case 'Fn::GetAtt': {
        const [res, attr] = typeof arg === 'string' ? [arg.split('.')[0], arg.split('.').slice(1).join('.')] : (arg as unknown[]).map(r);
        if (!ctx.getAtt) throw templateError(`Fn::GetAtt is not supported here`);
        return ctx.getAtt(String(res), String(attr));
      }
      case 'Fn::Join': {
        if (!Array.isArray(arg) || arg.length !== 2)
          throw templateError(
            'every Fn::Join object requires two parameters, (1) a string delimiter and (2) a list of strings to be joined or a function that returns a list of strings (such as Fn::GetAZs) to be joined.',
          );
        const list = r(arg[1]);
        if (!Array.isArray(list))
          throw templateError(
            'every Fn::Join object requires two parameters, (1) a string delimiter and (2) a list of strings to be joined or a function that returns a list of strings (such as Fn::GetAZs) to be joined.',
          );
        return list.map(str).join(String(r(arg[0])));
      }
      case 'Fn::Sub':
        return sub(arg, ctx, seenConditions);
      case 'Fn::Select': {
        if (!Array.isArray(arg) || arg.length !== 2)
          throw templateError('Fn::Select requires a list argument with two elements: an integer index and a list');
        const i = Number(r(arg[0]));
        const list = r(arg[1]);
        if (!Array.isArray(list) || !Number.isInteger(i) || i < 0 || i >= list.length)
          throw templateError('Fn::Select cannot select nonexistent value at index ' + r(arg[0]));
        return list[i];
      }
      case 'Fn::Split': {
        if (!Array.isArray(arg) || arg.length !== 2)
          throw templateError(
            'every Fn::Split object requires two parameters, (1) a string delimiter and (2) a string to be split or a function that returns a string to be split.',
          );
        return String(r(arg[1])).split(String(r(arg[0])));
      }
      case 'Fn::FindInMap': {
        const [m, k1, k2] = (arg as unknown[]).map((x) => str(r(x)));
        const v = ctx.mappings[m]?.[k1]?.[k2];
        if (!ctx.mappings[m]) throw templateError(`Mapping named '${m}' is not present in the 'Mappings' section of template.`);
        if (v === undefined) throw templateError(`Unable to get mapping for ${m}::${k1}::${k2}`);
        return v;
      }
      case 'Fn::GetAZs': {
        const region = str(r(arg)) || ctx.region;
        return ['a', 'b', 'c'].map((s) => region + s);
      }
      case 'Fn::ImportValue': {
        if (!ctx.importValue) throw templateError('Fn::ImportValue is not supported here');
        return ctx.importValue(str(r(arg)));
      }
      case 'Fn::Base64':
        return Buffer.from(str(r(arg))).toString('base64');
      case 'Fn::Cidr': {
        const [block, count, bits] = (arg as unknown[]).map(r);
        return cidr(String(block), Number(count), Number(bits));
      }
      case 'Fn::Length': {
        const list = r(arg);
        if (!Array.isArray(list)) throw templateError('Fn::Length requires a list');
        return list.length;
      }
      case 'Fn::ToJsonString':
        return JSON.stringify(r(arg));
      case 'Fn::If': {
        if (!Array.isArray(arg) || arg.length !== 3) throw templateError('Fn::If requires a list argument with three elements');
        return evalCondition(String(arg[0]), ctx, seenConditions) ? r(arg[1]) : r(arg[2]);
      }
      case 'Fn::Equals': {
        if (!Array.isArray(arg) || arg.length !== 2) throw templateError('Fn::Equals requires a list argument with two elements');
        return str(r(arg[0])) === str(r(arg[1]));
      }
      case 'Fn::And':
      case 'Fn::Or': {
        if (!Array.isArray(arg) || arg.length < 2 || arg.length > 10)
          throw templateError(`${k} requires a list argument with between 2 and 10 elements`);
        const vals = arg.map((c) => toBool(r(c), k));
        return k === 'Fn::And' ? vals.every(Boolean) : vals.some(Boolean);
      }
      case 'Fn::Not': {
        if (!Array.isArray(arg) || arg.length !== 1) throw templateError('Fn::Not requires a list argument with one function token');
        return !toBool(r(arg[0]), k);
      }
    }
    if (k.startsWith('Fn::') && k !== 'Fn::Transform')
      throw new AwsError('ValidationError', `Template format error: Unrecognized intrinsic function: ${k}`, 400);
  }
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    const v = r(obj[k]);
    if (v !== NO_VALUE) out[k] = v;
  }
  return out;
}

function ref(name: string, ctx: EvalContext): unknown {
  if (name === 'AWS::NoValue') return NO_VALUE;
  if (name in ctx.params) return ctx.params[name];
  if (!ctx.ref) throw templateError(`Unresolved resource dependencies [${name}]`);
  return ctx.ref(name);
}

const SUB_VAR = /\$\{([^}]*)\}/g;

function sub(arg: unknown, ctx: EvalContext, seen: string[]): string {
  let text: string;
  let vars: Record<string, unknown> = {};
  if (typeof arg === 'string') text = arg;
  else if (Array.isArray(arg) && arg.length === 2 && typeof arg[0] === 'string') {
    text = arg[0];
    vars = resolveValue(arg[1], ctx, seen);
  } else
    throw templateError(
      "One or more Fn::Sub intrinsic functions don't specify expected arguments. Specify a string as first argument, and an optional second argument to specify a mapping of values to replace in the string",
    );
  return text.replace(SUB_VAR, (whole, name: string) => {
    if (name.startsWith('!')) return '${' + name.slice(1) + '}';
    name = name.trim();
    if (name in vars) return str(vars[name]);
    if (!/^[\w.:]+$/.test(name))
      throw templateError('variable names in Fn::Sub syntax must contain only alphanumeric characters, underscores, periods, and colons');
    if (name in ctx.params || name.startsWith('AWS::') || !name.includes('.')) return str(ref(name, ctx));
    const [res, attr] = [name.slice(0, name.indexOf('.')), name.slice(name.indexOf('.') + 1)];
    if (!ctx.getAtt) throw templateError(`Unresolved resource dependencies [${res}]`);
    return str(ctx.getAtt(res, attr));
  });
}

/** Fn::Cidr over IPv4: `count` blocks of 2^bits addresses each, from the start of `block`. */
export function cidr(block: string, count: number, bits: number): string[] {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(block);
  if (!m) throw templateError(`Invalid CIDR block ${block} in Fn::Cidr`);
  const prefix = Number(m[5]);
  const base = ((+m[1] << 24) | (+m[2] << 16) | (+m[3] << 8) | +m[4]) >>> 0;
  const newPrefix = 32 - bits;
  if (count < 1 || count > 256 || bits < 0 || newPrefix < prefix || 2 ** (newPrefix - prefix) < count)
    throw templateError(`Fn::Cidr cannot fit ${count} subnets of /${newPrefix} in ${block}`);
  const start = prefix === 0 ? 0 : (base & (~0 << (32 - prefix))) >>> 0;
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const a = start + i * 2 ** bits;
    out.push(`${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}/${newPrefix}`);
  }
  return out;
}
