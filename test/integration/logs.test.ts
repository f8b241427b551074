/**
 * CloudWatch Logs against a real opsbox process, driven by SDK v3 and Debian's aws CLI v2:
 * groups, streams, PutLogEvents rules, GetLogEvents tokens, FilterLogEvents patterns,
 * `aws logs tail` (with and without --follow), account/region isolation and durability.
 */
import { spawn } from 'node:child_process';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  CreateLogStreamCommand,
  DeleteLogGroupCommand,
  DeleteLogStreamCommand,
  DeleteRetentionPolicyCommand,
  DescribeLogGroupsCommand,
  DescribeLogStreamsCommand,
  FilterLogEventsCommand,
  GetLogEventsCommand,
  ListTagsForResourceCommand,
  ListTagsLogGroupCommand,
  PutLogEventsCommand,
  PutRetentionPolicyCommand,
  TagLogGroupCommand,
  TagResourceCommand,
  UntagLogGroupCommand,
  UntagResourceCommand,
  paginateFilterLogEvents,
  type InputLogEvent,
} from '@aws-sdk/client-cloudwatch-logs';
import { awsCli, awsCliEnv, clientConfig, startOpsbox, unique, type RunningOpsbox } from '../helpers/opsbox.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const ACCOUNT = '000000000000';

let box: RunningOpsbox;
let logs: CloudWatchLogsClient;

before(async () => {
  box = await startOpsbox();
  logs = new CloudWatchLogsClient(clientConfig(box.url));
});

after(async () => {
  logs?.destroy();
  await box?.dispose();
});

/** The rejection of `p` as { name, message, status }. */
async function failure(p: Promise<unknown>) {
  try {
    await p;
  } catch (e: any) {
    return { name: e.name as string, message: e.message as string, status: e.$metadata?.httpStatusCode as number };
  }
  assert.fail('expected the call to fail');
}

async function groupWithStream(client = logs, prefix = 'grp') {
  const group = unique(prefix);
  const stream = unique('stream');
  await client.send(new CreateLogGroupCommand({ logGroupName: group }));
  await client.send(new CreateLogStreamCommand({ logGroupName: group, logStreamName: stream }));
  return { group, stream };
}

const put = (group: string, stream: string, logEvents: InputLogEvent[], client = logs) =>
  client.send(new PutLogEventsCommand({ logGroupName: group, logStreamName: stream, logEvents }));

