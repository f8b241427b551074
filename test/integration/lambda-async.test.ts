/**
 * Lambda's asynchronous invocation and concurrency against a real opsbox process, with SDK v3 and
 * the aws CLI: a failing Event invocation retried (one then two "minutes" later, the minute scaled
 * by OPSBOX_LAMBDA_RETRY_DELAY_MS) and its invocation record delivered to an OnFailure SNS topic
 * with an http subscription; OnSuccess to another function; the DeadLetterConfig topic; reserved
 * concurrency (0 throttles, a limit of 1 refuses the second concurrent call, queued events wait);
 * queued and half-retried events surviving kill -9; event invoke config and provisioned
 * concurrency API errors. Functions report what they got by writing files the test reads.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  CreateFunctionCommand,
  DeleteFunctionConcurrencyCommand,
  DeleteFunctionEventInvokeConfigCommand,
  DeleteProvisionedConcurrencyConfigCommand,
  GetAccountSettingsCommand,
  GetFunctionCommand,
  GetFunctionConcurrencyCommand,
  GetFunctionEventInvokeConfigCommand,
  GetProvisionedConcurrencyConfigCommand,
  InvokeCommand,
  LambdaClient,
  ListFunctionEventInvokeConfigsCommand,
  ListProvisionedConcurrencyConfigsCommand,
  PublishVersionCommand,
  PutFunctionConcurrencyCommand,
  PutFunctionEventInvokeConfigCommand,
  PutProvisionedConcurrencyConfigCommand,
  UpdateFunctionEventInvokeConfigCommand,
} from '@aws-sdk/client-lambda';
import { CreateEventBusCommand, EventBridgeClient, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { ConfirmSubscriptionCommand, CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { httpEndpoint, type Endpoint } from '../helpers/sns.js';
import { awsCli, clientConfig, failure, startOpsbox, unique, type RunningOpsbox } from '../helpers/opsbox.js';
import { ROLE, zip } from '../helpers/lambda.js';
import { sleep, waitFor } from '../helpers/wait.js';

const MINUTE_MS = 150;

/** A handler that appends each event it gets to $OUT (one JSON line per attempt), then fails while $FAIL_UNTIL attempts have not passed. */
const RECORDER = `import { appendFileSync, readFileSync, existsSync } from 'node:fs';
export const handler = async (event) => {
  appendFileSync(process.env.OUT, JSON.stringify(event) + '\\n');
  const n = readFileSync(process.env.OUT, 'utf8').trim().split('\\n').length;
  if (n <= Number(process.env.FAIL_UNTIL ?? 0)) throw new Error('boom ' + n);
  if (process.env.SLEEP_MS) await new Promise((r) => setTimeout(r, Number(process.env.SLEEP_MS)));
  return { ok: n };
};`;

const lines = (file: string) =>
  existsSync(file)
    ? readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
    : [];

