/**
 * Inputs that once crashed, stalled or 500'd opsbox, replayed against a real process: each gets
 * its 4xx (or ends a build FAILED) and the server stays healthy. The fuzz harness (fuzz.test.ts)
 * covers the model-driven space; these are the cases that needed more than one well-formed request.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { CodeBuildClient, CreateProjectCommand, StartBuildCommand } from '@aws-sdk/client-codebuild';
import { CodeCommitClient, CreateRepositoryCommand } from '@aws-sdk/client-codecommit';
import { CreateBucketCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { clientConfig, startOpsbox, unique, type RunningOpsbox } from '../helpers/opsbox.js';
import { waitBuild } from '../helpers/wait.js';

let box: RunningOpsbox;

/** An unverified SigV4 header naming the service (default auth mode reads only the scope). */
const auth = (service: string) =>
  `AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/${service}/aws4_request, SignedHeaders=host, Signature=${'0'.repeat(64)}`;

async function healthy() {
  const res = await fetch(`${box.url}/_opsbox/health`, { signal: AbortSignal.timeout(2000) });
  assert.equal(res.status, 200);
  assert.equal(box.proc.exitCode, null, 'the server is still running');
}

async function json(target: string, service: string, body: string, headers: Record<string, string> = {}) {
  const res = await fetch(box.url, {
    method: 'POST',
    headers: { 'x-amz-target': target, 'content-type': 'application/x-amz-json-1.1', authorization: auth(service), ...headers },
    body,
  });
  return { status: res.status, body: (await res.json()) as { __type: string; message: string } };
}

/** Sends raw bytes on a fresh socket; resolves with what came back once the server closed it (or after `ms`). */
function raw(request: Buffer, ms = 5000): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = connect(box.port, '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ text, closed: false });
    }, ms);
    socket.on('data', (d) => (text += d.toString('latin1')));
    socket.on('error', (err) => (text ? undefined : reject(err)));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closed: true });
    });
    socket.write(request, () => undefined);
  });
}

