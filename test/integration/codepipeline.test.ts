/**
 * CodePipeline against a real opsbox, driven by the SDK v3 client and real git pushes: structure
 * validation, pipeline CRUD and versions, executions from push to S3 deploy through a manual
 * approval, rejection and retry, stop, SUPERSEDED/QUEUED with two quick pushes, V2 trigger
 * filters, the EventBridge-target trigger, an S3 source and pipeline variables.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  CodePipelineClient,
  CreatePipelineCommand,
  DeletePipelineCommand,
  DisableStageTransitionCommand,
  EnableStageTransitionCommand,
  GetPipelineCommand,
  GetPipelineExecutionCommand,
  GetPipelineStateCommand,
  ListActionExecutionsCommand,
  ListPipelineExecutionsCommand,
  ListPipelinesCommand,
  ListTagsForResourceCommand,
  PutApprovalResultCommand,
  RetryStageExecutionCommand,
  StartPipelineExecutionCommand,
  StopPipelineExecutionCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdatePipelineCommand,
  type PipelineDeclaration,
} from '@aws-sdk/client-codepipeline';
import { CodeCommitClient, CreateRepositoryCommand } from '@aws-sdk/client-codecommit';
import { EventBridgeClient, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { CreateBucketCommand, GetObjectCommand, PutBucketVersioningCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { awsCli, clientConfig, startOpsbox, unique, type RunningOpsbox } from '../helpers/opsbox.js';
import { GitClient } from './codecommit.helpers.js';
import { waitFor as waitUntil } from '../helpers/wait.js';

let box: RunningOpsbox;
let cp: CodePipelineClient;
let s3: S3Client;
let cc: CodeCommitClient;
let git: GitClient;

before(async () => {
  box = await startOpsbox({ env: { OPSBOX_CODEPIPELINE_S3_POLL_MS: '200' } });
  cp = new CodePipelineClient(clientConfig(box.url));
  s3 = new S3Client({ ...clientConfig(box.url), forcePathStyle: true });
  cc = new CodeCommitClient(clientConfig(box.url));
  git = new GitClient();
});
after(async () => {
  git.dispose();
  await box.dispose();
});

const ROLE = 'arn:aws:iam::000000000000:role/pipeline';

async function bucket(prefix: string, versioned = false) {
  const name = unique(prefix).toLowerCase();
  await s3.send(new CreateBucketCommand({ Bucket: name }));
  if (versioned) await s3.send(new PutBucketVersioningCommand({ Bucket: name, VersioningConfiguration: { Status: 'Enabled' } }));
  return name;
}

/** A CodeCommit repository with a working clone and one commit on main pushed. */
async function repo(files: Record<string, string> = { 'index.html': '<h1>v1</h1>\n' }) {
  const name = unique('app');
  const meta = (await cc.send(new CreateRepositoryCommand({ repositoryName: name }))).repositoryMetadata!;
  const dir = git.dir(name);
  await git.must(dir, ['clone', '-q', meta.cloneUrlHttp!, '.']);
  const commit = async (f: Record<string, string>, message: string) => {
    for (const [p, body] of Object.entries(f)) writeFileSync(join(dir, p), body);
    await git.must(dir, ['add', '-A']);
    await git.must(dir, ['commit', '-q', '-m', message]);
    return git.must(dir, ['rev-parse', 'HEAD']);
  };
  const push = async (ref = 'main') => git.must(dir, ['push', '-q', 'origin', `HEAD:refs/heads/${ref}`]);
  const first = await commit(files, 'first commit');
  await push();
  return { name, dir, commit, push, first };
}

const source = (repoName: string, extra: Record<string, string> = {}) => ({
  name: 'Source',
  actions: [
    {
      name: 'Source',
      actionTypeId: { category: 'Source', owner: 'AWS', provider: 'CodeCommit', version: '1' },
      configuration: { RepositoryName: repoName, BranchName: 'main', ...extra },
      outputArtifacts: [{ name: 'SourceOutput' }],
      namespace: 'SourceVariables',
    },
  ],
});
const approval = {
  name: 'Approve',
  actions: [{ name: 'Approval', actionTypeId: { category: 'Approval', owner: 'AWS', provider: 'Manual', version: '1' } }],
};
const deploy = (bucketName: string, key = '') => ({
  name: 'Deploy',
  actions: [
    {
      name: 'Deploy',
      actionTypeId: { category: 'Deploy', owner: 'AWS', provider: 'S3', version: '1' },
      configuration: { BucketName: bucketName, Extract: 'true', ...(key ? { ObjectKey: key } : {}) },
      inputArtifacts: [{ name: 'SourceOutput' }],
    },
  ],
});

