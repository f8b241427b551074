/**
 * The SNS filter policy language (src/services/sns/filterPolicy.ts): validation messages and
 * matching on message attributes and on the message body.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AwsError } from '../../src/core/errors.js';
import { matchesAttributes, matchesBody, parseFilterPolicy, type MessageAttribute } from '../../src/services/sns/filterPolicy.js';

const attrs = (o: Record<string, [string, string]>): Record<string, MessageAttribute> =>
  Object.fromEntries(Object.entries(o).map(([k, [DataType, StringValue]]) => [k, { DataType, StringValue }]));

const onAttrs = (policy: object, a: Record<string, [string, string]>) =>
  matchesAttributes(parseFilterPolicy(JSON.stringify(policy), 'MessageAttributes')!, attrs(a));
const onBody = (policy: object, body: unknown) =>
  matchesBody(parseFilterPolicy(JSON.stringify(policy), 'MessageBody')!, typeof body === 'string' ? body : JSON.stringify(body));

function rejects(policy: string, message: string, scope: 'MessageAttributes' | 'MessageBody' = 'MessageAttributes', subscribe = false) {
  assert.throws(
    () => parseFilterPolicy(policy, scope, subscribe),
    (e: unknown) => e instanceof AwsError && e.code === 'InvalidParameter' && e.message === message,
    policy,
  );
}

describe('filter policy matching on message attributes', () => {
  test('exact strings: OR within a key, AND across keys', () => {
    const p = { store: ['example_corp', 'other'], event: ['order_placed'] };
    assert.ok(onAttrs(p, { store: ['String', 'other'], event: ['String', 'order_placed'] }));
    assert.ok(!onAttrs(p, { store: ['String', 'other'] }));
    assert.ok(!onAttrs(p, { store: ['String', 'nope'], event: ['String', 'order_placed'] }));
  });

  test('numbers match Number attributes by value; numeric ranges', () => {
    assert.ok(onAttrs({ price: [100] }, { price: ['Number', '100.0'] }));
    assert.ok(!onAttrs({ price: [100] }, { price: ['String', '100'] }));
    const range = { price: [{ numeric: ['>', 0, '<=', 150] }] };
    assert.ok(onAttrs(range, { price: ['Number', '150'] }));
    assert.ok(!onAttrs(range, { price: ['Number', '0'] }));
    assert.ok(onAttrs({ price: [{ numeric: ['=', 3.5] }] }, { price: ['Number', '3.5'] }));
  });

  test('prefix, suffix, equals-ignore-case, anything-but', () => {
    assert.ok(onAttrs({ c: [{ prefix: 'eu-' }] }, { c: ['String', 'eu-west-1'] }));
    assert.ok(onAttrs({ c: [{ suffix: '.png' }] }, { c: ['String', 'a.png'] }));
    assert.ok(onAttrs({ c: [{ 'equals-ignore-case': 'RED' }] }, { c: ['String', 'red'] }));
    assert.ok(onAttrs({ c: [{ 'anything-but': ['red', 'blue'] }] }, { c: ['String', 'green'] }));
    assert.ok(!onAttrs({ c: [{ 'anything-but': ['red', 'blue'] }] }, { c: ['String', 'red'] }));
    assert.ok(!onAttrs({ c: [{ 'anything-but': 'red' }] }, {}), 'anything-but needs the attribute');
    assert.ok(onAttrs({ c: [{ 'anything-but': { prefix: 'int-' } }] }, { c: ['String', 'prod'] }));
    assert.ok(!onAttrs({ c: [{ 'anything-but': { prefix: 'int-' } }] }, { c: ['String', 'int-1'] }));
  });

  test('exists true and false', () => {
    assert.ok(onAttrs({ c: [{ exists: true }] }, { c: ['String', 'x'] }));
    assert.ok(!onAttrs({ c: [{ exists: true }] }, {}));
    assert.ok(onAttrs({ c: [{ exists: false }] }, {}));
    assert.ok(!onAttrs({ c: [{ exists: false }] }, { c: ['String', 'x'] }));
  });

  test('String.Array attributes match when any element matches', () => {
    assert.ok(onAttrs({ tags: ['b'] }, { tags: ['String.Array', '["a","b"]'] }));
    assert.ok(onAttrs({ tags: [7] }, { tags: ['String.Array', '["a",7]'] }));
    assert.ok(!onAttrs({ tags: ['c'] }, { tags: ['String.Array', '["a","b"]'] }));
  });

  test('cidr: IP address matching, in attributes, String.Array elements and the body', () => {
    const p = { source_ip: [{ cidr: '10.0.0.0/24' }] };
    assert.ok(onAttrs(p, { source_ip: ['String', '10.0.0.0'] }));
    assert.ok(onAttrs(p, { source_ip: ['String', '10.0.0.255'] }));
    assert.ok(!onAttrs(p, { source_ip: ['String', '10.0.1.0'] }));
    assert.ok(!onAttrs(p, { source_ip: ['String', 'not an address'] }));
    assert.ok(!onAttrs(p, {}), 'cidr needs the attribute');
    assert.ok(onAttrs(p, { source_ip: ['String.Array', '["192.168.0.1","10.0.0.7"]'] }));
    assert.ok(onAttrs({ ip: [{ cidr: '2001:db8::/32' }] }, { ip: ['String', '2001:db8::1'] }));
    assert.ok(!onAttrs({ ip: [{ cidr: '2001:db8::/32' }] }, { ip: ['String', '10.0.0.1'] }));
    assert.ok(onBody({ detail: { ip: [{ cidr: '192.168.0.0/16' }] } }, { detail: { ip: '192.168.3.4' } }));
    assert.ok(!onBody({ detail: { ip: [{ cidr: '192.168.0.0/16' }] } }, { detail: { ip: '192.169.3.4' } }));
  });

  test('$or: either alternative', () => {
    const p = { source: ['aws.cloudwatch'], $or: [{ metric: ['CPU'] }, { ns: ['AWS/EC2'] }] };
    assert.ok(onAttrs(p, { source: ['String', 'aws.cloudwatch'], ns: ['String', 'AWS/EC2'] }));
    assert.ok(onAttrs(p, { source: ['String', 'aws.cloudwatch'], metric: ['String', 'CPU'] }));
    assert.ok(!onAttrs(p, { source: ['String', 'aws.cloudwatch'] }));
  });
});

describe('filter policy matching on the message body', () => {
  test('nested keys and arrays in the payload', () => {
    const p = { detail: { state: ['ALARM'], tags: [{ prefix: 'team-' }] } };
    assert.ok(onBody(p, { detail: { state: 'ALARM', tags: ['x', 'team-a'] } }));
    assert.ok(!onBody(p, { detail: { state: 'OK', tags: ['team-a'] } }));
    assert.ok(onBody({ items: { sku: ['b'] } }, { items: [{ sku: 'a' }, { sku: 'b' }] }));
  });

  test('numbers, booleans and null; a body that is not a JSON object never matches', () => {
    assert.ok(onBody({ n: [{ numeric: ['>=', 10] }], ok: [true], gone: [null] }, { n: 12, ok: true, gone: null }));
    assert.ok(!onBody({ n: [1] }, 'not json'));
    assert.ok(!onBody({ n: [1] }, '[1]'));
  });
});

describe('filter policy validation', () => {
  test('AWS messages for invalid policies', () => {
    rejects('{"a": []}', 'Invalid parameter: FilterPolicy: Empty arrays are not allowed');
    rejects('{"a": "x"}', 'Invalid parameter: FilterPolicy: "a" must be an object or an array');
    rejects('{"a": [{"regex": "x"}]}', 'Invalid parameter: FilterPolicy: Unrecognized match type regex');
    rejects('{"a": [{"prefix": 1}]}', 'Invalid parameter: FilterPolicy: prefix match pattern must be a string');
    rejects('{"a": [{"exists": "yes"}]}', 'Invalid parameter: FilterPolicy: exists match pattern must be either true or false.');
    rejects('{"a": [{"prefix": "x", "suffix": "y"}]}', 'Invalid parameter: FilterPolicy: Only one key allowed in match expression');
    rejects('{"a": [{"numeric": ["<", 5, ">", 1]}]}', 'Invalid parameter: FilterPolicy: Too many elements in numeric expression');
    rejects('{"a": [{"numeric": [">", 5, "<", 1]}]}', 'Invalid parameter: FilterPolicy: Bottom must be less than top');
    rejects('{"a": [{"numeric": ["~", 5]}]}', 'Invalid parameter: FilterPolicy: Unrecognized numeric range operator: ~');
    rejects('{"a": [{"numeric": ["=", "5"]}]}', 'Invalid parameter: FilterPolicy: Value of equals must be numeric');
    rejects(
      '{"a":["1"],"b":["1"],"c":["1"],"d":["1"],"e":["1"],"f":["1"]}',
      'Invalid parameter: FilterPolicy: Filter policy can not have more than 5 keys',
    );
    rejects('{"a": {"b": ["x"]}}', 'Invalid parameter: Filter policy scope MessageAttributes does not support nested filter policy');
    rejects('{"a": [{"cidr": "10.0.0.0/33"}]}', 'Invalid parameter: FilterPolicy: Nonsensical CIDR: 10.0.0.0/33');
    rejects('{"a": [{"cidr": "10.0.0.0"}]}', 'Invalid parameter: FilterPolicy: Nonsensical CIDR: 10.0.0.0');
    rejects('{nope', 'Invalid parameter: Attributes Reason: FilterPolicy: failed to parse JSON.', 'MessageAttributes', true);
  });

  test('too many combinations → "Filter policy is too complex"', () => {
    const values = (n: number) => Array.from({ length: n }, (_, i) => `v${i}`);
    rejects(
      JSON.stringify({ a: values(10), b: values(10), c: values(2) }),
      'Invalid parameter: FilterPolicy: Filter policy is too complex',
    );
    assert.ok(parseFilterPolicy(JSON.stringify({ a: values(10), b: values(15) }), 'MessageAttributes'));
  });

  test('nested keys are fine for MessageBody; an empty policy filters nothing', () => {
    assert.ok(parseFilterPolicy('{"a": {"b": ["x"]}}', 'MessageBody'));
    assert.equal(parseFilterPolicy('{}', 'MessageAttributes'), undefined);
    assert.equal(parseFilterPolicy('', 'MessageAttributes'), undefined);
  });
});
