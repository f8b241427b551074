/**
 * Which files go into a build artifact (and which files a report group reads): the buildspec's
 * `files` globs, relative to the source root or to each directory matched by `base-directory`,
 * minus `exclude-paths`, flattened by `discard-paths`. Glob syntax: `**` any number of directories,
 * `*` and `?` within one path segment (dotfiles included, as Go's matcher does), `[...]` classes,
 * `{a,b}` alternatives. A pattern naming a directory takes everything under it. Paths that leave
 * the root (`..`, absolute paths, symlinks pointing outside) never match.
 * Reference: "Build specification reference for CodeBuild", artifacts/files, base-directory, discard-paths.
 */
import { lstat, readdir, readlink, realpath, stat } from 'node:fs/promises';
import { join, posix, relative, resolve, sep } from 'node:path';
import type { ArtifactsSpec } from './buildspec.js';

/** UPLOAD_ARTIFACTS fails with this PhaseContext when no file matches; the log reads "CLIENT_ERROR: no matching artifact paths found". */
export class NoMatchingArtifactError extends Error {
  readonly statusCode = 'CLIENT_ERROR';
  constructor(message = 'no matching artifact paths found') {
    super(message);
    this.name = 'NoMatchingArtifactError';
  }
  get display(): string {
    return `${this.statusCode}: ${this.message}`;
  }
}

export interface ArtifactFile {
  /** Absolute path on disk. */
  path: string;
  /** Path inside the artifact (POSIX separators). */
  name: string;
  /** Set when enable-symlinks is on and the file is a symlink: keep it as a link to this target. */
  linkTarget?: string;
}

/** Compiles one glob to an anchored RegExp over a relative POSIX path. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  let i = 0;
  let braces = 0;
  while (i < glob.length) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        const atStart = i === 0 || glob[i - 1] === '/';
        const atEnd = i + 2 === glob.length || glob[i + 2] === '/';
        if (atStart && atEnd) {
          if (i + 2 === glob.length)
            re += '.*'; // trailing "**": everything below
          else re += '(?:[^/]*/)*'; // "**/": zero or more directories
          i += i + 2 === glob.length ? 2 : 3;
          continue;
        }
        re += '[^/]*';
        i += 2;
        continue;
      }
      re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        let body = glob.slice(i + 1, end);
        const neg = body[0] === '!' || body[0] === '^';
        if (neg) body = body.slice(1);
        re += `[${neg ? '^' : ''}${body.replace(/[\\\]]/g, '\\$&')}]`;
        i = end;
      }
    } else if (c === '{') {
      braces++;
      re += '(?:';
    } else if (c === '}' && braces > 0) {
      braces--;
      re += ')';
    } else if (c === ',' && braces > 0) re += '|';
    else if (c === '\\' && i + 1 < glob.length) {
      i++;
      re += glob[i]!.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    i++;
  }
  while (braces-- > 0) re += ')';
  return new RegExp(`^${re}$`);
}

/** Normalizes a buildspec path pattern; undefined when it would leave the root. */
export function normalizePattern(p: string): string | undefined {
  let s = p.trim().replace(/\\/g, '/');
  if (s === '' || s.startsWith('/')) return undefined;
  s = s.replace(/\/{2,}/g, '/');
  while (s.startsWith('./')) s = s.slice(2);
  const segs = s.split('/').filter((x, i, a) => x !== '.' && !(x === '' && i === a.length - 1));
  if (segs.includes('..')) return undefined;
  return segs.join('/') || undefined;
}

interface Entry {
  rel: string;
  abs: string;
  dir: boolean;
  link?: string;
}

