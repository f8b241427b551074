/**
 * ECR lifecycle policies against a real opsbox process whose engine runs every 500 ms
 * (OPSBOX_ECR_LIFECYCLE_INTERVAL_MS): images pushed over raw registry HTTP, the policy put and
 * previewed with the aws CLI, and the expired images gone from the registry.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { awsCli, startOpsbox, unique, type RunningOpsbox } from '../helpers/opsbox.js';
import { sleep, waitFor } from '../helpers/wait.js';

let box: RunningOpsbox;
before(async () => {
  box = await startOpsbox({ env: { OPSBOX_ECR_LIFECYCLE_INTERVAL_MS: '500' } });
});
after(async () => {
  await box?.dispose();
});

async function cli(...args: string[]) {
  const r = await awsCli(box.url, ['ecr', ...args]);
  return { code: r.code, out: r.stdout.trim() ? JSON.parse(r.stdout) : {}, err: r.stderr };
}
async function cliOk(...args: string[]) {
  const r = await cli(...args);
  assert.equal(r.code, 0, r.err);
  return r.out;
}

const AUTH = `Basic ${Buffer.from('AWS:anything').toString('base64')}`;
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

function registry(method: string, path: string, body?: Buffer, headers: Record<string, string> = {}) {
  return fetch(`${box.url}/v2/${path}`, { method, headers: { authorization: AUTH, ...headers }, body: body && new Uint8Array(body) });
}

/** Pushes a one-layer OCI image as `repo:tag`; returns its digest. */
async function push(repo: string, tag: string): Promise<string> {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Labels: { tag } } }));
  const layer = Buffer.from(`the layer of ${repo}:${tag}`);
  for (const blob of [config, layer]) {
    const res = await registry('POST', `${repo}/blobs/uploads/?digest=${sha(blob)}`, blob, { 'content-type': 'application/octet-stream' });
    assert.equal(res.status, 201, await res.text());
  }
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha(layer), size: layer.length }],
    }),
  );
  const res = await registry('PUT', `${repo}/manifests/${tag}`, manifest, { 'content-type': OCI_MANIFEST });
  assert.equal(res.status, 201, await res.text());
  return res.headers.get('docker-content-digest')!;
}

async function manifestStatus(repo: string, ref: string) {
  const res = await registry('GET', `${repo}/manifests/${ref}`, undefined, { accept: OCI_MANIFEST });
  const body = (await res.json()) as { errors?: { code: string }[] };
  return { status: res.status, code: body.errors?.[0]?.code };
}

const keepTwoReleases = JSON.stringify({
  rules: [
    {
      rulePriority: 1,
      description: 'keep the two most recent v releases',
      selection: { tagStatus: 'tagged', tagPrefixList: ['v'], countType: 'imageCountMoreThan', countNumber: 2 },
      action: { type: 'expire' },
    },
  ],
});