describe('lambda async invocation and concurrency', () => {
  let box: RunningOpsbox;
  let lambda: LambdaClient;
  let sns: SNSClient;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'opsbox-lambda-async-'));
    box = await startOpsbox({ env: { OPSBOX_LAMBDA_RETRY_DELAY_MS: String(MINUTE_MS) } });
    lambda = new LambdaClient(clientConfig(box.url));
    sns = new SNSClient(clientConfig(box.url));
  });
  after(async () => {
    lambda?.destroy();
    sns?.destroy();
    await box?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  async function create(
    client: LambdaClient,
    env: Record<string, string>,
    extra: Partial<ConstructorParameters<typeof CreateFunctionCommand>[0]> = {},
  ) {
    const name = unique('async');
    const out = await client.send(
      new CreateFunctionCommand({
        FunctionName: name,
        Runtime: 'nodejs20.x',
        Handler: 'index.handler',
        Role: ROLE,
        Code: { ZipFile: await zip({ 'index.mjs': RECORDER }) },
        Environment: { Variables: env },
        ...extra,
      }),
    );
    return { name, arn: out.FunctionArn! };
  }

  const event = (client: LambdaClient, name: string, payload: unknown) =>
    client.send(new InvokeCommand({ FunctionName: name, InvocationType: 'Event', Payload: Buffer.from(JSON.stringify(payload)) }));

  async function subscribedTopic(ep: Endpoint) {
    const topicArn = (await sns.send(new CreateTopicCommand({ Name: unique('dest') }))).TopicArn!;
    await sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'http', Endpoint: ep.url }));
    await waitFor(
      'the subscription confirmation',
      () => ep.of('SubscriptionConfirmation').length,
      (n) => n === 1,
      5000,
      10,
    );
    const token = JSON.parse(ep.of('SubscriptionConfirmation')[0].body).Token;
    await sns.send(new ConfirmSubscriptionCommand({ TopicArn: topicArn, Token: token }));
    return topicArn;
  }

  test('a failing Event invocation is retried twice, a minute then two apart, then its record goes to the OnFailure topic', async () => {
    const ep = await httpEndpoint();
    try {
      const topicArn = await subscribedTopic(ep);
      const out = join(dir, 'failing.jsonl');
      const fn = await create(lambda, { OUT: out, FAIL_UNTIL: '100' });
      const cfg = await lambda.send(
        new PutFunctionEventInvokeConfigCommand({ FunctionName: fn.name, DestinationConfig: { OnFailure: { Destination: topicArn } } }),
      );
      assert.equal(cfg.FunctionArn, `${fn.arn}:$LATEST`);
      assert.equal(cfg.DestinationConfig?.OnFailure?.Destination, topicArn);
      const t0 = Date.now();
      const res = await event(lambda, fn.name, { order: 42 });
      assert.equal(res.StatusCode, 202);
      const [n] = await waitFor(
        'the failure notification',
        () => ep.of('Notification'),
        (ns) => ns.length > 0,
        20_000,
      );
      const elapsed = Date.now() - t0;
      const attempts = lines(out);
      assert.equal(attempts.length, 3, 'one attempt and two retries');
      assert.deepEqual(attempts[2], { order: 42 });
      assert.ok(elapsed >= 3 * MINUTE_MS, `retries waited 1 + 2 minutes (${elapsed} ms)`);
      const record = JSON.parse(JSON.parse(n.body).Message);
      assert.equal(record.version, '1.0');
      assert.ok(!Number.isNaN(Date.parse(record.timestamp)));
      assert.deepEqual(record.requestContext, {
        requestId: res.$metadata.requestId,
        functionArn: `${fn.arn}:$LATEST`,
        condition: 'RetriesExhausted',
        approximateInvokeCount: 3,
      });
      assert.deepEqual(record.requestPayload, { order: 42 });
      assert.deepEqual(record.responseContext, { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' });
      assert.equal(record.responsePayload.errorType, 'Error');
      assert.equal(record.responsePayload.errorMessage, 'boom 3');
      await sleep(3 * MINUTE_MS);
      assert.equal(lines(out).length, 3, 'no attempt after the record was sent');
    } finally {
      await ep.close();
    }
  });

  test('MaximumRetryAttempts 0: one attempt; without a destination the DeadLetterConfig topic gets the event itself', async () => {
    const ep = await httpEndpoint();
    try {
      const topicArn = await subscribedTopic(ep);
      const out = join(dir, 'dlq.jsonl');
      const fn = await create(lambda, { OUT: out, FAIL_UNTIL: '100' }, { DeadLetterConfig: { TargetArn: topicArn } });
      assert.equal(
        (await lambda.send(new GetFunctionCommand({ FunctionName: fn.name }))).Configuration?.DeadLetterConfig?.TargetArn,
        topicArn,
      );
      await lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: fn.name, MaximumRetryAttempts: 0 }));
      await event(lambda, fn.name, { dead: 'letter' });
      const [n] = await waitFor(
        'the dead letter',
        () => ep.of('Notification'),
        (ns) => ns.length > 0,
        10_000,
      );
      assert.deepEqual(JSON.parse(JSON.parse(n.body).Message), { dead: 'letter' });
      assert.equal(lines(out).length, 1);
    } finally {
      await ep.close();
    }
  });

  test('OnSuccess to another function: it is invoked asynchronously with the Success record', async () => {
    const destOut = join(dir, 'success-dest.jsonl');
    const dest = await create(lambda, { OUT: destOut });
    const src = await create(lambda, { OUT: join(dir, 'success-src.jsonl') });
    await lambda.send(
      new PutFunctionEventInvokeConfigCommand({
        FunctionName: src.arn,
        MaximumRetryAttempts: 1,
        DestinationConfig: { OnSuccess: { Destination: dest.arn } },
      }),
    );
    const res = await event(lambda, src.name, { hello: 'world' });
    const [record] = await waitFor(
      'the destination function to run',
      () => lines(destOut),
      (l) => l.length > 0,
      15_000,
    );
    assert.equal(record.version, '1.0');
    assert.deepEqual(record.requestContext, {
      requestId: res.$metadata.requestId,
      functionArn: `${src.arn}:$LATEST`,
      condition: 'Success',
      approximateInvokeCount: 1,
    });
    assert.deepEqual(record.requestPayload, { hello: 'world' });
    assert.deepEqual(record.responseContext, { statusCode: 200, executedVersion: '$LATEST' });
    assert.deepEqual(record.responsePayload, { ok: 1 });
  });

  test('OnFailure to an EventBridge bus: a rule there hands the Lambda Function Invocation Result event to a function', async () => {
    const events = new EventBridgeClient(clientConfig(box.url));
    try {
      const sinkOut = join(dir, 'bus-sink.jsonl');
      const sink = await create(lambda, { OUT: sinkOut });
      const src = await create(lambda, { OUT: join(dir, 'bus-src.jsonl'), FAIL_UNTIL: '100' });
      const bus = unique('results');
      const busArn = (await events.send(new CreateEventBusCommand({ Name: bus }))).EventBusArn!;
      await events.send(
        new PutRuleCommand({
          Name: 'failures',
          EventBusName: bus,
          EventPattern: JSON.stringify({ source: ['lambda'], 'detail-type': ['Lambda Function Invocation Result - Failure'] }),
        }),
      );
      await events.send(new PutTargetsCommand({ Rule: 'failures', EventBusName: bus, Targets: [{ Id: 'sink', Arn: sink.arn }] }));
      await lambda.send(
        new PutFunctionEventInvokeConfigCommand({
          FunctionName: src.name,
          MaximumRetryAttempts: 0,
          DestinationConfig: { OnFailure: { Destination: busArn } },
        }),
      );
      await event(lambda, src.name, { via: 'bus' });
      const [e] = await waitFor(
        'the event from the bus',
        () => lines(sinkOut),
        (l) => l.length > 0,
        15_000,
      );
      assert.equal(e.source, 'lambda');
      assert.equal(e['detail-type'], 'Lambda Function Invocation Result - Failure');
      assert.deepEqual(e.resources, [busArn, `${src.arn}:$LATEST`]);
      assert.equal(e.detail.requestContext.condition, 'RetriesExhausted');
      assert.equal(e.detail.requestContext.approximateInvokeCount, 1);
      assert.deepEqual(e.detail.requestPayload, { via: 'bus' });
    } finally {
      events.destroy();
    }
  });

  test('reserved concurrency: 0 throttles synchronous calls (SDK and CLI) while Event invocations wait in the queue', async () => {
    const out = join(dir, 'reserved0.jsonl');
    const fn = await create(lambda, { OUT: out });
    const before = (await lambda.send(new GetAccountSettingsCommand({}))).AccountLimit!.UnreservedConcurrentExecutions!;
    assert.deepEqual(
      (await lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: fn.name, ReservedConcurrentExecutions: 0 })))
        .ReservedConcurrentExecutions,
      0,
    );
    assert.equal((await lambda.send(new GetFunctionConcurrencyCommand({ FunctionName: fn.name }))).ReservedConcurrentExecutions, 0);
    assert.equal((await lambda.send(new GetFunctionCommand({ FunctionName: fn.name }))).Concurrency?.ReservedConcurrentExecutions, 0);
    let err: any;
    try {
      await lambda.send(new InvokeCommand({ FunctionName: fn.name, Payload: Buffer.from('{}') }));
    } catch (e) {
      err = e;
    }
    assert.equal(err?.name, 'TooManyRequestsException');
    assert.equal(err.$metadata.httpStatusCode, 429);
    assert.equal(err.Reason, 'ReservedFunctionConcurrentInvocationLimitExceeded');
    assert.equal(err.message, 'Rate Exceeded.');
    const cli = await awsCli(
      box.url,
      ['lambda', 'invoke', '--function-name', fn.name, '--cli-read-timeout', '5', join(dir, 'cli-out.json')],
      {
        AWS_MAX_ATTEMPTS: '1',
      },
    );
    assert.notEqual(cli.code, 0);
    assert.match(cli.stderr, /TooManyRequestsException/);

    assert.equal((await event(lambda, fn.name, { queued: true })).StatusCode, 202);
    await sleep(4 * MINUTE_MS);
    assert.equal(lines(out).length, 0, 'a throttled event waits');
    const del = await awsCli(box.url, ['lambda', 'delete-function-concurrency', '--function-name', fn.name]);
    assert.equal(del.code, 0, del.stderr);
    assert.equal((await lambda.send(new GetFunctionCommand({ FunctionName: fn.name }))).Concurrency, undefined);
    await waitFor(
      'the queued event to run',
      () => lines(out),
      (l) => l.length === 1,
      10_000,
    );
    assert.deepEqual(lines(out)[0], { queued: true });

    // a reservation takes its share of the account's unreserved concurrency
    await lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: fn.name, ReservedConcurrentExecutions: 5 }));
    assert.equal((await lambda.send(new GetAccountSettingsCommand({}))).AccountLimit!.UnreservedConcurrentExecutions, before - 5);
    const tooMuch = await failure(
      lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: fn.name, ReservedConcurrentExecutions: before })),
    );
    assert.equal(tooMuch.name, 'InvalidParameterValueException');
    assert.match(tooMuch.message, /decreases account's UnreservedConcurrentExecution below its minimum value of \[100\]/);
    await lambda.send(new DeleteFunctionConcurrencyCommand({ FunctionName: fn.name }));
    assert.equal((await lambda.send(new GetAccountSettingsCommand({}))).AccountLimit!.UnreservedConcurrentExecutions, before);
  });

  test('reserved concurrency 1: a second concurrent call is throttled; queued events run one at a time', async () => {
    const out = join(dir, 'reserved1.jsonl');
    const fn = await create(lambda, { OUT: out, SLEEP_MS: '400' });
    await lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: fn.name, ReservedConcurrentExecutions: 1 }));
    const first = lambda.send(new InvokeCommand({ FunctionName: fn.name, Payload: Buffer.from('{"n":1}') }));
    await waitFor(
      'the first call to start',
      () => lines(out),
      (l) => l.length === 1,
      10_000,
      5,
    );
    const second = await failure(lambda.send(new InvokeCommand({ FunctionName: fn.name, Payload: Buffer.from('{"n":2}') })));
    assert.equal(second.status, 429);
    assert.equal((await first).StatusCode, 200);
    for (let i = 0; i < 3; i++) await event(lambda, fn.name, { e: i });
    const t0 = Date.now();
    await waitFor(
      'the queued events',
      () => lines(out),
      (l) => l.length === 4,
      15_000,
    );
    assert.ok(Date.now() - t0 >= 2 * 400, 'three 400 ms events one at a time');
  });

  test('event invoke config: CRUD with SDK and CLI, and AWS errors', async () => {
    const fn = await create(lambda, { OUT: join(dir, 'crud.jsonl') });
    const other = await create(lambda, { OUT: join(dir, 'crud-other.jsonl') });
    const noConfig = await failure(lambda.send(new GetFunctionEventInvokeConfigCommand({ FunctionName: fn.name })));
    assert.equal(noConfig.name, 'ResourceNotFoundException');
    assert.equal(noConfig.message, `The function ${fn.arn}:$LATEST doesn't have an EventInvokeConfig`);
    assert.equal(noConfig.status, 404);

    const empty = await failure(lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: fn.name })));
    assert.equal(empty.name, 'InvalidParameterValueException');
    assert.equal(empty.message, 'You must specify at least one of error handling or destination setting.');
    const retries = await failure(lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: fn.name, MaximumRetryAttempts: 3 })));
    assert.equal(retries.name, 'ValidationException');
    assert.match(
      retries.message,
      /Value '?3'? at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value less than or equal to 2/,
    );
    const age = await failure(
      lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: fn.name, MaximumEventAgeInSeconds: 30 })),
    );
    assert.equal(age.name, 'ValidationException');
    assert.match(age.message, /maximumEventAgeInSeconds/);
    const self = await failure(
      lambda.send(
        new PutFunctionEventInvokeConfigCommand({ FunctionName: fn.name, DestinationConfig: { OnFailure: { Destination: fn.arn } } }),
      ),
    );
    assert.equal(self.message, "You can't specify the function as a destination for itself.");
    const missingDest = `${fn.arn}-nope`;
    const gone = await failure(
      lambda.send(
        new PutFunctionEventInvokeConfigCommand({ FunctionName: fn.name, DestinationConfig: { OnSuccess: { Destination: missingDest } } }),
      ),
    );
    assert.equal(gone.message, `The destination ARN ${missingDest} is invalid.`);
    const bucket = 'arn:aws:s3:::some-bucket';
    const s3Success = await failure(
      lambda.send(
        new PutFunctionEventInvokeConfigCommand({ FunctionName: fn.name, DestinationConfig: { OnSuccess: { Destination: bucket } } }),
      ),
    );
    assert.equal(
      s3Success.message,
      `The provided destination config DestinationConfig(onSuccess=OnSuccess(destination=${bucket}), onFailure=null) is invalid.`,
    );
    const noFunction = await failure(
      lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'nope-nope', MaximumRetryAttempts: 1 })),
    );
    assert.equal(noFunction.name, 'ResourceNotFoundException');
    assert.equal(noFunction.message, "The function doesn't exist.");
    const noVersion = await failure(
      lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: fn.name, Qualifier: '7', MaximumRetryAttempts: 1 })),
    );
    assert.equal(noVersion.message, "The function doesn't exist.");
    const noUpdate = await failure(
      lambda.send(new UpdateFunctionEventInvokeConfigCommand({ FunctionName: fn.name, MaximumRetryAttempts: 1 })),
    );
    assert.equal(noUpdate.name, 'ResourceNotFoundException');

    // the CLI puts, the SDK updates one field and keeps the rest
    const put = await awsCli(box.url, [
      'lambda',
      'put-function-event-invoke-config',
      '--function-name',
      fn.name,
      '--maximum-event-age-in-seconds',
      '3600',
      '--destination-config',
      JSON.stringify({ OnFailure: { Destination: other.arn } }),
    ]);
    assert.equal(put.code, 0, put.stderr);
    const putOut = JSON.parse(put.stdout);
    assert.equal(putOut.MaximumEventAgeInSeconds, 3600);
    assert.ok(Math.abs(Date.parse(putOut.LastModified) - Date.now()) < 60_000, putOut.LastModified);
    const updated = await lambda.send(new UpdateFunctionEventInvokeConfigCommand({ FunctionName: fn.name, MaximumRetryAttempts: 1 }));
    assert.equal(updated.MaximumRetryAttempts, 1);
    assert.equal(updated.MaximumEventAgeInSeconds, 3600);
    assert.equal(updated.DestinationConfig?.OnFailure?.Destination, other.arn);
    assert.ok(updated.LastModified instanceof Date);

    const v = await lambda.send(new PublishVersionCommand({ FunctionName: fn.name }));
    await lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: `${fn.arn}:${v.Version}`, MaximumRetryAttempts: 0 }));
    const mismatch = await failure(
      lambda.send(new GetFunctionEventInvokeConfigCommand({ FunctionName: `${fn.arn}:${v.Version}`, Qualifier: '$LATEST' })),
    );
    assert.equal(mismatch.name, 'InvalidParameterValueException');
    const list = await awsCli(box.url, ['lambda', 'list-function-event-invoke-configs', '--function-name', fn.name]);
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(
      JSON.parse(list.stdout)
        .FunctionEventInvokeConfigs.map((c: any) => c.FunctionArn)
        .sort(),
      [`${fn.arn}:$LATEST`, `${fn.arn}:${v.Version}`].sort(),
    );
    const page = await lambda.send(new ListFunctionEventInvokeConfigsCommand({ FunctionName: fn.name, MaxItems: 1 }));
    assert.equal(page.FunctionEventInvokeConfigs?.length, 1);
    assert.ok(page.NextMarker);
    const rest = await lambda.send(new ListFunctionEventInvokeConfigsCommand({ FunctionName: fn.name, Marker: page.NextMarker }));
    assert.equal(rest.FunctionEventInvokeConfigs?.length, 1);
    assert.equal(rest.NextMarker, undefined);

    await lambda.send(new DeleteFunctionEventInvokeConfigCommand({ FunctionName: fn.name }));
    assert.equal(
      (await failure(lambda.send(new GetFunctionEventInvokeConfigCommand({ FunctionName: fn.name })))).name,
      'ResourceNotFoundException',
    );
    const again = await awsCli(box.url, ['lambda', 'delete-function-event-invoke-config', '--function-name', fn.name]);
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /ResourceNotFoundException.*doesn't have an EventInvokeConfig/);
    assert.equal(
      (await lambda.send(new GetFunctionEventInvokeConfigCommand({ FunctionName: fn.name, Qualifier: v.Version }))).MaximumRetryAttempts,
      0,
    );
  });

  test('provisioned concurrency configs: published versions only, recorded READY', async () => {
    const fn = await create(lambda, { OUT: join(dir, 'pc.jsonl') });
    const latest = await failure(
      lambda.send(
        new PutProvisionedConcurrencyConfigCommand({ FunctionName: fn.name, Qualifier: '$LATEST', ProvisionedConcurrentExecutions: 2 }),
      ),
    );
    assert.equal(latest.name, 'InvalidParameterValueException');
    assert.equal(latest.message, 'Provisioned Concurrency Configs cannot be applied to unpublished function versions.');
    const missing = await failure(
      lambda.send(
        new PutProvisionedConcurrencyConfigCommand({ FunctionName: fn.name, Qualifier: '9', ProvisionedConcurrentExecutions: 2 }),
      ),
    );
    assert.equal(missing.name, 'ResourceNotFoundException');
    assert.equal(missing.message, `Function not found: ${fn.arn}:9`);
    const v = (await lambda.send(new PublishVersionCommand({ FunctionName: fn.name }))).Version!;
    const put = await lambda.send(
      new PutProvisionedConcurrencyConfigCommand({ FunctionName: fn.name, Qualifier: v, ProvisionedConcurrentExecutions: 2 }),
    );
    assert.equal(put.$metadata.httpStatusCode, 202);
    assert.equal(put.RequestedProvisionedConcurrentExecutions, 2);
    assert.equal(put.Status, 'READY');
    const got = await lambda.send(new GetProvisionedConcurrencyConfigCommand({ FunctionName: fn.name, Qualifier: v }));
    assert.equal(got.AllocatedProvisionedConcurrentExecutions, 2);
    const list = await lambda.send(new ListProvisionedConcurrencyConfigsCommand({ FunctionName: fn.name }));
    assert.deepEqual(
      list.ProvisionedConcurrencyConfigs?.map((c) => c.FunctionArn),
      [`${fn.arn}:${v}`],
    );
    await lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: fn.name, ReservedConcurrentExecutions: 1 }));
    const over = await failure(
      lambda.send(new PutProvisionedConcurrencyConfigCommand({ FunctionName: fn.name, Qualifier: v, ProvisionedConcurrentExecutions: 3 })),
    );
    assert.equal(over.name, 'InvalidParameterValueException');
    await lambda.send(new DeleteProvisionedConcurrencyConfigCommand({ FunctionName: fn.name, Qualifier: v }));
    const none = await failure(lambda.send(new GetProvisionedConcurrencyConfigCommand({ FunctionName: fn.name, Qualifier: v })));
    assert.equal(none.name, 'ProvisionedConcurrencyConfigNotFoundException');
    assert.equal(none.status, 404);
  });
});

