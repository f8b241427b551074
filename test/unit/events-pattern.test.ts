import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { compilePattern, checkPattern, EventPatternError } from '../../src/services/events/pattern.js';

// The EC2 event of AWS's content-filtering documentation, extended with the fields the examples use.
const EC2 = {
  version: '0',
  id: '6a7e8feb-b491-4cf7-a9f1-bf3703467718',
  'detail-type': 'EC2 Instance State-change Notification',
  source: 'aws.ec2',
  account: '111122223333',
  time: '2017-12-22T18:43:48Z',
  region: 'us-west-1',
  resources: ['arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0'],
  detail: {
    'instance-id': 'i-1234567890abcdef0',
    state: 'terminated',
    'c-count': 5,
    'd-count': 3,
    'x-limit': 301.8,
    'source-ip': '10.0.0.123',
    location: 'eu-central-1',
    filename: 'image.png',
    eventSource: 'ec2.amazonaws.com',
    responseElements: null,
    empty: '',
    flag: true,
    tags: ['prod', 'web'],
    nested: { deep: { value: 'x' } },
  },
};

const compile = (p: unknown) => compilePattern(typeof p === 'string' ? p : JSON.stringify(p));
const yes = (p: unknown, e: unknown = EC2) => assert.equal(compile(p).match(e), true, `${JSON.stringify(p)} should match`);
const no = (p: unknown, e: unknown = EC2) => assert.equal(compile(p).match(e), false, `${JSON.stringify(p)} should not match`);
const invalid = (p: unknown, reason: string) => {
  assert.throws(
    () => compile(p),
    (e: unknown) => {
      assert.ok(e instanceof EventPatternError);
      assert.equal(e.message, `Event pattern is not valid. Reason: ${reason}`);
      return true;
    },
  );
};
const withDetail = (detail: Record<string, unknown>) => ({ ...EC2, detail });

describe('exact values', () => {
  test('a string matches the same string, case-sensitively', () => {
    yes({ source: ['aws.ec2'] });
    no({ source: ['aws.EC2'] });
    no({ source: ['aws.s3'] });
  });
  test('several values in an array are an OR', () => {
    yes({ source: ['aws.s3', 'aws.ec2'] });
    yes({ detail: { state: ['running', 'stopped', 'pending', 'terminated'] } });
    no({ detail: { state: ['running', 'stopped', 'pending', 'shutting-down'] } });
  });
  test('several fields are an AND', () => {
    yes({ source: ['aws.ec2'], 'detail-type': ['EC2 Instance State-change Notification'], detail: { state: ['terminated'] } });
    no({ source: ['aws.ec2'], detail: { state: ['running'] } });
  });
  test('numbers match numerically, not as strings', () => {
    yes({ detail: { 'c-count': [5] } });
    yes({ detail: { 'c-count': [5.0] } });
    no({ detail: { 'c-count': ['5'] } });
    no({ detail: { state: [5] } });
  });
  test('null matches only a null value, not an absent field', () => {
    yes({ detail: { responseElements: [null] } });
    no({ detail: { missing: [null] } });
    no({ detail: { state: [null] } });
  });
  test('an empty string matches an empty string only', () => {
    yes({ detail: { empty: [''] } });
    no({ detail: { state: [''] } });
  });
  test('booleans match booleans, not strings', () => {
    yes({ detail: { flag: [true] } });
    no({ detail: { flag: [false] } });
    no({ detail: { flag: ['true'] } });
  });
  test('a field absent from the event does not match a value', () => {
    no({ detail: { nothing: ['x'] } });
    no({ other: { nothing: ['x'] } });
  });
  test('nested objects descend into the event', () => {
    yes({ detail: { nested: { deep: { value: ['x'] } } } });
    no({ detail: { nested: { deep: { value: ['y'] } } } });
  });
  test('a leaf pattern never matches an object value', () => {
    no({ detail: { nested: ['x'] } });
  });
  test('fields the pattern does not name are ignored', () => {
    yes({ account: ['111122223333'] });
  });
});

