/**
 * Merging, shared by the branch merge operations and pull requests: fast-forward checks with
 * `merge-base --is-ancestor`, real three-way merges with `merge-tree --write-tree` (conflicts are
 * git's own), the ACCEPT_SOURCE / ACCEPT_DESTINATION strategies and explicit conflictResolution
 * applied over git's result, and squash commits (the merged tree with the destination as only parent).
 */
import { AwsError } from '../../core/errors.js';
import type { RequestContext } from '../../gateway/context.js';
import type { CodecommitHandlers } from './api.generated.js';
import { branchCommit, moveBranch } from './branches.js';
import { requireSpecifier } from './commits.js';
import type { Codecommit } from './context.js';

import type { RepoRow } from './store.js';
import { buildTree, checkPath, commitTree, MODES, treeOf, writeBlob, type Author, type Entry } from './tree.js';
import { checkRepositoryName, checkBranchName } from './names.js';

export type MergeOption = 'FAST_FORWARD_MERGE' | 'SQUASH_MERGE' | 'THREE_WAY_MERGE';

export interface ConflictStage {
  mode: string;
  id: string;
}

export interface TreeMerge {
  treeId: string;
  /** path → stages (1 base, 2 destination, 3 source) for conflicted paths. */
  conflicts: Map<string, Record<number, ConflictStage>>;
  baseCommitId?: string;
}

export interface Resolution {
  strategy?: string;
  replaceContents?: { filePath: string; replacementType: string; content?: Buffer; fileMode?: string }[];
  deleteFiles?: { filePath: string }[];
  setFileModes?: { filePath: string; fileMode: string }[];
}

export const manualMerge = () =>
  new AwsError(
    'ManualMergeRequiredException',
    'The pull request cannot be merged automatically into the destination branch. You must manually merge the branches and resolve any conflicts.',
  );

export async function isAncestor(cc: Codecommit, row: RepoRow, a: string, b: string) {
  const r = await cc.git.run(cc.gitDir(row), ['merge-base', '--is-ancestor', a, b], { okCodes: [1] });
  return r.code === 0;
}

export async function mergeBase(cc: Codecommit, row: RepoRow, a: string, b: string): Promise<string | undefined> {
  const r = await cc.git.run(cc.gitDir(row), ['merge-base', a, b], { okCodes: [1] });
  return r.code === 0 ? r.stdout.toString().trim() : undefined;
}

/** git's three-way merge of source into destination, without touching any ref. */
export async function mergeTrees(cc: Codecommit, row: RepoRow, destination: string, source: string): Promise<TreeMerge> {
  const baseCommitId = await mergeBase(cc, row, destination, source);
  if (!baseCommitId) throw manualMerge();
  const r = await cc.git.run(cc.gitDir(row), ['merge-tree', '--write-tree', '--no-messages', '-z', destination, source], { okCodes: [1] });
  const parts = r.stdout.toString('utf8').split('\0');
  const conflicts = new Map<string, Record<number, ConflictStage>>();
  for (const rec of parts.slice(1)) {
    if (!rec) break;
    const tab = rec.indexOf('\t');
    const [mode, id, stage] = rec.slice(0, tab).split(' ');
    const path = rec.slice(tab + 1);
    const stages = conflicts.get(path) ?? {};
    stages[Number(stage)] = { mode, id };
    conflicts.set(path, stages);
  }
  return { treeId: parts[0], conflicts, baseCommitId };
}

