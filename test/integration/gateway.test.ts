/**
 * The server as a user meets it: banner, health, signals, accounts from access keys, STS
 * credentials that opsbox then accepts, strict SigV4 verification, and durability across kill -9.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { CloudWatchClient, ListMetricStreamsCommand } from '@aws-sdk/client-cloudwatch';
import { CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { AssumeRoleCommand, GetCallerIdentityCommand, GetSessionTokenCommand, STSClient } from '@aws-sdk/client-sts';
import { awsCli, clientConfig, startOpsbox, type RunningOpsbox } from '../helpers/opsbox.js';

const run = promisify(execFile);

describe('opsbox server (default auth)', () => {
  let box: RunningOpsbox;
  before(async () => (box = await startOpsbox()));
  after(() => box.dispose());

  test('GET /_opsbox/health → 200 JSON naming the version and every service with its state', async () => {
    const res = await fetch(`${box.url}/_opsbox/health`);
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.match(body.version, /^\d+\.\d+\.\d+/);
    for (const s of ['sts', 'iam', 's3', 'logs', 'cloudwatch']) assert.equal(body.services[s].state, 'running', s);
  });

  test('aws CLI v2 (awsQuery): sts get-caller-identity → the default account root', async () => {
    const r = await awsCli(box.url, ['sts', 'get-caller-identity']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { UserId: '000000000000', Account: '000000000000', Arn: 'arn:aws:iam::000000000000:root' });
  });

  test('aws CLI v1 / botocore (rpc-v2-cbor for CloudWatch, AWS_ENDPOINT_URL honoured): errors arrive with their code', async () => {
    const env = {
      ...process.env,
      AWS_ENDPOINT_URL: box.url,
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    };
    const script = `import boto3, botocore
c = boto3.client('cloudwatch')
assert 'smithy-rpc-v2-cbor' in c.meta.service_model.metadata.get('protocols', []), c.meta.service_model.metadata
try:
    c.list_metric_streams()
except botocore.exceptions.ClientError as e:
    print(e.response['Error']['Code'], e.response['ResponseMetadata']['HTTPStatusCode'])
print(boto3.client('sts').get_caller_identity()['Account'])`;
    const { stdout } = await run('python3', ['-c', script], { env });
    assert.equal(stdout.trim(), 'NotImplemented 501\n000000000000');
  });

  test('SDK v3 CloudWatch (awsJson 1.0) reaches the same service; unimplemented operations answer NotImplemented', async () => {
    const cw = new CloudWatchClient(clientConfig(box.url));
    await assert.rejects(
      cw.send(new ListMetricStreamsCommand({})),
      (e: any) => e.name === 'NotImplemented' && e.$metadata.httpStatusCode === 501,
    );
  });

  test('a 12-digit access key id names its account; every response carries a request id', async () => {
    const sts = new STSClient(clientConfig(box.url, { accessKeyId: '111111111111' }));
    const out = await sts.send(new GetCallerIdentityCommand({}));
    assert.equal(out.Account, '111111111111');
    assert.equal(out.Arn, 'arn:aws:iam::111111111111:root');
    assert.match(out.$metadata.requestId!, /^[0-9a-f-]{36}$/);
  });

  test('AssumeRole: the temporary credentials are accepted and identify the assumed role in the role’s account', async () => {
    const trust = {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::000000000000:root' }, Action: 'sts:AssumeRole' }],
    };
    await new IAMClient(clientConfig(box.url, { accessKeyId: '222222222222' })).send(
      new CreateRoleCommand({ RoleName: 'deployer', AssumeRolePolicyDocument: JSON.stringify(trust) }),
    );
    const sts = new STSClient(clientConfig(box.url));
    const { Credentials, AssumedRoleUser } = await sts.send(
      new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::222222222222:role/deployer', RoleSessionName: 'ci-run' }),
    );
    assert.match(Credentials!.AccessKeyId!, /^ASIA[A-Z0-9]{16}$/);
    assert.ok(Credentials!.Expiration!.getTime() > Date.now() + 3500_000);
    const as = new STSClient(
      clientConfig(box.url, {
        accessKeyId: Credentials!.AccessKeyId!,
        secretAccessKey: Credentials!.SecretAccessKey!,
        sessionToken: Credentials!.SessionToken!,
      }),
    );
    const me = await as.send(new GetCallerIdentityCommand({}));
    assert.equal(me.Account, '222222222222');
    assert.equal(me.Arn, 'arn:aws:sts::222222222222:assumed-role/deployer/ci-run');
    assert.equal(me.Arn, AssumedRoleUser!.Arn);
    assert.match(me.UserId!, /^AROA[A-Z0-9]+:ci-run$/);
    await assert.rejects(as.send(new GetSessionTokenCommand({})), (e: any) => e.name === 'AccessDenied');
  });

  test('AssumeRole: invalid role ARN and out-of-range duration → ValidationError', async () => {
    const sts = new STSClient(clientConfig(box.url));
    await assert.rejects(
      sts.send(new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::123:role/x-not-valid', RoleSessionName: 'ab' })),
      (e: any) => e.name === 'ValidationError',
    );
    const r = await awsCli(box.url, ['sts', 'get-session-token', '--duration-seconds', '200000']);
    assert.notEqual(r.code, 0);
    assert.match(
      r.stderr,
      /ValidationError.*Value '200000' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 129600/,
    );
  });
});

describe('opsbox server (strict auth)', () => {
  let box: RunningOpsbox;
  before(async () => (box = await startOpsbox({ env: { OPSBOX_AUTH: 'strict' } })));
  after(() => box.dispose());

  test('the root key verifies; a wrong secret → SignatureDoesNotMatch; an unknown key → InvalidClientTokenId', async () => {
    assert.equal((await new STSClient(clientConfig(box.url)).send(new GetCallerIdentityCommand({}))).Account, '000000000000');
    await assert.rejects(
      new STSClient(clientConfig(box.url, { secretAccessKey: 'wrong' })).send(new GetCallerIdentityCommand({})),
      (e: any) => e.name === 'SignatureDoesNotMatch' && e.$metadata.httpStatusCode === 403,
    );
    await assert.rejects(
      new STSClient(clientConfig(box.url, { accessKeyId: 'AKIAUNKNOWN000000000' })).send(new GetCallerIdentityCommand({})),
      (e: any) => e.name === 'InvalidClientTokenId' && e.$metadata.httpStatusCode === 403,
    );
    const r = await awsCli(box.url, ['sts', 'get-caller-identity'], { AWS_SECRET_ACCESS_KEY: 'nope' });
    assert.match(r.stderr, /SignatureDoesNotMatch/);
  });

  test('an unsigned request → MissingAuthenticationToken', async () => {
    const res = await fetch(`${box.url}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'Logs_20140328.DescribeLogGroups' },
      body: '{}',
    });
    assert.equal(res.status, 403);
    assert.equal((await res.json()).__type, 'MissingAuthenticationToken');
  });

  test('STS credentials verify, survive kill -9 and restart, and a session token mismatch is rejected', async () => {
    const { Credentials } = await new STSClient(clientConfig(box.url)).send(new GetSessionTokenCommand({ DurationSeconds: 900 }));
    const creds = {
      accessKeyId: Credentials!.AccessKeyId!,
      secretAccessKey: Credentials!.SecretAccessKey!,
      sessionToken: Credentials!.SessionToken!,
    };
    await box.kill9();
    box = await startOpsbox({ dataDir: box.dataDir, env: { OPSBOX_AUTH: 'strict' } });
    const me = await new STSClient(clientConfig(box.url, creds)).send(new GetCallerIdentityCommand({}));
    assert.equal(me.Arn, 'arn:aws:iam::000000000000:root');
    await assert.rejects(
      new STSClient(clientConfig(box.url, { ...creds, sessionToken: 'forged' })).send(new GetCallerIdentityCommand({})),
      (e: any) => e.name === 'InvalidClientTokenId',
    );
  });

  test('presigned URLs: a valid one passes authentication, an expired one → AccessDenied "Request has expired"', async () => {
    const s3 = new S3Client({ ...clientConfig(box.url), forcePathStyle: true });
    const fresh = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'nobucket', Key: 'k' }), { expiresIn: 60 });
    const ok = await fetch(fresh);
    assert.ok(ok.status !== 403, `valid presigned URL rejected: ${await ok.text()}`);
    const old = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'nobucket', Key: 'k' }), {
      expiresIn: 5,
      signingDate: new Date(Date.now() - 60_000),
    });
    const res = await fetch(old);
    assert.equal(res.status, 403);
    assert.match(await res.text(), /<Code>AccessDenied<\/Code><Message>Request has expired<\/Message>/);
    const tampered = await fetch(fresh.replace('nobucket', 'otherbucket'));
    assert.equal(tampered.status, 403);
    assert.match(await tampered.text(), /SignatureDoesNotMatch/);
  });
});

describe('process lifecycle', () => {
  test('SIGTERM and SIGINT shut down cleanly (exit 0); --ephemeral removes its data dir', async () => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const box = await startOpsbox({ args: ['--ephemeral'] });
      const health = await (await fetch(`${box.url}/_opsbox/health`)).json();
      const code = await new Promise<number | null>((r) => {
        box.proc.once('exit', (c) => r(c));
        box.proc.kill(signal);
      });
      assert.equal(code, 0, `${signal}: ${box.stderr()}`);
      assert.equal(existsSync(health.dataDir), false, 'ephemeral data dir removed');
    }
  });

  test('a bad setting fails fast with a message', async () => {
    const { CLI } = await import('../helpers/opsbox.js');
    await assert.rejects(run(process.execPath, [CLI, 'start', '--port', 'abc']), (e: any) => /invalid port/.test(e.stderr));
  });
});
