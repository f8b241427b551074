/**
 * Repositories: create (a bare git repository named by the generated id), describe, list, rename,
 * delete; tags on repository ARNs; repository triggers.
 */
import { rm } from 'node:fs/promises';
import { parseArn, requireOwnArn, type Scope } from '../../core/arn.js';
import { batchGet } from '../../core/batchGet.js';
import { AwsError } from '../../core/errors.js';
import { uuid } from '../../core/ids.js';
import { checkTags, type TagRules } from '../../core/tags.js';
import type { RequestContext } from '../../gateway/context.js';
import type { CodecommitHandlers, CreateRepositoryInput } from './api.generated.js';
import { moveBranch } from './branches.js';
import { checkRepositoryName } from './names.js';
import { badContinuationToken, type Codecommit } from './context.js';
import { ZERO } from './git.js';
import type { RepoRow } from './store.js';
import { commitZip, fetchZip, type RepositoryCode } from './zipImport.js';
import { pageByOffset } from '../../core/pagination.js';

export function metadata(cc: Codecommit, row: RepoRow, ctx: RequestContext) {
  const host = ctx.host.replace(/:\d+$/, '');
  return {
    accountId: row.account,
    repositoryId: row.id,
    repositoryName: row.name,
    repositoryDescription: row.description ?? undefined,
    defaultBranch: row.default_branch ?? undefined,
    lastModifiedDate: new Date(row.modified),
    creationDate: new Date(row.created),
    cloneUrlHttp: `http://${ctx.host}/v1/repos/${row.name}`,
    cloneUrlSsh: `ssh://${host}/v1/repos/${row.name}`,
    Arn: cc.repoArn(row),
    kmsKeyId: row.kms ?? undefined,
  };
}

function repoForArn(cc: Codecommit, resourceArn: string | undefined, ctx: Scope): RepoRow {
  if (!resourceArn)
    throw new AwsError('ResourceArnRequiredException', 'A valid Amazon Resource Name (ARN) for an AWS CodeCommit resource is required.');
  const p = parseArn(resourceArn);
  if (!p || p.service !== 'codecommit' || !/^[\w.-]+$/.test(p.resource))
    throw new AwsError('InvalidResourceArnException', `The value for the resource ARN is not valid.`);
  const scope = { account: ctx.account, region: ctx.region };
  // another account's or region's repository is one this caller cannot see
  requireOwnArn(resourceArn, scope, () => new AwsError('RepositoryDoesNotExistException', `${p.resource} does not exist`));
  return cc.store.requireRepo(scope, p.resource);
}

const tagRules: TagRules = {
  errors: (p) =>
    p.kind === 'tooMany'
      ? new AwsError('TooManyTagsException', 'The maximum number of tags for an AWS CodeCommit resource has been exceeded.')
      : new AwsError('InvalidTagsMapException', 'The map of tags is not valid.'),
};

const TRIGGER_EVENTS = ['all', 'updateReference', 'createReference', 'deleteReference'];

