/**
 * Pull requests: one document per request (store.ts), ids counted per account and region. A pull
 * request follows its branches: when a push or API change moves its source (new revision) or makes
 * the destination contain the source (merged outside CodeCommit's merge APIs), the document, its
 * event history and the bus learn of it. Merging uses merges.ts under the repository lock.
 */
import { randomUUID } from 'node:crypto';
import type { Scope } from '../../core/arn.js';
import { AwsError } from '../../core/errors.js';
import type { RequestContext } from '../../gateway/context.js';
import type { CodecommitHandlers, MergePullRequestByThreeWayInput, PullRequestEventOut } from './api.generated.js';
import { branchCommit } from './branches.js';
import { badContinuationToken, type Codecommit } from './context.js';
import { isAncestor, merge, mergeBase, mergeSettings, type MergeOption } from './merges.js';

import type { RepoRow } from './store.js';
import { pageByOffset } from '../../core/pagination.js';
import { checkRepositoryName } from './names.js';
import { rulesFromTemplates } from './templates.js';

export interface ApprovalRule {
  approvalRuleId: string;
  approvalRuleName: string;
  approvalRuleContent: string;
  ruleContentSha256: string;
  lastModifiedDate: number;
  creationDate: number;
  lastModifiedUser: string;
  /** Set on the rules an approval rule template put on the pull request when it was created. */
  originApprovalRuleTemplate?: { approvalRuleTemplateId: string; approvalRuleTemplateName: string };
}

/** A pull request event as record() stores it: eventDate in epoch milliseconds. */
type PrEventDoc = PullRequestEventOut & { pullRequestId: string; eventDate: number; pullRequestEventType: string; actorArn: string };

export interface PrDoc {
  pullRequestId: string;
  title: string;
  description?: string;
  lastActivityDate: number;
  creationDate: number;
  pullRequestStatus: 'OPEN' | 'CLOSED';
  authorArn: string;
  clientRequestToken?: string;
  revisionId: string;
  repoId: string;
  target: {
    sourceReference: string;
    destinationReference: string;
    sourceCommit: string;
    destinationCommit: string;
    mergeBase?: string;
    mergeMetadata: { isMerged: boolean; mergedBy?: string; mergeCommitId?: string; mergeOption?: string };
  };
  approvalRules: ApprovalRule[];
  /** revisionId → user ARN → APPROVE | REVOKE */
  approvals: Record<string, Record<string, string>>;
  /** revisionId → who overrode the rules */
  overrides: Record<string, string>;
}

const ERR_NO_PR = (id: string) => new AwsError('PullRequestDoesNotExistException', `Pull request ${id} does not exist`);

/** "Tue Jun 18 10:34:20 UTC 2019", the date form CodeCommit's pull request events carry. */
function eventDate(ms: number) {
  const [wd, day, mon, year, time] = new Date(ms).toUTCString().replace(',', '').split(' ');
  return `${wd} ${mon} ${day} ${time} UTC ${year}`;
}

export class PullRequests {
  /** Pull requests being merged by an API call: the ref-change listener leaves them alone. */
  private merging = new Set<string>();

  constructor(readonly cc: Codecommit) {
    cc.onRefsChanged.push((row, refs, caller) => this.followBranches(row, refs, caller));
  }

  parseId(id: string | undefined): number {
    if (!id) throw new AwsError('PullRequestIdRequiredException', 'A pull request ID is required, but none was provided.');
    if (!/^\d+$/.test(id))
      throw new AwsError(
        'InvalidPullRequestIdException',
        'The pull request ID is not valid. Make sure that you have provided the full ID and that the pull request is in the specified repository, and then try again.',
      );
    return Number(id);
  }

  /** Throws PullRequestDoesNotExistException. */
  require(scope: Scope, id: string | undefined): PrDoc {
    const doc = this.cc.store.getPr<PrDoc>(scope, this.parseId(id));
    if (!doc) throw ERR_NO_PR(String(id));
    return doc;
  }

