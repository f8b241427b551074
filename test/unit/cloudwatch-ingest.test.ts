/**
 * CloudWatch's write-behind ingest (store.ts): what a read sees is the same before the flush (the
 * dirty buckets overlaid on the tables), after it, and after a restart that replays the journal;
 * a journal left behind by a flush that committed is not applied twice.
 */
import assert from 'node:assert/strict';
import { copyFileSync, cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Store } from '../../src/core/store.js';
import { ingest } from '../../src/services/cloudwatch/ingest/fold.js';
import { createCloudwatchStore, type CloudwatchStore } from '../../src/services/cloudwatch/store.js';

const MIN = 60_000;
const NOW = Date.UTC(2026, 10, 26, 12, 0, 0);
const scope = { account: '000000000000', region: 'us-east-1' };
const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function open(dir?: string) {
  dir ??= mkdtempSync(join(tmpdir(), 'opsbox-cw-ingest-'));
  if (!dirs.includes(dir)) dirs.push(dir);
  const store = new Store(dir);
  return { dir, store, cw: createCloudwatchStore(store) };
}

const put = (cw: CloudwatchStore, values: number[], minute: number) =>
  ingest(
    cw,
    scope,
    'App',
    values.map((Value, i) => ({ MetricName: 'Latency', Unit: 'Milliseconds', Value, Timestamp: new Date(NOW - minute * MIN + i) })),
    NOW,
  );

/** Every bucket of the metric as [ts, unit, n, sum, min, max, histogram bytes]. */
function read(cw: CloudwatchStore) {
  const id = cw.findMetricId(scope.account, scope.region, 'App', 'Latency', '[]')!;
  return cw
    .points(id, NOW - 60 * MIN, NOW + MIN, true)
    .map((r) => [r[0], r[1], r[2], r[3], r[4], r[5], Buffer.from(r[6] ?? []).toString('hex')])
    .sort((a, b) => (a[0] as number) - (b[0] as number));
}

test('reads overlay unflushed buckets and see the same after the flush', () => {
  const a = open();
  put(a.cw, [1, 2, 3], 5);
  a.cw.flush();
  put(a.cw, [4, 5], 5); // merges into a flushed bucket
  put(a.cw, [6], 4); // a bucket only the journal has
  const overlaid = read(a.cw);
  assert.deepEqual(
    overlaid.map((r) => r.slice(0, 6)),
    [
      [NOW - 5 * MIN, 'Milliseconds', 5, 15, 1, 5],
      [NOW - 4 * MIN, 'Milliseconds', 1, 6, 6, 6],
    ],
  );
  a.cw.flush();
  assert.deepEqual(read(a.cw), overlaid);
  a.store.close();
});

test('a restart replays what was acknowledged but not flushed', () => {
  const a = open();
  put(a.cw, [1, 2, 3], 5);
  a.cw.flush();
  put(a.cw, [4, 5], 5);
  put(a.cw, [6], 4);
  const overlaid = read(a.cw);
  // kill -9 here (a is never flushed nor closed): the files as they are on disk now, opened by a second
  // store (a's exclusive lock keeps it off a's own dir), replay the journal
  const crashed = mkdtempSync(join(tmpdir(), 'opsbox-cw-ingest-'));
  cpSync(a.dir, crashed, { recursive: true });
  const b = open(crashed);
  assert.deepEqual(read(b.cw), overlaid);
  b.store.close();
  a.store.close();
});

test('a journal still on disk after its flush committed is not applied again', () => {
  const a = open();
  put(a.cw, [10, 20], 3);
  const journal = join(a.dir, 'cloudwatch-ingest.journal');
  copyFileSync(journal, `${journal}.kept`);
  a.cw.flush();
  const flushed = read(a.cw);
  a.store.close();
  // as if the process died between the flush's commit and the journal's truncation
  copyFileSync(`${journal}.kept`, journal);
  const b = open(a.dir);
  assert.deepEqual(read(b.cw), flushed);
  assert.equal(flushed[0][2], 2);
  b.store.close();
});
