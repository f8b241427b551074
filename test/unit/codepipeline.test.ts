/**
 * CodePipeline units: structure validation (defaults and AWS's errors), trigger glob filters,
 * `#{namespace.variable}` resolution, and — in-process with a ManualClock — a manual approval
 * that expires after 7 days.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import {
  CodePipelineClient,
  CreatePipelineCommand,
  GetPipelineExecutionCommand,
  GetPipelineStateCommand,
  ListPipelineExecutionsCommand,
} from '@aws-sdk/client-codepipeline';
import { CreateBucketCommand, PutBucketVersioningCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ManualClock } from '../../src/core/clock.js';
import { codepipeline } from '../../src/services/codepipeline/index.js';
import { globToRegExp, pushMatches } from '../../src/services/codepipeline/filters.js';
import { registerBuiltinProviders } from '../../src/services/codepipeline/providers/index.js';
import { validatePipeline } from '../../src/services/codepipeline/validate.js';
import { resolveString } from '../../src/services/codepipeline/variables.js';
import { s3 } from '../../src/services/s3/index.js';
import { InProcessOpsbox, sdkConfig } from '../helpers/inProcess.js';

registerBuiltinProviders();

const src = {
  name: 'Source',
  actions: [
    {
      name: 'Src',
      actionTypeId: { category: 'Source', owner: 'AWS', provider: 'S3', version: '1' },
      configuration: { S3Bucket: 'b', S3ObjectKey: 'k.zip' },
      outputArtifacts: [{ name: 'Out' }],
      namespace: 'S',
    },
  ],
};
const dep = (config: Record<string, string> = { BucketName: 'site', Extract: 'true' }, inputs = [{ name: 'Out' }]) => ({
  name: 'Deploy',
  actions: [
    {
      name: 'Deploy',
      actionTypeId: { category: 'Deploy', owner: 'AWS', provider: 'S3', version: '1' },
      configuration: config,
      inputArtifacts: inputs,
    },
  ],
});
const pipeline = (stages: any[], extra: Record<string, unknown> = {}) =>
  ({ name: 'p', roleArn: 'arn:aws:iam::000000000000:role/r', artifactStore: { type: 'S3', location: 'a' }, stages, ...extra }) as any;
const fails = (p: any, code: string, message: RegExp) =>
  assert.throws(
    () => validatePipeline(p, 'us-east-1', 1),
    (e: any) => e.code === code && message.test(e.message),
  );

describe('validatePipeline', () => {
  test('fills AWS defaults: V1, SUPERSEDED, runOrder 1, version', () => {
    const p = validatePipeline(pipeline([src, dep()]), 'us-east-1', 3);
    assert.equal(p.pipelineType, 'V1');
    assert.equal(p.executionMode, 'SUPERSEDED');
    assert.equal(p.version, 3);
    assert.equal(p.stages[1].actions[0].runOrder, 1);
  });

  test('structure errors name the reason', () => {
    fails(pipeline([src]), 'InvalidStructureException', /only 1 stage\(s\)/);
    fails(pipeline([src, dep()], { artifactStores: { 'us-east-1': { type: 'S3', location: 'x' } } }), 'InvalidStructureException', /both/);
    fails(pipeline([dep(), src]), 'InvalidStructureException', /start with a stage that only contains source actions/);
    fails(pipeline([src, { ...src, name: 'Again' }]), 'InvalidStructureException', /source actions in the first stage/);
    fails(pipeline([src, { name: 'Empty', actions: [] }]), 'InvalidStageDeclarationException', /at least one action/);
    fails(pipeline([src, dep(), dep()]), 'InvalidStructureException', /Stage name 'Deploy' is not unique/);
    fails(pipeline([src, dep(undefined, [{ name: 'Missing' }])]), 'InvalidStructureException', /Input artifact 'Missing'/);
  });

  test('action errors: unknown types, artifact counts, configuration keys, namespaces', () => {
    const ecs = {
      name: 'Ship',
      actions: [
        {
          name: 'Ecs',
          actionTypeId: { category: 'Deploy', owner: 'AWS', provider: 'ECS', version: '1' },
          configuration: { ClusterName: 'c', ServiceName: 's' },
        },
      ],
    };
    fails(
      pipeline([src, ecs]),
      'InvalidActionDeclarationException',
      /ActionType \(Category: 'Deploy', Provider: 'ECS', Owner: 'AWS', Version: '1'\) in action 'Ecs' is not available in region 'US_EAST_1'/,
    );
    fails(
      pipeline([src, dep(undefined, [])]),
      'InvalidActionDeclarationException',
      /declares 0 input artifacts which is less than the minimum count \(1\)/,
    );
    fails(pipeline([src, dep({ BucketName: 'site' })]), 'InvalidActionDeclarationException', /missing required configuration 'Extract'/);
    fails(
      pipeline([src, dep({ BucketName: 'site', Extract: 'false' })]),
      'InvalidActionDeclarationException',
      /missing required configuration 'ObjectKey'/,
    );
    fails(
      pipeline([src, dep({ BucketName: 'site', Extract: 'true', Bogus: 'x' })]),
      'InvalidActionDeclarationException',
      /unknown configuration 'Bogus'/,
    );
    fails(pipeline([src, dep({ BucketName: '#{Nope.X}', Extract: 'true' })]), 'InvalidActionDeclarationException', /namespace 'Nope'/);
    assert.doesNotThrow(() =>
      validatePipeline(
        pipeline([src, dep({ BucketName: '#{S.VersionId}-#{variables.v}-#{codepipeline.PipelineExecutionId}', Extract: 'true' })]),
        'us-east-1',
        1,
      ),
    );
  });

  test('V2-only features on V1 → ValidationException; triggers must name a source action', () => {
    fails(pipeline([src, dep()], { executionMode: 'PARALLEL' }), 'ValidationException', /V2/);
    fails(pipeline([src, dep()], { variables: [{ name: 'x' }] }), 'ValidationException', /V2/);
    const trig = (sourceActionName: string) => [
      { providerType: 'CodeStarSourceConnection', gitConfiguration: { sourceActionName, push: [{ branches: { includes: ['main'] } }] } },
    ];
    fails(pipeline([src, dep()], { pipelineType: 'V2', triggers: trig('Deploy') }), 'ValidationException', /sourceActionName 'Deploy'/);
    assert.doesNotThrow(() =>
      validatePipeline(pipeline([src, dep()], { pipelineType: 'V2', executionMode: 'QUEUED', triggers: trig('Src') }), 'us-east-1', 1),
    );
  });
});

describe('trigger filters', () => {
  test('globs: * stays in a path component, ** crosses them, ?, sets and alternatives', () => {
    assert.ok(globToRegExp('src/*.js').test('src/a.js'));
    assert.ok(!globToRegExp('src/*.js').test('src/lib/a.js'));
    assert.ok(globToRegExp('src/**').test('src/lib/a.js'));
    assert.ok(globToRegExp('**/*.md').test('README.md'));
    assert.ok(globToRegExp('**/*.md').test('docs/x/y.md'));
    assert.ok(globToRegExp('release/v?').test('release/v2'));
    assert.ok(globToRegExp('*.{js,ts}').test('a.ts'));
    assert.ok(globToRegExp('feature-[0-9]').test('feature-7'));
    assert.ok(!globToRegExp('feature-[!0-9]').test('feature-7'));
    assert.ok(globToRegExp('a\\*b').test('a*b') && !globToRegExp('a\\*b').test('axb'));
  });

  test('push filters: branches, excluded files, tags', async () => {
    const f = [
      {
        branches: { includes: ['main', 'release/**'], excludes: ['release/old'] },
        filePaths: { includes: ['src/**'], excludes: ['**/*.md'] },
      },
    ];
    const files = (list: string[]) => async () => list;
    assert.equal(await pushMatches(f, { branch: 'main', files: files(['src/a.js']) }), true);
    assert.equal(await pushMatches(f, { branch: 'main', files: files(['src/README.md']) }), false);
    assert.equal(await pushMatches(f, { branch: 'feature/x', files: files(['src/a.js']) }), false);
    assert.equal(await pushMatches(f, { branch: 'release/old', files: files(['src/a.js']) }), false);
    assert.equal(await pushMatches(f, { branch: 'release/1.2', files: files(['src/a.js']) }), true);
    assert.equal(await pushMatches([{ tags: { includes: ['v*'] } }], { tag: 'v1.0' }), true);
    assert.equal(await pushMatches([{ tags: { includes: ['v*'] } }], { branch: 'main' }), false);
    assert.equal(await pushMatches(undefined, { branch: 'any' }), true);
  });
});

