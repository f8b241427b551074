/**
 * Files: reading (GetFile, GetFolder, GetBlob) through the repository's object reader, and
 * committing through the API (PutFile, DeleteFile, CreateCommit). A commit is checked against the
 * branch tip (AWS's parent commit rules) and its objects are built with tree.ts without any lock,
 * then written and moved onto the branch with a compare-and-swap under the repository lock — the
 * only section concurrent commits share, and they share it: those waiting together go in one pack
 * and one update-ref round trip (Codecommit.queueRefMove). If the branch moved meanwhile, the
 * parent rules are checked again and answer ParentCommitIdOutdatedException, as AWS does.
 */
import { AwsError } from '../../core/errors.js';
import type { RequestContext } from '../../gateway/context.js';
import type { CodecommitHandlers } from './api.generated.js';
import { branchCommit, moveBranch } from './branches.js';
import { modeName, requireSpecifier } from './commits.js';
import type { Codecommit } from './context.js';
import { ZERO } from './git.js';

import type { RepoRow } from './store.js';
import { PendingObjects } from './objectWriter.js';
import {
  buildTreeOf,
  checkPath,
  commitTree,
  entryAt,
  looseObjects,
  lookupPaths,
  MODES,
  parentsOf,
  treeOf,
  writeBlob,
  type Entry,
} from './tree.js';
import { checkRepositoryName, checkBranchName } from './names.js';

const HEX40 = /^[0-9a-f]{40}$/;
const MAX_FILE = 6 * 1024 * 1024;

interface Change {
  puts: { path: string; content?: Buffer; mode?: string; source?: { path: string; move: boolean } }[];
  deletes: string[];
  modes: { path: string; mode: string }[];
}

interface CommitRequest extends Change {
  branch: string;
  parentCommitId?: string;
  keepEmptyFolders?: boolean;
  name?: string;
  email?: string;
  message?: string;
  /** PutFile answers SameFileContentException where CreateCommit answers NoChangeException. */
  sameContentError?: boolean;
}

type FileRef = { absolutePath: string; blobId: string; fileMode: string };

function checkMode(mode: string | undefined): string | undefined {
  if (mode === undefined) return undefined;
  const m = MODES[mode];
  if (!m)
    throw new AwsError(
      'InvalidFileModeException',
      'The specified file mode permission is not valid. For a list of valid file mode permissions, see PutFile.',
    );
  return m;
}

/** The parent rules every API commit follows; returns the branch's current tip (or undefined). */
async function checkParent(cc: Codecommit, row: RepoRow, branch: string, parent: string | undefined) {
  const tip = await branchCommit(cc, row, branch);
  if (!parent) {
    if (tip || [...(await cc.git.refs(cc.gitDir(row))).keys()].some((r) => r.startsWith('refs/heads/')))
      throw new AwsError(
        'ParentCommitIdRequiredException',
        'A parent commit ID is required. To view the full commit ID of a branch in a repository, use GetBranch or a Git command (for example, git pull or git log).',
      );
    return { tip, parent: undefined };
  }
  if (!HEX40.test(parent))
    throw new AwsError(
      'InvalidParentCommitIdException',
      'The parent commit ID is not valid. The commit ID cannot be empty, and must match the head commit ID for the branch of the repository where you want to add or update a file.',
    );
  if ((await cc.reader(row).read(parent))?.type !== 'commit')
    throw new AwsError(
      'ParentCommitDoesNotExistException',
      'The parent commit ID is not valid because it does not exist. The specified parent commit ID does not exist in the specified branch of the repository.',
    );
  if (tip && tip !== parent)
    throw new AwsError(
      'ParentCommitIdOutdatedException',
      'The file could not be added because the provided parent commit ID is not the current tip of the specified branch. To view the full commit ID of the current head of the branch, use GetBranch.',
    );
  return { tip, parent };
}

