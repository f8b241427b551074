import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AwsError } from '../../src/core/errors.js';
import { parsePolicies } from '../../src/services/ssm/policies.js';

const code = (c: string) => (e: unknown) => e instanceof AwsError && e.code === c;

describe('ssm policies', () => {
  test('the three types with their attributes, kept as one PolicyText each', () => {
    const text = JSON.stringify([
      { Type: 'Expiration', Version: '1.0', Attributes: { Timestamp: '2030-01-01T00:00:00.000Z' } },
      { Type: 'ExpirationNotification', Version: '1.0', Attributes: { Before: '15', Unit: 'Days' } },
      { Type: 'NoChangeNotification', Version: '1.0', Attributes: { After: '2', Unit: 'Hours' } },
    ]);
    const parsed = parsePolicies(text);
    assert.deepEqual(
      parsed.map((p) => [p.PolicyType, p.PolicyStatus]),
      [
        ['Expiration', 'Pending'],
        ['ExpirationNotification', 'Pending'],
        ['NoChangeNotification', 'Pending'],
      ],
    );
    assert.deepEqual(JSON.parse(parsed[1].PolicyText).Attributes, { Before: '15', Unit: 'Days' });
    assert.deepEqual(parsePolicies('[]'), []);
  });

  test('errors: bad JSON, unknown type, two of a type, bad attributes, more than 10', () => {
    assert.throws(() => parsePolicies('{nope'), code('InvalidPolicyAttributeException'));
    assert.throws(() => parsePolicies('{}'), code('InvalidPolicyAttributeException'));
    assert.throws(() => parsePolicies('[{"Type":"Delete"}]'), code('InvalidPolicyTypeException'));
    const exp = { Type: 'Expiration', Attributes: { Timestamp: '2030-01-01T00:00:00Z' } };
    assert.throws(() => parsePolicies(JSON.stringify([exp, exp])), code('IncompatiblePolicyException'));
    assert.throws(
      () => parsePolicies('[{"Type":"Expiration","Attributes":{"Timestamp":"soon"}}]'),
      code('InvalidPolicyAttributeException'),
    );
    assert.throws(
      () => parsePolicies('[{"Type":"NoChangeNotification","Attributes":{"After":"0","Unit":"Days"}}]'),
      code('InvalidPolicyAttributeException'),
    );
    assert.throws(
      () => parsePolicies('[{"Type":"NoChangeNotification","Attributes":{"After":"3","Unit":"Weeks"}}]'),
      code('InvalidPolicyAttributeException'),
    );
    assert.throws(() => parsePolicies(JSON.stringify(Array(11).fill(exp))), code('PoliciesLimitExceededException'));
  });
});
