/**
 * EventBridge against a real opsbox process, driven by the aws CLI and by raw awsJson1.1 requests
 * (@aws-sdk/client-eventbridge is not installed). Delivery to targets and schedules are covered
 * in-process in test/unit/events-routing.test.ts.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { awsCli, startOpsbox, unique, type RunningOpsbox } from '../helpers/opsbox.js';

let box: RunningOpsbox;
before(async () => {
  box = await startOpsbox();
});
after(async () => {
  await box?.dispose();
});

/** `aws events …`; parsed JSON output, or the error text. */
async function cli(...args: string[]) {
  const r = await awsCli(box.url, ['events', ...args]);
  return { code: r.code, out: r.stdout.trim() ? JSON.parse(r.stdout) : {}, err: r.stderr };
}
async function cliOk(...args: string[]) {
  const r = await cli(...args);
  assert.equal(r.code, 0, r.err);
  return r.out;
}
async function cliFails(args: string[], code: string, message?: string | RegExp) {
  const r = await cli(...args);
  assert.notEqual(r.code, 0);
  assert.match(r.err, new RegExp(`\\(${code}\\)`));
  if (typeof message === 'string') assert.ok(r.err.includes(message), `${r.err} should include ${message}`);
  else if (message) assert.match(r.err, message);
}

/** A raw awsJson1.1 request, unsigned apart from the credential scope (opsbox's default auth mode). */
async function raw(op: string, input: unknown) {
  const res = await fetch(box.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': `AWSEvents.${op}`,
      authorization: 'AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/events/aws4_request, SignedHeaders=host, Signature=00',
    },
    body: JSON.stringify(input),
  });
  return { status: res.status, body: (await res.json()) as any };
}

const pattern = (p: unknown) => JSON.stringify(p);

