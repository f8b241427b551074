import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSecretReference } from '../../src/services/codebuild/build/env.js';

test('secrets-manager references: name or ARN, then json-key:version-stage:version-id, each optional', () => {
  assert.deepEqual(parseSecretReference('shop/api'), {
    secretId: 'shop/api',
    jsonKey: undefined,
    versionStage: undefined,
    versionId: undefined,
  });
  assert.deepEqual(parseSecretReference('shop/api:key'), {
    secretId: 'shop/api',
    jsonKey: 'key',
    versionStage: undefined,
    versionId: undefined,
  });
  assert.deepEqual(parseSecretReference('shop/api::AWSPREVIOUS'), {
    secretId: 'shop/api',
    jsonKey: undefined,
    versionStage: 'AWSPREVIOUS',
    versionId: undefined,
  });
  const arn = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:shop/api-AbCdEf';
  assert.deepEqual(parseSecretReference(`${arn}:key::v-1`), { secretId: arn, jsonKey: 'key', versionStage: undefined, versionId: 'v-1' });
  assert.deepEqual(parseSecretReference(arn), { secretId: arn, jsonKey: undefined, versionStage: undefined, versionId: undefined });
});
