import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadModel } from '../../src/model/model.js';
import { matchRestRoute } from '../../src/protocol/rest.js';

const s3 = loadModel('s3-2006-03-01');
const lambda = loadModel('lambda-2015-03-31');
const route = (model = s3, method: string, url: string, headers: Record<string, string> = {}) => {
  const [path, query = ''] = url.split('?');
  return matchRestRoute(model, method, path, new URLSearchParams(query), headers);
};

test('S3 routes: the most specific requestUri template wins', () => {
  const cases: [string, string, string, Record<string, string>?][] = [
    ['GET', '/', 'ListBuckets'],
    ['PUT', '/b', 'CreateBucket'],
    ['PUT', '/b/', 'CreateBucket'],
    ['HEAD', '/b', 'HeadBucket'],
    ['GET', '/b', 'ListObjects'],
    ['GET', '/b?list-type=2&prefix=a', 'ListObjectsV2'],
    ['GET', '/b?versions', 'ListObjectVersions'],
    ['GET', '/b?location', 'GetBucketLocation'],
    ['PUT', '/b?versioning', 'PutBucketVersioning'],
    ['GET', '/b?uploads', 'ListMultipartUploads'],
    ['POST', '/b?delete', 'DeleteObjects'],
    ['PUT', '/b/k', 'PutObject'],
    ['PUT', '/b/dir/k.txt', 'PutObject'],
    ['PUT', '/b/k', 'CopyObject', { 'x-amz-copy-source': '/b/j' }],
    ['PUT', '/b/k?partNumber=1&uploadId=u', 'UploadPart'],
    ['PUT', '/b/k?partNumber=1&uploadId=u', 'UploadPartCopy', { 'x-amz-copy-source': '/b/j' }],
    ['GET', '/b/k?x-id=GetObject', 'GetObject'],
    ['GET', '/b/k?tagging', 'GetObjectTagging'],
    ['POST', '/b/k?uploads', 'CreateMultipartUpload'],
    ['POST', '/b/k?uploadId=u', 'CompleteMultipartUpload'],
    ['DELETE', '/b/k?uploadId=u', 'AbortMultipartUpload'],
    ['GET', '/b/k?uploadId=u', 'ListParts'],
    ['DELETE', '/b/k', 'DeleteObject'],
  ];
  for (const [method, url, expected, headers] of cases)
    assert.equal(route(s3, method, url, headers)?.op.name, expected, `${method} ${url}`);
});

test('labels are percent-decoded; a greedy label keeps slashes', () => {
  const m = route(s3, 'GET', '/my-bucket/a%20b/c%2Bd/%C3%BC.txt');
  assert.equal(m?.op.name, 'GetObject');
  assert.deepEqual(m?.labels, { Bucket: 'my-bucket', Key: 'a b/c+d/ü.txt' });
});

test('rest-json routes: Lambda functions and invocations', () => {
  assert.equal(route(lambda, 'GET', '/2015-03-31/functions/fn')?.op.name, 'GetFunction');
  assert.equal(route(lambda, 'POST', '/2015-03-31/functions/fn/invocations')?.op.name, 'Invoke');
  assert.equal(route(lambda, 'GET', '/2015-03-31/functions/')?.op.name, 'ListFunctions');
  assert.equal(route(lambda, 'DELETE', '/2015-03-31/nothing/here'), undefined);
});
