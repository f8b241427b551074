/**
 * CodeBuild on the host backend, driven by SDK v3 and the aws CLI: sources from a real git push,
 * phases and their AWS statuses, logs in CloudWatch Logs while the build runs, S3 artifacts,
 * JUnit reports, StopBuild, timeouts, bad input, EventBridge and metrics, and kill -9.
 * OPSBOX_CODEBUILD_MINUTE_MS makes a build-timeout minute last 300 ms here.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  BatchDeleteBuildsCommand,
  BatchGetBuildsCommand,
  BatchGetProjectsCommand,
  BatchGetReportsCommand,
  CodeBuildClient,
  CreateProjectCommand,
  DeleteProjectCommand,
  DescribeTestCasesCommand,
  ListBuildsForProjectCommand,
  ListProjectsCommand,
  ListReportGroupsCommand,
  RetryBuildCommand,
  StartBuildCommand,
  StopBuildCommand,
  UpdateProjectCommand,
  type Build,
} from '@aws-sdk/client-codebuild';
import { CloudWatchLogsClient, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { CloudWatchClient, GetMetricStatisticsCommand } from '@aws-sdk/client-cloudwatch';
import { CodeCommitClient, CreateRepositoryCommand } from '@aws-sdk/client-codecommit';
import { EventBridgeClient, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { CreateBucketCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { awsCli, clientConfig, startOpsbox, unique, type RunningOpsbox } from '../helpers/opsbox.js';
import { GitClient } from './codecommit.helpers.js';
import { waitBuild as waitBuildOf } from '../helpers/wait.js';

const ROLE = 'arn:aws:iam::000000000000:role/cb';
const ENV = { type: 'LINUX_CONTAINER', image: 'opsbox/host', computeType: 'BUILD_GENERAL1_SMALL' } as const;

let box: RunningOpsbox;
let cb: CodeBuildClient;
let s3: S3Client;
let logs: CloudWatchLogsClient;
let git: GitClient;
const bucket = unique('artifacts');

const waitBuild = (id: string, ms = 20_000, done?: (b: Build) => boolean) => waitBuildOf(cb, id, ms, done);

const phases = (b: Build) => b.phases!.map((p) => `${p.phaseType}${p.phaseStatus ? `:${p.phaseStatus}` : ''}`);

async function inlineProject(buildspec: string, extra: Record<string, unknown> = {}) {
  const name = unique('p');
  await cb.send(
    new CreateProjectCommand({
      name,
      source: { type: 'NO_SOURCE', buildspec },
      artifacts: { type: 'NO_ARTIFACTS' },
      environment: ENV,
      serviceRole: ROLE,
      ...extra,
    }),
  );
  return name;
}

async function logText(b: Build) {
  const r = await logs.send(
    new GetLogEventsCommand({ logGroupName: b.logs!.groupName, logStreamName: b.logs!.streamName, startFromHead: true }),
  );
  return r.events!.map((e) => e.message).join('\n');
}

async function pushRepo(files: Record<string, string>) {
  const repositoryName = unique('repo');
  const cc = new CodeCommitClient(clientConfig(box.url));
  await cc.send(new CreateRepositoryCommand({ repositoryName }));
  const dir = git.dir(repositoryName);
  await git.must(dir, ['init', '-q', '-b', 'main']);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  await git.must(dir, ['add', '-A']);
  await git.must(dir, ['commit', '-q', '-m', 'first']);
  await git.must(dir, ['push', '-q', `${box.url}/v1/repos/${repositoryName}`, 'main']);
  return { repositoryName, dir, commit: await git.must(dir, ['rev-parse', 'HEAD']) };
}

before(async () => {
  box = await startOpsbox({ env: { OPSBOX_CODEBUILD_BACKEND: 'host', OPSBOX_CODEBUILD_MINUTE_MS: '300' } });
  cb = new CodeBuildClient(clientConfig(box.url));
  s3 = new S3Client({ ...clientConfig(box.url), forcePathStyle: true });
  logs = new CloudWatchLogsClient(clientConfig(box.url));
  git = new GitClient();
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
});

after(async () => {
  git?.dispose();
  await box?.dispose();
});

const JUNIT = `<?xml version="1.0"?>
<testsuites><testsuite name="cart" tests="3">
  <testcase classname="cart.total" name="adds items" time="0.25"/>
  <testcase classname="cart.total" name="applies discount" time="0.5"><failure message="expected 90">boom</failure></testcase>
  <testcase classname="cart.io" name="skips" time="0"><skipped/></testcase>
</testsuite></testsuites>`;

describe('CodeBuild builds on the host backend', () => {
  test('CodeCommit source at a branch: every phase, variables, zipped S3 artifact, JUnit report, logs', async () => {
    const repo = await pushRepo({
      'buildspec.yml': `version: 0.2
env:
  variables:
    GREETING: from-buildspec
    LEVEL: "1"
  exported-variables:
    - IMAGE_TAG
phases:
  install:
    commands:
      - echo installing
  pre_build:
    commands:
      - export IMAGE_TAG=v-$CODEBUILD_RESOLVED_SOURCE_VERSION
      - cd app
  build:
    commands:
      - echo "greeting=$GREETING level=$LEVEL in $(basename $(pwd))"
      - mkdir -p ../dist/sub && cp main.txt ../dist/ && echo deep > ../dist/sub/deep.txt
      - cp ../junit.xml ../report.xml
  post_build:
    commands:
      - echo "succeeding=$CODEBUILD_BUILD_SUCCEEDING"
      - /usr/bin/aws --endpoint-url "$AWS_ENDPOINT_URL" sts get-caller-identity --query Arn --output text
artifacts:
  files:
    - '**/*'
  base-directory: dist
reports:
  unit:
    files:
      - report.xml
    file-format: JUNITXML