  repoOf(doc: PrDoc): RepoRow {
    const row = this.cc.store.repoById(doc.repoId);
    if (!row) throw new AwsError('RepositoryDoesNotExistException', `The repository of pull request ${doc.pullRequestId} does not exist`);
    return row;
  }

  view(doc: PrDoc) {
    const row = this.cc.store.repoById(doc.repoId);
    return {
      pullRequestId: doc.pullRequestId,
      title: doc.title,
      description: doc.description,
      lastActivityDate: new Date(doc.lastActivityDate),
      creationDate: new Date(doc.creationDate),
      pullRequestStatus: doc.pullRequestStatus,
      authorArn: doc.authorArn,
      pullRequestTargets: [{ repositoryName: row?.name, ...doc.target }],
      clientRequestToken: doc.clientRequestToken,
      revisionId: doc.revisionId,
      approvalRules: doc.approvalRules.map((r) => ({
        ...r,
        lastModifiedDate: new Date(r.lastModifiedDate),
        creationDate: new Date(r.creationDate),
      })),
    };
  }

  save(scope: Scope, doc: PrDoc) {
    this.cc.store.updatePr(scope, Number(doc.pullRequestId), doc.pullRequestStatus, doc);
  }

  /** Records a pull request event (DescribePullRequestEvents) and publishes it on the bus. */
  record(scope: Scope, doc: PrDoc, type: string, actorArn: string, metadata: Record<string, unknown>, busEvent?: string) {
    const now = this.cc.env.clock.now();
    this.cc.store.addPrEvent(scope, Number(doc.pullRequestId), {
      pullRequestId: doc.pullRequestId,
      eventDate: now,
      pullRequestEventType: type,
      actorArn,
      ...metadata,
    });
    if (!busEvent) return;
    const row = this.cc.store.repoById(doc.repoId);
    this.cc.env.bus.publish({
      source: 'aws.codecommit',
      'detail-type': 'CodeCommit Pull Request State Change',
      account: scope.account,
      region: scope.region,
      time: new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      resources: row ? [this.cc.repoArn(row)] : [],
      detail: {
        author: doc.authorArn,
        callerUserArn: actorArn,
        creationDate: eventDate(doc.creationDate),
        description: doc.description,
        destinationCommit: doc.target.destinationCommit,
        destinationReference: doc.target.destinationReference,
        event: busEvent,
        isMerged: doc.target.mergeMetadata.isMerged ? 'True' : 'False',
        lastModifiedDate: eventDate(doc.lastActivityDate),
        notificationBody: `A pull request event occurred in the following AWS CodeCommit repository: ${row?.name}. The user: ${actorArn} made a change to the following pull request: ${doc.pullRequestId}.`,
        pullRequestId: doc.pullRequestId,
        pullRequestStatus: doc.pullRequestStatus === 'OPEN' ? 'Open' : 'Closed',
        repositoryNames: row ? [row.name] : [],
        revisionId: doc.revisionId,
        sourceCommit: doc.target.sourceCommit,
        sourceReference: doc.target.sourceReference,
        title: doc.title,
        ...(doc.target.mergeMetadata.mergeOption ? { mergeOption: doc.target.mergeMetadata.mergeOption } : {}),
      },
    });
  }

  /** After any ref change: open pull requests on those refs get a new revision or become merged. */
  private async followBranches(row: RepoRow, refs: Set<string>, caller: string) {
    for (const doc of this.cc.store.openPrs<PrDoc>(row.id)) {
      if (this.merging.has(`${row.account}/${row.region}/${doc.pullRequestId}`)) continue;
      if (!refs.has(doc.target.sourceReference) && !refs.has(doc.target.destinationReference)) continue;
      await this.refresh(row, doc, caller);
    }
  }

