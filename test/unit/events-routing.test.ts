/**
 * EventBridge routing in-process (real gateway, ManualClock): rules on the internal bus, PutEvents,
 * input transformers, bus-to-bus targets, failing targets, and rate()/cron() schedules.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/core/clock.js';
import type { TargetInvocation } from '../../src/core/targets.js';
import { events, type EventsInstance } from '../../src/services/events/index.js';
import { InProcessOpsbox } from '../helpers/inProcess.js';

const ACCOUNT = '000000000000';
const clock = new ManualClock(Date.parse('2024-01-01T11:00:00Z'));
const gw = new InProcessOpsbox([events], clock);
const calls: TargetInvocation[] = [];
let seq = 0;
const name = (p: string) => `${p}-${++seq}`;
const fakeArn = (id: string) => `arn:aws:fake:us-east-1:${ACCOUNT}:thing/${id}`;
const received = (id: string) => calls.filter((c) => c.arn === fakeArn(id));

/** One awsJson1.1 call through the in-process gateway. */
async function call(op: string, input: unknown): Promise<{ status: number; body: any }> {
  const res = await gw.send({
    method: 'POST',
    url: '/',
    headers: {
      host: 'localhost',
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': `AWSEvents.${op}`,
      authorization: 'AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/events/aws4_request, SignedHeaders=host, Signature=00',
    },
    body: Buffer.from(JSON.stringify(input)),
  });
  const text = res.body().toString();
  return { status: res.statusCode, body: text ? JSON.parse(text) : {} };
}
async function ok(op: string, input: unknown) {
  const r = await call(op, input);
  assert.equal(r.status, 200, `${op}: ${JSON.stringify(r.body)}`);
  return r.body;
}
/** Lets queued routing (setImmediate) and target promises run. */
const flush = async () => {
  for (let i = 0; i < 4; i++) await new Promise((r) => setImmediate(r));
};
async function rule(ruleName: string, props: Record<string, unknown>, targets: Record<string, unknown>[]) {
  const { RuleArn } = await ok('PutRule', { Name: ruleName, ...props });
  if (targets.length) await ok('PutTargets', { Rule: ruleName, EventBusName: props.EventBusName, Targets: targets });
  return RuleArn as string;
}

before(() => {
  gw.env.targets.register('fake', (inv) => {
    if (inv.arn.endsWith('/broken')) throw new Error('target is down');
    calls.push(inv);
  });
});
after(() => gw.close());

describe('internal bus → rules', () => {
  test('an event a service publishes on env.bus reaches the target of a matching default-bus rule', async () => {
    const id = name('push');
    const arn = await rule(
      name('on-push'),
      { EventPattern: JSON.stringify({ source: ['aws.codecommit'], detail: { event: ['referenceUpdated'] } }) },
      [{ Id: 't', Arn: fakeArn(id) }],
    );
    const published = gw.env.bus.publish({
      source: 'aws.codecommit',
      'detail-type': 'CodeCommit Repository State Change',
      account: ACCOUNT,
      region: 'us-east-1',
      resources: ['arn:aws:codecommit:us-east-1:000000000000:repo'],
      detail: { event: 'referenceUpdated', referenceName: 'main' },
    });
    assert.equal(received(id).length, 0, 'delivery is asynchronous');
    await flush();
    const [inv] = received(id);
    assert.ok(inv);
    assert.equal(inv.source, 'events');
    assert.equal(inv.account, ACCOUNT);
    assert.equal(inv.options?.RuleArn, arn);
    assert.deepEqual(JSON.parse(inv.payload), published);
  });

  test('events of another region or a non-matching detail do not fire the rule', async () => {
    const id = name('other');
    await rule(name('r'), { EventPattern: JSON.stringify({ source: ['my.other'] }) }, [{ Id: 't', Arn: fakeArn(id) }]);
    gw.env.bus.publish({ source: 'my.other', 'detail-type': 'x', account: ACCOUNT, region: 'eu-west-1', resources: [], detail: {} });
    gw.env.bus.publish({ source: 'my.nope', 'detail-type': 'x', account: ACCOUNT, region: 'us-east-1', resources: [], detail: {} });
    await flush();
    assert.equal(received(id).length, 0);
  });

  test('delivery keeps the publishing order', async () => {
    const id = name('order');
    await rule(name('r'), { EventPattern: JSON.stringify({ source: ['my.order'] }) }, [{ Id: 't', Arn: fakeArn(id) }]);
    for (let i = 0; i < 20; i++)
      gw.env.bus.publish({ source: 'my.order', 'detail-type': 'n', account: ACCOUNT, region: 'us-east-1', resources: [], detail: { i } });
    await flush();
    assert.deepEqual(
      received(id).map((c) => JSON.parse(c.payload).detail.i),
      [...Array(20).keys()],
    );
  });
});

