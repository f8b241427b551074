/**
 * Secrets Manager in-process with KMS on a ManualClock: the end of a recovery window, AWS's pruning
 * of deprecated versions (beyond 100, never one from the last 24 hours), LastAccessedDate's day
 * resolution, and rotation through a Lambda function (a stand-in `lambda` service whose rotation
 * function calls back into Secrets Manager as a real one does): success, failure, cancel, a test run.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  CancelRotateSecretCommand,
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  RotateSecretCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { ManualClock } from '../../src/core/clock.js';
import { AwsError } from '../../src/core/errors.js';
import type { ServiceEnv, ServiceSpec } from '../../src/gateway/service.js';
import { kms } from '../../src/services/kms/index.js';
import { secretsmanager, type SecretsManagerInstance } from '../../src/services/secretsmanager/index.js';
import { failure } from '../helpers/opsbox.js';
import { InProcessOpsbox, sdkConfig } from '../helpers/inProcess.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const ACCOUNT = '000000000000';
const scope = { account: ACCOUNT, region: 'us-east-1' };

interface RotationEvent {
  Step: string;
  SecretId: string;
  ClientRequestToken: string;
}
type RotationFunction = (event: RotationEvent, env: ServiceEnv) => Promise<void>;

/** Lambda functions by name, invoked in-process; a function that throws answers with FunctionError as Lambda does. */
const functions = new Map<string, RotationFunction>();
const invocations: string[] = [];
const functionArn = (name: string) => `arn:aws:lambda:us-east-1:${ACCOUNT}:function:${name}`;
const nameOf = (fn: string) => fn.split(':function:')[1] ?? fn;

const fakeLambda: ServiceSpec = {
  name: 'lambda',
  model: 'lambda-2015-03-31',
  signingName: 'lambda',
  protocols: ['rest-json'],
  create: (env) => ({
    handlers: {
      GetFunction(input: { FunctionName: string }) {
        if (!functions.has(nameOf(input.FunctionName)))
          throw new AwsError('ResourceNotFoundException', `Function not found: ${input.FunctionName}`, 404);
        return { Configuration: { FunctionName: nameOf(input.FunctionName), FunctionArn: functionArn(nameOf(input.FunctionName)) } };
      },
      async Invoke(input: { FunctionName: string; Payload: Buffer }) {
        const event = JSON.parse(Buffer.from(input.Payload).toString()) as RotationEvent;
        invocations.push(`${nameOf(input.FunctionName)}:${event.Step}`);
        try {
          await functions.get(nameOf(input.FunctionName))!(event, env);
          return { StatusCode: 200, Payload: Buffer.from('null') };
        } catch (err) {
          return { StatusCode: 200, FunctionError: 'Unhandled', Payload: Buffer.from(JSON.stringify({ errorMessage: String(err) })) };
        }
      },
    },
  }),
};

/** The shape of AWS's rotation function template: a new AWSPENDING value, then AWSCURRENT moved to it. */
const rotator =
  (newValue: () => string, fail?: string): RotationFunction =>
  async (event, env) => {
    const call = (op: string, input: object) => env.services.call<any>('secretsmanager', op, input, scope);
    if (event.Step === fail) throw new Error(`${fail} broke`);
    const meta = await call('DescribeSecret', { SecretId: event.SecretId });
    const stages: string[] = meta.VersionIdsToStages[event.ClientRequestToken] ?? [];
    if (!stages.includes('AWSPENDING') && !stages.includes('AWSCURRENT')) throw new Error('not staged for rotation');
    if (event.Step === 'createSecret') {
      try {
        await call('GetSecretValue', { SecretId: event.SecretId, VersionId: event.ClientRequestToken, VersionStage: 'AWSPENDING' });
      } catch {
        await call('PutSecretValue', {
          SecretId: event.SecretId,
          ClientRequestToken: event.ClientRequestToken,
          SecretString: newValue(),
          VersionStages: ['AWSPENDING'],
        });
      }
    } else if (event.Step === 'finishSecret') {
      const current = Object.entries(meta.VersionIdsToStages as Record<string, string[]>).find(([, s]) => s.includes('AWSCURRENT'))![0];
      if (current === event.ClientRequestToken) return;
      await call('UpdateSecretVersionStage', {
        SecretId: event.SecretId,
        VersionStage: 'AWSCURRENT',
        MoveToVersionId: event.ClientRequestToken,
        RemoveFromVersionId: current,
      });
    }
  };

const clock = new ManualClock(Date.parse('2026-03-01T10:30:00Z'));
let gw: InProcessOpsbox;
let sm: SecretsManagerClient;
let n = 0;
const name = () => `secret-${++n}`;