  async refresh(row: RepoRow, doc: PrDoc, actor: string) {
    const all = await this.cc.git.refs(this.cc.gitDir(row));
    const src = all.get(doc.target.sourceReference);
    const dst = all.get(doc.target.destinationReference);
    const scope = { account: row.account, region: row.region };
    const now = this.cc.env.clock.now();
    if (dst) doc.target.destinationCommit = dst;
    if (src && src !== doc.target.sourceCommit) {
      const before = doc.target.sourceCommit;
      doc.target.sourceCommit = src;
      doc.revisionId = randomUUID().replace(/-/g, '') + randomUUID().replace(/-/g, '');
      doc.target.mergeBase = dst ? await mergeBase(this.cc, row, dst, src) : undefined;
      doc.lastActivityDate = now;
      this.save(scope, doc);
      this.record(
        scope,
        doc,
        'PULL_REQUEST_SOURCE_REFERENCE_UPDATED',
        actor,
        {
          pullRequestSourceReferenceUpdatedEventMetadata: {
            repositoryName: row.name,
            beforeCommitId: before,
            afterCommitId: src,
            mergeBase: doc.target.mergeBase,
          },
        },
        'pullRequestSourceBranchUpdated',
      );
    }
    if (src && dst && !doc.target.mergeMetadata.isMerged && (await isAncestor(this.cc, row, src, dst))) {
      doc.target.mergeMetadata = { isMerged: true, mergedBy: actor, mergeCommitId: dst };
      doc.pullRequestStatus = 'CLOSED';
      doc.lastActivityDate = now;
      this.save(scope, doc);
      this.record(
        scope,
        doc,
        'PULL_REQUEST_MERGE_STATE_CHANGED',
        actor,
        {
          pullRequestMergedStateChangedEventMetadata: {
            repositoryName: row.name,
            destinationReference: doc.target.destinationReference,
            mergeMetadata: doc.target.mergeMetadata,
          },
        },
        'pullRequestMergeStatusUpdated',
      );
    } else this.save(scope, doc);
  }

  /** The rules' verdict for a revision (EvaluatePullRequestApprovalRules and the merge guard). */
  evaluate(doc: PrDoc, revisionId: string) {
    const approvers = Object.entries(doc.approvals[revisionId] ?? {})
      .filter(([, s]) => s === 'APPROVE')
      .map(([arn]) => arn);
    const satisfied: string[] = [];
    const notSatisfied: string[] = [];
    for (const rule of doc.approvalRules) {
      let ok = true;
      try {
        const content = JSON.parse(rule.approvalRuleContent);
        for (const st of content.Statements ?? []) {
          const pool: string[] | undefined = st.ApprovalPoolMembers;
          const count = approvers.filter((a) => !pool?.length || pool.some((p) => matchesPool(p, a))).length;
          if (count < (st.NumberOfApprovalsNeeded ?? 1)) ok = false;
        }
      } catch {
        ok = false;
      }
      (ok ? satisfied : notSatisfied).push(rule.approvalRuleName);
    }
    const overridden = !!doc.overrides[revisionId];
    return {
      approved: notSatisfied.length === 0 || overridden,
      overridden,
      approvalRulesSatisfied: satisfied,
      approvalRulesNotSatisfied: notSatisfied,
    };
  }