describe('PutEvents → rules → targets', () => {
  test('input transformer, constant Input and InputPath shape what each target receives', async () => {
    const [a, b, c] = [name('tr'), name('in'), name('path')];
    await rule(name('r'), { EventPattern: JSON.stringify({ source: ['shop.orders'], detail: { total: [{ numeric: ['>', 100] }] } }) }, [
      {
        Id: 'a',
        Arn: fakeArn(a),
        InputTransformer: {
          InputPathsMap: { order: '$.detail.id', total: '$.detail.total' },
          InputTemplate: '{"text": "order <order> is big", "total": <total>}',
        },
      },
      { Id: 'b', Arn: fakeArn(b), Input: '{"fixed":true}' },
      { Id: 'c', Arn: fakeArn(c), InputPath: '$.detail' },
    ]);
    const out = await ok('PutEvents', {
      Entries: [
        { Source: 'shop.orders', DetailType: 'Order Placed', Detail: JSON.stringify({ id: 'o-1', total: 250 }) },
        { Source: 'shop.orders', DetailType: 'Order Placed', Detail: JSON.stringify({ id: 'o-2', total: 5 }) },
      ],
    });
    assert.equal(out.FailedEntryCount, 0);
    assert.equal(out.Entries.length, 2);
    await flush();
    assert.deepEqual(
      received(a).map((x) => JSON.parse(x.payload)),
      [{ text: 'order o-1 is big', total: 250 }],
    );
    assert.deepEqual(
      received(b).map((x) => x.payload),
      ['{"fixed":true}'],
    );
    assert.deepEqual(
      received(c).map((x) => JSON.parse(x.payload)),
      [{ id: 'o-1', total: 250 }],
    );
  });

  test('a custom bus routes only its own rules; an events target forwards to another bus', async () => {
    const bus = name('bus');
    await ok('CreateEventBus', { Name: bus });
    const id = name('custom');
    await rule(name('r'), { EventBusName: bus, EventPattern: JSON.stringify({ source: ['fwd.test'] }) }, [{ Id: 't', Arn: fakeArn(id) }]);
    // default bus rule forwards to the custom bus
    await rule(name('fwd'), { EventPattern: JSON.stringify({ source: ['fwd.test'] }) }, [
      { Id: 'bus', Arn: `arn:aws:events:us-east-1:${ACCOUNT}:event-bus/${bus}` },
    ]);
    await ok('PutEvents', { Entries: [{ Source: 'fwd.test', DetailType: 'x', Detail: '{"via":"default"}' }] });
    await ok('PutEvents', { Entries: [{ Source: 'fwd.test', DetailType: 'x', Detail: '{"via":"custom"}', EventBusName: bus }] });
    await flush();
    assert.deepEqual(
      received(id)
        .map((x) => JSON.parse(x.payload).detail.via)
        .sort(),
      ['custom', 'default'],
    );
  });

  test('a failing target is counted and does not stop the others', async () => {
    const engine = gw.gateway.instance<EventsInstance>('events').engine;
    const failedBefore = engine.stats.failed;
    const id = name('healthy');
    await rule(name('r'), { EventPattern: JSON.stringify({ source: ['fail.test'] }) }, [
      { Id: 'broken', Arn: fakeArn('broken') },
      { Id: 'unknown', Arn: `arn:aws:nosuchservice:us-east-1:${ACCOUNT}:x` },
      { Id: 'ok', Arn: fakeArn(id) },
    ]);
    await ok('PutEvents', { Entries: [{ Source: 'fail.test', DetailType: 'x', Detail: '{}' }] });
    await flush();
    assert.equal(received(id).length, 1);
    assert.equal(engine.stats.failed - failedBefore, 2);
  });

  test('AWS/Events TriggeredRules, Invocations and FailedInvocations reach the metrics sink', async () => {
    const seen: { account: string; data: { metricName: string; dimensions?: { Name: string; Value: string }[]; value: number }[] }[] = [];
    gw.env.metrics.install((account, _region, data) => seen.push({ account, data }));
    const r = name('metered');
    await rule(r, { EventPattern: JSON.stringify({ source: ['metrics.test'] }) }, [
      { Id: 'ok', Arn: fakeArn(name('m')) },
      { Id: 'broken', Arn: fakeArn('broken') },
    ]);
    await ok('PutEvents', { Entries: [1, 2, 3].map(() => ({ Source: 'metrics.test', DetailType: 'x', Detail: '{}' })) });
    await flush();
    const points = seen.flatMap((s) => s.data).filter((d) => d.dimensions?.[0]?.Value === r);
    const sum = (m: string) => points.filter((d) => d.metricName === m).reduce((n, d) => n + d.value, 0);
    assert.equal(sum('TriggeredRules'), 3);
    assert.equal(sum('Invocations'), 6);
    assert.equal(sum('FailedInvocations'), 3);
    assert.equal(seen[0].account, ACCOUNT);
  });

  test('a disabled rule does not fire until enabled again', async () => {
    const id = name('dis');
    const r = name('r');
    await rule(r, { EventPattern: JSON.stringify({ source: ['dis.test'] }), State: 'DISABLED' }, [{ Id: 't', Arn: fakeArn(id) }]);
    await ok('PutEvents', { Entries: [{ Source: 'dis.test', DetailType: 'x', Detail: '{}' }] });
    await flush();
    assert.equal(received(id).length, 0);
    await ok('EnableRule', { Name: r });
    await ok('PutEvents', { Entries: [{ Source: 'dis.test', DetailType: 'x', Detail: '{}' }] });
    await flush();
    assert.equal(received(id).length, 1);
  });

  test('RemoveTargets stops delivery to the removed target', async () => {
    const id = name('rm');
    const r = name('r');
    await rule(r, { EventPattern: JSON.stringify({ source: ['rm.test'] }) }, [{ Id: 't', Arn: fakeArn(id) }]);
    await ok('RemoveTargets', { Rule: r, Ids: ['t'] });
    await ok('PutEvents', { Entries: [{ Source: 'rm.test', DetailType: 'x', Detail: '{}' }] });
    await flush();
    assert.equal(received(id).length, 0);
  });
});

