/**
 * CodeDeploy with the SDK v3 client and the aws CLI: the API's resources and errors, a Lambda
 * canary that really splits an alias's invocations and runs hook functions that report back, an
 * alarm that stops a deployment and rolls the alias back, and in-place deployments of a bundle to
 * three on-premises instances by the built-in agent (OneAtATime, a failing ValidateService).
 * OPSBOX_TIME_SCALE makes the canary's minutes last fractions of a second.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CloudWatchClient, PutMetricAlarmCommand, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import {
  AddTagsToOnPremisesInstancesCommand,
  CodeDeployClient,
  CreateApplicationCommand,
  CreateDeploymentCommand,
  CreateDeploymentConfigCommand,
  CreateDeploymentGroupCommand,
  DeleteDeploymentConfigCommand,
  GetApplicationCommand,
  GetDeploymentCommand,
  GetDeploymentConfigCommand,
  GetDeploymentGroupCommand,
  GetDeploymentTargetCommand,
  ListDeploymentConfigsCommand,
  ListDeploymentTargetsCommand,
  ListDeploymentsCommand,
  RegisterOnPremisesInstanceCommand,
  StopDeploymentCommand,
  type DeploymentInfo,
} from '@aws-sdk/client-codedeploy';
import {
  CreateAliasCommand,
  CreateFunctionCommand,
  GetAliasCommand,
  InvokeCommand,
  LambdaClient,
  PublishVersionCommand,
  UpdateFunctionCodeCommand,
} from '@aws-sdk/client-lambda';
import { CreateBucketCommand, PutBucketVersioningCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  CodePipelineClient,
  CreatePipelineCommand,
  GetPipelineExecutionCommand,
  ListPipelineExecutionsCommand,
  type PipelineDeclaration,
} from '@aws-sdk/client-codepipeline';
import { json, ROLE, zip } from '../helpers/lambda.js';
import { awsCli, clientConfig, failure, startOpsbox, unique, type RunningOpsbox } from '../helpers/opsbox.js';
import { waitFor } from '../helpers/wait.js';

const SERVICE_ROLE = 'arn:aws:iam::000000000000:role/codedeploy';
let box: RunningOpsbox;
let cd: CodeDeployClient;
let lambda: LambdaClient;

before(async () => {
  // five minutes of canary in half a second
  box = await startOpsbox({ env: { OPSBOX_TIME_SCALE: '600' } });
  cd = new CodeDeployClient(clientConfig(box.url));
  lambda = new LambdaClient(clientConfig(box.url));
});
after(async () => {
  cd?.destroy();
  lambda?.destroy();
  await box?.dispose();
});

const done = (id: string) =>
  waitFor(
    `deployment ${id} to finish`,
    async () => (await cd.send(new GetDeploymentCommand({ deploymentId: id }))).deploymentInfo!,
    (d: DeploymentInfo) => ['Succeeded', 'Failed', 'Stopped'].includes(d.status!),
    60_000,
  );

describe('CodeDeploy API', () => {
  test('applications, groups and configs with AWS errors (SDK and aws CLI)', async () => {
    const app = unique('shop');
    const { applicationId } = await cd.send(new CreateApplicationCommand({ applicationName: app, computePlatform: 'Lambda' }));
    assert.match(applicationId!, /^[0-9a-f-]{36}$/);
    const again = await failure(cd.send(new CreateApplicationCommand({ applicationName: app })));
    assert.equal(again.name, 'ApplicationAlreadyExistsException');
    const missing = await failure(cd.send(new GetApplicationCommand({ applicationName: unique('none') })));
    assert.equal(missing.name, 'ApplicationDoesNotExistException');

    const wrongPlatform = await failure(
      cd.send(
        new CreateDeploymentGroupCommand({
          applicationName: app,
          deploymentGroupName: 'prod',
          serviceRoleArn: SERVICE_ROLE,
          deploymentConfigName: 'CodeDeployDefault.OneAtATime',
        }),
      ),
    );
    assert.equal(wrongPlatform.name, 'InvalidDeploymentConfigNameException');
    await cd.send(new CreateDeploymentGroupCommand({ applicationName: app, deploymentGroupName: 'prod', serviceRoleArn: SERVICE_ROLE }));
    const g = (await cd.send(new GetDeploymentGroupCommand({ applicationName: app, deploymentGroupName: 'prod' }))).deploymentGroupInfo!;
    assert.deepEqual(
      [g.computePlatform, g.deploymentConfigName, g.deploymentStyle],
      ['Lambda', 'CodeDeployDefault.LambdaAllAtOnce', { deploymentType: 'BLUE_GREEN', deploymentOption: 'WITH_TRAFFIC_CONTROL' }],
    );
    const dup = await failure(
      cd.send(new CreateDeploymentGroupCommand({ applicationName: app, deploymentGroupName: 'prod', serviceRoleArn: SERVICE_ROLE })),
    );
    assert.equal(dup.name, 'DeploymentGroupAlreadyExistsException');

    const configs = (await cd.send(new ListDeploymentConfigsCommand({}))).deploymentConfigsList!;
    for (const c of [
      'CodeDeployDefault.OneAtATime',
      'CodeDeployDefault.LambdaCanary10Percent5Minutes',
      'CodeDeployDefault.ECSLinear10PercentEvery1Minutes',
    ])
      assert.ok(configs.includes(c), c);
    const canary = (
      await cd.send(new GetDeploymentConfigCommand({ deploymentConfigName: 'CodeDeployDefault.LambdaCanary10Percent5Minutes' }))
    ).deploymentConfigInfo!;
    assert.deepEqual(canary.trafficRoutingConfig, {
      type: 'TimeBasedCanary',
      timeBasedCanary: { canaryPercentage: 10, canaryInterval: 5 },
    });
    const custom = unique('Linear25');
    await cd.send(
      new CreateDeploymentConfigCommand({
        deploymentConfigName: custom,
        computePlatform: 'Lambda',
        trafficRoutingConfig: { type: 'TimeBasedLinear', timeBasedLinear: { linearPercentage: 25, linearInterval: 1 } },
      }),
    );
    assert.equal(
      (await cd.send(new GetDeploymentConfigCommand({ deploymentConfigName: custom }))).deploymentConfigInfo!.computePlatform,
      'Lambda',
    );
    await cd.send(new DeleteDeploymentConfigCommand({ deploymentConfigName: custom }));
    assert.equal(
      (await failure(cd.send(new GetDeploymentConfigCommand({ deploymentConfigName: custom })))).name,
      'DeploymentConfigDoesNotExistException',
    );

    const cli = await awsCli(box.url, ['deploy', 'get-application', '--application-name', app]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.equal(JSON.parse(cli.stdout).application.computePlatform, 'Lambda');
    const cliMissing = await awsCli(box.url, [
      'deploy',
      'get-deployment-group',
      '--application-name',
      app,
      '--deployment-group-name',
      'nope',
    ]);
    assert.match(cliMissing.stderr, /DeploymentGroupDoesNotExistException/);
  });
});

/** A function with versions 1 and 2 (answering "v1"/"v2") and an alias `live` on 1. */
async function versionedFunction(l = lambda) {
  const fn = unique('greet');
  const code = (v: string) => zip({ 'index.mjs': `export const handler = async () => ({ version: '${v}' });` });
  await l.send(
    new CreateFunctionCommand({
      FunctionName: fn,
      Runtime: 'nodejs20.x',
      Handler: 'index.handler',
      Role: ROLE,
      Code: { ZipFile: await code('v1') },
    }),
  );
  await l.send(new PublishVersionCommand({ FunctionName: fn }));
  await l.send(new UpdateFunctionCodeCommand({ FunctionName: fn, ZipFile: await code('v2') }));
  await l.send(new PublishVersionCommand({ FunctionName: fn }));
  await l.send(new CreateAliasCommand({ FunctionName: fn, Name: 'live', FunctionVersion: '1' }));
  return fn;
}