describe('rules', () => {
  test('PutRule / DescribeRule / ListRules with the CLI', async () => {
    const name = unique('rule');
    const { RuleArn } = await cliOk(
      'put-rule',
      '--name',
      name,
      '--event-pattern',
      pattern({ source: ['aws.codecommit'] }),
      '--description',
      'on push',
    );
    assert.equal(RuleArn, `arn:aws:events:us-east-1:000000000000:rule/${name}`);
    const d = await cliOk('describe-rule', '--name', name);
    assert.equal(d.Name, name);
    assert.equal(d.State, 'ENABLED');
    assert.equal(d.EventBusName, 'default');
    assert.equal(d.Description, 'on push');
    assert.equal(JSON.parse(d.EventPattern).source[0], 'aws.codecommit');
    const l = await cliOk('list-rules', '--name-prefix', name);
    assert.deepEqual(
      l.Rules.map((r: any) => r.Name),
      [name],
    );
  });

  test('PutRule on an existing name replaces it (omitted fields are not kept)', async () => {
    const name = unique('rule');
    await cliOk('put-rule', '--name', name, '--event-pattern', pattern({ source: ['a'] }), '--description', 'first');
    await cliOk('put-rule', '--name', name, '--event-pattern', pattern({ source: ['b'] }), '--state', 'DISABLED');
    const d = await cliOk('describe-rule', '--name', name);
    assert.equal(d.State, 'DISABLED');
    assert.equal(d.Description, undefined);
    assert.equal(JSON.parse(d.EventPattern).source[0], 'b');
  });

  test('ListRules pages with Limit and NextToken', async () => {
    const prefix = unique('page');
    for (let i = 0; i < 5; i++) await raw('PutRule', { Name: `${prefix}-${i}`, EventPattern: pattern({ source: ['x'] }) });
    const seen: string[] = [];
    let token: string | undefined;
    do {
      const { body } = await raw('ListRules', { NamePrefix: prefix, Limit: 2, NextToken: token });
      assert.ok(body.Rules.length <= 2);
      seen.push(...body.Rules.map((r: any) => r.Name));
      token = body.NextToken;
    } while (token);
    assert.deepEqual(
      seen,
      [0, 1, 2, 3, 4].map((i) => `${prefix}-${i}`),
    );
  });

  test('PutRule: invalid event pattern → InvalidEventPatternException with AWS reason', async () => {
    await cliFails(
      ['put-rule', '--name', unique('bad'), '--event-pattern', pattern({ source: 'aws.ec2' })],
      'InvalidEventPatternException',
      'Event pattern is not valid. Reason: "source" must be an object or an array',
    );
    await cliFails(
      ['put-rule', '--name', unique('bad'), '--event-pattern', pattern({ detail: {} })],
      'InvalidEventPatternException',
      'Empty objects are not allowed',
    );
    // not JSON: Jackson's words and location, as Event Ruler reports them (not JavaScript's "Unexpected end of JSON input")
    await cliFails(
      ['put-rule', '--name', unique('bad'), '--event-pattern', '{"source": ["aws.ec2"'],
      'InvalidEventPatternException',
      'Event pattern is not valid. Reason: Unexpected end-of-input: expected close marker for Array (start marker at [Source: (String)"{"source": ["aws.ec2""; line: 1, column: 12])',
    );
    const bad = await raw('PutRule', { Name: unique('bad'), EventPattern: "{'source': ['aws.ec2']}" });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.__type, 'InvalidEventPatternException');
    assert.equal(
      bad.body.message ?? bad.body.Message,
      `Event pattern is not valid. Reason: Unexpected character (''' (code 39)): was expecting double-quote to start field name\n at [Source: (String)"{'source': ['aws.ec2']}"; line: 1, column: 3]`,
    );
  });

  test('PutRule: schedule expressions are validated; only the default bus takes them', async () => {
    await cliOk('put-rule', '--name', unique('rate'), '--schedule-expression', 'rate(5 minutes)');
    await cliOk('put-rule', '--name', unique('cron'), '--schedule-expression', 'cron(0 12 * * ? *)');
    await cliFails(
      ['put-rule', '--name', unique('bad'), '--schedule-expression', 'rate(5 minute)'],
      'ValidationException',
      'Parameter ScheduleExpression is not valid.',
    );
    await cliFails(
      ['put-rule', '--name', unique('bad'), '--schedule-expression', 'cron(0 12 * * * *)'],
      'ValidationException',
      'Parameter ScheduleExpression is not valid.',
    );
    const bus = unique('bus');
    await cliOk('create-event-bus', '--name', bus);
    await cliFails(
      ['put-rule', '--name', unique('bad'), '--event-bus-name', bus, '--schedule-expression', 'rate(1 day)'],
      'ValidationException',
      'ScheduleExpression is supported only on the default event bus.',
    );
  });

  test('PutRule: neither pattern nor schedule → ValidationException', async () => {
    await cliFails(
      ['put-rule', '--name', unique('none')],
      'ValidationException',
      'Parameter(s) EventPattern or ScheduleExpression must be specified.',
    );
  });

  test('PutRule: bad name → ValidationException from the model constraints', async () => {
    await cliFails(
      ['put-rule', '--name', 'no spaces', '--schedule-expression', 'rate(1 day)'],
      'ValidationException',
      /failed to satisfy constraint: Member must satisfy regular expression pattern/,
    );
  });

  test('DescribeRule: unknown rule → ResourceNotFoundException', async () => {
    const name = unique('ghost');
    await cliFails(['describe-rule', '--name', name], 'ResourceNotFoundException', `Rule ${name} does not exist on EventBus default.`);
  });

  test('DeleteRule: fails while targets remain, succeeds after RemoveTargets', async () => {
    const name = unique('del');
    await cliOk('put-rule', '--name', name, '--event-pattern', pattern({ source: ['x'] }));
    await cliOk('put-targets', '--rule', name, '--targets', 'Id=t1,Arn=arn:aws:sns:us-east-1:000000000000:topic');
    await cliFails(['delete-rule', '--name', name], 'ValidationException', "Rule can't be deleted since it has targets.");
    await cliOk('remove-targets', '--rule', name, '--ids', 't1');
    await cliOk('delete-rule', '--name', name);
    await cliFails(['describe-rule', '--name', name], 'ResourceNotFoundException');
  });

  test('EnableRule / DisableRule switch the state', async () => {
    const name = unique('toggle');
    await cliOk('put-rule', '--name', name, '--event-pattern', pattern({ source: ['x'] }));
    await cliOk('disable-rule', '--name', name);
    assert.equal((await cliOk('describe-rule', '--name', name)).State, 'DISABLED');
    await cliOk('enable-rule', '--name', name);
    assert.equal((await cliOk('describe-rule', '--name', name)).State, 'ENABLED');
  });

  test('TestEventPattern: match, no match, invalid pattern', async () => {
    const event = JSON.stringify({
      id: '1',
      account: '123456789012',
      source: 'aws.ec2',
      time: '2024-01-01T00:00:00Z',
      region: 'us-east-1',
      'detail-type': 'x',
      resources: [],
      detail: { state: 'running', count: 3 },
    });
    const t = await cliOk(
      'test-event-pattern',
      '--event-pattern',
      pattern({ source: ['aws.ec2'], detail: { count: [{ numeric: ['>', 2] }] } }),
      '--event',
      event,
    );
    assert.equal(t.Result, true);
    const f = await cliOk(
      'test-event-pattern',
      '--event-pattern',
      pattern({ detail: { state: [{ 'anything-but': 'running' }] } }),
      '--event',
      event,
    );
    assert.equal(f.Result, false);
    await cliFails(
      ['test-event-pattern', '--event-pattern', pattern({ source: [] }), '--event', event],
      'InvalidEventPatternException',
      'Empty arrays are not allowed',
    );
    const { status, body } = await raw('TestEventPattern', { EventPattern: '{"source": ["aws.ec2",]}', Event: event });
    assert.equal(status, 400);
    assert.equal(body.__type, 'InvalidEventPatternException');
    assert.match(
      body.message ?? body.Message,
      /^Event pattern is not valid\. Reason: Unexpected character \(']' \(code 93\)\): expected a valid value \(JSON String, Number, Array, Object or token 'null', 'true' or 'false'\)\n at \[Source: \(String\)"\{"source": \["aws\.ec2",\]\}"; line: 1, column: 24\]$/,
    );
    assert.doesNotMatch(body.message ?? body.Message, /JSON input|in JSON at position/);
    await cliFails(
      ['test-event-pattern', '--event-pattern', pattern({ source: ['x'] }), '--event', '{"source":"x"}'],
      'ValidationException',
      'Parameter Event is not valid.',
    );
  });
});