describe('ECR lifecycle policies', () => {
  test('put with the CLI, preview, and the engine expires what the policy says', async () => {
    const repo = unique('lifecycle');
    await cliOk('create-repository', '--repository-name', repo);
    const digests: Record<string, string> = {};
    for (const tag of ['v1', 'v2', 'v3', 'v4', 'latest']) {
      digests[tag] = await push(repo, tag);
      await sleep(5);
    }

    const missing = await cli('get-lifecycle-policy', '--repository-name', repo);
    assert.notEqual(missing.code, 0);
    assert.match(missing.err, /LifecyclePolicyNotFoundException/);

    const invalid = await cli(
      'put-lifecycle-policy',
      '--repository-name',
      repo,
      '--lifecycle-policy-text',
      keepTwoReleases.replace('"imageCountMoreThan"', '"sinceImagePushed"'),
    );
    assert.notEqual(invalid.code, 0);
    assert.match(invalid.err, /InvalidParameterException/);
    assert.match(
      invalid.err,
      /Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation failure: /,
    );

    // preview the text before putting it: once it is put, the engine may expire the images any moment
    const started = await cliOk('start-lifecycle-policy-preview', '--repository-name', repo, '--lifecycle-policy-text', keepTwoReleases);
    assert.equal(started.status, 'IN_PROGRESS');
    const preview = await waitFor(
      'the preview to complete',
      () => cliOk('get-lifecycle-policy-preview', '--repository-name', repo),
      (p) => p.status === 'COMPLETE',
      15_000,
      200,
    );
    assert.equal(preview.lifecyclePolicyText, keepTwoReleases);
    assert.deepEqual(preview.summary, { expiringImageTotalCount: 2 });
    assert.deepEqual(
      preview.previewResults.map((r: any) => [r.imageDigest, r.imageTags, r.appliedRulePriority, r.action.type]),
      [
        [digests.v1, ['v1'], 1, 'EXPIRE'],
        [digests.v2, ['v2'], 1, 'EXPIRE'],
      ],
    );
    assert.ok(preview.previewResults.every((r: any) => typeof r.imagePushedAt === 'string' || typeof r.imagePushedAt === 'number'));

    const put = await cliOk('put-lifecycle-policy', '--repository-name', repo, '--lifecycle-policy-text', keepTwoReleases);
    assert.equal(put.lifecyclePolicyText, keepTwoReleases);
    assert.equal((await cliOk('get-lifecycle-policy', '--repository-name', repo)).lifecyclePolicyText, keepTwoReleases);

    for (const tag of ['v1', 'v2'])
      await waitFor(
        `${repo}:${tag} to expire`,
        () => manifestStatus(repo, tag),
        (s) => s.status === 404,
        15_000,
        100,
      );
    assert.deepEqual(await manifestStatus(repo, digests.v1), { status: 404, code: 'MANIFEST_UNKNOWN' });
    assert.deepEqual(await manifestStatus(repo, digests.v2), { status: 404, code: 'MANIFEST_UNKNOWN' });
    for (const tag of ['v3', 'v4', 'latest']) assert.equal((await manifestStatus(repo, tag)).status, 200, tag);
    const tags = (await (await registry('GET', `${repo}/tags/list`)).json()) as { tags: string[] };
    assert.deepEqual(tags.tags, ['latest', 'v3', 'v4']);

    const got = await cliOk('get-lifecycle-policy', '--repository-name', repo);
    assert.ok(got.lastEvaluatedAt, 'lastEvaluatedAt is set once the engine ran');

    // a preview of the stored policy now finds nothing left to expire
    await cliOk('start-lifecycle-policy-preview', '--repository-name', repo);
    const again = await waitFor(
      'the second preview',
      () => cliOk('get-lifecycle-policy-preview', '--repository-name', repo),
      (p) => p.status === 'COMPLETE',
      15_000,
      200,
    );
    assert.deepEqual(again.summary, { expiringImageTotalCount: 0 });

    const deleted = await cliOk('delete-lifecycle-policy', '--repository-name', repo);
    assert.equal(deleted.lifecyclePolicyText, keepTwoReleases);
    const gone = await cli('get-lifecycle-policy', '--repository-name', repo);
    assert.match(gone.err, /LifecyclePolicyNotFoundException/);
  });

  test('preview errors: no preview yet, no policy to preview', async () => {
    const repo = unique('lifecycle');
    await cliOk('create-repository', '--repository-name', repo);
    const none = await cli('get-lifecycle-policy-preview', '--repository-name', repo);
    assert.notEqual(none.code, 0);
    assert.match(none.err, /LifecyclePolicyPreviewNotFoundException/);
    const noPolicy = await cli('start-lifecycle-policy-preview', '--repository-name', repo);
    assert.notEqual(noPolicy.code, 0);
    assert.match(noPolicy.err, /LifecyclePolicyNotFoundException/);
    const noRepo = await cli('get-lifecycle-policy', '--repository-name', unique('missing'));
    assert.match(noRepo.err, /RepositoryNotFoundException/);
  });
});
