/**
 * Logs Insights against a real opsbox: StartQuery → GetQueryResults (Running → Complete with
 * statistics) over one and several log groups, driven by SDK v3 and the aws CLI, checked against
 * results computed here over the same events; malformed queries; StopQuery, DescribeQueries, saved
 * query definitions; results after a restart.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  CreateLogStreamCommand,
  DeleteQueryDefinitionCommand,
  DescribeQueriesCommand,
  DescribeQueryDefinitionsCommand,
  GetQueryResultsCommand,
  PutLogEventsCommand,
  PutQueryDefinitionCommand,
  StartQueryCommand,
  type GetQueryResultsCommandOutput,
} from '@aws-sdk/client-cloudwatch-logs';
import { awsCli, clientConfig, failure, startOpsbox, unique, type RunningOpsbox } from '../helpers/opsbox.js';

let box: RunningOpsbox;
let logs: CloudWatchLogsClient;
const now = Date.now();
const start = now - 3_600_000;

before(async () => {
  box = await startOpsbox();
  logs = new CloudWatchLogsClient(clientConfig(box.url));
});

after(async () => {
  logs?.destroy();
  await box?.dispose();
});

/** A group with `n` JSON request events over the last hour, and the events as sent. */
async function groupWith(n: number, client = logs) {
  const group = unique('/ecs/api');
  await client.send(new CreateLogGroupCommand({ logGroupName: group }));
  await client.send(new CreateLogStreamCommand({ logGroupName: group, logStreamName: 'web-1' }));
  const events = Array.from({ length: n }, (_, i) => ({
    timestamp: start + Math.floor((i * 3_500_000) / n),
    message: JSON.stringify({
      status: [200, 200, 302, 404, 500, 502][i % 6],
      path: ['/cart', '/pay', '/home'][i % 4 === 3 ? 2 : i % 3],
      ms: (i * 53) % 1000,
    }),
  }));
  for (let i = 0; i < n; i += 5000)
    await client.send(new PutLogEventsCommand({ logGroupName: group, logStreamName: 'web-1', logEvents: events.slice(i, i + 5000) }));
  return { group, events: events.map((e) => ({ ...JSON.parse(e.message), ts: e.timestamp, bytes: Buffer.byteLength(e.message) })) };
}