describe('variables', () => {
  test('#{namespace.name} resolves; an unknown one throws', () => {
    const lookup = (ns: string, n: string) =>
      (({ S: { CommitId: 'abc' }, variables: { env: 'dev' } }) as Record<string, Record<string, string>>)[ns]?.[n];
    assert.equal(resolveString('#{variables.env}/#{S.CommitId}.zip', lookup), 'dev/abc.zip');
    assert.equal(resolveString('plain', lookup), 'plain');
    assert.throws(() => resolveString('#{S.Missing}', lookup), /Unable to resolve variable 'S.Missing'/);
  });
});

describe('engine with a ManualClock', () => {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const gw = new InProcessOpsbox([s3, codepipeline], clock);
  after(() => gw.close());

  test('a manual approval nobody answers fails the execution after 7 days', async () => {
    const s3c = new S3Client({ ...sdkConfig(gw), forcePathStyle: true });
    const cp = new CodePipelineClient(sdkConfig(gw));
    for (const b of ['src', 'art']) await s3c.send(new CreateBucketCommand({ Bucket: b }));
    await s3c.send(new PutBucketVersioningCommand({ Bucket: 'src', VersioningConfiguration: { Status: 'Enabled' } }));
    await s3c.send(new PutObjectCommand({ Bucket: 'src', Key: 'app.zip', Body: 'zip' }));
    await cp.send(
      new CreatePipelineCommand({
        pipeline: {
          name: 'wait',
          roleArn: 'arn:aws:iam::000000000000:role/r',
          artifactStore: { type: 'S3', location: 'art' },
          stages: [
            {
              name: 'Source',
              actions: [
                {
                  name: 'Src',
                  actionTypeId: { category: 'Source', owner: 'AWS', provider: 'S3', version: '1' },
                  configuration: { S3Bucket: 'src', S3ObjectKey: 'app.zip', PollForSourceChanges: 'false' },
                  outputArtifacts: [{ name: 'Out' }],
                },
              ],
            },
            {
              name: 'Approve',
              actions: [{ name: 'Approval', actionTypeId: { category: 'Approval', owner: 'AWS', provider: 'Manual', version: '1' } }],
            },
          ],
        },
      }),
    );
    const id = (await cp.send(new ListPipelineExecutionsCommand({ pipelineName: 'wait' }))).pipelineExecutionSummaries![0]
      .pipelineExecutionId!;
    for (let i = 0; ; i++) {
      const s = await cp.send(new GetPipelineStateCommand({ name: 'wait' }));
      if (s.stageStates![1].actionStates![0].latestExecution?.status === 'InProgress') break;
      assert.ok(i < 200, 'approval never started');
      await new Promise((r) => setTimeout(r, 10));
    }
    clock.advance(7 * 24 * 3600 * 1000 - 1000);
    assert.equal(
      (await cp.send(new GetPipelineExecutionCommand({ pipelineName: 'wait', pipelineExecutionId: id }))).pipelineExecution!.status,
      'InProgress',
    );
    clock.advance(2000);
    await new Promise((r) => setTimeout(r, 20));
    const e = (await cp.send(new GetPipelineExecutionCommand({ pipelineName: 'wait', pipelineExecutionId: id }))).pipelineExecution!;
    assert.equal(e.status, 'Failed');
    const state = await cp.send(new GetPipelineStateCommand({ name: 'wait' }));
    assert.match(state.stageStates![1].actionStates![0].latestExecution!.summary!, /expired/);
  });
});