async function createPipeline(p: Record<string, any> & { name: string; stages: any[] }, artifacts?: string) {
  const artifactBucket = artifacts ?? (await bucket('artifacts'));
  await cp.send(
    new CreatePipelineCommand({
      pipeline: { roleArn: ROLE, artifactStore: { type: 'S3', location: artifactBucket }, ...p } as PipelineDeclaration,
    }),
  );
  return artifactBucket;
}

async function executions(name: string) {
  return (await cp.send(new ListPipelineExecutionsCommand({ pipelineName: name }))).pipelineExecutionSummaries ?? [];
}

const waitFor = <T>(what: string, fn: () => Promise<T> | T, pred: (v: T) => boolean, ms = 15_000) => waitUntil(what, fn, pred, ms);

const execStatus = (name: string, id: string) => async () =>
  (await cp.send(new GetPipelineExecutionCommand({ pipelineName: name, pipelineExecutionId: id }))).pipelineExecution!;
const waitStatus = (name: string, id: string, status: string, ms?: number) =>
  waitFor(`${id} ${status}`, execStatus(name, id), (e) => e.status === status, ms);

async function approvalToken(name: string, stage = 'Approve', action = 'Approval') {
  const state = await waitFor(
    'approval in progress',
    () => cp.send(new GetPipelineStateCommand({ name })),
    (s) =>
      s.stageStates!.find((x) => x.stageName === stage)?.actionStates?.find((a) => a.actionName === action)?.latestExecution?.status ===
      'InProgress',
  );
  return state.stageStates!.find((x) => x.stageName === stage)!.actionStates!.find((a) => a.actionName === action)!.latestExecution!.token!;
}

const rejects = (p: Promise<unknown>, name: string, message?: RegExp) =>
  assert.rejects(p, (e: any) => {
    assert.equal(e.name, name, e.message);
    if (message) assert.match(e.message, message);
    return true;
  });

describe('action types', () => {
  test('ListActionTypes (aws CLI) lists the providers opsbox runs, with their artifact counts and configuration', async () => {
    const r = await awsCli(box.url, ['codepipeline', 'list-action-types', '--action-owner-filter', 'AWS']);
    assert.equal(r.code, 0, r.stderr);
    const types = JSON.parse(r.stdout).actionTypes as any[];
    const ids = types.map((t) => `${t.id.category}/${t.id.provider}`);
    for (const want of [
      'Source/CodeCommit',
      'Source/S3',
      'Build/CodeBuild',
      'Test/CodeBuild',
      'Approval/Manual',
      'Deploy/S3',
      'Deploy/CodeDeploy',
    ])
      assert.ok(ids.includes(want), `${want} in ${ids.join(', ')}`);
    assert.ok(!ids.includes('Deploy/CodeDeployToECS'));
    const build = types.find((t) => t.id.category === 'Build');
    assert.deepEqual(build.inputArtifactDetails, { minimumCount: 1, maximumCount: 5 });
    assert.ok(build.actionConfigurationProperties.some((p: any) => p.name === 'ProjectName' && p.required));
  });
});

describe('structure validation', () => {
  test('CreatePipeline: one stage → InvalidStructureException with the reason', async () => {
    const r = await repo();
    await rejects(createPipeline({ name: unique('p'), stages: [source(r.name)] }), 'InvalidStructureException', /minimum of 2 stages/);
  });

  test('CreatePipeline: a build action in the first stage → InvalidStructureException', async () => {
    await rejects(
      createPipeline({ name: unique('p'), stages: [{ ...approval, name: 'First' }, approval] }),
      'InvalidStructureException',
      /only contains source actions/,
    );
  });

  test('CreatePipeline: an action type opsbox does not run yet (CodeDeployToECS) → InvalidActionDeclarationException "not available"', async () => {
    const r = await repo();
    const codedeploy = {
      name: 'Deploy',
      actions: [
        {
          name: 'Deploy',
          actionTypeId: { category: 'Deploy', owner: 'AWS', provider: 'CodeDeployToECS', version: '1' },
          configuration: { ApplicationName: 'a', DeploymentGroupName: 'g' },
          inputArtifacts: [{ name: 'SourceOutput' }],
        },
      ],
    };
    await rejects(
      createPipeline({ name: unique('p'), stages: [source(r.name), codedeploy] }),
      'InvalidActionDeclarationException',
      /ActionType \(Category: 'Deploy', Provider: 'CodeDeployToECS', Owner: 'AWS', Version: '1'\) in action 'Deploy' is not available in region 'US_EAST_1'/,
    );
  });

  test('CreatePipeline: missing input artifact, unknown artifact, missing configuration, V1 with QUEUED', async () => {
    const r = await repo();
    const b = await bucket('deploy');
    const noInput = deploy(b);
    noInput.actions[0].inputArtifacts = [];
    await rejects(
      createPipeline({ name: unique('p'), stages: [source(r.name), noInput] }),
      'InvalidActionDeclarationException',
      /declares 0 input artifacts which is less than the minimum count \(1\)/,
    );
    const wrongInput = deploy(b);
    wrongInput.actions[0].inputArtifacts = [{ name: 'Nope' }];
    await rejects(
      createPipeline({ name: unique('p'), stages: [source(r.name), wrongInput] }),
      'InvalidStructureException',
      /Input artifact 'Nope'/,
    );
    const noBranch = source(r.name);
    delete (noBranch.actions[0].configuration as any).BranchName;
    await rejects(
      createPipeline({ name: unique('p'), stages: [noBranch, approval] }),
      'InvalidActionDeclarationException',
      /missing required configuration 'BranchName'/,
    );
    await rejects(
      createPipeline({ name: unique('p'), executionMode: 'QUEUED', stages: [source(r.name), approval] }),
      'ValidationException',
      /V2/,
    );
  });

  test('GetPipeline of a missing pipeline → PipelineNotFoundException; duplicate name → PipelineNameInUseException', async () => {
    await rejects(
      cp.send(new GetPipelineCommand({ name: unique('missing') })),
      'PipelineNotFoundException',
      /does not have a pipeline with name/,
    );
    const r = await repo();
    const name = unique('p');
    await createPipeline({ name, stages: [source(r.name), approval] });
    await rejects(createPipeline({ name, stages: [source(r.name), approval] }), 'PipelineNameInUseException');
  });
});