describe('log groups', () => {
  test('CreateLogGroup → DescribeLogGroups shows arn (":*"), logGroupArn, creationTime, class', async () => {
    const name = unique('/app/svc');
    const t0 = Date.now();
    await logs.send(new CreateLogGroupCommand({ logGroupName: name }));
    const out = await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: name }));
    assert.equal(out.logGroups?.length, 1);
    const g = out.logGroups![0];
    assert.equal(g.logGroupName, name);
    assert.equal(g.arn, `arn:aws:logs:us-east-1:${ACCOUNT}:log-group:${name}:*`);
    assert.equal(g.logGroupArn, `arn:aws:logs:us-east-1:${ACCOUNT}:log-group:${name}`);
    assert.equal(g.logGroupClass, 'STANDARD');
    assert.equal(g.storedBytes, 0);
    assert.equal(g.retentionInDays, undefined);
    assert.ok(g.creationTime! >= t0 - 1000 && g.creationTime! <= Date.now() + 1000);
    assert.equal(out.nextToken, undefined);
  });

  test('CreateLogGroup: duplicate name → ResourceAlreadyExistsException 400', async () => {
    const name = unique('dup');
    await logs.send(new CreateLogGroupCommand({ logGroupName: name }));
    const err = await failure(logs.send(new CreateLogGroupCommand({ logGroupName: name })));
    assert.deepEqual(err, { name: 'ResourceAlreadyExistsException', message: 'The specified log group already exists', status: 400 });
  });

  test('CreateLogGroup: invalid name → InvalidParameterException naming the constraint', async () => {
    const err = await failure(logs.send(new CreateLogGroupCommand({ logGroupName: 'bad name!' })));
    assert.equal(err.name, 'InvalidParameterException');
    assert.match(
      err.message,
      /^1 validation error detected: Value 'bad name!' at 'logGroupName' failed to satisfy constraint: Member must satisfy regular expression pattern/,
    );
  });

  test('DeleteLogGroup: removes the group; again → ResourceNotFoundException', async () => {
    const { group, stream } = await groupWithStream();
    await put(group, stream, [{ timestamp: Date.now(), message: 'x' }]);
    await logs.send(new DeleteLogGroupCommand({ logGroupName: group }));
    const out = await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: group }));
    assert.deepEqual(out.logGroups, []);
    const err = await failure(logs.send(new DeleteLogGroupCommand({ logGroupName: group })));
    assert.deepEqual(err, { name: 'ResourceNotFoundException', message: 'The specified log group does not exist.', status: 400 });
  });

  test('DescribeLogGroups: sorted by name, limit + nextToken pages, logGroupNamePattern, limit > 50 rejected', async () => {
    const prefix = unique('page');
    const names = ['e', 'a', 'g', 'c', 'b', 'f', 'd'].map((s) => `${prefix}-${s}`);
    for (const n of names) await logs.send(new CreateLogGroupCommand({ logGroupName: n }));
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const out = await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: prefix, limit: 3, nextToken: token }));
      seen.push(...out.logGroups!.map((g) => g.logGroupName!));
      token = out.nextToken;
      pages++;
    } while (token);
    assert.equal(pages, 3);
    assert.deepEqual(seen, [...names].sort());

    const byPattern = await logs.send(new DescribeLogGroupsCommand({ logGroupNamePattern: prefix.slice(2).toUpperCase() + '-C' }));
    assert.deepEqual(
      byPattern.logGroups!.map((g) => g.logGroupName),
      [`${prefix}-c`],
    );

    const err = await failure(logs.send(new DescribeLogGroupsCommand({ limit: 51 })));
    assert.equal(err.name, 'InvalidParameterException');
    assert.match(err.message, /Value '51' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 50/);
  });

  test("PutRetentionPolicy / DeleteRetentionPolicy; a value outside AWS's set → InvalidParameterException", async () => {
    const name = unique('ret');
    await logs.send(new CreateLogGroupCommand({ logGroupName: name }));
    await logs.send(new PutRetentionPolicyCommand({ logGroupName: name, retentionInDays: 14 }));
    let g = (await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: name }))).logGroups![0];
    assert.equal(g.retentionInDays, 14);
    const err = await failure(logs.send(new PutRetentionPolicyCommand({ logGroupName: name, retentionInDays: 4 })));
    assert.equal(err.name, 'InvalidParameterException');
    assert.match(
      err.message,
      /Value '4' at 'retentionInDays' failed to satisfy constraint: Member must satisfy enum value set: \[1, 3, 5, 7, 14, 30/,
    );
    await logs.send(new DeleteRetentionPolicyCommand({ logGroupName: name }));
    g = (await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: name }))).logGroups![0];
    assert.equal(g.retentionInDays, undefined);
    const missing = await failure(logs.send(new PutRetentionPolicyCommand({ logGroupName: unique('nope'), retentionInDays: 7 })));
    assert.equal(missing.name, 'ResourceNotFoundException');
  });

  test('tags: CreateLogGroup tags, TagLogGroup/UntagLogGroup/ListTagsLogGroup and the ARN-based TagResource family', async () => {
    const name = unique('tags');
    await logs.send(new CreateLogGroupCommand({ logGroupName: name, tags: { team: 'core' } }));
    await logs.send(new TagLogGroupCommand({ logGroupName: name, tags: { env: 'dev' } }));
    assert.deepEqual((await logs.send(new ListTagsLogGroupCommand({ logGroupName: name }))).tags, { team: 'core', env: 'dev' });
    await logs.send(new UntagLogGroupCommand({ logGroupName: name, tags: ['team'] }));
    const arn = `arn:aws:logs:us-east-1:${ACCOUNT}:log-group:${name}`;
    await logs.send(new TagResourceCommand({ resourceArn: arn, tags: { cost: '42' } }));
    assert.deepEqual((await logs.send(new ListTagsForResourceCommand({ resourceArn: arn }))).tags, { env: 'dev', cost: '42' });
    await logs.send(new UntagResourceCommand({ resourceArn: arn, tagKeys: ['env'] }));
    assert.deepEqual((await logs.send(new ListTagsForResourceCommand({ resourceArn: `${arn}:*` }))).tags, { cost: '42' });
    const err = await failure(
      logs.send(new ListTagsForResourceCommand({ resourceArn: `arn:aws:logs:us-east-1:${ACCOUNT}:log-group:${unique('nope')}` })),
    );
    assert.equal(err.name, 'ResourceNotFoundException');
  });
});

