/**
 * EventBridge event patterns: the language of core/eventPattern.ts as EventBridge validates it
 * (Event Ruler's grammar and words, "Event pattern is not valid. Reason: …", JSON read as its
 * Jackson parser reads it, syntax errors in Jackson's words), matched on events,
 * plus the exact source or detail-type a rule needs, by which the engine indexes its rules.
 */
import { compileTree, eventMatcher, parsePattern, RULER, type Matcher, type PatternDialect } from '../../core/eventPattern.js';

export type { Matcher } from '../../core/eventPattern.js';

export class EventPatternError extends Error {}

export interface CompiledPattern {
  match: Matcher;
  /** Exact top-level values the event must have in `field` (source or detail-type), for rule indexing. */
  index?: { field: string; values: string[] };
}

const EVENTBRIDGE: PatternDialect = {
  ...RULER,
  fail(reason: string): never {
    throw new EventPatternError(`Event pattern is not valid. Reason: ${reason}`);
  },
  jackson: true,
  // cheap, selective fields first
  rank: (k) => (k === 'source' ? 0 : k === 'detail-type' ? 1 : k === '$or' ? 3 : 2),
};

/** Parses, validates and compiles; throws EventPatternError with AWS's message. */
export function compilePattern(text: string): CompiledPattern {
  const root = parsePattern(text, EVENTBRIDGE);
  return { match: eventMatcher(compileTree(root, EVENTBRIDGE)), index: indexOf(root) };
}

/** Compiles and discards: undefined when valid, AWS's message otherwise. */
export function checkPattern(text: string): string | undefined {
  try {
    compilePattern(text);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

function indexOf(root: Record<string, unknown>): CompiledPattern['index'] {
  for (const field of ['source', 'detail-type']) {
    const v = root[field];
    if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string')) return { field, values: v as string[] };
  }
  return undefined;
}