describe('targets', () => {
  test('PutTargets / ListTargetsByRule keep every target field', async () => {
    const name = unique('tg');
    await cliOk('put-rule', '--name', name, '--event-pattern', pattern({ source: ['x'] }));
    const targets = [
      { Id: 'a', Arn: 'arn:aws:sns:us-east-1:000000000000:a', Input: '{"k":1}' },
      {
        Id: 'b',
        Arn: 'arn:aws:codebuild:us-east-1:000000000000:project/p',
        RoleArn: 'arn:aws:iam::000000000000:role/r',
        InputPath: '$.detail',
      },
      {
        Id: 'c',
        Arn: 'arn:aws:codepipeline:us-east-1:000000000000:pipe',
        InputTransformer: { InputPathsMap: { s: '$.source' }, InputTemplate: '"from <s>"' },
      },
    ];
    const r = await cliOk('put-targets', '--rule', name, '--targets', JSON.stringify(targets));
    assert.equal(r.FailedEntryCount, 0);
    const l = await cliOk('list-targets-by-rule', '--rule', name);
    assert.deepEqual(l.Targets, targets);
  });

  test('PutTargets: a rule takes at most 5 targets → LimitExceededException', async () => {
    const name = unique('lim');
    await cliOk('put-rule', '--name', name, '--event-pattern', pattern({ source: ['x'] }));
    const six = Array.from({ length: 6 }, (_, i) => ({ Id: `t${i}`, Arn: `arn:aws:sns:us-east-1:000000000000:t${i}` }));
    await cliFails(['put-targets', '--rule', name, '--targets', JSON.stringify(six)], 'LimitExceededException');
    await cliOk('put-targets', '--rule', name, '--targets', JSON.stringify(six.slice(0, 5)));
    // replacing an existing Id does not count twice
    await cliOk(
      'put-targets',
      '--rule',
      name,
      '--targets',
      JSON.stringify([{ Id: 't0', Arn: 'arn:aws:sns:us-east-1:000000000000:other' }]),
    );
  });

  test('PutTargets: malformed ARN, bad Input JSON, unknown rule → errors', async () => {
    const name = unique('badt');
    await cliOk('put-rule', '--name', name, '--event-pattern', pattern({ source: ['x'] }));
    await cliFails(
      ['put-targets', '--rule', name, '--targets', 'Id=t,Arn=not-an-arn'],
      'ValidationException',
      'Parameter not-an-arn is not valid. Reason: Provided Arn is not in correct format.',
    );
    await cliFails(
      [
        'put-targets',
        '--rule',
        name,
        '--targets',
        JSON.stringify([{ Id: 't', Arn: 'arn:aws:sns:us-east-1:000000000000:x', Input: '{nope' }]),
      ],
      'ValidationException',
    );
    await cliFails(
      ['put-targets', '--rule', unique('ghost'), '--targets', 'Id=t,Arn=arn:aws:sns:us-east-1:000000000000:x'],
      'ResourceNotFoundException',
    );
  });

  test('ListRuleNamesByTarget finds the rules pointing at an ARN', async () => {
    const arn = `arn:aws:sns:us-east-1:000000000000:${unique('topic')}`;
    const [a, b] = [unique('rbt'), unique('rbt')];
    for (const n of [a, b]) {
      await cliOk('put-rule', '--name', n, '--event-pattern', pattern({ source: ['x'] }));
      await cliOk('put-targets', '--rule', n, '--targets', `Id=t,Arn=${arn}`);
    }
    const r = await cliOk('list-rule-names-by-target', '--target-arn', arn);
    assert.deepEqual(r.RuleNames, [a, b].sort());
  });
});