describe('log streams', () => {
  test('CreateLogStream: duplicate → ResourceAlreadyExistsException; missing group → ResourceNotFoundException', async () => {
    const { group, stream } = await groupWithStream();
    const dup = await failure(logs.send(new CreateLogStreamCommand({ logGroupName: group, logStreamName: stream })));
    assert.deepEqual(dup, { name: 'ResourceAlreadyExistsException', message: 'The specified log stream already exists', status: 400 });
    const missing = await failure(logs.send(new CreateLogStreamCommand({ logGroupName: unique('nope'), logStreamName: 's' })));
    assert.deepEqual(missing, { name: 'ResourceNotFoundException', message: 'The specified log group does not exist.', status: 400 });
  });

  test('DescribeLogStreams: name order, prefix, limit + nextToken, descending; arn and event timestamps', async () => {
    const group = unique('streams');
    await logs.send(new CreateLogGroupCommand({ logGroupName: group }));
    for (const s of ['c', 'a', 'e', 'b', 'd', 'x1']) await logs.send(new CreateLogStreamCommand({ logGroupName: group, logStreamName: s }));
    const names: string[] = [];
    let token: string | undefined;
    do {
      const out = await logs.send(new DescribeLogStreamsCommand({ logGroupName: group, limit: 2, nextToken: token }));
      assert.ok(out.logStreams!.length <= 2);
      names.push(...out.logStreams!.map((s) => s.logStreamName!));
      token = out.nextToken;
    } while (token);
    assert.deepEqual(names, ['a', 'b', 'c', 'd', 'e', 'x1']);

    const desc = await logs.send(new DescribeLogStreamsCommand({ logGroupName: group, descending: true, limit: 3 }));
    assert.deepEqual(
      desc.logStreams!.map((s) => s.logStreamName),
      ['x1', 'e', 'd'],
    );
    const rest = await logs.send(new DescribeLogStreamsCommand({ logGroupName: group, descending: true, nextToken: desc.nextToken }));
    assert.deepEqual(
      rest.logStreams!.map((s) => s.logStreamName),
      ['c', 'b', 'a'],
    );

    const x = await logs.send(new DescribeLogStreamsCommand({ logGroupName: group, logStreamNamePrefix: 'x' }));
    assert.equal(x.logStreams!.length, 1);
    assert.equal(x.logStreams![0].arn, `arn:aws:logs:us-east-1:${ACCOUNT}:log-group:${group}:log-stream:x1`);
    assert.equal(x.logStreams![0].firstEventTimestamp, undefined);
  });

  test('DescribeLogStreams: orderBy LastEventTime (descending) and the first/last/ingestion timestamps', async () => {
    const group = unique('lastevent');
    await logs.send(new CreateLogGroupCommand({ logGroupName: group }));
    const now = Date.now();
    for (const [s, offset] of [
      ['old', 3000],
      ['new', 1000],
      ['mid', 2000],
    ] as const) {
      await logs.send(new CreateLogStreamCommand({ logGroupName: group, logStreamName: s }));
      await put(group, s, [
        { timestamp: now - offset - 500, message: 'first' },
        { timestamp: now - offset, message: 'last' },
      ]);
    }
    const out = await logs.send(new DescribeLogStreamsCommand({ logGroupName: group, orderBy: 'LastEventTime', descending: true }));
    assert.deepEqual(
      out.logStreams!.map((s) => s.logStreamName),
      ['new', 'mid', 'old'],
    );
    const newest = out.logStreams![0];
    assert.equal(newest.firstEventTimestamp, now - 1500);
    assert.equal(newest.lastEventTimestamp, now - 1000);
    assert.ok(newest.lastIngestionTime! >= now - 1000);
    assert.match(newest.uploadSequenceToken!, /^\d+$/);

    const paged = await logs.send(new DescribeLogStreamsCommand({ logGroupName: group, orderBy: 'LastEventTime', limit: 2 }));
    assert.deepEqual(
      paged.logStreams!.map((s) => s.logStreamName),
      ['old', 'mid'],
    );
    const page2 = await logs.send(
      new DescribeLogStreamsCommand({ logGroupName: group, orderBy: 'LastEventTime', limit: 2, nextToken: paged.nextToken }),
    );
    assert.deepEqual(
      page2.logStreams!.map((s) => s.logStreamName),
      ['new'],
    );
    assert.equal(page2.nextToken, undefined);

    const err = await failure(
      logs.send(new DescribeLogStreamsCommand({ logGroupName: group, orderBy: 'LastEventTime', logStreamNamePrefix: 'n' })),
    );
    assert.equal(err.name, 'InvalidParameterException');
  });

  test('DeleteLogStream: removes the stream and its events; again → ResourceNotFoundException', async () => {
    const { group, stream } = await groupWithStream();
    await put(group, stream, [{ timestamp: Date.now(), message: 'gone soon' }]);
    await logs.send(new DeleteLogStreamCommand({ logGroupName: group, logStreamName: stream }));
    const err = await failure(logs.send(new DeleteLogStreamCommand({ logGroupName: group, logStreamName: stream })));
    assert.deepEqual(err, { name: 'ResourceNotFoundException', message: 'The specified log stream does not exist.', status: 400 });
    const left = await logs.send(new FilterLogEventsCommand({ logGroupName: group }));
    assert.deepEqual(left.events, []);
  });
});

