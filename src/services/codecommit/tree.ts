/**
 * Trees and commits without a working tree and without running git: a commit's tree is read
 * through the repository's ObjectReader (only the folders on the paths a change touches), the
 * requested puts/deletes/mode changes are applied to those folders in memory, and the changed
 * trees, the blobs and the commit go to an ObjectSink (objectWriter.ts): loose objects, or
 * collected for one pack with other commits. Untouched subtrees keep their ids and are never read.
 */
import { AwsError } from '../../core/errors.js';
import type { RequestContext } from '../../gateway/context.js';
import type { Codecommit } from './context.js';
import type { TreeEntry } from './objectReader.js';
import { EMPTY_TREE } from './git.js';
import { identPart, objectId, serializeCommit, serializeTree, writeObject, type ObjectSink, type TreeItem } from './objectWriter.js';
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

/**
 * The entries at `paths` (files or folders) in tree `root`, walking only the folders on those
 * paths; paths that do not exist are absent from the map.
 */
export async function lookupPaths(
  cc: Codecommit,
  row: RepoRow,
  root: string | undefined,
  paths: Iterable<string>,
): Promise<Map<string, Entry>> {
  const map = new Map<string, Entry>();
  if (!root) return map;
  const reader = cc.reader(row);
  await Promise.all(
    [...new Set(paths)].map(async (path) => {
      let id = root;
      let found: TreeEntry | undefined;
      for (const name of path.split('/')) {
        const entries = await reader.tree(id);
        found = entries?.find((e) => e.name === name);
        if (!found) return;
        id = found.id;
      }
      if (found) map.set(path, { mode: found.mode, type: found.type, id: found.id });
    }),
  );
  return map;
}

/** The entry at `path` in a tree, or undefined. */
export async function entryAt(cc: Codecommit, row: RepoRow, root: string | undefined, path: string): Promise<Entry | undefined> {
  return (await lookupPaths(cc, row, root, [path])).get(path);
}

/** Where new objects go unless a caller collects them: loose objects in the repository. */
export function looseObjects(cc: Codecommit, row: RepoRow): ObjectSink {
  const dir = cc.gitDir(row);
  return (type, content) => writeObject(dir, type, content);
}

export function writeBlob(cc: Codecommit, row: RepoRow, content: Buffer, sink = looseObjects(cc, row)): Promise<string> {
  return sink('blob', content);
}

export interface Author {
  name?: string;
  email?: string;
  message?: string;
}

/** Default author: what the caller passed, else the caller's name from its ARN (as AWS does). */
function identity(ctx: RequestContext, a: Author) {
  const fallback = identPart(ctx.caller.arn.split(/[/:]/).pop() ?? '') || 'opsbox';
  return { name: (a.name && identPart(a.name)) || fallback, email: a.email ?? '' };
}

function gitDate(ms: number) {
  return `${Math.floor(ms / 1000)} +0000`;
}

interface Edit {
  /** Entries set (or deleted: undefined) directly in this folder. */
  leaves: Map<string, Entry | undefined>;
  folders: Map<string, Edit>;
}

export interface BuiltTree {
  id: string;
  /** Folders that existed and were left empty (so are gone), e.g. "a/b". */
  emptied: string[];
}

/**
 * Builds a tree from the parent tree plus `set` (path → entry; undefined deletes), writing the
 * trees that changed. A folder left empty disappears, as in git. Entries are not checked here
 * (makeCommit does AWS's checks first); a file in the way of a new folder is replaced by it.
 */
export async function buildTree(
  cc: Codecommit,
  row: RepoRow,
  parentTree: string | undefined,
  set: Map<string, Entry | undefined>,
): Promise<string> {
  return (await buildTreeOf(cc, row, parentTree, set)).id;
}

export async function buildTreeOf(
  cc: Codecommit,
  row: RepoRow,
  parentTree: string | undefined,
  set: Map<string, Entry | undefined>,
  opts: { write?: boolean; sink?: ObjectSink } = {},
): Promise<BuiltTree> {
  const root: Edit = { leaves: new Map(), folders: new Map() };
  for (const [path, e] of set) {
    const names = path.split('/');
    let node = root;
    for (const name of names.slice(0, -1)) {
      let next = node.folders.get(name);
      if (!next) node.folders.set(name, (next = { leaves: new Map(), folders: new Map() }));
      node = next;
    }
    node.leaves.set(names[names.length - 1], e);
  }
  const reader = cc.reader(row);
  const sink = opts.sink ?? looseObjects(cc, row);
  const emptied: string[] = [];
  const writes: Promise<string>[] = [];
  const write = opts.write ?? true;

  const apply = async (node: Edit, base: string | undefined, prefix: string): Promise<string | undefined> => {
    const entries = new Map<string, TreeItem>();
    if (base) for (const e of (await reader.tree(base)) ?? []) entries.set(e.name, { name: e.name, mode: e.mode, id: e.id });
    for (const [name, e] of node.leaves) {
      if (e) entries.set(name, { name, mode: e.mode, id: e.id });
      else entries.delete(name);
    }
    await Promise.all(
      [...node.folders].map(async ([name, sub]) => {
        const old = entries.get(name);
        const oldTree = old && old.mode.replace(/^0+/, '') === '40000' ? old.id : undefined;
        const id = await apply(sub, oldTree, `${prefix}${name}/`);
        if (id) entries.set(name, { name, mode: '040000', id });
        else {
          if (oldTree) emptied.push(`${prefix}${name}`);
          entries.delete(name);
        }
      }),
    );
    if (entries.size === 0 && prefix) return undefined;
    const body = serializeTree([...entries.values()]);
    if (!write) return objectId('tree', body);
    const p = sink('tree', body);
    writes.push(p);
    return p;
  };

  const id = (await apply(root, parentTree, '')) ?? EMPTY_TREE;
  await Promise.all(writes);
  return { id, emptied };
}

export async function commitTree(
  cc: Codecommit,
  row: RepoRow,
  ctx: RequestContext,
  tree: string,
  parents: string[],
  a: Author,
  sink = looseObjects(cc, row),
): Promise<string> {
  const who = identity(ctx, a);
  const person = { ...who, date: gitDate(ctx.clock.now()) };
  return sink('commit', serializeCommit({ tree, parents, author: person, committer: person, message: a.message ?? '' }));
}

/** The tree id of a commit (CommitDoesNotExistException when `commit` names none). */
export async function treeOf(cc: Codecommit, row: RepoRow, commit: string): Promise<string> {
  const obj = await cc.reader(row).read(commit);
  const text = obj?.type === 'commit' ? obj.content.toString('latin1', 0, 46) : '';
  if (!text.startsWith('tree ')) throw new AwsError('CommitDoesNotExistException', `Could not find commit ${commit}`);
  return text.slice(5, 45);
}

/** Folder paths that are parents of `path`: "a/b/c.txt" → ["a", "a/b"]. */
export function parentsOf(path: string): string[] {
  const parts = path.split('/');
  return parts.slice(0, -1).map((_, i) => parts.slice(0, i + 1).join('/'));
}
