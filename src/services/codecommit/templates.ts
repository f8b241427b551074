/**
 * Approval rule templates: rules kept per account and region, associated with repositories, and
 * copied onto every pull request created afterwards in an associated repository whose destination
 * branch the template names (all branches when it names none). A rule that came from a template
 * carries originApprovalRuleTemplate and cannot be changed or deleted on the pull request; changing
 * or deleting the template leaves the pull requests already created alone, as AWS does.
 */
import { randomUUID } from 'node:crypto';
import { AwsError } from '../../core/errors.js';
import { pageByOffset } from '../../core/pagination.js';
import type { Scope } from '../../core/arn.js';
import type { RequestContext } from '../../gateway/context.js';
import type { ApprovalRuleTemplateOut, CodecommitHandlers } from './api.generated.js';
import { badContinuationToken, type Codecommit } from './context.js';
import { checkRepositoryName } from './names.js';
import type { ApprovalRule } from './pullRequests.js';
import { checkExistingSha256, ruleContentValid, sha256Hex } from './reviews.js';
import type { CodecommitStore, RepoRow, TemplateRow } from './store.js';

/** CodeCommit's quotas: templates per Region, templates per repository, names per batch call. */
const MAX_TEMPLATES = 1000;
const MAX_TEMPLATES_PER_REPO = 25;
const MAX_BATCH_REPOSITORIES = 100;

function checkTemplateName(name: string | undefined): string {
  if (!name)
    throw new AwsError('ApprovalRuleTemplateNameRequiredException', 'An approval rule template name is required, but was not specified.');
  if (name.length > 100 || !name.trim())
    throw new AwsError(
      'InvalidApprovalRuleTemplateNameException',
      'The name of the approval rule template is not valid. Template names must be between 1 and 100 valid characters in length. For more information about limits in CodeCommit, see Quotas in the CodeCommit User Guide.',
    );
  return name;
}

function checkTemplateContent(content: string | undefined): string {
  if (!content)
    throw new AwsError(
      'ApprovalRuleTemplateContentRequiredException',
      'The content for the approval rule template is empty. You must provide some content for an approval rule template. The content cannot be null.',
    );
  if (content.length > 3000 || !ruleContentValid(content, { template: true }))
    throw new AwsError('InvalidApprovalRuleTemplateContentException', 'The content of the approval rule template is not valid.');
  return content;
}

function checkDescription(description: string | undefined): string {
  if ((description ?? '').length > 1000)
    throw new AwsError(
      'InvalidApprovalRuleTemplateDescriptionException',
      'The description for the approval rule template is not valid because it exceeds the maximum characters allowed for a description. For more information about limits in CodeCommit, see Quotas in the CodeCommit User Guide.',
    );
  return description ?? '';
}

function checkMaxResults(n: number | undefined): number {
  if (n !== undefined && (n < 1 || n > 100))
    throw new AwsError('InvalidMaxResultsException', 'The specified number of maximum results is not valid.');
  return n ?? 100;
}

const view = (t: TemplateRow): ApprovalRuleTemplateOut => ({
  approvalRuleTemplateId: t.id,
  approvalRuleTemplateName: t.name,
  approvalRuleTemplateDescription: t.description,
  approvalRuleTemplateContent: t.content,
  ruleContentSha256: t.sha256,
  lastModifiedDate: new Date(t.modified),
  creationDate: new Date(t.created),
  lastModifiedUser: t.modified_by,
});

/** The branches a template's content names (full refs), or undefined when it applies to every branch. */
function destinationsOf(content: string): string[] | undefined {
  const refs = (JSON.parse(content) as { DestinationReferences?: string[] }).DestinationReferences;
  return refs?.length ? refs.map((r) => (r.startsWith('refs/') ? r : `refs/heads/${r}`)) : undefined;
}

