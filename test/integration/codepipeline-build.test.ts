/**
 * CodePipeline with real CodeBuild builds (host backend), end to end: git push → CodeCommit source
 * → build running the repository's unit tests with a JUnit report and exported variables → manual
 * approval notified through SNS → S3 deploy of the build's output; a failing build fails the
 * execution; the pipeline's state-change events reach an EventBridge rule. Skipped when CodeBuild
 * is not served.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  BatchGetBuildsCommand,
  BatchGetReportsCommand,
  CodeBuildClient,
  CreateProjectCommand,
  ListReportsForReportGroupCommand,
  ListReportGroupsCommand,
} from '@aws-sdk/client-codebuild';
import { CodeCommitClient, CreateRepositoryCommand } from '@aws-sdk/client-codecommit';
import {
  CodePipelineClient,
  CreatePipelineCommand,
  GetPipelineExecutionCommand,
  GetPipelineStateCommand,
  ListActionExecutionsCommand,
  ListPipelineExecutionsCommand,
  PutApprovalResultCommand,
  type PipelineDeclaration,
} from '@aws-sdk/client-codepipeline';
import { EventBridgeClient, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { CreateBucketCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { clientConfig, startOpsbox, unique, type RunningOpsbox } from '../helpers/opsbox.js';
import { GitClient } from './codecommit.helpers.js';
import { waitFor as waitUntil } from '../helpers/wait.js';

const ROLE = 'arn:aws:iam::000000000000:role/pipeline';
let box: RunningOpsbox;
let cp: CodePipelineClient;
let s3: S3Client;
let git: GitClient;
let hook: Server;
let hookUrl: string;
let codebuild = false;
const received: any[] = [];
const confirmed: string[] = [];

before(async () => {
  box = await startOpsbox({ env: { OPSBOX_CODEBUILD_BACKEND: 'host' } });
  cp = new CodePipelineClient(clientConfig(box.url));
  s3 = new S3Client({ ...clientConfig(box.url), forcePathStyle: true });
  git = new GitClient();
  const cb = new CodeBuildClient(clientConfig(box.url));
  codebuild = await cb.send(new ListReportGroupsCommand({})).then(
    () => true,
    (e) => e.name !== 'UnknownOperationException' && !/not implemented|Unknown target|not running/i.test(e.message),
  );
  hook = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      res.end('ok');
      const msg = JSON.parse(body);
      if (msg.Type === 'SubscriptionConfirmation') void fetch(msg.SubscribeURL).then(() => confirmed.push(msg.TopicArn));
      else received.push(msg);
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', () => r()));
  hookUrl = `http://127.0.0.1:${(hook.address() as any).port}/hook`;
});
after(async () => {
  hook.close();
  git.dispose();
  await box.dispose();
});

const waitFor = <T>(what: string, fn: () => Promise<T> | T, pred: (v: T) => boolean, ms = 30_000) => waitUntil(what, fn, pred, ms);

const BUILDSPEC = `version: 0.2
env:
  exported-variables:
    - APP_VERSION
phases:
  build:
    commands:
      - export APP_VERSION=$(cat VERSION)
      - sh test.sh
      - mkdir -p out && cp index.html out/ && echo "$APP_VERSION" > out/version.txt
reports:
  unit:
    files:
      - report.xml
    file-format: JUNITXML
artifacts:
  base-directory: out
  files:
    - '**/*'