describe('buses and tags', () => {
  test('the default bus exists; custom buses are created, listed, described, deleted', async () => {
    const d = await cliOk('describe-event-bus');
    assert.equal(d.Name, 'default');
    assert.equal(d.Arn, 'arn:aws:events:us-east-1:000000000000:event-bus/default');
    const name = unique('bus');
    const c = await cliOk('create-event-bus', '--name', name);
    assert.equal(c.EventBusArn, `arn:aws:events:us-east-1:000000000000:event-bus/${name}`);
    // Debian's CLI model predates Description; the current SDKs send it
    const described = await raw('CreateEventBus', { Name: `${name}-d`, Description: 'mine' });
    assert.equal(described.body.Description, 'mine');
    const dd = await raw('DescribeEventBus', { Name: `${name}-d` });
    assert.equal(dd.body.Description, 'mine');
    assert.equal(typeof dd.body.CreationTime, 'number');
    const up = await raw('UpdateEventBus', { Name: `${name}-d`, Description: 'changed' });
    assert.deepEqual(up.body, {
      Arn: `arn:aws:events:us-east-1:000000000000:event-bus/${name}-d`,
      Name: `${name}-d`,
      Description: 'changed',
    });
    assert.equal((await raw('DescribeEventBus', { Name: `${name}-d` })).body.Description, 'changed');
    await cliFails(['create-event-bus', '--name', name], 'ResourceAlreadyExistsException', `Event bus ${name} already exists.`);
    const l = await cliOk('list-event-buses', '--name-prefix', name);
    assert.deepEqual(
      l.EventBuses.map((b: any) => b.Name),
      [name, `${name}-d`],
    );
    const p = await raw('ListEventBuses', { NamePrefix: name, Limit: 1 });
    assert.deepEqual(
      p.body.EventBuses.map((b: any) => b.Name),
      [name],
    );
    const p2 = await raw('ListEventBuses', { NamePrefix: name, Limit: 1, NextToken: p.body.NextToken });
    assert.deepEqual(
      p2.body.EventBuses.map((b: any) => b.Name),
      [`${name}-d`],
    );
    assert.equal(p2.body.NextToken, undefined);
    await cliOk('put-rule', '--name', 'on-bus', '--event-bus-name', name, '--event-pattern', pattern({ source: ['x'] }));
    assert.deepEqual(
      (await cliOk('list-rules', '--event-bus-name', name)).Rules.map((r: any) => r.Name),
      ['on-bus'],
    );
    await cliOk('delete-event-bus', '--name', name);
    await cliFails(['describe-event-bus', '--name', name], 'ResourceNotFoundException', `Event bus ${name} does not exist.`);
    await cliFails(['list-rules', '--event-bus-name', name], 'ResourceNotFoundException');
  });

  test('DeleteEventBus: default → ValidationException', async () => {
    await cliFails(['delete-event-bus', '--name', 'default'], 'ValidationException', 'Cannot delete event bus default.');
  });

  test('TagResource / ListTagsForResource / UntagResource on a rule and a bus', async () => {
    const name = unique('tagged');
    const { RuleArn } = await cliOk(
      'put-rule',
      '--name',
      name,
      '--event-pattern',
      pattern({ source: ['x'] }),
      '--tags',
      'Key=team,Value=ops',
    );
    await cliOk('tag-resource', '--resource-arn', RuleArn, '--tags', 'Key=env,Value=prod');
    const t = await cliOk('list-tags-for-resource', '--resource-arn', RuleArn);
    assert.deepEqual(t.Tags, [
      { Key: 'team', Value: 'ops' },
      { Key: 'env', Value: 'prod' },
    ]);
    await cliOk('untag-resource', '--resource-arn', RuleArn, '--tag-keys', 'team');
    assert.deepEqual((await cliOk('list-tags-for-resource', '--resource-arn', RuleArn)).Tags, [{ Key: 'env', Value: 'prod' }]);
    const bus = unique('tbus');
    const { EventBusArn } = await cliOk('create-event-bus', '--name', bus, '--tags', 'Key=a,Value=1');
    assert.deepEqual((await cliOk('list-tags-for-resource', '--resource-arn', EventBusArn)).Tags, [{ Key: 'a', Value: '1' }]);
    await cliFails(
      ['list-tags-for-resource', '--resource-arn', `arn:aws:events:us-east-1:000000000000:rule/${unique('ghost')}`],
      'ResourceNotFoundException',
    );
  });
});

