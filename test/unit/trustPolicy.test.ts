import assert from 'node:assert/strict';
import { test } from 'node:test';
import { trustAllows, type TrustRequest } from '../../src/core/trustPolicy.js';

const doc = (...Statement: object[]) => JSON.stringify({ Version: '2012-10-17', Statement });
const user = (arn: string, context: TrustRequest['context'] = {}): TrustRequest => ({
  principal: { kind: 'AWS', arn, account: arn.split(':')[4] },
  action: 'sts:AssumeRole',
  context,
});
const service = (name: string): TrustRequest => ({ principal: { kind: 'Service', service: name }, action: 'sts:AssumeRole', context: {} });

test('trust policy: principals by account, root ARN, user ARN, role (matching its sessions) and service', () => {
  const allow = (Principal: unknown) => doc({ Effect: 'Allow', Principal, Action: 'sts:AssumeRole' });
  assert.equal(trustAllows(allow({ AWS: '111111111111' }), user('arn:aws:iam::111111111111:user/alice')), true);
  assert.equal(trustAllows(allow({ AWS: 'arn:aws:iam::111111111111:root' }), user('arn:aws:iam::222222222222:user/alice')), false);
  assert.equal(
    trustAllows(
      allow({ AWS: ['arn:aws:iam::111111111111:user/bob', 'arn:aws:iam::111111111111:user/alice'] }),
      user('arn:aws:iam::111111111111:user/alice'),
    ),
    true,
  );
  assert.equal(trustAllows(allow({ AWS: 'arn:aws:iam::111111111111:user/bob' }), user('arn:aws:iam::111111111111:user/alice')), false);
  assert.equal(
    trustAllows(
      allow({ AWS: 'arn:aws:iam::111111111111:role/ci/deployer' }),
      user('arn:aws:sts::111111111111:assumed-role/deployer/run-1'),
    ),
    true,
  );
  assert.equal(trustAllows(allow({ Service: 'codebuild.amazonaws.com' }), service('codebuild.amazonaws.com')), true);
  assert.equal(trustAllows(allow({ Service: 'codebuild.amazonaws.com' }), user('arn:aws:iam::111111111111:root')), false);
  assert.equal(trustAllows(allow({ Service: 'codebuild.amazonaws.com' }), service('lambda.amazonaws.com')), false);
  assert.equal(trustAllows(allow('*'), service('lambda.amazonaws.com')), true);
  assert.equal(trustAllows(allow({ AWS: '*' }), user('arn:aws:iam::333333333333:root')), true);
});

test('trust policy: actions with wildcards, explicit Deny wins, nothing matching denies, malformed documents deny', () => {
  const p = { AWS: '111111111111' };
  assert.equal(
    trustAllows(doc({ Effect: 'Allow', Principal: p, Action: ['sts:TagSession', 'sts:Assume*'] }), user('arn:aws:iam::111111111111:root')),
    true,
  );
  assert.equal(
    trustAllows(doc({ Effect: 'Allow', Principal: p, Action: 'sts:AssumeRoleWithSAML' }), user('arn:aws:iam::111111111111:root')),
    false,
  );
  assert.equal(
    trustAllows(doc({ Effect: 'Allow', Principal: p, NotAction: 'sts:TagSession' }), user('arn:aws:iam::111111111111:root')),
    true,
  );
  assert.equal(
    trustAllows(
      doc(
        { Effect: 'Allow', Principal: p, Action: 'sts:*' },
        { Effect: 'Deny', Principal: { AWS: 'arn:aws:iam::111111111111:user/mallory' }, Action: '*' },
      ),
      user('arn:aws:iam::111111111111:user/mallory'),
    ),
    false,
  );
  assert.equal(trustAllows(doc(), user('arn:aws:iam::111111111111:root')), false);
  assert.equal(trustAllows('{not json', user('arn:aws:iam::111111111111:root')), false);
});

test('trust policy: conditions (StringEquals, StringLike, negations, IfExists, Null; unknown operators never match)', () => {
  const withCondition = (Condition: object) =>
    doc({ Effect: 'Allow', Principal: { AWS: '111111111111' }, Action: 'sts:AssumeRole', Condition });
  const alice = (context: TrustRequest['context']) => user('arn:aws:iam::111111111111:user/alice', context);
  assert.equal(trustAllows(withCondition({ StringEquals: { 'sts:ExternalId': 'abc' } }), alice({ 'sts:externalid': 'abc' })), true);
  assert.equal(trustAllows(withCondition({ StringEquals: { 'sts:ExternalId': 'abc' } }), alice({})), false);
  assert.equal(
    trustAllows(withCondition({ StringLike: { 'sts:RoleSessionName': 'ci-*' } }), alice({ 'sts:rolesessionname': 'ci-42' })),
    true,
  );
  assert.equal(trustAllows(withCondition({ StringNotEquals: { 'sts:ExternalId': 'bad' } }), alice({})), true);
  assert.equal(trustAllows(withCondition({ StringEqualsIfExists: { 'sts:SourceIdentity': 'x' } }), alice({})), true);
  assert.equal(trustAllows(withCondition({ Null: { 'sts:ExternalId': 'false' } }), alice({})), false);
  assert.equal(
    trustAllows(withCondition({ NumericLessThan: { 'aws:MultiFactorAuthAge': '3600' } }), alice({ 'aws:multifactorauthage': '10' })),
    false,
  );
});