`,
      'app/main.txt': 'main\n',
      'junit.xml': JUNIT,
    });
    const name = unique('shop-ci');
    await cb.send(
      new CreateProjectCommand({
        name,
        source: { type: 'CODECOMMIT', location: `${box.url}/v1/repos/${repo.repositoryName}` },
        artifacts: { type: 'S3', location: bucket, packaging: 'ZIP', name: 'out.zip' },
        environment: { ...ENV, environmentVariables: [{ name: 'LEVEL', value: '2' }] },
        serviceRole: ROLE,
      }),
    );
    const started = (await cb.send(new StartBuildCommand({ projectName: name, sourceVersion: 'main' }))).build!;
    assert.match(started.id!, new RegExp(`^${name}:[0-9a-f-]{36}$`));
    assert.equal(started.buildStatus, 'IN_PROGRESS');
    assert.equal(started.buildNumber, 1);
    const b = await waitBuild(started.id!);
    assert.equal(b.buildStatus, 'SUCCEEDED', JSON.stringify(b.phases));
    assert.deepEqual(phases(b), [
      'SUBMITTED:SUCCEEDED',
      'QUEUED:SUCCEEDED',
      'PROVISIONING:SUCCEEDED',
      'DOWNLOAD_SOURCE:SUCCEEDED',
      'INSTALL:SUCCEEDED',
      'PRE_BUILD:SUCCEEDED',
      'BUILD:SUCCEEDED',
      'POST_BUILD:SUCCEEDED',
      'UPLOAD_ARTIFACTS:SUCCEEDED',
      'FINALIZING:SUCCEEDED',
      'COMPLETED',
    ]);
    assert.equal(b.resolvedSourceVersion, repo.commit);
    assert.equal(b.currentPhase, 'COMPLETED');
    assert.deepEqual(b.exportedEnvironmentVariables, [{ name: 'IMAGE_TAG', value: `v-${repo.commit}` }]);
    assert.equal(b.artifacts!.location, `arn:aws:s3:::${bucket}/out.zip`);

    const text = await logText(b);
    assert.match(text, /greeting=from-buildspec level=2 in app/, 'project variables win over buildspec ones; cd persists across phases');
    assert.match(text, /succeeding=1/);
    assert.match(
      text,
      new RegExp(`arn:aws:sts::000000000000:assumed-role/cb/AWSCodeBuild-${b.id!.split(':')[1]}`),
      'the build calls AWS as its service role',
    );
    assert.match(text, /\[Container\] \d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d\.\d{6} Entering phase BUILD/);
    assert.match(text, /Running command echo installing/);

    const zip = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'out.zip' }));
    const file = join(mkdtempSync(join(tmpdir(), 'cb-zip-')), 'out.zip');
    writeFileSync(file, await zip.Body!.transformToByteArray());
    const listing = execFileSync('python3', [
      '-c',
      'import sys,zipfile; print("\\n".join(sorted(zipfile.ZipFile(sys.argv[1]).namelist())))',
      file,
    ])
      .toString()
      .trim()
      .split('\n');
    assert.deepEqual(listing, ['main.txt', 'sub/deep.txt']);

    assert.equal(b.reportArns?.length, 1);
    const report = (await cb.send(new BatchGetReportsCommand({ reportArns: b.reportArns! }))).reports![0];
    assert.equal(report.name, `${name}-unit`);
    assert.equal(report.status, 'FAILED');
    assert.equal(report.testSummary!.total, 3);
    assert.equal(report.testSummary!.statusCounts!.SUCCEEDED, 1);
    assert.equal(report.testSummary!.statusCounts!.FAILED, 1);
    assert.equal(report.testSummary!.statusCounts!.SKIPPED, 1);
    assert.equal(report.testSummary!.durationInNanoSeconds, 750_000_000);
    const cases = (await cb.send(new DescribeTestCasesCommand({ reportArn: report.arn! }))).testCases!;
    assert.deepEqual(
      cases.map((c) => [c.prefix, c.name, c.status, c.durationInNanoSeconds]),
      [
        ['cart.total', 'adds items', 'SUCCEEDED', 250_000_000],
        ['cart.total', 'applies discount', 'FAILED', 500_000_000],
        ['cart.io', 'skips', 'SKIPPED', 0],
      ],
    );
    const failed = (await cb.send(new DescribeTestCasesCommand({ reportArn: report.arn!, filter: { status: 'FAILED' } }))).testCases!;
    assert.deepEqual(
      failed.map((c) => c.name),
      ['applies discount'],
    );
    const groups = (await cb.send(new ListReportGroupsCommand({}))).reportGroups!;
    assert.ok(groups.includes(report.reportGroupArn!));
  });

  test('a failing command in PRE_BUILD (ABORT by default) ends the build: no BUILD, FAILED with the command in the context', async () => {
    const name = await inlineProject(`version: 0.2
phases:
  pre_build:
    commands:
      - echo before
      - exit_code_3() { return 3; }; exit_code_3
      - echo never
    finally:
      - echo cleanup
  build:
    commands:
      - echo not-built
`);
    const b = await waitBuild((await cb.send(new StartBuildCommand({ projectName: name }))).build!.id!);
    assert.equal(b.buildStatus, 'FAILED');
    assert.deepEqual(phases(b), [
      'SUBMITTED:SUCCEEDED',
      'QUEUED:SUCCEEDED',
      'PROVISIONING:SUCCEEDED',
      'DOWNLOAD_SOURCE:SUCCEEDED',
      'INSTALL:SUCCEEDED',
      'PRE_BUILD:FAILED',
      'FINALIZING:SUCCEEDED',
      'COMPLETED',
    ]);
    const pre = b.phases!.find((p) => p.phaseType === 'PRE_BUILD')!;
    assert.deepEqual(pre.contexts, [
      {
        statusCode: 'COMMAND_EXECUTION_ERROR',
        message: 'Error while executing command: exit_code_3() { return 3; }; exit_code_3. Reason: exit status 3',
      },
    ]);
    const text = await logText(b);
    assert.match(text, /cleanup/);
    assert.doesNotMatch(text, /never|not-built/);
  });

  test('a failing BUILD still runs POST_BUILD; on-failure CONTINUE goes on to the next phase', async () => {
    const name = await inlineProject(`version: 0.2
