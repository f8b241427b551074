/** Lambda's concurrency limits: reservations, the shared unreserved pool, leases and their release. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConcurrencyLimits, minimumUnreserved } from '../../src/services/lambda/concurrency.js';
import type { FunctionRow } from '../../src/services/lambda/store.js';

const fn = (id: number, region = 'us-east-1'): FunctionRow => ({
  id,
  account: '111111111111',
  region,
  name: `f${id}`,
  created: 0,
  next_version: 1,
});

function limits(reserved: Record<number, number>, accountLimit = 10) {
  const tables = {
    reserved: (id: number) => reserved[id],
    reservedSum: () => Object.values(reserved).reduce((a, b) => a + b, 0),
  };
  return new ConcurrencyLimits(tables, accountLimit);
}

const throttledBy = (r: ReturnType<ConcurrencyLimits['acquire']>) => ('throttled' in r ? r.throttled : undefined);

test('reserved concurrency 0 always throttles', () => {
  const l = limits({ 1: 0 });
  assert.equal(throttledBy(l.acquire(fn(1))), 'ReservedFunctionConcurrentInvocationLimitExceeded');
});

test('a reservation of 2 admits two at once; a release admits the next', () => {
  const l = limits({ 1: 2 });
  const a = l.acquire(fn(1));
  const b = l.acquire(fn(1));
  assert.equal(throttledBy(a), undefined);
  assert.equal(throttledBy(b), undefined);
  assert.equal(throttledBy(l.acquire(fn(1))), 'ReservedFunctionConcurrentInvocationLimitExceeded');
  assert.equal(l.inFlight(fn(1)), 2);
  if ('release' in a) {
    a.release();
    a.release(); // twice is once
  }
  assert.equal(l.inFlight(fn(1)), 1);
  assert.equal(throttledBy(l.acquire(fn(1))), undefined);
});

test('functions without a reservation share what the reservations leave', () => {
  const l = limits({ 1: 8 }, 10);
  assert.equal(l.unreservedLimit(fn(2)), 2);
  const a = l.acquire(fn(2));
  const b = l.acquire(fn(3));
  assert.equal(throttledBy(a), undefined);
  assert.equal(throttledBy(b), undefined);
  assert.equal(throttledBy(l.acquire(fn(4))), 'ConcurrentInvocationLimitExceeded');
  // the reserved function is not held back by the shared pool
  assert.equal(throttledBy(l.acquire(fn(1))), undefined);
  const released: number[] = [];
  l.onRelease((f) => released.push(f.id));
  if ('release' in a) a.release();
  assert.deepEqual(released, [2]);
  assert.equal(throttledBy(l.acquire(fn(4))), undefined);
});

test('Lambda keeps 100 unreserved (a tenth of small limits)', () => {
  assert.equal(minimumUnreserved(1000), 100);
  assert.equal(minimumUnreserved(50), 5);
});
