/**
 * CodeCommit approval rule templates with the SDK v3 client and the aws CLI: the template
 * lifecycle and its errors, associations (single and batch), templates applied to new pull
 * requests by destination branch, and EvaluatePullRequestApprovalRules honouring them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  AssociateApprovalRuleTemplateWithRepositoryCommand,
  BatchAssociateApprovalRuleTemplateWithRepositoriesCommand,
  BatchDisassociateApprovalRuleTemplateFromRepositoriesCommand,
  CodeCommitClient,
  CreateApprovalRuleTemplateCommand,
  CreateBranchCommand,
  CreateCommitCommand,
  CreatePullRequestCommand,
  CreateRepositoryCommand,
  DeleteApprovalRuleTemplateCommand,
  DeletePullRequestApprovalRuleCommand,
  DeleteRepositoryCommand,
  DisassociateApprovalRuleTemplateFromRepositoryCommand,
  EvaluatePullRequestApprovalRulesCommand,
  GetApprovalRuleTemplateCommand,
  ListApprovalRuleTemplatesCommand,
  ListAssociatedApprovalRuleTemplatesForRepositoryCommand,
  ListRepositoriesForApprovalRuleTemplateCommand,
  UpdateApprovalRuleTemplateContentCommand,
  UpdateApprovalRuleTemplateDescriptionCommand,
  UpdateApprovalRuleTemplateNameCommand,
  UpdatePullRequestApprovalRuleContentCommand,
  UpdatePullRequestApprovalStateCommand,
} from '@aws-sdk/client-codecommit';
import { CreateAccessKeyCommand, CreateUserCommand, IAMClient } from '@aws-sdk/client-iam';
import { awsCli, clientConfig, failure, startOpsbox, unique, type RunningOpsbox } from '../helpers/opsbox.js';

let box: RunningOpsbox;
let cc: CodeCommitClient;

before(async () => {
  box = await startOpsbox();
  cc = new CodeCommitClient(clientConfig(box.url));
});
after(async () => {
  cc?.destroy();
  await box?.dispose();
});

const content = (approvals: number, branches?: string[]) =>
  JSON.stringify({
    Version: '2018-11-08',
    ...(branches ? { DestinationReferences: branches } : {}),
    Statements: [{ Type: 'Approvers', NumberOfApprovalsNeeded: approvals }],
  });

/** A repository with main and a feature branch off it, and a branch `release`; returns its name. */
async function repoWithBranches() {
  const name = unique('tpl');
  await cc.send(new CreateRepositoryCommand({ repositoryName: name }));
  const base = await cc.send(
    new CreateCommitCommand({
      repositoryName: name,
      branchName: 'main',
      putFiles: [{ filePath: 'README.md', fileContent: Buffer.from('hello\n') }],
    }),
  );
  await cc.send(new CreateBranchCommand({ repositoryName: name, branchName: 'release', commitId: base.commitId }));
  await cc.send(
    new CreateCommitCommand({
      repositoryName: name,
      branchName: 'feature',
      parentCommitId: base.commitId,
      putFiles: [{ filePath: 'x.txt', fileContent: Buffer.from('x\n') }],
    }),
  );
  return name;
}

const openPr = async (repositoryName: string, destinationReference: string) =>
  (
    await cc.send(
      new CreatePullRequestCommand({ title: 'x', targets: [{ repositoryName, sourceReference: 'feature', destinationReference }] }),
    )
  ).pullRequest!;

