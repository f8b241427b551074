/**
 * The PutMetricData worker path (cloudwatch/prepare.ts through core/workers.ts): a body prepared in
 * a worker thread folds to the same buckets as the event-loop path, and fails with the same AwsError.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { AwsError } from '../../src/core/errors.js';
import { WorkerPool } from '../../src/core/workers.js';
import { foldBuckets, type PreparedPut } from '../../src/services/cloudwatch/ingest/fold.js';

const pool = new WorkerPool(1);
after(() => pool.close());
const PREPARE = new URL('../../src/services/cloudwatch/ingest/prepare.js', import.meta.url).href;
const now = Date.UTC(2026, 10, 26, 12, 0, 30);

const body = (data: unknown[]) => Buffer.from(JSON.stringify({ Namespace: 'Shop', MetricData: data }));
const datum = (i: number) => ({
  MetricName: i % 2 ? 'Lat' : 'Err',
  Dimensions: [{ Name: 'Host', Value: `h${i % 3}` }],
  Value: i,
  Timestamp: (now - (i % 5) * 60_000) / 1000,
  Unit: 'Milliseconds',
});

test('a body prepared in a worker folds to the same buckets as the event loop would', async () => {
  const data = Array.from({ length: 300 }, (_, i) => datum(i));
  const prepared = await pool.run<PreparedPut>(PREPARE, 'preparePutMetricData', { body: body(data), now });
  assert.equal(prepared.Namespace, 'Shop');
  const named = prepared.buckets.map((b) => ({ ...b, metric: JSON.stringify(prepared.metrics[b.metric]), vals: Buffer.from(b.vals) }));
  const inline = foldBuckets(data.map((d) => ({ ...d, Timestamp: new Date(d.Timestamp * 1000) })) as any, now, (d) =>
    JSON.stringify({ MetricName: d.MetricName, Dimensions: d.Dimensions }),
  );
  const key = (b: { metric: string; ts: number }) => `${b.metric}|${b.ts}`;
  assert.deepEqual(
    named.sort((a, b) => key(a).localeCompare(key(b))),
    inline.sort((a, b) => key(a).localeCompare(key(b))),
  );
});

test('a bad body fails in the worker with the AwsError the handler or validator throws', async () => {
  const bad = Array.from({ length: 10 }, (_, i) => datum(i));
  (bad[6] as any).Values = [1];
  await assert.rejects(
    pool.run(PREPARE, 'preparePutMetricData', { body: body(bad), now }),
    (e: unknown) =>
      e instanceof AwsError &&
      e.code === 'InvalidParameterCombination' &&
      /MetricData\.member\.7\.Value and MetricData\.member\.7\.Values/.test(e.message),
  );
  await assert.rejects(
    pool.run(PREPARE, 'preparePutMetricData', { body: Buffer.from('{"Namespace": "AWS/EC2", "MetricData": []}'), now }),
    (e: unknown) => e instanceof AwsError && e.code === 'InvalidParameterValue',
  );
  await assert.rejects(
    pool.run(PREPARE, 'preparePutMetricData', { body: Buffer.from('{nope'), now }),
    (e: unknown) => e instanceof AwsError && e.status === 400,
  );
});
