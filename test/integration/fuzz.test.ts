/**
 * The fuzz harness (test/fuzz/fuzz.ts) on a bounded budget: the hostile seeds and a few generated
 * inputs per operation of every service; no 5xx, no answer slower than the bound, healthy after.
 * `npm run fuzz` runs a longer budget (FUZZ_RUNS, FUZZ_SEED).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { fuzz } from '../fuzz/fuzz.js';
import { startOpsbox, type RunningOpsbox } from '../helpers/opsbox.js';

let box: RunningOpsbox;
before(async () => {
  box = await startOpsbox({ env: { OPSBOX_CODEBUILD_BACKEND: 'host' } });
});
after(async () => {
  await box?.dispose();
});

test('fuzz: every operation of every service answers hostile and generated input with a 4xx or success, never a 5xx, and the server stays up', async () => {
  const runs = Number(process.env.FUZZ_RUNS ?? 3);
  const report = await fuzz(box.url, { runs, seed: Number(process.env.FUZZ_SEED ?? 42) });
  const shown = report.failures
    .slice(0, 15)
    .map(
      (f) =>
        `${f.name} → ${f.status} ${f.body}\n    ${f.request.method} ${f.request.path} ${JSON.stringify(f.request.headers['x-amz-target'] ?? '')} ${f.request.body?.subarray(0, 200).toString()}`,
    );
  assert.equal(report.failures.length, 0, `${report.failures.length} of ${report.sent} requests broke a property:\n${shown.join('\n')}`);
  const health = await fetch(`${box.url}/_opsbox/health`);
  assert.equal(health.status, 200);
  assert.equal(box.proc.exitCode, null, 'the server is still running');
});