describe('approval rule templates', () => {
  test('Create / Get / List / Update name, description and content / Delete, with AWS errors', async () => {
    const name = unique('two-reviewers');
    const created = (
      await cc.send(
        new CreateApprovalRuleTemplateCommand({
          approvalRuleTemplateName: name,
          approvalRuleTemplateContent: content(2),
          approvalRuleTemplateDescription: 'two people look at it',
        }),
      )
    ).approvalRuleTemplate!;
    assert.match(created.approvalRuleTemplateId!, /^[0-9a-f-]{36}$/);
    assert.match(created.ruleContentSha256!, /^[0-9a-f]{64}$/);
    assert.equal(created.lastModifiedUser, 'arn:aws:iam::000000000000:root');
    assert.ok(created.creationDate instanceof Date);

    const again = await failure(
      cc.send(new CreateApprovalRuleTemplateCommand({ approvalRuleTemplateName: name, approvalRuleTemplateContent: content(1) })),
    );
    assert.equal(again.name, 'ApprovalRuleTemplateNameAlreadyExistsException');
    const bad = await failure(
      cc.send(
        new CreateApprovalRuleTemplateCommand({
          approvalRuleTemplateName: unique('bad'),
          approvalRuleTemplateContent: '{"Statements":[{"Type":"Nobody"}]}',
        }),
      ),
    );
    assert.deepEqual(
      [bad.name, bad.message],
      ['InvalidApprovalRuleTemplateContentException', 'The content of the approval rule template is not valid.'],
    );
    const missing = await failure(cc.send(new GetApprovalRuleTemplateCommand({ approvalRuleTemplateName: unique('none') })));
    assert.equal(missing.name, 'ApprovalRuleTemplateDoesNotExistException');
    assert.equal(missing.status, 400);

    const got = (await cc.send(new GetApprovalRuleTemplateCommand({ approvalRuleTemplateName: name }))).approvalRuleTemplate!;
    assert.equal(got.approvalRuleTemplateDescription, 'two people look at it');
    assert.ok((await cc.send(new ListApprovalRuleTemplatesCommand({}))).approvalRuleTemplateNames!.includes(name));

    const staleSha = await failure(
      cc.send(
        new UpdateApprovalRuleTemplateContentCommand({
          approvalRuleTemplateName: name,
          newRuleContent: content(3),
          existingRuleContentSha256: 'f'.repeat(64),
        }),
      ),
    );
    assert.equal(staleSha.name, 'InvalidRuleContentSha256Exception');
    const updated = (
      await cc.send(
        new UpdateApprovalRuleTemplateContentCommand({
          approvalRuleTemplateName: name,
          newRuleContent: content(3),
          existingRuleContentSha256: created.ruleContentSha256,
        }),
      )
    ).approvalRuleTemplate!;
    assert.notEqual(updated.ruleContentSha256, created.ruleContentSha256);
    await cc.send(
      new UpdateApprovalRuleTemplateDescriptionCommand({ approvalRuleTemplateName: name, approvalRuleTemplateDescription: 'three' }),
    );
    const renamed = `${name}-v2`;
    const r = (
      await cc.send(new UpdateApprovalRuleTemplateNameCommand({ oldApprovalRuleTemplateName: name, newApprovalRuleTemplateName: renamed }))
    ).approvalRuleTemplate!;
    assert.deepEqual(
      [r.approvalRuleTemplateId, r.approvalRuleTemplateDescription, r.approvalRuleTemplateContent],
      [created.approvalRuleTemplateId, 'three', content(3)],
    );

    const deleted = await cc.send(new DeleteApprovalRuleTemplateCommand({ approvalRuleTemplateName: renamed }));
    assert.equal(deleted.approvalRuleTemplateId, created.approvalRuleTemplateId);
    assert.equal((await cc.send(new DeleteApprovalRuleTemplateCommand({ approvalRuleTemplateName: renamed }))).approvalRuleTemplateId, '');
  });

  test('associations: single and batch (with per-repository errors), lists both ways, a template in use cannot be deleted', async () => {
    const repoA = await repoWithBranches();
    const repoB = await repoWithBranches();
    const name = unique('assoc');
    await cc.send(new CreateApprovalRuleTemplateCommand({ approvalRuleTemplateName: name, approvalRuleTemplateContent: content(1) }));
    await cc.send(new AssociateApprovalRuleTemplateWithRepositoryCommand({ approvalRuleTemplateName: name, repositoryName: repoA }));
    const batch = await cc.send(
      new BatchAssociateApprovalRuleTemplateWithRepositoriesCommand({
        approvalRuleTemplateName: name,
        repositoryNames: [repoB, 'no-such-repo-here'],
      }),
    );
    assert.deepEqual(batch.associatedRepositoryNames, [repoB]);
    assert.deepEqual(batch.errors, [
      {
        repositoryName: 'no-such-repo-here',
        errorCode: 'RepositoryDoesNotExistException',
        errorMessage: 'no-such-repo-here does not exist',
      },
    ]);
    const repos = await cc.send(new ListRepositoriesForApprovalRuleTemplateCommand({ approvalRuleTemplateName: name }));
    assert.deepEqual(repos.repositoryNames, [repoA, repoB].sort());
    const forRepo = await cc.send(new ListAssociatedApprovalRuleTemplatesForRepositoryCommand({ repositoryName: repoA }));
    assert.deepEqual(forRepo.approvalRuleTemplateNames, [name]);

    const inUse = await failure(cc.send(new DeleteApprovalRuleTemplateCommand({ approvalRuleTemplateName: name })));
    assert.equal(inUse.name, 'ApprovalRuleTemplateInUseException');

    await cc.send(new DisassociateApprovalRuleTemplateFromRepositoryCommand({ approvalRuleTemplateName: name, repositoryName: repoA }));
    // a deleted repository's associations go with it
    await cc.send(new DeleteRepositoryCommand({ repositoryName: repoB }));
    assert.deepEqual(
      (await cc.send(new ListRepositoriesForApprovalRuleTemplateCommand({ approvalRuleTemplateName: name }))).repositoryNames,
      [],
    );
    const none = await cc.send(
      new BatchDisassociateApprovalRuleTemplateFromRepositoriesCommand({ approvalRuleTemplateName: name, repositoryNames: [repoA] }),
    );
    assert.deepEqual(none.disassociatedRepositoryNames, [repoA]);
    await cc.send(new DeleteApprovalRuleTemplateCommand({ approvalRuleTemplateName: name }));
  });

  test('a new pull request gets the rules of the templates whose branches match; they block the merge until approved and cannot be edited', async () => {
    const repo = await repoWithBranches();
    const everywhere = unique('all-branches');
    const mainOnly = unique('main-only');
    await cc.send(new CreateApprovalRuleTemplateCommand({ approvalRuleTemplateName: everywhere, approvalRuleTemplateContent: content(1) }));
    await cc.send(
      new CreateApprovalRuleTemplateCommand({
        approvalRuleTemplateName: mainOnly,
        approvalRuleTemplateContent: content(1, ['refs/heads/main']),
      }),
    );
    for (const t of [everywhere, mainOnly])
      await cc.send(new AssociateApprovalRuleTemplateWithRepositoryCommand({ approvalRuleTemplateName: t, repositoryName: repo }));

    const toRelease = await openPr(repo, 'release');
    assert.deepEqual(
      toRelease.approvalRules!.map((r) => r.approvalRuleName),
      [everywhere],
    );
    const toMain = await openPr(repo, 'main');
    const rules = toMain.approvalRules!;
    assert.deepEqual(rules.map((r) => r.approvalRuleName).sort(), [everywhere, mainOnly].sort());
    const tpl = (await cc.send(new GetApprovalRuleTemplateCommand({ approvalRuleTemplateName: mainOnly }))).approvalRuleTemplate!;
    assert.deepEqual(rules.find((r) => r.approvalRuleName === mainOnly)!.originApprovalRuleTemplate, {
      approvalRuleTemplateId: tpl.approvalRuleTemplateId,
      approvalRuleTemplateName: mainOnly,
    });

    const evaluate = async () =>
      (await cc.send(new EvaluatePullRequestApprovalRulesCommand({ pullRequestId: toMain.pullRequestId, revisionId: toMain.revisionId })))
        .evaluation!;
    assert.equal((await evaluate()).approved, false);
    assert.deepEqual((await evaluate()).approvalRulesNotSatisfied!.sort(), [everywhere, mainOnly].sort());

    const del = await failure(
      cc.send(new DeletePullRequestApprovalRuleCommand({ pullRequestId: toMain.pullRequestId, approvalRuleName: mainOnly })),
    );
    assert.equal(del.name, 'CannotDeleteApprovalRuleFromTemplateException');
    const mod = await failure(
      cc.send(
        new UpdatePullRequestApprovalRuleContentCommand({
          pullRequestId: toMain.pullRequestId,
          approvalRuleName: mainOnly,
          newRuleContent: content(0),
        }),
      ),
    );
    assert.equal(mod.name, 'CannotModifyApprovalRuleFromTemplateException');

    const iam = new IAMClient(clientConfig(box.url));
    const user = unique('reviewer');
    await iam.send(new CreateUserCommand({ UserName: user }));
    const key = (await iam.send(new CreateAccessKeyCommand({ UserName: user }))).AccessKey!;
    const reviewer = new CodeCommitClient(clientConfig(box.url, { accessKeyId: key.AccessKeyId }));
    await reviewer.send(
      new UpdatePullRequestApprovalStateCommand({
        pullRequestId: toMain.pullRequestId,
        revisionId: toMain.revisionId,
        approvalState: 'APPROVE',
      }),
    );
    reviewer.destroy();
    iam.destroy();
    const done = await evaluate();
    assert.equal(done.approved, true);
    assert.deepEqual(done.approvalRulesSatisfied!.sort(), [everywhere, mainOnly].sort());
  });

  test('the aws CLI: create-approval-rule-template, associate, list-associated-approval-rule-templates-for-repository', async () => {
    const repo = await repoWithBranches();
    const name = unique('cli');
    const created = await awsCli(box.url, [
      'codecommit',
      'create-approval-rule-template',
      '--approval-rule-template-name',
      name,
      '--approval-rule-template-content',
      content(1, ['refs/heads/main']),
    ]);
    assert.equal(created.code, 0, created.stderr);
    assert.equal(JSON.parse(created.stdout).approvalRuleTemplate.approvalRuleTemplateName, name);
    const assoc = await awsCli(box.url, [
      'codecommit',
      'associate-approval-rule-template-with-repository',
      '--approval-rule-template-name',
      name,
      '--repository-name',
      repo,
    ]);
    assert.equal(assoc.code, 0, assoc.stderr);
    const list = await awsCli(box.url, ['codecommit', 'list-associated-approval-rule-templates-for-repository', '--repository-name', repo]);
    assert.deepEqual(JSON.parse(list.stdout).approvalRuleTemplateNames, [name]);
    const missing = await awsCli(box.url, ['codecommit', 'get-approval-rule-template', '--approval-rule-template-name', unique('nope')]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /ApprovalRuleTemplateDoesNotExistException/);
  });
});
