/**
 * Review on pull requests: approval rules (AWS's rule content JSON, evaluated in pullRequests.ts),
 * approval states per revision, overrides, and comments on pull requests and compared commits.
 */
import { createHash, randomUUID } from 'node:crypto';
import { AwsError } from '../../core/errors.js';
import type { RequestContext } from '../../gateway/context.js';
import type { CodecommitHandlers } from './api.generated.js';
import { requireSpecifier } from './commits.js';
import type { Codecommit } from './context.js';
import type { PrDoc, PullRequests } from './pullRequests.js';

import type { RepoRow } from './store.js';
import { entryAt, treeOf } from './tree.js';
import { checkRepositoryName } from './names.js';

/**
 * Whether `content` is AWS's approval rule JSON: an object whose Statements are all of Type
 * "Approvers"; a template's may also name the DestinationReferences (branches) it applies to.
 */
export function ruleContentValid(content: string, opts: { template: boolean }): boolean {
  try {
    const doc: unknown = JSON.parse(content);
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return false;
    const { Statements: statements, DestinationReferences: refs } = doc as { Statements?: unknown; DestinationReferences?: unknown };
    if (
      !Array.isArray(statements) ||
      statements.some((s: unknown) => typeof s !== 'object' || s === null || (s as { Type?: unknown }).Type !== 'Approvers')
    )
      return false;
    if (refs === undefined) return true;
    return opts.template && Array.isArray(refs) && refs.every((r) => typeof r === 'string' && r.length > 0);
  } catch {
    return false;
  }
}

export const sha256Hex = (s: string) => createHash('sha256').update(s).digest('hex');

function checkRuleContent(content: string | undefined) {
  if (!content)
    throw new AwsError(
      'ApprovalRuleContentRequiredException',
      'The content for the approval rule is empty. You must provide some content for an approval rule. The content cannot be null.',
    );
  if (!ruleContentValid(content, { template: false }))
    throw new AwsError('InvalidApprovalRuleContentException', 'The content for the approval rule is not valid.');
}

const invalidSha256 = () =>
  new AwsError('InvalidRuleContentSha256Exception', 'The SHA-256 hash signature for the rule content is not valid.');

/** UpdateXContent's existingRuleContentSha256, when given, must be the content's current hash. */
export function checkExistingSha256(given: string | undefined, current: string) {
  if (given !== undefined && given !== current) throw invalidSha256();
}

function openOnly(doc: PrDoc) {
  if (doc.pullRequestStatus !== 'OPEN')
    throw new AwsError('PullRequestAlreadyClosedException', 'The pull request status cannot be updated because it is already closed.');
}

interface CommentDoc {
  commentId: string;
  content: string;
  inReplyTo?: string;
  creationDate: number;
  lastModifiedDate: number;
  authorArn: string;
  deleted: boolean;
  clientRequestToken?: string;
  location?: { filePath?: string; filePosition?: number; relativeFileVersion?: string };
  beforeBlobId?: string;
  afterBlobId?: string;
}

const viewComment = (c: CommentDoc) => ({
  commentId: c.commentId,
  content: c.content,
  inReplyTo: c.inReplyTo,
  creationDate: new Date(c.creationDate),
  lastModifiedDate: new Date(c.lastModifiedDate),
  authorArn: c.authorArn,
  deleted: c.deleted,
  clientRequestToken: c.clientRequestToken,
  callerReactions: [],
  reactionCounts: {},
});