phases:
  install:
    on-failure: CONTINUE
    commands:
      - "false"
  build:
    commands:
      - echo building
      - "false"
  post_build:
    commands:
      - echo "post succeeding=$CODEBUILD_BUILD_SUCCEEDING"
`);
    const b = await waitBuild((await cb.send(new StartBuildCommand({ projectName: name }))).build!.id!);
    assert.equal(b.buildStatus, 'FAILED');
    assert.deepEqual(phases(b).slice(4), [
      'INSTALL:FAILED',
      'PRE_BUILD:SUCCEEDED',
      'BUILD:FAILED',
      'POST_BUILD:SUCCEEDED',
      'UPLOAD_ARTIFACTS:SUCCEEDED',
      'FINALIZING:SUCCEEDED',
      'COMPLETED',
    ]);
    assert.match(await logText(b), /post succeeding=0/);
  });

  test('on-failure CONTINUE in PRE_BUILD: a command that exits fails the phase, BUILD and POST_BUILD still run, the build FAILED', async () => {
    const name = await inlineProject(`version: 0.2
phases:
  pre_build:
    on-failure: CONTINUE
    commands:
      - export KEPT=yes
      - echo pre; exit 1
      - echo never
  build:
    commands:
      - echo "building kept=$KEPT succeeding=$CODEBUILD_BUILD_SUCCEEDING"
  post_build:
    commands:
      - echo post
`);
    const b = await waitBuild((await cb.send(new StartBuildCommand({ projectName: name }))).build!.id!);
    assert.equal(b.buildStatus, 'FAILED');
    assert.deepEqual(phases(b).slice(4), [
      'INSTALL:SUCCEEDED',
      'PRE_BUILD:FAILED',
      'BUILD:SUCCEEDED',
      'POST_BUILD:SUCCEEDED',
      'UPLOAD_ARTIFACTS:SUCCEEDED',
      'FINALIZING:SUCCEEDED',
      'COMPLETED',
    ]);
    assert.deepEqual(b.phases!.find((p) => p.phaseType === 'PRE_BUILD')!.contexts, [
      { statusCode: 'COMMAND_EXECUTION_ERROR', message: 'Error while executing command: echo pre; exit 1. Reason: exit status 1' },
    ]);
    const text = await logText(b);
    assert.match(text, /building kept=yes succeeding=0/);
    assert.match(text, /Command did not exit successfully echo pre; exit 1 exit status 1/);
    assert.doesNotMatch(text, /never/);
  });

  test('on-failure ABORT in BUILD: no POST_BUILD, UPLOAD_ARTIFACTS still attempted, the build FAILED', async () => {
    const name = await inlineProject(`version: 0.2
phases:
  build:
    on-failure: ABORT
    commands:
      - "false"
    finally:
      - echo build-finally
  post_build:
    commands:
      - echo not-post
`);
    const b = await waitBuild((await cb.send(new StartBuildCommand({ projectName: name }))).build!.id!);
    assert.equal(b.buildStatus, 'FAILED');
    assert.deepEqual(phases(b).slice(4), [
      'INSTALL:SUCCEEDED',
      'PRE_BUILD:SUCCEEDED',
      'BUILD:FAILED',
      'UPLOAD_ARTIFACTS:SUCCEEDED',
      'FINALIZING:SUCCEEDED',
      'COMPLETED',
    ]);
    const text = await logText(b);
    assert.match(text, /build-finally/);
    assert.doesNotMatch(text, /not-post/);
  });

  test('on-failure RETRY-2: a command that fails the first time and succeeds the second → the phase and build SUCCEEDED', async () => {
    const name = await inlineProject(`version: 0.2
phases:
  pre_build:
    on-failure: RETRY-2
    commands:
      - echo "attempt"
      - if [ -f .tried ]; then echo second-try; else touch .tried; echo first-try; exit 3; fi
  build:
    commands:
      - echo "built succeeding=$CODEBUILD_BUILD_SUCCEEDING"
`);
    const b = await waitBuild((await cb.send(new StartBuildCommand({ projectName: name }))).build!.id!);
    assert.equal(b.buildStatus, 'SUCCEEDED');
    assert.deepEqual(phases(b).slice(4, 8), ['INSTALL:SUCCEEDED', 'PRE_BUILD:SUCCEEDED', 'BUILD:SUCCEEDED', 'POST_BUILD:SUCCEEDED']);
    assert.equal(b.phases!.filter((p) => p.phaseType === 'PRE_BUILD').length, 1);
    assert.deepEqual(b.phases!.find((p) => p.phaseType === 'PRE_BUILD')!.contexts, [{ statusCode: '', message: '' }]);
    const text = await logText(b);
    assert.equal(text.match(/^attempt$/gm)?.length, 2);
    assert.match(
      text,
      /first-try[\s\S]*Phase context status code: COMMAND_EXECUTION_ERROR Message: Error while executing command: if \[ -f \.tried \][^\n]*exit status 3\n[^\n]*Phase PRE_BUILD failed: on-failure retry 1 of 2[\s\S]*second-try/,
    );
    assert.match(text, /built succeeding=1/);
  });

  test('on-failure RETRY-1 that keeps failing: 2 attempts, then PRE_BUILD aborts the build', async () => {
    const name = await inlineProject(`version: 0.2