/** The approval rules a new pull request into `destinationReference` of `repo` gets from the repository's templates. */
export function rulesFromTemplates(
  store: CodecommitStore,
  repo: RepoRow,
  destinationReference: string,
  now: number,
  by: string,
): ApprovalRule[] {
  return store
    .repoTemplates(repo.id)
    .filter((t) => destinationsOf(t.content)?.includes(destinationReference) ?? true)
    .map((t) => ({
      approvalRuleId: randomUUID(),
      approvalRuleName: t.name,
      approvalRuleContent: t.content,
      ruleContentSha256: t.sha256,
      lastModifiedDate: now,
      creationDate: now,
      lastModifiedUser: by,
      originApprovalRuleTemplate: { approvalRuleTemplateId: t.id, approvalRuleTemplateName: t.name },
    }));
}

export function templateHandlers(cc: Codecommit): CodecommitHandlers {
  const store = cc.store;
  const requireTemplate = (scope: Scope, name: string | undefined) => store.requireTemplate(scope, checkTemplateName(name));
  const change = (ctx: RequestContext, t: TemplateRow, fields: Partial<Pick<TemplateRow, 'name' | 'description' | 'content'>>) => {
    const next = { ...t, ...fields, modified: ctx.clock.now(), modified_by: ctx.caller.arn };
    next.sha256 = sha256Hex(next.content);
    store.updateTemplate(next);
    return { approvalRuleTemplate: view(next) };
  };

  /** Associates or disassociates one repository; the per-repository errors of the batch calls come from here. */
  function link(ctx: RequestContext, t: TemplateRow, repositoryName: string | undefined, associate: boolean): RepoRow {
    const repo = store.requireRepo(ctx, checkRepositoryName(repositoryName));
    if (!associate) {
      store.disassociate(t.id, repo.id);
      return repo;
    }
    const linked = store.repoTemplates(repo.id);
    if (!linked.some((l) => l.id === t.id) && linked.length >= MAX_TEMPLATES_PER_REPO)
      throw new AwsError(
        'MaximumRuleTemplatesAssociatedWithRepositoryException',
        'The maximum number of approval rule templates for a repository has been exceeded. You cannot associate more than 25 approval rule templates with a repository.',
      );
    store.associate(t.id, repo.id);
    return repo;
  }

  function batch(ctx: RequestContext, templateName: string, repositoryNames: string[] | undefined, associate: boolean) {
    const t = requireTemplate(ctx, templateName);
    if (!repositoryNames)
      throw new AwsError('RepositoryNamesRequiredException', 'At least one repository name object is required, but was not specified.');
    if (repositoryNames.length > MAX_BATCH_REPOSITORIES)
      throw new AwsError(
        'MaximumRepositoryNamesExceededException',
        'The maximum number of allowed repository names was exceeded. Currently, this number is 100.',
      );
    const done: string[] = [];
    const errors: { repositoryName: string; errorCode: string; errorMessage: string }[] = [];
    for (const name of repositoryNames) {
      try {
        done.push(link(ctx, t, name, associate).name);
      } catch (err) {
        if (!(err instanceof AwsError)) throw err;
        errors.push({ repositoryName: name, errorCode: err.code, errorMessage: err.message });
      }
    }
    return { names: done, errors };
  }

  return {
    CreateApprovalRuleTemplate(input, ctx) {
      const name = checkTemplateName(input.approvalRuleTemplateName);
      const content = checkTemplateContent(input.approvalRuleTemplateContent);
      const description = checkDescription(input.approvalRuleTemplateDescription);
      if (store.template(ctx, name))
        throw new AwsError(
          'ApprovalRuleTemplateNameAlreadyExistsException',
          'You cannot create an approval rule template with that name because a template with that name already exists in this Amazon Web Services Region for your Amazon Web Services account. Approval rule template names must be unique.',
        );
      if (store.templateCount(ctx) >= MAX_TEMPLATES)
        throw new AwsError(
          'NumberOfRuleTemplatesExceededException',
          'The maximum number of approval rule templates has been exceeded for this Amazon Web Services Region.',
        );
      const now = ctx.clock.now();
      const t: TemplateRow = {
        id: randomUUID(),
        account: ctx.account,
        region: ctx.region,
        name,
        description,
        content,
        sha256: sha256Hex(content),
        created: now,
        modified: now,
        modified_by: ctx.caller.arn,
      };
      store.insertTemplate(t);
      return { approvalRuleTemplate: view(t) };
    },

    GetApprovalRuleTemplate(input, ctx) {
      return { approvalRuleTemplate: view(requireTemplate(ctx, input.approvalRuleTemplateName)) };
    },

    ListApprovalRuleTemplates(input, ctx) {
      const page = pageByOffset(store.templates(ctx), input.nextToken, checkMaxResults(input.maxResults), badContinuationToken);
      return { approvalRuleTemplateNames: page.items.map((t) => t.name), nextToken: page.nextToken };
    },

    UpdateApprovalRuleTemplateName(input, ctx) {
      const t = requireTemplate(ctx, input.oldApprovalRuleTemplateName);
      const name = checkTemplateName(input.newApprovalRuleTemplateName);
      if (name !== t.name && store.template(ctx, name))
        throw new AwsError(
          'ApprovalRuleTemplateNameAlreadyExistsException',
          'You cannot create an approval rule template with that name because a template with that name already exists in this Amazon Web Services Region for your Amazon Web Services account. Approval rule template names must be unique.',
        );
      return change(ctx, t, { name });
    },

    UpdateApprovalRuleTemplateDescription(input, ctx) {
      const t = requireTemplate(ctx, input.approvalRuleTemplateName);
      return change(ctx, t, { description: checkDescription(input.approvalRuleTemplateDescription) });
    },

    UpdateApprovalRuleTemplateContent(input, ctx) {
      const t = requireTemplate(ctx, input.approvalRuleTemplateName);
      const content = checkTemplateContent(input.newRuleContent);
      checkExistingSha256(input.existingRuleContentSha256, t.sha256);
      return change(ctx, t, { content });
    },

    DeleteApprovalRuleTemplate(input, ctx) {
      const t = store.template(ctx, checkTemplateName(input.approvalRuleTemplateName));
      if (!t) return { approvalRuleTemplateId: '' };
      if (store.templateRepos(t.id).length)
        throw new AwsError(
          'ApprovalRuleTemplateInUseException',
          'The approval rule template is associated with one or more repositories. You cannot delete a template that is associated with a repository. Remove all associations, and then try again.',
        );
      store.deleteTemplate(t.id);
      return { approvalRuleTemplateId: t.id };
    },

    AssociateApprovalRuleTemplateWithRepository(input, ctx) {
      link(ctx, requireTemplate(ctx, input.approvalRuleTemplateName), input.repositoryName, true);
    },

    DisassociateApprovalRuleTemplateFromRepository(input, ctx) {
      link(ctx, requireTemplate(ctx, input.approvalRuleTemplateName), input.repositoryName, false);
    },

    BatchAssociateApprovalRuleTemplateWithRepositories(input, ctx) {
      const r = batch(ctx, input.approvalRuleTemplateName, input.repositoryNames, true);
      return { associatedRepositoryNames: r.names, errors: r.errors };
    },

    BatchDisassociateApprovalRuleTemplateFromRepositories(input, ctx) {
      const r = batch(ctx, input.approvalRuleTemplateName, input.repositoryNames, false);
      return { disassociatedRepositoryNames: r.names, errors: r.errors };
    },

    ListRepositoriesForApprovalRuleTemplate(input, ctx) {
      const t = requireTemplate(ctx, input.approvalRuleTemplateName);
      const page = pageByOffset(store.templateRepos(t.id), input.nextToken, checkMaxResults(input.maxResults), badContinuationToken);
      return { repositoryNames: page.items.map((r) => r.name), nextToken: page.nextToken };
    },

    ListAssociatedApprovalRuleTemplatesForRepository(input, ctx) {
      const repo = store.requireRepo(ctx, checkRepositoryName(input.repositoryName));
      const page = pageByOffset(store.repoTemplates(repo.id), input.nextToken, checkMaxResults(input.maxResults), badContinuationToken);
      return { approvalRuleTemplateNames: page.items.map((t) => t.name), nextToken: page.nextToken };
    },
  };
}
