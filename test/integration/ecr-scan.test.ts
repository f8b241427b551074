/**
 * ECR basic scanning against a real opsbox process: images built by hand in the test (a gzipped tar
 * layer holding a dpkg status database and a package-lock.json), pushed over raw registry HTTP,
 * scanned on push and with StartImageScan, findings read with Debian's aws CLI v2 — with an OSV
 * feed of two advisories in OPSBOX_VULN_DB, and without any feed. The completed scan's "ECR Image
 * Scan" event is followed through an EventBridge rule to an SNS http subscription.
 */
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ociImage, pushImage, type TarInput } from '../helpers/oci.js';
import { awsCli, startOpsbox, unique, type RunningOpsbox } from '../helpers/opsbox.js';
import { httpEndpoint, type Endpoint } from '../helpers/sns.js';
import { until, waitFor } from '../helpers/wait.js';

const DPKG_STATUS = [
  'Package: libexample1',
  'Status: install ok installed',
  'Version: 1.2.3-1',
  'Source: example',
  'Architecture: amd64',
  '',
  'Package: bash',
  'Status: install ok installed',
  'Version: 5.2.15-2+b2',
  '',
].join('\n');

const PACKAGE_LOCK = JSON.stringify({
  name: 'app',
  lockfileVersion: 3,
  packages: {
    '': { name: 'app', version: '1.0.0' },
    'node_modules/lodash': { version: '4.17.20' },
    'node_modules/express': { version: '4.19.2' },
  },
});

const ADVISORIES = {
  'DEBIAN-CVE-2024-11111.json': {
    id: 'DEBIAN-CVE-2024-11111',
    aliases: ['CVE-2024-11111'],
    modified: '2024-06-01T12:00:00Z',
    summary: 'example: heap overflow in the parser',
    references: [{ type: 'ADVISORY', url: 'https://security-tracker.debian.org/tracker/CVE-2024-11111' }],
    affected: [
      {
        package: { ecosystem: 'Debian:12', name: 'example' },
        ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '1.2.3-1+deb12u1' }] }],
      },
    ],
    database_specific: { severity: 'high' },
  },
  // an array file: the npm advisory and one that matches nothing in the image
  'npm.json': [
    {
      id: 'GHSA-35jh-r3h4-6jhm',
      aliases: ['CVE-2021-23337'],
      modified: '2024-02-01T00:00:00Z',
      summary: 'Command Injection in lodash',
      severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:H/PR:H/UI:N/S:U/C:H/I:H/A:H' }],
      affected: [
        {
          package: { ecosystem: 'npm', name: 'lodash' },
          ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '4.17.21' }] }],
        },
      ],
    },
    {
      id: 'GHSA-unrelated',
      modified: '2024-01-01T00:00:00Z',
      affected: [
        { package: { ecosystem: 'npm', name: 'express' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '4.0.0' }] }] },
      ],
    },
  ],
};