export function repositoryHandlers(cc: Codecommit): CodecommitHandlers {
  const { store, git } = cc;
  const { tags } = cc.env;
  return {
    /*
     * `code` is not in the CodeCommit API: it is AWS::CodeCommit::Repository's Code property, so it
     * only arrives from in-process callers (a CloudFormation provider), never over the wire.
     */
    async CreateRepository(input: CreateRepositoryInput & { code?: RepositoryCode }, ctx) {
      const name = checkRepositoryName(input.repositoryName);
      if (input.repositoryDescription && input.repositoryDescription.length > 1000)
        throw new AwsError('InvalidRepositoryDescriptionException', 'The specified repository description is not valid.');
      checkTags(input.tags ?? {}, tagRules);
      if (store.findRepo(ctx, name)) throw new AwsError('RepositoryNameExistsException', `Repository named ${name} already exists`);
      const now = ctx.clock.now();
      const row: RepoRow = {
        id: uuid(),
        account: ctx.account,
        region: ctx.region,
        name,
        description: input.repositoryDescription ?? null,
        default_branch: null,
        created: now,
        modified: now,
        kms: input.kmsKeyId ?? null,
        triggers: '[]',
        triggers_id: null,
      };
      const zip = input.code ? await fetchZip(cc, ctx, input.code) : undefined;
      let initial: string | undefined;
      try {
        await git.init(cc.gitDir(row));
        if (zip) initial = await commitZip(cc, row, ctx, zip.file);
        store.transaction(() => {
          store.insertRepo(row);
          tags.add(cc.repoArn(row), input.tags ?? {}, tagRules);
        });
      } catch (err) {
        await rm(cc.gitDir(row), { recursive: true, force: true });
        if (String(err).includes('UNIQUE')) throw new AwsError('RepositoryNameExistsException', `Repository named ${name} already exists`);
        throw err;
      } finally {
        if (zip) await rm(zip.file, { force: true });
      }
      if (zip && initial) {
        // The import's branch becomes the default branch through the usual first-branch rule.
        await cc.withLock(row.id, () => moveBranch(cc, row, zip.branch, initial!, ZERO, ctx.caller.arn));
        return { repositoryMetadata: metadata(cc, store.repoById(row.id) ?? row, ctx) };
      }
      return { repositoryMetadata: metadata(cc, row, ctx) };
    },

    GetRepository(input, ctx) {
      return { repositoryMetadata: metadata(cc, store.requireRepo(ctx, checkRepositoryName(input.repositoryName)), ctx) };
    },

    BatchGetRepositories(input, ctx) {
      if (input.repositoryNames.length > 25)
        throw new AwsError(
          'MaximumRepositoryNamesExceededException',
          'The maximum number of allowed repository names was exceeded. Currently, this number is 25.',
        );
      const { found, notFound } = batchGet(input.repositoryNames, (n) => {
        const row = store.findRepo(ctx, checkRepositoryName(n));
        return row && metadata(cc, row, ctx);
      });
      return { repositories: found, repositoriesNotFound: notFound, errors: [] };
    },

    ListRepositories(input, ctx) {
      const sortBy = input.sortBy ?? 'repositoryName';
      const order = input.order ?? 'ascending';
      if (!['repositoryName', 'lastModifiedDate'].includes(sortBy))
        throw new AwsError('InvalidSortByException', 'The specified sort by value is not valid.');
      if (!['ascending', 'descending'].includes(order))
        throw new AwsError('InvalidOrderException', 'The specified sort order is not valid.');
      const rows = store.listRepos(ctx);
      rows.sort((a, b) =>
        sortBy === 'repositoryName'
          ? a.name < b.name
            ? -1
            : a.name > b.name
              ? 1
              : 0
          : a.modified - b.modified || (a.name < b.name ? -1 : 1),
      );
      if (order === 'descending') rows.reverse();
      const page = pageByOffset(rows, input.nextToken, 1000, badContinuationToken);
      return { repositories: page.items.map((r) => ({ repositoryName: r.name, repositoryId: r.id })), nextToken: page.nextToken };
    },

    UpdateRepositoryName(input, ctx) {
      checkRepositoryName(input.oldName);
      const newName = checkRepositoryName(input.newName);
      const row = store.requireRepo(ctx, input.oldName);
      if (input.oldName === newName) return;
      if (store.findRepo(ctx, newName)) throw new AwsError('RepositoryNameExistsException', `Repository named ${newName} already exists`);
      store.transaction(() => {
        store.renameRepo(row.id, newName, ctx.clock.now());
        tags.move(cc.repoArn(row), cc.repoArn({ ...row, name: newName }));
      });
    },

    UpdateRepositoryDescription(input, ctx) {
      const row = store.requireRepo(ctx, checkRepositoryName(input.repositoryName));
      if (input.repositoryDescription && input.repositoryDescription.length > 1000)
        throw new AwsError('InvalidRepositoryDescriptionException', 'The specified repository description is not valid.');
      store.setDescription(row.id, input.repositoryDescription ?? null, ctx.clock.now());
    },

    async DeleteRepository(input, ctx) {
      const row = store.findRepo(ctx, checkRepositoryName(input.repositoryName));
      if (!row) return {};
      await cc.withLock(row.id, async () => {
        store.transaction(() => {
          store.deleteRepo(row.id);
          tags.delete(cc.repoArn(row));
        });
        await cc.forget(row);
        await rm(cc.gitDir(row), { recursive: true, force: true });
      });
      return { repositoryId: row.id };
    },

    TagResource(input, ctx) {
      tags.add(cc.repoArn(repoForArn(cc, input.resourceArn, ctx)), input.tags, tagRules);
    },

    UntagResource(input, ctx) {
      tags.remove(cc.repoArn(repoForArn(cc, input.resourceArn, ctx)), input.tagKeys);
    },

    ListTagsForResource(input, ctx) {
      return { tags: tags.get(cc.repoArn(repoForArn(cc, input.resourceArn, ctx))) };
    },

    PutRepositoryTriggers(input, ctx) {
      const row = store.requireRepo(ctx, checkRepositoryName(input.repositoryName));
      if (input.triggers.length > 10)
        throw new AwsError('MaximumRepositoryTriggersExceededException', 'The number of triggers allowed for the repository was exceeded.');
      for (const t of input.triggers) {
        if (!t.name)
          throw new AwsError('RepositoryTriggerNameRequiredException', 'A name for the trigger is required, but was not specified.');
        if (!parseArn(t.destinationArn ?? ''))
          throw new AwsError(
            'InvalidRepositoryTriggerDestinationArnException',
            `The Amazon Resource Name (ARN) for the trigger is not valid for the specified destination. The most common reason for this error is that the ARN does not meet the requirements for the service type.`,
          );
        if (!t.events?.length)
          throw new AwsError(
            'RepositoryTriggerEventsListRequiredException',
            'At least one event for the trigger is required, but was not specified.',
          );
        if (t.events.some((e) => !TRIGGER_EVENTS.includes(e)))
          throw new AwsError(
            'InvalidRepositoryTriggerEventsException',
            'One or more events specified for the trigger is not valid. Check to make sure that all events specified match the requirements for allowed events.',
          );
        if ((t.branches?.length ?? 0) > 100)
          throw new AwsError('MaximumBranchesExceededException', 'The number of branches for the trigger was exceeded.');
      }
      const configurationId = uuid();
      store.setTriggers(row.id, input.triggers, configurationId);
      return { configurationId };
    },

    GetRepositoryTriggers(input, ctx) {
      const row = store.requireRepo(ctx, checkRepositoryName(input.repositoryName));
      return { configurationId: row.triggers_id ?? undefined, triggers: JSON.parse(row.triggers) };
    },

    async TestRepositoryTriggers(input, ctx) {
      const row = store.requireRepo(ctx, checkRepositoryName(input.repositoryName));
      const refs = await git.refs(cc.gitDir(row));
      const ref = row.default_branch ? `refs/heads/${row.default_branch}` : [...refs.keys()][0];
      const commit = (ref && refs.get(ref)) ?? ZERO;
      const successfulExecutions: string[] = [];
      const failedExecutions: { trigger: string; failureMessage: string }[] = [];
      for (const t of input.triggers) {
        if (!cc.env.targets.supports(t.destinationArn)) {
          failedExecutions.push({
            trigger: t.name,
            failureMessage: `Could not deliver to ${t.destinationArn}: no such destination in opsbox.`,
          });
          continue;
        }
        try {
          await cc.invokeTrigger(row, t, ctx.caller.arn, [{ ref: ref ?? 'refs/heads/all', old: commit, next: commit }], 'TriggerEventTest');
          successfulExecutions.push(t.name);
        } catch (err) {
          failedExecutions.push({ trigger: t.name, failureMessage: err instanceof Error ? err.message : String(err) });
        }
      }
      return { successfulExecutions, failedExecutions };
    },
  };
}