/** A hook function that reports `status` for the execution it is invoked with, through the SDK the runtime provides. */
async function hookFunction(status: 'Succeeded' | 'Failed') {
  const fn = unique(`hook-${status.toLowerCase()}`);
  const code = await zip({
    'index.mjs': `import { CodeDeployClient, PutLifecycleEventHookExecutionStatusCommand } from '@aws-sdk/client-codedeploy';
const cd = new CodeDeployClient({});
export const handler = async (event) => {
  console.log('hook for ' + event.DeploymentId);
  await cd.send(new PutLifecycleEventHookExecutionStatusCommand({ deploymentId: event.DeploymentId, lifecycleEventHookExecutionId: event.LifecycleEventHookExecutionId, status: '${status}' }));
};`,
  });
  await lambda.send(
    new CreateFunctionCommand({
      FunctionName: fn,
      Runtime: 'nodejs20.x',
      Handler: 'index.handler',
      Role: ROLE,
      Code: { ZipFile: code },
      Timeout: 30,
    }),
  );
  return fn;
}

const lambdaAppSpec = (fn: string, hooks: Record<string, string> = {}) =>
  JSON.stringify({
    version: 0.0,
    Resources: [
      { target: { Type: 'AWS::Lambda::Function', Properties: { Name: fn, Alias: 'live', CurrentVersion: '1', TargetVersion: '2' } } },
    ],
    Hooks: Object.entries(hooks).map(([k, v]) => ({ [k]: v })),
  });

