/**
 * Lambda against a real opsbox process with SDK v3 and the aws CLI: Node (ESM and CommonJS
 * callback), Python and a custom runtime in shell really run through the Runtime API; errors and
 * timeouts; a function that writes to opsbox's S3 with the SDK the runtime provides and its role's
 * credentials; the log tail and CloudWatch Logs; code updates and published versions; Event
 * invocations; API errors; functions surviving kill -9.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CloudWatchLogsClient, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import {
  CreateFunctionCommand,
  DeleteFunctionCommand,
  GetFunctionCommand,
  InvokeCommand,
  LambdaClient,
  ListFunctionsCommand,
  PublishVersionCommand,
  UpdateFunctionCodeCommand,
  UpdateFunctionConfigurationCommand,
} from '@aws-sdk/client-lambda';
import { CreateBucketCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { awsCli, clientConfig, failure, startOpsbox, unique, type RunningOpsbox } from '../helpers/opsbox.js';
import { json, ROLE, zip } from '../helpers/lambda.js';
import { waitFor } from '../helpers/wait.js';

describe('lambda', () => {
  let box: RunningOpsbox;
  let lambda: LambdaClient;
  before(async () => {
    box = await startOpsbox();
    lambda = new LambdaClient(clientConfig(box.url));
  });
  after(async () => {
    lambda?.destroy();
    await box?.dispose();
  });

  async function create(
    files: Record<string, string>,
    extra: Partial<ConstructorParameters<typeof CreateFunctionCommand>[0]> = {},
    modes = {},
  ) {
    const name = unique('fn');
    await lambda.send(
      new CreateFunctionCommand({
        FunctionName: name,
        Runtime: 'nodejs20.x',
        Handler: 'index.handler',
        Role: ROLE,
        Code: { ZipFile: await zip(files, modes) },
        ...extra,
      }),
    );
    return name;
  }

  const invoke = (name: string, payload: unknown, extra: Partial<ConstructorParameters<typeof InvokeCommand>[0]> = {}) =>
    lambda.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from(JSON.stringify(payload)), ...extra }));

  test('Node ES module handler: payload, context, log tail with START/END/REPORT, warm reuse', async () => {
    const name = await create({
      'index.mjs': `let calls = 0;
export const handler = async (event, context) => {
  calls++;
  console.log('greeting', event.name);
  return { greeting: 'hi ' + event.name, requestId: context.awsRequestId, fn: context.functionName, calls, region: process.env.AWS_REGION };
};`,
    });
    const first = await invoke(name, { name: 'ops' }, { LogType: 'Tail' });
    assert.equal(first.StatusCode, 200);
    assert.equal(first.FunctionError, undefined);
    assert.equal(first.ExecutedVersion, '$LATEST');
    const out = json(first.Payload);
    assert.deepEqual([out.greeting, out.fn, out.calls, out.region], ['hi ops', name, 1, 'us-east-1']);
    const tail = Buffer.from(first.LogResult!, 'base64').toString();
    assert.match(tail, new RegExp(`START RequestId: ${out.requestId} Version: \\$LATEST`));
    assert.match(tail, /\tINFO\tgreeting ops/);
    assert.match(
      tail,
      /REPORT RequestId: .*Duration: [\d.]+ ms\tBilled Duration: \d+ ms\tMemory Size: 128 MB\tMax Memory Used: \d+ MB\tInit Duration/,
    );
    const second = json((await invoke(name, { name: 'again' })).Payload);
    assert.equal(second.calls, 2, 'the warm environment is reused');

    const logs = new CloudWatchLogsClient(clientConfig(box.url));
    await waitFor(
      'the REPORT line in /aws/lambda/<name>',
      async () =>
        (await logs.send(new FilterLogEventsCommand({ logGroupName: `/aws/lambda/${name}`, filterPattern: 'REPORT' }))).events ?? [],
      (events) => events.length === 2,
      10_000,
    );
    logs.destroy();
  });

  test('an environment is frozen between invocations: a timer a handler left running waits for the next invocation', async () => {
    const name = await create({
      'index.mjs': `let ticks = 0;
setInterval(() => ticks++, 20);
export const handler = async (event) => {
  if (event.wait) await new Promise((r) => setTimeout(r, 200));
  return ticks;
};`,
    });
    const warm = json((await invoke(name, { wait: true })).Payload);
    assert.ok(warm >= 5, `the timer ran during the invocation (${warm} ticks)`);
    await new Promise((r) => setTimeout(r, 600));
    const after = json((await invoke(name, {})).Payload);
    assert.ok(after - warm < 10, `frozen for 600 ms between invocations, the timer barely ran: ${warm} → ${after}`);
  });

  test('CommonJS callback handler, Python handler, custom runtime in shell', async () => {
    const cjs = await create(
      { 'app.js': `exports.main = function (event, context, callback) { callback(null, { doubled: event.n * 2 }); };` },
      { Handler: 'app.main' },
    );
    assert.deepEqual(json((await invoke(cjs, { n: 21 })).Payload), { doubled: 42 });

    const py = await create(
      {
        'lambda_function.py':
          'def lambda_handler(event, context):\n    print("python sees", event)\n    return {"sum": sum(event["xs"]), "fn": context.function_name}\n',
      },
      { Runtime: 'python3.11', Handler: 'lambda_function.lambda_handler' },
    );
    const pyOut = await invoke(py, { xs: [1, 2, 3] }, { LogType: 'Tail' });
    assert.deepEqual(json(pyOut.Payload), { sum: 6, fn: py });
    assert.match(Buffer.from(pyOut.LogResult!, 'base64').toString(), /python sees/);

    const bootstrap = `#!/bin/sh
set -eu
API="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
while true; do
  HEADERS=$(mktemp)
  EVENT=$(curl -sS -D "$HEADERS" "$API/invocation/next")
  ID=$(grep -i Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  curl -sS -X POST "$API/invocation/$ID/response" -d "{\\"echo\\":$EVENT,\\"handler\\":\\"$_HANDLER\\"}" >/dev/null
done
`;
    const custom = await create({ bootstrap }, { Runtime: 'provided.al2023', Handler: 'echo.handler' }, { bootstrap: 0o755 });
    assert.deepEqual(json((await invoke(custom, { a: 1 })).Payload), { echo: { a: 1 }, handler: 'echo.handler' });
  });

  test('errors: a thrown error is FunctionError Unhandled; a timeout kills the environment; a bad handler fails init', async () => {
    const failing = await create({
      'index.mjs': `export const handler = async () => { const e = new Error('boom'); e.name = 'ShopError'; throw e; };`,
    });
    const r = await invoke(failing, {});
    assert.equal(r.StatusCode, 200);
    assert.equal(r.FunctionError, 'Unhandled');
    const err = json(r.Payload);
    assert.deepEqual([err.errorType, err.errorMessage], ['ShopError', 'boom']);
    assert.ok(Array.isArray(err.stackTrace));

    const slow = await create(
      { 'index.mjs': `export const handler = async (e) => { if (e.wait) await new Promise((r) => setTimeout(r, 5000)); return 'fast'; };` },
      { Timeout: 1 },
    );
    const timedOut = await invoke(slow, { wait: true });
    assert.equal(timedOut.FunctionError, 'Unhandled');
    assert.match(json(timedOut.Payload).errorMessage, /Task timed out after 1\.00 seconds/);
    assert.equal(json((await invoke(slow, { wait: false })).Payload), 'fast', 'a new environment serves the next invocation');

    const missing = await create({ 'index.mjs': 'export const other = 1;' });
    const init = await invoke(missing, {});
    assert.equal(init.FunctionError, 'Unhandled');
    assert.equal(json(init.Payload).errorType, 'Runtime.HandlerNotFound');
  });

  test('a function writes to opsbox S3 with the SDK the runtime provides, as its role; Event invocations run in the background', async () => {
    const s3 = new S3Client({ ...clientConfig(box.url), forcePathStyle: true });
    const bucket = unique('fn-out').toLowerCase();
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const name = await create({
      'index.mjs': `import { S3Client, PutObjectCommand } from '@aws-sdk/client-s3';
const s3 = new S3Client({ forcePathStyle: true });
export const handler = async (event) => {
  await s3.send(new PutObjectCommand({ Bucket: event.bucket, Key: event.key, Body: 'written by ' + process.env.AWS_LAMBDA_FUNCTION_NAME }));
  return { ok: true, keyId: process.env.AWS_ACCESS_KEY_ID.slice(0, 4) };
};`,
    });
    const r = await invoke(name, { bucket, key: 'sync.txt' });
    assert.equal(r.FunctionError, undefined, Buffer.from(r.Payload ?? []).toString());
    assert.deepEqual(json(r.Payload), { ok: true, keyId: 'ASIA' });
    const obj = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'sync.txt' }));
    assert.equal(await obj.Body!.transformToString(), `written by ${name}`);

    const queued = await invoke(name, { bucket, key: 'async.txt' }, { InvocationType: 'Event' });
    assert.equal(queued.StatusCode, 202);
    await waitFor(
      'the Event invocation to write its object',
      () =>
        s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'async.txt' })).then(
          () => true,
          () => false,
        ),
      (ok) => ok,
      15_000,
    );
    const dry = await invoke(name, {}, { InvocationType: 'DryRun' });
    assert.equal(dry.StatusCode, 204);
    s3.destroy();
  });

  test('code and configuration updates; published versions keep their code', async () => {
    const name = await create(
      { 'index.mjs': `export const handler = async () => 'v1:' + process.env.COLOR;` },
      { Environment: { Variables: { COLOR: 'blue' } } },
    );
    const v1 = await lambda.send(new PublishVersionCommand({ FunctionName: name }));
    assert.equal(v1.Version, '1');
    await lambda.send(
      new UpdateFunctionCodeCommand({
        FunctionName: name,
        ZipFile: await zip({ 'index.mjs': `export const handler = async () => 'v2:' + process.env.COLOR;` }),
      }),
    );
    await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: name, Environment: { Variables: { COLOR: 'green' } } }));
    assert.equal(json((await invoke(name, {})).Payload), 'v2:green');
    const old = await invoke(name, {}, { Qualifier: '1' });
    assert.equal(old.ExecutedVersion, '1');
    assert.equal(json(old.Payload), 'v1:blue');
    const got = await lambda.send(new GetFunctionCommand({ FunctionName: name }));
    assert.equal(got.Configuration!.Environment!.Variables!.COLOR, 'green');
    assert.equal(got.Configuration!.State, 'Active');
  });

  test('API errors as AWS answers them', async () => {
    const name = await create({ 'index.mjs': 'export const handler = async () => 1;' });
    const dup = await failure(
      lambda.send(
        new CreateFunctionCommand({
          FunctionName: name,
          Runtime: 'nodejs20.x',
          Handler: 'index.handler',
          Role: ROLE,
          Code: { ZipFile: await zip({ a: 'b' }) },
        }),
      ),
    );
    assert.deepEqual([dup.name, dup.status], ['ResourceConflictException', 409]);
    const missing = await failure(invoke('no-such-function', {}));
    assert.deepEqual([missing.name, missing.status], ['ResourceNotFoundException', 404]);
    assert.equal(missing.message, 'Function not found: arn:aws:lambda:us-east-1:000000000000:function:no-such-function');
    const reserved = await failure(
      lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: name, Environment: { Variables: { AWS_REGION: 'x' } } })),
    );
    assert.equal(reserved.name, 'InvalidParameterValueException');
    assert.match(reserved.message, /Reserved keys used in this request: AWS_REGION/);
    const badJson = await failure(lambda.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from('{not json') })));
    assert.equal(badJson.name, 'InvalidRequestContentException');
    const notZip = await failure(
      lambda.send(
        new CreateFunctionCommand({
          FunctionName: unique('bad'),
          Runtime: 'nodejs20.x',
          Handler: 'index.handler',
          Role: ROLE,
          Code: { ZipFile: Buffer.from('not a zip') },
        }),
      ),
    );
    assert.equal(notZip.name, 'InvalidParameterValueException');
    const old = await failure(
      lambda.send(
        new CreateFunctionCommand({
          FunctionName: unique('old'),
          Runtime: 'nodejs12.x',
          Handler: 'index.handler',
          Role: ROLE,
          Code: { ZipFile: await zip({ a: 'b' }) },
        }),
      ),
    );
    assert.match(old.message, /nodejs12.x is no longer supported/);
    await lambda.send(new DeleteFunctionCommand({ FunctionName: name }));
    assert.equal((await failure(lambda.send(new GetFunctionCommand({ FunctionName: name })))).name, 'ResourceNotFoundException');
  });

  test('aws CLI walkthrough; functions survive kill -9', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lambda-cli-'));
    writeFileSync(join(dir, 'fn.zip'), await zip({ 'index.mjs': 'export const handler = async (e) => ({ hello: e.name });' }));
    const name = unique('greet');
    const created = await awsCli(box.url, [
      'lambda',
      'create-function',
      '--function-name',
      name,
      '--runtime',
      'nodejs20.x',
      '--handler',
      'index.handler',
      '--zip-file',
      `fileb://${join(dir, 'fn.zip')}`,
      '--role',
      ROLE,
      '--region',
      'us-east-1',
    ]);
    assert.equal(created.code, 0, created.stderr);
    const out = join(dir, 'out.json');
    const invoked = await awsCli(box.url, [
      'lambda',
      'invoke',
      '--function-name',
      name,
      '--payload',
      '{"name":"ops"}',
      '--cli-binary-format',
      'raw-in-base64-out',
      out,
      '--region',
      'us-east-1',
    ]);
    assert.equal(invoked.code, 0, invoked.stderr);
    assert.equal(JSON.parse(invoked.stdout).StatusCode, 200);
    const { readFileSync } = await import('node:fs');
    assert.deepEqual(JSON.parse(readFileSync(out, 'utf8')), { hello: 'ops' });

    await box.kill9();
    box = await startOpsbox({ dataDir: box.dataDir });
    lambda.destroy();
    lambda = new LambdaClient(clientConfig(box.url));
    const listed = (await lambda.send(new ListFunctionsCommand({}))).Functions!.map((f) => f.FunctionName);
    assert.ok(listed.includes(name));
    assert.deepEqual(json((await invoke(name, { name: 'after restart' })).Payload), { hello: 'after restart' });
  });
});