describe('PutLogEvents', () => {
  test('happy path: nextSequenceToken, events readable, sequence tokens accepted and ignored', async () => {
    const { group, stream } = await groupWithStream();
    const now = Date.now();
    const first = await put(group, stream, [
      { timestamp: now - 10, message: 'one' },
      { timestamp: now, message: 'two ✓' },
    ]);
    assert.match(first.nextSequenceToken!, /^\d+$/);
    assert.equal(first.rejectedLogEventsInfo, undefined);
    const second = await logs.send(
      new PutLogEventsCommand({
        logGroupName: group,
        logStreamName: stream,
        sequenceToken: 'whatever-stale',
        logEvents: [{ timestamp: now, message: 'three' }],
      }),
    );
    assert.notEqual(second.nextSequenceToken, first.nextSequenceToken);
    const got = await logs.send(new GetLogEventsCommand({ logGroupName: group, logStreamName: stream, startFromHead: true }));
    assert.deepEqual(
      got.events!.map((e) => [e.timestamp, e.message]),
      [
        [now - 10, 'one'],
        [now, 'two ✓'],
        [now, 'three'],
      ],
    );
    assert.ok(got.events!.every((e) => typeof e.ingestionTime === 'number'));
    const g = (await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: group }))).logGroups![0];
    assert.equal(g.storedBytes, Buffer.byteLength('one' + 'two ✓' + 'three'));
  });

  test("missing group / stream → ResourceNotFoundException with AWS's messages", async () => {
    const { group } = await groupWithStream();
    const noStream = await failure(put(group, unique('nope'), [{ timestamp: Date.now(), message: 'x' }]));
    assert.deepEqual(noStream, { name: 'ResourceNotFoundException', message: 'The specified log stream does not exist.', status: 400 });
    const noGroup = await failure(put(unique('nope'), 's', [{ timestamp: Date.now(), message: 'x' }]));
    assert.deepEqual(noGroup, { name: 'ResourceNotFoundException', message: 'The specified log group does not exist.', status: 400 });
  });

  test('events out of chronological order → InvalidParameterException', async () => {
    const { group, stream } = await groupWithStream();
    const now = Date.now();
    const err = await failure(
      put(group, stream, [
        { timestamp: now, message: 'b' },
        { timestamp: now - 1, message: 'a' },
      ]),
    );
    assert.deepEqual(err, {
      name: 'InvalidParameterException',
      message: 'Log events in a single PutLogEvents request must be in chronological order.',
      status: 400,
    });
  });

  test('a batch spanning more than 24 hours → InvalidParameterException', async () => {
    const { group, stream } = await groupWithStream();
    const now = Date.now();
    const err = await failure(
      put(group, stream, [
        { timestamp: now - DAY - 1, message: 'a' },
        { timestamp: now, message: 'b' },
      ]),
    );
    assert.deepEqual(err, {
      name: 'InvalidParameterException',
      message: 'The batch of log events in a single PutLogEvents request cannot span more than 24 hours.',
      status: 400,
    });
  });

  test('more than 1,048,576 bytes (messages + 26 per event) → InvalidParameterException; exactly the limit is accepted', async () => {
    const { group, stream } = await groupWithStream();
    const now = Date.now();
    const size = 1_048_576 / 4 - 26; // 4 events of exactly the limit
    const events = Array.from({ length: 4 }, () => ({ timestamp: now, message: 'x'.repeat(size) }));
    const ok = await put(group, stream, events);
    assert.equal(ok.rejectedLogEventsInfo, undefined);
    events[3].message += 'y';
    const err = await failure(put(group, stream, events));
    assert.deepEqual(err, {
      name: 'InvalidParameterException',
      message: 'Upload too large: 1048577 bytes exceeds limit of 1048576',
      status: 400,
    });
  });

  test('more than 10,000 events → InvalidParameterException', async () => {
    const { group, stream } = await groupWithStream();
    const now = Date.now();
    const err = await failure(
      put(
        group,
        stream,
        Array.from({ length: 10_001 }, () => ({ timestamp: now, message: 'm' })),
      ),
    );
    assert.equal(err.name, 'InvalidParameterException');
    assert.match(err.message, /at 'logEvents' failed to satisfy constraint: Member must have length less than or equal to 10000/);
  });

  test('events older than 14 days → rejectedLogEventsInfo.tooOldLogEventEndIndex, not stored', async () => {
    const { group, stream } = await groupWithStream();
    const old = Date.now() - 15 * DAY;
    const out = await put(group, stream, [
      { timestamp: old, message: 'a' },
      { timestamp: old + 1, message: 'b' },
    ]);
    assert.deepEqual(out.rejectedLogEventsInfo, { tooOldLogEventEndIndex: 2 });
    const got = await logs.send(new GetLogEventsCommand({ logGroupName: group, logStreamName: stream }));
    assert.deepEqual(got.events, []);
  });

  test('events more than 2 hours in the future → tooNewLogEventStartIndex; the rest is stored', async () => {
    const { group, stream } = await groupWithStream();
    const now = Date.now();
    const out = await put(group, stream, [
      { timestamp: now, message: 'ok' },
      { timestamp: now + HOUR, message: 'ok too' },
      { timestamp: now + 3 * HOUR, message: 'too new' },
    ]);
    assert.deepEqual(out.rejectedLogEventsInfo, { tooNewLogEventStartIndex: 2 });
    const got = await logs.send(new GetLogEventsCommand({ logGroupName: group, logStreamName: stream, startFromHead: true }));
    assert.deepEqual(
      got.events!.map((e) => e.message),
      ['ok', 'ok too'],
    );
  });

  test('events older than the retention period → expiredLogEventEndIndex (and tooOld), newer ones stored', async () => {
    const { group, stream } = await groupWithStream();
    await logs.send(new PutRetentionPolicyCommand({ logGroupName: group, retentionInDays: 1 }));
    const now = Date.now();
    const out = await put(group, stream, [
      { timestamp: now - DAY - 30 * 60_000, message: 'expired' },
      { timestamp: now - 31 * 60_000, message: 'kept' },
    ]);
    assert.deepEqual(out.rejectedLogEventsInfo, { tooOldLogEventEndIndex: 1, expiredLogEventEndIndex: 1 });
    const got = await logs.send(new GetLogEventsCommand({ logGroupName: group, logStreamName: stream }));
    assert.deepEqual(
      got.events!.map((e) => e.message),
      ['kept'],
    );
  });
});