async function complete(queryId: string, client = logs): Promise<GetQueryResultsCommandOutput> {
  for (let i = 0; i < 200; i++) {
    const out = await client.send(new GetQueryResultsCommand({ queryId }));
    if (out.status === 'Complete' || out.status === 'Failed' || out.status === 'Cancelled') return out;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('query did not complete');
}

const rowsOf = (out: GetQueryResultsCommandOutput) => out.results!.map((r) => Object.fromEntries(r.map((f) => [f.field!, f.value!])));
const fmt = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');

test('StartQuery: stats count(*) by bin(5m), path over a filter, with statistics, as computed here', async () => {
  const { group, events } = await groupWith(3000);
  const { queryId } = await logs.send(
    new StartQueryCommand({
      logGroupName: group,
      startTime: Math.floor(start / 1000),
      endTime: Math.ceil(now / 1000),
      queryString:
        'fields @timestamp, @message | filter status >= 500 | stats count(*) as errors by bin(5m), path | sort errors desc | limit 20',
    }),
  );
  const out = await complete(queryId!);
  assert.equal(out.status, 'Complete');
  const expected = new Map<string, number>();
  const bad = events.filter((e) => e.status >= 500);
  for (const e of bad) {
    const k = `${fmt(Math.floor(e.ts / 300_000) * 300_000)}|${e.path}`;
    expected.set(k, (expected.get(k) ?? 0) + 1);
  }
  const rows = rowsOf(out);
  assert.equal(rows.length, Math.min(20, expected.size));
  const top = [...expected.values()].sort((a, b) => b - a).slice(0, 20);
  assert.deepEqual(
    rows.map((r) => Number(r.errors)),
    top,
  );
  for (const r of rows) assert.equal(Number(r.errors), expected.get(`${r['bin(5m)']}|${r.path}`));
  assert.equal(out.statistics!.recordsScanned, 3000);
  assert.equal(out.statistics!.recordsMatched, bad.length);
  assert.equal(
    out.statistics!.bytesScanned,
    events.reduce((n, e) => n + e.bytes, 0),
  );
});

test('StartQuery over two groups with the aws CLI: parse and fields', async () => {
  const a = await groupWith(100);
  const b = await groupWith(50);
  const started = await awsCli(box.url, [
    'logs',
    'start-query',
    '--log-group-names',
    a.group,
    b.group,
    '--start-time',
    String(Math.floor(start / 1000)),
    '--end-time',
    String(Math.ceil(now / 1000)),
    '--query-string',
    'parse @message \'"path":"*"\' as p | filter p = "/pay" | stats count(*) as n by @log',
  ]);
  assert.equal(started.code, 0, started.stderr);
  const out = await complete(JSON.parse(started.stdout).queryId);
  const got = Object.fromEntries(rowsOf(out).map((r) => [r['@log'], Number(r.n)]));
  assert.deepEqual(got, {
    [`000000000000:${a.group}`]: a.events.filter((e) => e.path === '/pay').length,
    [`000000000000:${b.group}`]: b.events.filter((e) => e.path === '/pay').length,
  });
  const results = await awsCli(box.url, ['logs', 'get-query-results', '--query-id', JSON.parse(started.stdout).queryId]);
  assert.equal(JSON.parse(results.stdout).status, 'Complete');
});

test('a malformed query is MalformedQueryException; a missing group ResourceNotFoundException', async () => {
  const { group } = await groupWith(1);
  const bad = await failure(
    logs.send(new StartQueryCommand({ logGroupName: group, startTime: 0, endTime: 10, queryString: 'fields @message | sotr @timestamp' })),
  );
  assert.equal(bad.name, 'MalformedQueryException');
  assert.match(bad.message, /sotr at line 1 and position 18/);
  const missing = await failure(
    logs.send(new StartQueryCommand({ logGroupName: unique('/none'), startTime: 0, endTime: 10, queryString: 'fields @message' })),
  );
  assert.equal(missing.name, 'ResourceNotFoundException');
});

test('DescribeQueries lists queries; saved query definitions round-trip', async () => {
  const { group } = await groupWith(10);
  const { queryId } = await logs.send(
    new StartQueryCommand({
      logGroupName: group,
      startTime: Math.floor(start / 1000),
      endTime: Math.ceil(now / 1000),
      queryString: 'filter status = 404',
    }),
  );
  await complete(queryId!);
  const listed = await logs.send(new DescribeQueriesCommand({ logGroupName: group }));
  assert.equal(listed.queries![0].queryId, queryId);
  assert.equal(listed.queries![0].status, 'Complete');
  const name = unique('saved');
  const { queryDefinitionId } = await logs.send(
    new PutQueryDefinitionCommand({ name, queryString: 'stats count(*) by bin(1h)', logGroupNames: [group] }),
  );
  const defs = await logs.send(new DescribeQueryDefinitionsCommand({ queryDefinitionNamePrefix: name }));
  assert.deepEqual(
    defs.queryDefinitions!.map((d) => [d.queryDefinitionId, d.queryString, d.logGroupNames]),
    [[queryDefinitionId, 'stats count(*) by bin(1h)', [group]]],
  );
  await logs.send(new DeleteQueryDefinitionCommand({ queryDefinitionId }));
  const gone = await logs.send(new DescribeQueryDefinitionsCommand({ queryDefinitionNamePrefix: name }));
  assert.equal(gone.queryDefinitions!.length, 0);
});

test("a finished query's results outlive kill -9", async () => {
  const own = await startOpsbox();
  const client = new CloudWatchLogsClient(clientConfig(own.url));
  const { group, events } = await groupWith(40, client);
  const { queryId } = await client.send(
    new StartQueryCommand({
      logGroupName: group,
      startTime: Math.floor(start / 1000),
      endTime: Math.ceil(now / 1000),
      queryString: 'stats count(*) as n',
    }),
  );
  await complete(queryId!, client);
  await own.kill9();
  const again = await startOpsbox({ dataDir: own.dataDir });
  const c2 = new CloudWatchLogsClient(clientConfig(again.url));
  try {
    const out = await c2.send(new GetQueryResultsCommand({ queryId }));
    assert.deepEqual(rowsOf(out), [{ n: String(events.length) }]);
  } finally {
    client.destroy();
    c2.destroy();
    await again.dispose();
  }
});