async function lambdaGroup(config: string, extra: Record<string, unknown> = {}) {
  const app = unique('fnapp');
  await cd.send(new CreateApplicationCommand({ applicationName: app, computePlatform: 'Lambda' }));
  await cd.send(
    new CreateDeploymentGroupCommand({
      applicationName: app,
      deploymentGroupName: 'live',
      serviceRoleArn: SERVICE_ROLE,
      deploymentConfigName: config,
      ...extra,
    }),
  );
  return app;
}

describe('Lambda deployments', () => {
  test('a canary splits the alias 10/90, runs both hooks, then moves all traffic to the target version', async () => {
    const fn = await versionedFunction();
    const hook = await hookFunction('Succeeded');
    const app = await lambdaGroup('CodeDeployDefault.LambdaCanary10Percent30Minutes');
    const { deploymentId } = await cd.send(
      new CreateDeploymentCommand({
        applicationName: app,
        deploymentGroupName: 'live',
        revision: {
          revisionType: 'AppSpecContent',
          appSpecContent: { content: lambdaAppSpec(fn, { BeforeAllowTraffic: hook, AfterAllowTraffic: hook }) },
        },
      }),
    );
    const busy = await failure(
      cd.send(
        new CreateDeploymentCommand({
          applicationName: app,
          deploymentGroupName: 'live',
          revision: { revisionType: 'AppSpecContent', appSpecContent: { content: lambdaAppSpec(fn) } },
        }),
      ),
    );
    assert.equal(busy.name, 'DeploymentLimitExceededException');

    // 30 minutes at a time scale of 600: three seconds of canary to observe
    await waitFor(
      'the canary weight on the alias',
      async () =>
        (await lambda.send(new GetAliasCommand({ FunctionName: fn, Name: 'live' }))).RoutingConfig?.AdditionalVersionWeights?.['2'],
      (w) => w === 0.1,
      30_000,
    );
    let v2 = 0;
    const n = 200;
    for (let i = 0; i < n; i++)
      if (json((await lambda.send(new InvokeCommand({ FunctionName: fn, Qualifier: 'live' }))).Payload).version === 'v2') v2++;
    assert.ok(v2 > n * 0.03 && v2 < n * 0.2, `${v2} of ${n} invocations reached version 2 during a 10% canary`);

    const d = await done(deploymentId!);
    assert.equal(d.status, 'Succeeded', JSON.stringify(d.errorInformation));
    const alias = await lambda.send(new GetAliasCommand({ FunctionName: fn, Name: 'live' }));
    assert.equal(alias.FunctionVersion, '2');
    assert.deepEqual(alias.RoutingConfig?.AdditionalVersionWeights ?? {}, {});
    const targets = (await cd.send(new ListDeploymentTargetsCommand({ deploymentId }))).targetIds!;
    assert.deepEqual(targets, [`${fn}:live`]);
    const t = (await cd.send(new GetDeploymentTargetCommand({ deploymentId, targetId: targets[0] }))).deploymentTarget!.lambdaTarget!;
    assert.deepEqual(
      t.lifecycleEvents!.map((e) => [e.lifecycleEventName, e.status]),
      [
        ['Start', 'Succeeded'],
        ['BeforeAllowTraffic', 'Succeeded'],
        ['AllowTraffic', 'Succeeded'],
        ['AfterAllowTraffic', 'Succeeded'],
        ['End', 'Succeeded'],
      ],
    );
    assert.equal(t.lambdaFunctionInfo!.targetVersionWeight, 1);
    const listed = (
      await cd.send(new ListDeploymentsCommand({ applicationName: app, deploymentGroupName: 'live', includeOnlyStatuses: ['Succeeded'] }))
    ).deployments;
    assert.deepEqual(listed, [deploymentId]);
  });

  test('a hook that reports Failed fails the deployment before any traffic moves', async () => {
    const fn = await versionedFunction();
    const hook = await hookFunction('Failed');
    const app = await lambdaGroup('CodeDeployDefault.LambdaAllAtOnce');
    const { deploymentId } = await cd.send(
      new CreateDeploymentCommand({
        applicationName: app,
        deploymentGroupName: 'live',
        revision: { revisionType: 'AppSpecContent', appSpecContent: { content: lambdaAppSpec(fn, { BeforeAllowTraffic: hook }) } },
      }),
    );
    const d = await done(deploymentId!);
    assert.equal(d.status, 'Failed');
    assert.equal(d.errorInformation?.code, 'HOOK_EXECUTION_FAILURE');
    assert.equal((await lambda.send(new GetAliasCommand({ FunctionName: fn, Name: 'live' }))).FunctionVersion, '1');
  });

  test('an alarm going to ALARM stops the deployment (ALARM_ACTIVE) and the rollback puts the alias back', async () => {
    const fn = await versionedFunction();
    const cw = new CloudWatchClient(clientConfig(box.url));
    const alarm = unique('fn-errors');
    await cw.send(
      new PutMetricAlarmCommand({
        AlarmName: alarm,
        Namespace: 'AWS/Lambda',
        MetricName: 'Errors',
        Dimensions: [{ Name: 'FunctionName', Value: fn }],
        Statistic: 'Sum',
        Period: 60,
        EvaluationPeriods: 1,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
      }),
    );
    const app = await lambdaGroup('CodeDeployDefault.LambdaLinear10PercentEvery10Minutes', {
      alarmConfiguration: { enabled: true, alarms: [{ name: alarm }] },
      autoRollbackConfiguration: { enabled: true, events: ['DEPLOYMENT_STOP_ON_ALARM'] },
    });
    const { deploymentId } = await cd.send(
      new CreateDeploymentCommand({
        applicationName: app,
        deploymentGroupName: 'live',
        revision: { revisionType: 'AppSpecContent', appSpecContent: { content: lambdaAppSpec(fn) } },
      }),
    );
    await waitFor(
      'traffic on version 2',
      async () =>
        (await lambda.send(new GetAliasCommand({ FunctionName: fn, Name: 'live' }))).RoutingConfig?.AdditionalVersionWeights?.['2'],
      (w) => (w ?? 0) > 0,
      30_000,
    );
    await cw.send(new SetAlarmStateCommand({ AlarmName: alarm, StateValue: 'ALARM', StateReason: 'test: errors after the shift' }));
    const d = await done(deploymentId!);
    assert.equal(d.status, 'Stopped');
    assert.equal(d.errorInformation?.code, 'ALARM_ACTIVE');
    assert.match(d.errorInformation!.message!, new RegExp(`Activated alarms: ${alarm}`));
    const rollbackId = d.rollbackInfo?.rollbackDeploymentId;
    assert.ok(rollbackId, JSON.stringify(d.rollbackInfo));
    const r = await done(rollbackId);
    assert.equal(r.status, 'Succeeded', JSON.stringify(r.errorInformation));
    assert.equal(r.creator, 'codeDeployRollback');
    assert.equal(r.rollbackInfo?.rollbackTriggeringDeploymentId, deploymentId);
    const alias = await lambda.send(new GetAliasCommand({ FunctionName: fn, Name: 'live' }));
    assert.equal(alias.FunctionVersion, '1');
    assert.deepEqual(alias.RoutingConfig?.AdditionalVersionWeights ?? {}, {});
    cw.destroy();
  });

  test('StopDeployment stops a deployment between steps and puts the alias back', async () => {
    const fn = await versionedFunction();
    const app = await lambdaGroup('CodeDeployDefault.LambdaLinear10PercentEvery10Minutes');
    const { deploymentId } = await cd.send(
      new CreateDeploymentCommand({
        applicationName: app,
        deploymentGroupName: 'live',
        revision: { revisionType: 'AppSpecContent', appSpecContent: { content: lambdaAppSpec(fn) } },
      }),
    );
    await waitFor(
      'the first step',
      async () => (await cd.send(new GetDeploymentCommand({ deploymentId }))).deploymentInfo!.status,
      (s) => s === 'InProgress',
    );
    const stop = await cd.send(new StopDeploymentCommand({ deploymentId }));
    assert.equal(stop.status, 'Pending');
    const d = await done(deploymentId!);
    assert.deepEqual([d.status, d.errorInformation?.code], ['Stopped', 'MANUAL_STOP']);
    assert.equal((await lambda.send(new GetAliasCommand({ FunctionName: fn, Name: 'live' }))).FunctionVersion, '1');
  });
});