`;

const testScript = (pass: boolean) => `#!/bin/sh
cat > report.xml <<'EOF'
<testsuites><testsuite name="unit" tests="1" failures="${pass ? 0 : 1}"><testcase classname="app" name="renders">${pass ? '' : '<failure message="boom">expected v2</failure>'}</testcase></testsuite></testsuites>
EOF
${pass ? 'exit 0' : 'echo "1 test failed"; exit 1'}
`;

test('push → source → CodeBuild (unit-test report, exported variables) → manual approval (SNS notification) → S3 deploy; a failing build fails the execution', async (t) => {
  if (!codebuild) return t.skip('CodeBuild is not served by this opsbox yet (opsbox service codebuild is not running)');
  const cc = new CodeCommitClient(clientConfig(box.url));
  const cb = new CodeBuildClient(clientConfig(box.url));
  const sns = new SNSClient(clientConfig(box.url));
  const eb = new EventBridgeClient(clientConfig(box.url));
  const repoName = unique('shop');
  const meta = (await cc.send(new CreateRepositoryCommand({ repositoryName: repoName }))).repositoryMetadata!;
  const dir = git.dir(repoName);
  await git.must(dir, ['clone', '-q', meta.cloneUrlHttp!, '.']);
  const commit = async (files: Record<string, string>, message: string) => {
    for (const [p, body] of Object.entries(files)) writeFileSync(join(dir, p), body);
    await git.must(dir, ['add', '-A']);
    await git.must(dir, ['commit', '-q', '-m', message]);
    await git.must(dir, ['push', '-q', 'origin', 'HEAD:refs/heads/main']);
    return git.must(dir, ['rev-parse', 'HEAD']);
  };
  const v1 = await commit({ 'index.html': '<h1>v1</h1>\n', VERSION: '1.0.0\n', 'test.sh': testScript(true) }, 'v1');

  const artifacts = unique('artifacts');
  const site = unique('site');
  await s3.send(new CreateBucketCommand({ Bucket: artifacts }));
  await s3.send(new CreateBucketCommand({ Bucket: site }));
  const project = unique('shop-build');
  await cb.send(
    new CreateProjectCommand({
      name: project,
      serviceRole: ROLE,
      source: { type: 'CODEPIPELINE', buildspec: BUILDSPEC },
      artifacts: { type: 'CODEPIPELINE' },
      environment: { type: 'LINUX_CONTAINER', image: 'opsbox/host', computeType: 'BUILD_GENERAL1_SMALL' },
    }),
  );
  const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: unique('approvals') }));
  await sns.send(new SubscribeCommand({ TopicArn, Protocol: 'http', Endpoint: hookUrl }));
  const events = await sns.send(new CreateTopicCommand({ Name: unique('pipeline-events') }));
  await sns.send(
    new SubscribeCommand({ TopicArn: events.TopicArn, Protocol: 'http', Endpoint: hookUrl, Attributes: { RawMessageDelivery: 'true' } }),
  );

  await waitFor(
    'subscriptions confirmed',
    () => confirmed,
    (c) => c.includes(TopicArn!) && c.includes(events.TopicArn!),
  );
  const name = unique('shop-pipeline');
  const rule = unique('pipeline-events');
  await eb.send(
    new PutRuleCommand({ Name: rule, EventPattern: JSON.stringify({ source: ['aws.codepipeline'], detail: { pipeline: [name] } }) }),
  );
  await eb.send(new PutTargetsCommand({ Rule: rule, Targets: [{ Id: 'sns', Arn: events.TopicArn }] }));
  await cp.send(
    new CreatePipelineCommand({
      pipeline: {
        name,
        roleArn: ROLE,
        artifactStore: { type: 'S3', location: artifacts },
        stages: [
          {
            name: 'Source',
            actions: [
              {
                name: 'Source',
                actionTypeId: { category: 'Source', owner: 'AWS', provider: 'CodeCommit', version: '1' },
                configuration: { RepositoryName: repoName, BranchName: 'main' },
                outputArtifacts: [{ name: 'Src' }],
                namespace: 'SourceVariables',
              },
            ],
          },
          {
            name: 'Build',
            actions: [
              {
                name: 'Build',
                actionTypeId: { category: 'Build', owner: 'AWS', provider: 'CodeBuild', version: '1' },
                configuration: {
                  ProjectName: project,
                  EnvironmentVariables: JSON.stringify([{ name: 'COMMIT', value: '#{SourceVariables.CommitId}', type: 'PLAINTEXT' }]),
                },
                inputArtifacts: [{ name: 'Src' }],
                outputArtifacts: [{ name: 'Site' }],
                namespace: 'BuildVariables',
              },
            ],
          },
          {
            name: 'Approve',
            actions: [
              {
                name: 'Approval',
                actionTypeId: { category: 'Approval', owner: 'AWS', provider: 'Manual', version: '1' },
                configuration: { NotificationArn: TopicArn!, CustomData: 'version #{BuildVariables.APP_VERSION}' },
              },
            ],
          },
          {
            name: 'Deploy',
            actions: [
              {
                name: 'Deploy',
                actionTypeId: { category: 'Deploy', owner: 'AWS', provider: 'S3', version: '1' },
                configuration: { BucketName: site, Extract: 'true' },
                inputArtifacts: [{ name: 'Site' }],
              },
            ],
          },
        ],
      } as PipelineDeclaration,
    }),
  );
  const list = async () => (await cp.send(new ListPipelineExecutionsCommand({ pipelineName: name }))).pipelineExecutionSummaries!;
  const status = (id: string) => async () =>
    (await cp.send(new GetPipelineExecutionCommand({ pipelineName: name, pipelineExecutionId: id }))).pipelineExecution!;

  // the CreatePipeline execution builds v1, then waits for approval: the notification carries the token
  const id = (await list())[0].pipelineExecutionId!;
  const waiting = await waitFor(
    'approval waits',
    () => cp.send(new GetPipelineStateCommand({ name })),
    (st) =>
      st.stageStates![2].actionStates![0].latestExecution?.status === 'InProgress' ||
      st.stageStates!.some((x) => x.latestExecution?.status === 'Failed'),
    60_000,
  );
  assert.equal(waiting.stageStates![2].actionStates![0].latestExecution?.status, 'InProgress', JSON.stringify(waiting.stageStates));
  const note = await waitFor(
    'approval notification',
    () => received.find((m) => m.Type === 'Notification' && m.TopicArn === TopicArn),
    (m) => !!m,
  );
  const approvalMsg = JSON.parse(note.Message);
  assert.equal(approvalMsg.approval.pipelineName, name);
  assert.equal(approvalMsg.approval.customData, 'version 1.0.0');
  assert.match(note.Subject, /^APPROVAL NEEDED: AWS CodePipeline /);
  const actions = (await cp.send(new ListActionExecutionsCommand({ pipelineName: name, filter: { pipelineExecutionId: id } })))
    .actionExecutionDetails!;
  const build = actions.find((a) => a.actionName === 'Build')!;
  assert.equal(build.status, 'Succeeded');
  assert.equal(build.output!.outputVariables!.APP_VERSION, '1.0.0');
  const b = (await cb.send(new BatchGetBuildsCommand({ ids: [build.output!.executionResult!.externalExecutionId!] }))).builds![0];
  assert.equal(b.initiator, `codepipeline/${name}`);
  assert.equal(b.resolvedSourceVersion, v1, 'the build knows the commit its input artifact came from');
  assert.match(b.sourceVersion!, new RegExp(`^arn:aws:s3:::${artifacts}/`));
  const reports = await cb.send(
    new ListReportsForReportGroupCommand({ reportGroupArn: `arn:aws:codebuild:us-east-1:000000000000:report-group/${project}-unit` }),
  );
  const report = (await cb.send(new BatchGetReportsCommand({ reportArns: reports.reports! }))).reports![0];
  assert.equal(report.status, 'SUCCEEDED');
  assert.equal(report.testSummary!.total, 1);
  await cp.send(
    new PutApprovalResultCommand({
      pipelineName: name,
      stageName: 'Approve',
      actionName: 'Approval',
      token: approvalMsg.approval.token,
      result: { status: 'Approved', summary: 'ok' },
    }),
  );
  await waitFor('execution Succeeded', status(id), (e) => e.status === 'Succeeded' || e.status === 'Failed');
  assert.equal((await status(id)()).status, 'Succeeded');
  assert.equal(await (await s3.send(new GetObjectCommand({ Bucket: site, Key: 'version.txt' }))).Body!.transformToString(), '1.0.0\n');

  // a failing unit test fails the build, the stage and the execution; Deploy never runs
  await commit({ 'index.html': '<h1>v2</h1>\n', VERSION: '2.0.0\n', 'test.sh': testScript(false) }, 'v2 breaks a test');
  const [second] = await waitFor('push starts an execution', list, (l) => l.length === 2);
  const failed = await waitFor('execution Failed', status(second.pipelineExecutionId!), (e) => e.status !== 'InProgress', 60_000);
  assert.equal(failed.status, 'Failed');
  const state = await cp.send(new GetPipelineStateCommand({ name }));
  const buildState = state.stageStates!.find((s) => s.stageName === 'Build')!;
  assert.equal(buildState.latestExecution!.status, 'Failed');
  assert.match(buildState.actionStates![0].latestExecution!.errorDetails!.message!, /Build terminated with state: FAILED/);
  assert.equal(state.stageStates!.find((s) => s.stageName === 'Deploy')!.latestExecution!.pipelineExecutionId, id);

  // the state-change events went through EventBridge → SNS
  const seen = () =>
    received
      .filter((m) => m.source === 'aws.codepipeline')
      .map((m) => `${m['detail-type'].replace('CodePipeline ', '')}:${m.detail.stage ?? ''}:${m.detail.state}`);
  await waitFor('pipeline events', seen, (s) => s.includes('Pipeline Execution State Change::FAILED'));
  const all = seen();
  for (const e of [
    'Pipeline Execution State Change::STARTED',
    'Pipeline Execution State Change::SUCCEEDED',
    'Stage Execution State Change:Build:FAILED',
    'Action Execution State Change:Build:SUCCEEDED',
    'Action Execution State Change:Approve:STARTED',
  ])
    assert.ok(all.includes(e), `missing ${e} in ${all.join(', ')}`);
});
