/**
 * V2 trigger filters: AWS's glob syntax (`*` within a path component, `**` across components, `?`,
 * `[set]`, `{a,b}`, backslash escapes) and the push filter rule: a push starts the pipeline when
 * its tag, or its branch and (when file paths are filtered) one of its changed files, is included
 * and not excluded.
 */
const cache = new Map<string, RegExp>();

export function globToRegExp(glob: string): RegExp {
  let re = cache.get(glob);
  if (re) return re;
  let out = '';
  let inGroup = 0;
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i];
    if (ch === '\\' && i + 1 < glob.length) out += escape(glob[++i]);
    else if (ch === '*') {
      if (glob[i + 1] === '*') {
        i++;
        // "**/" also matches no directory at all
        if (glob[i + 1] === '/') {
          i++;
          out += '(?:.*/)?';
        } else out += '.*';
      } else out += '[^/]*';
    } else if (ch === '?') out += '[^/]';
    else if (ch === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end === -1) out += '\\[';
      else {
        let set = glob.slice(i + 1, end);
        if (set.startsWith('!')) set = '^' + set.slice(1);
        out += `[${set.replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else if (ch === '{') {
      inGroup++;
      out += '(?:';
    } else if (ch === '}' && inGroup) {
      inGroup--;
      out += ')';
    } else if (ch === ',' && inGroup) out += '|';
    else out += escape(ch);
  }
  re = new RegExp(`^${out}$`);
  cache.set(glob, re);
  return re;
}

const escape = (c: string) => c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

export interface FilterCriteria {
  includes?: string[];
  excludes?: string[];
}

/** Included (no includes means everything) and not excluded. */
export function matches(value: string, f: FilterCriteria | undefined): boolean {
  if (!f) return true;
  if (f.includes?.length && !f.includes.some((g) => globToRegExp(g).test(value))) return false;
  if (f.excludes?.some((g) => globToRegExp(g).test(value))) return false;
  return true;
}

export interface PushFilter {
  tags?: FilterCriteria;
  branches?: FilterCriteria;
  filePaths?: FilterCriteria;
}

export interface PushFacts {
  branch?: string;
  tag?: string;
  /** Loaded only when a filter needs the changed files. */
  files?: () => Promise<string[]>;
}

/** Whether a push passes one of the trigger's push filters (no filters: every push of any branch). */
export async function pushMatches(filters: PushFilter[] | undefined, push: PushFacts): Promise<boolean> {
  if (!filters || filters.length === 0) return push.branch !== undefined;
  for (const f of filters) {
    if (push.tag !== undefined) {
      if (f.tags && matches(push.tag, f.tags)) return true;
      continue;
    }
    if (f.tags || push.branch === undefined) continue;
    if (!matches(push.branch, f.branches)) continue;
    if (!f.filePaths) return true;
    const files = (await push.files?.()) ?? [];
    if (files.some((p) => matches(p, f.filePaths))) return true;
  }
  return false;
}