async function makeCommit(cc: Codecommit, row: RepoRow, ctx: RequestContext, req: CommitRequest) {
  checkBranchName(req.branch);
  for (const p of req.puts) {
    checkPath(p.path, 'file path');
    if (p.source) checkPath(p.source.path, 'source file path');
  }
  for (const d of req.deletes) checkPath(d, 'file path');
  for (const m of req.modes) checkPath(m.path, 'file path');
  const { tip, parent } = await checkParent(cc, row, req.branch, req.parentCommitId);
  // with a parent, the new objects are collected and written in one pack with those of the other
  // commits that queue for the lock at the same time (queueRefMove); nothing is written for a
  // commit refused below. Without one (a new repository's first commit) they are written loose.
  const pending = parent ? new PendingObjects() : undefined;
  const sink = pending?.sink ?? looseObjects(cc, row);
  const parentTree = parent ? await treeOf(cc, row, parent) : undefined;
  // every path the checks below look at: the changed paths, their sources and their folders
  const wanted = [
    ...req.puts.flatMap((p) => [p.path, ...(p.source ? [p.source.path] : [])]),
    ...req.deletes,
    ...req.modes.map((m) => m.path),
  ];
  const tree = await lookupPaths(cc, row, parentTree, [...wanted, ...wanted.flatMap(parentsOf)]);
  const set = new Map<string, Entry | undefined>();
  const added: FileRef[] = [];
  const updated: FileRef[] = [];
  const deleted: FileRef[] = [];
  const touched = new Set<string>();
  const claim = (path: string) => {
    if (touched.has(path))
      throw new AwsError(
        'SamePathRequestException',
        'The commit cannot be created because one or more changes in this commit duplicate actions in the same file path. For example, you cannot make the same delete request to the same file in the same file path twice, or make a delete request and a move request to the same file as part of the same commit.',
      );
    touched.add(path);
  };
  const blobAt = (path: string) => {
    const e = tree.get(path);
    if (!e || e.type !== 'blob') throw new AwsError('FileDoesNotExistException', `The file ${path} does not exist.`);
    return e;
  };

  for (const d of req.deletes) {
    const path = checkPath(d, 'file path');
    claim(path);
    const e = blobAt(path);
    set.set(path, undefined);
    deleted.push({ absolutePath: path, blobId: e.id, fileMode: modeName(e.mode) });
  }
  for (const p of req.puts) {
    const path = checkPath(p.path, 'file path');
    claim(path);
    let entry: Entry;
    if (p.source) {
      const srcPath = checkPath(p.source.path, 'source file path');
      const src = blobAt(srcPath);
      entry = { mode: checkMode(p.mode) ?? src.mode, type: 'blob', id: src.id };
      if (p.source.move) {
        claim(srcPath);
        set.set(srcPath, undefined);
        deleted.push({ absolutePath: srcPath, blobId: src.id, fileMode: modeName(src.mode) });
      }
    } else {
      if (!p.content?.length)
        throw new AwsError(
          'FileContentRequiredException',
          'The file cannot be added because it is empty. Empty files cannot be added to the repository with this API.',
        );
      if (p.content.length > MAX_FILE)
        throw new AwsError(
          'FileContentSizeLimitExceededException',
          'The file cannot be added because it is too large. The maximum file size is 6 MB, and the combined file content change size is 7 MB. Consider making these changes using a Git client.',
        );
      entry = { mode: checkMode(p.mode) ?? tree.get(path)?.mode ?? '100644', type: 'blob', id: await writeBlob(cc, row, p.content, sink) };
    }
    const existing = tree.get(path);
    if (existing?.type === 'tree')
      throw new AwsError(
        'FileNameConflictsWithDirectoryNameException',
        `The file ${path} cannot be added because it conflicts with the name of an existing directory.`,
      );
    for (const folder of parentsOf(path)) {
      const e = tree.get(folder);
      if (e && e.type !== 'tree' && set.get(folder) === undefined && !set.has(folder))
        throw new AwsError(
          'DirectoryNameConflictsWithFileNameException',
          `The directory ${folder} cannot be added because it conflicts with the name of an existing file.`,
        );
    }
    if (existing && existing.id === entry.id && existing.mode === entry.mode) {
      if (req.sameContentError)
        throw new AwsError(
          'SameFileContentException',
          'The file could not be added because the provided file contents are exactly the same as the current file contents. Verify that you are adding a file with new content.',
        );
      continue;
    }
    set.set(path, entry);
    (existing ? updated : added).push({ absolutePath: path, blobId: entry.id, fileMode: modeName(entry.mode) });
  }
  for (const m of req.modes) {
    const path = checkPath(m.path, 'file path');
    claim(path);
    const e = blobAt(path);
    const mode = checkMode(m.mode)!;
    if (mode === e.mode) continue;
    set.set(path, { ...e, mode });
    updated.push({ absolutePath: path, blobId: e.id, fileMode: modeName(mode) });
  }
  // A put nested under another put's file (a and a/b in one commit) is the same conflict.
  for (const path of set.keys())
    for (const folder of parentsOf(path))
      if (set.get(folder))
        throw new AwsError('FilePathConflictsWithSubmodulePathException', `The file ${path} conflicts with the file ${folder}.`);

  // keepEmptyFolders: a folder the deletes leave empty keeps a .gitkeep (deepest first: a
  // folder holding a kept subfolder is not empty)
  const candidates = new Set(deleted.flatMap((d) => parentsOf(d.absolutePath)));
  if (req.keepEmptyFolders && candidates.size) {
    for (;;) {
      const trial = await buildTreeOf(cc, row, parentTree, set, { write: false });
      const empty = trial.emptied.filter((f) => candidates.has(f));
      if (!empty.length) break;
      const depth = Math.max(...empty.map((f) => f.split('/').length));
      const keepId = await writeBlob(cc, row, Buffer.alloc(0), sink);
      for (const folder of empty.filter((f) => f.split('/').length === depth))
        set.set(`${folder}/.gitkeep`, { mode: '100644', type: 'blob', id: keepId });
    }
  }

  const treeId = set.size ? (await buildTreeOf(cc, row, parentTree, set, { sink })).id : parentTree;
  if (treeId === parentTree || set.size === 0)
    throw new AwsError(
      'NoChangeException',
      'The commit cannot be created because no changes will be made to the repository as a result of this commit. A commit must contain at least one change.',
    );
  const commitId = await commitTree(
    cc,
    row,
    ctx,
    treeId!,
    parent ? [parent] : [],
    { name: req.name, email: req.email, message: req.message },
    sink,
  );
  const outdated = () =>
    new AwsError(
      'ParentCommitIdOutdatedException',
      'The file could not be added because the provided parent commit ID is not the current tip of the specified branch. To view the full commit ID of the current head of the branch, use GetBranch.',
    );
  if (!parent) {
    // without a parent the rules depend on which branches exist: check them again under the lock
    await cc.withLock(row.id, async () => {
      await checkParent(cc, row, req.branch, req.parentCommitId);
      if (!(await moveBranch(cc, row, req.branch, commitId, tip ?? ZERO, ctx.caller.arn))) throw outdated();
    });
  } else if (
    !(await cc.queueRefMove(row, { ref: `refs/heads/${req.branch}`, old: tip ?? ZERO, next: commitId }, ctx.caller.arn, pending))
  ) {
    // the branch moved since we read it: the parent rules say why
    await checkParent(cc, row, req.branch, req.parentCommitId);
    throw outdated();
  }
  return { commitId, treeId: treeId!, filesAdded: added, filesUpdated: updated, filesDeleted: deleted };
}