/** Applies a conflict resolution strategy / explicit resolution to a conflicted merge. */
export async function resolveConflicts(cc: Codecommit, row: RepoRow, merge: TreeMerge, resolution: Resolution): Promise<string> {
  if (merge.conflicts.size === 0) return merge.treeId;
  const strategy = resolution.strategy ?? 'NONE';
  const set = new Map<string, Entry | undefined>();
  for (const [path, stages] of merge.conflicts) {
    if (strategy === 'ACCEPT_SOURCE' || strategy === 'ACCEPT_DESTINATION') {
      const pick = stages[strategy === 'ACCEPT_SOURCE' ? 3 : 2];
      set.set(path, pick ? { mode: pick.mode, type: 'blob', id: pick.id } : undefined);
    }
  }
  for (const r of resolution.replaceContents ?? []) {
    const path = checkPath(r.filePath, 'file path');
    const stages = merge.conflicts.get(path);
    if (!stages) throw new AwsError('InvalidConflictResolutionException', `The file ${path} is not in conflict.`);
    let pick: ConflictStage | undefined;
    if (r.replacementType === 'KEEP_BASE') pick = stages[1];
    else if (r.replacementType === 'KEEP_SOURCE') pick = stages[3];
    else if (r.replacementType === 'KEEP_DESTINATION') pick = stages[2];
    else if (r.replacementType === 'USE_NEW_CONTENT') {
      if (!r.content)
        throw new AwsError(
          'ReplacementContentRequiredException',
          'USE_NEW_CONTENT was specified, but no replacement content has been provided.',
        );
      pick = { mode: (r.fileMode && MODES[r.fileMode]) ?? stages[2]?.mode ?? '100644', id: await writeBlob(cc, row, r.content) };
    } else
      throw new AwsError(
        'InvalidReplacementTypeException',
        'Automerge was specified for resolving the conflict, but the specified replacement type is not valid.',
      );
    set.set(path, pick ? { mode: (r.fileMode && MODES[r.fileMode]) ?? pick.mode, type: 'blob', id: pick.id } : undefined);
  }
  for (const d of resolution.deleteFiles ?? []) set.set(checkPath(d.filePath, 'file path'), undefined);
  for (const path of merge.conflicts.keys()) if (!set.has(path)) throw manualMerge();
  for (const m of resolution.setFileModes ?? []) {
    const e = set.get(m.filePath);
    if (e && MODES[m.fileMode]) set.set(m.filePath, { ...e, mode: MODES[m.fileMode] });
  }
  return buildTree(cc, row, merge.treeId, set);
}

export interface MergeRequest extends Author {
  source: string;
  destination: string;
  option: MergeOption;
  /** Branch to move; undefined for an unreferenced merge commit. */
  targetBranch?: string;
  conflictResolutionStrategy?: string;
  conflictDetailLevel?: string;
  conflictResolution?: Omit<Resolution, 'strategy'>;
}

/** The commit and conflict settings every merging operation takes, as MergeRequest names them. */
export function mergeSettings(input: {
  authorName?: string;
  email?: string;
  commitMessage?: string;
  conflictResolutionStrategy?: string;
  conflictDetailLevel?: string;
  conflictResolution?: Omit<Resolution, 'strategy'>;
}) {
  return {
    name: input.authorName,
    email: input.email,
    message: input.commitMessage,
    conflictResolutionStrategy: input.conflictResolutionStrategy,
    conflictDetailLevel: input.conflictDetailLevel,
    conflictResolution: input.conflictResolution,
  };
}

