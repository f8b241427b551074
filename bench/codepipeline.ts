/**
 * CodePipeline's orchestration cost: a three-stage pipeline whose actions do no work (CodeCommit
 * source of a one-file repository → CodeBuild with a no-op buildspec on the host backend → S3
 * deploy of that file). Per round, one `git push`; measured against the client's clock:
 *  - push → start: the execution's startTime minus the moment `git push` returned;
 *  - push → Succeeded: the execution's lastUpdateTime (polled every 5 ms) minus the same moment;
 *  - orchestration overhead: push → Succeeded minus the build's own time (its startTime→endTime in
 *    BatchGetBuilds, which includes CodeBuild's own provisioning, so this is pipeline work only).
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchGetBuildsCommand, CodeBuildClient, CreateProjectCommand } from '@aws-sdk/client-codebuild';
import { CodeCommitClient, CreateRepositoryCommand } from '@aws-sdk/client-codecommit';
import {
  CodePipelineClient,
  CreatePipelineCommand,
  ListActionExecutionsCommand,
  ListPipelineExecutionsCommand,
} from '@aws-sdk/client-codepipeline';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { na, val, type Row } from './report.js';
import type { Target, TargetName } from './targets.js';

export interface CodepipelinePlan {
  rounds: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.ceil(xs.length / 2) - 1];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function git(home: string, cwd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      args,
      { cwd, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0' } },
      (err, stdout, stderr) => (err ? reject(new Error(`git ${args.join(' ')}: ${stderr}`)) : resolve(stdout.trim())),
    );
  });
}

export async function codepipelineScenario(
  targets: Partial<Record<TargetName, Target | Error>>,
  plan: CodepipelinePlan,
  log: (s: string) => void,
) {
  const section = 'CodePipeline orchestration (Source → no-op CodeBuild → S3 deploy)';
  const rows: Row[] = [
    {
      section,
      label: 'git push returns → execution started (p50)',
      unit: 'ms',
      better: 'lower',
      target: { op: '<=', value: 200 },
      cells: {},
    },
    { section, label: 'git push returns → execution Succeeded (p50)', unit: 'ms', better: 'lower', cells: {} },
    { section, label: 'the no-op build itself, CodeBuild startTime → endTime (p50)', unit: 'ms', better: 'lower', cells: {} },
    {
      section,
      label: 'orchestration overhead, 3 stages (push → Succeeded minus build) (p50)',
      unit: 'ms',
      better: 'lower',
      target: { op: '<=', value: 1000 },
      cells: {},
    },
  ];
  const t = targets.opsbox;
  if (!t || t instanceof Error) {
    for (const r of rows) r.cells.opsbox = na(t ?? 'opsbox not started');
    return { rows, details: {} };
  }
  const config = {
    endpoint: `http://${t.host}:${t.port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  };
  const cp = new CodePipelineClient(config);
  const cb = new CodeBuildClient(config);
  const root = mkdtempSync(join(tmpdir(), 'bench-cp-'));
  const home = join(root, 'home');
  mkdirSync(home);
  writeFileSync(join(home, '.gitconfig'), '[user]\n\tname = Bench\n\temail = bench@example.com\n[credential]\n\thelper =\n');
  const details = {
    startRawMs: [] as number[],
    startMs: [] as number[],
    succeededMs: [] as number[],
    buildMs: [] as number[],
    overheadMs: [] as number[],
  };
  try {
    const id = Date.now().toString(36);
    const repo = `bench-cp-${id}`;
    const { repositoryMetadata } = await new CodeCommitClient(config).send(new CreateRepositoryCommand({ repositoryName: repo }));
    const work = join(root, 'work');
    await git(home, root, ['clone', '-q', repositoryMetadata!.cloneUrlHttp!.replace(/^http:\/\//, 'http://test:test@'), work]);
    writeFileSync(join(work, 'index.html'), '<h1>0</h1>\n');
    await git(home, work, ['add', '.']);
    await git(home, work, ['commit', '-qm', 'first']);
    await git(home, work, ['push', '-q', 'origin', 'HEAD:refs/heads/main']);
    const s3 = new S3Client({ ...config, forcePathStyle: true });
    await s3.send(new CreateBucketCommand({ Bucket: `bench-cp-art-${id}` }));
    await s3.send(new CreateBucketCommand({ Bucket: `bench-cp-site-${id}` }));
    await cb.send(
      new CreateProjectCommand({
        name: `bench-cp-${id}`,
        serviceRole: 'arn:aws:iam::000000000000:role/bench',
        source: {
          type: 'CODEPIPELINE',
          buildspec: 'version: 0.2\nphases:\n  build:\n    commands:\n      - "true"\nartifacts:\n  files:\n    - index.html\n',
        },
        artifacts: { type: 'CODEPIPELINE' },
        environment: { type: 'LINUX_CONTAINER', image: 'opsbox/host', computeType: 'BUILD_GENERAL1_SMALL' },
      }),
    );
    const name = `bench-cp-${id}`;
    await cp.send(
      new CreatePipelineCommand({
        pipeline: {
          name,
          roleArn: 'arn:aws:iam::000000000000:role/bench',
          artifactStore: { type: 'S3', location: `bench-cp-art-${id}` },
          stages: [
            {
              name: 'Source',
              actions: [
                {
                  name: 'Source',
                  actionTypeId: { category: 'Source', owner: 'AWS', provider: 'CodeCommit', version: '1' },
                  configuration: { RepositoryName: repo, BranchName: 'main' },
                  outputArtifacts: [{ name: 'Src' }],
                },
              ],
            },
            {
              name: 'Build',
              actions: [
                {
                  name: 'Build',
                  actionTypeId: { category: 'Build', owner: 'AWS', provider: 'CodeBuild', version: '1' },
                  configuration: { ProjectName: `bench-cp-${id}` },
                  inputArtifacts: [{ name: 'Src' }],
                  outputArtifacts: [{ name: 'Out' }],
                },
              ],
            },
            {
              name: 'Deploy',
              actions: [
                {
                  name: 'Deploy',
                  actionTypeId: { category: 'Deploy', owner: 'AWS', provider: 'S3', version: '1' },
                  configuration: { BucketName: `bench-cp-site-${id}`, Extract: 'true' },
                  inputArtifacts: [{ name: 'Out' }],
                },
              ],
            },
          ],
        },
      }),
    );
    const latest = async () =>
      (await cp.send(new ListPipelineExecutionsCommand({ pipelineName: name, maxResults: 1 }))).pipelineExecutionSummaries![0];
    const settle = async (executionId: string) => {
      const end = performance.now() + 60_000;
      for (;;) {
        const e = await latest();
        if (e.pipelineExecutionId === executionId && e.status !== 'InProgress') return e;
        if (performance.now() > end) throw new Error(`execution ${executionId} still ${e.status} after 60 s`);
        await sleep(5);
      }
    };
    const first = await latest();
    const settled = await settle(first.pipelineExecutionId!);
    if (settled.status !== 'Succeeded') throw new Error(`the first execution ended ${settled.status}`);
    // round 0 warms up (CodeBuild's first host build, git and zip code paths); it is not counted
    for (let i = 0; i <= plan.rounds; i++) {
      log(`codepipeline: round ${i}/${plan.rounds}`);
      writeFileSync(join(work, 'index.html'), `<h1>${i + 1}</h1>\n`);
      await git(home, work, ['commit', '-qam', `r${i}`]);
      const before = (await latest()).pipelineExecutionId;
      await git(home, work, ['push', '-q', 'origin', 'HEAD:refs/heads/main']);
      const returned = Date.now();
      let e = await latest();
      for (let n = 0; e.pipelineExecutionId === before; n++) {
        if (n > 2000) throw new Error('the push did not start an execution within 10 s');
        await sleep(5);
        e = await latest();
      }
      const done = await settle(e.pipelineExecutionId!);
      if (done.status !== 'Succeeded') throw new Error(`execution ended ${done.status}`);
      const actions = (
        await cp.send(new ListActionExecutionsCommand({ pipelineName: name, filter: { pipelineExecutionId: done.pipelineExecutionId } }))
      ).actionExecutionDetails!;
      const buildId = actions.find((a) => a.actionName === 'Build')!.output!.executionResult!.externalExecutionId!;
      const b = (await cb.send(new BatchGetBuildsCommand({ ids: [buildId] }))).builds![0];
      if (i === 0) continue;
      const buildMs = b.endTime!.getTime() - b.startTime!.getTime();
      const succeededMs = done.lastUpdateTime!.getTime() - returned;
      // negative when the execution started before `git push` returned (the push event fires while git waits for the report)
      details.startRawMs.push(done.startTime!.getTime() - returned);
      details.startMs.push(Math.max(0, done.startTime!.getTime() - returned));
      details.succeededMs.push(succeededMs);
      details.buildMs.push(buildMs);
      details.overheadMs.push(succeededMs - buildMs);
    }
    rows[0].cells.opsbox = val(median(details.startMs));
    rows[1].cells.opsbox = val(median(details.succeededMs));
    rows[2].cells.opsbox = val(median(details.buildMs));
    rows[3].cells.opsbox = val(median(details.overheadMs));
  } catch (e) {
    for (const r of rows) if (!r.cells.opsbox) r.cells.opsbox = na(e);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  return { rows, details };
}