describe('arrays in events', () => {
  test('an event array matches when any element matches', () => {
    yes({ resources: ['arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0'] });
    yes({ detail: { tags: ['web'] } });
    no({ detail: { tags: ['dev'] } });
  });
  test('an array of objects matches when one element satisfies the whole sub-pattern', () => {
    const e = withDetail({
      items: [
        { name: 'a', size: 1 },
        { name: 'b', size: 2 },
      ],
    });
    yes({ detail: { items: { name: ['b'], size: [2] } } }, e);
    no({ detail: { items: { name: ['a'], size: [2] } } }, e);
  });
  test('nested arrays are flattened', () => {
    yes(
      { detail: { grid: [5] } },
      withDetail({
        grid: [
          [1, 2],
          [3, [4, 5]],
        ],
      }),
    );
  });
  test('an empty event array is treated as absent', () => {
    no({ detail: { tags: ['x'] } }, withDetail({ tags: [] }));
    yes({ detail: { tags: [{ exists: false }] } }, withDetail({ tags: [] }));
  });
});

describe('prefix and suffix', () => {
  test('prefix matches the start of a string', () => {
    yes({ time: [{ prefix: '2017-12-22' }] });
    no({ time: [{ prefix: '2018' }] });
    no({ detail: { 'c-count': [{ prefix: '5' }] } });
  });
  test('prefix with equals-ignore-case ignores case', () => {
    yes({ detail: { location: [{ prefix: { 'equals-ignore-case': 'EU-' } }] } });
    no({ detail: { location: [{ prefix: { 'equals-ignore-case': 'US-' } }] } });
  });
  test('suffix matches the end of a string', () => {
    yes({ detail: { filename: [{ suffix: '.png' }] } });
    no({ detail: { filename: [{ suffix: '.jpg' }] } });
  });
  test('suffix with equals-ignore-case ignores case', () => {
    yes({ detail: { filename: [{ suffix: { 'equals-ignore-case': '.PNG' } }] } });
  });
  test('an empty prefix matches any string', () => {
    yes({ detail: { state: [{ prefix: '' }] } });
  });
});

describe('anything-but', () => {
  test('a single value excludes it', () => {
    no({ detail: { state: [{ 'anything-but': 'terminated' }] } });
    yes({ detail: { state: [{ 'anything-but': 'running' }] } });
  });
  test('a list excludes each value', () => {
    yes({ detail: { state: [{ 'anything-but': ['stopped', 'overloaded'] }] } });
    no({ detail: { state: [{ 'anything-but': ['stopped', 'terminated'] }] } });
  });
  test('numbers are excluded numerically', () => {
    no({ detail: { 'c-count': [{ 'anything-but': [5, 6] }] } });
    yes({ detail: { 'c-count': [{ 'anything-but': 4 }] } });
  });
  test('an absent field does not match anything-but', () => {
    no({ detail: { nothing: [{ 'anything-but': 'x' }] } });
  });
  test('anything-but prefix and suffix', () => {
    no({ detail: { state: [{ 'anything-but': { prefix: 'term' } }] } });
    yes({ detail: { state: [{ 'anything-but': { prefix: 'run' } }] } });
    no({ detail: { filename: [{ 'anything-but': { suffix: '.png' } }] } });
    yes({ detail: { filename: [{ 'anything-but': { suffix: '.txt' } }] } });
  });
  test('anything-but equals-ignore-case', () => {
    no({ detail: { state: [{ 'anything-but': { 'equals-ignore-case': ['TERMINATED', 'x'] } }] } });
    yes({ detail: { state: [{ 'anything-but': { 'equals-ignore-case': 'RUNNING' } }] } });
  });
  test('anything-but wildcard', () => {
    no({ detail: { filename: [{ 'anything-but': { wildcard: '*.png' } }] } });
    yes({ detail: { filename: [{ 'anything-but': { wildcard: ['*.txt', '*.jpg'] } }] } });
  });
  test('an event array matches when some element is not excluded', () => {
    yes({ detail: { tags: [{ 'anything-but': 'prod' }] } });
    no({ detail: { tags: [{ 'anything-but': ['prod', 'web'] }] } });
  });
});