describe('Server deployments to on-premises instances', () => {
  test('a bundle goes to three instances one at a time; a failing ValidateService stops the next deployment', async () => {
    const s3 = new S3Client({ ...clientConfig(box.url), forcePathStyle: true });
    const bucket = unique('bundles');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const role = unique('web');
    const names = [1, 2, 3].map((i) => `${role}-${i}`);
    for (const n of names) {
      await cd.send(new RegisterOnPremisesInstanceCommand({ instanceName: n, iamUserArn: `arn:aws:iam::000000000000:user/${n}` }));
    }
    await cd.send(new AddTagsToOnPremisesInstancesCommand({ instanceNames: names, tags: [{ Key: 'role', Value: role }] }));
    const app = unique('site');
    await cd.send(new CreateApplicationCommand({ applicationName: app, computePlatform: 'Server' }));
    await cd.send(
      new CreateDeploymentGroupCommand({
        applicationName: app,
        deploymentGroupName: 'fleet',
        serviceRoleArn: SERVICE_ROLE,
        deploymentConfigName: 'CodeDeployDefault.OneAtATime',
        onPremisesInstanceTagFilters: [{ Key: 'role', Value: role, Type: 'KEY_AND_VALUE' }],
      }),
    );
    const bundle = (version: string, validate: string) =>
      zip(
        {
          'appspec.yml': `version: 0.0
os: linux
files:
  - source: site
    destination: /var/www/site
permissions:
  - object: /var/www/site
    pattern: "*.sh"
    mode: 755
    type: [file]
hooks:
  AfterInstall:
    - location: scripts/after.sh
      timeout: 30
  ValidateService:
    - location: scripts/validate.sh
      timeout: 30
`,
          'site/index.html': `<h1>${version}</h1>\n`,
          'site/run.sh': 'echo run\n',
          'scripts/after.sh': 'echo "installed $DEPLOYMENT_ID as $LIFECYCLE_EVENT" > "$OPSBOX_INSTANCE_ROOT/var/www/site/installed.txt"\n',
          'scripts/validate.sh': validate,
        },
        { 'scripts/after.sh': 0o755, 'scripts/validate.sh': 0o755 },
      );
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: 'v1.zip',
        Body: await bundle('v1', 'grep -q v1 "$OPSBOX_INSTANCE_ROOT/var/www/site/index.html"\n'),
      }),
    );
    const first = await cd.send(
      new CreateDeploymentCommand({
        applicationName: app,
        deploymentGroupName: 'fleet',
        revision: { revisionType: 'S3', s3Location: { bucket, key: 'v1.zip', bundleType: 'zip' } },
      }),
    );
    const d1 = await done(first.deploymentId!);
    if (d1.status !== 'Succeeded') {
      const ids = (await cd.send(new ListDeploymentTargetsCommand({ deploymentId: first.deploymentId }))).targetIds!;
      const why = await Promise.all(
        ids.map(
          async (id) =>
            (await cd.send(new GetDeploymentTargetCommand({ deploymentId: first.deploymentId, targetId: id }))).deploymentTarget!
              .instanceTarget!.lifecycleEvents,
        ),
      );
      assert.fail(JSON.stringify(why));
    }
    assert.deepEqual(d1.deploymentOverview, { Pending: 0, InProgress: 0, Succeeded: 3, Failed: 0, Skipped: 0, Ready: 0 });
    for (const n of names) {
      const root = join(box.dataDir, 'codedeploy', 'instances', '000000000000', 'us-east-1', n);
      assert.equal(readFileSync(join(root, 'var/www/site/index.html'), 'utf8'), '<h1>v1</h1>\n');
      assert.match(
        readFileSync(join(root, 'var/www/site/installed.txt'), 'utf8'),
        new RegExp(`installed ${first.deploymentId} as AfterInstall`),
      );
      assert.equal(statSync(join(root, 'var/www/site/run.sh')).mode & 0o777, 0o755);
    }

    await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: 'v2.zip', Body: await bundle('v2', 'echo "health check failed" >&2\nexit 3\n') }),
    );
    const second = await cd.send(
      new CreateDeploymentCommand({
        applicationName: app,
        deploymentGroupName: 'fleet',
        revision: { revisionType: 'S3', s3Location: { bucket, key: 'v2.zip', bundleType: 'zip' } },
      }),
    );
    const d2 = await done(second.deploymentId!);
    assert.equal(d2.status, 'Failed');
    assert.equal(d2.errorInformation?.code, 'HEALTH_CONSTRAINTS');
    assert.deepEqual([d2.deploymentOverview!.Failed, d2.deploymentOverview!.Skipped], [1, 2]);
    const failedId = (
      await cd.send(new ListDeploymentTargetsCommand({ deploymentId: second.deploymentId, targetFilters: { TargetStatus: ['Failed'] } }))
    ).targetIds![0];
    const failed = (await cd.send(new GetDeploymentTargetCommand({ deploymentId: second.deploymentId, targetId: failedId })))
      .deploymentTarget!.instanceTarget!;
    const validate = failed.lifecycleEvents!.find((e) => e.lifecycleEventName === 'ValidateService')!;
    assert.equal(validate.status, 'Failed');
    assert.equal(validate.diagnostics?.errorCode, 'ScriptFailed');
    assert.match(validate.diagnostics!.message!, /scripts\/validate.sh run as user root failed with exit code 3/);
    assert.match(validate.diagnostics!.logTail!, /\[stderr\]health check failed/);
    // the instances not reached still serve v1
    const untouched = names.filter((n) => n !== failedId);
    for (const n of untouched) {
      const root = join(box.dataDir, 'codedeploy', 'instances', '000000000000', 'us-east-1', n);
      assert.equal(readFileSync(join(root, 'var/www/site/index.html'), 'utf8'), '<h1>v1</h1>\n');
      assert.ok(existsSync(join(root, 'var/www/site/run.sh')));
    }
    s3.destroy();
  });
});

