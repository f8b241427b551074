/**
 * What a target receives: the event, a constant Input, an InputPath extract, or an InputTransformer
 * template filled from InputPathsMap. JSON paths are the subset EventBridge supports ($, dot names,
 * ['quoted'] names, [n] indices, * wildcards). Templates are parsed once per target; a placeholder
 * inside a JSON string gets the value's text, outside one the value's JSON; a plain-text template
 * gets the values' text.
 */

export class TransformError extends Error {}

type Step = { name: string } | { index: number } | { wildcard: true };

/** Parses a JSON path; throws TransformError when EventBridge would reject it. */
export function parsePath(path: string): Step[] {
  if (!path.startsWith('$')) throw new TransformError(path);
  const steps: Step[] = [];
  let i = 1;
  while (i < path.length) {
    const c = path[i];
    if (c === '.') {
      const m = /^(\*|[^.[\]]+)/.exec(path.slice(i + 1));
      if (!m) throw new TransformError(path);
      steps.push(m[1] === '*' ? { wildcard: true } : { name: m[1] });
      i += 1 + m[1].length;
    } else if (c === '[') {
      const m = /^\[(?:(\d+)|\*|'([^']*)'|"([^"]*)")\]/.exec(path.slice(i));
      if (!m) throw new TransformError(path);
      steps.push(
        m[1] !== undefined
          ? { index: Number(m[1]) }
          : m[2] !== undefined || m[3] !== undefined
            ? { name: (m[2] ?? m[3])! }
            : { wildcard: true },
      );
      i += m[0].length;
    } else throw new TransformError(path);
  }
  return steps;
}

/** The value at a parsed path; wildcards collect into an array; undefined when absent. */
export function evaluatePath(steps: Step[], doc: unknown): unknown {
  let current: unknown[] = [doc];
  let multi = false;
  for (const s of steps) {
    const next: unknown[] = [];
    for (const v of current) {
      if (v === null || typeof v !== 'object') continue;
      if ('wildcard' in s) {
        multi = true;
        next.push(...(Array.isArray(v) ? v : Object.values(v)));
      } else if ('index' in s) {
        if (Array.isArray(v) && s.index < v.length) next.push(v[s.index]);
      } else if (!Array.isArray(v) && Object.hasOwn(v, s.name)) next.push((v as Record<string, unknown>)[s.name]);
    }
    current = next;
  }
  return multi ? current : current[0];
}

export interface TemplateContext {
  event: Record<string, unknown>;
  ruleArn: string;
  ruleName: string;
  ingestionTime: string;
}

type Piece = string | { name: string; quoted: boolean };

export interface CompiledTransformer {
  render(ctx: TemplateContext): string;
}

const PREDEFINED = [
  'aws.events.rule-arn',
  'aws.events.rule-name',
  'aws.events.event.ingestion-time',
  'aws.events.event',
  'aws.events.event.json',
];

/** Validates InputPathsMap and compiles the template; throws TransformError naming the problem. */
export function compileTransformer(pathsMap: Record<string, string> | undefined, template: string): CompiledTransformer {
  const paths = new Map<string, Step[]>();
  const entries = Object.entries(pathsMap ?? {});
  if (entries.length > 100) throw new TransformError('InputPathsMap has more than 100 entries.');
  for (const [key, path] of entries) {
    if (PREDEFINED.includes(key) || key.startsWith('aws.')) throw new TransformError(`InputPathsMap key ${key} is reserved.`);
    try {
      paths.set(key, parsePath(path));
    } catch {
      throw new TransformError(`${path} is an invalid JSONPath.`);
    }
  }
  const trimmed = template.trimStart();
  const json = trimmed.startsWith('{') || trimmed.startsWith('[') || trimmed.startsWith('"');
  const pieces: Piece[] = [];
  let text = '';
  let inString = false;
  for (let i = 0; i < template.length; i++) {
    const c = template[i];
    if (c === '<') {
      const m = /^<([^<>\s]+)>/.exec(template.slice(i));
      if (m && (paths.has(m[1]) || PREDEFINED.includes(m[1]))) {
        if (text) pieces.push(text);
        text = '';
        pieces.push({ name: m[1], quoted: json ? inString : true });
        i += m[0].length - 1;
        continue;
      }
    }
    if (json) {
      if (c === '\\' && inString) {
        text += c + (template[i + 1] ?? '');
        i++;
        continue;
      }
      if (c === '"') inString = !inString;
    }
    text += c;
  }
  if (text) pieces.push(text);

  return {
    render(ctx) {
      let out = '';
      for (const p of pieces) {
        if (typeof p === 'string') {
          out += p;
          continue;
        }
        const v = lookup(p.name, ctx, paths);
        if (p.name === 'aws.events.event' || p.name === 'aws.events.event.json') out += JSON.stringify(v);
        else if (json && p.quoted) out += v === undefined ? '' : JSON.stringify(typeof v === 'string' ? v : JSON.stringify(v)).slice(1, -1);
        else if (json) out += v === undefined ? 'null' : JSON.stringify(v);
        else out += v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v);
      }
      return out;
    },
  };
}

function lookup(name: string, ctx: TemplateContext, paths: Map<string, Step[]>): unknown {
  switch (name) {
    case 'aws.events.rule-arn':
      return ctx.ruleArn;
    case 'aws.events.rule-name':
      return ctx.ruleName;
    case 'aws.events.event.ingestion-time':
      return ctx.ingestionTime;
    case 'aws.events.event': {
      const { detail: _detail, ...rest } = ctx.event;
      return rest;
    }
    case 'aws.events.event.json':
      return ctx.event;
    default:
      return evaluatePath(paths.get(name)!, ctx.event);
  }
}