export function fileHandlers(cc: Codecommit): CodecommitHandlers {
  const { store } = cc;
  return {
    async GetFile(input, ctx) {
      const row = store.requireRepo(ctx, checkRepositoryName(input.repositoryName));
      const path = checkPath(input.filePath?.replace(/^\/(?!\/)/, ''), 'file path');
      const commitId = await requireSpecifier(cc, row, input.commitSpecifier);
      const e = await entryAt(cc, row, await treeOf(cc, row, commitId), path);
      const blob = e?.type === 'blob' ? await cc.reader(row).read(e.id) : undefined;
      if (!e || blob?.type !== 'blob') throw new AwsError('FileDoesNotExistException', `The file ${input.filePath} does not exist.`);
      const content = blob.content;
      return { commitId, blobId: e.id, filePath: path, fileMode: modeName(e.mode), fileSize: content.length, fileContent: content };
    },

    async GetFolder(input, ctx) {
      const row = store.requireRepo(ctx, checkRepositoryName(input.repositoryName));
      const raw = input.folderPath ?? '';
      const folder = raw.replace(/^\/+|\/+$/g, '');
      if (folder) checkPath(folder, 'folder path');
      const commitId = await requireSpecifier(cc, row, input.commitSpecifier);
      const root = await treeOf(cc, row, commitId);
      const entry = folder ? await entryAt(cc, row, root, folder) : { type: 'tree', id: root };
      const listing = entry?.type === 'tree' ? await cc.reader(row).tree(entry.id) : undefined;
      if (!entry || !listing) throw new AwsError('FolderDoesNotExistException', `The folder ${raw} does not exist.`);
      const treeId = entry.id;
      const subFolders = [];
      const files = [];
      const symbolicLinks = [];
      const subModules = [];
      for (const { name: relativePath, mode, type, id } of listing) {
        const absolutePath = folder ? `${folder}/${relativePath}` : relativePath;
        if (type === 'tree') subFolders.push({ treeId: id, absolutePath, relativePath });
        else if (type === 'commit') subModules.push({ commitId: id, absolutePath, relativePath });
        else if (mode === '120000') symbolicLinks.push({ blobId: id, absolutePath, relativePath, fileMode: 'SYMLINK' });
        else files.push({ blobId: id, absolutePath, relativePath, fileMode: modeName(mode) });
      }
      return { commitId, folderPath: raw || '/', treeId, subFolders, files, symbolicLinks, subModules };
    },

    async GetBlob(input, ctx) {
      const row = store.requireRepo(ctx, checkRepositoryName(input.repositoryName));
      if (!input.blobId) throw new AwsError('BlobIdRequiredException', 'A blob ID is required, but was not specified.');
      if (!HEX40.test(input.blobId)) throw new AwsError('InvalidBlobIdException', 'The specified blob is not valid.');
      const blob = await cc.reader(row).read(input.blobId);
      if (blob?.type !== 'blob') throw new AwsError('BlobIdDoesNotExistException', `Could not find blob ${input.blobId}`);
      return { content: blob.content };
    },

    async PutFile(input, ctx) {
      const row = store.requireRepo(ctx, checkRepositoryName(input.repositoryName));
      const r = await makeCommit(cc, row, ctx, {
        branch: input.branchName,
        parentCommitId: input.parentCommitId,
        puts: [{ path: input.filePath, content: input.fileContent, mode: input.fileMode }],
        deletes: [],
        modes: [],
        name: input.name,
        email: input.email,
        message: input.commitMessage,
        sameContentError: true,
      });
      return { commitId: r.commitId, blobId: (r.filesAdded[0] ?? r.filesUpdated[0]).blobId, treeId: r.treeId };
    },

    async DeleteFile(input, ctx) {
      const row = store.requireRepo(ctx, checkRepositoryName(input.repositoryName));
      const r = await makeCommit(cc, row, ctx, {
        branch: input.branchName,
        parentCommitId: input.parentCommitId,
        puts: [],
        deletes: [input.filePath],
        modes: [],
        keepEmptyFolders: input.keepEmptyFolders,
        name: input.name,
        email: input.email,
        message: input.commitMessage,
      });
      return { commitId: r.commitId, blobId: r.filesDeleted[0].blobId, treeId: r.treeId, filePath: input.filePath };
    },

    async CreateCommit(input, ctx) {
      const row = store.requireRepo(ctx, checkRepositoryName(input.repositoryName));
      const puts = (input.putFiles ?? []).map((p) => ({
        path: p.filePath,
        content: p.fileContent,
        mode: p.fileMode,
        source: p.sourceFile ? { path: p.sourceFile.filePath, move: !!p.sourceFile.isMove } : undefined,
      }));
      for (const p of puts) {
        if (p.source && p.content?.length)
          throw new AwsError(
            'FileContentAndSourceFileSpecifiedException',
            'The commit cannot be created because both a source file and file content have been specified for the same file. You cannot provide both. Either specify a source file or provide the file content directly.',
          );
        if (!p.source && !p.content?.length)
          throw new AwsError(
            'SourceFileOrContentRequiredException',
            'The commit cannot be created because no source files or file content have been specified for the commit.',
          );
      }
      const deletes = (input.deleteFiles ?? []).map((d) => d.filePath);
      const modes = (input.setFileModes ?? []).map((m) => ({ path: m.filePath, mode: m.fileMode }));
      if (!puts.length && !deletes.length && !modes.length)
        throw new AwsError(
          'FileEntryRequiredException',
          'The commit cannot be created because no files have been specified as added, updated, or changed (PutFile or DeleteFile) for the commit.',
        );
      if (puts.length + deletes.length + modes.length > 100)
        throw new AwsError(
          'MaximumFileEntriesExceededException',
          'The number of specified files to change as part of this commit exceeds the maximum number of files that can be changed in a single commit. Consider using a Git client for these changes.',
        );
      return makeCommit(cc, row, ctx, {
        branch: input.branchName,
        parentCommitId: input.parentCommitId,
        puts,
        deletes,
        modes,
        keepEmptyFolders: input.keepEmptyFolders,
        name: input.authorName,
        email: input.email,
        message: input.commitMessage,
      });
    },
  };
}