describe('CodePipeline Deploy action (provider CodeDeploy)', () => {
  test('an S3 source artifact holding appspec.yml is deployed to a Lambda alias; the execution waits for the deployment', async () => {
    const fn = await versionedFunction();
    const app = await lambdaGroup('CodeDeployDefault.LambdaAllAtOnce');
    const s3 = new S3Client({ ...clientConfig(box.url), forcePathStyle: true });
    const cp = new CodePipelineClient(clientConfig(box.url));
    const src = unique('cdsrc');
    const artifacts = unique('cdart');
    for (const b of [src, artifacts]) await s3.send(new CreateBucketCommand({ Bucket: b }));
    await s3.send(new PutBucketVersioningCommand({ Bucket: src, VersioningConfiguration: { Status: 'Enabled' } }));
    const yaml = `version: 0.0\nResources:\n  - fn:\n      Type: AWS::Lambda::Function\n      Properties: { Name: ${fn}, Alias: live, CurrentVersion: "1", TargetVersion: "2" }\n`;
    await s3.send(new PutObjectCommand({ Bucket: src, Key: 'deploy.zip', Body: await zip({ 'appspec.yml': yaml }) }));
    const name = unique('cdpipe');
    await cp.send(
      new CreatePipelineCommand({
        pipeline: {
          name,
          roleArn: 'arn:aws:iam::000000000000:role/pipeline',
          artifactStore: { type: 'S3', location: artifacts },
          stages: [
            {
              name: 'Source',
              actions: [
                {
                  name: 'Src',
                  actionTypeId: { category: 'Source', owner: 'AWS', provider: 'S3', version: '1' },
                  configuration: { S3Bucket: src, S3ObjectKey: 'deploy.zip', PollForSourceChanges: 'false' },
                  outputArtifacts: [{ name: 'Bundle' }],
                },
              ],
            },
            {
              name: 'Deploy',
              actions: [
                {
                  name: 'ToLambda',
                  actionTypeId: { category: 'Deploy', owner: 'AWS', provider: 'CodeDeploy', version: '1' },
                  configuration: { ApplicationName: app, DeploymentGroupName: 'live' },
                  inputArtifacts: [{ name: 'Bundle' }],
                },
              ],
            },
          ],
        } as PipelineDeclaration,
      }),
    );
    const id = await waitFor(
      'the first execution',
      async () =>
        (await cp.send(new ListPipelineExecutionsCommand({ pipelineName: name }))).pipelineExecutionSummaries?.[0]?.pipelineExecutionId,
      (x) => x !== undefined,
    );
    const e = await waitFor(
      'the execution to finish',
      async () => (await cp.send(new GetPipelineExecutionCommand({ pipelineName: name, pipelineExecutionId: id }))).pipelineExecution!,
      (x) => x.status === 'Succeeded' || x.status === 'Failed',
      60_000,
    );
    assert.equal(e.status, 'Succeeded', JSON.stringify(e));
    assert.equal((await lambda.send(new GetAliasCommand({ FunctionName: fn, Name: 'live' }))).FunctionVersion, '2');
    const deployments = (await cd.send(new ListDeploymentsCommand({ applicationName: app, deploymentGroupName: 'live' }))).deployments!;
    const d = (await cd.send(new GetDeploymentCommand({ deploymentId: deployments[0] }))).deploymentInfo!;
    assert.match(d.description!, new RegExp(`CodePipeline ${name} execution ${id}`));
    assert.equal(d.revision?.s3Location?.bucket, artifacts);
    s3.destroy();
    cp.destroy();
  });
});