describe('pipelines', () => {
  test('Create/Get/Update (versions)/List/tags/Delete', async () => {
    const r = await repo();
    const name = unique('crud');
    const created = await cp.send(
      new CreatePipelineCommand({
        pipeline: {
          name,
          roleArn: ROLE,
          artifactStore: { type: 'S3', location: await bucket('artifacts') },
          stages: [source(r.name), approval],
        } as PipelineDeclaration,
        tags: [{ key: 'team', value: 'web' }],
      }),
    );
    assert.equal(created.pipeline!.version, 1);
    assert.equal(created.pipeline!.pipelineType, 'V1');
    assert.equal(created.pipeline!.executionMode, 'SUPERSEDED');
    assert.equal(created.pipeline!.stages![0].actions![0].runOrder, 1);
    const got = await cp.send(new GetPipelineCommand({ name }));
    assert.equal(got.metadata!.pipelineArn, `arn:aws:codepipeline:us-east-1:000000000000:${name}`);
    const updated = await cp.send(
      new UpdatePipelineCommand({ pipeline: { ...got.pipeline!, pipelineType: 'V2', executionMode: 'QUEUED' } }),
    );
    assert.equal(updated.pipeline!.version, 2);
    assert.equal((await cp.send(new GetPipelineCommand({ name, version: 1 }))).pipeline!.executionMode, 'SUPERSEDED');
    await rejects(cp.send(new GetPipelineCommand({ name, version: 7 })), 'PipelineVersionNotFoundException');
    const listed = (await cp.send(new ListPipelinesCommand({}))).pipelines!.find((p) => p.name === name)!;
    assert.equal(listed.version, 2);
    assert.equal(listed.pipelineType, 'V2');

    const arn = got.metadata!.pipelineArn!;
    await cp.send(new TagResourceCommand({ resourceArn: arn, tags: [{ key: 'env', value: 'dev' }] }));
    await cp.send(new UntagResourceCommand({ resourceArn: arn, tagKeys: ['team'] }));
    assert.deepEqual((await cp.send(new ListTagsForResourceCommand({ resourceArn: arn }))).tags, [{ key: 'env', value: 'dev' }]);

    // CreatePipeline started a first execution, which waits for approval
    const [first] = await executions(name);
    assert.equal(first.trigger!.triggerType, 'CreatePipeline');
    await cp.send(new DeletePipelineCommand({ name }));
    await rejects(cp.send(new GetPipelineCommand({ name })), 'PipelineNotFoundException');
  });
});

describe('aws CLI', () => {
  test('aws codepipeline get-pipeline / get-pipeline-state / list-pipeline-executions / start-pipeline-execution', async () => {
    const r = await repo();
    const name = unique('cli');
    await createPipeline({ name, stages: [source(r.name), deploy(await bucket('site'))] });
    const got = await awsCli(box.url, ['codepipeline', 'get-pipeline', '--name', name]);
    assert.equal(got.code, 0, got.stderr);
    assert.equal(JSON.parse(got.stdout).pipeline.stages[0].actions[0].configuration.RepositoryName, r.name);
    const started = await awsCli(box.url, ['codepipeline', 'start-pipeline-execution', '--name', name]);
    assert.equal(started.code, 0, started.stderr);
    const id = JSON.parse(started.stdout).pipelineExecutionId;
    await waitStatus(name, id, 'Succeeded');
    const list = await awsCli(box.url, ['codepipeline', 'list-pipeline-executions', '--pipeline-name', name]);
    assert.equal(list.code, 0, list.stderr);
    assert.equal(JSON.parse(list.stdout).pipelineExecutionSummaries[0].pipelineExecutionId, id);
    const state = await awsCli(box.url, ['codepipeline', 'get-pipeline-state', '--name', name]);
    assert.equal(state.code, 0, state.stderr);
    assert.equal(JSON.parse(state.stdout).stageStates[1].latestExecution.status, 'Succeeded');
    const missing = await awsCli(box.url, ['codepipeline', 'get-pipeline', '--name', unique('nope')]);
    assert.match(missing.stderr, /PipelineNotFoundException/);
  });
});

