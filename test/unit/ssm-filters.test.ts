import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AwsError } from '../../src/core/errors.js';
import { compileLegacyFilters, compileParameterFilters, type FilterSubject } from '../../src/services/ssm/filters.js';

const param = (
  key: string,
  over: Partial<FilterSubject> = {},
  tags: Record<string, string> = {},
  labels: string[] = [],
): FilterSubject => ({
  key,
  type: 'String',
  keyId: null,
  tier: 'Standard',
  dataType: 'text',
  tags: () => tags,
  labels: () => labels,
  ...over,
});

const code = (c: string, message?: string) => (e: unknown) =>
  e instanceof AwsError && e.code === c && (message === undefined || e.message === message);

describe('ssm filters', () => {
  const params = [
    param('/app/db/host', {}, { team: 'blue' }),
    param('/app/db/password', { type: 'SecureString', keyId: 'alias/aws/ssm', tier: 'Advanced' }),
    param('/app/name', { dataType: 'aws:ec2:image' }, { team: 'red' }, ['prod']),
    param('/flat'),
  ];
  const keys = (filters: Parameters<typeof compileParameterFilters>[0], mode: 'describe' | 'path' = 'describe') => {
    const match = compileParameterFilters(filters, mode);
    return params.filter(match).map((p) => p.key);
  };

  test('Name: Equals (with or without the leading slash), BeginsWith, Contains', () => {
    assert.deepEqual(keys([{ Key: 'Name', Values: ['flat'] }]), ['/flat']);
    assert.deepEqual(keys([{ Key: 'Name', Option: 'BeginsWith', Values: ['/app/db'] }]), ['/app/db/host', '/app/db/password']);
    assert.deepEqual(keys([{ Key: 'Name', Option: 'Contains', Values: ['name', 'flat'] }]), ['/app/name', '/flat']);
  });

  test('Path: OneLevel by default, Recursive, the root', () => {
    assert.deepEqual(keys([{ Key: 'Path', Values: ['/app'] }]), ['/app/name']);
    assert.deepEqual(keys([{ Key: 'Path', Values: ['/app/'], Option: 'Recursive' }]), ['/app/db/host', '/app/db/password', '/app/name']);
    assert.deepEqual(keys([{ Key: 'Path', Values: ['/'] }]), ['/flat']);
    assert.deepEqual(keys([{ Key: 'Path', Values: ['/'], Option: 'Recursive' }]).length, 4);
  });

  test('Type, KeyId, Tier, DataType, tag: (with and without values); all filters must match', () => {
    assert.deepEqual(keys([{ Key: 'Type', Values: ['SecureString'] }]), ['/app/db/password']);
    assert.deepEqual(keys([{ Key: 'KeyId', Values: ['alias/aws/ssm'] }]), ['/app/db/password']);
    assert.deepEqual(keys([{ Key: 'KeyId', Option: 'BeginsWith', Values: ['alias/'] }]), ['/app/db/password']);
    assert.deepEqual(keys([{ Key: 'Tier', Values: ['Advanced'] }]), ['/app/db/password']);
    assert.deepEqual(keys([{ Key: 'DataType', Values: ['aws:ec2:image'] }]), ['/app/name']);
    assert.deepEqual(keys([{ Key: 'tag:team' }]), ['/app/db/host', '/app/name']);
    assert.deepEqual(keys([{ Key: 'tag:team', Option: 'BeginsWith', Values: ['r'] }]), ['/app/name']);
    assert.deepEqual(
      keys([
        { Key: 'tag:team', Values: ['blue'] },
        { Key: 'Path', Values: ['/app/db'] },
      ]),
      ['/app/db/host'],
    );
    assert.deepEqual(keys([{ Key: 'Label', Values: ['prod'] }], 'path'), ['/app/name']);
    assert.deepEqual(
      keys(undefined),
      params.map((p) => p.key),
    );
  });

  test('errors: keys per operation, options, values, duplicates, reserved paths', () => {
    assert.throws(() => keys([{ Key: 'Label', Values: ['x'] }]), code('InvalidFilterKey'));
    assert.throws(() => keys([{ Key: 'Name', Values: ['x'] }], 'path'), code('InvalidFilterKey'));
    assert.throws(() => keys([{ Key: 'tag:x', Values: ['x'] }], 'path'), code('InvalidFilterKey'));
    assert.throws(
      () =>
        keys([
          { Key: 'Type', Values: ['String'] },
          { Key: 'Type', Values: ['String'] },
        ]),
      code(
        'InvalidFilterKey',
        'The following filter is duplicated in the request: Type. A request can contain only one occurrence of a specific filter.',
      ),
    );
    assert.throws(() => keys([{ Key: 'Type', Values: [] }]), code('InvalidFilterValue'));
    assert.throws(
      () => keys([{ Key: 'Path', Option: 'Equals', Values: ['/a'] }]),
      code('InvalidFilterOption', 'The following filter option is not valid: Equals. Valid options include: [Recursive, OneLevel].'),
    );
    assert.throws(() => keys([{ Key: 'Label', Option: 'BeginsWith', Values: ['x'] }], 'path'), code('InvalidFilterOption'));
    assert.throws(() => keys([{ Key: 'Tier', Values: ['Gold'] }]), code('InvalidFilterOption'));
    assert.throws(() => keys([{ Key: 'Path', Values: ['/aws/x'] }]), code('ValidationException'));
    assert.throws(() => keys([{ Key: 'Path', Values: ['no-slash'] }]), code('ValidationException'));
  });

  test('legacy Filters: Name begins with, Type and KeyId equal', () => {
    const match = compileLegacyFilters([
      { Key: 'Name', Values: ['app/db'] },
      { Key: 'Type', Values: ['String'] },
    ]);
    assert.deepEqual(
      params.filter(match).map((p) => p.key),
      ['/app/db/host'],
    );
    assert.deepEqual(
      params.filter(compileLegacyFilters([{ Key: 'KeyId', Values: ['alias/aws/ssm'] }])).map((p) => p.key),
      ['/app/db/password'],
    );
  });
});