describe('lambda async invocation across kill -9', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'opsbox-lambda-async-kill-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('an acknowledged event waiting for concurrency, and one between retries, run after the restart', async () => {
    const env = { OPSBOX_LAMBDA_RETRY_DELAY_MS: '1500' };
    let box = await startOpsbox({ env });
    let lambda = new LambdaClient(clientConfig(box.url));
    try {
      const mk = async (name: string, vars: Record<string, string>) =>
        (
          await lambda.send(
            new CreateFunctionCommand({
              FunctionName: name,
              Runtime: 'nodejs20.x',
              Handler: 'index.handler',
              Role: ROLE,
              Code: { ZipFile: await zip({ 'index.mjs': RECORDER }) },
              Environment: { Variables: vars },
            }),
          )
        ).FunctionArn!;
      const waitingOut = join(dir, 'waiting.jsonl');
      const retryOut = join(dir, 'retry.jsonl');
      const destOut = join(dir, 'dest.jsonl');
      await mk('waiting', { OUT: waitingOut });
      await mk('retrying', { OUT: retryOut, FAIL_UNTIL: '1' });
      const destArn = await mk('dest', { OUT: destOut });
      await lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'waiting', ReservedConcurrentExecutions: 0 }));
      await lambda.send(
        new PutFunctionEventInvokeConfigCommand({ FunctionName: 'retrying', DestinationConfig: { OnSuccess: { Destination: destArn } } }),
      );
      assert.equal(
        (await lambda.send(new InvokeCommand({ FunctionName: 'waiting', InvocationType: 'Event', Payload: Buffer.from('{"w":1}') })))
          .StatusCode,
        202,
      );
      await lambda.send(new InvokeCommand({ FunctionName: 'retrying', InvocationType: 'Event', Payload: Buffer.from('{"r":1}') }));
      await waitFor(
        'the first, failing attempt',
        () => lines(retryOut),
        (l) => l.length === 1,
        10_000,
        10,
      );
      await box.kill9();
      lambda.destroy();

      box = await startOpsbox({ dataDir: box.dataDir, env });
      lambda = new LambdaClient(clientConfig(box.url));
      const [record] = await waitFor(
        'the retry after the restart and its OnSuccess record',
        () => lines(destOut),
        (l) => l.length === 1,
        20_000,
      );
      assert.equal(record.requestContext.condition, 'Success');
      assert.equal(record.requestContext.approximateInvokeCount, 2);
      assert.deepEqual(record.requestPayload, { r: 1 });
      assert.equal(lines(retryOut).length, 2);
      assert.equal(lines(waitingOut).length, 0);
      await lambda.send(new DeleteFunctionConcurrencyCommand({ FunctionName: 'waiting' }));
      await waitFor(
        'the event that waited across the kill',
        () => lines(waitingOut),
        (l) => l.length === 1,
        10_000,
      );
      assert.deepEqual(lines(waitingOut)[0], { w: 1 });
    } finally {
      lambda.destroy();
      await box.dispose();
      rmSync(box.dataDir, { recursive: true, force: true });
    }
  });
});
