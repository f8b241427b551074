import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AwsError } from '../../src/core/errors.js';
import {
  canonical,
  checkName,
  isPublic,
  isValidLabel,
  nameOf,
  parameterArn,
  parseSelector,
  pathPrefix,
  underPath,
} from '../../src/services/ssm/names.js';

const scope = { account: '000000000000', region: 'us-east-1' };
const code = (c: string) => (e: unknown) => e instanceof AwsError && e.code === c;

describe('ssm names', () => {
  test('canonical names and ARNs: "x" and "/x" are one parameter', () => {
    assert.equal(canonical('x'), '/x');
    assert.equal(canonical('/x'), '/x');
    assert.equal(canonical('/a/b'), '/a/b');
    assert.equal(parameterArn(scope, 'x'), 'arn:aws:ssm:us-east-1:000000000000:parameter/x');
    assert.equal(parameterArn(scope, '/a/b'), 'arn:aws:ssm:us-east-1:000000000000:parameter/a/b');
  });

  test('names given as ARNs; other accounts and regions are foreign; spaces around are dropped', () => {
    assert.deepEqual(nameOf('arn:aws:ssm:us-east-1:000000000000:parameter/a/b', scope), { name: '/a/b', foreign: false });
    assert.deepEqual(nameOf('arn:aws:ssm:us-east-1:000000000000:parameter/flat', scope), { name: 'flat', foreign: false });
    assert.equal(nameOf('arn:aws:ssm:eu-west-1:000000000000:parameter/a/b', scope).foreign, true);
    assert.equal(nameOf('arn:aws:ssm:us-east-1:111111111111:parameter/a/b', scope).foreign, true);
    assert.equal(nameOf('arn:aws:ssm:us-east-1::parameter/aws/service/x', scope).foreign, false);
    assert.deepEqual(nameOf('  /a/b ', scope), { name: '/a/b', foreign: false });
  });

  test('checkName: AWS rules for reserved prefixes, hierarchy, characters and depth', () => {
    for (const ok of ['x', '/x', '/a/b-c_d.e', 'my.param', `/${Array.from({ length: 15 }, (_, i) => i).join('/')}`]) checkName(ok);
    assert.throws(() => checkName('aws-thing'), code('ValidationException'));
    assert.throws(() => checkName('/AWS'), code('ValidationException'));
    assert.throws(() => checkName('ssmfoo'), code('ValidationException'));
    assert.throws(() => checkName('/ssm/a/b'), code('ValidationException'));
    assert.throws(() => checkName('/aws/a/b'), code('AccessDeniedException'));
    assert.throws(
      () => checkName('a/b'),
      (e) => e instanceof AwsError && e.message === 'Parameter name must be a fully qualified name.',
    );
    for (const bad of ['/a b', '/a//b', '/a/', '/', 'a*b', '/a/é']) assert.throws(() => checkName(bad), code('ValidationException'), bad);
    assert.throws(() => checkName(`/${Array.from({ length: 16 }, (_, i) => i).join('/')}`), code('HierarchyLevelLimitExceededException'));
    assert.equal(isPublic('/aws/service/x'), true);
    assert.equal(isPublic('/shop/aws'), false);
  });

  test('selectors: name:version and name:label', () => {
    assert.deepEqual(parseSelector('/a/b'), { name: '/a/b' });
    assert.deepEqual(parseSelector('/a/b:3'), { name: '/a/b', version: 3, selector: ':3' });
    assert.deepEqual(parseSelector('/a/b:prod'), { name: '/a/b', label: 'prod', selector: ':prod' });
    assert.equal(parseSelector('/a/b:1:2'), undefined);
    assert.equal(parseSelector('/a/b:'), undefined);
  });

  test('labels: letters, digits, . - _; not starting with a digit, aws or ssm; at most 100 characters', () => {
    for (const ok of ['prod', 'Prod-1', 'a.b_c', 'x'.repeat(100), 'sawtooth']) assert.equal(isValidLabel(ok), true, ok);
    for (const bad of ['1st', 'aws-x', 'SSMx', 'AWS', 'has space', 'a/b', '', 'x'.repeat(101)]) assert.equal(isValidLabel(bad), false, bad);
  });

  test('paths: prefixes, one level or recursive', () => {
    assert.equal(pathPrefix('/a'), '/a/');
    assert.equal(pathPrefix('/a/'), '/a/');
    assert.equal(pathPrefix('/'), '/');
    assert.throws(() => pathPrefix('a'), code('ValidationException'));
    assert.throws(() => pathPrefix('/a//b'), code('ValidationException'));
    assert.equal(underPath('/a/b', '/a/', false), true);
    assert.equal(underPath('/a/b/c', '/a/', false), false);
    assert.equal(underPath('/a/b/c', '/a/', true), true);
    assert.equal(underPath('/ab', '/a/', true), false);
    assert.equal(underPath('/x', '/', false), true);
    assert.equal(underPath('/x/y', '/', false), false);
  });
});
