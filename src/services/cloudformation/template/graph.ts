/**
 * Dependencies between resources: every Ref, Fn::GetAtt and ${…} of Fn::Sub that names a resource,
 * plus DependsOn. `order()` gives the waves a stack runs in (each wave's resources depend only on
 * earlier ones, so a wave runs concurrently) and finds cycles, worded as AWS words them.
 */
import { AwsError } from '../../../core/errors.js';
import type { Template } from './parse.js';

/** Names a fragment refers to (resources, parameters, pseudo parameters alike); Sub variables included. */
export function referencedNames(value: unknown, out = new Set<string>(), local: Set<string> = new Set()): Set<string> {
  if (Array.isArray(value)) {
    for (const v of value) referencedNames(v, out, local);
    return out;
  }
  if (typeof value !== 'object' || value === null) return out;
  const obj = value as Record<string, any>;
  const keys = Object.keys(obj);
  if (keys.length === 1) {
    const [k] = keys;
    const arg = obj[k];
    if (k === 'Ref' && typeof arg === 'string') {
      if (!local.has(arg)) out.add(arg);
      return out;
    }
    if (k === 'Fn::GetAtt') {
      const name = typeof arg === 'string' ? arg.split('.')[0] : Array.isArray(arg) ? arg[0] : undefined;
      if (typeof name === 'string') out.add(name);
      else referencedNames(arg, out, local);
      return out;
    }
    if (k === 'Fn::Sub') {
      const text = typeof arg === 'string' ? arg : Array.isArray(arg) ? arg[0] : undefined;
      const vars = Array.isArray(arg) && typeof arg[1] === 'object' && arg[1] ? arg[1] : {};
      referencedNames(vars, out, local);
      if (typeof text === 'string')
        for (const m of text.matchAll(/\$\{([^!}][^}]*)\}/g)) {
          const name = m[1].trim().split('.')[0];
          if (!(m[1].trim() in vars) && !name.startsWith('AWS::') && !local.has(name)) out.add(name);
        }
      return out;
    }
  }
  for (const k of keys) referencedNames(obj[k], out, local);
  return out;
}

export const dependsOnList = (d: unknown): string[] => (d === undefined ? [] : Array.isArray(d) ? d.map(String) : [String(d)]);

/** Each resource's dependencies on other resources of the template. */
export function dependencies(template: Template): Map<string, Set<string>> {
  const resources = template.Resources ?? {};
  const deps = new Map<string, Set<string>>();
  for (const [id, r] of Object.entries(resources)) {
    const names = referencedNames(r.Properties);
    for (const d of dependsOnList(r.DependsOn)) names.add(d);
    deps.set(id, new Set([...names].filter((n) => n in resources && n !== id)));
  }
  return deps;
}

/** Topological waves; throws "Circular dependency between resources: [A, B]" on a cycle. */
export function order(deps: Map<string, Set<string>>): string[][] {
  const done = new Set<string>();
  const waves: string[][] = [];
  while (done.size < deps.size) {
    const wave = [...deps.keys()].filter((id) => !done.has(id) && [...deps.get(id)!].every((d) => done.has(d)));
    if (!wave.length) {
      const left = [...deps.keys()].filter((id) => !done.has(id)).sort();
      throw new AwsError('ValidationError', `Circular dependency between resources: [${left.join(', ')}]`, 400);
    }
    wave.sort();
    for (const id of wave) done.add(id);
    waves.push(wave);
  }
  return waves;
}

/** Who depends on whom, reversed: the resources that must be deleted before each one. */
export function dependents(deps: Map<string, Set<string>>): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const id of deps.keys()) out.set(id, new Set());
  for (const [id, ds] of deps) for (const d of ds) out.get(d)?.add(id);
  return out;
}