before(() => {
  gw = new InProcessOpsbox([kms, secretsmanager, fakeLambda], clock);
  sm = new SecretsManagerClient(sdkConfig(gw));
});
after(async () => {
  sm.destroy();
  await gw.close();
});

const rotations = () => gw.gateway.instance<SecretsManagerInstance & { handlers: object }>('secretsmanager').rotations;
const stagesOf = async (SecretId: string) => (await sm.send(new DescribeSecretCommand({ SecretId }))).VersionIdsToStages ?? {};
const valueOf = async (SecretId: string, VersionStage?: string) =>
  (await sm.send(new GetSecretValueCommand({ SecretId, VersionStage }))).SecretString;

describe('time', () => {
  test('a secret is gone once its recovery window has passed: its name is free, its tags gone', async () => {
    const n1 = name();
    const { ARN } = await sm.send(new CreateSecretCommand({ Name: n1, SecretString: 'x', Tags: [{ Key: 't', Value: '1' }] }));
    const del = await sm.send(new DeleteSecretCommand({ SecretId: n1, RecoveryWindowInDays: 7 }));
    assert.equal(del.DeletionDate!.getTime(), clock.now() + 7 * DAY);
    clock.advance(7 * DAY - 1);
    assert.ok((await sm.send(new DescribeSecretCommand({ SecretId: ARN }))).DeletedDate);
    clock.advance(1);
    assert.equal((await failure(sm.send(new DescribeSecretCommand({ SecretId: ARN })))).name, 'ResourceNotFoundException');
    const again = await sm.send(new CreateSecretCommand({ Name: n1, SecretString: 'y' }));
    assert.notEqual(again.ARN, ARN);
    assert.equal((await sm.send(new DescribeSecretCommand({ SecretId: n1 }))).Tags, undefined);
  });

  test('deprecated versions beyond 100 are pruned, oldest first, but none from the last 24 hours', async () => {
    const n2 = name();
    await sm.send(new CreateSecretCommand({ Name: n2, SecretString: 'v0' }));
    for (let i = 1; i <= 104; i++) await sm.send(new PutSecretValueCommand({ SecretId: n2, SecretString: `v${i}` }));
    const all = async () => (await sm.send(new ListSecretVersionIdsCommand({ SecretId: n2, IncludeDeprecated: true }))).Versions!;
    const page1 = await all();
    assert.equal(page1.length, 100);
    const more = await sm.send(new ListSecretVersionIdsCommand({ SecretId: n2, IncludeDeprecated: true, MaxResults: 100 }));
    const rest = await sm.send(new ListSecretVersionIdsCommand({ SecretId: n2, IncludeDeprecated: true, NextToken: more.NextToken }));
    assert.equal(rest.Versions!.length, 5, 'all 105 kept: none is a day old');
    const oldest = rest.Versions!.at(-1)!.VersionId!;

    clock.advance(25 * HOUR);
    await sm.send(new PutSecretValueCommand({ SecretId: n2, SecretString: 'v105' }));
    const after = await sm.send(new ListSecretVersionIdsCommand({ SecretId: n2, IncludeDeprecated: true }));
    assert.equal(after.Versions!.length, 100);
    assert.equal(after.NextToken, undefined);
    assert.ok(!after.Versions!.some((v) => v.VersionId === oldest));
    assert.deepEqual(
      after.Versions!.slice(0, 2).map((v) => v.VersionStages),
      [['AWSCURRENT'], ['AWSPREVIOUS']],
    );
    assert.equal(await valueOf(n2, 'AWSPREVIOUS'), 'v104');
  });

  test('LastAccessedDate keeps the day of the last read', async () => {
    const n3 = name();
    await sm.send(new CreateSecretCommand({ Name: n3, SecretString: 'x' }));
    assert.equal((await sm.send(new DescribeSecretCommand({ SecretId: n3 }))).LastAccessedDate, undefined);
    await valueOf(n3);
    const day = clock.now() - (clock.now() % DAY);
    assert.equal((await sm.send(new DescribeSecretCommand({ SecretId: n3 }))).LastAccessedDate!.getTime(), day);
    const versions = (await sm.send(new ListSecretVersionIdsCommand({ SecretId: n3 }))).Versions!;
    assert.equal(versions[0].LastAccessedDate!.getTime(), day);
  });
});

