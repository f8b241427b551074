import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { compileTransformer, evaluatePath, parsePath, TransformError } from '../../src/services/events/transform.js';

const EVENT = {
  version: '0',
  id: 'e-1',
  'detail-type': 'EC2 Instance State-change Notification',
  source: 'aws.ec2',
  account: '123456789012',
  time: '2015-11-11T21:29:54Z',
  region: 'us-east-1',
  resources: ['arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111'],
  detail: { 'instance-id': 'i-0123456789', state: 'RUNNING', count: 3, ok: true, tags: { env: 'prod' }, quote: 'say "hi"' },
};
const ctx = {
  event: EVENT,
  ruleArn: 'arn:aws:events:us-east-1:123456789012:rule/r',
  ruleName: 'r',
  ingestionTime: '2024-01-01T00:00:00.000Z',
};
const render = (paths: Record<string, string>, template: string) => compileTransformer(paths, template).render(ctx);
const PATHS = {
  instance: '$.detail.instance-id',
  state: '$.detail.state',
  count: '$.detail.count',
  tags: '$.detail.tags',
  quote: '$.detail.quote',
};

describe('JSON paths', () => {
  test('dot names, indices, quoted names and wildcards', () => {
    assert.equal(evaluatePath(parsePath('$.detail.state'), EVENT), 'RUNNING');
    assert.equal(evaluatePath(parsePath('$.resources[0]'), EVENT), EVENT.resources[0]);
    assert.equal(evaluatePath(parsePath("$['detail-type']"), EVENT), EVENT['detail-type']);
    assert.deepEqual(evaluatePath(parsePath('$.detail.tags.*'), EVENT), ['prod']);
    assert.deepEqual(evaluatePath(parsePath('$'), EVENT), EVENT);
    assert.equal(evaluatePath(parsePath('$.detail.nothing'), EVENT), undefined);
  });
  test('invalid paths are rejected', () => {
    for (const p of ['detail', '$..x', '$.', '$[x]']) assert.throws(() => parsePath(p), TransformError, p);
  });
});

describe('InputTemplate', () => {
  test('AWS docs: plain text template gets the values as text', () => {
    assert.equal(render(PATHS, '<instance> is in state <state>'), 'i-0123456789 is in state RUNNING');
  });
  test('AWS docs: a JSON string template keeps the quotes it has', () => {
    assert.equal(render(PATHS, '"<instance> is in state <state>"'), '"i-0123456789 is in state RUNNING"');
    assert.equal(render(PATHS, '"<instance> is in state \\"<state>\\""'), '"i-0123456789 is in state \\"RUNNING\\""');
  });
  test('AWS docs: in a JSON object, unquoted placeholders get JSON, quoted ones the text', () => {
    const out = render(PATHS, '{"myInstance": <instance>,"myStatus": "<instance> is in state \\"<state>\\""}');
    assert.deepEqual(JSON.parse(out), { myInstance: 'i-0123456789', myStatus: 'i-0123456789 is in state "RUNNING"' });
  });
  test('numbers, booleans and objects are inserted as JSON', () => {
    const out = render({ ...PATHS, ok: '$.detail.ok' }, '{"n": <count>, "ok": <ok>, "tags": <tags>, "text": "n=<count>"}');
    assert.deepEqual(JSON.parse(out), { n: 3, ok: true, tags: { env: 'prod' }, text: 'n=3' });
  });
  test('quoted string values are escaped so the result stays valid JSON', () => {
    assert.deepEqual(JSON.parse(render(PATHS, '{"q": "<quote>"}')), { q: 'say "hi"' });
    assert.deepEqual(JSON.parse(render(PATHS, '{"q": <quote>}')), { q: 'say "hi"' });
  });
  test('a path missing from the event gives null in JSON, nothing in text', () => {
    const paths = { missing: '$.detail.nothing' };
    assert.deepEqual(JSON.parse(render(paths, '{"m": <missing>, "s": "<missing>"}')), { m: null, s: '' });
    assert.equal(render(paths, 'value: <missing>.'), 'value: .');
  });
  test('predefined variables', () => {
    const out = JSON.parse(
      render(
        {},
        '{"arn": <aws.events.rule-arn>, "name": "<aws.events.rule-name>", "at": <aws.events.event.ingestion-time>, "e": <aws.events.event>, "full": <aws.events.event.json>}',
      ),
    );
    assert.equal(out.arn, ctx.ruleArn);
    assert.equal(out.name, 'r');
    assert.equal(out.at, ctx.ingestionTime);
    assert.equal(out.e.detail, undefined);
    assert.equal(out.e.source, 'aws.ec2');
    assert.deepEqual(out.full, EVENT);
  });
  test('text that is not a known placeholder is kept', () => {
    assert.equal(render(PATHS, 'a <b> c <state>'), 'a <b> c RUNNING');
  });
  test('reserved keys and bad paths in InputPathsMap are rejected', () => {
    assert.throws(() => compileTransformer({ 'aws.events.rule-arn': '$.x' }, 'x'), TransformError);
    assert.throws(() => compileTransformer({ x: 'detail' }, 'x'), TransformError);
    const many = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`k${i}`, '$.x']));
    assert.throws(() => compileTransformer(many, 'x'), TransformError);
  });
});
