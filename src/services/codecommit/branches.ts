/**
 * Branches: each change is a compare-and-swap through the repository's `git update-ref --stdin`
 * under the repository lock, then published through Codecommit.refsChanged like a push would be.
 * Reading a branch reads its ref file (refs.ts): no process.
 */
import { AwsError } from '../../core/errors.js';
import type { CodecommitHandlers } from './api.generated.js';
import { badContinuationToken, type Codecommit } from './context.js';
import { ZERO } from './git.js';
import { readRef } from './refs.js';
import { resolveSpecifier } from './commits.js';

import type { RepoRow } from './store.js';
import { pageByOffset } from '../../core/pagination.js';
import { checkRepositoryName, checkBranchName } from './names.js';

export function branchCommit(cc: Codecommit, row: RepoRow, branch: string): Promise<string | undefined> {
  return readRef(cc.gitDir(row), `refs/heads/${branch}`);
}

/** Throws BranchDoesNotExistException. */
export async function requireBranch(cc: Codecommit, row: RepoRow, branch: string): Promise<string> {
  const id = await branchCommit(cc, row, checkBranchName(branch));
  if (!id) throw new AwsError('BranchDoesNotExistException', `Branch ${branch} does not exist`);
  return id;
}

/** Moves refs/heads/<branch> from old to next and publishes the change; false if it moved meanwhile. */
export async function moveBranch(
  cc: Codecommit,
  row: RepoRow,
  branch: string,
  next: string,
  old: string,
  callerArn: string,
  merge?: Parameters<Codecommit['refsChanged']>[3],
) {
  const ref = `refs/heads/${branch}`;
  const ok = await cc.refUpdater(row).update(ref, next, old);
  if (ok) await cc.refsChanged(row, [{ ref, old, next }], callerArn, merge);
  return ok;
}

export function branchHandlers(cc: Codecommit): CodecommitHandlers {
  const { store, git } = cc;
  return {
    CreateBranch(input, ctx) {
      const row = store.requireRepo(ctx, checkRepositoryName(input.repositoryName));
      const branch = checkBranchName(input.branchName);
      if (!input.commitId) throw new AwsError('CommitIdRequiredException', 'A commit ID was not specified.');
      return cc.withLock(row.id, async () => {
        if (await branchCommit(cc, row, branch)) throw new AwsError('BranchNameExistsException', `Branch ${branch} already exists`);
        const commit = /^[0-9a-f]{40}$/.test(input.commitId) ? await resolveSpecifier(cc, row, input.commitId) : undefined;
        if (!commit) throw new AwsError('CommitDoesNotExistException', `Could not find commit ${input.commitId}`);
        if (!(await moveBranch(cc, row, branch, commit, ZERO, ctx.caller.arn)))
          throw new AwsError('BranchNameExistsException', `Branch ${branch} already exists`);
      });
    },

    async GetBranch(input, ctx) {
      const row = store.requireRepo(ctx, checkRepositoryName(input.repositoryName));
      const branch = input.branchName!;
      return { branch: { branchName: branch, commitId: await requireBranch(cc, row, branch) } };
    },

    async ListBranches(input, ctx) {
      const row = store.requireRepo(ctx, checkRepositoryName(input.repositoryName));
      const names = [...(await git.refs(cc.gitDir(row))).keys()].filter((r) => r.startsWith('refs/heads/')).map((r) => r.slice(11));
      const page = pageByOffset(names, input.nextToken, 100, badContinuationToken);
      return { branches: page.items, nextToken: page.nextToken };
    },

    DeleteBranch(input, ctx) {
      const row = store.requireRepo(ctx, checkRepositoryName(input.repositoryName));
      const branch = checkBranchName(input.branchName);
      return cc.withLock(row.id, async () => {
        const current = store.repoById(row.id)!;
        if (current.default_branch === branch)
          throw new AwsError('DefaultBranchCannotBeDeletedException', `The default branch ${branch} cannot be deleted.`);
        const commit = await branchCommit(cc, row, branch);
        if (!commit) return {};
        await moveBranch(cc, row, branch, ZERO, commit, ctx.caller.arn);
        return { deletedBranch: { branchName: branch, commitId: commit } };
      });
    },

    async UpdateDefaultBranch(input, ctx) {
      const row = store.requireRepo(ctx, checkRepositoryName(input.repositoryName));
      const branch = input.defaultBranchName;
      await requireBranch(cc, row, branch);
      store.setDefaultBranch(row.id, branch, ctx.clock.now());
      // HEAD follows, so a fresh clone checks out the default branch as it does on AWS.
      await git.run(cc.gitDir(row), ['symbolic-ref', 'HEAD', `refs/heads/${branch}`]);
    },
  };
}