phases:
  pre_build:
    on-failure: RETRY-1
    commands:
      - echo try; "false"
  build:
    commands:
      - echo not-built
`);
    const b = await waitBuild((await cb.send(new StartBuildCommand({ projectName: name }))).build!.id!);
    assert.equal(b.buildStatus, 'FAILED');
    assert.deepEqual(phases(b).slice(4), ['INSTALL:SUCCEEDED', 'PRE_BUILD:FAILED', 'FINALIZING:SUCCEEDED', 'COMPLETED']);
    const text = await logText(b);
    assert.equal(text.match(/^try$/gm)?.length, 2);
    assert.doesNotMatch(text, /not-built/);
  });

  test('logs reach CloudWatch Logs while the build runs; StopBuild mid-phase kills the commands', async () => {
    const marker = join(mkdtempSync(join(tmpdir(), 'cb-stop-')), 'late');
    const name = await inlineProject(`version: 0.2
phases:
  build:
    commands:
      - echo started-$CODEBUILD_BUILD_NUMBER
      - sleep 30 && touch ${marker}
`);
    const id = (await cb.send(new StartBuildCommand({ projectName: name }))).build!.id!;
    const running = await waitBuild(id, 10_000, (b) => b.currentPhase === 'BUILD');
    const end = Date.now() + 5000;
    while (!/started-1/.test(await logText(running))) {
      assert.ok(Date.now() < end, 'the first line was not in CloudWatch Logs while the build ran');
      await new Promise((r) => setTimeout(r, 50));
    }
    const t0 = Date.now();
    const stopped = (await cb.send(new StopBuildCommand({ id }))).build!;
    assert.ok(Date.now() - t0 < 3000);
    assert.equal(stopped.buildStatus, 'STOPPED');
    const b = await waitBuild(id);
    assert.equal(b.phases!.find((p) => p.phaseType === 'BUILD')!.phaseStatus, 'STOPPED');
    assert.deepEqual(phases(b).slice(-2), ['FINALIZING:SUCCEEDED', 'COMPLETED']);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(existsSync(marker), false);
  });

  test('concurrentBuildLimit 1: a second build waits in QUEUED until the first ends', async () => {
    const name = await inlineProject('version: 0.2\nphases:\n  build:\n    commands:\n      - sleep 1\n', { concurrentBuildLimit: 1 });
    const first = (await cb.send(new StartBuildCommand({ projectName: name }))).build!.id!;
    const second = (await cb.send(new StartBuildCommand({ projectName: name }))).build!.id!;
    await waitBuild(first, 10_000, (b) => b.currentPhase === 'BUILD');
    const queued = (await cb.send(new BatchGetBuildsCommand({ ids: [second] }))).builds![0];
    assert.equal(queued.currentPhase, 'QUEUED');
    const a = await waitBuild(first);
    const b = await waitBuild(second);
    assert.equal(b.buildStatus, 'SUCCEEDED');
    const queuedPhase = b.phases!.find((p) => p.phaseType === 'QUEUED')!;
    assert.ok(
      queuedPhase.endTime!.getTime() >= a.phases!.find((p) => p.phaseType === 'BUILD')!.endTime!.getTime(),
      'the second left QUEUED only after the first had built',
    );
  });

  test('a build past its timeout ends TIMED_OUT with its commands killed', async () => {
    const name = await inlineProject(
      `version: 0.2
phases:
  build:
    commands:
      - sleep 60