  /** MergePullRequestBy*: the three-way input has every member (fast-forward's and squash's have some of them). */
  async mergePr(input: MergePullRequestByThreeWayInput, ctx: RequestContext, option: MergeOption) {
    const cc = this.cc;
    const doc = this.require(ctx, input.pullRequestId);
    const row = cc.store.requireRepo(ctx, checkRepositoryName(input.repositoryName));
    if (row.id !== doc.repoId)
      throw new AwsError(
        'RepositoryNotAssociatedWithPullRequestException',
        'The repository does not contain any pull requests with that pull request ID. Use GetPullRequest to verify the correct repository name for the pull request ID.',
      );
    const key = `${ctx.account}/${ctx.region}/${doc.pullRequestId}`;
    return cc.withLock(row.id, async () => {
      await this.refresh(row, doc, ctx.caller.arn);
      if (doc.pullRequestStatus !== 'OPEN')
        throw new AwsError('PullRequestAlreadyClosedException', 'The pull request status cannot be updated because it is already closed.');
      const source = await branchCommit(cc, row, doc.target.sourceReference.slice(11));
      const destination = await branchCommit(cc, row, doc.target.destinationReference.slice(11));
      if (!source || !destination)
        throw new AwsError('ReferenceDoesNotExistException', 'The specified reference does not exist. You must provide a full commit ID.');
      if (input.sourceCommitId && input.sourceCommitId !== source)
        throw new AwsError(
          'TipOfSourceReferenceIsDifferentException',
          'The tip of the source reference is different from the source commit ID provided.',
        );
      if (!this.evaluate(doc, doc.revisionId).approved)
        throw new AwsError(
          'PullRequestApprovalRulesNotSatisfiedException',
          'The pull request cannot be merged because one or more approval rules applied to the pull request have conditions that have not been met.',
        );
      this.merging.add(key);
      try {
        const r = await merge(cc, row, ctx, {
          source,
          destination,
          option,
          targetBranch: doc.target.destinationReference.slice(11),
          ...mergeSettings(input),
        });
        doc.target.destinationCommit = r.commitId;
        doc.target.mergeMetadata = { isMerged: true, mergedBy: ctx.caller.arn, mergeCommitId: r.commitId, mergeOption: option };
        doc.pullRequestStatus = 'CLOSED';
        doc.lastActivityDate = ctx.clock.now();
        this.save(ctx, doc);
        this.record(
          ctx,
          doc,
          'PULL_REQUEST_MERGE_STATE_CHANGED',
          ctx.caller.arn,
          {
            pullRequestMergedStateChangedEventMetadata: {
              repositoryName: row.name,
              destinationReference: doc.target.destinationReference,
              mergeMetadata: doc.target.mergeMetadata,
            },
          },
          'pullRequestMergeStatusUpdated',
        );
        return { pullRequest: this.view(doc) };
      } finally {
        this.merging.delete(key);
      }
    });
  }
}