describe('hostile input', () => {
  before(async () => {
    box = await startOpsbox();
  });
  after(async () => {
    if (box && box.proc.exitCode !== null) console.error(`opsbox exited ${box.proc.exitCode}: ${box.stderr()}`);
    await box?.dispose();
  });

  describe('CodeBuild artifacts to a bucket that does not exist', () => {
    const ROLE = 'arn:aws:iam::000000000000:role/cb';
    const ENV = { type: 'LINUX_CONTAINER', image: 'opsbox/host', computeType: 'BUILD_GENERAL1_SMALL' } as const;
    const buildspec =
      'version: 0.2\nphases:\n  build:\n    commands:\n      - mkdir -p out && echo hi > out/a.txt && echo ho > out/b.txt\nartifacts:\n  files:\n    - "**/*"\n  base-directory: out\n';

    for (const packaging of ['ZIP', 'NONE'] as const) {
      test(`packaging ${packaging}: the build ends FAILED in UPLOAD_ARTIFACTS with NoSuchBucket and the server lives on`, async () => {
        const cb = new CodeBuildClient(clientConfig(box.url));
        const name = unique('p');
        await cb.send(
          new CreateProjectCommand({
            name,
            source: { type: 'NO_SOURCE', buildspec },
            artifacts: { type: 'S3', location: unique('no-such-bucket'), packaging, name: 'out' },
            environment: ENV,
            serviceRole: ROLE,
          }),
        );
        const b = await waitBuild(cb, (await cb.send(new StartBuildCommand({ projectName: name }))).build!.id!);
        assert.equal(b.buildStatus, 'FAILED');
        const upload = b.phases!.find((p) => p.phaseType === 'UPLOAD_ARTIFACTS')!;
        assert.equal(upload.phaseStatus, 'FAILED');
        assert.equal(upload.contexts![0].statusCode, 'CLIENT_ERROR');
        assert.match(upload.contexts![0].message!, /^Error uploading artifacts: NoSuchBucket: The specified bucket does not exist/);
        await healthy();
      });
    }
  });

  describe('S3 aws-chunked bodies', () => {
    const s3 = () => new S3Client({ ...clientConfig(box.url), forcePathStyle: true });
    const bucket = unique('chunked');
    before(async () => {
      await s3().send(new CreateBucketCommand({ Bucket: bucket }));
    });

    const put = (key: string, decodedLength: string, body: Buffer) =>
      fetch(`${box.url}/${bucket}/${key}`, {
        method: 'PUT',
        headers: {
          authorization: auth('s3'),
          'content-encoding': 'aws-chunked',
          'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
          'x-amz-decoded-content-length': decodedLength,
        },
        body: new Uint8Array(body),
      });

    test('a final chunk followed by 70,000 more bytes is refused, not a crash', async () => {
      const body = Buffer.concat([Buffer.from(`0;chunk-signature=${'0'.repeat(64)}\r\n`), Buffer.alloc(70_000, 0x41)]);
      const res = await put('after-final', '0', body);
      assert.equal(res.status, 400);
      assert.match(await res.text(), /<Code>(IncompleteBody|InvalidRequest)<\/Code>/);
      await healthy();
    });

    test('a wrong x-amz-decoded-content-length is refused and nothing is stored', async () => {
      const chunk = (data: string) => `${Buffer.byteLength(data).toString(16)};chunk-signature=${'0'.repeat(64)}\r\n${data}\r\n`;
      const body = Buffer.from(chunk('hello') + chunk(''));
      for (const declared of ['4', '9']) {
        const res = await put(`wrong-${declared}`, declared, body);
        assert.equal(res.status, 400, `declared ${declared} for 5 bytes`);
        assert.match(await res.text(), /<Code>IncompleteBody<\/Code>/);
        await assert.rejects(s3().send(new HeadObjectCommand({ Bucket: bucket, Key: `wrong-${declared}` })), { name: 'NotFound' });
      }
      const ok = await put('right', '5', body);
      assert.equal(ok.status, 200);
      assert.equal((await s3().send(new HeadObjectCommand({ Bucket: bucket, Key: 'right' }))).ContentLength, 5);
    });
  });

  describe('bodies over the limits', () => {
    test('PutEvents over its size quota: 413 while reading, connection closed, health answers meanwhile', async () => {
      const entries = `{"Entries":[${Array.from({ length: 400_000 }, () => '{}').join(',')}]}`;
      const head = `POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: AWSEvents.PutEvents\r\nContent-Type: application/x-amz-json-1.1\r\nAuthorization: ${auth('events')}\r\n`;
      for (const framing of ['length', 'chunked'] as const) {
        const body = Buffer.from(entries);
        const request =
          framing === 'length'
            ? Buffer.concat([Buffer.from(`${head}Content-Length: ${body.length}\r\n\r\n`), body])
            : Buffer.concat([
                Buffer.from(`${head}Transfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n`),
                body,
                Buffer.from('\r\n0\r\n\r\n'),
              ]);
        const [answer] = await Promise.all([raw(request), healthy()]);
        assert.match(answer.text, /^HTTP\/1.1 413 /, framing);
        assert.match(answer.text, /connection: close/i);
        assert.match(answer.text, /RequestEntityTooLarge/);
        assert.ok(answer.closed, `${framing}: the server closes the connection instead of leaving the client hanging`);
      }
      await healthy();
    });

    test('a body over 64 MiB to any operation: 413 and the connection closed', async () => {
      const head = `POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: CodeCommit_20150413.GetRepository\r\nContent-Type: application/x-amz-json-1.1\r\nAuthorization: ${auth('codecommit')}\r\nContent-Length: ${65 * 1024 * 1024}\r\n\r\n`;
      const answer = await raw(Buffer.concat([Buffer.from(head), Buffer.alloc(1024 * 1024, 0x20)]));
      assert.match(answer.text, /^HTTP\/1.1 413 /);
      assert.ok(answer.closed);
      await healthy();
    });

    test('PutLogEvents with 10,001 events names logEvents and its value, as AWS does', async () => {
      const events = Array.from({ length: 10_001 }, (_, i) => ({ timestamp: 1_700_000_000_000 + i, message: 'm' }));
      const r = await json(
        'Logs_20140328.PutLogEvents',
        'logs',
        JSON.stringify({ logGroupName: 'g', logStreamName: 's', logEvents: events }),
      );
      assert.equal(r.status, 400);
      assert.equal(r.body.__type, 'InvalidParameterException');
      assert.match(
        r.body.message,
        /^1 validation error detected: Value '\[\{.*\.\.\.\]' at 'logEvents' failed to satisfy constraint: Member must have length less than or equal to 10000$/,
      );
    });

    test('a timestamp nested 5,000 arrays deep is a SerializationException naming the member', async () => {
      for (const depth of [100, 5000]) {
        const body = `{"logGroupName":"g","logStreamName":"s","logEvents":[{"timestamp":${'['.repeat(depth)}1${']'.repeat(depth)},"message":"m"}]}`;
        const r = await json('Logs_20140328.PutLogEvents', 'logs', body);
        assert.equal(r.status, 400, `depth ${depth}`);
        assert.equal(r.body.__type, 'SerializationException');
        assert.match(r.body.message, /at 'logEvents\.1\.timestamp'/);
      }
      await healthy();
    });
  });

  describe('git smart HTTP given garbage', () => {
    const repo = unique('garbage');
    before(async () => {
      await new CodeCommitClient(clientConfig(box.url)).send(new CreateRepositoryCommand({ repositoryName: repo }));
    });

    for (const service of ['upload-pack', 'receive-pack']) {
      for (const [label, body, headers] of [
        ['bad pkt-line length', 'zzzzgarbage', {}],
        ['pkt-line length out of range', 'ffff', {}],
        ['a line git does not expect', '0009want x\n0000', {}],
        ['a body that is not gzip', 'notgzip', { 'content-encoding': 'gzip' }],
      ] as const) {
        test(`git-${service}: ${label} → 400 with git's message`, async () => {
          const res = await fetch(`${box.url}/v1/repos/${repo}/git-${service}`, {
            method: 'POST',
            headers: {
              authorization: `Basic ${Buffer.from('test:test').toString('base64')}`,
              'content-type': `application/x-git-${service}-request`,
              ...headers,
            },
            body,
          });
          assert.equal(res.status, 400);
          assert.match(await res.text(), /^(fatal: .*protocol error|error: bad gzip request body)/);
        });
      }
    }

    test('the server is healthy after all of it', healthy);
  });
});
