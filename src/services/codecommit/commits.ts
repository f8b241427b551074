/**
 * Reading history: commit specifiers (branch, tag, id) resolved from the ref files and the
 * repository's object reader, commits parsed from their objects (both without a process per
 * call), and GetDifferences from `git diff-tree`.
 */
import { AwsError } from '../../core/errors.js';
import type { CodecommitHandlers } from './api.generated.js';
import { badContinuationToken, type Codecommit } from './context.js';
import { EMPTY_TREE } from './git.js';

import { readRef } from './refs.js';
import type { RepoRow } from './store.js';
import { entryAt } from './tree.js';
import { pageByOffset } from '../../core/pagination.js';
import { checkRepositoryName } from './names.js';

const HEX40 = /^[0-9a-f]{40}$/;

export interface ParsedCommit {
  commitId: string;
  treeId: string;
  parents: string[];
  message: string;
  author: { name: string; email: string; date: string };
  committer: { name: string; email: string; date: string };
  additionalData: string;
}

function person(line: string) {
  const m = /^(.*?) ?<([^>]*)> (\d+ [+-]\d{4})$/.exec(line);
  return m ? { name: m[1], email: m[2], date: m[3] } : { name: line, email: '', date: '' };
}

export async function readCommit(cc: Codecommit, row: RepoRow, id: string): Promise<ParsedCommit | undefined> {
  if (!HEX40.test(id)) return undefined;
  const reader = cc.reader(row);
  let obj = await reader.read(id);
  // as `git cat-file commit <tag>` does, an annotated tag reads as the commit it tags
  if (obj?.type === 'tag') obj = await reader.read(`${id}^{commit}`);
  if (obj?.type !== 'commit') return undefined;
  const text = obj.content.toString('utf8');
  const split = text.indexOf('\n\n');
  const header = split < 0 ? text : text.slice(0, split);
  const c: ParsedCommit = {
    commitId: id,
    treeId: '',
    parents: [],
    message: split < 0 ? '' : text.slice(split + 2),
    author: { name: '', email: '', date: '' },
    committer: { name: '', email: '', date: '' },
    additionalData: '',
  };
  for (const line of header.split('\n')) {
    const sp = line.indexOf(' ');
    const key = line.slice(0, sp);
    const value = line.slice(sp + 1);
    if (key === 'tree') c.treeId = value;
    else if (key === 'parent') c.parents.push(value);
    else if (key === 'author') c.author = person(value);
    else if (key === 'committer') c.committer = person(value);
  }
  return c;
}

/**
 * The commit a commit specifier names (branch, tag or full id); undefined when none.
 * The default branch is used when the specifier is omitted.
 */
