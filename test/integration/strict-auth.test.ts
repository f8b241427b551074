/**
 * OPSBOX_AUTH=strict against forged and replayed requests: a swapped body, zeroed chunk
 * signatures, a request signed days ago, presigned URLs past AWS's bounds, role trust policies,
 * and requests that carry no signature at all. Requests are signed with @smithy/signature-v4 (what
 * the SDKs use) and then tampered with, the way an attacker with a captured request would.
 */
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { SignatureV4 } from '@smithy/signature-v4';
import { CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { CreateBucketCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { clientConfig, startOpsbox, unique, type RunningOpsbox } from '../helpers/opsbox.js';
import { Sha256 } from '../helpers/sha256.js';

const run = promisify(execFile);
const sha256 = (d: string | Buffer) => createHash('sha256').update(d).digest('hex');

interface Signed {
  headers: Record<string, string>;
  signature: string;
}

/** Signs a request for `service` as the root key would (test/test), optionally at another moment. */
async function sign(
  url: string,
  service: string,
  req: { method: string; path: string; headers?: Record<string, string>; body?: string },
  signingDate?: Date,
): Promise<Signed> {
  const { hostname, port, host } = new URL(url);
  const signer = new SignatureV4({
    service,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    sha256: Sha256 as any,
    uriEscapePath: service !== 's3',
  });
  const signed = await signer.sign(
    {
      method: req.method,
      protocol: 'http:',
      hostname,
      port: Number(port),
      path: req.path,
      query: {},
      headers: { host, ...req.headers },
      body: req.body,
    },
    { signingDate },
  );
  const headers = signed.headers as Record<string, string>;
  return { headers, signature: /Signature=([0-9a-f]+)/.exec(headers.authorization)![1] };
}

const send = (url: string, method: string, path: string, headers: Record<string, string>, body?: string) =>
  fetch(`${url}${path}`, { method, headers: Object.fromEntries(Object.entries(headers).filter(([k]) => k !== 'host')), body });

const LOGS = { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'Logs_20140328.DescribeLogGroups' };

describe('strict auth: forged and replayed requests', () => {
  let box: RunningOpsbox;
  let bucket: string;
  before(async () => {
    box = await startOpsbox({ env: { OPSBOX_AUTH: 'strict' } });
    bucket = unique('strict');
    await new S3Client({ ...clientConfig(box.url), forcePathStyle: true }).send(new CreateBucketCommand({ Bucket: bucket }));
  });
  after(() => box.dispose());

  test('a JSON request whose body was swapped after signing → SignatureDoesNotMatch, even with the original body’s hash added', async () => {
    const body = '{"limit":1}';
    const { headers } = await sign(box.url, 'logs', { method: 'POST', path: '/', headers: LOGS, body });
    assert.equal((await send(box.url, 'POST', '/', headers, body)).status, 200, 'the request as signed passes');
    const swapped = await send(box.url, 'POST', '/', { ...headers, 'x-amz-content-sha256': sha256(body) }, '{"limit":2}');
    assert.equal(swapped.status, 403);
    const refused = await swapped.json();
    assert.equal(refused.__type, 'SignatureDoesNotMatch');
    // as AWS does, the message shows what the server signed, to compare with the client's own
    assert.match(refused.message, /\n\nThe Canonical String for this request should have been\n'POST\n\/\n\n/);
    assert.match(
      refused.message,
      /\n\nThe String-to-Sign should have been\n'AWS4-HMAC-SHA256\n\d{8}T\d{6}Z\n\d{8}\/us-east-1\/logs\/aws4_request\n[0-9a-f]{64}'\n$/,
    );
  });

  test('an S3 PUT signed for one body and sent with another → XAmzContentSHA256Mismatch, and nothing is stored', async () => {
    const path = `/${bucket}/swapped.txt`;
    const original = 'the body that was signed';
    const { headers } = await sign(box.url, 's3', {
      method: 'PUT',
      path,
      headers: { 'x-amz-content-sha256': sha256(original) },
      body: original,
    });
    const res = await send(box.url, 'PUT', path, headers, 'a forged body, same len!');
    assert.equal(res.status, 400);
    const xml = await res.text();
    assert.match(xml, /<Code>XAmzContentSHA256Mismatch<\/Code>/);
    assert.match(xml, new RegExp(`<ClientComputedContentSHA256>${sha256(original)}</ClientComputedContentSHA256>`));
    assert.match(xml, new RegExp(`<S3ComputedContentSHA256>${sha256('a forged body, same len!')}</S3ComputedContentSHA256>`));
    const s3 = new S3Client({ ...clientConfig(box.url), forcePathStyle: true });
    await assert.rejects(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'swapped.txt' })), (e: any) => e.name === 'NoSuchKey');
    assert.equal((await send(box.url, 'PUT', path, headers, original)).status, 200, 'the request as signed passes');
  });

  test('an S3 PUT without x-amz-content-sha256 → InvalidRequest naming the header', async () => {
    const path = `/${bucket}/nohash.txt`;
    const { headers } = await sign(box.url, 's3', { method: 'PUT', path, headers: { 'x-amz-content-sha256': sha256('x') }, body: 'x' });
    delete headers['x-amz-content-sha256'];
    const res = await send(box.url, 'PUT', path, headers, 'x');
    assert.equal(res.status, 400);
    assert.match(
      await res.text(),
      /<Code>InvalidRequest<\/Code><Message>Missing required header for this request: x-amz-content-sha256<\/Message>/,
    );
  });

  test('signed aws-chunked uploads: the right chain stores the object, zeroed or reordered chunk signatures → SignatureDoesNotMatch', async () => {
    const chunks = ['a'.repeat(65536), 'b'.repeat(1000), ''];
    const upload = async (key: string, tamper: (sigs: string[]) => string[]) => {
      const path = `/${bucket}/${key}`;
      const amzDate = new Date().toISOString().replace(/[-:]|\.\d{3}/g, '');
      const framedLength = chunks.reduce((n, c) => n + c.length.toString(16).length + ';chunk-signature='.length + 64 + 4 + c.length, 0);
      const { headers, signature } = await sign(box.url, 's3', {
        method: 'PUT',
        path,
        headers: {
          'content-encoding': 'aws-chunked',
          'content-length': String(framedLength),
          'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
          'x-amz-decoded-content-length': String(65536 + 1000),
          'x-amz-date': amzDate,
        },
      });
      // the chain, computed here independently of opsbox: each chunk signs the previous signature and its data
      const day = amzDate.slice(0, 8);
      let key4 = createHmac('sha256', 'AWS4test').update(day).digest();
      for (const part of ['us-east-1', 's3', 'aws4_request']) key4 = createHmac('sha256', key4).update(part).digest();
      let previous = signature;
      const sigs = chunks.map((data) => {
        const toSign = [
          'AWS4-HMAC-SHA256-PAYLOAD',
          headers['x-amz-date'],
          `${day}/us-east-1/s3/aws4_request`,
          previous,
          sha256(''),
          sha256(data),
        ].join('\n');
        return (previous = createHmac('sha256', key4).update(toSign).digest('hex'));
      });
      const body = tamper(sigs)
        .map((s, i) => `${chunks[i].length.toString(16)};chunk-signature=${s}\r\n${chunks[i]}\r\n`)
        .join('');
      return send(box.url, 'PUT', path, headers, body);
    };
    const ok = await upload('chunked-good', (s) => s);
    assert.equal(ok.status, 200, await ok.text());
    const s3 = new S3Client({ ...clientConfig(box.url), forcePathStyle: true });
    const got = await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'chunked-good' }))).Body!.transformToString();
    assert.equal(got, chunks.join(''));
    for (const [key, tamper] of [
      ['chunked-zeros', (s: string[]) => s.map(() => '0'.repeat(64))],
      ['chunked-reordered', (s: string[]) => [s[1], s[0], s[2]]],
      ['chunked-last-forged', (s: string[]) => [s[0], s[1], '0'.repeat(64)]],
    ] as const) {
      const res = await upload(key, tamper);
      assert.equal(res.status, 403, key);
      assert.match(await res.text(), /<Code>SignatureDoesNotMatch<\/Code>/, key);
      await assert.rejects(
        s3.send(new GetObjectCommand({ Bucket: bucket, Key: key })),
        (e: any) => e.name === 'NoSuchKey',
        `${key} must not be stored`,
      );
    }
  });

  test('a request signed 3 days ago → SignatureDoesNotMatch "Signature expired" (STS) and RequestTimeTooSkewed (S3)', async () => {
    const old = new Date(Date.now() - 3 * 86400_000);
    const body = 'Action=GetCallerIdentity&Version=2011-06-15';
    const { headers } = await sign(
      box.url,
      'sts',
      { method: 'POST', path: '/', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body },
      old,
    );
    const res = await send(box.url, 'POST', '/', headers, body);
    assert.equal(res.status, 403);
    const xml = await res.text();
    assert.match(xml, /<Code>SignatureDoesNotMatch<\/Code>/);
    assert.match(xml, /Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 15 min\.\)/);
    const future = await send(
      box.url,
      'POST',
      '/',
      (
        await sign(
          box.url,
          'sts',
          { method: 'POST', path: '/', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body },
          new Date(Date.now() + 3600_000),
        )
      ).headers,
      body,
    );
    assert.match(await future.text(), /Signature not yet current/);

    const s3 = await sign(box.url, 's3', { method: 'GET', path: `/${bucket}`, headers: { 'x-amz-content-sha256': sha256('') } }, old);
    const skewed = await send(box.url, 'GET', `/${bucket}`, s3.headers);
    assert.equal(skewed.status, 403);
    const text = await skewed.text();
    assert.match(text, /<Code>RequestTimeTooSkewed<\/Code>/);
    assert.match(text, /<MaxAllowedSkewMilliseconds>900000<\/MaxAllowedSkewMilliseconds>/);
  });

  test('botocore-presigned STS GetCallerIdentity URLs verify with the method they were signed for; X-Amz-Expires over a week → AuthorizationQueryParametersError', async () => {
    const script = `import boto3
c = boto3.client('sts', endpoint_url='${box.url}', region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test')
print(c.generate_presigned_url('get_caller_identity', ExpiresIn=300))
print(c.generate_presigned_url('get_caller_identity', ExpiresIn=300, HttpMethod='GET'))`;
    const { stdout } = await run('python3', ['-c', script], {
      env: { ...process.env, AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null' },
    });
    const [signedForPost, signedForGet] = stdout.trim().split('\n');
    for (const res of [await fetch(signedForPost, { method: 'POST' }), await fetch(signedForGet)]) {
      const xml = await res.text();
      assert.equal(res.status, 200, xml);
      assert.match(xml, /<Account>000000000000<\/Account>/);
    }
    // botocore signs the model's method (POST): fetched with GET, AWS refuses it too (boto/boto3#756)
    const wrongMethod = await fetch(signedForPost);
    assert.equal(wrongMethod.status, 403);
    assert.match(await wrongMethod.text(), /<Code>SignatureDoesNotMatch<\/Code>/);

    const s3 = new S3Client({ ...clientConfig(box.url), forcePathStyle: true });
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: 'k' }), { expiresIn: 3600 });
    const forged = await (await fetch(url.replace('/k?', '/other?'))).text();
    assert.match(forged, /<Code>SignatureDoesNotMatch<\/Code>/);
    assert.match(forged, /<AWSAccessKeyId>test<\/AWSAccessKeyId><StringToSign>AWS4-HMAC-SHA256\n/);
    assert.match(forged, new RegExp(`<CanonicalRequest>GET\n/${bucket}/other\n`));
    const tooLong = await fetch(url.replace('X-Amz-Expires=3600', 'X-Amz-Expires=604801'));
    assert.equal(tooLong.status, 400);
    assert.match(
      await tooLong.text(),
      /<Code>AuthorizationQueryParametersError<\/Code><Message>X-Amz-Expires must be less than a week \(in seconds\) that is 604800<\/Message>/,
    );
    const missing = await fetch(url.replace(/&?X-Amz-Expires=3600/, ''));
    assert.equal(missing.status, 400);
    assert.match(await missing.text(), /AuthorizationQueryParametersError/);
  });

  test('unsigned requests: a form POST of Action=GetCallerIdentity → MissingAuthenticationToken, as the GET form', async () => {
    for (const res of [
      await fetch(`${box.url}/`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'Action=GetCallerIdentity&Version=2011-06-15',
      }),
      await fetch(`${box.url}/?Action=GetCallerIdentity&Version=2011-06-15`),
    ]) {
      assert.equal(res.status, 403);
      assert.match(await res.text(), /<Code>MissingAuthenticationToken<\/Code>/);
    }
  });

  test('a 12-digit access key id signed with the root secret is that account’s root; with any other secret → SignatureDoesNotMatch', async () => {
    const me = await new STSClient(clientConfig(box.url, { accessKeyId: '111111111111', secretAccessKey: 'test' })).send(
      new GetCallerIdentityCommand({}),
    );
    assert.equal(me.Arn, 'arn:aws:iam::111111111111:root');
    await assert.rejects(
      new STSClient(clientConfig(box.url, { accessKeyId: '111111111111', secretAccessKey: 'guess' })).send(
        new GetCallerIdentityCommand({}),
      ),
      (e: any) => e.name === 'SignatureDoesNotMatch',
    );
  });

  test('AssumeRole: the role must exist and its trust policy must let the caller in', async () => {
    const sts = new STSClient(clientConfig(box.url));
    const iam = new IAMClient(clientConfig(box.url));
    const deny = (role: string) => (e: any) =>
      e.name === 'AccessDenied' &&
      e.$metadata.httpStatusCode === 403 &&
      e.message ===
        `User: arn:aws:iam::000000000000:root is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::000000000000:role/${role}`;
    await assert.rejects(
      sts.send(new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::000000000000:role/never-created', RoleSessionName: 's1' })),
      deny('never-created'),
    );

    const trust = (statement: object) =>
      JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', ...statement }] });
    await iam.send(
      new CreateRoleCommand({
        RoleName: 'build-only',
        AssumeRolePolicyDocument: trust({ Principal: { Service: 'codebuild.amazonaws.com' } }),
      }),
    );
    await assert.rejects(
      sts.send(new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::000000000000:role/build-only', RoleSessionName: 's1' })),
      deny('build-only'),
    );

    await iam.send(
      new CreateRoleCommand({
        RoleName: 'partner',
        AssumeRolePolicyDocument: trust({
          Principal: { AWS: 'arn:aws:iam::000000000000:root' },
          Condition: { StringEquals: { 'sts:ExternalId': 'shared-secret' } },
        }),
      }),
    );
    await assert.rejects(
      sts.send(new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::000000000000:role/partner', RoleSessionName: 's1' })),
      deny('partner'),
    );
    await assert.rejects(
      sts.send(new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::000000000000:role/partner', RoleSessionName: 's1', ExternalId: 'guess' })),
      deny('partner'),
    );
    const { Credentials } = await sts.send(
      new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::000000000000:role/partner', RoleSessionName: 's1', ExternalId: 'shared-secret' }),
    );
    const me = await new STSClient(
      clientConfig(box.url, {
        accessKeyId: Credentials!.AccessKeyId!,
        secretAccessKey: Credentials!.SecretAccessKey!,
        sessionToken: Credentials!.SessionToken!,
      }),
    ).send(new GetCallerIdentityCommand({}));
    assert.equal(me.Arn, 'arn:aws:sts::000000000000:assumed-role/partner/s1');
  });
});

describe('AssumeRole across accounts (default auth)', () => {
  let box: RunningOpsbox;
  before(async () => (box = await startOpsbox()));
  after(() => box.dispose());

  test('account 111111111111 cannot assume account 000000000000’s roles unless their trust policy names it', async () => {
    const iam = new IAMClient(clientConfig(box.url));
    const outsider = new STSClient(clientConfig(box.url, { accessKeyId: '111111111111' }));
    const deny = (e: any) =>
      e.name === 'AccessDenied' &&
      e.message.startsWith(
        'User: arn:aws:iam::111111111111:root is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::000000000000:role/',
      );
    await iam.send(
      new CreateRoleCommand({
        RoleName: 'cb',
        AssumeRolePolicyDocument: JSON.stringify({
          Statement: [{ Effect: 'Allow', Principal: { Service: 'codebuild.amazonaws.com' }, Action: 'sts:AssumeRole' }],
        }),
      }),
    );
    await assert.rejects(
      outsider.send(new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::000000000000:role/cb', RoleSessionName: 'x1' })),
      deny,
    );
    await assert.rejects(
      outsider.send(new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::000000000000:role/not-there', RoleSessionName: 'x1' })),
      deny,
    );
    // in default mode a role nobody created in one's own account is taken as trusting its account
    const own = await outsider.send(new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::111111111111:role/not-there', RoleSessionName: 'x1' }));
    assert.equal(own.AssumedRoleUser!.Arn, 'arn:aws:sts::111111111111:assumed-role/not-there/x1');

    await iam.send(
      new CreateRoleCommand({
        RoleName: 'shared',
        AssumeRolePolicyDocument: JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: { AWS: '111111111111' }, Action: 'sts:*' }] }),
      }),
    );
    const { AssumedRoleUser } = await outsider.send(
      new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::000000000000:role/shared', RoleSessionName: 'x1' }),
    );
    assert.equal(AssumedRoleUser!.Arn, 'arn:aws:sts::000000000000:assumed-role/shared/x1');
  });
});
