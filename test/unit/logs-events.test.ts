/**
 * CloudWatch Logs handlers in-process with a ManualClock: the time boundaries of PutLogEvents,
 * retention applied to reads, the 1 MB GetLogEvents cap and FilterLogEvents' scan budget.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ManualClock } from '../../src/core/clock.js';
import { Store } from '../../src/core/store.js';
import { Tags } from '../../src/core/tags.js';
import type { ServiceEnv } from '../../src/gateway/service.js';
import type { RequestContext } from '../../src/gateway/context.js';
import { createLogs } from '../../src/services/logs/index.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

let dir: string;
let store: Store;
let clock: ManualClock;
let h: Required<ReturnType<typeof createLogs>['handlers']>;
let ctx: RequestContext;
let n = 0;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'logs-unit-'));
  store = new Store(dir);
  clock = new ManualClock(Date.UTC(2025, 0, 1));
  h = createLogs({ store, tags: new Tags(store), clock } as unknown as ServiceEnv).handlers as any;
  ctx = { account: '123456789012', region: 'us-east-1', clock } as unknown as RequestContext;
});

after(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

function fresh() {
  const logGroupName = `g${++n}`;
  h.CreateLogGroup({ logGroupName }, ctx);
  h.CreateLogStream({ logGroupName, logStreamName: 's' }, ctx);
  return { logGroupName, logStreamName: 's' };
}

test('PutLogEvents: exactly 14 days old and exactly 2 hours ahead are accepted; one ms beyond is rejected', () => {
  const ids = fresh();
  const now = clock.now();
  const out = h.PutLogEvents({ ...ids, logEvents: [{ timestamp: now - 14 * DAY, message: 'edge old' }] }, ctx) as any;
  assert.equal(out.rejectedLogEventsInfo, undefined);
  const old = h.PutLogEvents({ ...ids, logEvents: [{ timestamp: now - 14 * DAY - 1, message: 'too old' }] }, ctx) as any;
  assert.deepEqual(old.rejectedLogEventsInfo, {
    tooOldLogEventEndIndex: 1,
    expiredLogEventEndIndex: undefined,
    tooNewLogEventStartIndex: undefined,
  });
  const ahead = h.PutLogEvents(
    {
      ...ids,
      logEvents: [
        { timestamp: now + 2 * HOUR, message: 'edge new' },
        { timestamp: now + 2 * HOUR + 1, message: 'too new' },
      ],
    },
    ctx,
  ) as any;
  assert.equal(ahead.rejectedLogEventsInfo.tooNewLogEventStartIndex, 1);
  const got = h.GetLogEvents({ ...ids, startFromHead: true }, ctx) as any;
  assert.deepEqual(
    got.events.map((e: any) => e.message),
    ['edge old', 'edge new'],
  );
});

test('retention: events older than the retention period disappear from reads as time passes', () => {
  const ids = fresh();
  h.PutLogEvents({ ...ids, logEvents: [{ timestamp: clock.now(), message: 'short-lived' }] }, ctx);
  h.PutRetentionPolicy({ logGroupName: ids.logGroupName, retentionInDays: 1 }, ctx);
  assert.equal((h.GetLogEvents(ids, ctx) as any).events.length, 1);
  clock.advance(2 * DAY);
  assert.deepEqual((h.GetLogEvents(ids, ctx) as any).events, []);
  assert.deepEqual((h.FilterLogEvents({ logGroupName: ids.logGroupName }, ctx) as any).events, []);
  h.DeleteRetentionPolicy({ logGroupName: ids.logGroupName }, ctx);
  assert.equal((h.GetLogEvents(ids, ctx) as any).events.length, 1);
});

test('GetLogEvents: a page stops before 1 MB (messages + 26 bytes each); the forward token continues', () => {
  const ids = fresh();
  const big = 'x'.repeat(300_000);
  const t = clock.now();
  h.PutLogEvents({ ...ids, logEvents: [1, 2, 3].map((i) => ({ timestamp: t + i, message: big })) }, ctx);
  h.PutLogEvents({ ...ids, logEvents: [4, 5].map((i) => ({ timestamp: t + i, message: big })) }, ctx);
  const first = h.GetLogEvents({ ...ids, startFromHead: true }, ctx) as any;
  assert.equal(first.events.length, 3);
  const second = h.GetLogEvents({ ...ids, nextToken: first.nextForwardToken }, ctx) as any;
  assert.deepEqual(
    second.events.map((e: any) => e.timestamp - t),
    [4, 5],
  );
});

test('GetLogEvents: a malformed token → InvalidParameterException', () => {
  const ids = fresh();
  assert.throws(() => h.GetLogEvents({ ...ids, nextToken: 'f/nope' }, ctx), { code: 'InvalidParameterException' });
});

test('FilterLogEvents: a scan that exhausts its budget returns a nextToken, and the next page finds the match', () => {
  const ids = fresh();
  const t = clock.now() - HOUR;
  for (let b = 0; b < 11; b++) {
    const logEvents = Array.from({ length: 10_000 }, (_, i) => ({ timestamp: t + b * 10_000 + i, message: `noise ${i}` }));
    if (b === 10) logEvents[5000].message = 'NEEDLE';
    h.PutLogEvents({ ...ids, logEvents }, ctx);
  }
  const pages: any[] = [];
  let nextToken: string | undefined;
  do {
    const out = h.FilterLogEvents({ logGroupName: ids.logGroupName, filterPattern: 'NEEDLE', nextToken }, ctx) as any;
    pages.push(out);
    nextToken = out.nextToken;
  } while (nextToken);
  assert.equal(pages.length, 2);
  assert.deepEqual(pages[0].events, []);
  assert.deepEqual(
    pages[1].events.map((e: any) => e.message),
    ['NEEDLE'],
  );
});

test('events sharing one timestamp page in insertion order with GetLogEvents (both ways) and FilterLogEvents', () => {
  const ids = fresh();
  const t = clock.now();
  h.PutLogEvents({ ...ids, logEvents: [1, 2, 3, 4, 5].map((i) => ({ timestamp: t, message: `m${i}` })) }, ctx);
  const walk = (call: (token?: string) => any, next: (out: any) => string | undefined, prepend = false) => {
    const seen: string[] = [];
    let token: string | undefined;
    for (let k = 0; k < 6; k++) {
      const out = call(token);
      const msgs = out.events.map((e: any) => e.message);
      if (prepend) seen.unshift(...msgs);
      else seen.push(...msgs);
      const nt = next(out);
      if (nt === undefined || nt === token) break;
      token = nt;
    }
    return seen;
  };
  const all = ['m1', 'm2', 'm3', 'm4', 'm5'];
  assert.deepEqual(
    walk(
      (nextToken) => h.GetLogEvents({ ...ids, startFromHead: true, nextToken, limit: 2 }, ctx),
      (o) => o.nextForwardToken,
    ),
    all,
  );
  assert.deepEqual(
    walk(
      (nextToken) => h.GetLogEvents({ ...ids, nextToken, limit: 2 }, ctx),
      (o) => o.nextBackwardToken,
      true,
    ),
    all,
  );
  assert.deepEqual(
    walk(
      (nextToken) => h.FilterLogEvents({ logGroupName: ids.logGroupName, nextToken, limit: 2 }, ctx),
      (o) => o.nextToken,
    ),
    all,
  );
});

test('PutLogEvents: an empty message → InvalidParameterException naming its index', () => {
  const ids = fresh();
  assert.throws(
    () =>
      h.PutLogEvents(
        {
          ...ids,
          logEvents: [
            { timestamp: clock.now(), message: 'a' },
            { timestamp: clock.now(), message: '' },
          ],
        },
        ctx,
      ),
    {
      code: 'InvalidParameterException',
      message:
        "1 validation error detected: Value '' at 'logEvents.2.member.message' failed to satisfy constraint: Member must have length greater than or equal to 1",
    },
  );
});
