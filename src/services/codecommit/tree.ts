/**
 * Writing commits without a working tree: the parent's tree is listed into memory, the requested
 * puts/deletes/mode changes are checked against it (AWS's file/folder conflict errors), blobs are
 * written with `hash-object -w`, and the new tree is built in a throwaway index file
 * (read-tree + update-index --index-info + write-tree) before `commit-tree`.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { AwsError } from '../../core/errors.js';
import type { RequestContext } from '../../gateway/context.js';
import type { Codecommit } from './context.js';
import { EMPTY_TREE } from './git.js';
import type { RepoRow } from './store.js';

export interface Entry {
  mode: string;
  type: string;
  id: string;
}

export const MODES: Record<string, string> = { EXECUTABLE: '100755', NORMAL: '100644', SYMLINK: '120000' };

/**
 * A repository-relative file path, or InvalidPathException: no absolute paths, no "." or ".."
 * segments, nothing inside .git — so no path can reach outside the repository's tree.
 */
export function checkPath(p: string | undefined, what = 'path'): string {
  if (p === undefined || p === '') throw new AwsError('PathRequiredException', `The ${what} is required, but was not specified.`);
  const segments = p.split('/');
  if (
    p.startsWith('/') ||
    p.endsWith('/') ||
    p.length > 4096 ||
    /[\0\\]/.test(p) ||
    segments.some((s) => s === '' || s === '.' || s === '..' || s.toLowerCase() === '.git')
  )
    throw new AwsError('InvalidPathException', 'The specified path is not valid.');
  return p;
}

/** Every entry of a commit's tree, recursively, trees included: path → entry. */
export async function listTree(cc: Codecommit, row: RepoRow, commit: string | undefined): Promise<Map<string, Entry>> {
  const map = new Map<string, Entry>();
  if (!commit) return map;
  const out = await cc.git.run(cc.gitDir(row), ['ls-tree', '-r', '-t', '-z', '--full-tree', commit]);
  for (const rec of out.stdout.toString('utf8').split('\0')) {
    if (!rec) continue;
    const tab = rec.indexOf('\t');
    const [mode, type, id] = rec.slice(0, tab).split(' ');
    map.set(rec.slice(tab + 1), { mode, type, id });
  }
  return map;
}

export async function writeBlob(cc: Codecommit, row: RepoRow, content: Buffer): Promise<string> {
  return (await cc.git.text(cc.gitDir(row), ['hash-object', '-w', '--stdin'], { input: content }));
}

export interface Author {
  name?: string;
  email?: string;
  message?: string;
}

/** Default author: what the caller passed, else the caller's name from its ARN (as AWS does). */
function identity(ctx: RequestContext, a: Author) {
  const name = a.name || ctx.caller.arn.split(/[/:]/).pop() || 'opsbox';
  return { name, email: a.email ?? '' };
}

function gitDate(ms: number) {
  return `${Math.floor(ms / 1000)} +0000`;
}

/** Builds a tree from the parent tree plus `set` (path → entry; undefined deletes). */
export async function buildTree(cc: Codecommit, row: RepoRow, parentTree: string | undefined, set: Map<string, Entry | undefined>): Promise<string> {
  const dir = cc.gitDir(row);
  const tmp = join(cc.store.gitRoot, '.tmp');
  mkdirSync(tmp, { recursive: true });
  const index = join(tmp, `index-${randomUUID()}`);
  const env = { GIT_INDEX_FILE: index };
  try {
    await cc.git.run(dir, ['read-tree', parentTree ?? EMPTY_TREE], { env });
    const lines: string[] = [];
    for (const [path, e] of set) lines.push(e ? `${e.mode} ${e.id}\t${path}` : `0 0000000000000000000000000000000000000000\t${path}`);
    if (lines.length) await cc.git.run(dir, ['update-index', '-z', '--index-info'], { env, input: lines.join('\0') + '\0' });
    return await cc.git.text(dir, ['write-tree'], { env });
  } finally {
    rmSync(index, { force: true });
  }
}

export async function commitTree(cc: Codecommit, row: RepoRow, ctx: RequestContext, tree: string, parents: string[], a: Author): Promise<string> {
  const who = identity(ctx, a);
  const date = gitDate(ctx.clock.now());
  const args = ['commit-tree', tree, ...parents.flatMap((p) => ['-p', p])];
  return cc.git.text(cc.gitDir(row), args, {
    input: a.message ?? '',
    env: {
      GIT_AUTHOR_NAME: who.name,
      GIT_AUTHOR_EMAIL: who.email,
      GIT_AUTHOR_DATE: date,
      GIT_COMMITTER_NAME: who.name,
      GIT_COMMITTER_EMAIL: who.email,
      GIT_COMMITTER_DATE: date,
    },
  });
}

/** The tree id of a commit. */
export async function treeOf(cc: Codecommit, row: RepoRow, commit: string) {
  return cc.git.text(cc.gitDir(row), ['rev-parse', `${commit}^{tree}`]);
}

/** Folder paths that are parents of `path`: "a/b/c.txt" → ["a", "a/b"]. */
export function parentsOf(path: string): string[] {
  const parts = path.split('/');
  return parts.slice(0, -1).map((_, i) => parts.slice(0, i + 1).join('/'));
}