function matchesPool(pattern: string, arn: string) {
  // Pool members are ARNs (wildcards allowed) or CodeCommitApprovers:<account>:<user or role/session>.
  const p = pattern.startsWith('CodeCommitApprovers:') ? pattern.split(':').slice(2).join(':') : pattern;
  const target = pattern.startsWith('CodeCommitApprovers:')
    ? arn
        .split(':')
        .slice(5)
        .join(':')
        .replace(/^(user|assumed-role)\//, '')
    : arn;
  const re = new RegExp(
    '^' +
      p
        .split('*')
        .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*') +
      '$',
  );
  return re.test(target) || (pattern.startsWith('CodeCommitApprovers:') && target.startsWith(p + '/'));
}

export function pullRequestHandlers(cc: Codecommit, prs: PullRequests): CodecommitHandlers {
  const { store } = cc;
  const fullRef = (r: string) => (r.startsWith('refs/') ? r : `refs/heads/${r}`);
  return {
    async CreatePullRequest(input, ctx) {
      if (!input.title) throw new AwsError('TitleRequiredException', 'A pull request title is required. It cannot be empty or null.');
      if (input.title.length > 150)
        throw new AwsError(
          'InvalidTitleException',
          'The title of the pull request is not valid. Pull request titles cannot exceed 150 characters in length.',
        );
      if (input.clientRequestToken) {
        const existing = store.prByToken<PrDoc>(ctx, input.clientRequestToken);
        if (existing) return { pullRequest: prs.view(existing) };
      }
      if (!input.targets?.length)
        throw new AwsError('TargetsRequiredException', 'An array of target objects is required. It cannot be empty or null.');
      if (input.targets.length > 1)
        throw new AwsError(
          'MultipleRepositoriesInPullRequestException',
          'You cannot include more than one repository in a pull request. Make sure you have specified only one repository name in your request, and then try again.',
        );
      const t = input.targets[0];
      const row = store.requireRepo(ctx, checkRepositoryName(t.repositoryName));
      const refs = await cc.git.refs(cc.gitDir(row));
      const sourceReference = fullRef(t.sourceReference);
      const destinationReference = fullRef(t.destinationReference ?? row.default_branch ?? 'main');
      const sourceCommit = refs.get(sourceReference);
      const destinationCommit = refs.get(destinationReference);
      if (!sourceCommit)
        throw new AwsError('ReferenceDoesNotExistException', `The specified reference ${t.sourceReference} does not exist.`);
      if (!destinationCommit)
        throw new AwsError(
          'ReferenceDoesNotExistException',
          `The specified reference ${t.destinationReference ?? destinationReference} does not exist.`,
        );
      if (sourceReference === destinationReference)
        throw new AwsError(
          'SourceAndDestinationAreSameException',
          'The source branch and destination branch for the pull request are the same. You must specify different branches for the source and destination.',
        );
      const now = ctx.clock.now();
      const doc: PrDoc = {
        pullRequestId: String(store.nextPullRequestId(ctx)),
        title: input.title,
        description: input.description,
        lastActivityDate: now,
        creationDate: now,
        pullRequestStatus: 'OPEN',
        authorArn: ctx.caller.arn,
        clientRequestToken: input.clientRequestToken,
        revisionId: randomUUID().replace(/-/g, '') + randomUUID().replace(/-/g, ''),
        repoId: row.id,
        target: {
          sourceReference,
          destinationReference,
          sourceCommit,
          destinationCommit,
          mergeBase: await mergeBase(cc, row, destinationCommit, sourceCommit),
          mergeMetadata: { isMerged: false },
        },
        approvalRules: rulesFromTemplates(store, row, destinationReference, now, ctx.caller.arn),
        approvals: {},
        overrides: {},
      };
      store.insertPr(ctx, Number(doc.pullRequestId), row.id, 'OPEN', doc.authorArn, input.clientRequestToken ?? null, doc);
      prs.record(
        ctx,
        doc,
        'PULL_REQUEST_CREATED',
        ctx.caller.arn,
        {
          pullRequestCreatedEventMetadata: {
            repositoryName: row.name,
            sourceCommitId: sourceCommit,
            destinationCommitId: destinationCommit,
            mergeBase: doc.target.mergeBase,
          },
        },
        'pullRequestCreated',
      );
      return { pullRequest: prs.view(doc) };
    },

    async GetPullRequest(input, ctx) {
      const doc = prs.require(ctx, input.pullRequestId);
      if (doc.pullRequestStatus === 'OPEN') {
        const row = store.repoById(doc.repoId);
        if (row) await cc.withLock(row.id, () => prs.refresh(row, doc, ctx.caller.arn));
      }
      return { pullRequest: prs.view(doc) };
    },

    ListPullRequests(input, ctx) {
      const row = store.requireRepo(ctx, checkRepositoryName(input.repositoryName));
      if (input.pullRequestStatus && !['OPEN', 'CLOSED'].includes(input.pullRequestStatus))
        throw new AwsError(
          'InvalidPullRequestStatusException',
          'The pull request status is not valid. The only valid values are OPEN and CLOSED.',
        );
      const ids = store
        .listPrs(row.id)
        .filter(
          (p) => (!input.authorArn || p.author === input.authorArn) && (!input.pullRequestStatus || p.status === input.pullRequestStatus),
        )
        .map((p) => String(p.pr_id));
      const max = input.maxResults && input.maxResults > 0 ? Math.min(input.maxResults, 100) : 100;
      const page = pageByOffset(ids, input.nextToken, max, badContinuationToken);
      return { pullRequestIds: page.items, nextToken: page.nextToken };
    },

    UpdatePullRequestTitle(input, ctx) {
      const doc = prs.require(ctx, input.pullRequestId);
      if (!input.title) throw new AwsError('TitleRequiredException', 'A pull request title is required. It cannot be empty or null.');
      if (doc.pullRequestStatus !== 'OPEN')
        throw new AwsError('PullRequestAlreadyClosedException', 'The pull request status cannot be updated because it is already closed.');
      doc.title = input.title;
      doc.lastActivityDate = ctx.clock.now();
      prs.save(ctx, doc);
      return { pullRequest: prs.view(doc) };
    },

    UpdatePullRequestDescription(input, ctx) {
      const doc = prs.require(ctx, input.pullRequestId);
      if (doc.pullRequestStatus !== 'OPEN')
        throw new AwsError('PullRequestAlreadyClosedException', 'The pull request status cannot be updated because it is already closed.');
      doc.description = input.description;
      doc.lastActivityDate = ctx.clock.now();
      prs.save(ctx, doc);
      return { pullRequest: prs.view(doc) };
    },

    UpdatePullRequestStatus(input, ctx) {
      const doc = prs.require(ctx, input.pullRequestId);
      if (!['OPEN', 'CLOSED'].includes(input.pullRequestStatus))
        throw new AwsError(
          'InvalidPullRequestStatusException',
          'The pull request status is not valid. The only valid values are OPEN and CLOSED.',
        );
      if (doc.pullRequestStatus === input.pullRequestStatus) return { pullRequest: prs.view(doc) };
      if (input.pullRequestStatus === 'OPEN')
        throw new AwsError(
          'InvalidPullRequestStatusUpdateException',
          'The pull request status update is not valid. The only valid update is from OPEN to CLOSED.',
        );
      doc.pullRequestStatus = 'CLOSED';
      doc.lastActivityDate = ctx.clock.now();
      prs.save(ctx, doc);
      prs.record(
        ctx,
        doc,
        'PULL_REQUEST_STATUS_CHANGED',
        ctx.caller.arn,
        { pullRequestStatusChangedEventMetadata: { pullRequestStatus: 'CLOSED' } },
        'pullRequestStatusChanged',
      );
      return { pullRequest: prs.view(doc) };
    },

    DescribePullRequestEvents(input, ctx) {
      const doc = prs.require(ctx, input.pullRequestId);
      let events = store.prEvents<PrEventDoc>(ctx, Number(doc.pullRequestId));
      if (input.pullRequestEventType) events = events.filter((e) => e.pullRequestEventType === input.pullRequestEventType);
      if (input.actorArn) events = events.filter((e) => e.actorArn === input.actorArn);
      const max = input.maxResults && input.maxResults > 0 ? Math.min(input.maxResults, 100) : 100;
      const page = pageByOffset(events, input.nextToken, max, badContinuationToken);
      return { pullRequestEvents: page.items.map((e) => ({ ...e, eventDate: new Date(e.eventDate) })), nextToken: page.nextToken };
    },

    MergePullRequestByFastForward: (input, ctx) => prs.mergePr(input, ctx, 'FAST_FORWARD_MERGE'),
    MergePullRequestBySquash: (input, ctx) => prs.mergePr(input, ctx, 'SQUASH_MERGE'),
    MergePullRequestByThreeWay: (input, ctx) => prs.mergePr(input, ctx, 'THREE_WAY_MERGE'),

    async GetPullRequestApprovalStates(input, ctx) {
      const doc = prs.require(ctx, input.pullRequestId);
      if (!input.revisionId) throw new AwsError('RevisionIdRequiredException', 'A revision ID is required, but was not provided.');
      return {
        approvals: Object.entries(doc.approvals[input.revisionId] ?? {}).map(([userArn, approvalState]) => ({ userArn, approvalState })),
      };
    },
  };
}