/** A one-layer Debian 12 image; `marker` makes each image's digest its own. */
const debianImage = (marker: string, extra: TarInput[] = []) =>
  ociImage([
    [
      { path: 'etc/' },
      { path: 'etc/os-release', data: 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n' },
      { path: 'etc/marker', data: marker },
      { path: 'var/lib/dpkg/status', data: DPKG_STATUS },
      { path: 'app/package-lock.json', data: PACKAGE_LOCK },
      ...extra,
    ],
  ]);

async function ecr(box: RunningOpsbox, ...args: string[]) {
  const r = await awsCli(box.url, ['ecr', ...args]);
  if (r.code !== 0) throw new Error(`aws ecr ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout ? JSON.parse(r.stdout) : {};
}

async function ecrFails(box: RunningOpsbox, code: string, ...args: string[]) {
  const r = await awsCli(box.url, ['ecr', ...args]);
  assert.notEqual(r.code, 0, `expected aws ecr ${args[0]} to fail`);
  assert.match(r.stderr, new RegExp(code), r.stderr);
  return r.stderr;
}

const findings = (box: RunningOpsbox, repo: string, imageId: string, ...more: string[]) =>
  ecr(box, 'describe-image-scan-findings', '--repository-name', repo, '--image-id', imageId, ...more);

const scanDone = (box: RunningOpsbox, repo: string, imageId: string) =>
  waitFor(
    `scan of ${repo} ${imageId}`,
    () => findings(box, repo, imageId),
    (r) => r.imageScanStatus.status !== 'IN_PROGRESS',
    20_000,
    100,
  );

describe('ECR image scanning with an OSV feed', () => {
  let box: RunningOpsbox;
  let vulnDir: string;
  let ep: Endpoint;

  before(async () => {
    vulnDir = mkdtempSync(join(tmpdir(), 'opsbox-osv-'));
    for (const [name, doc] of Object.entries(ADVISORIES)) writeFileSync(join(vulnDir, name), JSON.stringify(doc));
    writeFileSync(join(vulnDir, 'README.txt'), 'not an advisory');
    box = await startOpsbox({ env: { OPSBOX_VULN_DB: vulnDir } });
    // ECR Image Scan events → EventBridge rule → SNS topic → this endpoint
    ep = await httpEndpoint();
    const sns = async (...args: string[]) => JSON.parse((await awsCli(box.url, ['sns', ...args])).stdout || '{}');
    const topicArn = (await sns('create-topic', '--name', unique('scans'))).TopicArn as string;
    await sns('subscribe', '--topic-arn', topicArn, '--protocol', 'http', '--notification-endpoint', ep.url);
    await until(() => ep.of('SubscriptionConfirmation').length === 1, 5000);
    await sns('confirm-subscription', '--topic-arn', topicArn, '--token', JSON.parse(ep.of('SubscriptionConfirmation')[0].body).Token);
    const rule = unique('scan-rule');
    const events = (...args: string[]) => awsCli(box.url, ['events', ...args]);
    assert.equal(
      (await events('put-rule', '--name', rule, '--event-pattern', '{"source":["aws.ecr"],"detail-type":["ECR Image Scan"]}')).code,
      0,
    );
    assert.equal((await events('put-targets', '--rule', rule, '--targets', `Id=sns,Arn=${topicArn}`)).code, 0);
  });

  after(async () => {
    await ep?.close();
    await box?.dispose();
    if (vulnDir) rmSync(vulnDir, { recursive: true, force: true });
  });

  test('scan on push: the pushed image is scanned and its findings read with the CLI', async () => {
    const repo = unique('scanned');
    const created = await ecr(box, 'create-repository', '--repository-name', repo, '--image-scanning-configuration', 'scanOnPush=true');
    assert.equal(created.repository.imageScanningConfiguration.scanOnPush, true);
    const image = debianImage('on-push');
    await pushImage(box.url, repo, 'v1', image);

    const r = await scanDone(box, repo, 'imageTag=v1');
    assert.deepEqual(r.imageScanStatus, { status: 'COMPLETE', description: 'The scan was completed successfully.' });
    assert.deepEqual(r.imageId, { imageDigest: image.digest, imageTag: 'v1' });
    assert.equal(r.repositoryName, repo);
    const f = r.imageScanFindings;
    assert.deepEqual(f.findingSeverityCounts, { HIGH: 1, MEDIUM: 1 });
    assert.equal(new Date(f.vulnerabilitySourceUpdatedAt).toISOString(), '2024-06-01T12:00:00.000Z');
    assert.ok(Math.abs(new Date(f.imageScanCompletedAt).getTime() - Date.now()) < 60_000);
    assert.deepEqual(f.findings, [
      {
        name: 'CVE-2024-11111',
        description: 'example: heap overflow in the parser',
        uri: 'https://security-tracker.debian.org/tracker/CVE-2024-11111',
        severity: 'HIGH',
        attributes: [
          { key: 'package_version', value: '1.2.3-1' },
          { key: 'package_name', value: 'libexample1' },
        ],
      },
      {
        name: 'CVE-2021-23337',
        description: 'Command Injection in lodash',
        uri: 'https://osv.dev/vulnerability/GHSA-35jh-r3h4-6jhm',
        severity: 'MEDIUM',
        attributes: [
          { key: 'package_version', value: '4.17.20' },
          { key: 'package_name', value: 'lodash' },
          { key: 'CVSS3_VECTOR', value: 'CVSS:3.1/AV:N/AC:H/PR:H/UI:N/S:U/C:H/I:H/A:H' },
          { key: 'CVSS3_SCORE', value: '6.6' },
        ],
      },
    ]);
    // the same findings by digest; `aws ecr wait image-scan-complete` agrees
    assert.deepEqual((await findings(box, repo, `imageDigest=${image.digest}`)).imageScanFindings.findings, f.findings);
    const waited = await awsCli(box.url, ['ecr', 'wait', 'image-scan-complete', '--repository-name', repo, '--image-id', 'imageTag=v1']);
    assert.equal(waited.code, 0, waited.stderr);

    // the completed scan was published as an ECR Image Scan event
    await until(() => ep.of('Notification').some((n) => JSON.parse(JSON.parse(n.body).Message).detail['repository-name'] === repo), 5000);
    const event = ep
      .of('Notification')
      .map((n) => JSON.parse(JSON.parse(n.body).Message))
      .find((e) => e.detail['repository-name'] === repo);
    assert.equal(event.source, 'aws.ecr');
    assert.equal(event['detail-type'], 'ECR Image Scan');
    assert.deepEqual(event.detail, {
      'scan-status': 'COMPLETE',
      'repository-name': repo,
      'image-digest': image.digest,
      'image-tags': ['v1'],
      'finding-severity-counts': { HIGH: 1, MEDIUM: 1 },
    });

    // scanned within the day: StartImageScan is refused, as AWS refuses it
    await ecrFails(box, 'LimitExceededException', 'start-image-scan', '--repository-name', repo, '--image-id', 'imageTag=v1');
  });

  test('StartImageScan and DescribeImageScanFindings on a repository without scan on push; paging; errors', async () => {
    const repo = unique('manual');
    await ecr(box, 'create-repository', '--repository-name', repo);
    // a second layer deletes the lock file with a whiteout: only the dpkg finding remains
    const image = ociImage([
      [
        { path: 'etc/os-release', data: 'ID=debian\nVERSION_ID=12\n' },
        { path: 'var/lib/dpkg/status', data: DPKG_STATUS },
        { path: 'app/package-lock.json', data: PACKAGE_LOCK },
        { path: 'srv/requirements.txt', data: 'Django==3.2.1\n' },
      ],
      [{ path: 'app/.wh.package-lock.json', data: '' }],
    ]);
    await pushImage(box.url, repo, 'latest', image);
    await ecrFails(
      box,
      'ScanNotFoundException',
      'describe-image-scan-findings',
      '--repository-name',
      repo,
      '--image-id',
      'imageTag=latest',
    );
    await ecrFails(box, 'ImageNotFoundException', 'start-image-scan', '--repository-name', repo, '--image-id', 'imageTag=nope');
    await ecrFails(
      box,
      'ImageNotFoundException',
      'describe-image-scan-findings',
      '--repository-name',
      repo,
      '--image-id',
      `imageDigest=sha256:${'0'.repeat(64)}`,
    );
    await ecrFails(
      box,
      'RepositoryNotFoundException',
      'start-image-scan',
      '--repository-name',
      unique('ghost'),
      '--image-id',
      'imageTag=x',
    );

    const started = await ecr(box, 'start-image-scan', '--repository-name', repo, '--image-id', 'imageTag=latest');
    assert.deepEqual(started.imageScanStatus, { status: 'IN_PROGRESS' });
    assert.deepEqual(started.imageId, { imageDigest: image.digest, imageTag: 'latest' });
    const done = await scanDone(box, repo, 'imageTag=latest');
    assert.equal(done.imageScanStatus.status, 'COMPLETE');
    assert.deepEqual(
      done.imageScanFindings.findings.map((f: { name: string }) => f.name),
      ['CVE-2024-11111'],
    );

    // a feed advisory for the pinned Django, added while opsbox runs, is seen by the next scan
    writeFileSync(
      join(vulnDir, 'pypi.json'),
      JSON.stringify({
        id: 'PYSEC-2021-99',
        modified: '2024-07-01T00:00:00Z',
        summary: 'Django: path traversal',
        database_specific: { severity: 'LOW' },
        affected: [
          {
            package: { ecosystem: 'PyPI', name: 'django' },
            ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '3.2' }, { fixed: '3.2.2' }] }],
          },
        ],
      }),
    );
    const repo2 = unique('manual2');
    await ecr(box, 'create-repository', '--repository-name', repo2, '--image-scanning-configuration', 'scanOnPush=true');
    await pushImage(box.url, repo2, 'x', image);
    const two = await scanDone(box, repo2, 'imageTag=x');
    assert.deepEqual(two.imageScanFindings.findingSeverityCounts, { HIGH: 1, LOW: 1 });

    // paging: one finding a page, nextToken to the next
    const page1 = await findings(box, repo2, 'imageTag=x', '--max-results', '1', '--no-paginate');
    assert.equal(page1.imageScanFindings.findings.length, 1);
    assert.equal(page1.imageScanFindings.findings[0].name, 'CVE-2024-11111');
    assert.ok(page1.nextToken);
    const page2 = await findings(box, repo2, 'imageTag=x', '--max-results', '1', '--no-paginate', '--next-token', page1.nextToken);
    assert.equal(page2.imageScanFindings.findings[0].name, 'PYSEC-2021-99');
    assert.equal(page2.nextToken, undefined);
    // the CLI's own paginator gathers every page
    const all = await findings(box, repo2, 'imageTag=x', '--page-size', '1');
    assert.deepEqual(
      all.imageScanFindings.findings.map((f: { name: string }) => f.name),
      ['CVE-2024-11111', 'PYSEC-2021-99'],
    );
    await ecrFails(
      box,
      'InvalidParameterException',
      'describe-image-scan-findings',
      '--repository-name',
      repo2,
      '--image-id',
      'imageTag=x',
      '--next-token',
      'garbage',
    );
  });

  test('a layer that is not a tar archive fails the scan with a description', async () => {
    const repo = unique('broken');
    await ecr(box, 'create-repository', '--repository-name', repo, '--image-scanning-configuration', 'scanOnPush=true');
    const image = ociImage([[{ path: 'a', data: 'b' }]]);
    // swap the layer for bytes that gunzip to garbage
    const { gzipSync } = await import('node:zlib');
    const { sha256 } = await import('../helpers/oci.js');
    const bad = gzipSync(Buffer.alloc(2048, 0x41));
    const manifest = JSON.parse(image.manifest.toString());
    manifest.layers[0] = { ...manifest.layers[0], digest: sha256(bad), size: bad.length };
    const m = Buffer.from(JSON.stringify(manifest));
    await pushImage(box.url, repo, 'bad', { blobs: [image.blobs[0], bad], manifest: m, digest: sha256(m) });
    const r = await scanDone(box, repo, 'imageTag=bad');
    assert.equal(r.imageScanStatus.status, 'FAILED');
    assert.match(r.imageScanStatus.description, /not a tar archive/);
    // (the CLI's paginator prints a null imageScanFindings; the response itself has none)
    assert.equal((await findings(box, repo, 'imageTag=bad', '--no-paginate')).imageScanFindings, undefined);
    // a failed scan does not count against the daily quota
    await ecr(box, 'start-image-scan', '--repository-name', repo, '--image-id', 'imageTag=bad');
  });
});

describe('ECR image scanning without a vulnerability feed', () => {
  let box: RunningOpsbox;
  let dataDir: string;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'opsbox-test-'));
    box = await startOpsbox({ dataDir, env: { OPSBOX_VULN_DB: '' } });
  });

  after(async () => {
    await box?.dispose();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  test('the scan completes with no findings and says no feed is configured', async () => {
    const repo = unique('nofeed');
    await ecr(box, 'create-repository', '--repository-name', repo, '--image-scanning-configuration', 'scanOnPush=true');
    const image = debianImage('no-feed');
    await pushImage(box.url, repo, 'v1', image);
    const r = await scanDone(box, repo, 'imageTag=v1');
    assert.equal(r.imageScanStatus.status, 'COMPLETE');
    assert.match(r.imageScanStatus.description, /no vulnerability feed is configured/);
    assert.deepEqual(r.imageScanFindings.findings, []);
    assert.deepEqual(r.imageScanFindings.findingSeverityCounts ?? {}, {});
    assert.equal(r.imageScanFindings.vulnerabilitySourceUpdatedAt, undefined);
  });

  test('a scan a stopped process left IN_PROGRESS runs again at the next start', async () => {
    const repo = unique('resume');
    await ecr(box, 'create-repository', '--repository-name', repo, '--image-scanning-configuration', 'scanOnPush=true');
    await pushImage(box.url, repo, 'v1', debianImage('resume'));
    await scanDone(box, repo, 'imageTag=v1');
    await box.stop();
    const db = new Database(join(box.dataDir, 'opsbox.db'));
    assert.equal(
      db
        .prepare(
          "UPDATE ecr_scans SET status = 'IN_PROGRESS', completed = NULL, findings = NULL, description = NULL WHERE repo_id = (SELECT id FROM ecr_repos WHERE name = ?)",
        )
        .run(repo).changes,
      1,
    );
    db.close();
    box = await startOpsbox({ dataDir: box.dataDir, env: { OPSBOX_VULN_DB: '' } });
    const r = await scanDone(box, repo, 'imageTag=v1');
    assert.equal(r.imageScanStatus.status, 'COMPLETE');
    assert.deepEqual(r.imageScanFindings.findings, []);
  });
});
