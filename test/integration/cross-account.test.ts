/**
 * Accounts are isolated on every path, in both auth modes: account A creates resources in every
 * service, and account B can neither see, read, tag, change nor delete them — by name or by ARN,
 * through the API and through git over HTTP — nor reach them through its own alarms' actions and
 * rules' targets. Each test also checks that A still has what B tried to touch.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as CW from '@aws-sdk/client-cloudwatch';
import * as LOGS from '@aws-sdk/client-cloudwatch-logs';
import * as CB from '@aws-sdk/client-codebuild';
import * as CC from '@aws-sdk/client-codecommit';
import * as CP from '@aws-sdk/client-codepipeline';
import * as EB from '@aws-sdk/client-eventbridge';
import * as IAM from '@aws-sdk/client-iam';
import * as S3 from '@aws-sdk/client-s3';
import * as SNS from '@aws-sdk/client-sns';
import { startOpsbox, unique, type RunningOpsbox } from '../helpers/opsbox.js';
import { GitClient } from './codecommit.helpers.js';
import { failsWith, Sink, sleep, twoAccounts, type Account } from './cross-account.helpers.js';

const TRUST = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'codebuild.amazonaws.com' }, Action: 'sts:AssumeRole' }],
});
const ENV = { type: 'LINUX_CONTAINER', image: 'opsbox/host', computeType: 'BUILD_GENERAL1_SMALL' } as const;

for (const mode of ['default', 'strict'] as const) {
  describe(`cross-account isolation (${mode} auth)`, () => {
    let box: RunningOpsbox;
    let a: Account;
    let b: Account;
    let git: GitClient;
    const host = () => new URL(box.url).host;
    const gitUrl = (who: Account, repo: string) => `http://${who.git}@${host()}/v1/repos/${repo}`;

    before(async () => {
      box = await startOpsbox(mode === 'strict' ? { env: { OPSBOX_AUTH: 'strict' } } : {});
      ({ a, b } = await twoAccounts(box.url, mode === 'strict'));
      git = new GitClient();
    });
    after(async () => {
      git?.dispose();
      await box?.dispose();
    });

    test('S3: B does not list A’s bucket and cannot read, write, tag, list or delete it (AccessDenied)', async () => {
      const bucket = unique('xacct').toLowerCase();
      await a.s3.send(new S3.CreateBucketCommand({ Bucket: bucket }));
      await a.s3.send(new S3.PutObjectCommand({ Bucket: bucket, Key: 'k.txt', Body: 'secret' }));
      const listed = (await b.s3.send(new S3.ListBucketsCommand({}))).Buckets ?? [];
      assert.ok(!listed.some((x) => x.Name === bucket));
      // HEAD errors have no body: the status is all there is
      await assert.rejects(b.s3.send(new S3.HeadBucketCommand({ Bucket: bucket })), (e: any) => e.$metadata?.httpStatusCode === 403);
      await failsWith(b.s3.send(new S3.GetObjectCommand({ Bucket: bucket, Key: 'k.txt' })), 'AccessDenied', 'GetObject');
      await failsWith(b.s3.send(new S3.PutObjectCommand({ Bucket: bucket, Key: 'k.txt', Body: 'mine' })), 'AccessDenied', 'PutObject');
      await failsWith(b.s3.send(new S3.ListObjectsV2Command({ Bucket: bucket })), 'AccessDenied', 'ListObjectsV2');
      await failsWith(
        b.s3.send(new S3.PutBucketTaggingCommand({ Bucket: bucket, Tagging: { TagSet: [{ Key: 'k', Value: 'v' }] } })),
        'AccessDenied',
        'PutBucketTagging',
      );
      await failsWith(
        b.s3.send(new S3.CopyObjectCommand({ Bucket: unique('nope').toLowerCase(), Key: 'x', CopySource: `${bucket}/k.txt` })),
        /AccessDenied|NoSuchBucket/,
        'CopyObject',
      );
      await failsWith(b.s3.send(new S3.DeleteObjectCommand({ Bucket: bucket, Key: 'k.txt' })), 'AccessDenied', 'DeleteObject');
      await failsWith(b.s3.send(new S3.DeleteBucketCommand({ Bucket: bucket })), 'AccessDenied', 'DeleteBucket');
      await failsWith(b.s3.send(new S3.CreateBucketCommand({ Bucket: bucket })), 'BucketAlreadyExists', 'CreateBucket');
      const got = await a.s3.send(new S3.GetObjectCommand({ Bucket: bucket, Key: 'k.txt' }));
      assert.equal(await got.Body!.transformToString(), 'secret');
    });

    test('CodeCommit API: A’s repository does not exist for B, by name or ARN; B’s repository of the same name is its own', async () => {
      const name = unique('xrepo');
      const meta = (await a.cc.send(new CC.CreateRepositoryCommand({ repositoryName: name }))).repositoryMetadata!;
      assert.equal(meta.Arn, `arn:aws:codecommit:us-east-1:${a.id}:${name}`);
      await a.cc.send(
        new CC.PutFileCommand({ repositoryName: name, branchName: 'main', filePath: 'who.txt', fileContent: Buffer.from('A') }),
      );
      const none = 'RepositoryDoesNotExistException';
      await failsWith(b.cc.send(new CC.GetRepositoryCommand({ repositoryName: name })), none, 'GetRepository');
      assert.ok(!((await b.cc.send(new CC.ListRepositoriesCommand({}))).repositories ?? []).some((r) => r.repositoryName === name));
      await failsWith(b.cc.send(new CC.GetFileCommand({ repositoryName: name, filePath: 'who.txt' })), none, 'GetFile');
      await failsWith(
        b.cc.send(new CC.PutFileCommand({ repositoryName: name, branchName: 'main', filePath: 'x', fileContent: Buffer.from('B') })),
        none,
        'PutFile',
      );
      await failsWith(b.cc.send(new CC.TagResourceCommand({ resourceArn: meta.Arn, tags: { k: 'v' } })), none, 'TagResource');
      await failsWith(b.cc.send(new CC.ListTagsForResourceCommand({ resourceArn: meta.Arn })), none, 'ListTagsForResource');
      assert.equal((await b.cc.send(new CC.DeleteRepositoryCommand({ repositoryName: name }))).repositoryId, undefined);
      // B's own repository of that name does not make A's ARN resolve to it
      await b.cc.send(new CC.CreateRepositoryCommand({ repositoryName: name }));
      await failsWith(
        b.cc.send(new CC.TagResourceCommand({ resourceArn: meta.Arn, tags: { k: 'v' } })),
        none,
        'TagResource (B has the name too)',
      );
      const f = await a.cc.send(new CC.GetFileCommand({ repositoryName: name, filePath: 'who.txt' }));
      assert.equal(Buffer.from(f.fileContent!).toString(), 'A');
      assert.equal((await a.cc.send(new CC.ListTagsForResourceCommand({ resourceArn: meta.Arn }))).tags?.k, undefined);
    });

    test('git over HTTP: no credentials → 401; B’s credentials cannot clone or push A’s repository; A’s can', async () => {
      const name = unique('xgit');
      await a.cc.send(new CC.CreateRepositoryCommand({ repositoryName: name }));
      await a.cc.send(
        new CC.PutFileCommand({ repositoryName: name, branchName: 'main', filePath: 'who.txt', fileContent: Buffer.from('A') }),
      );
      const anon = await fetch(`${box.url}/v1/repos/${name}/info/refs?service=git-upload-pack`);
      assert.equal(anon.status, 401);
      assert.equal(anon.headers.get('www-authenticate'), 'Basic realm="opsbox"');
      const basic = (who: Account) => ({
        Authorization:
          'Basic ' +
          Buffer.from(decodeURIComponent(who.git.split(':')[0]) + ':' + decodeURIComponent(who.git.split(':')[1])).toString('base64'),
      });
      assert.equal((await fetch(`${box.url}/v1/repos/${name}/info/refs?service=git-upload-pack`, { headers: basic(b) })).status, 404);
      assert.equal((await fetch(`${box.url}/v1/repos/${name}/info/refs?service=git-receive-pack`, { headers: basic(b) })).status, 404);

      const denied = await git.run(git.dir(unique('b')), ['clone', '-q', gitUrl(b, name), '.']);
      assert.notEqual(denied.code, 0);
      assert.match(denied.stderr, /not found|404/i);
      // the tests' credential helper speaks for the default account, which is neither A (in default mode) nor B
      if (a.id !== '000000000000')
        assert.notEqual((await git.run(git.dir(unique('d')), ['clone', '-q', `${box.url}/v1/repos/${name}`, '.'])).code, 0);

      const mine = git.dir(unique('a'));
      await git.must(mine, ['clone', '-q', gitUrl(a, name), '.']);
      assert.equal(readFileSync(join(mine, 'who.txt'), 'utf8'), 'A');
      writeFileSync(join(mine, 'who.txt'), 'B was here');
      await git.must(mine, ['commit', '-qam', 'by B']);
      const push = await git.run(mine, ['push', '-q', gitUrl(b, name), 'main']);
      assert.notEqual(push.code, 0);
      const f = await a.cc.send(new CC.GetFileCommand({ repositoryName: name, filePath: 'who.txt' }));
      assert.equal(Buffer.from(f.fileContent!).toString(), 'A');
      await git.must(mine, ['push', '-q', 'origin', 'main']);
      const f2 = await a.cc.send(new CC.GetFileCommand({ repositoryName: name, filePath: 'who.txt' }));
      assert.equal(Buffer.from(f2.fileContent!).toString(), 'B was here');
    });

    test('CodeBuild: B cannot see, start, change or delete A’s project, builds or report groups, by name or ARN', async () => {
      const name = unique('xproj');
      const project = (
        await a.cb.send(
          new CB.CreateProjectCommand({
            name,
            source: { type: 'NO_SOURCE', buildspec: 'version: 0.2\nphases:\n  build:\n    commands:\n      - echo A\n' },
            artifacts: { type: 'NO_ARTIFACTS' },
            environment: ENV,
            serviceRole: `arn:aws:iam::${a.id}:role/cb`,
          }),
        )
      ).project!;
      const build = (await a.cb.send(new CB.StartBuildCommand({ projectName: name }))).build!;
      const missing = 'ResourceNotFoundException';
      for (const ref of [name, project.arn!])
        assert.deepEqual((await b.cb.send(new CB.BatchGetProjectsCommand({ names: [ref] }))).projectsNotFound, [ref]);
      assert.ok(!((await b.cb.send(new CB.ListProjectsCommand({}))).projects ?? []).includes(name));
      await failsWith(b.cb.send(new CB.StartBuildCommand({ projectName: name })), missing, 'StartBuild');
      await failsWith(b.cb.send(new CB.UpdateProjectCommand({ name, description: 'B' })), missing, 'UpdateProject');
      await failsWith(b.cb.send(new CB.ListBuildsForProjectCommand({ projectName: name })), missing, 'ListBuildsForProject');
      for (const ref of [build.id!, build.arn!])
        assert.deepEqual((await b.cb.send(new CB.BatchGetBuildsCommand({ ids: [ref] }))).buildsNotFound, [ref]);
      assert.ok(!((await b.cb.send(new CB.ListBuildsCommand({}))).ids ?? []).includes(build.id!));
      await failsWith(b.cb.send(new CB.StopBuildCommand({ id: build.id! })), missing, 'StopBuild');
      await failsWith(b.cb.send(new CB.RetryBuildCommand({ id: build.arn! })), missing, 'RetryBuild');
      assert.deepEqual((await b.cb.send(new CB.BatchDeleteBuildsCommand({ ids: [build.id!] }))).buildsNotDeleted, [
        { id: build.id!, statusCode: 'BUILD_NOT_FOUND' },
      ]);
      // B's own project of that name: A's ARN still does not name it, and deleting by A's ARN leaves both alone
      await b.cb.send(
        new CB.CreateProjectCommand({
          name,
          source: { type: 'NO_SOURCE', buildspec: 'x' },
          artifacts: { type: 'NO_ARTIFACTS' },
          environment: ENV,
          serviceRole: `arn:aws:iam::${b.id}:role/cb`,
        }),
      );
      assert.deepEqual((await b.cb.send(new CB.BatchGetProjectsCommand({ names: [project.arn!] }))).projectsNotFound, [project.arn!]);
      await b.cb.send(new CB.DeleteProjectCommand({ name: project.arn! }));
      assert.equal((await b.cb.send(new CB.BatchGetProjectsCommand({ names: [name] }))).projects?.length, 1);
      assert.equal((await a.cb.send(new CB.BatchGetProjectsCommand({ names: [name] }))).projects?.[0].arn, project.arn);
      assert.equal((await a.cb.send(new CB.BatchGetBuildsCommand({ ids: [build.id!] }))).builds?.length, 1);

      const group = (
        await a.cb.send(
          new CB.CreateReportGroupCommand({ name: unique('xrg'), type: 'TEST', exportConfig: { exportConfigType: 'NO_EXPORT' } }),
        )
      ).reportGroup!;
      assert.deepEqual((await b.cb.send(new CB.BatchGetReportGroupsCommand({ reportGroupArns: [group.arn!] }))).reportGroupsNotFound, [
        group.arn!,
      ]);
      assert.ok(!((await b.cb.send(new CB.ListReportGroupsCommand({}))).reportGroups ?? []).includes(group.arn!));
      await failsWith(
        b.cb.send(new CB.UpdateReportGroupCommand({ arn: group.arn!, tags: [{ key: 'k', value: 'B' }] })),
        missing,
        'UpdateReportGroup',
      );
      await failsWith(
        b.cb.send(new CB.ListReportsForReportGroupCommand({ reportGroupArn: group.arn! })),
        missing,
        'ListReportsForReportGroup',
      );
      await failsWith(b.cb.send(new CB.DeleteReportGroupCommand({ arn: group.arn! })), missing, 'DeleteReportGroup');
      const still = (await a.cb.send(new CB.BatchGetReportGroupsCommand({ reportGroupArns: [group.arn!] }))).reportGroups!;
      assert.equal(still.length, 1);
      assert.deepEqual(still[0].tags ?? [], []);
    });

    test('CodePipeline: B cannot see, start, change, tag or delete A’s pipeline', async () => {
      const name = unique('xpipe');
      const bucket = unique('xpipe-art').toLowerCase();
      await a.s3.send(new S3.CreateBucketCommand({ Bucket: bucket }));
      const pipeline = {
        name,
        roleArn: `arn:aws:iam::${a.id}:role/pipeline`,
        artifactStore: { type: 'S3', location: bucket },
        stages: [
          {
            name: 'Source',
            actions: [
              {
                name: 'Source',
                actionTypeId: { category: 'Source', owner: 'AWS', provider: 'S3', version: '1' },
                configuration: { S3Bucket: bucket, S3ObjectKey: 'src.zip', PollForSourceChanges: 'false' },
                outputArtifacts: [{ name: 'Src' }],
              },
            ],
          },
          {
            name: 'Deploy',
            actions: [
              {
                name: 'Deploy',
                actionTypeId: { category: 'Deploy', owner: 'AWS', provider: 'S3', version: '1' },
                configuration: { BucketName: bucket, Extract: 'true' },
                inputArtifacts: [{ name: 'Src' }],
              },
            ],
          },
        ],
      } as CP.PipelineDeclaration;
      await a.cp.send(new CP.CreatePipelineCommand({ pipeline }));
      const pipelineArn = `arn:aws:codepipeline:us-east-1:${a.id}:${name}`;
      const none = 'PipelineNotFoundException';
      await failsWith(b.cp.send(new CP.GetPipelineCommand({ name })), none, 'GetPipeline');
      await failsWith(b.cp.send(new CP.GetPipelineStateCommand({ name })), none, 'GetPipelineState');
      assert.ok(!((await b.cp.send(new CP.ListPipelinesCommand({}))).pipelines ?? []).some((p) => p.name === name));
      await failsWith(b.cp.send(new CP.StartPipelineExecutionCommand({ name })), none, 'StartPipelineExecution');
      await failsWith(b.cp.send(new CP.ListPipelineExecutionsCommand({ pipelineName: name })), none, 'ListPipelineExecutions');
      await failsWith(
        b.cp.send(new CP.UpdatePipelineCommand({ pipeline: { ...pipeline, roleArn: `arn:aws:iam::${b.id}:role/x` } })),
        none,
        'UpdatePipeline',
      );
      await failsWith(
        b.cp.send(new CP.TagResourceCommand({ resourceArn: pipelineArn, tags: [{ key: 'k', value: 'B' }] })),
        'ResourceNotFoundException',
        'TagResource',
      );
      await failsWith(
        b.cp.send(new CP.ListTagsForResourceCommand({ resourceArn: pipelineArn })),
        'ResourceNotFoundException',
        'ListTagsForResource',
      );
      await b.cp.send(new CP.DeletePipelineCommand({ name }));
      const got = await a.cp.send(new CP.GetPipelineCommand({ name }));
      assert.equal(got.pipeline!.roleArn, `arn:aws:iam::${a.id}:role/pipeline`);
      assert.deepEqual((await a.cp.send(new CP.ListTagsForResourceCommand({ resourceArn: pipelineArn }))).tags ?? [], []);
    });

    test('CloudWatch: B sees none of A’s metrics, alarms or dashboards and cannot tag, set, reference or delete them', async () => {
      const ns = unique('XAcct');
      const now = new Date();
      await a.cw.send(new CW.PutMetricDataCommand({ Namespace: ns, MetricData: [{ MetricName: 'Hits', Value: 5, Timestamp: now }] }));
      const alarm = unique('xalarm');
      await a.cw.send(
        new CW.PutMetricAlarmCommand({
          AlarmName: alarm,
          Namespace: ns,
          MetricName: 'Hits',
          Statistic: 'Sum',
          Period: 60,
          EvaluationPeriods: 1,
          Threshold: 100,
          ComparisonOperator: 'GreaterThanThreshold',
        }),
      );
      const alarmArn = `arn:aws:cloudwatch:us-east-1:${a.id}:alarm:${alarm}`;
      const dash = unique('xdash');
      await a.cw.send(new CW.PutDashboardCommand({ DashboardName: dash, DashboardBody: JSON.stringify({ widgets: [] }) }));

      assert.deepEqual((await b.cw.send(new CW.ListMetricsCommand({ Namespace: ns }))).Metrics ?? [], []);
      const stats = await b.cw.send(
        new CW.GetMetricStatisticsCommand({
          Namespace: ns,
          MetricName: 'Hits',
          StartTime: new Date(now.getTime() - 600_000),
          EndTime: new Date(now.getTime() + 60_000),
          Period: 60,
          Statistics: ['Sum'],
        }),
      );
      assert.deepEqual(stats.Datapoints ?? [], []);
      assert.deepEqual((await b.cw.send(new CW.DescribeAlarmsCommand({ AlarmNames: [alarm] }))).MetricAlarms ?? [], []);
      await failsWith(
        b.cw.send(new CW.SetAlarmStateCommand({ AlarmName: alarm, StateValue: 'ALARM', StateReason: 'B' })),
        'ResourceNotFound',
        'SetAlarmState',
      );
      await failsWith(
        b.cw.send(new CW.TagResourceCommand({ ResourceARN: alarmArn, Tags: [{ Key: 'k', Value: 'B' }] })),
        'ResourceNotFoundException',
        'TagResource',
      );
      await failsWith(
        b.cw.send(new CW.ListTagsForResourceCommand({ ResourceARN: alarmArn })),
        'ResourceNotFoundException',
        'ListTagsForResource',
      );
      await failsWith(
        b.cw.send(new CW.PutCompositeAlarmCommand({ AlarmName: unique('xcomp'), AlarmRule: `ALARM("${alarmArn}")` })),
        /^Validation/,
        'PutCompositeAlarm',
      );
      await b.cw.send(new CW.DeleteAlarmsCommand({ AlarmNames: [alarm] })).catch(() => {});
      await failsWith(b.cw.send(new CW.GetDashboardCommand({ DashboardName: dash })), /ResourceNotFound/, 'GetDashboard');
      assert.ok(!((await b.cw.send(new CW.ListDashboardsCommand({}))).DashboardEntries ?? []).some((d) => d.DashboardName === dash));
      await failsWith(b.cw.send(new CW.DeleteDashboardsCommand({ DashboardNames: [dash] })), /ResourceNotFound/, 'DeleteDashboards');

      assert.equal((await a.cw.send(new CW.DescribeAlarmsCommand({ AlarmNames: [alarm] }))).MetricAlarms?.[0].StateValue !== 'ALARM', true);
      assert.deepEqual((await a.cw.send(new CW.ListTagsForResourceCommand({ ResourceARN: alarmArn }))).Tags ?? [], []);
      assert.equal((await a.cw.send(new CW.GetDashboardCommand({ DashboardName: dash }))).DashboardName, dash);
      assert.equal((await a.cw.send(new CW.ListMetricsCommand({ Namespace: ns }))).Metrics?.length, 1);
    });

    test('CloudWatch Logs: A’s log group does not exist for B, by name or ARN', async () => {
      const group = `/xacct/${unique('g')}`;
      await a.logs.send(new LOGS.CreateLogGroupCommand({ logGroupName: group }));
      await a.logs.send(new LOGS.CreateLogStreamCommand({ logGroupName: group, logStreamName: 's' }));
      await a.logs.send(
        new LOGS.PutLogEventsCommand({
          logGroupName: group,
          logStreamName: 's',
          logEvents: [{ timestamp: Date.now(), message: 'secret' }],
        }),
      );
      const groupArn = `arn:aws:logs:us-east-1:${a.id}:log-group:${group}`;
      const none = 'ResourceNotFoundException';
      assert.deepEqual((await b.logs.send(new LOGS.DescribeLogGroupsCommand({ logGroupNamePrefix: group }))).logGroups ?? [], []);
      await failsWith(b.logs.send(new LOGS.GetLogEventsCommand({ logGroupName: group, logStreamName: 's' })), none, 'GetLogEvents');
      await failsWith(
        b.logs.send(new LOGS.GetLogEventsCommand({ logGroupIdentifier: groupArn, logStreamName: 's' })),
        none,
        'GetLogEvents by ARN',
      );
      await failsWith(b.logs.send(new LOGS.FilterLogEventsCommand({ logGroupIdentifier: groupArn })), none, 'FilterLogEvents by ARN');
      await failsWith(b.logs.send(new LOGS.DescribeLogStreamsCommand({ logGroupIdentifier: groupArn })), none, 'DescribeLogStreams by ARN');
      await failsWith(
        b.logs.send(
          new LOGS.PutLogEventsCommand({ logGroupName: group, logStreamName: 's', logEvents: [{ timestamp: Date.now(), message: 'B' }] }),
        ),
        none,
        'PutLogEvents',
      );
      await failsWith(b.logs.send(new LOGS.TagResourceCommand({ resourceArn: groupArn, tags: { k: 'B' } })), none, 'TagResource');
      await failsWith(
        b.logs.send(new LOGS.PutRetentionPolicyCommand({ logGroupName: group, retentionInDays: 1 })),
        none,
        'PutRetentionPolicy',
      );
      await failsWith(b.logs.send(new LOGS.DeleteLogGroupCommand({ logGroupName: group })), none, 'DeleteLogGroup');
      const events = await a.logs.send(new LOGS.GetLogEventsCommand({ logGroupName: group, logStreamName: 's' }));
      assert.deepEqual(
        events.events!.map((e) => e.message),
        ['secret'],
      );
      assert.deepEqual((await a.logs.send(new LOGS.ListTagsForResourceCommand({ resourceArn: groupArn }))).tags ?? {}, {});
    });

    test('EventBridge: A’s bus and rules do not exist for B, by name or ARN', async () => {
      const bus = unique('xbus');
      const busArn = (await a.events.send(new EB.CreateEventBusCommand({ Name: bus }))).EventBusArn!;
      const rule = unique('xrule');
      const ruleArn = (
        await a.events.send(new EB.PutRuleCommand({ Name: rule, EventBusName: bus, EventPattern: JSON.stringify({ source: ['xacct'] }) }))
      ).RuleArn!;
      const none = 'ResourceNotFoundException';
      await failsWith(b.events.send(new EB.DescribeEventBusCommand({ Name: busArn })), none, 'DescribeEventBus');
      assert.ok(!((await b.events.send(new EB.ListEventBusesCommand({}))).EventBuses ?? []).some((x) => x.Name === bus));
      await failsWith(b.events.send(new EB.DescribeRuleCommand({ Name: rule, EventBusName: busArn })), none, 'DescribeRule');
      await failsWith(b.events.send(new EB.ListRulesCommand({ EventBusName: busArn })), none, 'ListRules');
      await failsWith(
        b.events.send(new EB.PutRuleCommand({ Name: rule, EventBusName: busArn, EventPattern: JSON.stringify({ source: ['b'] }) })),
        none,
        'PutRule',
      );
      await failsWith(
        b.events.send(new EB.PutTargetsCommand({ Rule: rule, EventBusName: busArn, Targets: [{ Id: '1', Arn: busArn }] })),
        none,
        'PutTargets',
      );
      await failsWith(
        b.events.send(new EB.TagResourceCommand({ ResourceARN: ruleArn, Tags: [{ Key: 'k', Value: 'B' }] })),
        none,
        'TagResource',
      );
      await failsWith(b.events.send(new EB.RemoveTargetsCommand({ Rule: rule, EventBusName: busArn, Ids: ['1'] })), none, 'RemoveTargets');
      await failsWith(b.events.send(new EB.DeleteRuleCommand({ Name: rule, EventBusName: busArn })), none, 'DeleteRule');
      const put = await b.events.send(
        new EB.PutEventsCommand({ Entries: [{ Source: 'xacct', DetailType: 't', Detail: '{}', EventBusName: busArn }] }),
      );
      assert.equal(put.FailedEntryCount, 1);
      const own = await a.events.send(new EB.DescribeRuleCommand({ Name: rule, EventBusName: bus }));
      assert.equal(own.EventPattern, JSON.stringify({ source: ['xacct'] }));
      assert.deepEqual((await a.events.send(new EB.ListTagsForResourceCommand({ ResourceARN: ruleArn }))).Tags ?? [], []);
    });

    test('SNS: B does not list A’s topic and is not authorized to read, publish to, subscribe to, tag or delete it', async () => {
      const topicArn = (await a.sns.send(new SNS.CreateTopicCommand({ Name: unique('xtopic') }))).TopicArn!;
      assert.ok(!((await b.sns.send(new SNS.ListTopicsCommand({}))).Topics ?? []).some((t) => t.TopicArn === topicArn));
      const denied = 'AuthorizationErrorException';
      await failsWith(b.sns.send(new SNS.GetTopicAttributesCommand({ TopicArn: topicArn })), denied, 'GetTopicAttributes');
      await failsWith(
        b.sns.send(new SNS.SetTopicAttributesCommand({ TopicArn: topicArn, AttributeName: 'DisplayName', AttributeValue: 'B' })),
        denied,
        'SetTopicAttributes',
      );
      await failsWith(b.sns.send(new SNS.PublishCommand({ TopicArn: topicArn, Message: 'B' })), denied, 'Publish');
      await failsWith(
        b.sns.send(new SNS.SubscribeCommand({ TopicArn: topicArn, Protocol: 'email', Endpoint: 'b@example.com' })),
        denied,
        'Subscribe',
      );
      await failsWith(b.sns.send(new SNS.ListSubscriptionsByTopicCommand({ TopicArn: topicArn })), denied, 'ListSubscriptionsByTopic');
      await failsWith(
        b.sns.send(new SNS.TagResourceCommand({ ResourceArn: topicArn, Tags: [{ Key: 'k', Value: 'B' }] })),
        denied,
        'TagResource',
      );
      await failsWith(b.sns.send(new SNS.DeleteTopicCommand({ TopicArn: topicArn })), denied, 'DeleteTopic');
      const attrs = (await a.sns.send(new SNS.GetTopicAttributesCommand({ TopicArn: topicArn }))).Attributes!;
      assert.equal(attrs.DisplayName, '');
      assert.deepEqual((await a.sns.send(new SNS.ListTagsForResourceCommand({ ResourceArn: topicArn }))).Tags ?? [], []);
    });

    test('IAM: A’s roles, users and policies do not exist for B', async () => {
      const role = unique('xrole');
      const user = unique('xuser');
      await a.iam.send(new IAM.CreateRoleCommand({ RoleName: role, AssumeRolePolicyDocument: TRUST }));
      await a.iam.send(new IAM.CreateUserCommand({ UserName: user }));
      const policyArn = (
        await a.iam.send(
          new IAM.CreatePolicyCommand({
            PolicyName: unique('xpol'),
            PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }] }),
          }),
        )
      ).Policy!.Arn!;
      const none = 'NoSuchEntityException';
      await failsWith(b.iam.send(new IAM.GetRoleCommand({ RoleName: role })), none, 'GetRole');
      assert.ok(!((await b.iam.send(new IAM.ListRolesCommand({}))).Roles ?? []).some((r) => r.RoleName === role));
      await failsWith(b.iam.send(new IAM.TagRoleCommand({ RoleName: role, Tags: [{ Key: 'k', Value: 'B' }] })), none, 'TagRole');
      await failsWith(b.iam.send(new IAM.DeleteRoleCommand({ RoleName: role })), none, 'DeleteRole');
      await failsWith(b.iam.send(new IAM.GetUserCommand({ UserName: user })), none, 'GetUser');
      await failsWith(b.iam.send(new IAM.ListAccessKeysCommand({ UserName: user })), none, 'ListAccessKeys');
      await failsWith(b.iam.send(new IAM.CreateAccessKeyCommand({ UserName: user })), none, 'CreateAccessKey');
      await failsWith(b.iam.send(new IAM.DeleteUserCommand({ UserName: user })), none, 'DeleteUser');
      await failsWith(b.iam.send(new IAM.GetPolicyCommand({ PolicyArn: policyArn })), none, 'GetPolicy');
      const own = unique('brole');
      await b.iam.send(new IAM.CreateRoleCommand({ RoleName: own, AssumeRolePolicyDocument: TRUST }));
      await failsWith(b.iam.send(new IAM.AttachRolePolicyCommand({ RoleName: own, PolicyArn: policyArn })), none, 'AttachRolePolicy');
      await failsWith(b.iam.send(new IAM.DeletePolicyCommand({ PolicyArn: policyArn })), none, 'DeletePolicy');
      assert.equal((await a.iam.send(new IAM.GetRoleCommand({ RoleName: role }))).Role!.RoleName, role);
      assert.equal((await a.iam.send(new IAM.GetUserCommand({ UserName: user }))).User!.UserName, user);
      assert.equal((await a.iam.send(new IAM.GetPolicyCommand({ PolicyArn: policyArn }))).Policy!.Arn, policyArn);
    });

    describe('targets in another account', () => {
      let sinkA: Sink;
      let sinkB: Sink;
      let topicA: string;
      let topicB: string;
      before(async () => {
        sinkA = new Sink();
        sinkB = new Sink();
        await sinkA.listen();
        await sinkB.listen();
        topicA = (await a.sns.send(new SNS.CreateTopicCommand({ Name: unique('xtarget-a') }))).TopicArn!;
        topicB = (await b.sns.send(new SNS.CreateTopicCommand({ Name: unique('xtarget-b') }))).TopicArn!;
        await sinkA.subscribe(a, topicA);
        await sinkB.subscribe(b, topicB);
      });
      after(() => {
        sinkA?.close();
        sinkB?.close();
      });

      test('EventBridge: B’s rule targeting A’s bus or topic delivers nothing to A (its own target still fires)', async () => {
        const bus = unique('xtbus');
        const busArn = (await a.events.send(new EB.CreateEventBusCommand({ Name: bus }))).EventBusArn!;
        const ruleA = unique('xtrule');
        await a.events.send(
          new EB.PutRuleCommand({ Name: ruleA, EventBusName: bus, EventPattern: JSON.stringify({ source: [{ prefix: 'xacct.' }] }) }),
        );
        await a.events.send(new EB.PutTargetsCommand({ Rule: ruleA, EventBusName: bus, Targets: [{ Id: 'sink', Arn: topicA }] }));
        await a.events.send(
          new EB.PutEventsCommand({ Entries: [{ Source: 'xacct.a', DetailType: 'from A', Detail: '{}', EventBusName: bus }] }),
        );
        await sinkA.waitFor((m) => m.some((x) => x.includes('from A')));

        const ruleB = unique('xtrule-b');
        await b.events.send(new EB.PutRuleCommand({ Name: ruleB, EventPattern: JSON.stringify({ source: ['xacct.b'] }) }));
        await b.events.send(
          new EB.PutTargetsCommand({
            Rule: ruleB,
            Targets: [
              { Id: 'a-bus', Arn: busArn },
              { Id: 'a-topic', Arn: topicA },
              { Id: 'own', Arn: topicB },
            ],
          }),
        );
        await b.events.send(new EB.PutEventsCommand({ Entries: [{ Source: 'xacct.b', DetailType: 'from B', Detail: '{}' }] }));
        await sinkB.waitFor((m) => m.some((x) => x.includes('from B')));
        await sleep(500);
        assert.ok(!sinkA.messages.some((x) => x.includes('from B')), JSON.stringify(sinkA.messages));
      });

      test('CloudWatch: B’s alarm with A’s topic as action notifies only B’s own topic', async () => {
        const alarm = unique('xtalarm');
        await b.cw.send(
          new CW.PutMetricAlarmCommand({
            AlarmName: alarm,
            Namespace: 'XAcct',
            MetricName: 'M',
            Statistic: 'Sum',
            Period: 60,
            EvaluationPeriods: 1,
            Threshold: 1,
            ComparisonOperator: 'GreaterThanThreshold',
            AlarmActions: [topicA, topicB],
          }),
        );
        await b.cw.send(new CW.SetAlarmStateCommand({ AlarmName: alarm, StateValue: 'ALARM', StateReason: 'test' }));
        await sinkB.waitFor((m) => m.some((x) => x.includes(alarm)));
        await sleep(500);
        assert.ok(!sinkA.messages.some((x) => x.includes(alarm)), JSON.stringify(sinkA.messages));
      });
    });
  });
}
