/** ListSecrets filters alone: prefix and case rules per key, negation, several values and filters, the `all` words. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { matchesFilters, words, type Filterable, type SecretFilter } from '../../src/services/secretsmanager/filters.js';

const secret: Filterable = {
  name: 'prod/MyDatabase-credentials',
  description: 'Master password for the Orders database',
  tags: { Environment: 'production', team: 'payments' },
  region: 'eu-west-1',
};
const m = (...filters: SecretFilter[]) => matchesFilters(filters, secret);

test('name, tag-key, tag-value, primary-region: prefix, case-sensitive', () => {
  assert.ok(m({ Key: 'name', Values: ['prod/'] }));
  assert.ok(m({ Key: 'name', Values: ['prod/MyData'] }));
  assert.ok(!m({ Key: 'name', Values: ['Prod/'] }));
  assert.ok(!m({ Key: 'name', Values: ['MyDatabase'] }), 'a prefix, not a substring');
  assert.ok(m({ Key: 'tag-key', Values: ['Env'] }));
  assert.ok(!m({ Key: 'tag-key', Values: ['env'] }));
  assert.ok(m({ Key: 'tag-value', Values: ['pay'] }));
  assert.ok(m({ Key: 'primary-region', Values: ['eu-'] }));
  assert.ok(!m({ Key: 'primary-region', Values: ['us-'] }));
  assert.ok(!m({ Key: 'owning-service', Values: ['rds'] }), 'no owning service');
});

test('description: prefix, not case-sensitive', () => {
  assert.ok(m({ Key: 'description', Values: ['master PASSWORD'] }));
  assert.ok(!m({ Key: 'description', Values: ['password'] }));
  assert.ok(!matchesFilters([{ Key: 'description', Values: ['x'] }], { ...secret, description: null }));
});

test('negation: no attribute may match; values are alternatives; filters all apply', () => {
  assert.ok(m({ Key: 'name', Values: ['!dev/'] }));
  assert.ok(!m({ Key: 'name', Values: ['!prod'] }));
  assert.ok(!m({ Key: 'tag-value', Values: ['!prod'] }), 'one tag value matches, so the negation fails');
  assert.ok(m({ Key: 'tag-key', Values: ['!owner'] }));
  assert.ok(matchesFilters([{ Key: 'tag-key', Values: ['!owner'] }], { ...secret, tags: {} }), 'nothing to match: the negation holds');
  assert.ok(m({ Key: 'name', Values: ['dev/', 'prod/'] }));
  assert.ok(!m({ Key: 'name', Values: ['dev/', 'test/'] }));
  assert.ok(m({ Key: 'name', Values: ['prod/', '!prod/Other'] }));
  assert.ok(!m({ Key: 'name', Values: ['prod/', '!prod/My'] }));
  assert.ok(m({ Key: 'name', Values: ['prod'] }, { Key: 'tag-key', Values: ['team'] }));
  assert.ok(!m({ Key: 'name', Values: ['prod'] }, { Key: 'tag-key', Values: ['owner'] }));
});

test('all: words of the value at the start of words of any attribute, not case-sensitive', () => {
  assert.deepEqual(words('prod/MyDatabase-credentials'), ['prod', 'My', 'Database', 'credentials']);
  assert.deepEqual(words('AWSCurrent'), ['AWSCurrent']);
  assert.ok(m({ Key: 'all', Values: ['database'] }));
  assert.ok(m({ Key: 'all', Values: ['DATA'] }));
  assert.ok(m({ Key: 'all', Values: ['orders'] }), 'from the description');
  assert.ok(m({ Key: 'all', Values: ['payments'] }), 'from a tag value');
  assert.ok(m({ Key: 'all', Values: ['environment'] }), 'from a tag key');
  assert.ok(m({ Key: 'all', Values: ['orders payments'] }), 'every word, across attributes');
  assert.ok(!m({ Key: 'all', Values: ['orders invoices'] }));
  assert.ok(!m({ Key: 'all', Values: ['base'] }), 'word starts only');
  assert.ok(!m({ Key: 'all', Values: ['!database'] }));
  assert.ok(!m({ Key: 'all', Values: ['/'] }), 'no words, no match');
});