describe('GetLogEvents', () => {
  let group: string;
  let stream: string;
  let base: number;
  const msg = (i: number) => `event ${String(i).padStart(2, '0')}`;

  before(async () => {
    ({ group, stream } = await groupWithStream(logs, 'paging'));
    base = Date.now() - HOUR;
    await put(
      group,
      stream,
      Array.from({ length: 25 }, (_, i) => ({ timestamp: base + i * 1000, message: msg(i) })),
    );
  });

  const get = (extra: Record<string, unknown>) =>
    logs.send(new GetLogEventsCommand({ logGroupName: group, logStreamName: stream, ...extra }));
  const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => msg(a + i));

  test('startFromHead pages forward with nextForwardToken; at the end the same token comes back', async () => {
    let out = await get({ startFromHead: true, limit: 10 });
    assert.deepEqual(
      out.events!.map((e) => e.message),
      range(0, 10),
    );
    assert.match(out.nextForwardToken!, /^f\/\d+$/);
    assert.match(out.nextBackwardToken!, /^b\/\d+$/);
    out = await get({ nextToken: out.nextForwardToken, limit: 10 });
    assert.deepEqual(
      out.events!.map((e) => e.message),
      range(10, 20),
    );
    out = await get({ nextToken: out.nextForwardToken, limit: 10 });
    assert.deepEqual(
      out.events!.map((e) => e.message),
      range(20, 25),
    );
    const end = await get({ nextToken: out.nextForwardToken, limit: 10 });
    assert.deepEqual(end.events, []);
    assert.equal(end.nextForwardToken, out.nextForwardToken);
    // a backward token from the middle goes back to what came before
    const back = await get({ nextToken: out.nextBackwardToken, limit: 3 });
    assert.deepEqual(
      back.events!.map((e) => e.message),
      range(17, 20),
    );
  });

  test('default (startFromHead false) returns the latest events; nextBackwardToken pages back to the start', async () => {
    let out = await get({ limit: 10 });
    assert.deepEqual(
      out.events!.map((e) => e.message),
      range(15, 25),
    );
    out = await get({ nextToken: out.nextBackwardToken, limit: 10 });
    assert.deepEqual(
      out.events!.map((e) => e.message),
      range(5, 15),
    );
    out = await get({ nextToken: out.nextBackwardToken, limit: 10 });
    assert.deepEqual(
      out.events!.map((e) => e.message),
      range(0, 5),
    );
    const start = await get({ nextToken: out.nextBackwardToken, limit: 10 });
    assert.deepEqual(start.events, []);
    assert.equal(start.nextBackwardToken, out.nextBackwardToken);
  });

  test('default limit returns everything (≤ 10,000) in ascending order', async () => {
    const out = await get({});
    assert.deepEqual(
      out.events!.map((e) => e.message),
      range(0, 25),
    );
  });

  test('startTime inclusive, endTime exclusive; logGroupIdentifier accepts an ARN', async () => {
    const arn = `arn:aws:logs:us-east-1:${ACCOUNT}:log-group:${group}`;
    const out = await logs.send(
      new GetLogEventsCommand({
        logGroupIdentifier: arn,
        logStreamName: stream,
        startTime: base + 5000,
        endTime: base + 9000,
        startFromHead: true,
      }),
    );
    assert.deepEqual(
      out.events!.map((e) => e.message),
      range(5, 9),
    );
  });

  test('missing stream → ResourceNotFoundException; limit 10001 → InvalidParameterException', async () => {
    const err = await failure(get({ logStreamName: unique('nope') }));
    assert.deepEqual(err, { name: 'ResourceNotFoundException', message: 'The specified log stream does not exist.', status: 400 });
    const lim = await failure(get({ limit: 10_001 }));
    assert.equal(lim.name, 'InvalidParameterException');
  });

  test('empty stream: no events, tokens still returned; polling the forward token later sees new events', async () => {
    const { group: g, stream: s } = await groupWithStream();
    const empty = await logs.send(new GetLogEventsCommand({ logGroupName: g, logStreamName: s }));
    assert.deepEqual(empty.events, []);
    assert.ok(empty.nextForwardToken && empty.nextBackwardToken);
    await put(g, s, [{ timestamp: Date.now(), message: 'late' }]);
    const later = await logs.send(new GetLogEventsCommand({ logGroupName: g, logStreamName: s, nextToken: empty.nextForwardToken }));
    assert.deepEqual(
      later.events!.map((e) => e.message),
      ['late'],
    );
  });
});