describe('numeric', () => {
  test('AWS docs range: c-count > 0 and <= 5, d-count < 10, x-limit = 301.8', () => {
    yes({
      detail: {
        'c-count': [{ numeric: ['>', 0, '<=', 5] }],
        'd-count': [{ numeric: ['<', 10] }],
        'x-limit': [{ numeric: ['=', 3.018e2] }],
      },
    });
  });
  test('each comparison operator', () => {
    yes({ detail: { 'c-count': [{ numeric: ['>=', 5] }] } });
    no({ detail: { 'c-count': [{ numeric: ['>', 5] }] } });
    yes({ detail: { 'c-count': [{ numeric: ['<=', 5] }] } });
    no({ detail: { 'c-count': [{ numeric: ['<', 5] }] } });
    yes({ detail: { 'c-count': [{ numeric: ['=', 5] }] } });
    no({ detail: { 'c-count': [{ numeric: ['>', 5, '<', 10] }] } });
  });
  test('numeric never matches strings', () => {
    no({ detail: { state: [{ numeric: ['>', 0] }] } }, withDetail({ state: '5' }));
  });
});

describe('exists', () => {
  test('exists true matches a present leaf, false an absent one', () => {
    yes({ detail: { state: [{ exists: true }] } });
    no({ detail: { state: [{ exists: false }] } });
    yes({ detail: { nothing: [{ exists: false }] } });
    no({ detail: { nothing: [{ exists: true }] } });
  });
  test('exists works on leaves only: an object counts as absent', () => {
    yes({ detail: { nested: [{ exists: false }] } });
    no({ detail: { nested: [{ exists: true }] } });
  });
  test('a null value exists', () => {
    yes({ detail: { responseElements: [{ exists: true }] } });
  });
  test('exists false combined with values: either absent or equal', () => {
    yes({ detail: { nothing: ['x', { exists: false }] } });
    yes({ detail: { state: ['terminated', { exists: false }] } });
    no({ detail: { state: ['running', { exists: false }] } });
  });
});

describe('equals-ignore-case, wildcard, cidr', () => {
  test('equals-ignore-case', () => {
    yes({ 'detail-type': [{ 'equals-ignore-case': 'ec2 instance state-change notification' }] });
    no({ 'detail-type': [{ 'equals-ignore-case': 'ec2 instance' }] });
  });
  test('wildcard globs with *', () => {
    yes({ detail: { eventSource: [{ wildcard: '*.amazonaws.com' }] } });
    yes({ detail: { filename: [{ wildcard: 'im*.p*g' }] } });
    no({ detail: { filename: [{ wildcard: '*.jpg' }] } });
    yes({ detail: { filename: [{ wildcard: '*' }] } });
  });
  test('wildcard escapes: \\* is a literal star', () => {
    yes({ detail: { s: [{ wildcard: 'a\\*b' }] } }, withDetail({ s: 'a*b' }));
    no({ detail: { s: [{ wildcard: 'a\\*b' }] } }, withDetail({ s: 'axxb' }));
  });
  test('cidr matches IPv4 addresses in the block', () => {
    yes({ detail: { 'source-ip': [{ cidr: '10.0.0.0/24' }] } });
    no({ detail: { 'source-ip': [{ cidr: '10.0.1.0/24' }] } });
  });
  test('cidr matches IPv6 addresses in the block', () => {
    yes({ detail: { ip: [{ cidr: '2001:db8::/32' }] } }, withDetail({ ip: '2001:db8:0:1::5' }));
    no({ detail: { ip: [{ cidr: '2001:db8::/32' }] } }, withDetail({ ip: '2001:db9::1' }));
  });
});

describe('$or', () => {
  test('top-level $or: any branch', () => {
    yes({ $or: [{ source: ['aws.s3'] }, { 'detail-type': ['EC2 Instance State-change Notification'] }] });
    no({ $or: [{ source: ['aws.s3'] }, { 'detail-type': ['Other'] }] });
  });
  test('$or inside detail combines with sibling fields (AND)', () => {
    yes({
      source: ['aws.ec2'],
      detail: { $or: [{ 'c-count': [{ numeric: ['>', 0, '<=', 5] }] }, { 'd-count': [{ numeric: ['<', 10] }] }] },
    });
    no({ source: ['aws.s3'], detail: { $or: [{ 'c-count': [5] }, { 'd-count': [3] }] } });
  });
  test('nested $or', () => {
    yes({ $or: [{ source: ['x'] }, { $or: [{ region: ['us-west-1'] }, { region: ['eu-west-1'] }] }] });
  });
});

