/**
 * CodeBuild builds in real containers: opsbox talks to podman's Docker Engine API (set up by
 * test/helpers/containers.ts) and runs the buildspec in the project's image, driven by SDK v3.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CodeBuildClient, CreateProjectCommand, StartBuildCommand, StopBuildCommand, type Build } from '@aws-sdk/client-codebuild';
import { CloudWatchLogsClient, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { CreateBucketCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ensureContainerEngine, type ContainerEngine } from '../helpers/containers.js';
import { clientConfig, startOpsbox, unique, type RunningOpsbox } from '../helpers/opsbox.js';
import { waitBuild as waitBuildOf } from '../helpers/wait.js';

let box: RunningOpsbox | undefined;
let engine: ContainerEngine | undefined;
let skip: string | undefined;
let cb: CodeBuildClient;
let logs: CloudWatchLogsClient;

before(async () => {
  const e = await ensureContainerEngine();
  if ('skip' in e) {
    skip = e.skip;
    return;
  }
  engine = e;
  box = await startOpsbox({ env: { OPSBOX_CODEBUILD_BACKEND: 'container', ...e.env } });
  cb = new CodeBuildClient(clientConfig(box.url));
  logs = new CloudWatchLogsClient(clientConfig(box.url));
});

after(async () => {
  await box?.dispose();
});

const waitBuild = (id: string, ms = 60_000, done?: (b: Build) => boolean) => waitBuildOf(cb, id, ms, done);

async function logText(b: Build) {
  const r = await logs.send(
    new GetLogEventsCommand({ logGroupName: b.logs!.groupName, logStreamName: b.logs!.streamName, startFromHead: true }),
  );
  return r.events!.map((e) => e.message).join('\n');
}

async function project(buildspec: string, image = engine!.image, extra: Record<string, unknown> = {}) {
  const name = unique('ctr');
  await cb.send(
    new CreateProjectCommand({
      name,
      source: { type: 'NO_SOURCE', buildspec },
      artifacts: { type: 'NO_ARTIFACTS' },
      environment: {
        type: 'LINUX_CONTAINER',
        image,
        computeType: 'BUILD_GENERAL1_SMALL',
        environmentVariables: [{ name: 'STAGE', value: 'test' }],
      },
      serviceRole: 'arn:aws:iam::000000000000:role/cb',
      ...extra,
    }),
  );
  return name;
}

describe('CodeBuild in a real container (podman)', () => {
  test('the buildspec runs in the image: output, variables, the source folder, and an S3 artifact', async (t) => {
    if (skip) return t.skip(skip);
    const s3 = new S3Client({ ...clientConfig(box!.url), forcePathStyle: true });
    const bucket = unique('ctr-art');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const name = await project(
      `version: 0.2
phases:
  build:
    commands:
      - echo "in container stage=$STAGE src=$CODEBUILD_SRC_DIR pwd=$(pwd)"
      - cat /etc/hostname > /dev/null
      - echo built > result.txt
artifacts:
  files:
    - result.txt
`,
      engine!.image,
      { artifacts: { type: 'S3', location: bucket, packaging: 'NONE', name: 'out' } },
    );
    const b = await waitBuild((await cb.send(new StartBuildCommand({ projectName: name }))).build!.id!);
    assert.equal(b.buildStatus, 'SUCCEEDED', JSON.stringify(b.phases));
    const text = await logText(b);
    assert.match(text, /in container stage=test src=\/codebuild\/output\/src\d+\/src pwd=\/codebuild\/output\/src\d+\/src/);
    const obj = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'out/result.txt' }));
    assert.equal(await obj.Body!.transformToString(), 'built\n');
  });

  test('a failing command fails BUILD with its exit status; StopBuild kills the container', async (t) => {
    if (skip) return t.skip(skip);
    const failing = await project('version: 0.2\nphases:\n  build:\n    commands:\n      - sh -c "exit 7"\n');
    const f = await waitBuild((await cb.send(new StartBuildCommand({ projectName: failing }))).build!.id!);
    assert.equal(f.buildStatus, 'FAILED');
    assert.deepEqual(f.phases!.find((p) => p.phaseType === 'BUILD')!.contexts, [
      { statusCode: 'COMMAND_EXECUTION_ERROR', message: 'Error while executing command: sh -c "exit 7". Reason: exit status 7' },
    ]);

    const slow = await project('version: 0.2\nphases:\n  build:\n    commands:\n      - echo sleeping\n      - sleep 60\n');
    const id = (await cb.send(new StartBuildCommand({ projectName: slow }))).build!.id!;
    await waitBuild(id, 30_000, (b) => b.currentPhase === 'BUILD');
    const t0 = Date.now();
    await cb.send(new StopBuildCommand({ id }));
    const s = await waitBuild(id, 10_000);
    assert.ok(Date.now() - t0 < 8000, 'the container was killed promptly');
    assert.equal(s.buildStatus, 'STOPPED');
  });

  test('an image that is not there fails PROVISIONING with CLIENT_ERROR (BUILD_CONTAINER_UNABLE_TO_PULL_IMAGE) and says how to fix it', async (t) => {
    if (skip) return t.skip(skip);
    const name = await project('version: 0.2\nphases:\n  build:\n    commands:\n      - echo never\n', 'localhost/opsbox-no-such-image:1');
    const b = await waitBuild((await cb.send(new StartBuildCommand({ projectName: name }))).build!.id!);
    assert.equal(b.buildStatus, 'FAILED');
    const prov = b.phases!.find((p) => p.phaseType === 'PROVISIONING')!;
    assert.equal(prov.phaseStatus, 'CLIENT_ERROR');
    assert.equal(prov.contexts![0].statusCode, 'BUILD_CONTAINER_UNABLE_TO_PULL_IMAGE');
    assert.match(prov.contexts![0].message!, /opsbox-no-such-image/);
    assert.deepEqual(b.phases!.map((p) => p.phaseType).slice(-2), ['FINALIZING', 'COMPLETED']);
  });
});