describe('FilterLogEvents', () => {
  let group: string;
  let base: number;

  before(async () => {
    group = unique('filter');
    await logs.send(new CreateLogGroupCommand({ logGroupName: group }));
    for (const s of ['web-1', 'web-2', 'worker']) await logs.send(new CreateLogStreamCommand({ logGroupName: group, logStreamName: s }));
    base = Date.now() - HOUR;
    // interleaved timestamps across streams
    await put(group, 'web-1', [
      { timestamp: base + 1, message: 'ERROR database timeout' },
      { timestamp: base + 4, message: '10.0.0.1 alice 500 1200' },
      { timestamp: base + 7, message: '{"level":"error","code":42}' },
    ]);
    await put(group, 'web-2', [
      { timestamp: base + 2, message: 'WARN disk almost full' },
      { timestamp: base + 5, message: '10.0.0.2 bob 200 300' },
      { timestamp: base + 8, message: '{"level":"info","code":7}' },
    ]);
    await put(group, 'worker', [
      { timestamp: base + 3, message: 'ERROR job failed' },
      { timestamp: base + 6, message: 'INFO job done' },
    ]);
  });

  const filter = async (extra: Record<string, unknown>) =>
    (await logs.send(new FilterLogEventsCommand({ logGroupName: group, ...extra }))).events!.map((e) => e.message);

  test('no pattern: every stream, ordered by timestamp, with logStreamName, ingestionTime and unique eventId', async () => {
    const out = await logs.send(new FilterLogEventsCommand({ logGroupName: group }));
    assert.deepEqual(
      out.events!.map((e) => e.timestamp! - base),
      [1, 2, 3, 4, 5, 6, 7, 8],
    );
    assert.deepEqual(
      out.events!.slice(0, 3).map((e) => e.logStreamName),
      ['web-1', 'web-2', 'worker'],
    );
    assert.equal(new Set(out.events!.map((e) => e.eventId)).size, 8);
    assert.ok(out.events!.every((e) => typeof e.ingestionTime === 'number' && e.eventId));
    assert.equal(out.nextToken, undefined);
  });

  test('terms, -exclusion and ?alternatives', async () => {
    assert.deepEqual(await filter({ filterPattern: 'ERROR' }), ['ERROR database timeout', 'ERROR job failed']);
    assert.deepEqual(await filter({ filterPattern: 'ERROR -timeout' }), ['ERROR job failed']);
    assert.deepEqual(await filter({ filterPattern: '?WARN ?INFO' }), ['WARN disk almost full', 'INFO job done']);
    assert.deepEqual(await filter({ filterPattern: '"job done"' }), ['INFO job done']);
  });

  test('JSON and space-delimited patterns', async () => {
    assert.deepEqual(await filter({ filterPattern: '{ $.level = "error" }' }), ['{"level":"error","code":42}']);
    assert.deepEqual(await filter({ filterPattern: '{ $.code > 10 || $.level = "info" }' }), [
      '{"level":"error","code":42}',
      '{"level":"info","code":7}',
    ]);
    assert.deepEqual(await filter({ filterPattern: '[ip, user, status = 5*, bytes > 1000]' }), ['10.0.0.1 alice 500 1200']);
  });

  test('logStreamNames, logStreamNamePrefix, startTime/endTime (both inclusive)', async () => {
    assert.equal((await filter({ logStreamNames: ['worker'] })).length, 2);
    assert.equal((await filter({ logStreamNamePrefix: 'web-' })).length, 6);
    assert.deepEqual(await filter({ logStreamNames: ['nope'] }), []);
    const window = await logs.send(new FilterLogEventsCommand({ logGroupName: group, startTime: base + 3, endTime: base + 5 }));
    assert.deepEqual(
      window.events!.map((e) => e.timestamp! - base),
      [3, 4, 5],
    );
  });

  test('limit + nextToken pages through every match exactly once (SDK paginator)', async () => {
    const seen: string[] = [];
    let pages = 0;
    for await (const page of paginateFilterLogEvents({ client: logs, pageSize: 3 }, { logGroupName: group })) {
      assert.ok(page.events!.length <= 3);
      seen.push(...page.events!.map((e) => e.eventId!));
      pages++;
    }
    assert.equal(seen.length, 8);
    assert.equal(new Set(seen).size, 8);
    assert.ok(pages >= 3);
  });

  test('invalid pattern → InvalidParameterException "Invalid filter pattern…"; both name and identifier → InvalidParameterException', async () => {
    const err = await failure(logs.send(new FilterLogEventsCommand({ logGroupName: group, filterPattern: '{ $.a = ' })));
    assert.equal(err.name, 'InvalidParameterException');
    assert.match(err.message, /^Invalid filter pattern/);
    const both = await failure(logs.send(new FilterLogEventsCommand({ logGroupName: group, logGroupIdentifier: group })));
    assert.equal(both.name, 'InvalidParameterException');
    const missing = await failure(logs.send(new FilterLogEventsCommand({ logGroupName: unique('nope') })));
    assert.deepEqual(missing, { name: 'ResourceNotFoundException', message: 'The specified log group does not exist.', status: 400 });
  });
});

