/** Logs Insights: the parser's errors, expressions and functions, and whole queries over records, checked against results computed here. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventRecord } from '../../src/services/logs/insights/evaluate.js';
import { compileQuery, Execution, globMatch } from '../../src/services/logs/insights/execute.js';
import { QuerySyntaxError } from '../../src/services/logs/insights/parse.js';

const T0 = Date.UTC(2024, 4, 1, 12, 0, 0);
const events = Array.from({ length: 500 }, (_, i) => {
  const status = [200, 200, 201, 404, 500, 503][i % 6];
  const path = ['/a', '/b', '/c'][i % 3];
  const ms = (i * 37) % 900;
  return { ts: T0 + i * 7_000, msg: JSON.stringify({ status, path, ms, user: { id: `u${i % 7}` } }) };
});

function run(query: string, evs = events, limit?: number) {
  const exec = new Execution(compileQuery(query), limit);
  for (const e of evs) exec.push(eventRecord(e.ts, e.msg, 's1', '000000000000:g'));
  return { rows: exec.finish().map((r) => Object.fromEntries(r.map((f) => [f.field, f.value]))), matched: exec.matched };
}
const parsed = events.map((e) => ({ ...JSON.parse(e.msg), ts: e.ts }));
const fmt = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');

test('stats count(*) by bin(5m), path with a filter matches a count computed here', () => {
  const { rows, matched } = run(
    'fields @timestamp | filter status >= 500 | stats count(*) as errors by bin(5m), path | sort errors desc, path asc',
  );
  const expected = new Map<string, number>();
  for (const e of parsed.filter((p) => p.status >= 500)) {
    const k = `${fmt(Math.floor(e.ts / 300_000) * 300_000)}|${e.path}`;
    expected.set(k, (expected.get(k) ?? 0) + 1);
  }
  assert.equal(matched, parsed.filter((p) => p.status >= 500).length);
  assert.equal(rows.length, expected.size);
  for (const r of rows) assert.equal(Number(r.errors), expected.get(`${r['bin(5m)']}|${r.path}`), JSON.stringify(r));
  for (let i = 1; i < rows.length; i++) assert.ok(Number(rows[i - 1].errors) >= Number(rows[i].errors));
});

test('every aggregate against its definition', () => {
  const { rows } = run(
    'stats count(*) as n, count(ms) as c, count_distinct(user.id) as users, sum(ms) as s, avg(ms) as a, min(ms) as lo, max(ms) as hi, pct(ms, 90) as p90, stddev(ms) as sd, earliest(status) as first, latest(status) as last',
  );
  const ms = parsed.map((p) => p.ms).sort((a, b) => a - b);
  const mean = ms.reduce((a, b) => a + b, 0) / ms.length;
  const sd = Math.sqrt(ms.reduce((a, b) => a + (b - mean) ** 2, 0) / (ms.length - 1));
  const r = rows[0];
  assert.equal(Number(r.n), 500);
  assert.equal(Number(r.c), 500);
  assert.equal(Number(r.users), 7);
  assert.equal(
    Number(r.s),
    ms.reduce((a, b) => a + b, 0),
  );
  assert.ok(Math.abs(Number(r.a) - mean) < 1e-6);
  assert.equal(Number(r.lo), ms[0]);
  assert.equal(Number(r.hi), ms[ms.length - 1]);
  assert.equal(Number(r.p90), ms[Math.ceil(0.9 * ms.length) - 1]);
  assert.ok(Math.abs(Number(r.sd) - sd) < 1e-6);
  assert.equal(r.first, String(parsed[0].status));
  assert.equal(r.last, String(parsed[499].status));
});

test('fields, filter with like/regex/in/not, sort and limit', () => {
  const { rows } = run(
    'fields @timestamp, path, status | filter path in ["/a", "/b"] and not status = 200 and @message like /"ms":[0-9]{3}/ | sort @timestamp asc | limit 5',
  );
  const want = parsed.filter((p) => ['/a', '/b'].includes(p.path) && p.status !== 200 && p.ms >= 100).slice(0, 5);
  assert.deepEqual(
    rows.map((r) => [r['@timestamp'], r.path, r.status]),
    want.map((p) => [fmt(p.ts), p.path, String(p.status)]),
  );
});

test('the default is the newest 10000 rows first, with @timestamp, @message, @logStream and @log', () => {
  const { rows } = run('filter status = 404', events, 3);
  assert.equal(rows.length, 3);
  assert.deepEqual(Object.keys(rows[0]), ['@timestamp', '@message', '@logStream', '@log']);
  const newest = parsed
    .filter((p) => p.status === 404)
    .slice(-3)
    .reverse();
  assert.deepEqual(
    rows.map((r) => r['@timestamp']),
    newest.map((p) => fmt(p.ts)),
  );
});

test('parse with a glob and with named regex captures', () => {
  const lines = [
    { ts: T0, msg: 'GET /x took 12 ms user=alice' },
    { ts: T0 + 1, msg: 'POST /y took 340 ms user=bob' },
    { ts: T0 + 2, msg: 'no match here' },
  ];
  const g = run(
    'parse @message "* * took * ms" as method, path, took | filter ispresent(took) | stats sum(took) as total, count(*) as n',
    lines,
  );
  assert.deepEqual(g.rows, [{ total: '352', n: '2' }]);
  const r = run('parse @message /user=(?<who>\\w+)/ | filter ispresent(who) | sort who desc | display who', lines);
  assert.deepEqual(
    r.rows.map((x) => x.who),
    ['bob', 'alice'],
  );
  assert.deepEqual(globMatch(['a=', ' b=', ''], 'x a=1 b=22'), ['1', '22']);
});

test('functions: string, numeric, datetime, IP and conditional', () => {
  const lines = [{ ts: T0 + 61_234, msg: JSON.stringify({ ip: '10.1.2.3', name: '  Ab ', n: -2.5 }) }];
  const { rows } = run(
    'fields strlen(name) as len, toupper(trim(name)) as up, abs(n) as a, floor(n) as f, concat("x", "y") as c, isIpInSubnet(ip, "10.0.0.0/8") as inNet, isValidIpV4(ip) as v4, coalesce(missing, name) as co, datefloor(@timestamp, 1m) as minute, ispresent(missing) as p',
    lines,
  );
  assert.deepEqual(rows[0], {
    len: '5',
    up: 'AB',
    a: '2.5',
    f: '-3',
    c: 'xy',
    inNet: 'true',
    v4: 'true',
    co: '  Ab ',
    minute: fmt(T0 + 60_000),
    p: 'false',
  });
});

test('dedup keeps the first row of each value in sort order', () => {
  const { rows } = run('fields path, status | sort @timestamp desc | dedup path');
  assert.equal(rows.length, 3);
  assert.deepEqual(rows.map((r) => r.path).sort(), ['/a', '/b', '/c']);
  const newestA = [...parsed].reverse().find((p) => p.path === '/a')!;
  assert.equal(rows.find((r) => r.path === '/a')!.status, String(newestA.status));
});

test('commands after stats filter and sort the aggregated rows', () => {
  const { rows } = run('stats avg(ms) as avgMs, count(*) as n by path | filter n > 100 | sort avgMs desc');
  const by = new Map<string, number[]>();
  for (const p of parsed) by.set(p.path, [...(by.get(p.path) ?? []), p.ms]);
  const want = [...by.entries()].map(([path, v]) => ({ path, avg: v.reduce((a, b) => a + b, 0) / v.length })).sort((a, b) => b.avg - a.avg);
  assert.deepEqual(
    rows.map((r) => r.path),
    want.map((w) => w.path),
  );
});

test('malformed queries name the offending symbol and its offsets', () => {
  const bad: [string, RegExp][] = [
    ['fields @message | sotr @timestamp', /unexpected symbol found sotr at line 1 and position 18/],
    ['filter status >', /expected an expression/],
    ['stats nosuch(x)', /unknown function nosuch/],
    ['limit 0', /limit must be between 1 and 10000/],
    ['parse @message "* *" as a', /the glob has 2 wildcards for 1 fields/],
    ['filter @message like /(unclosed/', /invalid regular expression/],
    ['stats count(*) | stats count(*)', /at most one stats/],
  ];
  for (const [q, re] of bad)
    assert.throws(
      () => compileQuery(q),
      (e: unknown) => e instanceof QuerySyntaxError && re.test(e.message),
      q,
    );
  try {
    compileQuery('fields @message | sotr @timestamp');
  } catch (e) {
    assert.equal((e as QuerySyntaxError).start, 18);
    assert.equal((e as QuerySyntaxError).end, 21);
  }
});
