/** ecr/images.ts: the listings' tag filters, ListImages' entries, cursor paging and scan summaries. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AwsError } from '../../src/core/errors.js';
import { encodeToken } from '../../src/core/pagination.js';
import {
  byTagStatus,
  compareCursors,
  imageIdText,
  listEntries,
  pageAfter,
  readCursor,
  scanSummary,
  type Cursor,
  type Listed,
} from '../../src/services/ecr/images.js';
import type { ImageRow, ScanRow } from '../../src/services/ecr/store.js';

const image = (digest: string, pushed: number): ImageRow => ({
  repo_id: 1,
  digest,
  media_type: 'application/vnd.oci.image.manifest.v1+json',
  artifact_type: null,
  subject: null,
  manifest: Buffer.from('{}'),
  size: 10,
  pushed,
  last_pull: null,
});

const listed: Listed[] = [
  { image: image('sha256:a', 1), tags: ['a1', 'a2'] },
  { image: image('sha256:b', 2), tags: [] },
  { image: image('sha256:c', 2), tags: ['c1'] },
];

test('byTagStatus: TAGGED, UNTAGGED, ANY and no filter', () => {
  const digests = (s?: string) => byTagStatus(listed, s).map((l) => l.image.digest);
  assert.deepEqual(digests('TAGGED'), ['sha256:a', 'sha256:c']);
  assert.deepEqual(digests('UNTAGGED'), ['sha256:b']);
  assert.deepEqual(digests('ANY'), ['sha256:a', 'sha256:b', 'sha256:c']);
  assert.deepEqual(digests(undefined), ['sha256:a', 'sha256:b', 'sha256:c']);
});

test('listEntries: one entry per tag, an untagged image once without a tag, in cursor order', () => {
  const entries = listEntries(listed);
  assert.deepEqual(
    entries.map((e) => e.id),
    [
      { imageDigest: 'sha256:a', imageTag: 'a1' },
      { imageDigest: 'sha256:a', imageTag: 'a2' },
      { imageDigest: 'sha256:b' },
      { imageDigest: 'sha256:c', imageTag: 'c1' },
    ],
  );
  const keys = entries.map((e) => e.key);
  assert.deepEqual([...keys].sort(compareCursors), keys);
});

test('compareCursors: push time first, then digest, then tag', () => {
  const c = (p: number, d: string, t: string): Cursor => [p, d, t];
  assert.ok(compareCursors(c(1, 'z', 'z'), c(2, 'a', 'a')) < 0);
  assert.ok(compareCursors(c(2, 'a', 'z'), c(2, 'b', 'a')) < 0);
  assert.ok(compareCursors(c(2, 'a', 'a'), c(2, 'a', 'b')) < 0);
  assert.equal(compareCursors(c(2, 'a', ''), c(2, 'a', '')), 0);
});

test('pageAfter: pages through in order with tokens, the last page has none', () => {
  const entries = listEntries(listed);
  const seen: string[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const page = pageAfter(entries, (e) => e.key, token, 3);
    seen.push(...page.items.map((e) => `${e.id.imageDigest}:${e.id.imageTag ?? ''}`));
    token = page.nextToken;
    pages++;
  } while (token);
  assert.equal(pages, 2);
  assert.deepEqual(seen, ['sha256:a:a1', 'sha256:a:a2', 'sha256:b:', 'sha256:c:c1']);
  // an entry deleted after its page was served does not shift the next page
  const first = pageAfter(entries, (e) => e.key, undefined, 2);
  const rest = pageAfter(entries.slice(1), (e) => e.key, first.nextToken, 10);
  assert.deepEqual(
    rest.items.map((e) => e.id.imageDigest),
    ['sha256:b', 'sha256:c'],
  );
});

test('readCursor: tokens opsbox did not make → InvalidParameterException', () => {
  const bad = (token: string) =>
    assert.throws(
      () => readCursor(token),
      (e: unknown) => e instanceof AwsError && e.code === 'InvalidParameterException',
    );
  bad('bogus');
  bad(encodeToken('not json'));
  bad(encodeToken('[1,2]'));
  bad(encodeToken('{"a":1}'));
  bad(encodeToken('["1","a",""]'));
  assert.deepEqual(readCursor(encodeToken('[5,"sha256:x","t"]')), [5, 'sha256:x', 't']);
});

test('imageIdText: as ImageNotFoundException names an image id', () => {
  assert.equal(imageIdText({ imageTag: 'v1' }), "{imageDigest:'null', imageTag:'v1'}");
  assert.equal(imageIdText({ imageDigest: 'sha256:1', imageTag: 'v1' }), "{imageDigest:'sha256:1', imageTag:'v1'}");
  assert.equal(imageIdText({ imageDigest: 'sha256:1' }), "{imageDigest:'sha256:1', imageTag:'null'}");
});

test('scanSummary: none while in progress; severity counts as stored, else counted; bad JSON counts nothing', () => {
  const scan = (completed: number | null, findings: string | null): ScanRow => ({
    repo_id: 1,
    digest: 'sha256:a',
    status: completed === null ? 'IN_PROGRESS' : 'COMPLETE',
    description: null,
    started: 1,
    completed,
    findings,
  });
  assert.equal(scanSummary(scan(null, null)), undefined);
  assert.deepEqual(scanSummary(scan(1000, JSON.stringify({ findingSeverityCounts: { HIGH: 2 }, vulnerabilitySourceUpdatedAt: 500 }))), {
    imageScanCompletedAt: new Date(1000),
    vulnerabilitySourceUpdatedAt: new Date(500),
    findingSeverityCounts: { HIGH: 2 },
  });
  assert.deepEqual(
    scanSummary(scan(1000, JSON.stringify({ findings: [{ severity: 'LOW' }, { severity: 'LOW' }, { severity: 'CRITICAL' }, {}] })))
      ?.findingSeverityCounts,
    { LOW: 2, CRITICAL: 1 },
  );
  assert.deepEqual(scanSummary(scan(1000, '{oops'))?.findingSeverityCounts, {});
  assert.deepEqual(scanSummary(scan(1000, null))?.findingSeverityCounts, {});
});