`,
      { timeoutInMinutes: 5 },
    );
    const b = await waitBuild((await cb.send(new StartBuildCommand({ projectName: name }))).build!.id!, 15_000);
    assert.equal(b.buildStatus, 'TIMED_OUT');
    const build = b.phases!.find((p) => p.phaseType === 'BUILD')!;
    assert.equal(build.phaseStatus, 'TIMED_OUT');
    assert.equal(build.contexts![0].statusCode, 'BUILD_TIMED_OUT');
  });

  test('an invalid buildspec fails DOWNLOAD_SOURCE with YAML_FILE_ERROR', async () => {
    const name = await inlineProject('version: 0.2\nphases:\n  build:\n    commands:\n      - name: not a string\n');
    const b = await waitBuild((await cb.send(new StartBuildCommand({ projectName: name }))).build!.id!);
    assert.equal(b.buildStatus, 'FAILED');
    const dl = b.phases!.find((p) => p.phaseType === 'DOWNLOAD_SOURCE')!;
    assert.equal(dl.phaseStatus, 'FAILED');
    assert.equal(dl.contexts![0].statusCode, 'YAML_FILE_ERROR');
    assert.match(dl.contexts![0].message!, /Expected Commands\[0\] to be of string type/);
    assert.deepEqual(phases(b).slice(-2), ['FINALIZING:SUCCEEDED', 'COMPLETED']);
  });

  test("a missing buildspec file fails DOWNLOAD_SOURCE naming the build's path (/codebuild/output/src<N>/src/…), not opsbox's", async () => {
    const repo = await pushRepo({ 'README.md': 'no buildspec here\n' });
    const location = `https://git-codecommit.us-east-1.amazonaws.com/v1/repos/${repo.repositoryName}`;
    for (const [buildspec, rel] of [
      [undefined, 'buildspec.yml'],
      ['ci/spec.yml', 'ci/spec.yml'],
    ] as const) {
      const name = unique('p');
      await cb.send(
        new CreateProjectCommand({
          name,
          source: { type: 'CODECOMMIT', location, ...(buildspec ? { buildspec } : {}) },
          artifacts: { type: 'NO_ARTIFACTS' },
          environment: ENV,
          serviceRole: ROLE,
        }),
      );
      const b = await waitBuild((await cb.send(new StartBuildCommand({ projectName: name }))).build!.id!);
      assert.equal(b.buildStatus, 'FAILED');
      const dl = b.phases!.find((p) => p.phaseType === 'DOWNLOAD_SOURCE')!;
      assert.equal(dl.phaseStatus, 'FAILED');
      assert.equal(dl.contexts![0].statusCode, 'YAML_FILE_ERROR');
      const message = dl.contexts![0].message!;
      assert.match(message, new RegExp(`^stat /codebuild/output/src\\d+/src/${rel.replace('.', '\\.')}: no such file or directory$`));
      assert.ok(!message.includes(box.dataDir), message);
      assert.match(await logText(b), /Phase context status code: YAML_FILE_ERROR Message: stat \/codebuild\/output\/src\d+\/src\//);
    }
  });

  test('a source version that does not exist fails DOWNLOAD_SOURCE with CLIENT_ERROR', async () => {
    const repo = await pushRepo({ 'buildspec.yml': 'version: 0.2\nphases:\n  build:\n    commands:\n      - echo hi\n' });
    const name = unique('p');
    await cb.send(
      new CreateProjectCommand({
        name,
        source: { type: 'CODECOMMIT', location: `https://git-codecommit.us-east-1.amazonaws.com/v1/repos/${repo.repositoryName}` },
        artifacts: { type: 'NO_ARTIFACTS' },
        environment: ENV,
        serviceRole: ROLE,
      }),
    );
    const b = await waitBuild((await cb.send(new StartBuildCommand({ projectName: name, sourceVersion: 'nope' }))).build!.id!);
    const dl = b.phases!.find((p) => p.phaseType === 'DOWNLOAD_SOURCE')!;
    assert.equal(dl.phaseStatus, 'CLIENT_ERROR');
    assert.deepEqual(dl.contexts, [
      { statusCode: 'CLIENT_ERROR', message: 'CLIENT_ERROR: reference not found for primary source and source version nope' },
    ]);
    // a tag and a commit id are source versions too
    await git.must(repo.dir, ['tag', 'v1']);
    await git.must(repo.dir, ['push', '-q', `${box.url}/v1/repos/${repo.repositoryName}`, 'v1']);
    for (const v of ['v1', repo.commit]) {
      const ok = await waitBuild((await cb.send(new StartBuildCommand({ projectName: name, sourceVersion: v }))).build!.id!);
      assert.equal(ok.buildStatus, 'SUCCEEDED', v);
      assert.equal(ok.resolvedSourceVersion, repo.commit);
    }
  });

  test('S3 zip source with a CodeCommit secondary source; a LOCAL custom cache survives to the next build', async () => {
    const lib = await pushRepo({ 'lib.txt': 'from-lib\n' });
    const zipFile = join(mkdtempSync(join(tmpdir(), 'cb-src-')), 'src.zip');
    const buildspec = `version: 0.2
phases:
  build:
    commands:
      - cat data.txt
      - cat $CODEBUILD_SRC_DIR_lib/lib.txt
      - if [ -f deps/cached ]; then echo cache-hit; else mkdir -p deps && touch deps/cached && echo cache-miss; fi
cache:
  paths:
    - 'deps/**/*'
`;
    execFileSync('python3', [
      '-c',
      'import sys,zipfile\nz=zipfile.ZipFile(sys.argv[1],"w")\nz.writestr("buildspec.yml",sys.argv[2])\nz.writestr("data.txt","from-zip\\n")\nz.close()',
      zipFile,
      buildspec,
    ]);
    const { PutObjectCommand } = await import('@aws-sdk/client-s3');
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'src/app.zip', Body: readFileSync(zipFile) }));
    const name = unique('s3src');
    await cb.send(
      new CreateProjectCommand({
        name,
        source: { type: 'S3', location: `${bucket}/src/app.zip` },
        secondarySources: [{ type: 'CODECOMMIT', location: `${box.url}/v1/repos/${lib.repositoryName}`, sourceIdentifier: 'lib' }],
        cache: { type: 'LOCAL', modes: ['LOCAL_CUSTOM_CACHE'] },
        artifacts: { type: 'NO_ARTIFACTS' },
        environment: ENV,
        serviceRole: ROLE,
      }),
    );
    const first = await waitBuild((await cb.send(new StartBuildCommand({ projectName: name }))).build!.id!);
    assert.equal(first.buildStatus, 'SUCCEEDED', JSON.stringify(first.phases));
    const text = await logText(first);
    assert.match(text, /from-zip/);
    assert.match(text, /from-lib/);
    assert.match(text, /cache-miss/);
    const second = await waitBuild((await cb.send(new StartBuildCommand({ projectName: name }))).build!.id!);
    assert.match(await logText(second), /cache-hit/);
  });

  test('secondary artifacts go to their own S3 locations; BUILD_ID namespace; packaging NONE; a buildspec name evaluated by the shell', async () => {
    const name = await inlineProject(
      `version: 0.2
phases:
  build:
    commands:
      - mkdir -p web logs && echo page > web/index.html && echo trace > logs/build.log
artifacts:
  name: site-$CODEBUILD_BUILD_NUMBER
  files:
    - '**/*'
  base-directory: web
  secondary-artifacts:
    logs:
      files:
        - logs/build.log
      discard-paths: yes
`,
      {
        artifacts: {
          type: 'S3',
          location: bucket,
          path: 'builds',
          namespaceType: 'BUILD_ID',
          name: 'web',
          packaging: 'NONE',
          overrideArtifactName: true,
        },
        secondaryArtifacts: [{ type: 'S3', location: bucket, path: 'logs', name: 'l', packaging: 'NONE', artifactIdentifier: 'logs' }],
      },
    );
    const b = await waitBuild((await cb.send(new StartBuildCommand({ projectName: name }))).build!.id!);
    assert.equal(b.buildStatus, 'SUCCEEDED', JSON.stringify(b.phases));
    const uuid = b.id!.split(':')[1];
    assert.equal(
      b.artifacts!.location,
      `arn:aws:s3:::${bucket}/builds/${uuid}/site-1`,
      'the buildspec name, evaluated by the shell, overrides the project one',
    );
    assert.equal(b.secondaryArtifacts![0].location, `arn:aws:s3:::${bucket}/logs/l`);
    const { ListObjectsV2Command } = await import('@aws-sdk/client-s3');
    const keys = (await s3.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents!.map((o) => o.Key);
    assert.ok(keys.includes(`builds/${uuid}/site-1/index.html`) && keys.includes('logs/l/build.log'), keys.join(' '));
    const page = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `builds/${uuid}/site-1/index.html` }));
    assert.equal(await page.Body!.transformToString(), 'page\n');
    const trace = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'logs/l/build.log' }));
    assert.equal(await trace.Body!.transformToString(), 'trace\n');
  });

  test('a PARAMETER_STORE variable naming a missing parameter fails DOWNLOAD_SOURCE with Decrypted Variables Error', async () => {
    const name = await inlineProject('version: 0.2\nphases:\n  build:\n    commands:\n      - echo x\n');
    const b = await waitBuild(
      (
        await cb.send(
          new StartBuildCommand({
            projectName: name,
            environmentVariablesOverride: [{ name: 'DB', value: '/shop/db', type: 'PARAMETER_STORE' }],
          }),
        )
      ).build!.id!,
    );
    const dl = b.phases!.find((p) => p.phaseType === 'DOWNLOAD_SOURCE')!;
    assert.equal(dl.phaseStatus, 'FAILED');
    assert.equal(dl.contexts![0].statusCode, 'Decrypted Variables Error');
    assert.match(dl.contexts![0].message!, /\/shop\/db/);
  });

  test('buildspec parameter-store and secrets-manager variables are read for real and masked in the log', async () => {
    const { SSMClient, PutParameterCommand } = await import('@aws-sdk/client-ssm');
    const { SecretsManagerClient, CreateSecretCommand, PutSecretValueCommand } = await import('@aws-sdk/client-secrets-manager');
    const ssm = new SSMClient(clientConfig(box.url));
    const sm = new SecretsManagerClient(clientConfig(box.url));
    const path = `/${unique('shop')}`;
    await ssm.send(new PutParameterCommand({ Name: `${path}/host`, Value: 'db.local', Type: 'String' }));
    await ssm.send(new PutParameterCommand({ Name: `${path}/password`, Value: 'pw-from-ssm-8c1', Type: 'SecureString' }));
    const secretName = unique('shop/api');
    const created = await sm.send(new CreateSecretCommand({ Name: secretName, SecretString: '{"key":"abc-secret-77","user":"ops"}' }));
    await sm.send(new PutSecretValueCommand({ SecretId: secretName, SecretString: '{"key":"newer-secret-99","user":"ops"}' }));
    const name = await inlineProject(`version: 0.2
env:
  parameter-store:
    DB_HOST: ${path}/host
    DB_PASSWORD: ${path}/password
  secrets-manager:
    API_KEY: ${secretName}:key
    OLD_KEY: ${created.ARN}:key:AWSPREVIOUS
    WHOLE: ${secretName}
phases:
  build:
    commands:
      - echo "host=$DB_HOST"
      - echo "password=$DB_PASSWORD api=$API_KEY old=$OLD_KEY"
      - test "$DB_PASSWORD" = pw-from-ssm-8c1 && test "$API_KEY" = newer-secret-99 && test "$OLD_KEY" = abc-secret-77
      - echo "$WHOLE" | grep -q '"user":"ops"'
`);
    const b = await waitBuild((await cb.send(new StartBuildCommand({ projectName: name }))).build!.id!);
    assert.equal(b.buildStatus, 'SUCCEEDED', JSON.stringify(b.phases));
    const text = await logText(b);
    assert.match(text, /password=\*\*\* api=\*\*\* old=\*\*\*/);
    assert.match(text, /host=\*\*\*/, 'every value read from Parameter Store is masked');
    for (const secret of ['pw-from-ssm-8c1', 'newer-secret-99', 'abc-secret-77'])
      assert.ok(!text.includes(secret), `${secret} is not in the log`);

    const missing = await inlineProject(`version: 0.2
env:
  secrets-manager:
    X: ${secretName}:nokey
phases:
  build:
    commands:
      - echo x
`);
    const failed = await waitBuild((await cb.send(new StartBuildCommand({ projectName: missing }))).build!.id!);
    const dl = failed.phases!.find((p) => p.phaseType === 'DOWNLOAD_SOURCE')!;
    assert.equal(dl.phaseStatus, 'FAILED');
    assert.equal(dl.contexts![0].statusCode, 'Secrets Manager Error');
    assert.match(dl.contexts![0].message!, /nokey/);
    ssm.destroy();
    sm.destroy();
  });

  test('a command flooding output: the build ends, every line is in the log, the server stays healthy', async () => {
    const name = await inlineProject(`version: 0.2
phases:
  build:
    commands:
      - i=0; while [ $i -lt 20000 ]; do echo "line $i"; i=$((i+1)); done
`);
    const b = await waitBuild((await cb.send(new StartBuildCommand({ projectName: name }))).build!.id!, 30_000);
    assert.equal(b.buildStatus, 'SUCCEEDED');
    const r = await logs.send(
      new GetLogEventsCommand({ logGroupName: b.logs!.groupName, logStreamName: b.logs!.streamName, startFromHead: true, limit: 10000 }),
    );
    assert.ok(r.events!.some((e) => e.message === 'line 0'));
    const health = await fetch(`${box.url}/_opsbox/health`);
    assert.equal(health.status, 200);
  });
});

