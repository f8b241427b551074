import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { nextFire, parseSchedule, ScheduleError } from '../../src/services/events/schedule.js';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString().replace('.000Z', 'Z'));
/** The next `n` firings of a cron after `from`. */
function fires(expr: string, from: string, n = 3): (string | undefined)[] {
  const s = parseSchedule(expr);
  const out: (string | undefined)[] = [];
  let t = at(from);
  for (let i = 0; i < n; i++) {
    const next = nextFire(s, t, 0);
    out.push(iso(next));
    if (next === undefined) break;
    t = next;
  }
  return out;
}
const invalid = (expr: string) => assert.throws(() => parseSchedule(expr), ScheduleError, expr);

describe('rate()', () => {
  test('rate(5 minutes) fires every 5 minutes from creation', () => {
    const s = parseSchedule('rate(5 minutes)');
    const created = at('2024-01-01T10:00:30Z');
    assert.equal(iso(nextFire(s, created, created)), '2024-01-01T10:05:30Z');
    assert.equal(iso(nextFire(s, at('2024-01-01T10:05:30Z'), created)), '2024-01-01T10:10:30Z');
    assert.equal(iso(nextFire(s, at('2024-01-01T11:02:00Z'), created)), '2024-01-01T11:05:30Z');
  });
  test('singular unit for 1, plural otherwise', () => {
    assert.deepEqual(parseSchedule('rate(1 minute)'), { kind: 'rate', periodMs: 60_000 });
    assert.deepEqual(parseSchedule('rate(2 hours)'), { kind: 'rate', periodMs: 7_200_000 });
    assert.deepEqual(parseSchedule('rate(1 day)'), { kind: 'rate', periodMs: 86_400_000 });
    invalid('rate(1 minutes)');
    invalid('rate(5 minute)');
    invalid('rate(0 minutes)');
    invalid('rate(5 seconds)');
    invalid('rate(5minutes)');
  });
});

describe('cron()', () => {
  test('cron(0 12 * * ? *): noon UTC every day', () => {
    assert.deepEqual(fires('cron(0 12 * * ? *)', '2024-03-10T13:00:00Z'), [
      '2024-03-11T12:00:00Z',
      '2024-03-12T12:00:00Z',
      '2024-03-13T12:00:00Z',
    ]);
  });
  test('cron(15 10 ? * 6L 2019-2022): 10:15 on the last Friday of each month', () => {
    assert.deepEqual(fires('cron(15 10 ? * 6L 2019-2022)', '2022-10-01T00:00:00Z'), [
      '2022-10-28T10:15:00Z',
      '2022-11-25T10:15:00Z',
      '2022-12-30T10:15:00Z',
    ]);
    assert.deepEqual(fires('cron(15 10 ? * 6L 2019-2022)', '2022-12-31T00:00:00Z', 1), [undefined]);
  });
  test('cron(0/15 * * * ? *): every 15 minutes', () => {
    assert.deepEqual(fires('cron(0/15 * * * ? *)', '2024-01-01T00:07:00Z'), [
      '2024-01-01T00:15:00Z',
      '2024-01-01T00:30:00Z',
      '2024-01-01T00:45:00Z',
    ]);
  });
  test('cron(0/10 * ? * MON-FRI *): every 10 minutes on weekdays', () => {
    assert.deepEqual(fires('cron(0/10 * ? * MON-FRI *)', '2024-03-08T23:55:00Z', 2), ['2024-03-11T00:00:00Z', '2024-03-11T00:10:00Z']);
  });
  test('cron(0 18 ? * MON-FRI *): 6pm Monday to Friday', () => {
    assert.deepEqual(fires('cron(0 18 ? * MON-FRI *)', '2024-03-08T19:00:00Z', 2), ['2024-03-11T18:00:00Z', '2024-03-12T18:00:00Z']);
  });
  test('cron(0 8 1 * ? *): 8am on the first of the month', () => {
    assert.deepEqual(fires('cron(0 8 1 * ? *)', '2024-01-15T00:00:00Z', 2), ['2024-02-01T08:00:00Z', '2024-03-01T08:00:00Z']);
  });
  test('L in day-of-month: the last day, leap years included', () => {
    assert.deepEqual(fires('cron(0 0 L * ? *)', '2024-01-31T01:00:00Z', 2), ['2024-02-29T00:00:00Z', '2024-03-31T00:00:00Z']);
  });
  test('W: nearest weekday to the 15th', () => {
    // 2024-06-15 is a Saturday → Friday 14th; 2024-09-15 is a Sunday → Monday 16th
    assert.deepEqual(fires('cron(0 9 15W * ? *)', '2024-06-01T00:00:00Z', 1), ['2024-06-14T09:00:00Z']);
    assert.deepEqual(fires('cron(0 9 15W * ? *)', '2024-09-01T00:00:00Z', 1), ['2024-09-16T09:00:00Z']);
  });
  test('#: the second Tuesday of the month', () => {
    assert.deepEqual(fires('cron(30 9 ? * 3#2 *)', '2024-01-01T00:00:00Z', 2), ['2024-01-09T09:30:00Z', '2024-02-13T09:30:00Z']);
  });
  test('lists and month names', () => {
    assert.deepEqual(fires('cron(0,30 6 1 JAN,JUL ? *)', '2024-01-01T06:10:00Z', 3), [
      '2024-01-01T06:30:00Z',
      '2024-07-01T06:00:00Z',
      '2024-07-01T06:30:00Z',
    ]);
  });
  test('invalid expressions', () => {
    invalid('cron(0 12 * * * *)'); // both day fields set
    invalid('cron(0 12 ? * ? *)'); // both "?"
    invalid('cron(0 12 * * ?)'); // five fields
    invalid('cron(60 12 * * ? *)');
    invalid('cron(0 24 * * ? *)');
    invalid('cron(0 12 32 * ? *)');
    invalid('cron(0 12 ? * 8 *)');
    invalid('cron(0 12 * 13 ? *)');
    invalid('cron(0 12 * * ? 1969)');
    invalid('every 5 minutes');
  });
});
