/**
 * Executions survive an opsbox restart (kill -9, then start on the same data dir): an approval
 * still waits with the same token and completes; an execution waiting at a disabled transition
 * continues once it is enabled; a build cut off by the restart fails the execution cleanly
 * instead of leaving it in progress forever.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CodeBuildClient, CreateProjectCommand } from '@aws-sdk/client-codebuild';
import { CodeCommitClient, CreateRepositoryCommand } from '@aws-sdk/client-codecommit';
import {
  CodePipelineClient,
  CreatePipelineCommand,
  EnableStageTransitionCommand,
  DisableStageTransitionCommand,
  GetPipelineExecutionCommand,
  GetPipelineStateCommand,
  ListPipelineExecutionsCommand,
  PutApprovalResultCommand,
  type PipelineDeclaration,
} from '@aws-sdk/client-codepipeline';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { clientConfig, startOpsbox, unique, type RunningOpsbox } from '../helpers/opsbox.js';
import { GitClient } from './codecommit.helpers.js';
import { waitFor as waitUntil } from '../helpers/wait.js';

const ROLE = 'arn:aws:iam::000000000000:role/pipeline';
const ENV = { OPSBOX_CODEBUILD_BACKEND: 'host' };
let dataDir: string;
let box: RunningOpsbox;
let git: GitClient;

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'opsbox-cp-restart-'));
  box = await startOpsbox({ dataDir, env: ENV });
  git = new GitClient();
});
after(async () => {
  await box.dispose();
  git.dispose();
  rmSync(dataDir, { recursive: true, force: true });
});

const clients = () => ({
  cp: new CodePipelineClient(clientConfig(box.url)),
  s3: new S3Client({ ...clientConfig(box.url), forcePathStyle: true }),
});

async function restart() {
  await box.kill9();
  box = await startOpsbox({ dataDir, env: ENV });
}

const waitFor = <T>(what: string, fn: () => Promise<T> | T, pred: (v: T) => boolean, ms = 30_000) => waitUntil(what, fn, pred, ms);

async function setup(files: Record<string, string>, stages: (repo: string, site: string) => any[]) {
  const { cp, s3 } = clients();
  const repoName = unique('app');
  const meta = (await new CodeCommitClient(clientConfig(box.url)).send(new CreateRepositoryCommand({ repositoryName: repoName })))
    .repositoryMetadata!;
  const dir = git.dir(repoName);
  await git.must(dir, ['clone', '-q', meta.cloneUrlHttp!, '.']);
  for (const [p, body] of Object.entries(files)) writeFileSync(join(dir, p), body);
  await git.must(dir, ['add', '-A']);
  await git.must(dir, ['commit', '-q', '-m', 'first']);
  await git.must(dir, ['push', '-q', 'origin', 'HEAD:refs/heads/main']);
  const artifacts = unique('artifacts');
  const site = unique('site');
  await s3.send(new CreateBucketCommand({ Bucket: artifacts }));
  await s3.send(new CreateBucketCommand({ Bucket: site }));
  const name = unique('resume');
  await cp.send(
    new CreatePipelineCommand({
      pipeline: {
        name,
        roleArn: ROLE,
        artifactStore: { type: 'S3', location: artifacts },
        stages: stages(repoName, site),
      } as PipelineDeclaration,
    }),
  );
  const id = (await cp.send(new ListPipelineExecutionsCommand({ pipelineName: name }))).pipelineExecutionSummaries![0].pipelineExecutionId!;
  return { name, id, site };
}

const sourceStage = (repo: string) => ({
  name: 'Source',
  actions: [
    {
      name: 'Source',
      actionTypeId: { category: 'Source', owner: 'AWS', provider: 'CodeCommit', version: '1' },
      configuration: { RepositoryName: repo, BranchName: 'main' },
      outputArtifacts: [{ name: 'Src' }],
    },
  ],
});
const deployStage = (site: string) => ({
  name: 'Deploy',
  actions: [
    {
      name: 'Deploy',
      actionTypeId: { category: 'Deploy', owner: 'AWS', provider: 'S3', version: '1' },
      configuration: { BucketName: site, Extract: 'true' },
      inputArtifacts: [{ name: 'Src' }],
    },
  ],
});
const status = async (name: string, id: string) =>
  (await clients().cp.send(new GetPipelineExecutionCommand({ pipelineName: name, pipelineExecutionId: id }))).pipelineExecution!.status!;

test('restart while an approval waits: same token after kill -9, approving completes the execution', async () => {
  const { name, id } = await setup({ 'a.txt': 'a' }, (repo, site) => [
    sourceStage(repo),
    {
      name: 'Approve',
      actions: [{ name: 'Approval', actionTypeId: { category: 'Approval', owner: 'AWS', provider: 'Manual', version: '1' } }],
    },
    deployStage(site),
  ]);
  const token = async () =>
    (await clients().cp.send(new GetPipelineStateCommand({ name }))).stageStates![1].actionStates![0].latestExecution;
  const before = await waitFor('approval waits', token, (l) => l?.status === 'InProgress');
  await restart();
  const afterRestart = await token();
  assert.equal(afterRestart!.status, 'InProgress');
  assert.equal(afterRestart!.token, before!.token);
  assert.equal(await status(name, id), 'InProgress');
  await clients().cp.send(
    new PutApprovalResultCommand({
      pipelineName: name,
      stageName: 'Approve',
      actionName: 'Approval',
      token: before!.token!,
      result: { status: 'Approved', summary: 'after restart' },
    }),
  );
  await waitFor(
    'Succeeded',
    () => status(name, id),
    (s) => s === 'Succeeded',
  );
});

test('restart while an execution waits at a disabled transition: it continues when the transition is enabled', async () => {
  const { cp } = clients();
  const { name, id } = await setup({ 'a.txt': 'a' }, (repo, site) => [sourceStage(repo), deployStage(site)]);
  await cp.send(new DisableStageTransitionCommand({ pipelineName: name, stageName: 'Deploy', transitionType: 'Inbound', reason: 'hold' }));
  await waitFor(
    'waits at Deploy',
    () => cp.send(new GetPipelineStateCommand({ name })),
    (s) => s.stageStates![1].inboundExecution?.pipelineExecutionId === id || s.stageStates![1].latestExecution?.pipelineExecutionId === id,
  );
  const ran = (await cp.send(new GetPipelineStateCommand({ name }))).stageStates![1].latestExecution?.pipelineExecutionId === id;
  await restart();
  if (!ran) {
    const state = await clients().cp.send(new GetPipelineStateCommand({ name }));
    assert.equal(state.stageStates![1].inboundExecution?.pipelineExecutionId, id);
    assert.equal(state.stageStates![1].inboundTransitionState!.enabled, false);
  }
  await clients().cp.send(new EnableStageTransitionCommand({ pipelineName: name, stageName: 'Deploy', transitionType: 'Inbound' }));
  await waitFor(
    'Succeeded',
    () => status(name, id),
    (s) => s === 'Succeeded',
  );
});

test('restart in the middle of a build: the execution ends Failed instead of hanging', async () => {
  const cb = new CodeBuildClient(clientConfig(box.url));
  const project = unique('slow');
  await cb.send(
    new CreateProjectCommand({
      name: project,
      serviceRole: ROLE,
      source: { type: 'CODEPIPELINE', buildspec: 'version: 0.2\nphases:\n  build:\n    commands:\n      - sleep 20\n' },
      artifacts: { type: 'CODEPIPELINE' },
      environment: { type: 'LINUX_CONTAINER', image: 'opsbox/host', computeType: 'BUILD_GENERAL1_SMALL' },
    }),
  );
  const { name, id } = await setup({ 'a.txt': 'a' }, (repo) => [
    sourceStage(repo),
    {
      name: 'Build',
      actions: [
        {
          name: 'Build',
          actionTypeId: { category: 'Build', owner: 'AWS', provider: 'CodeBuild', version: '1' },
          configuration: { ProjectName: project },
          inputArtifacts: [{ name: 'Src' }],
        },
      ],
    },
  ]);
  await waitFor(
    'build running',
    () => clients().cp.send(new GetPipelineStateCommand({ name })),
    (s) => !!s.stageStates![1].actionStates![0].latestExecution?.externalExecutionId,
  );
  await restart();
  await waitFor(
    'execution ends',
    () => status(name, id),
    (s) => s !== 'InProgress',
    20_000,
  );
  assert.equal(await status(name, id), 'Failed');
});
