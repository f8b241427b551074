import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { AwsError } from '../../src/core/errors.js';
import { Store } from '../../src/core/store.js';
import { moveTagColumnSql, tagMapOf, Tags, type TagRules } from '../../src/core/tags.js';

const rules: TagRules = { errors: (p) => new AwsError('Bad', p.kind) };
const kindOf = (kind: string) => (e: unknown) => e instanceof AwsError && e.message === kind;

describe('core tags', () => {
  const dir = mkdtempSync(join(tmpdir(), 'opsbox-tags-'));
  const store = new Store(dir);
  const tags = new Tags(store);
  after(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('add merges and keeps the order keys were first set; remove ignores absent keys', () => {
    tags.add('arn:a', { b: '1', a: '2' }, rules);
    tags.add('arn:a', { b: '3', c: '' }, rules);
    assert.deepEqual(tags.list('arn:a'), [
      { Key: 'b', Value: '3' },
      { Key: 'a', Value: '2' },
      { Key: 'c', Value: '' },
    ]);
    tags.remove('arn:a', ['a', 'missing']);
    assert.deepEqual(tags.get('arn:a'), { b: '3', c: '' });
    assert.deepEqual(tags.get('arn:other'), {});
  });

  test('limits: key and value lengths, the aws: prefix, 50 per resource counting what is there', () => {
    assert.throws(() => tags.add('arn:l', { ['k'.repeat(129)]: 'v' }, rules), kindOf('keyLength'));
    assert.throws(() => tags.add('arn:l', { '': 'v' }, rules), kindOf('keyLength'));
    assert.throws(() => tags.add('arn:l', { k: 'v'.repeat(257) }, rules), kindOf('valueLength'));
    assert.throws(() => tags.add('arn:l', { 'AWS:x': 'v' }, rules), kindOf('reservedKey'));
    assert.throws(() => tags.remove('arn:l', ['aws:x'], rules), kindOf('reservedKey'));
    tags.add('arn:l', Object.fromEntries(Array.from({ length: 49 }, (_, i) => [`k${i}`, 'v'])), rules);
    assert.throws(() => tags.add('arn:l', { x: '1', y: '2' }, rules), kindOf('tooMany'));
    assert.equal(Object.keys(tags.get('arn:l')).length, 49, 'a refused change leaves the tags as they were');
    tags.add('arn:l', { k0: 'overwrite', x: '1' }, rules);
    assert.equal(Object.keys(tags.get('arn:l')).length, 50);
    assert.throws(() => tags.add('arn:l', { k: 'v' }, { ...rules, limit: 10 }), kindOf('tooMany'));
    assert.throws(
      () =>
        tagMapOf(
          [
            { Key: 'a', Value: '1' },
            { Key: 'a', Value: '2' },
          ],
          rules.errors,
        ),
      kindOf('duplicateKey'),
    );
  });

  test('a key named __proto__ is a tag like any other', () => {
    const map = tagMapOf([{ Key: '__proto__', Value: 'p' }], rules.errors);
    assert.deepEqual(Object.keys(map), ['__proto__']);
    tags.add('arn:p', map, rules);
    assert.deepEqual(tags.list('arn:p'), [{ Key: '__proto__', Value: 'p' }]);
    assert.equal(Object.getOwnPropertyDescriptor(tags.get('arn:p'), '__proto__')?.value, 'p');
  });

  test('replace, move and delete', () => {
    tags.add('arn:r', { a: '1' }, rules);
    tags.replace('arn:r', { b: '2' }, rules);
    assert.deepEqual(tags.get('arn:r'), { b: '2' });
    tags.move('arn:r', 'arn:r2');
    assert.deepEqual(tags.get('arn:r'), {});
    assert.deepEqual(tags.get('arn:r2'), { b: '2' });
    tags.delete('arn:r2');
    assert.deepEqual(tags.get('arn:r2'), {});
  });

  test('moveTagColumnSql carries a JSON map or list column over and drops it', () => {
    store.db.exec(`CREATE TABLE t_map (name TEXT, tags TEXT NOT NULL DEFAULT '{}');
      INSERT INTO t_map VALUES ('one', '{"z":"1","a":"2"}'), ('two', '{}');
      CREATE TABLE t_list (name TEXT, tags TEXT NOT NULL DEFAULT '[]');
      INSERT INTO t_list VALUES ('three', '[{"Key":"k","Value":"v"},{"Key":"j","Value":""}]');`);
    store.migrate('test-map', [{ version: 1, sql: moveTagColumnSql('t_map', "'arn:m/' || name", 'map') }]);
    store.migrate('test-list', [{ version: 1, sql: moveTagColumnSql('t_list', "'arn:l/' || name", 'list') }]);
    assert.deepEqual(tags.list('arn:m/one'), [
      { Key: 'z', Value: '1' },
      { Key: 'a', Value: '2' },
    ]);
    assert.deepEqual(tags.get('arn:m/two'), {});
    assert.deepEqual(tags.get('arn:l/three'), { k: 'v', j: '' });
    const cols = (store.db.prepare('PRAGMA table_info(t_map)').all() as { name: string }[]).map((c) => c.name);
    assert.deepEqual(cols, ['name']);
  });
});