describe('durability', () => {
  test('opsbox killed (kill -9) half-way through a linear Lambda deployment resumes it after the restart', async () => {
    const own = await startOpsbox({ env: { OPSBOX_TIME_SCALE: '120' } });
    const c = new CodeDeployClient(clientConfig(own.url));
    const l = new LambdaClient(clientConfig(own.url));
    try {
      const fn = await versionedFunction(l);
      const app = unique('durable');
      await c.send(new CreateApplicationCommand({ applicationName: app, computePlatform: 'Lambda' }));
      await c.send(
        new CreateDeploymentGroupCommand({
          applicationName: app,
          deploymentGroupName: 'live',
          serviceRoleArn: SERVICE_ROLE,
          deploymentConfigName: 'CodeDeployDefault.LambdaLinear10PercentEvery1Minute',
        }),
      );
      const { deploymentId } = await c.send(
        new CreateDeploymentCommand({
          applicationName: app,
          deploymentGroupName: 'live',
          revision: { revisionType: 'AppSpecContent', appSpecContent: { content: lambdaAppSpec(fn) } },
        }),
      );
      // one minute is half a second here: kill it after a few steps
      await waitFor(
        'a few linear steps',
        async () =>
          (await l.send(new GetAliasCommand({ FunctionName: fn, Name: 'live' }))).RoutingConfig?.AdditionalVersionWeights?.['2'] ?? 0,
        (w) => w >= 0.2,
        30_000,
      );
      await own.kill9();
      const again = await startOpsbox({ dataDir: own.dataDir, env: { OPSBOX_TIME_SCALE: '120' } });
      const c2 = new CodeDeployClient(clientConfig(again.url));
      const l2 = new LambdaClient(clientConfig(again.url));
      try {
        const d = await waitFor(
          'the resumed deployment to finish',
          async () => (await c2.send(new GetDeploymentCommand({ deploymentId }))).deploymentInfo!,
          (x) => ['Succeeded', 'Failed', 'Stopped'].includes(x.status!),
          60_000,
        );
        assert.equal(d.status, 'Succeeded', JSON.stringify(d.errorInformation));
        assert.equal((await l2.send(new GetAliasCommand({ FunctionName: fn, Name: 'live' }))).FunctionVersion, '2');
      } finally {
        c2.destroy();
        l2.destroy();
        await again.dispose();
      }
    } finally {
      c.destroy();
      l.destroy();
      await own.dispose();
    }
  });
});