export function reviewHandlers(cc: Codecommit, prs: PullRequests): CodecommitHandlers {
  const { store } = cc;

  async function blobAt(row: RepoRow, commit: string | undefined, path: string | undefined) {
    if (!commit || !path) return undefined;
    return (await entryAt(cc, row, await treeOf(cc, row, commit), path))?.id;
  }

  async function postComment(
    ctx: RequestContext,
    row: RepoRow,
    prId: number | null,
    input: {
      beforeCommitId?: string;
      afterCommitId: string;
      location?: CommentDoc['location'];
      content: string;
      clientRequestToken?: string;
    },
  ) {
    if (!input.content)
      throw new AwsError(
        'CommentContentRequiredException',
        'The comment is empty. You must provide some content for a comment. The content cannot be null.',
      );
    if (input.content.length > 10240)
      throw new AwsError(
        'CommentContentSizeLimitExceededException',
        'The comment is too large. Comments are limited to 10,240 characters.',
      );
    const after = await requireSpecifier(cc, row, input.afterCommitId);
    const before = input.beforeCommitId ? await requireSpecifier(cc, row, input.beforeCommitId) : undefined;
    const now = ctx.clock.now();
    const comment: CommentDoc = {
      commentId: randomUUID(),
      content: input.content,
      creationDate: now,
      lastModifiedDate: now,
      authorArn: ctx.caller.arn,
      deleted: false,
      clientRequestToken: input.clientRequestToken,
      location: input.location,
      beforeBlobId: await blobAt(row, before, input.location?.filePath),
      afterBlobId: await blobAt(row, after, input.location?.filePath),
    };
    store.addComment({
      id: comment.commentId,
      account: ctx.account,
      region: ctx.region,
      repoId: row.id,
      prId,
      before: before ?? null,
      after,
      token: input.clientRequestToken ?? null,
      doc: comment,
    });
    cc.env.bus.publish({
      source: 'aws.codecommit',
      'detail-type': prId === null ? 'CodeCommit Comment on Commit' : 'CodeCommit Comment on Pull Request',
      account: ctx.account,
      region: ctx.region,
      resources: [cc.repoArn(row)],
      detail: {
        afterCommitId: after,
        beforeCommitId: before,
        callerUserArn: ctx.caller.arn,
        commentId: comment.commentId,
        event: prId === null ? 'commentOnCommitCreated' : 'commentOnPullRequestCreated',
        ...(prId === null ? {} : { pullRequestId: String(prId) }),
        repositoryId: row.id,
        repositoryName: row.name,
      },
    });
    return {
      repositoryName: row.name,
      beforeCommitId: before,
      afterCommitId: after,
      beforeBlobId: comment.beforeBlobId,
      afterBlobId: comment.afterBlobId,
      location: input.location,
      comment: viewComment(comment),
    };
  }

  function group(rows: { doc: string; before_commit: string | null; after_commit: string }[]) {
    const groups = new Map<
      string,
      {
        beforeCommitId?: string;
        afterCommitId: string;
        beforeBlobId?: string;
        afterBlobId?: string;
        location?: CommentDoc['location'];
        comments: ReturnType<typeof viewComment>[];
      }
    >();
    for (const r of rows) {
      const c = JSON.parse(r.doc) as CommentDoc;
      const key = `${r.before_commit}|${r.after_commit}|${JSON.stringify(c.location ?? null)}`;
      const g = groups.get(key) ?? {
        beforeCommitId: r.before_commit ?? undefined,
        afterCommitId: r.after_commit,
        beforeBlobId: c.beforeBlobId,
        afterBlobId: c.afterBlobId,
        location: c.location,
        comments: [],
      };
      g.comments.push(viewComment(c));
      groups.set(key, g);
    }
    return [...groups.values()];
  }

  return {
    CreatePullRequestApprovalRule(input, ctx) {
      const doc = prs.require(ctx, input.pullRequestId);
      openOnly(doc);
      if (!input.approvalRuleName)
        throw new AwsError('ApprovalRuleNameRequiredException', 'An approval rule name is required, but was not specified.');
      checkRuleContent(input.approvalRuleContent);
      if (doc.approvalRules.some((r) => r.approvalRuleName === input.approvalRuleName))
        throw new AwsError(
          'ApprovalRuleNameAlreadyExistsException',
          `An approval rule with the name ${input.approvalRuleName} already exists on this pull request.`,
        );
      const now = ctx.clock.now();
      const rule = {
        approvalRuleId: randomUUID(),
        approvalRuleName: input.approvalRuleName,
        approvalRuleContent: input.approvalRuleContent,
        ruleContentSha256: sha256Hex(input.approvalRuleContent),
        lastModifiedDate: now,
        creationDate: now,
        lastModifiedUser: ctx.caller.arn,
      };
      doc.approvalRules.push(rule);
      doc.lastActivityDate = now;
      prs.save(ctx, doc);
      prs.record(
        ctx,
        doc,
        'PULL_REQUEST_APPROVAL_RULE_CREATED',
        ctx.caller.arn,
        {
          approvalRuleEventMetadata: {
            approvalRuleName: rule.approvalRuleName,
            approvalRuleId: rule.approvalRuleId,
            approvalRuleContent: rule.approvalRuleContent,
          },
        },
        'pullRequestApprovalRuleCreated',
      );
      return { approvalRule: { ...rule, lastModifiedDate: new Date(now), creationDate: new Date(now) } };
    },

    DeletePullRequestApprovalRule(input, ctx) {
      const doc = prs.require(ctx, input.pullRequestId);
      openOnly(doc);
      const rule = doc.approvalRules.find((r) => r.approvalRuleName === input.approvalRuleName);
      if (!rule) return { approvalRuleId: '' };
      if (rule.originApprovalRuleTemplate)
        throw new AwsError(
          'CannotDeleteApprovalRuleFromTemplateException',
          'The approval rule cannot be deleted from the pull request because it was created by an approval rule template and applied to the pull request automatically.',
        );
      doc.approvalRules = doc.approvalRules.filter((r) => r !== rule);
      prs.save(ctx, doc);
      prs.record(
        ctx,
        doc,
        'PULL_REQUEST_APPROVAL_RULE_DELETED',
        ctx.caller.arn,
        { approvalRuleEventMetadata: { approvalRuleName: rule.approvalRuleName, approvalRuleId: rule.approvalRuleId } },
        'pullRequestApprovalRuleDeleted',
      );
      return { approvalRuleId: rule.approvalRuleId };
    },

    UpdatePullRequestApprovalRuleContent(input, ctx) {
      const doc = prs.require(ctx, input.pullRequestId);
      openOnly(doc);
      checkRuleContent(input.newRuleContent);
      const rule = doc.approvalRules.find((r) => r.approvalRuleName === input.approvalRuleName);
      if (!rule) throw new AwsError('ApprovalRuleDoesNotExistException', `The approval rule ${input.approvalRuleName} does not exist.`);
      if (rule.originApprovalRuleTemplate)
        throw new AwsError(
          'CannotModifyApprovalRuleFromTemplateException',
          'The approval rule cannot be modified for the pull request because it was created by an approval rule template and applied to the pull request automatically.',
        );
      checkExistingSha256(input.existingRuleContentSha256, rule.ruleContentSha256);
      rule.approvalRuleContent = input.newRuleContent;
      rule.ruleContentSha256 = sha256Hex(input.newRuleContent);
      rule.lastModifiedDate = ctx.clock.now();
      rule.lastModifiedUser = ctx.caller.arn;
      prs.save(ctx, doc);
      prs.record(
        ctx,
        doc,
        'PULL_REQUEST_APPROVAL_RULE_UPDATED',
        ctx.caller.arn,
        {
          approvalRuleEventMetadata: {
            approvalRuleName: rule.approvalRuleName,
            approvalRuleId: rule.approvalRuleId,
            approvalRuleContent: rule.approvalRuleContent,
          },
        },
        'pullRequestApprovalRuleUpdated',
      );
      return { approvalRule: { ...rule, lastModifiedDate: new Date(rule.lastModifiedDate), creationDate: new Date(rule.creationDate) } };
    },

    UpdatePullRequestApprovalState(input, ctx) {
      const doc = prs.require(ctx, input.pullRequestId);
      openOnly(doc);
      if (!input.revisionId) throw new AwsError('RevisionIdRequiredException', 'A revision ID is required, but was not provided.');
      if (input.revisionId !== doc.revisionId)
        throw new AwsError(
          'RevisionNotCurrentException',
          'The revision ID provided in the request does not match the current revision ID. Use GetPullRequest to retrieve the current revision ID.',
        );
      if (!['APPROVE', 'REVOKE'].includes(input.approvalState))
        throw new AwsError(
          'InvalidApprovalStateException',
          'The state for the approval is not valid. Valid values include APPROVE and REVOKE.',
        );
      if (ctx.caller.arn === doc.authorArn)
        throw new AwsError(
          'PullRequestCannotBeApprovedByAuthorException',
          'The approval cannot be applied because the user approving the pull request matches the user who created the pull request. You cannot approve a pull request that you created.',
        );
      (doc.approvals[doc.revisionId] ??= {})[ctx.caller.arn] = input.approvalState;
      prs.save(ctx, doc);
      prs.record(
        ctx,
        doc,
        'PULL_REQUEST_APPROVAL_STATE_CHANGED',
        ctx.caller.arn,
        { approvalStateChangedEventMetadata: { revisionId: doc.revisionId, approvalStatus: input.approvalState } },
        'pullRequestApprovalStateChanged',
      );
    },

    EvaluatePullRequestApprovalRules(input, ctx) {
      const doc = prs.require(ctx, input.pullRequestId);
      if (!input.revisionId) throw new AwsError('RevisionIdRequiredException', 'A revision ID is required, but was not provided.');
      if (input.revisionId !== doc.revisionId)
        throw new AwsError(
          'RevisionNotCurrentException',
          'The revision ID provided in the request does not match the current revision ID. Use GetPullRequest to retrieve the current revision ID.',
        );
      return { evaluation: prs.evaluate(doc, input.revisionId) };
    },

    OverridePullRequestApprovalRules(input, ctx) {
      const doc = prs.require(ctx, input.pullRequestId);
      openOnly(doc);
      if (input.revisionId !== doc.revisionId)
        throw new AwsError(
          'RevisionNotCurrentException',
          'The revision ID provided in the request does not match the current revision ID. Use GetPullRequest to retrieve the current revision ID.',
        );
      if (input.overrideStatus === 'OVERRIDE') doc.overrides[doc.revisionId] = ctx.caller.arn;
      else if (input.overrideStatus === 'REVOKE') delete doc.overrides[doc.revisionId];
      else
        throw new AwsError('InvalidOverrideStatusException', 'The override status is not valid. Valid statuses are OVERRIDE and REVOKE.');
      prs.save(ctx, doc);
      prs.record(
        ctx,
        doc,
        'PULL_REQUEST_APPROVAL_RULE_OVERRIDDEN',
        ctx.caller.arn,
        { approvalRuleOverriddenEventMetadata: { revisionId: doc.revisionId, overrideStatus: input.overrideStatus } },
        'pullRequestApprovalRuleOverridden',
      );
    },

    GetPullRequestOverrideState(input, ctx) {
      const doc = prs.require(ctx, input.pullRequestId);
      const by = doc.overrides[input.revisionId];
      return { overridden: !!by, overrider: by };
    },

    async PostCommentForPullRequest(input, ctx) {
      const doc = prs.require(ctx, input.pullRequestId);
      const row = store.requireRepo(ctx, checkRepositoryName(input.repositoryName));
      if (row.id !== doc.repoId)
        throw new AwsError(
          'RepositoryNotAssociatedWithPullRequestException',
          'The repository does not contain any pull requests with that pull request ID. Use GetPullRequest to verify the correct repository name for the pull request ID.',
        );
      const r = await postComment(ctx, row, Number(doc.pullRequestId), input);
      return { ...r, pullRequestId: doc.pullRequestId };
    },

    PostCommentForComparedCommit(input, ctx) {
      const row = store.requireRepo(ctx, checkRepositoryName(input.repositoryName));
      return postComment(ctx, row, null, input);
    },

    GetCommentsForPullRequest(input, ctx) {
      const doc = prs.require(ctx, input.pullRequestId);
      let rows = store.commentsForPr(ctx, Number(doc.pullRequestId));
      if (input.beforeCommitId) rows = rows.filter((r) => r.before_commit === input.beforeCommitId);
      if (input.afterCommitId) rows = rows.filter((r) => r.after_commit === input.afterCommitId);
      const name = store.repoById(doc.repoId)?.name;
      return { commentsForPullRequestData: group(rows).map((g) => ({ pullRequestId: doc.pullRequestId, repositoryName: name, ...g })) };
    },

    GetCommentsForComparedCommit(input, ctx) {
      const row = store.requireRepo(ctx, checkRepositoryName(input.repositoryName));
      let rows = store.commentsForCommit(row.id, input.afterCommitId);
      if (input.beforeCommitId) rows = rows.filter((r) => r.before_commit === input.beforeCommitId);
      return { commentsForComparedCommitData: group(rows).map((g) => ({ repositoryName: row.name, ...g })) };
    },
  };
}