describe('aws CLI', () => {
  test('aws logs tail GROUP prints recent events of every stream', async () => {
    const { group, stream } = await groupWithStream(logs, 'tail');
    const now = Date.now();
    await put(group, stream, [
      { timestamp: now - 2000, message: 'tail line one' },
      { timestamp: now - 1000, message: 'tail line two' },
    ]);
    const out = await awsCli(box.url, ['logs', 'tail', group, '--format', 'short']);
    assert.equal(out.code, 0, out.stderr);
    const lines = out.stdout.trim().split('\n');
    assert.equal(lines.length, 2);
    assert.match(lines[0], /tail line one$/);
    assert.match(lines[1], /tail line two$/);
  });

  test('aws logs tail GROUP --follow shows an event put while it is following', { timeout: 40_000 }, async () => {
    const { group, stream } = await groupWithStream(logs, 'follow');
    await put(group, stream, [{ timestamp: Date.now() - 1000, message: 'before follow' }]);
    const child = spawn('/usr/bin/aws', ['--endpoint-url', box.url, 'logs', 'tail', group, '--follow', '--format', 'short'], {
      env: awsCliEnv({ PYTHONUNBUFFERED: '1' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const waitFor = async (text: string, ms: number) => {
      const until = Date.now() + ms;
      while (!stdout.includes(text) && Date.now() < until && child.exitCode === null) await new Promise((r) => setTimeout(r, 100));
      return stdout.includes(text);
    };
    try {
      assert.ok(await waitFor('before follow', 15_000), `no initial event; stdout=${stdout} stderr=${stderr}`);
      await put(group, stream, [{ timestamp: Date.now(), message: 'during follow' }]);
      // the CLI polls every 5 seconds
      assert.ok(await waitFor('during follow', 15_000), `event put during --follow not shown; stdout=${stdout} stderr=${stderr}`);
      assert.equal(stdout.split('before follow').length, 2, 'the first event is shown exactly once');
    } finally {
      child.kill('SIGINT');
      await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
    }
  });

  test('aws logs create-log-group / put-log-events / get-log-events / filter-log-events round trip', async () => {
    const group = unique('cli');
    assert.equal((await awsCli(box.url, ['logs', 'create-log-group', '--log-group-name', group])).code, 0);
    assert.equal((await awsCli(box.url, ['logs', 'create-log-stream', '--log-group-name', group, '--log-stream-name', 's'])).code, 0);
    const now = Date.now();
    const putOut = await awsCli(box.url, [
      'logs',
      'put-log-events',
      '--log-group-name',
      group,
      '--log-stream-name',
      's',
      '--log-events',
      JSON.stringify([
        { timestamp: now, message: 'hello from cli' },
        { timestamp: now, message: 'ERROR from cli' },
      ]),
    ]);
    assert.equal(putOut.code, 0, putOut.stderr);
    assert.match(JSON.parse(putOut.stdout).nextSequenceToken, /^\d+$/);
    const got = JSON.parse((await awsCli(box.url, ['logs', 'get-log-events', '--log-group-name', group, '--log-stream-name', 's'])).stdout);
    assert.deepEqual(
      got.events.map((e: any) => e.message),
      ['hello from cli', 'ERROR from cli'],
    );
    const filtered = JSON.parse(
      (await awsCli(box.url, ['logs', 'filter-log-events', '--log-group-name', group, '--filter-pattern', 'ERROR'])).stdout,
    );
    assert.deepEqual(
      filtered.events.map((e: any) => e.message),
      ['ERROR from cli'],
    );
    const dup = await awsCli(box.url, ['logs', 'create-log-group', '--log-group-name', group]);
    assert.notEqual(dup.code, 0);
    assert.match(dup.stderr, /ResourceAlreadyExistsException.*The specified log group already exists/);
  });
});

describe('isolation and durability', () => {
  test("two accounts do not see each other's groups, streams or events", async () => {
    const a = new CloudWatchLogsClient(clientConfig(box.url, { accessKeyId: '111111111111' }));
    const b = new CloudWatchLogsClient(clientConfig(box.url, { accessKeyId: '222222222222' }));
    try {
      const name = unique('shared-name');
      await a.send(new CreateLogGroupCommand({ logGroupName: name }));
      assert.deepEqual((await b.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: name }))).logGroups, []);
      await b.send(new CreateLogGroupCommand({ logGroupName: name })); // same name, other account: no conflict
      await a.send(new CreateLogStreamCommand({ logGroupName: name, logStreamName: 's' }));
      await put(name, 's', [{ timestamp: Date.now(), message: 'only in a' }], a);
      const err = await failure(put(name, 's', [{ timestamp: Date.now(), message: 'x' }], b));
      assert.equal(err.name, 'ResourceNotFoundException');
      assert.deepEqual((await b.send(new FilterLogEventsCommand({ logGroupName: name }))).events, []);
      const ga = (await a.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: name }))).logGroups![0];
      assert.equal(ga.logGroupArn, `arn:aws:logs:us-east-1:111111111111:log-group:${name}`);
      // an ARN naming account a is not found from account b
      const cross = await failure(b.send(new ListTagsForResourceCommand({ resourceArn: ga.logGroupArn })));
      assert.equal(cross.name, 'ResourceNotFoundException');
    } finally {
      a.destroy();
      b.destroy();
    }
  });

  test("two regions do not see each other's groups", async () => {
    const west = new CloudWatchLogsClient(clientConfig(box.url, { region: 'eu-west-1' }));
    try {
      const name = unique('regional');
      await logs.send(new CreateLogGroupCommand({ logGroupName: name }));
      assert.deepEqual((await west.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: name }))).logGroups, []);
      await west.send(new CreateLogGroupCommand({ logGroupName: name }));
      const g = (await west.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: name }))).logGroups![0];
      assert.equal(g.logGroupArn, `arn:aws:logs:eu-west-1:${ACCOUNT}:log-group:${name}`);
      await west.send(new DeleteLogGroupCommand({ logGroupName: name }));
      assert.equal((await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: name }))).logGroups!.length, 1);
    } finally {
      west.destroy();
    }
  });

  // keep last: it replaces the shared opsbox with a restarted one on the same data dir
  test('groups, streams, events and retention survive kill -9 and a restart on the same data dir', async () => {
    const { group, stream } = await groupWithStream(logs, 'durable');
    await logs.send(new PutRetentionPolicyCommand({ logGroupName: group, retentionInDays: 30 }));
    const now = Date.now();
    await put(
      group,
      stream,
      Array.from({ length: 100 }, (_, i) => ({ timestamp: now - 100 + i, message: `durable ${i}` })),
    );
    const dataDir = box.dataDir;
    await box.kill9();
    logs.destroy();
    const restarted = await startOpsbox({ dataDir });
    const old = box;
    box = {
      ...restarted,
      dispose: async () => {
        await restarted.dispose();
        await old.dispose();
      },
    };
    logs = new CloudWatchLogsClient(clientConfig(box.url));
    const g = (await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: group }))).logGroups![0];
    assert.equal(g.retentionInDays, 30);
    const got = await logs.send(new GetLogEventsCommand({ logGroupName: group, logStreamName: stream, startFromHead: true }));
    assert.equal(got.events!.length, 100);
    assert.equal(got.events![99].message, 'durable 99');
    const more = await put(group, stream, [{ timestamp: Date.now(), message: 'after restart' }]);
    assert.match(more.nextSequenceToken!, /^\d+$/);
  });
});