/** Produces the merge commit (or the fast-forward target) and moves the branch; returns the new tip. */
export async function merge(
  cc: Codecommit,
  row: RepoRow,
  ctx: RequestContext,
  req: MergeRequest,
): Promise<{ commitId: string; treeId: string; baseCommitId?: string }> {
  const tree = (c: string) => treeOf(cc, row, c);
  let commitId: string;
  let baseCommitId: string | undefined;
  if (req.option === 'FAST_FORWARD_MERGE') {
    if (!(await isAncestor(cc, row, req.destination, req.source))) throw manualMerge();
    commitId = req.source;
    baseCommitId = req.destination;
  } else {
    if (await isAncestor(cc, row, req.source, req.destination)) {
      commitId = req.destination;
    } else {
      const m = await mergeTrees(cc, row, req.destination, req.source);
      baseCommitId = m.baseCommitId;
      const treeId = await resolveConflicts(cc, row, m, { strategy: req.conflictResolutionStrategy, ...req.conflictResolution });
      const parents = req.option === 'THREE_WAY_MERGE' ? [req.destination, req.source] : [req.destination];
      const message =
        req.message ??
        (req.option === 'THREE_WAY_MERGE' ? `Merge ${req.source} into ${req.destination}` : `Squash ${req.source} into ${req.destination}`);
      commitId = await commitTree(cc, row, ctx, treeId, parents, { ...req, message });
    }
  }
  if (req.targetBranch && commitId !== req.destination) {
    const moved = await moveBranch(cc, row, req.targetBranch, commitId, req.destination, ctx.caller.arn, {
      baseCommitId,
      sourceCommitId: req.source,
      destinationCommitId: req.destination,
      mergeOption: req.option,
      conflictDetailsLevel: req.conflictDetailLevel ?? 'FILE_LEVEL',
      conflictResolutionStrategy: req.conflictResolutionStrategy ?? 'NONE',
    });
    if (!moved)
      throw new AwsError(
        'ConcurrentReferenceUpdateException',
        'The merge cannot be completed because the target branch has been modified. Another user might have modified the target branch while the merge was in progress. Wait a few minutes, and then try again.',
      );
  }
  return { commitId, treeId: await tree(commitId), baseCommitId };
}

async function blobInfo(cc: Codecommit, row: RepoRow, s: ConflictStage | undefined) {
  if (!s) return { size: undefined, binary: false };
  const obj = await cc.reader(row).read(s.id);
  const content = obj?.type === 'blob' ? obj.content : Buffer.alloc(0);
  return { size: content.length, binary: content.subarray(0, 8000).includes(0) };
}

const modeOf = (s?: ConflictStage) => (s ? (s.mode === '100755' ? 'EXECUTABLE' : s.mode === '120000' ? 'SYMLINK' : 'NORMAL') : undefined);
const typeOf = (s?: ConflictStage) => (s ? (s.mode === '120000' ? 'SYMBOLIC_LINK' : s.mode === '160000' ? 'GIT_LINK' : 'FILE') : undefined);
const op = (base?: ConflictStage, side?: ConflictStage) => (!side ? 'D' : !base ? 'A' : 'M');

/** AWS's ConflictMetadata for each conflicted path of a merge. */
export async function conflictMetadata(cc: Codecommit, row: RepoRow, m: TreeMerge) {
  const list = [];
  for (const [filePath, st] of m.conflicts) {
    const [b, d, s] = await Promise.all([blobInfo(cc, row, st[1]), blobInfo(cc, row, st[2]), blobInfo(cc, row, st[3])]);
    list.push({
      filePath,
      fileSizes: { base: b.size, destination: d.size, source: s.size },
      fileModes: { base: modeOf(st[1]), destination: modeOf(st[2]), source: modeOf(st[3]) },
      objectTypes: { base: typeOf(st[1]), destination: typeOf(st[2]), source: typeOf(st[3]) },
      numberOfConflicts: 1,
      isBinaryFile: { base: b.binary, destination: d.binary, source: s.binary },
      contentConflict: !!(st[2] && st[3]),
      fileModeConflict: !!(st[2] && st[3] && st[2].mode !== st[3].mode),
      objectTypeConflict: typeOf(st[2]) !== typeOf(st[3]) && !!st[2] && !!st[3],
      mergeOperations: { source: op(st[1], st[3]), destination: op(st[1], st[2]) },
    });
  }
  return list;
}

const OPTIONS = ['FAST_FORWARD_MERGE', 'SQUASH_MERGE', 'THREE_WAY_MERGE'];
export function checkMergeOption(o: string | undefined): MergeOption {
  if (!o) throw new AwsError('MergeOptionRequiredException', 'A merge option or stategy is required, and none was provided.');
  if (!OPTIONS.includes(o))
    throw new AwsError(
      'InvalidMergeOptionException',
      'The specified merge option is not valid for this operation. Not all merge strategies are supported for all operations.',
    );
  return o as MergeOption;
}

