/** IAM's helpers: policy document checks, URL-encoded documents, pagination, tags (over a scratch core_tags). */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Store } from '../../src/core/store.js';
import { Tags } from '../../src/core/tags.js';
import { checkPolicyDocument, decodeMarker, encodeDocument, entityTags, pageOf, paginate } from '../../src/services/iam/common.js';
import { AWS_MANAGED_POLICIES, awsPolicyArn, findAwsManagedPolicy } from '../../src/services/iam/awsManagedPolicies.js';

const code = (fn: () => void) => {
  try {
    fn();
    return undefined;
  } catch (err: any) {
    return `${err.code} ${err.status}: ${err.message}`;
  }
};

test("checkPolicyDocument: JSON objects pass; anything else → MalformedPolicyDocument in the kind's wording", () => {
  assert.equal(
    code(() => checkPolicyDocument('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}', 'permissions')),
    undefined,
  );
  assert.equal(
    code(() => checkPolicyDocument('{', 'trust')),
    'MalformedPolicyDocument 400: This policy contains invalid Json',
  );
  assert.equal(
    code(() => checkPolicyDocument('[]', 'permissions')),
    'MalformedPolicyDocument 400: Syntax errors in policy.',
  );
  assert.equal(
    code(() => checkPolicyDocument('{"Statement":[]}', 'permissions')),
    'MalformedPolicyDocument 400: Could not parse the policy: Statement is empty!',
  );
});

test('encodeDocument: percent-encodes JSON the way IAM returns it, round-tripping through decodeURIComponent', () => {
  const doc = '{"Statement": [{"Action": "s3:*"}]}';
  assert.equal(encodeDocument(doc), '%7B%22Statement%22%3A%20%5B%7B%22Action%22%3A%20%22s3%3A*%22%7D%5D%7D');
  assert.equal(decodeURIComponent(encodeDocument(doc)), doc);
});

test('paginate: pages in the list order with an opaque Marker, IsTruncated only when more remain', () => {
  const all = ['a', 'b', 'c', 'd', 'e'];
  const p1 = paginate(all, undefined, 2);
  assert.deepEqual([p1.items, p1.IsTruncated], [['a', 'b'], true]);
  const p2 = paginate(all, p1.Marker, 2);
  const p3 = paginate(all, p2.Marker, 2);
  assert.deepEqual([p2.items, p3.items, p3.IsTruncated, p3.Marker], [['c', 'd'], ['e'], false, undefined]);
  assert.deepEqual(paginate(all).items, all);
});

test('pageOf: the marker of a keyset page decodes to the last key returned', () => {
  const page = pageOf(['a', 'b', 'c'], (s) => s, 2);
  assert.deepEqual([page.items, page.IsTruncated, decodeMarker(page.Marker)], [['a', 'b'], true, 'b']);
  assert.equal(pageOf(['a'], (s) => s, 2).Marker, undefined);
});

test('entityTags add / remove: existing keys are overwritten, new ones appended, more than 50 → LimitExceeded', () => {
  const dir = mkdtempSync(join(tmpdir(), 'opsbox-iam-tags-'));
  const store = new Store(dir);
  try {
    const tags = entityTags(new Tags(store), 'Role');
    tags.add('arn:r', [{ Key: 'a', Value: '1' }]);
    tags.add('arn:r', [
      { Key: 'a', Value: '2' },
      { Key: 'b', Value: '3' },
    ]);
    assert.deepEqual(tags.out('arn:r'), [
      { Key: 'a', Value: '2' },
      { Key: 'b', Value: '3' },
    ]);
    tags.remove('arn:r', ['a', 'zzz']);
    assert.deepEqual(tags.out('arn:r'), [{ Key: 'b', Value: '3' }]);
    tags.add(
      'arn:many',
      Array.from({ length: 50 }, (_, i) => ({ Key: `k${i}`, Value: '' })),
    );
    assert.equal(
      code(() => tags.add('arn:many', [{ Key: 'one-more', Value: '' }])),
      'LimitExceeded 409: Cannot exceed quota for TagsPerRole: 50',
    );
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('AWS managed catalog: the well-known policies resolve by ARN, unknown ones do not', () => {
  for (const name of [
    'AdministratorAccess',
    'ReadOnlyAccess',
    'AmazonS3FullAccess',
    'AWSCodeBuildAdminAccess',
    'AWSCodePipeline_FullAccess',
    'CloudWatchLogsFullAccess',
  ])
    assert.equal(findAwsManagedPolicy(`arn:aws:iam::aws:policy/${name}`)?.name, name);
  assert.equal(findAwsManagedPolicy('arn:aws:iam::aws:policy/service-role/AWSCodeDeployRole')?.name, 'AWSCodeDeployRole');
  assert.equal(findAwsManagedPolicy('arn:aws:iam::aws:policy/Nope'), undefined);
  for (const p of AWS_MANAGED_POLICIES) {
    assert.match(p.id, /^ANPA[A-Z0-9]{17}$/, p.name);
    assert.equal(findAwsManagedPolicy(awsPolicyArn(p)), p);
  }
});