describe('PutEvents', () => {
  test('per-entry results: EventId for good entries, ErrorCode/ErrorMessage for bad ones', async () => {
    const entries = [
      { Source: 'my.app', DetailType: 'Thing', Detail: '{"a":1}' },
      { DetailType: 'Thing', Detail: '{}' },
      { Source: 'my.app', Detail: '{}' },
      { Source: 'my.app', DetailType: 'Thing', Detail: '{not json' },
      { Source: 'my.app', DetailType: 'Thing', Detail: '[1,2]' },
      { Source: 'aws.ec2', DetailType: 'Thing', Detail: '{}' },
      { Source: 'my.app', DetailType: 'Thing', Detail: '{}', EventBusName: unique('nobus') },
    ];
    const r = await cliOk('put-events', '--entries', JSON.stringify(entries));
    assert.equal(r.FailedEntryCount, 6);
    assert.match(r.Entries[0].EventId, /^[0-9a-f-]{36}$/);
    assert.deepEqual(r.Entries[1], {
      ErrorCode: 'InvalidArgument',
      ErrorMessage: 'Parameter Source is not valid. Reason: Source is a required argument.',
    });
    assert.deepEqual(r.Entries[2], {
      ErrorCode: 'InvalidArgument',
      ErrorMessage: 'Parameter DetailType is not valid. Reason: DetailType is a required argument.',
    });
    assert.deepEqual(r.Entries[3], { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' });
    assert.deepEqual(r.Entries[4], { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' });
    assert.equal(r.Entries[5].ErrorCode, 'NotAuthorizedForSourceException');
    assert.equal(r.Entries[6].ErrorCode, 'ResourceNotFoundException');
  });

  test('more than 10 entries → ValidationException', async () => {
    const entries = Array.from({ length: 11 }, () => ({ Source: 'my.app', DetailType: 'x', Detail: '{}' }));
    const r = await raw('PutEvents', { Entries: entries });
    assert.equal(r.status, 400);
    assert.equal(r.body.__type, 'ValidationException');
    assert.match(r.body.message, /Member must have length less than or equal to 10/);
  });

  test('entries over 256 KB in total → ValidationException', async () => {
    const big = JSON.stringify({ pad: 'x'.repeat(200_000) });
    const r = await raw('PutEvents', {
      Entries: [
        { Source: 'a', DetailType: 'b', Detail: big },
        { Source: 'a', DetailType: 'b', Detail: big },
      ],
    });
    assert.equal(r.status, 400);
    assert.equal(r.body.message, 'Total size of the entries in the request is over the limit.');
  });
});

describe('durability', () => {
  test('rules, targets, buses and tags survive kill -9', async () => {
    const dataBox = await startOpsbox();
    const prev = box;
    box = dataBox;
    try {
      const bus = unique('dbus');
      await cliOk('create-event-bus', '--name', bus);
      await cliOk(
        'put-rule',
        '--name',
        'durable',
        '--event-bus-name',
        bus,
        '--event-pattern',
        pattern({ source: ['x'] }),
        '--tags',
        'Key=k,Value=v',
      );
      await cliOk('put-rule', '--name', 'sched', '--schedule-expression', 'rate(1 hour)');
      await cliOk(
        'put-targets',
        '--rule',
        'durable',
        '--event-bus-name',
        bus,
        '--targets',
        JSON.stringify([{ Id: 't', Arn: 'arn:aws:sns:us-east-1:000000000000:x', Input: '{"a":1}' }]),
      );
      await dataBox.kill9();
      box = await startOpsbox({ dataDir: dataBox.dataDir });
      const d = await cliOk('describe-rule', '--name', 'durable', '--event-bus-name', bus);
      assert.equal(JSON.parse(d.EventPattern).source[0], 'x');
      assert.equal((await cliOk('describe-rule', '--name', 'sched')).ScheduleExpression, 'rate(1 hour)');
      const t = await cliOk('list-targets-by-rule', '--rule', 'durable', '--event-bus-name', bus);
      assert.deepEqual(t.Targets, [{ Id: 't', Arn: 'arn:aws:sns:us-east-1:000000000000:x', Input: '{"a":1}' }]);
      assert.deepEqual((await cliOk('list-tags-for-resource', '--resource-arn', d.Arn)).Tags, [{ Key: 'k', Value: 'v' }]);
      await box.dispose();
    } finally {
      box = prev;
    }
  });
});