describe('rotation through a Lambda function', () => {
  test('RotateSecret stores the configuration, adds AWSPENDING, and the function rotates the value', async () => {
    functions.set(
      'rotate-ok',
      rotator(() => 'rotated!'),
    );
    const s = name();
    const v1 = (await sm.send(new CreateSecretCommand({ Name: s, SecretString: 'original' }))).VersionId!;
    invocations.length = 0;
    const token = randomUUID();
    const out = await sm.send(
      new RotateSecretCommand({
        SecretId: s,
        RotationLambdaARN: functionArn('rotate-ok'),
        RotationRules: { AutomaticallyAfterDays: 30 },
        ClientRequestToken: token,
      }),
    );
    assert.equal(out.VersionId, token);
    await rotations().settled();
    assert.deepEqual(invocations, ['rotate-ok:createSecret', 'rotate-ok:setSecret', 'rotate-ok:testSecret', 'rotate-ok:finishSecret']);
    assert.equal(await valueOf(s), 'rotated!');
    assert.equal(await valueOf(s, 'AWSPREVIOUS'), 'original');
    assert.deepEqual(await stagesOf(s), { [v1]: ['AWSPREVIOUS'], [token]: ['AWSPENDING', 'AWSCURRENT'] });
    const d = await sm.send(new DescribeSecretCommand({ SecretId: s }));
    assert.equal(d.RotationEnabled, true);
    assert.equal(d.RotationLambdaARN, functionArn('rotate-ok'));
    assert.deepEqual(d.RotationRules, { AutomaticallyAfterDays: 30 });
    assert.equal(d.LastRotatedDate!.getTime(), clock.now());
    assert.equal(d.NextRotationDate!.getTime(), clock.now() + 30 * DAY);

    // again, with the stored configuration: AWSPENDING moves off the current version to the new one
    invocations.length = 0;
    const second = (await sm.send(new RotateSecretCommand({ SecretId: s }))).VersionId!;
    await rotations().settled();
    assert.equal(invocations.length, 4);
    assert.deepEqual(await stagesOf(s), { [token]: ['AWSPREVIOUS'], [second]: ['AWSPENDING', 'AWSCURRENT'] });

    // CancelRotateSecret turns rotation off and keeps the configuration, as DescribeSecret shows it
    await sm.send(new CancelRotateSecretCommand({ SecretId: s }));
    const c = await sm.send(new DescribeSecretCommand({ SecretId: s }));
    assert.equal(c.RotationEnabled, false);
    assert.equal(c.NextRotationDate, undefined);
    assert.deepEqual(c.RotationRules, { AutomaticallyAfterDays: 30 });
  });

  test('a failing function leaves AWSPENDING on an empty version; the next RotateSecret is refused until it is resolved', async () => {
    functions.set(
      'rotate-broken',
      rotator(() => 'never', 'createSecret'),
    );
    const s = name();
    const v1 = (await sm.send(new CreateSecretCommand({ Name: s, SecretString: 'stays' }))).VersionId!;
    const token = (await sm.send(new RotateSecretCommand({ SecretId: s, RotationLambdaARN: functionArn('rotate-broken') }))).VersionId!;
    await rotations().settled();
    assert.equal(await valueOf(s), 'stays');
    assert.deepEqual(await stagesOf(s), { [v1]: ['AWSCURRENT'], [token]: ['AWSPENDING'] });
    assert.equal((await sm.send(new DescribeSecretCommand({ SecretId: s }))).LastRotatedDate, undefined);
    const busy = await failure(sm.send(new RotateSecretCommand({ SecretId: s })));
    assert.equal(busy.name, 'InvalidRequestException');
    assert.equal(busy.message, 'Previous rotation request is still in progress.');
  });

  test('a function that is not there, and RotateImmediately false (only testSecret runs, its AWSPENDING version goes again)', async () => {
    const s = name();
    const v1 = (await sm.send(new CreateSecretCommand({ Name: s, SecretString: 'x' }))).VersionId!;
    const missing = await failure(sm.send(new RotateSecretCommand({ SecretId: s, RotationLambdaARN: functionArn('nope') })));
    assert.equal(missing.name, 'ResourceNotFoundException');
    assert.equal(missing.message, `Resource not found for ARN '${functionArn('nope')}'.`);
    assert.equal((await sm.send(new DescribeSecretCommand({ SecretId: s }))).RotationEnabled, undefined);

    functions.set(
      'rotate-test',
      rotator(() => 'unused'),
    );
    invocations.length = 0;
    await sm.send(
      new RotateSecretCommand({
        SecretId: s,
        RotationLambdaARN: functionArn('rotate-test'),
        RotationRules: { ScheduleExpression: 'rate(10 days)' },
        RotateImmediately: false,
      }),
    );
    await rotations().settled();
    assert.deepEqual(invocations, ['rotate-test:testSecret']);
    assert.deepEqual(await stagesOf(s), { [v1]: ['AWSCURRENT'] });
    const d = await sm.send(new DescribeSecretCommand({ SecretId: s }));
    assert.equal(d.RotationEnabled, true);
    assert.equal(d.NextRotationDate!.getTime(), clock.now() + 10 * DAY);
    assert.equal(d.LastRotatedDate, undefined);
  });
});