describe('executions', () => {
  test('push → CodeCommit source → manual approval → S3 deploy: Succeeded, with the commit recorded', async () => {
    const r = await repo();
    const site = await bucket('site');
    const name = unique('web');
    const artifacts = await createPipeline({ name, stages: [source(r.name), approval, deploy(site, 'www')] });
    // the first execution (CreatePipeline) waits for approval; approve it
    const firstId = (await executions(name))[0].pipelineExecutionId!;
    await cp.send(
      new PutApprovalResultCommand({
        pipelineName: name,
        stageName: 'Approve',
        actionName: 'Approval',
        token: await approvalToken(name),
        result: { status: 'Approved', summary: 'ok' },
      }),
    );
    await waitStatus(name, firstId, 'Succeeded');

    const sha = await r.commit({ 'index.html': '<h1>v2</h1>\n' }, 'second: v2 page');
    await r.push();
    const exec = await waitFor(
      'a second execution',
      () => executions(name),
      (e) => e.length === 2,
    );
    const id = exec[0].pipelineExecutionId!;
    assert.equal(exec[0].trigger!.triggerType, 'PollForSourceChanges');
    const token = await approvalToken(name);
    const ap = await cp.send(
      new PutApprovalResultCommand({
        pipelineName: name,
        stageName: 'Approve',
        actionName: 'Approval',
        token,
        result: { status: 'Approved', summary: 'ship it' },
      }),
    );
    assert.ok(ap.approvedAt instanceof Date);
    await rejects(
      cp.send(
        new PutApprovalResultCommand({
          pipelineName: name,
          stageName: 'Approve',
          actionName: 'Approval',
          token,
          result: { status: 'Approved', summary: 'again' },
        }),
      ),
      'ApprovalAlreadyCompletedException',
    );
    const done = await waitStatus(name, id, 'Succeeded');
    assert.equal(done.artifactRevisions![0].revisionId, sha);
    assert.equal(done.artifactRevisions![0].revisionSummary, 'second: v2 page');
    assert.ok(done.artifactRevisions![0].created instanceof Date);

    const page = await s3.send(new GetObjectCommand({ Bucket: site, Key: 'www/index.html' }));
    assert.equal(await page.Body!.transformToString(), '<h1>v2</h1>\n');
    assert.equal(page.ContentType, 'text/html');

    const actions = (await cp.send(new ListActionExecutionsCommand({ pipelineName: name, filter: { pipelineExecutionId: id } })))
      .actionExecutionDetails!;
    assert.deepEqual(actions.map((a) => `${a.stageName}/${a.actionName}:${a.status}`).sort(), [
      'Approve/Approval:Succeeded',
      'Deploy/Deploy:Succeeded',
      'Source/Source:Succeeded',
    ]);
    const src = actions.find((a) => a.actionName === 'Source')!;
    assert.equal(src.output!.outputVariables!.CommitId, sha);
    const loc = src.output!.outputArtifacts![0].s3location!;
    assert.equal(loc.bucket, artifacts);
    assert.match(loc.key!, new RegExp(`^${name.slice(0, 20).replace(/[.-]/g, '\\$&')}/SourceOutp/[A-Za-z0-9]{7}$`));
    const state = await cp.send(new GetPipelineStateCommand({ name }));
    assert.deepEqual(
      state.stageStates!.map((s) => s.latestExecution?.status),
      ['Succeeded', 'Succeeded', 'Succeeded'],
    );
    assert.equal(state.stageStates![0].actionStates![0].currentRevision!.revisionId, sha);
  });

  test('a rejected approval fails the execution; RetryStageExecution runs the failed action again', async () => {
    const r = await repo();
    const name = unique('retry');
    await createPipeline({ name, stages: [source(r.name), approval, deploy(await bucket('site'))] });
    const id = (await executions(name))[0].pipelineExecutionId!;
    const token = await approvalToken(name);
    // while Approve waits: Source succeeded (no failed actions, not "in progress"), Approve is in progress
    const retry = (stageName: string) =>
      cp.send(new RetryStageExecutionCommand({ pipelineName: name, stageName, pipelineExecutionId: id, retryMode: 'FAILED_ACTIONS' }));
    await rejects(
      retry('Source'),
      'StageNotRetryableException',
      /^Stage 'Source' of pipeline execution '[0-9a-f-]+' has no failed actions to retry\.$/,
    );
    await rejects(
      retry('Approve'),
      'StageNotRetryableException',
      /^Stage 'Approve' of pipeline execution '[0-9a-f-]+' is in progress and cannot be retried\.$/,
    );
    await rejects(retry('Deploy'), 'StageNotRetryableException', /has no failed actions to retry/);
    await cp.send(
      new PutApprovalResultCommand({
        pipelineName: name,
        stageName: 'Approve',
        actionName: 'Approval',
        token,
        result: { status: 'Rejected', summary: 'not yet' },
      }),
    );
    await waitStatus(name, id, 'Failed');
    const state = await cp.send(new GetPipelineStateCommand({ name }));
    assert.equal(state.stageStates![1].latestExecution!.status, 'Failed');
    assert.equal(state.stageStates![1].actionStates![0].latestExecution!.status, 'Failed');
    assert.equal(state.stageStates![2].latestExecution, undefined);
    await rejects(
      cp.send(
        new RetryStageExecutionCommand({ pipelineName: name, stageName: 'Source', pipelineExecutionId: id, retryMode: 'FAILED_ACTIONS' }),
      ),
      'StageNotRetryableException',
      /has no failed actions to retry/,
    );

    const retried = await cp.send(
      new RetryStageExecutionCommand({ pipelineName: name, stageName: 'Approve', pipelineExecutionId: id, retryMode: 'FAILED_ACTIONS' }),
    );
    assert.equal(retried.pipelineExecutionId, id);
    await cp.send(
      new PutApprovalResultCommand({
        pipelineName: name,
        stageName: 'Approve',
        actionName: 'Approval',
        token: await approvalToken(name),
        result: { status: 'Approved', summary: 'now' },
      }),
    );
    await waitStatus(name, id, 'Succeeded');
    const runs = (await cp.send(new ListActionExecutionsCommand({ pipelineName: name, filter: { pipelineExecutionId: id } })))
      .actionExecutionDetails!;
    assert.deepEqual(
      runs
        .filter((a) => a.actionName === 'Approval')
        .map((a) => a.status)
        .sort(),
      ['Failed', 'Succeeded'],
    );
  });

  test('StopPipelineExecution with abandon while an approval waits → Stopped; stopping again → PipelineExecutionNotStoppableException', async () => {
    const r = await repo();
    const name = unique('stop');
    await createPipeline({ name, stages: [source(r.name), approval] });
    const id = (await executions(name))[0].pipelineExecutionId!;
    await approvalToken(name);
    await cp.send(new StopPipelineExecutionCommand({ pipelineName: name, pipelineExecutionId: id, abandon: true, reason: 'wrong build' }));
    await waitStatus(name, id, 'Stopped');
    const [summary] = await executions(name);
    assert.equal(summary.stopTrigger!.reason, 'wrong build');
    const state = await cp.send(new GetPipelineStateCommand({ name }));
    assert.equal(state.stageStates![1].actionStates![0].latestExecution!.status, 'Abandoned');
    await rejects(
      cp.send(new StopPipelineExecutionCommand({ pipelineName: name, pipelineExecutionId: id })),
      'PipelineExecutionNotStoppableException',
    );
  });

  test('StopPipelineExecution without abandon: Stopping until the running action ends, then Stopped; a second stop → DuplicatedStopRequestException', async () => {
    const r = await repo();
    const name = unique('stopwait');
    await createPipeline({ name, stages: [source(r.name), approval, deploy(await bucket('site'))] });
    const id = (await executions(name))[0].pipelineExecutionId!;
    const token = await approvalToken(name);
    await cp.send(new StopPipelineExecutionCommand({ pipelineName: name, pipelineExecutionId: id, reason: 'hold on' }));
    assert.equal((await execStatus(name, id)()).status, 'Stopping');
    await rejects(
      cp.send(new StopPipelineExecutionCommand({ pipelineName: name, pipelineExecutionId: id })),
      'DuplicatedStopRequestException',
    );
    await cp.send(
      new PutApprovalResultCommand({
        pipelineName: name,
        stageName: 'Approve',
        actionName: 'Approval',
        token,
        result: { status: 'Approved', summary: 'fine' },
      }),
    );
    await waitStatus(name, id, 'Stopped');
    const state = await cp.send(new GetPipelineStateCommand({ name }));
    assert.equal(state.stageStates![1].actionStates![0].latestExecution!.status, 'Succeeded');
    assert.equal(state.stageStates![2].latestExecution, undefined);
  });

  test('StartPipelineExecution with a COMMIT_ID source revision override builds that commit', async () => {
    const r = await repo();
    const name = unique('override');
    await createPipeline({ name, stages: [source(r.name), deploy(await bucket('site'))] });
    await waitStatus(name, (await executions(name))[0].pipelineExecutionId!, 'Succeeded');
    await r.commit({ 'x.txt': 'x' }, 'later');
    await r.push();
    await waitFor(
      'push execution',
      () => executions(name),
      (e) => e.length === 2 && e[0].status === 'Succeeded',
    );
    const { pipelineExecutionId } = await cp.send(
      new StartPipelineExecutionCommand({
        name,
        sourceRevisions: [{ actionName: 'Source', revisionType: 'COMMIT_ID', revisionValue: r.first }],
      }),
    );
    const e = await waitStatus(name, pipelineExecutionId!, 'Succeeded');
    assert.equal(e.artifactRevisions![0].revisionId, r.first);
    assert.equal(e.trigger!.triggerType, 'StartPipelineExecution');
    await rejects(
      cp.send(
        new StartPipelineExecutionCommand({
          name,
          sourceRevisions: [{ actionName: 'Nope', revisionType: 'COMMIT_ID', revisionValue: r.first }],
        }),
      ),
      'ValidationException',
    );
  });

  test('SUPERSEDED: two quick pushes while the transition is disabled → the older waiting execution is Superseded', async () => {
    const r = await repo();
    const name = unique('sup');
    await createPipeline({ name, stages: [source(r.name), deploy(await bucket('site'))] });
    const firstId = (await executions(name))[0].pipelineExecutionId!;
    await waitStatus(name, firstId, 'Succeeded');
    await cp.send(
      new DisableStageTransitionCommand({ pipelineName: name, stageName: 'Deploy', transitionType: 'Inbound', reason: 'freeze' }),
    );
    await r.commit({ 'a.txt': '1' }, 'one');
    await r.push();
    const one = (
      await waitFor(
        'push 1',
        () => executions(name),
        (e) => e.length === 2,
      )
    )[0].pipelineExecutionId!;
    await waitFor(
      'push 1 waits at Deploy',
      () => cp.send(new GetPipelineStateCommand({ name })),
      (s) => s.stageStates![1].inboundExecution?.pipelineExecutionId === one,
    );
    await r.commit({ 'a.txt': '2' }, 'two');
    await r.push();
    const two = (
      await waitFor(
        'push 2',
        () => executions(name),
        (e) => e.length === 3,
      )
    )[0].pipelineExecutionId!;
    await waitStatus(name, one, 'Superseded');
    const state = await cp.send(new GetPipelineStateCommand({ name }));
    assert.equal(state.stageStates![1].inboundTransitionState!.enabled, false);
    assert.equal(state.stageStates![1].inboundTransitionState!.disabledReason, 'freeze');
    await cp.send(new EnableStageTransitionCommand({ pipelineName: name, stageName: 'Deploy', transitionType: 'Inbound' }));
    await waitStatus(name, two, 'Succeeded');
  });

  test('QUEUED: two quick pushes while the transition is disabled → both run, in order', async () => {
    const r = await repo();
    const name = unique('queued');
    await createPipeline({ name, pipelineType: 'V2', executionMode: 'QUEUED', stages: [source(r.name), deploy(await bucket('site'))] });
    await waitStatus(name, (await executions(name))[0].pipelineExecutionId!, 'Succeeded');
    await cp.send(
      new DisableStageTransitionCommand({ pipelineName: name, stageName: 'Deploy', transitionType: 'Inbound', reason: 'hold' }),
    );
    await r.commit({ 'a.txt': '1' }, 'one');
    await r.push();
    await waitFor(
      'push 1',
      () => executions(name),
      (e) => e.length === 2,
    );
    await r.commit({ 'a.txt': '2' }, 'two');
    await r.push();
    const [two, one] = await waitFor(
      'push 2',
      () => executions(name),
      (e) => e.length === 3,
    );
    await waitFor(
      'both wait at Deploy',
      () => cp.send(new GetPipelineStateCommand({ name })),
      (s) => s.stageStates![1].inboundExecutions?.length === 2,
    );
    await cp.send(new EnableStageTransitionCommand({ pipelineName: name, stageName: 'Deploy', transitionType: 'Inbound' }));
    const a = await waitStatus(name, one.pipelineExecutionId!, 'Succeeded');
    const b = await waitStatus(name, two.pipelineExecutionId!, 'Succeeded');
    assert.equal(a.artifactRevisions![0].revisionSummary, 'one');
    assert.equal(b.artifactRevisions![0].revisionSummary, 'two');
    const deploys = (await cp.send(new ListActionExecutionsCommand({ pipelineName: name }))).actionExecutionDetails!.filter(
      (x) => x.actionName === 'Deploy',
    );
    const start = (id: string) => deploys.find((d) => d.pipelineExecutionId === id)!.startTime!.getTime();
    assert.ok(start(one.pipelineExecutionId!) <= start(two.pipelineExecutionId!));
  });

  test('V2 trigger with branch and file path filters: a push to another branch or other files is ignored', async () => {
    const r = await repo();
    const name = unique('filters');
    await createPipeline({
      name,
      pipelineType: 'V2',
      stages: [source(r.name, { PollForSourceChanges: 'false' }), deploy(await bucket('site'))],
      triggers: [
        {
          providerType: 'CodeStarSourceConnection',
          gitConfiguration: {
            sourceActionName: 'Source',
            push: [{ branches: { includes: ['main', 'release/**'] }, filePaths: { includes: ['src/**'], excludes: ['**/*.md'] } }],
          },
        },
      ],
    });
    await waitStatus(name, (await executions(name))[0].pipelineExecutionId!, 'Succeeded');
    await r.commit({ 'other.txt': 'x' }, 'not under src');
    await r.push();
    await r.push('feature/x');
    await new Promise((res) => setTimeout(res, 300));
    assert.equal((await executions(name)).length, 1);
    await git.must(r.dir, ['checkout', '-q', '-b', 'release/1.0']);
    await git.must(r.dir, ['-c', 'core.quotepath=off', 'rm', '-q', '--cached', 'other.txt']);
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(r.dir, 'src'), { recursive: true });
    const sha = await r.commit({ 'src/app.js': 'x' }, 'in src');
    await r.push('release/1.0');
    const [e] = await waitFor(
      'filtered push starts',
      () => executions(name),
      (x) => x.length === 2,
    );
    assert.equal(e.trigger!.triggerType, 'WebhookV2');
    const done = await waitStatus(name, e.pipelineExecutionId!, 'Succeeded');
    assert.equal(done.artifactRevisions![0].revisionId, sha);
  });

  test('PollForSourceChanges=false + an EventBridge rule targeting the pipeline ARN (the CDK setup) starts it on push', async () => {
    const r = await repo();
    const name = unique('rule');
    await createPipeline({ name, stages: [source(r.name, { PollForSourceChanges: 'false' }), deploy(await bucket('site'))] });
    await waitStatus(name, (await executions(name))[0].pipelineExecutionId!, 'Succeeded');
    const eb = new EventBridgeClient(clientConfig(box.url));
    const rule = unique('on-push');
    await eb.send(
      new PutRuleCommand({
        Name: rule,
        EventPattern: JSON.stringify({
          source: ['aws.codecommit'],
          'detail-type': ['CodeCommit Repository State Change'],
          resources: [`arn:aws:codecommit:us-east-1:000000000000:${r.name}`],
          detail: { event: ['referenceCreated', 'referenceUpdated'], referenceName: ['main'] },
        }),
      }),
    );
    await eb.send(
      new PutTargetsCommand({
        Rule: rule,
        Targets: [{ Id: 'pipeline', Arn: `arn:aws:codepipeline:us-east-1:000000000000:${name}`, RoleArn: ROLE }],
      }),
    );
    await r.commit({ 'b.txt': 'b' }, 'via rule');
    await r.push();
    const [e] = await waitFor(
      'rule starts the pipeline',
      () => executions(name),
      (x) => x.length === 2,
    );
    assert.equal(e.trigger!.triggerType, 'CloudWatchEvent');
    assert.match(e.trigger!.triggerDetail!, new RegExp(`rule/${rule}$`));
    await waitStatus(name, e.pipelineExecutionId!, 'Succeeded');
  });

  test('S3 source: a new object version starts the pipeline; pipeline variables and action variables resolve', async () => {
    const src = await bucket('src', true);
    const site = await bucket('site');
    const { zipBuffers: zipOf } = await import('../../src/core/zip.js');
    const zip = async (body: string) => Buffer.concat(await (zipOf({ 'app.txt': body }) as any).toArray());
    await s3.send(new PutObjectCommand({ Bucket: src, Key: 'app.zip', Body: await zip('v1') }));
    const name = unique('s3src');
    await createPipeline({
      name,
      pipelineType: 'V2',
      variables: [{ name: 'Env', defaultValue: 'dev' }],
      stages: [
        {
          name: 'Source',
          actions: [
            {
              name: 'Src',
              actionTypeId: { category: 'Source', owner: 'AWS', provider: 'S3', version: '1' },
              configuration: { S3Bucket: src, S3ObjectKey: 'app.zip' },
              outputArtifacts: [{ name: 'SourceOutput' }],
              namespace: 'S',
            },
          ],
        },
        deploy(site, '#{variables.Env}/#{S.VersionId}'),
      ],
    });
    const first = await waitStatus(name, (await executions(name))[0].pipelineExecutionId!, 'Succeeded');
    const v1 = first.artifactRevisions![0].revisionId!;
    assert.equal(await (await s3.send(new GetObjectCommand({ Bucket: site, Key: `dev/${v1}/app.txt` }))).Body!.transformToString(), 'v1');
    assert.deepEqual(first.variables, [{ name: 'Env', resolvedValue: 'dev' }]);

    const put = await s3.send(new PutObjectCommand({ Bucket: src, Key: 'app.zip', Body: await zip('v2') }));
    const [e] = await waitFor(
      'S3 poll starts the pipeline',
      () => executions(name),
      (x) => x.length === 2,
    );
    assert.equal(e.trigger!.triggerType, 'PollForSourceChanges');
    const second = await waitStatus(name, e.pipelineExecutionId!, 'Succeeded');
    assert.equal(second.artifactRevisions![0].revisionId, put.VersionId);

    const manual = await cp.send(
      new StartPipelineExecutionCommand({
        name,
        variables: [{ name: 'Env', value: 'prod' }],
        sourceRevisions: [{ actionName: 'Src', revisionType: 'S3_OBJECT_VERSION_ID', revisionValue: v1 }],
      }),
    );
    await waitStatus(name, manual.pipelineExecutionId!, 'Succeeded');
    assert.equal(await (await s3.send(new GetObjectCommand({ Bucket: site, Key: `prod/${v1}/app.txt` }))).Body!.transformToString(), 'v1');
    await rejects(cp.send(new StartPipelineExecutionCommand({ name, variables: [{ name: 'Nope', value: 'x' }] })), 'ValidationException');
  });
});