export async function resolveSpecifier(cc: Codecommit, row: RepoRow, spec: string | undefined): Promise<string | undefined> {
  const s = spec ?? cc.store.repoById(row.id)?.default_branch ?? undefined;
  if (!s) return undefined;
  if (HEX40.test(s)) return (await cc.reader(row).read(s))?.type === 'commit' ? s : undefined;
  if (s.startsWith('-') || /[\0\s~^:?*[\\]|\.\.|@\{/.test(s)) return undefined;
  const dir = cc.gitDir(row);
  for (const ref of [`refs/heads/${s}`, `refs/tags/${s}`]) {
    const id = await readRef(dir, ref);
    if (id) return peelCommit(cc, row, id);
  }
  return undefined;
}

/** The commit an object id is or (an annotated tag) points to; undefined for anything else. */
export async function peelCommit(cc: Codecommit, row: RepoRow, id: string): Promise<string | undefined> {
  const reader = cc.reader(row);
  const obj = await reader.read(id);
  if (obj?.type === 'commit') return obj.id;
  if (obj?.type !== 'tag') return undefined;
  const peeled = await reader.read(`${id}^{commit}`);
  return peeled?.type === 'commit' ? peeled.id : undefined;
}

/** Throws CommitDoesNotExistException for a specifier that names no commit. */
export async function requireSpecifier(cc: Codecommit, row: RepoRow, spec: string | undefined): Promise<string> {
  const id = await resolveSpecifier(cc, row, spec);
  if (!id) throw new AwsError('CommitDoesNotExistException', `Could not find commit ${spec ?? '(default branch)'}`);
  return id;
}

export const modeName = (mode: string) => (mode === '100755' ? 'EXECUTABLE' : mode === '120000' ? 'SYMLINK' : 'NORMAL');

const under = (path: string, folder: string) => folder === '' || path === folder || path.startsWith(folder.replace(/\/+$/, '') + '/');

export function commitHandlers(cc: Codecommit): CodecommitHandlers {
  const { store, git } = cc;
  return {
    async GetCommit(input, ctx) {
      const row = store.requireRepo(ctx, checkRepositoryName(input.repositoryName));
      if (!input.commitId) throw new AwsError('CommitIdRequiredException', 'A commit ID was not specified.');
      if (!HEX40.test(input.commitId)) throw new AwsError('InvalidCommitIdException', 'The specified commit ID is not valid.');
      const commit = await readCommit(cc, row, input.commitId);
      if (!commit) throw new AwsError('CommitIdDoesNotExistException', `Could not find commit ${input.commitId}`);
      return { commit };
    },

    async BatchGetCommits(input, ctx) {
      const row = store.requireRepo(ctx, checkRepositoryName(input.repositoryName));
      if (!input.commitIds?.length)
        throw new AwsError(
          'CommitIdsListRequiredException',
          'A list of commit IDs is required, but was either not specified or the list was empty.',
        );
      if (input.commitIds.length > 100)
        throw new AwsError('CommitIdsLimitExceededException', 'The maximum number of allowed commit IDs in a batch request is 100.');
      const commits: ParsedCommit[] = [];
      const errors: { commitId: string; errorCode: string; errorMessage: string }[] = [];
      for (const id of input.commitIds) {
        const c = await readCommit(cc, row, id);
        if (c) commits.push(c);
        else errors.push({ commitId: id, errorCode: 'CommitDoesNotExistException', errorMessage: `Could not find commit ${id}` });
      }
      return { commits, errors };
    },

    async GetDifferences(input, ctx) {
      const row = store.requireRepo(ctx, checkRepositoryName(input.repositoryName));
      if (!input.afterCommitSpecifier) throw new AwsError('CommitRequiredException', 'A commit was not specified.');
      const after = await requireSpecifier(cc, row, input.afterCommitSpecifier);
      const before = input.beforeCommitSpecifier ? await requireSpecifier(cc, row, input.beforeCommitSpecifier) : EMPTY_TREE;
      const dir = cc.gitDir(row);
      for (const [p, c] of [
        [input.beforePath, before],
        [input.afterPath, after],
      ] as const) {
        if (!p || c === EMPTY_TREE) continue;
        const commit = await readCommit(cc, row, c);
        const path = p.replace(/^\/+|\/+$/g, '');
        if (path && !(await entryAt(cc, row, commit?.treeId, path)))
          throw new AwsError('PathDoesNotExistException', `The specified path ${p} does not exist.`);
      }
      const out = await git.run(dir, ['diff-tree', '-r', '-z', '--no-renames', '--raw', '--full-index', before, after]);
      const parts = out.stdout.toString('utf8').split('\0');
      const all = [];
      for (let i = 0; i + 1 < parts.length; i += 2) {
        const m = /^:(\d{6}) (\d{6}) ([0-9a-f]{40}) ([0-9a-f]{40}) ([AMDT])/.exec(parts[i]);
        if (!m) continue;
        const path = parts[i + 1];
        const [, oldMode, newMode, oldId, newId, status] = m;
        const filters = [input.beforePath, input.afterPath].filter((f): f is string => !!f).map((f) => f.replace(/^\/+/, ''));
        if (filters.length && !filters.some((f) => under(path, f))) continue;
        const changeType = status === 'T' ? 'M' : status;
        all.push({
          beforeBlob: changeType === 'A' ? undefined : { blobId: oldId, path, mode: oldMode },
          afterBlob: changeType === 'D' ? undefined : { blobId: newId, path, mode: newMode },
          changeType,
        });
      }
      const max = input.MaxResults && input.MaxResults > 0 ? input.MaxResults : 100;
      const page = pageByOffset(all, input.NextToken, max, badContinuationToken);
      return { differences: page.items, NextToken: page.nextToken };
    },
  };
}