describe('CodeBuild API', () => {
  test('projects: create, duplicate, batch get, update, list, delete', async () => {
    const name = await inlineProject('version: 0.2\nphases:\n  build:\n    commands:\n      - echo x\n', {
      tags: [{ key: 'team', value: 'shop' }],
    });
    await assert.rejects(
      cb.send(
        new CreateProjectCommand({
          name,
          source: { type: 'NO_SOURCE', buildspec: 'x' },
          artifacts: { type: 'NO_ARTIFACTS' },
          environment: ENV,
          serviceRole: ROLE,
        }),
      ),
      (e: any) => e.name === 'ResourceAlreadyExistsException' && e.$metadata.httpStatusCode === 400,
    );
    const got = await cb.send(new BatchGetProjectsCommand({ names: [name, 'missing-project'] }));
    assert.equal(got.projects![0].timeoutInMinutes, 60);
    assert.equal(got.projects![0].queuedTimeoutInMinutes, 480);
    assert.deepEqual(got.projectsNotFound, ['missing-project']);
    const updated = (await cb.send(new UpdateProjectCommand({ name, timeoutInMinutes: 10, description: 'ci' }))).project!;
    assert.equal(updated.timeoutInMinutes, 10);
    assert.equal(updated.source!.type, 'NO_SOURCE');
    assert.ok((await cb.send(new ListProjectsCommand({}))).projects!.includes(name));
    await cb.send(new DeleteProjectCommand({ name }));
    assert.deepEqual((await cb.send(new BatchGetProjectsCommand({ names: [name] }))).projectsNotFound, [name]);
  });

  test('bad input gets AWS errors', async () => {
    await assert.rejects(
      cb.send(new StartBuildCommand({ projectName: 'no-such-project' })),
      (e: any) => e.name === 'ResourceNotFoundException',
    );
    await assert.rejects(
      cb.send(
        new CreateProjectCommand({
          name: unique('p'),
          source: { type: 'NO_SOURCE' },
          artifacts: { type: 'NO_ARTIFACTS' },
          environment: ENV,
          serviceRole: ROLE,
        }),
      ),
      (e: any) => e.name === 'InvalidInputException' && /buildspec cannot be empty/.test(e.message),
    );
    await assert.rejects(
      cb.send(
        new CreateProjectCommand({
          name: unique('p'),
          source: { type: 'SVN' as any, location: 'x' },
          artifacts: { type: 'NO_ARTIFACTS' },
          environment: ENV,
          serviceRole: ROLE,
        }),
      ),
      (e: any) => /source\.type/.test(e.message),
    );
    await assert.rejects(
      cb.send(
        new CreateProjectCommand({
          name: unique('p'),
          source: { type: 'NO_SOURCE', buildspec: 'x' },
          artifacts: { type: 'S3' },
          environment: ENV,
          serviceRole: ROLE,
        }),
      ),
      (e: any) => e.name === 'InvalidInputException' && /location/.test(e.message),
    );
    const name = await inlineProject('version: 0.2\nphases:\n  build:\n    commands:\n      - echo x\n');
    await assert.rejects(
      cb.send(new StartBuildCommand({ projectName: name, timeoutInMinutesOverride: 1 })),
      (e: any) => e.name === 'InvalidInputException',
    );
  });

  test('RetryBuild, ListBuildsForProject, BatchDeleteBuilds; the aws CLI sees the same builds', async () => {
    const name = await inlineProject('version: 0.2\nphases:\n  build:\n    commands:\n      - echo "n=$CODEBUILD_BUILD_NUMBER"\n');
    const first = await waitBuild(
      (await cb.send(new StartBuildCommand({ projectName: name, environmentVariablesOverride: [{ name: 'X', value: '1' }] }))).build!.id!,
    );
    const retried = await waitBuild((await cb.send(new RetryBuildCommand({ id: first.id }))).build!.id!);
    assert.equal(retried.buildNumber, 2);
    assert.deepEqual(retried.environment!.environmentVariables, [{ name: 'X', value: '1', type: 'PLAINTEXT' }]);
    const ids = (await cb.send(new ListBuildsForProjectCommand({ projectName: name }))).ids!;
    assert.deepEqual(ids, [retried.id, first.id]);
    const cli = await awsCli(box.url, ['codebuild', 'batch-get-builds', '--ids', first.id!]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.equal(JSON.parse(cli.stdout).builds[0].buildStatus, 'SUCCEEDED');
    const del = await cb.send(new BatchDeleteBuildsCommand({ ids: [first.id!] }));
    assert.deepEqual(del.buildsDeleted, [first.id]);
    assert.deepEqual((await cb.send(new BatchGetBuildsCommand({ ids: [first.id!] }))).buildsNotFound, [first.id]);
  });

  test('StartBuild with an idempotency token starts one build; ListCuratedEnvironmentImages names the local images', async () => {
    const name = await inlineProject('version: 0.2\nphases:\n  build:\n    commands:\n      - echo x\n');
    const a = (await cb.send(new StartBuildCommand({ projectName: name, idempotencyToken: 'tok-1' }))).build!;
    const b = (await cb.send(new StartBuildCommand({ projectName: name, idempotencyToken: 'tok-1' }))).build!;
    assert.equal(b.id, a.id);
    await assert.rejects(
      cb.send(new StartBuildCommand({ projectName: name, idempotencyToken: 'tok-1', sourceVersion: 'other' })),
      (e: any) => e.name === 'InvalidInputException',
    );
    await waitBuild(a.id!);
    const images = await awsCli(box.url, ['codebuild', 'list-curated-environment-images']);
    assert.equal(images.code, 0, images.stderr);
    const names = JSON.parse(images.stdout).platforms.flatMap((p: any) =>
      p.languages.flatMap((l: any) => l.images.map((i: any) => i.name)),
    );
    assert.ok(names.includes('aws/codebuild/standard:7.0'));
  });

  test('the aws CLI creates a project and starts a build', async () => {
    const name = unique('cli');
    const created = await awsCli(box.url, [
      'codebuild',
      'create-project',
      '--name',
      name,
      '--source',
      JSON.stringify({ type: 'NO_SOURCE', buildspec: 'version: 0.2\nphases:\n  build:\n    commands:\n      - echo from-cli\n' }),
      '--artifacts',
      'type=NO_ARTIFACTS',
      '--environment',
      'type=LINUX_CONTAINER,image=opsbox/host,computeType=BUILD_GENERAL1_SMALL',
      '--service-role',
      ROLE,
    ]);
    assert.equal(created.code, 0, created.stderr);
    const started = await awsCli(box.url, ['codebuild', 'start-build', '--project-name', name]);
    assert.equal(started.code, 0, started.stderr);
    const b = await waitBuild(JSON.parse(started.stdout).build.id);
    assert.equal(b.buildStatus, 'SUCCEEDED');
    assert.match(await logText(b), /from-cli/);
  });

  test('an EventBridge rule on a CodeCommit push starts a build of the pushed commit; AWS/CodeBuild metrics count it', async () => {
    const repo = await pushRepo({ 'buildspec.yml': 'version: 0.2\nphases:\n  build:\n    commands:\n      - echo pushed\n' });
    const name = unique('on-push');
    await cb.send(
      new CreateProjectCommand({
        name,
        source: { type: 'CODECOMMIT', location: `${box.url}/v1/repos/${repo.repositoryName}` },
        artifacts: { type: 'NO_ARTIFACTS' },
        environment: ENV,
        serviceRole: ROLE,
      }),
    );
    const events = new EventBridgeClient(clientConfig(box.url));
    await events.send(
      new PutRuleCommand({
        Name: name,
        EventPattern: JSON.stringify({
          source: ['aws.codecommit'],
          detail: { repositoryName: [repo.repositoryName], referenceName: ['main'] },
        }),
      }),
    );
    await events.send(
      new PutTargetsCommand({
        Rule: name,
        Targets: [
          {
            Id: 'build',
            Arn: `arn:aws:codebuild:us-east-1:000000000000:project/${name}`,
            RoleArn: ROLE,
            InputTransformer: { InputPathsMap: { commit: '$.detail.commitId' }, InputTemplate: '{"sourceVersion": <commit>}' },
          },
        ],
      }),
    );
    writeFileSync(join(repo.dir, 'second.txt'), '2');
    await git.must(repo.dir, ['add', '-A']);
    await git.must(repo.dir, ['commit', '-q', '-m', 'second']);
    const second = await git.must(repo.dir, ['rev-parse', 'HEAD']);
    await git.must(repo.dir, ['push', '-q', `${box.url}/v1/repos/${repo.repositoryName}`, 'main']);
    let ids: string[] = [];
    const end = Date.now() + 5000;
    while (ids.length === 0 && Date.now() < end) {
      ids = (await cb.send(new ListBuildsForProjectCommand({ projectName: name }))).ids!;
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.equal(ids.length, 1, 'the push started one build');
    const b = await waitBuild(ids[0]);
    assert.equal(b.buildStatus, 'SUCCEEDED');
    assert.equal(b.sourceVersion, second);
    assert.equal(b.resolvedSourceVersion, second);

    const cw = new CloudWatchClient(clientConfig(box.url));
    const stats = await cw.send(
      new GetMetricStatisticsCommand({
        Namespace: 'AWS/CodeBuild',
        MetricName: 'SucceededBuilds',
        Dimensions: [{ Name: 'ProjectName', Value: name }],
        StartTime: new Date(Date.now() - 600_000),
        EndTime: new Date(Date.now() + 60_000),
        Period: 60,
        Statistics: ['Sum'],
      }),
    );
    assert.equal(
      stats.Datapoints!.reduce((s, d) => s + d.Sum!, 0),
      1,
    );
  });
});

describe('CodeBuild durability', () => {
  test('a build running when opsbox is killed -9 ends FAULT after restart; finished builds survive', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'cb-kill-'));
    let own = await startOpsbox({ dataDir, env: { OPSBOX_CODEBUILD_BACKEND: 'host' } });
    try {
      const c = new CodeBuildClient(clientConfig(own.url));
      const name = unique('p');
      await c.send(
        new CreateProjectCommand({
          name,
          source: { type: 'NO_SOURCE', buildspec: 'version: 0.2\nphases:\n  build:\n    commands:\n      - echo a\n      - sleep 30\n' },
          artifacts: { type: 'NO_ARTIFACTS' },
          environment: ENV,
          serviceRole: ROLE,
        }),
      );
      const id = (await c.send(new StartBuildCommand({ projectName: name }))).build!.id!;
      const end = Date.now() + 10_000;
      while ((await c.send(new BatchGetBuildsCommand({ ids: [id] }))).builds![0].currentPhase !== 'BUILD') {
        assert.ok(Date.now() < end);
        await new Promise((r) => setTimeout(r, 25));
      }
      await own.kill9();
      own = await startOpsbox({ dataDir, env: { OPSBOX_CODEBUILD_BACKEND: 'host' } });
      const c2 = new CodeBuildClient(clientConfig(own.url));
      let b: Build;
      const end2 = Date.now() + 5000;
      do {
        b = (await c2.send(new BatchGetBuildsCommand({ ids: [id] }))).builds![0];
        if (b.buildComplete) break;
        await new Promise((r) => setTimeout(r, 25));
      } while (Date.now() < end2);
      assert.equal(b.buildStatus, 'FAULT');
      assert.equal(b.phases!.find((p) => p.phaseType === 'BUILD')!.phaseStatus, 'FAULT');
      assert.equal(readFileSync(join(dataDir, 'opsbox.db')).length > 0, true);
    } finally {
      await own.dispose();
    }
  });
});