/** Every file and directory under `dir` (relative POSIX paths), following in-root symlinks once. */
async function walk(root: string, dir: string, keepLinks: boolean): Promise<Entry[]> {
  const realRoot = await realpath(root);
  const out: Entry[] = [];
  const seen = new Set<string>();
  const inRoot = (p: string) => p === realRoot || p.startsWith(realRoot + sep);
  const visit = async (abs: string, rel: string): Promise<void> => {
    const real = await realpath(abs).catch(() => undefined);
    if (!real || !inRoot(real) || seen.has(real)) return;
    seen.add(real);
    const names = await readdir(abs).catch(() => [] as string[]);
    names.sort();
    for (const name of names) {
      const childAbs = join(abs, name);
      const childRel = rel ? `${rel}/${name}` : name;
      const l = await lstat(childAbs).catch(() => undefined);
      if (!l) continue;
      if (l.isSymbolicLink()) {
        const target = await realpath(childAbs).catch(() => undefined);
        if (!target || !inRoot(target)) continue; // dangling or outside the source tree
        const s = await stat(childAbs);
        if (keepLinks && s.isFile()) {
          out.push({ rel: childRel, abs: childAbs, dir: false, link: await readlink(childAbs) });
          continue;
        }
        if (s.isDirectory()) {
          out.push({ rel: childRel, abs: childAbs, dir: true });
          await visit(childAbs, childRel);
        } else if (s.isFile()) out.push({ rel: childRel, abs: childAbs, dir: false });
      } else if (l.isDirectory()) {
        out.push({ rel: childRel, abs: childAbs, dir: true });
        await visit(childAbs, childRel);
      } else if (l.isFile()) out.push({ rel: childRel, abs: childAbs, dir: false });
    }
  };
  await visit(dir, '');
  return out;
}

/** The directories `base-directory` names (it may be a glob over top-level directories, e.g. 'my-build*'). */
async function baseDirs(rootDir: string, base: string | undefined): Promise<string[]> {
  if (base === undefined || base.trim() === '' || base.trim() === '.') return [rootDir];
  const pat = normalizePattern(base);
  if (!pat) return [];
  if (!/[*?[{]/.test(pat)) {
    const abs = resolve(rootDir, pat);
    const s = await stat(abs).catch(() => undefined);
    const real = s?.isDirectory() ? await realpath(abs) : undefined;
    const realRoot = await realpath(rootDir);
    return real && (real === realRoot || real.startsWith(realRoot + sep)) ? [abs] : [];
  }
  const re = globToRegExp(pat);
  return (await walk(rootDir, rootDir, false)).filter((e) => e.dir && re.test(e.rel)).map((e) => e.abs);
}

/**
 * The files an artifact (or report group) collects, in a stable order. Throws NoMatchingArtifactError
 * when nothing matches.
 */
export async function selectArtifactFiles(rootDir: string, spec: ArtifactsSpec): Promise<ArtifactFile[]> {
  const root = resolve(rootDir);
  const include = spec.files.map(normalizePattern).filter((p): p is string => !!p);
  const exclude = (spec.excludePaths ?? []).map(normalizePattern).filter((p): p is string => !!p);
  const inc = include.map(globToRegExp);
  const exc = exclude.map(globToRegExp);
  // A plain path naming a directory (or ending in "/") takes everything below it; `dir/*` stays one level deep.
  const incDirs = include.filter((p) => !/[*?[{]/.test(p)).map((p) => globToRegExp(`${p}/**`));
  const out: ArtifactFile[] = [];
  const names = new Set<string>();
  for (const base of await baseDirs(root, spec.baseDirectory)) {
    const entries = await walk(root, base, !!spec.enableSymlinks);
    for (const e of entries) {
      if (e.dir) continue;
      if (!inc.some((r) => r.test(e.rel)) && !incDirs.some((r) => r.test(e.rel))) continue;
      if (exc.some((r) => r.test(e.rel))) continue;
      const name = spec.discardPaths ? posix.basename(e.rel) : e.rel;
      if (names.has(name)) continue; // the first one wins when discard-paths collides
      names.add(name);
      out.push(e.link !== undefined ? { path: e.abs, name, linkTarget: e.link } : { path: e.abs, name });
    }
  }
  if (out.length === 0) throw new NoMatchingArtifactError();
  return out;
}

/** For callers that print paths relative to the source root. */
export const relativeToRoot = (rootDir: string, abs: string): string => relative(rootDir, abs).split(sep).join('/');
