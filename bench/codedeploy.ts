/**
 * CodeDeploy on Lambda: a canary deployment (10 %) holds its canary step while the alias is invoked
 * N times on 8 connections, and the share that reached the new version is compared with the
 * configured weight; then an alarm set to ALARM stops a linear deployment and the time until the
 * alias is back on its original version with no extra weight is measured (the alarm's own
 * evaluation is not counted: SetAlarmState changes it at once). Uses its own opsbox with
 * OPSBOX_TIME_SCALE so the canary step lasts long enough to sample and no longer.
 */
import { CloudWatchClient, PutMetricAlarmCommand, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import {
  CodeDeployClient,
  CreateApplicationCommand,
  CreateDeploymentCommand,
  CreateDeploymentGroupCommand,
  GetDeploymentCommand,
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
import { zipBuffers } from '../src/core/zip.js';
import { na, rowsOf, val } from './report.js';
import { startOpsbox } from './targets.js';

const ROLE = 'arn:aws:iam::000000000000:role/bench';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function zip(v: string) {
  const chunks: Buffer[] = [];
  for await (const c of zipBuffers({ 'index.mjs': `export const handler = async () => '${v}';` })) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export async function codedeployScenario(plan: { invocations: number }, log: (s: string) => void) {
  const mk = rowsOf('CodeDeploy on Lambda (alias traffic shifting)');
  const rows = {
    split: mk(`canary 10 %: observed share off by (over ${plan.invocations.toLocaleString('en-US')} invocations)`, 'points', 'lower', {
      op: '<=',
      value: 2,
    }),
    rollback: mk('alarm in ALARM → all traffic back on the original version', 'ms', 'lower', { op: '<=', value: 1000 }),
  };
  const all = Object.values(rows);
  const details: Record<string, unknown> = {};
  // a 30-minute canary step lasts 90 s at this scale: long enough for the invocations, short enough to finish
  const t = await startOpsbox([], { OPSBOX_TIME_SCALE: '20' });
  const cfg = {
    endpoint: `http://${t.host}:${t.port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  };
  const lambda = new LambdaClient(cfg);
  const cd = new CodeDeployClient(cfg);
  const cw = new CloudWatchClient(cfg);
  try {
    const fn = async (name: string) => {
      await lambda.send(
        new CreateFunctionCommand({
          FunctionName: name,
          Runtime: 'nodejs20.x',
          Handler: 'index.handler',
          Role: ROLE,
          Code: { ZipFile: await zip('v1') },
        }),
      );
      await lambda.send(new PublishVersionCommand({ FunctionName: name }));
      await lambda.send(new UpdateFunctionCodeCommand({ FunctionName: name, ZipFile: await zip('v2') }));
      await lambda.send(new PublishVersionCommand({ FunctionName: name }));
      await lambda.send(new CreateAliasCommand({ FunctionName: name, Name: 'live', FunctionVersion: '1' }));
    };
    const group = async (app: string, config: string, extra: object = {}) => {
      await cd.send(new CreateApplicationCommand({ applicationName: app, computePlatform: 'Lambda' }));
      await cd.send(
        new CreateDeploymentGroupCommand({
          applicationName: app,
          deploymentGroupName: 'live',
          serviceRoleArn: ROLE,
          deploymentConfigName: config,
          ...extra,
        }),
      );
    };
    const appSpec = (name: string) =>
      JSON.stringify({
        Resources: [
          { f: { Type: 'AWS::Lambda::Function', Properties: { Name: name, Alias: 'live', CurrentVersion: '1', TargetVersion: '2' } } },
        ],
      });
    const weight = async (name: string) =>
      (await lambda.send(new GetAliasCommand({ FunctionName: name, Name: 'live' }))).RoutingConfig?.AdditionalVersionWeights?.['2'] ?? 0;

    try {
      await fn('bench-canary');
      await group('bench-canary', 'CodeDeployDefault.LambdaCanary10Percent30Minutes');
      await cd.send(
        new CreateDeploymentCommand({
          applicationName: 'bench-canary',
          deploymentGroupName: 'live',
          revision: { revisionType: 'AppSpecContent', appSpecContent: { content: appSpec('bench-canary') } },
        }),
      );
      while ((await weight('bench-canary')) !== 0.1) await sleep(20);
      let v2 = 0;
      let sent = 0;
      const worker = async () => {
        while (sent < plan.invocations) {
          sent++;
          const r = await lambda.send(new InvokeCommand({ FunctionName: 'bench-canary', Qualifier: 'live' }));
          if (Buffer.from(r.Payload ?? []).toString() === '"v2"') v2++;
        }
      };
      const t0 = performance.now();
      await Promise.all(Array.from({ length: 8 }, worker));
      const still = await weight('bench-canary');
      const share = (100 * v2) / plan.invocations;
      log(
        `codedeploy: ${v2} of ${plan.invocations} invocations on version 2 (${share.toFixed(2)} %) in ${((performance.now() - t0) / 1000).toFixed(1)} s; weight still ${still}`,
      );
      rows.split.cells.opsbox = still === 0.1 ? val(Math.abs(share - 10)) : na('the canary step ended before the invocations did');
      details.canary = { invocations: plan.invocations, onTarget: v2, sharePercent: share };
    } catch (e) {
      rows.split.cells.opsbox = na(e);
    }

    try {
      await fn('bench-rollback');
      await cw.send(
        new PutMetricAlarmCommand({
          AlarmName: 'bench-rollback',
          Namespace: 'Bench',
          MetricName: 'Errors',
          Statistic: 'Sum',
          Period: 60,
          EvaluationPeriods: 1,
          Threshold: 1,
          ComparisonOperator: 'GreaterThanOrEqualToThreshold',
          TreatMissingData: 'notBreaching',
        }),
      );
      await group('bench-rollback', 'CodeDeployDefault.LambdaLinear10PercentEvery10Minutes', {
        alarmConfiguration: { enabled: true, alarms: [{ name: 'bench-rollback' }] },
        autoRollbackConfiguration: { enabled: true, events: ['DEPLOYMENT_STOP_ON_ALARM'] },
      });
      const { deploymentId } = await cd.send(
        new CreateDeploymentCommand({
          applicationName: 'bench-rollback',
          deploymentGroupName: 'live',
          revision: { revisionType: 'AppSpecContent', appSpecContent: { content: appSpec('bench-rollback') } },
        }),
      );
      while ((await weight('bench-rollback')) === 0) await sleep(20);
      const t0 = performance.now();
      await cw.send(new SetAlarmStateCommand({ AlarmName: 'bench-rollback', StateValue: 'ALARM', StateReason: 'bench' }));
      for (;;) {
        const a = await lambda.send(new GetAliasCommand({ FunctionName: 'bench-rollback', Name: 'live' }));
        if (a.FunctionVersion === '1' && !Object.keys(a.RoutingConfig?.AdditionalVersionWeights ?? {}).length) break;
        if (performance.now() - t0 > 30_000) throw new Error('the alias was not back on version 1 after 30 s');
        await sleep(5);
      }
      const ms = performance.now() - t0;
      const d = (await cd.send(new GetDeploymentCommand({ deploymentId }))).deploymentInfo!;
      log(`codedeploy: alarm to all traffic on version 1 in ${ms.toFixed(0)} ms (deployment ${d.status}, ${d.errorInformation?.code})`);
      rows.rollback.cells.opsbox = val(ms);
      details.rollbackMs = ms;
    } catch (e) {
      rows.rollback.cells.opsbox = na(e);
    }
  } catch (e) {
    all.forEach((r) => (r.cells.opsbox ??= na(e)));
  } finally {
    lambda.destroy();
    cd.destroy();
    cw.destroy();
    await t.stop();
  }
  return { rows: all, details };
}