describe('compiled index', () => {
  test('exact source values are exposed for rule indexing', () => {
    assert.deepEqual(compile({ source: ['a', 'b'], detail: { x: [1] } }).index, { field: 'source', values: ['a', 'b'] });
    assert.deepEqual(compile({ 'detail-type': ['T'] }).index, { field: 'detail-type', values: ['T'] });
    assert.equal(compile({ source: [{ prefix: 'a' }] }).index, undefined);
  });
});

describe('invalid patterns', () => {
  test('not JSON, or not an object', () => {
    invalid([], 'Filter is not an object');
    invalid('"x"', 'Filter is not an object');
    invalid('', 'Filter is not an object');
    invalid('[1,', 'Filter is not an object');
  });
  test("JSON syntax errors in Jackson's words, with its location (as Event Ruler reports them)", () => {
    const at = (text: string, line: number, column: number) => `\n at [Source: (String)"${text}"; line: ${line}, column: ${column}]`;
    const json = (text: string, reason: string, line: number, column: number) => invalid(text, reason + at(text, line, column));
    // the AWS answer this wording is taken from: a pattern with its quotes escaped once too often
    json('{\\"detail\\": 1}', "Unexpected character ('\\' (code 92)): was expecting double-quote to start field name", 1, 3);
    json(
      '{"source": [',
      `Unexpected end-of-input: expected close marker for Array (start marker at [Source: (String)"{"source": ["; line: 1, column: 12])`,
      1,
      13,
    );
    json('{"a":}', "Unexpected character ('}' (code 125)): expected a value", 1, 7);
    json('{"a" [1]}', "Unexpected character ('[' (code 91)): was expecting a colon to separate field name and value", 1, 7);
    json('{"a":[1 2]}', "Unexpected character ('2' (code 50)): was expecting comma to separate Array entries", 1, 10);
    json('{"a":[1] "b":[2]}', "Unexpected character ('\"' (code 34)): was expecting comma to separate Object entries", 1, 11);
    json('{"a":[1],}', "Unexpected character ('}' (code 125)): was expecting double-quote to start field name", 1, 11);
    json(
      '{\n  "a": [\n    1,\n  ]\n}',
      "Unexpected character (']' (code 93)): expected a valid value (JSON String, Number, Array, Object or token 'null', 'true' or 'false')",
      4,
      4,
    );
    json(
      '{"a":[tru]}',
      "Unrecognized token 'tru': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')",
      1,
      10,
    );
    json(
      '{"a":[yes]}',
      "Unrecognized token 'yes': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')",
      1,
      10,
    );
    json('{"a":[01]}', 'Invalid numeric value: Leading zeroes not allowed', 1, 8);
    json('{"a":[1.]}', "Unexpected character (']' (code 93)) in numeric value: Decimal point not followed by a digit", 1, 10);
    json('{"a":["\\q"]}', "Unrecognized character escape 'q' (code 113)", 1, 10);
    json(
      '{"a":["x\ty"]}',
      'Illegal unquoted character ((CTRL-CHAR, code 9)): has to be escaped using backslash to be included in string value',
      1,
      10,
    );
    json('{"a":', 'Unexpected end-of-input within/between Object entries', 1, 6);
    json('{"a":[1,', 'Unexpected end-of-input within/between Array entries', 1, 9);
    json('{"a":["x', 'Unexpected end-of-input: was expecting closing quote for a string value', 1, 9);
    json('{"a', 'Unexpected end-of-input in field name', 1, 4);
    const long = `{"source": [${'"x",'.repeat(200)}`;
    assert.equal(
      checkPattern(long),
      `Event pattern is not valid. Reason: Unexpected end-of-input within/between Array entries\n at [Source: (String)"${long.slice(0, 500)}"[truncated ${long.length - 500} chars]; line: 1, column: ${long.length + 1}]`,
    );
  });
  test('nothing past the root object is read, as Event Ruler stops there', () => {
    yes('{"source": ["aws.ec2"]} and then anything');
    no('{"source": ["aws.s3"]}}');
  });
  test('a leaf must be an array, and not an empty one', () => {
    invalid({ source: 'aws.ec2' }, '"source" must be an object or an array');
    invalid({ detail: { slug: 5 } }, '"slug" must be an object or an array');
    invalid({ source: [] }, 'Empty arrays are not allowed');
  });
  test('empty objects are rejected', () => {
    invalid({}, 'Empty objects are not allowed');
    invalid({ source: ['aws.health'], detail: {} }, 'Empty objects are not allowed');
  });
  test('values must be primitives or match expressions', () => {
    invalid({ source: [['x']] }, 'Match value must be String, number, true, false, or null');
    invalid({ source: [{}] }, 'Match expression name not found');
    invalid({ source: [{ regex: 'x' }] }, 'Unrecognized match type regex');
    invalid({ source: [{ prefix: 'a', suffix: 'b' }] }, 'Only one key allowed in match expression');
  });
  test('operator arguments are checked', () => {
    invalid({ source: [{ prefix: 5 }] }, 'prefix match pattern must be a string');
    invalid({ source: [{ suffix: ['x'] }] }, 'suffix match pattern must be a string');
    invalid({ source: [{ 'equals-ignore-case': 1 }] }, 'equals-ignore-case match pattern must be a string');
    invalid({ source: [{ exists: 'yes' }] }, 'exists match pattern must be either true or false.');
    invalid({ source: [{ wildcard: 'a**b' }] }, 'Consecutive wildcard characters at pos 2'); // AWS counts the opening quote
    invalid({ source: [{ wildcard: 'abc**def' }] }, 'Consecutive wildcard characters at pos 4');
    invalid({ source: [{ cidr: '10.0.0.0/33' }] }, 'Nonsensical CIDR: 10.0.0.0/33');
  });
  test('numeric expressions are checked', () => {
    invalid({ n: [{ numeric: 5 }] }, 'Value of numeric must be an array.');
    invalid({ n: [{ numeric: ['!', 5] }] }, 'Unrecognized numeric range operator: !');
    invalid({ n: [{ numeric: ['>', 'a'] }] }, 'Value of > must be numeric');
    invalid({ n: [{ numeric: ['=', 5, '<', 6] }] }, 'Too many elements in numeric expression');
    invalid({ n: [{ numeric: ['>', 5, '>', 6] }] }, 'Bad numeric range operator: >');
    invalid({ n: [{ numeric: ['>', 10, '<', 5] }] }, 'Bottom must be less than top');
  });
  test('anything-but arguments are checked', () => {
    invalid(
      { n: [{ 'anything-but': [1, 'a'] }] },
      'Inside anything but list, either all values are number or string, mixed type is not supported',
    );
    invalid({ n: [{ 'anything-but': [null] }] }, 'Inside anything but list, start|null|boolean is not supported.');
    invalid({ n: [{ 'anything-but': true }] }, 'Value of anything-but must be an array or single string/number value.');
    invalid({ n: [{ 'anything-but': { exists: true } }] }, 'Unsupported anything-but pattern: exists');
    invalid({ n: [{ 'anything-but': { prefix: '' } }] }, 'Null prefix/suffix not allowed');
  });
  test('$or needs an array of at least two objects', () => {
    invalid({ $or: { a: ['x'] } }, 'It must be an Array followed with $or.');
    invalid({ $or: [{ a: ['x'] }] }, 'There must have at least 2 Objects in $or relationship.');
    invalid({ $or: [{ a: ['x'] }, 'b'] }, 'Only JSON object is allowed in array of $or relationship.');
    invalid({ $or: [{ a: ['x'] }, { numeric: ['y'] }] }, 'numeric is Ruler reserved fieldName which cannot be used inside $or.');
  });
});