export function mergeHandlers(cc: Codecommit): CodecommitHandlers {
  const { store } = cc;

  async function specs(
    ctx: RequestContext,
    input: { repositoryName: string; sourceCommitSpecifier: string; destinationCommitSpecifier: string },
  ) {
    const row = store.requireRepo(ctx, checkRepositoryName(input.repositoryName));
    const source = await requireSpecifier(cc, row, input.sourceCommitSpecifier);
    const destination = await requireSpecifier(cc, row, input.destinationCommitSpecifier);
    return { row, source, destination };
  }

  async function mergeBranches(
    option: MergeOption,
    input: {
      repositoryName: string;
      sourceCommitSpecifier: string;
      destinationCommitSpecifier: string;
      targetBranch?: string;
      authorName?: string;
      email?: string;
      commitMessage?: string;
      conflictResolutionStrategy?: string;
      conflictDetailLevel?: string;
      conflictResolution?: Resolution;
    },
    ctx: RequestContext,
  ) {
    const { row, source } = await specs(ctx, input);
    const target = input.targetBranch ?? input.destinationCommitSpecifier;
    checkBranchName(target);
    return cc.withLock(row.id, async () => {
      const destination = await branchCommit(cc, row, target);
      if (!destination) throw new AwsError('BranchDoesNotExistException', `Branch ${target} does not exist`);
      const r = await merge(cc, row, ctx, {
        source,
        destination,
        option,
        targetBranch: target,
        ...mergeSettings(input),
      });
      return { commitId: r.commitId, treeId: r.treeId };
    });
  }

  return {
    MergeBranchesByFastForward: (input, ctx) => mergeBranches('FAST_FORWARD_MERGE', input, ctx),
    MergeBranchesBySquash: (input, ctx) => mergeBranches('SQUASH_MERGE', input, ctx),
    MergeBranchesByThreeWay: (input, ctx) => mergeBranches('THREE_WAY_MERGE', input, ctx),

    async CreateUnreferencedMergeCommit(input, ctx) {
      const { row, source, destination } = await specs(ctx, input);
      const r = await merge(cc, row, ctx, {
        source,
        destination,
        option: checkMergeOption(input.mergeOption),
        ...mergeSettings(input),
      });
      return { commitId: r.commitId, treeId: r.treeId };
    },

    async GetMergeOptions(input, ctx) {
      const { row, source, destination } = await specs(ctx, input);
      const m = await mergeTrees(cc, row, destination, source);
      const mergeOptions: string[] = [];
      if (await isAncestor(cc, row, destination, source)) mergeOptions.push('FAST_FORWARD_MERGE');
      if (m.conflicts.size === 0 || (input.conflictResolutionStrategy && input.conflictResolutionStrategy !== 'NONE'))
        mergeOptions.push('SQUASH_MERGE', 'THREE_WAY_MERGE');
      return { mergeOptions, sourceCommitId: source, destinationCommitId: destination, baseCommitId: m.baseCommitId };
    },

    async GetMergeConflicts(input, ctx) {
      const { row, source, destination } = await specs(ctx, input);
      const option = checkMergeOption(input.mergeOption);
      const m = await mergeTrees(cc, row, destination, source);
      const ff = await isAncestor(cc, row, destination, source);
      const mergeable = option === 'FAST_FORWARD_MERGE' ? ff : m.conflicts.size === 0;
      return {
        mergeable,
        destinationCommitId: destination,
        sourceCommitId: source,
        baseCommitId: m.baseCommitId,
        conflictMetadataList: option === 'FAST_FORWARD_MERGE' ? [] : await conflictMetadata(cc, row, m),
      };
    },
  };
}