test('ECR source: a push of the watched tag starts the pipeline; imageDetail.json and the image variables reach the next stage', async () => {
  const { ECRClient, CreateRepositoryCommand: CreateEcrRepository } = await import('@aws-sdk/client-ecr');
  const { createHash } = await import('node:crypto');
  const ecr = new ECRClient(clientConfig(box.url));
  const repoName = `${unique('img')}/api`;
  await ecr.send(new CreateEcrRepository({ repositoryName: repoName }));
  const sha = (b: string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
  const auth = { authorization: `Basic ${Buffer.from('AWS:x').toString('base64')}` };
  const push = async (tag: string, content: string) => {
    const blobs = [JSON.stringify({ os: 'linux', content }), content];
    for (const b of blobs) {
      const r = await fetch(`${box.url}/v2/${repoName}/blobs/uploads/?digest=${sha(b)}`, { method: 'POST', body: b, headers: auth });
      assert.equal(r.status, 201);
    }
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(blobs[0]), size: blobs[0].length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha(blobs[1]), size: blobs[1].length }],
    });
    const r = await fetch(`${box.url}/v2/${repoName}/manifests/${tag}`, {
      method: 'PUT',
      body: manifest,
      headers: { ...auth, 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
    });
    assert.equal(r.status, 201);
    return sha(manifest);
  };
  await push('release', 'first image');
  const name = unique('ecr-src');
  const site = await bucket('site');
  await createPipeline({
    name,
    pipelineType: 'V2',
    stages: [
      {
        name: 'Source',
        actions: [
          {
            name: 'Image',
            actionTypeId: { category: 'Source', owner: 'AWS', provider: 'ECR', version: '1' },
            configuration: { RepositoryName: repoName, ImageTag: 'release' },
            outputArtifacts: [{ name: 'SourceOutput' }],
            namespace: 'ImageVariables',
          },
        ],
      },
      deploy(site),
    ],
  });
  await waitStatus(name, (await executions(name))[0].pipelineExecutionId!, 'Succeeded');
  await push('other', 'not watched');
  const digest = await push('release', 'second image');
  const [latest] = await waitFor(
    'the push of release to start an execution',
    () => executions(name),
    (e) => e.length === 2,
  );
  const done = await waitStatus(name, latest.pipelineExecutionId!, 'Succeeded');
  assert.equal(done.artifactRevisions![0].revisionId, digest);
  assert.equal(done.trigger?.triggerType, 'CloudWatchEvent');
  const detail = JSON.parse(
    await (await s3.send(new GetObjectCommand({ Bucket: site, Key: 'imageDetail.json' }))).Body!.transformToString(),
  );
  assert.equal(detail.ImageDigest, digest);
  assert.equal(detail.RepositoryName, repoName);
  assert.equal(detail.ImageURI, `localhost:${box.port}/${repoName}@${digest}`);
  assert.deepEqual(detail.ImageTags, ['release']);
  const source = (
    await cp.send(new ListActionExecutionsCommand({ pipelineName: name, filter: { pipelineExecutionId: latest.pipelineExecutionId } }))
  ).actionExecutionDetails!.find((a) => a.actionName === 'Image')!;
  assert.equal(source.output!.outputVariables!.ImageDigest, digest);
  assert.equal(source.output!.outputVariables!.ImageTag, 'release');
  ecr.destroy();
});
