/** core/pagination.ts: the keyset and offset pagers and their tokens. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AwsError } from '../../src/core/errors.js';
import { keysetPage, offsetPage, pageByOffset, readToken } from '../../src/core/pagination.js';

test('keysetPage: limit + 1 rows → the first limit rows and the token of the last key', () => {
  const rows = [{ name: 'a' }, { name: 'b' }, { name: 'c' }];
  const p = keysetPage(rows, 2, (r) => r.name);
  assert.deepEqual(p.items, rows.slice(0, 2));
  assert.equal(readToken(p.next), 'b');
  assert.deepEqual(
    keysetPage(rows, 3, (r) => r.name),
    { items: rows },
  );
  assert.deepEqual(
    keysetPage([], 5, (r: { id: number }) => r.id),
    { items: [] },
  );
});

test('offsetPage and pageByOffset: the next offset as the token; a token opsbox did not make → invalid()', () => {
  const all = ['a', 'b', 'c', 'd', 'e'];
  const p1 = offsetPage(all, 0, 2);
  assert.deepEqual([p1.items, readToken(p1.next)], [['a', 'b'], '2']);
  assert.deepEqual(
    pageByOffset(all, p1.next, 2, () => new AwsError('X', 'bad')),
    { items: ['c', 'd'], nextToken: offsetPage(all, 2, 2).next },
  );
  assert.equal(offsetPage(all, 4, 2).next, undefined);
  assert.throws(() => pageByOffset(all, 'nope!', 2, () => new AwsError('InvalidInputException', 'bad token')), /bad token/);
});
