/**
 * Variable references in action configurations: `#{namespace.name}` where the namespace is an
 * earlier action's, `variables` (V2 pipeline-level variables) or `codepipeline`
 * (PipelineExecutionId). A reference that cannot be resolved fails the action, as on AWS.
 */
const REF = /#\{([A-Za-z0-9@\-_]+)\.([A-Za-z0-9@\-_.]+)\}/g;

export type Lookup = (namespace: string, name: string) => string | undefined;

export class UnresolvedVariable extends Error {}

export function resolveString(value: string, lookup: Lookup): string {
  if (!value.includes('#{')) return value;
  return value.replace(REF, (whole, ns: string, name: string) => {
    const v = lookup(ns, name);
    if (v === undefined) throw new UnresolvedVariable(`Unable to resolve variable '${whole.slice(2, -1)}'`);
    return v;
  });
}

export function resolveConfiguration(config: Record<string, string> | undefined, lookup: Lookup): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(config ?? {})) out[k] = resolveString(v, lookup);
  return out;
}

/** The namespaces a value refers to. */
export function referencedNamespaces(value: string): string[] {
  return [...value.matchAll(REF)].map((m) => m[1]);
}