describe('schedules on the injected clock', () => {
  test('rate(5 minutes) delivers a Scheduled Event every 5 minutes from creation', async () => {
    const id = name('rate');
    const arn = await rule(name('every5'), { ScheduleExpression: 'rate(5 minutes)' }, [{ Id: 't', Arn: fakeArn(id) }]);
    clock.advance(4 * 60_000);
    await flush();
    assert.equal(received(id).length, 0);
    clock.advance(60_000);
    await flush();
    assert.equal(received(id).length, 1);
    const e = JSON.parse(received(id)[0].payload);
    assert.equal(e.source, 'aws.events');
    assert.equal(e['detail-type'], 'Scheduled Event');
    assert.deepEqual(e.resources, [arn]);
    assert.deepEqual(e.detail, {});
    assert.equal(e.account, ACCOUNT);
    clock.advance(10 * 60_000);
    await flush();
    assert.equal(received(id).length, 3);
  });

  test('cron(0 12 * * ? *) fires at noon UTC; DisableRule stops it', async () => {
    const id = name('cron');
    const r = name('noon');
    const now = clock.now();
    const noon = new Date(now);
    noon.setUTCHours(12, 0, 0, 0);
    if (noon.getTime() <= now) noon.setUTCDate(noon.getUTCDate() + 1);
    await rule(r, { ScheduleExpression: 'cron(0 12 * * ? *)' }, [{ Id: 't', Arn: fakeArn(id) }]);
    clock.advance(noon.getTime() - now - 1);
    await flush();
    assert.equal(received(id).length, 0);
    clock.advance(1);
    await flush();
    assert.equal(received(id).length, 1);
    assert.equal(JSON.parse(received(id)[0].payload).time, noon.toISOString().replace('.000Z', 'Z'));
    clock.advance(24 * 3_600_000);
    await flush();
    assert.equal(received(id).length, 2);
    await ok('DisableRule', { Name: r });
    clock.advance(24 * 3_600_000);
    await flush();
    assert.equal(received(id).length, 2);
  });

  test('a schedule rule with an input transformer gets the rule name', async () => {
    const id = name('schedtr');
    const r = name('tr');
    await rule(r, { ScheduleExpression: 'rate(1 minute)' }, [
      {
        Id: 't',
        Arn: fakeArn(id),
        InputTransformer: { InputPathsMap: { t: '$.time' }, InputTemplate: '{"rule": <aws.events.rule-name>, "at": <t>}' },
      },
    ]);
    clock.advance(60_000);
    await flush();
    assert.equal(JSON.parse(received(id)[0].payload).rule, r);
  });
});
