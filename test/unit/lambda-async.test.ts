/**
 * Lambda's asynchronous invocation engine on a ManualClock, with a real store and a stand-in for
 * the execution environments: the retry schedule (a minute, then two), records to OnFailure /
 * OnSuccess destinations, EventAgeExceeded for an event that waited for concurrency, the dead
 * letter target, shutdown mid-attempt. Also the pure parts: delays, records, destination events.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { BlobStore } from '../../src/core/blobs.js';
import { ManualClock } from '../../src/core/clock.js';
import { Metrics, type MetricDatum } from '../../src/core/metrics.js';
import { Store } from '../../src/core/store.js';
import type { Tags } from '../../src/core/tags.js';
import { Targets, type TargetInvocation } from '../../src/core/targets.js';
import {
  AsyncInvoker,
  destinationEvent,
  invocationRecord,
  retryDelay,
  settingsOf,
  throttleDelay,
  type InvocationRecord,
} from '../../src/services/lambda/async.js';
import { ConcurrencyLimits } from '../../src/services/lambda/concurrency.js';
import { nameOf } from '../../src/services/lambda/functions.js';
import type { InvocationResult } from '../../src/services/lambda/runtime/environments.js';
import {
  createAsyncTables,
  createLambdaStore,
  type AsyncTables,
  type FunctionDoc,
  type FunctionRow,
  type LambdaStore,
} from '../../src/services/lambda/store.js';

const MINUTE = 60_000;
const scope = { account: '111111111111', region: 'us-east-1' };

describe('async invocation: pure parts', () => {
  test('retries wait one minute, then two; throttled events back off from 1 s to 5 min', () => {
    assert.equal(retryDelay(1, MINUTE), 60_000);
    assert.equal(retryDelay(2, MINUTE), 120_000);
    assert.equal(retryDelay(1, 600), 600);
    assert.deepEqual(
      [1, 2, 3, 10, 30].map((n) => throttleDelay(n, MINUTE)),
      [1000, 2000, 4000, 300_000, 300_000],
    );
    assert.equal(throttleDelay(1, 60), 1, 'never 0: a throttled event is not due again in the same pass');
  });

  test('settings default to 2 retries and 6 hours', () => {
    assert.deepEqual(settingsOf(undefined), { retries: 2, maxAgeMs: 21_600_000, onSuccess: undefined, onFailure: undefined });
    assert.deepEqual(settingsOf({ MaximumRetryAttempts: 0, DestinationConfig: { OnFailure: { Destination: 'arn:x' }, OnSuccess: {} } }), {
      retries: 0,
      maxAgeMs: 21_600_000,
      onSuccess: undefined,
      onFailure: 'arn:x',
    });
  });

  test('the invocation record: JSON payloads embedded, others as strings, no response context without an attempt', () => {
    const r = invocationRecord({
      now: Date.parse('2026-01-01T00:00:00.123Z'),
      requestId: 'req',
      functionArn: 'arn:aws:lambda:us-east-1:111111111111:function:f:$LATEST',
      condition: 'RetriesExhausted',
      attempts: 3,
      requestPayload: Buffer.from('{"a":1}'),
      response: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled', payload: 'not json' },
    });
    assert.equal(r.timestamp, '2026-01-01T00:00:00.123Z');
    assert.deepEqual(r.requestPayload, { a: 1 });
    assert.deepEqual(r.responseContext, { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' });
    assert.equal(r.responsePayload, 'not json');
    const aged = invocationRecord({
      ...r.requestContext,
      now: 0,
      requestPayload: Buffer.from('[1]'),
      condition: 'EventAgeExceeded',
      attempts: 0,
    });
    assert.equal('responseContext' in aged, false);
    assert.equal('responsePayload' in aged, false);
    const e = destinationEvent(r, scope, 'arn:aws:events:us-east-1:111111111111:event-bus/default');
    assert.equal(e['detail-type'], 'Lambda Function Invocation Result - Failure');
    assert.equal(e.source, 'lambda');
    assert.equal(e.time, '2026-01-01T00:00:00Z');
    assert.deepEqual(e.resources, ['arn:aws:events:us-east-1:111111111111:event-bus/default', r.requestContext.functionArn]);
    assert.equal(e.detail, r);
  });
});

describe('async invocation engine', () => {
  let dir: string;
  let store: Store;
  let ls: LambdaStore;
  let tables: AsyncTables;
  let clock: ManualClock;
  let targets: Targets;
  let delivered: TargetInvocation[];
  let metrics: MetricDatum[];
  let outcomes: (Partial<InvocationResult> | 'hang')[];
  let runs: { fn: string; payload: string }[];
  let hung: (() => void)[];
  let engine: AsyncInvoker;
  let limits: ConcurrencyLimits;
  let n = 0;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'opsbox-lambda-async-unit-'));
    store = new Store(dir);
    ls = createLambdaStore(store, {} as BlobStore, {} as Tags);
    tables = createAsyncTables(store);
  });
  after(() => {
    engine?.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const flush = async () => {
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  };

  function newEngine() {
    limits = new ConcurrencyLimits(tables, 1000);
    const x = {
      resolve(s: typeof scope, name: string, qualifier: string | undefined) {
        const fn = ls.findFunction(s, nameOf(name));
        const q = qualifier ?? /:function:[^:]+:([^:]+)$/.exec(name)?.[1] ?? '$LATEST';
        const v = fn && ls.version(fn, q);
        if (!fn || !v) throw new Error('not found');
        return { fn, v, alias: undefined, qualifier: q };
      },
      async execute(_s: typeof scope, fn: FunctionRow, _v: unknown, payload: Buffer): Promise<InvocationResult> {
        runs.push({ fn: fn.name, payload: payload.toString() });
        const o = outcomes.shift() ?? {};
        if (o === 'hang') {
          await new Promise<void>((r) => hung.push(r));
          return {
            payload: Buffer.from('{"errorMessage":"opsbox is shutting down"}'),
            functionError: 'Unhandled',
            logTail: '',
            durationMs: 1,
          };
        }
        return { payload: Buffer.from('null'), logTail: '', durationMs: 1, ...o };
      },
      metrics: (_s: unknown, _fn: unknown, _v: unknown, _r: unknown, throttled: boolean) =>
        void (throttled && metrics.push({ namespace: 'AWS/Lambda', metricName: 'Throttles', value: 1 })),
      accountBusy: () => false,
    };
    const m = new Metrics();
    m.install((_a, _r, data) => metrics.push(...data));
    return new AsyncInvoker({ clock, targets, metrics: m }, tables, x, limits, { retryMinuteMs: MINUTE, parallel: 4 });
  }

  beforeEach(() => {
    clock = new ManualClock(Date.parse('2026-01-01T00:00:00Z'));
    targets = new Targets();
    delivered = [];
    targets.register('sns', (inv) => void delivered.push(inv));
    targets.register('events', (inv) => void delivered.push(inv));
    metrics = [];
    outcomes = [];
    runs = [];
    hung = [];
    engine?.close();
    engine = newEngine();
    engine.start();
  });

  const doc = (extra: Partial<FunctionDoc> = {}): FunctionDoc => ({
    Role: 'r',
    Runtime: 'nodejs20.x',
    Handler: 'index.handler',
    Description: '',
    Timeout: 3,
    MemorySize: 128,
    Environment: {},
    Architectures: ['x86_64'],
    PackageType: 'Zip',
    EphemeralStorage: 512,
    TracingMode: 'PassThrough',
    LastModified: '',
    RevisionId: 'rev',
    CodeSha256: '',
    CodeSize: 0,
    ...extra,
  });
  const fnNamed = (extra: Partial<FunctionDoc> = {}) => ls.insertFunction(scope, `f${++n}`, doc(extra), 'blob', clock.now());
  const failing = (message: string): Partial<InvocationResult> => ({
    payload: Buffer.from(JSON.stringify({ errorType: 'Error', errorMessage: message })),
    functionError: 'Unhandled',
  });
  const record = (i: number) => JSON.parse(delivered[i].payload) as InvocationRecord;

  test('a failing event runs again a minute later, then two minutes later, then goes to OnFailure', async () => {
    const fn = fnNamed();
    const topic = 'arn:aws:sns:us-east-1:111111111111:failures';
    tables.putEventConfig(fn.id, '$LATEST', { DestinationConfig: { OnFailure: { Destination: topic } } }, clock.now());
    outcomes.push(failing('one'), failing('two'), failing('three'));
    engine.enqueue(fn, '$LATEST', Buffer.from('{"k":1}'), 'req-1');
    await flush();
    assert.equal(runs.length, 1);
    clock.advance(MINUTE - 1);
    await flush();
    assert.equal(runs.length, 1, 'not before the minute');
    clock.advance(1);
    await flush();
    assert.equal(runs.length, 2);
    clock.advance(2 * MINUTE - 1);
    await flush();
    assert.equal(runs.length, 2);
    clock.advance(1);
    await flush();
    assert.equal(runs.length, 3);
    assert.equal(delivered.length, 1);
    assert.equal(delivered[0].arn, topic);
    const r = record(0);
    assert.deepEqual(r.requestContext, {
      requestId: 'req-1',
      functionArn: `arn:aws:lambda:us-east-1:111111111111:function:${fn.name}:$LATEST`,
      condition: 'RetriesExhausted',
      approximateInvokeCount: 3,
    });
    assert.deepEqual(r.responsePayload, { errorType: 'Error', errorMessage: 'three' });
    assert.equal(tables.queued(fn.id), 0);
    clock.advance(10 * MINUTE);
    await flush();
    assert.equal(runs.length, 3);
  });

  test('success goes to OnSuccess on an EventBridge bus as a Lambda Function Invocation Result event', async () => {
    const fn = fnNamed();
    const bus = 'arn:aws:events:us-east-1:111111111111:event-bus/results';
    tables.putEventConfig(
      fn.id,
      '$LATEST',
      { MaximumRetryAttempts: 0, DestinationConfig: { OnSuccess: { Destination: bus } } },
      clock.now(),
    );
    outcomes.push({ payload: Buffer.from('{"ok":true}') });
    engine.enqueue(fn, '$LATEST', Buffer.from('{}'), 'req-2');
    await flush();
    assert.equal(delivered.length, 1);
    const e = JSON.parse(delivered[0].payload);
    assert.equal(e['detail-type'], 'Lambda Function Invocation Result - Success');
    assert.equal(e.detail.requestContext.condition, 'Success');
    assert.deepEqual(e.detail.responsePayload, { ok: true });
    assert.deepEqual(e.resources[0], bus);
  });

  test('an event waiting for concurrency past MaximumEventAgeInSeconds goes to OnFailure as EventAgeExceeded, never run', async () => {
    const fn = fnNamed();
    tables.putReserved(fn.id, 0);
    const topic = 'arn:aws:sns:us-east-1:111111111111:aged';
    tables.putEventConfig(
      fn.id,
      '$LATEST',
      { MaximumEventAgeInSeconds: 60, DestinationConfig: { OnFailure: { Destination: topic } } },
      clock.now(),
    );
    engine.enqueue(fn, '$LATEST', Buffer.from('{"old":true}'), 'req-3');
    for (let t = 0; t < 61; t++) {
      clock.advance(1000);
      await flush();
    }
    assert.equal(runs.length, 0);
    assert.ok(metrics.filter((m) => m.metricName === 'Throttles').length >= 3);
    assert.equal(delivered.length, 1);
    const r = record(0);
    assert.equal(r.requestContext.condition, 'EventAgeExceeded');
    assert.equal(r.requestContext.approximateInvokeCount, 0);
    assert.equal('responseContext' in r, false);
    assert.equal(tables.queued(fn.id), 0);
  });

  test('a throttled event runs as soon as the reservation is lifted', async () => {
    const fn = fnNamed();
    tables.putReserved(fn.id, 0);
    engine.enqueue(fn, '$LATEST', Buffer.from('{}'), 'req-4');
    await flush();
    assert.equal(runs.length, 0);
    tables.deleteReserved(fn.id);
    engine.concurrencyChanged(fn);
    await flush();
    assert.equal(runs.length, 1);
  });

  test('without OnFailure, the function dead letter target gets the original event', async () => {
    const topic = 'arn:aws:sns:us-east-1:111111111111:dlq';
    const fn = fnNamed({ DeadLetterTarget: topic });
    tables.putEventConfig(fn.id, '$LATEST', { MaximumRetryAttempts: 0 }, clock.now());
    outcomes.push(failing('x'));
    engine.enqueue(fn, '$LATEST', Buffer.from('{"original":1}'), 'req-5');
    await flush();
    assert.equal(delivered.length, 1);
    assert.equal(delivered[0].arn, topic);
    assert.equal(delivered[0].payload, '{"original":1}');
  });

  test('a destination that cannot take the record is counted in DestinationDeliveryFailures', async () => {
    const fn = fnNamed();
    tables.putEventConfig(
      fn.id,
      '$LATEST',
      { DestinationConfig: { OnSuccess: { Destination: 'arn:aws:sqs:us-east-1:111111111111:q' } } },
      clock.now(),
    );
    engine.enqueue(fn, '$LATEST', Buffer.from('{}'), 'req-6');
    await flush();
    assert.equal(metrics.filter((m) => m.metricName === 'DestinationDeliveryFailures').length, 1);
    assert.equal(tables.queued(fn.id), 0);
  });

  test('an attempt cut short by shutdown does not count and runs again at the next start', async () => {
    const fn = fnNamed();
    const topic = 'arn:aws:sns:us-east-1:111111111111:after-restart';
    tables.putEventConfig(
      fn.id,
      '$LATEST',
      { MaximumRetryAttempts: 0, DestinationConfig: { OnSuccess: { Destination: topic } } },
      clock.now(),
    );
    outcomes.push('hang');
    engine.enqueue(fn, '$LATEST', Buffer.from('{}'), 'req-7');
    await flush();
    assert.equal(runs.length, 1);
    engine.close();
    for (const h of hung) h();
    await flush();
    assert.equal(delivered.length, 0, 'the failure of a stopped environment is not the function failing');
    engine = newEngine();
    engine.start();
    await flush();
    assert.equal(runs.length, 2);
    assert.equal(delivered.length, 1);
    assert.equal(record(0).requestContext.approximateInvokeCount, 1);
  });
});
