/**
 * ECR's image API against a real opsbox with the aws CLI, over images pushed through the OCI
 * registry with raw HTTP (Basic auth with get-login-password's password): DescribeImages,
 * ListImages, BatchGetImage, BatchDeleteImage, PutImage, and the layer API (availability, uploads
 * in parts, download URLs), each with its main errors by their exact codes.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { awsCli, startOpsbox, unique, type RunningOpsbox } from '../helpers/opsbox.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';

const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

let box: RunningOpsbox;
let work: string;
let authorization: string;
let account: string;

async function cli(args: string[]) {
  const r = await awsCli(box.url, ['ecr', ...args]);
  assert.equal(r.code, 0, `aws ecr ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout.trim() ? JSON.parse(r.stdout) : {};
}

/** The error message of a CLI call that must fail with `code`. */
async function cliFails(args: string[], code: string): Promise<string> {
  const r = await awsCli(box.url, ['ecr', ...args]);
  assert.notEqual(r.code, 0, `aws ecr ${args.join(' ')} should have failed: ${r.stdout}`);
  const m = /An error occurred \(([^)]+)\) when calling the \w+ operation: (.*)/s.exec(r.stderr);
  assert.ok(m, `unexpected CLI error output: ${r.stderr}`);
  assert.equal(m[1], code, r.stderr);
  return m[2].trim();
}

const registry = (path: string, init: RequestInit = {}) =>
  fetch(`${box.url}/v2/${path}`, {
    ...init,
    headers: { Authorization: authorization, ...(init.headers as Record<string, string> | undefined) },
  });

async function pushBlob(repo: string, bytes: Buffer): Promise<string> {
  const digest = sha256(bytes);
  const res = await registry(`${repo}/blobs/uploads/?digest=${digest}`, { method: 'POST', body: new Uint8Array(bytes) });
  assert.equal(res.status, 201, await res.text());
  return digest;
}

async function pushManifest(repo: string, ref: string, body: string, mediaType: string): Promise<string> {
  const res = await registry(`${repo}/manifests/${ref}`, { method: 'PUT', body, headers: { 'Content-Type': mediaType } });
  assert.equal(res.status, 201, await res.text());
  return res.headers.get('docker-content-digest')!;
}

interface Pushed {
  digest: string;
  manifest: string;
  config: { digest: string; size: number };
  layer: { digest: string; size: number; bytes: Buffer };
}

/** A small image (a config and one layer) pushed to `repo` under `tag` (by digest when no tag). */
async function pushImage(repo: string, tag?: string): Promise<Pushed> {
  const configBytes = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers' }, seed: randomBytes(4).toString('hex') }),
  );
  const layerBytes = randomBytes(300);
  const config = { digest: await pushBlob(repo, configBytes), size: configBytes.length };
  const layer = { digest: await pushBlob(repo, layerBytes), size: layerBytes.length, bytes: layerBytes };
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: OCI_CONFIG, digest: config.digest, size: config.size },
    layers: [{ mediaType: OCI_LAYER, digest: layer.digest, size: layer.size }],
  });
  const digest = await pushManifest(repo, tag ?? sha256(manifest), manifest, OCI_MANIFEST);
  assert.equal(digest, sha256(manifest));
  return { digest, manifest, config, layer };
}

const indexOver = (...images: Pushed[]) =>
  JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: images.map((i) => ({
      mediaType: OCI_MANIFEST,
      digest: i.digest,
      size: Buffer.byteLength(i.manifest),
      platform: { architecture: 'amd64', os: 'linux' },
    })),
  });

async function newRepo(extra: string[] = []) {
  const name = unique('img');
  await cli(['create-repository', '--repository-name', name, ...extra]);
  return name;
}

before(async () => {
  box = await startOpsbox();
  work = mkdtempSync(join(tmpdir(), 'opsbox-ecr-api-'));
  const login = await awsCli(box.url, ['ecr', 'get-login-password']);
  assert.equal(login.code, 0, login.stderr);
  authorization = `Basic ${Buffer.from(`AWS:${login.stdout.trim()}`).toString('base64')}`;
  account = JSON.parse((await awsCli(box.url, ['sts', 'get-caller-identity'])).stdout).Account;
});
after(async () => {
  await box?.dispose();
  rmSync(work, { recursive: true, force: true });
});

describe('ecr image API', { concurrency: true }, () => {
  test('DescribeImages: the fields of a pushed image, by tag, by digest, pulls recorded, ImageNotFoundException', async () => {
    const repo = await newRepo();
    const img = await pushImage(repo, 'v1');
    const [d] = (await cli(['describe-images', '--repository-name', repo])).imageDetails;
    assert.equal(d.registryId, account);
    assert.equal(d.repositoryName, repo);
    assert.equal(d.imageDigest, img.digest);
    assert.deepEqual(d.imageTags, ['v1']);
    assert.equal(d.imageSizeInBytes, img.config.size + img.layer.size);
    assert.equal(d.imageManifestMediaType, OCI_MANIFEST);
    assert.equal(d.artifactMediaType, OCI_CONFIG);
    assert.ok(Math.abs(new Date(d.imagePushedAt).getTime() - Date.now()) < 60_000, d.imagePushedAt);
    assert.equal(d.lastRecordedPullTime, undefined);
    assert.equal(d.imageScanStatus, undefined);
    assert.equal(d.imageScanFindingsSummary, undefined);

    const pulled = await registry(`${repo}/manifests/v1`, { headers: { Accept: OCI_MANIFEST } });
    assert.equal(await pulled.text(), img.manifest);
    const byTag = (await cli(['describe-images', '--repository-name', repo, '--image-ids', 'imageTag=v1'])).imageDetails;
    assert.equal(byTag.length, 1);
    assert.ok(byTag[0].lastRecordedPullTime, 'a pull is recorded');
    const both = (
      await cli([
        'describe-images',
        '--repository-name',
        repo,
        '--image-ids',
        `imageDigest=${img.digest},imageTag=v1`,
        `imageDigest=${img.digest}`,
      ])
    ).imageDetails;
    assert.equal(both.length, 1, 'one image named twice is described once');

    const missing = await cliFails(
      ['describe-images', '--repository-name', repo, '--image-ids', 'imageTag=nope'],
      'ImageNotFoundException',
    );
    assert.equal(
      missing,
      `The image with imageId {imageDigest:'null', imageTag:'nope'} does not exist within the repository with name '${repo}' in the registry with id '${account}'`,
    );
    await cliFails(
      ['describe-images', '--repository-name', repo, '--image-ids', `imageDigest=sha256:${'0'.repeat(64)}`],
      'ImageNotFoundException',
    );
    await cliFails(
      ['describe-images', '--repository-name', repo, '--image-ids', `imageDigest=${img.digest},imageTag=other`],
      'ImageNotFoundException',
    );
    await cliFails(['describe-images', '--repository-name', 'no-such-repo'], 'RepositoryNotFoundException');
  });

  test('DescribeImages and ListImages: tagStatus filters, one entry per tag, paging with nextToken', async () => {
    const repo = await newRepo();
    const a = await pushImage(repo, 'a1');
    await pushManifest(repo, 'a2', a.manifest, OCI_MANIFEST);
    const b = await pushImage(repo); // untagged
    const c = await pushImage(repo, 'c1');

    const list = (await cli(['list-images', '--repository-name', repo])).imageIds;
    assert.deepEqual(
      new Set(list.map((i: { imageDigest: string; imageTag?: string }) => `${i.imageDigest}:${i.imageTag ?? '-'}`)),
      new Set([`${a.digest}:a1`, `${a.digest}:a2`, `${b.digest}:-`, `${c.digest}:c1`]),
    );
    assert.equal(list.length, 4);
    const untagged = (await cli(['list-images', '--repository-name', repo, '--filter', 'tagStatus=UNTAGGED'])).imageIds;
    assert.deepEqual(untagged, [{ imageDigest: b.digest }]);
    const tagged = (await cli(['list-images', '--repository-name', repo, '--filter', 'tagStatus=TAGGED'])).imageIds;
    assert.equal(tagged.length, 3);

    const described = (await cli(['describe-images', '--repository-name', repo])).imageDetails;
    assert.equal(described.length, 3);
    assert.deepEqual(described.find((d: { imageDigest: string }) => d.imageDigest === a.digest).imageTags.sort(), ['a1', 'a2']);
    assert.equal(described.find((d: { imageDigest: string }) => d.imageDigest === b.digest).imageTags, undefined);
    const describedUntagged = (await cli(['describe-images', '--repository-name', repo, '--filter', 'tagStatus=UNTAGGED'])).imageDetails;
    assert.deepEqual(
      describedUntagged.map((d: { imageDigest: string }) => d.imageDigest),
      [b.digest],
    );

    // the CLI pages with page size 1 and puts the pages together
    const paged = (await cli(['list-images', '--repository-name', repo, '--page-size', '1'])).imageIds;
    assert.deepEqual(paged, list);
    const pagedDetails = (await cli(['describe-images', '--repository-name', repo, '--page-size', '1'])).imageDetails;
    assert.deepEqual(
      pagedDetails.map((d: { imageDigest: string }) => d.imageDigest),
      described.map((d: { imageDigest: string }) => d.imageDigest),
    );
    // one page at a time
    const first = await cli(['list-images', '--repository-name', repo, '--max-results', '3', '--no-paginate']);
    assert.equal(first.imageIds.length, 3);
    assert.ok(first.nextToken);
    const second = await cli([
      'list-images',
      '--repository-name',
      repo,
      '--max-results',
      '3',
      '--next-token',
      first.nextToken,
      '--no-paginate',
    ]);
    assert.deepEqual([...first.imageIds, ...second.imageIds], list);
    assert.equal(second.nextToken, undefined);
    await cliFails(['list-images', '--repository-name', repo, '--next-token', 'bogus', '--no-paginate'], 'InvalidParameterException');
    await cliFails(
      ['describe-images', '--repository-name', repo, '--image-ids', 'imageTag=a1', '--max-results', '1', '--no-paginate'],
      'InvalidParameterException',
    );
  });

  test('BatchGetImage: manifests as stored (image and index), acceptedMediaTypes, failures by code', async () => {
    const repo = await newRepo();
    const img = await pushImage(repo, 'v1');
    const index = indexOver(img);
    const indexDigest = await pushManifest(repo, 'multi', index, OCI_INDEX);

    const got = await cli(['batch-get-image', '--repository-name', repo, '--image-ids', 'imageTag=v1', `imageDigest=${indexDigest}`]);
    assert.deepEqual(got.failures, []);
    assert.equal(got.images.length, 2);
    assert.deepEqual(got.images[0].imageId, { imageDigest: img.digest, imageTag: 'v1' });
    assert.equal(got.images[0].imageManifest, img.manifest);
    assert.equal(got.images[0].imageManifestMediaType, OCI_MANIFEST);
    assert.equal(got.images[0].registryId, account);
    assert.equal(got.images[0].repositoryName, repo);
    assert.deepEqual(got.images[1].imageId, { imageDigest: indexDigest });
    assert.equal(got.images[1].imageManifest, index);
    assert.equal(got.images[1].imageManifestMediaType, OCI_INDEX);

    const onlyImages = await cli([
      'batch-get-image',
      '--repository-name',
      repo,
      '--image-ids',
      'imageTag=multi',
      'imageTag=v1',
      '--accepted-media-types',
      OCI_MANIFEST,
    ]);
    assert.equal(onlyImages.images.length, 1);
    assert.equal(onlyImages.images[0].imageId.imageTag, 'v1');
    assert.deepEqual(onlyImages.failures, [
      { imageId: { imageTag: 'multi' }, failureCode: 'ImageNotFound', failureReason: 'Requested image not found' },
    ]);

    const failures = (
      await cli([
        'batch-get-image',
        '--repository-name',
        repo,
        '--image-ids',
        'imageTag=nope',
        `imageDigest=${img.digest},imageTag=multi`,
        'imageDigest=not-a-digest',
        `imageDigest=sha256:${'a'.repeat(64)}`,
      ])
    ).failures;
    assert.deepEqual(
      failures.map((f: { failureCode: string }) => f.failureCode),
      ['ImageNotFound', 'ImageTagDoesNotMatchDigest', 'InvalidImageDigest', 'ImageNotFound'],
    );
    assert.deepEqual(failures[0].imageId, { imageTag: 'nope' });
    const empty = (await cli(['batch-get-image', '--repository-name', repo, '--image-ids', '[{}]'])).failures;
    assert.equal(empty[0].failureCode, 'MissingDigestAndTag');
    await cliFails(['batch-get-image', '--repository-name', 'no-such-repo', '--image-ids', 'imageTag=v1'], 'RepositoryNotFoundException');
  });

  test('BatchDeleteImage: by tag (only the tag while others remain), by digest, manifest lists protect their images', async () => {
    const repo = await newRepo();
    const img = await pushImage(repo, 'one');
    await pushManifest(repo, 'two', img.manifest, OCI_MANIFEST);
    const child = await pushImage(repo, 'child');
    const indexDigest = await pushManifest(repo, 'list', indexOver(child), OCI_INDEX);

    // by tag while another tag remains: only the tag goes
    let r = await cli(['batch-delete-image', '--repository-name', repo, '--image-ids', 'imageTag=one']);
    assert.deepEqual(r, { imageIds: [{ imageDigest: img.digest, imageTag: 'one' }], failures: [] });
    const left = (await cli(['describe-images', '--repository-name', repo, '--image-ids', `imageDigest=${img.digest}`])).imageDetails;
    assert.deepEqual(left[0].imageTags, ['two']);
    // by its last tag: the image goes too
    r = await cli(['batch-delete-image', '--repository-name', repo, '--image-ids', 'imageTag=two']);
    assert.deepEqual(r.imageIds, [{ imageDigest: img.digest, imageTag: 'two' }]);
    await cliFails(['describe-images', '--repository-name', repo, '--image-ids', `imageDigest=${img.digest}`], 'ImageNotFoundException');
    assert.equal((await registry(`${repo}/manifests/${img.digest}`)).status, 404);
    // its layer stays (a fresh upload is never collected at once) but belongs to no image any more
    await cliFails(
      ['get-download-url-for-layer', '--repository-name', repo, '--layer-digest', img.layer.digest],
      'LayerInaccessibleException',
    );

    // an image the index lists cannot go, by digest or by its last tag
    r = await cli(['batch-delete-image', '--repository-name', repo, '--image-ids', `imageDigest=${child.digest}`, 'imageTag=child']);
    assert.deepEqual(r.imageIds, []);
    assert.deepEqual(
      r.failures.map((f: { failureCode: string }) => f.failureCode),
      ['ImageReferencedByManifestList', 'ImageReferencedByManifestList'],
    );
    assert.deepEqual(r.failures[0].imageId, { imageDigest: child.digest });
    assert.match(r.failures[0].failureReason, new RegExp(indexDigest));

    // failures for what is not there
    r = await cli([
      'batch-delete-image',
      '--repository-name',
      repo,
      '--image-ids',
      'imageTag=gone',
      `imageDigest=sha256:${'b'.repeat(64)}`,
      'imageDigest=bad',
      `imageDigest=${child.digest},imageTag=list`,
    ]);
    assert.deepEqual(
      r.failures.map((f: { failureCode: string }) => f.failureCode),
      ['ImageNotFound', 'ImageNotFound', 'InvalidImageDigest', 'ImageTagDoesNotMatchDigest'],
    );
    assert.deepEqual(r.failures[0], {
      imageId: { imageTag: 'gone' },
      failureCode: 'ImageNotFound',
      failureReason: 'Requested image not found',
    });

    // the index by digest (with its tag), then the child is free
    r = await cli(['batch-delete-image', '--repository-name', repo, '--image-ids', `imageDigest=${indexDigest}`]);
    assert.deepEqual(r.imageIds, [{ imageDigest: indexDigest, imageTag: 'list' }]);
    r = await cli(['batch-delete-image', '--repository-name', repo, '--image-ids', `imageDigest=${child.digest}`]);
    assert.deepEqual(r.imageIds, [{ imageDigest: child.digest, imageTag: 'child' }]);
    assert.deepEqual((await cli(['list-images', '--repository-name', repo])).imageIds, []);
  });

  test('PutImage: a manifest through the API, ImageAlreadyExists, immutable tags, missing layers and images, bad manifests, digests', async () => {
    const repo = await newRepo();
    const img = await pushImage(repo, 'v1');
    const file = join(work, `${repo}.json`);
    writeFileSync(file, img.manifest);

    const put = (await cli(['put-image', '--repository-name', repo, '--image-manifest', `file://${file}`, '--image-tag', 'v2'])).image;
    assert.deepEqual(put.imageId, { imageDigest: img.digest, imageTag: 'v2' });
    assert.equal(put.imageManifest, img.manifest);
    assert.equal(put.imageManifestMediaType, OCI_MANIFEST);
    assert.equal(put.registryId, account);
    const pulled = await registry(`${repo}/manifests/v2`);
    assert.equal(pulled.headers.get('docker-content-digest'), img.digest);

    const again = await cliFails(
      ['put-image', '--repository-name', repo, '--image-manifest', `file://${file}`, '--image-tag', 'v2'],
      'ImageAlreadyExistsException',
    );
    assert.equal(
      again,
      `Image with digest '${img.digest}' and tag 'v2' already exists in the repository with name '${repo}' in registry with id '${account}'`,
    );
    await cliFails(['put-image', '--repository-name', repo, '--image-manifest', `file://${file}`], 'ImageAlreadyExistsException');

    // a new manifest moves a tag in a mutable repository; the old image stays, untagged
    const other = await pushImage(repo);
    const otherFile = join(work, `${repo}-other.json`);
    writeFileSync(otherFile, other.manifest);
    await cli(['put-image', '--repository-name', repo, '--image-manifest', `file://${otherFile}`, '--image-tag', 'v1']);
    const tags = (await cli(['describe-images', '--repository-name', repo, '--image-ids', `imageDigest=${img.digest}`])).imageDetails[0]
      .imageTags;
    assert.deepEqual(tags, ['v2']);

    // the digest named must be the manifest's
    const withDigest = await cli([
      'put-image',
      '--repository-name',
      repo,
      '--image-manifest',
      `file://${file}`,
      '--image-tag',
      'v3',
      '--image-digest',
      img.digest,
    ]);
    assert.equal(withDigest.image.imageId.imageDigest, img.digest);
    await cliFails(
      ['put-image', '--repository-name', repo, '--image-manifest', `file://${file}`, '--image-tag', 'v4', '--image-digest', other.digest],
      'ImageDigestDoesNotMatchException',
    );

    // layers and child images must be in the repository
    const missingLayer = img.manifest.replace(img.layer.digest, sha256('not pushed'));
    const layersMsg = await cliFails(
      ['put-image', '--repository-name', repo, '--image-manifest', missingLayer, '--image-tag', 'x'],
      'LayersNotFoundException',
    );
    assert.match(layersMsg, new RegExp(sha256('not pushed')));
    const orphanIndex = JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [{ mediaType: OCI_MANIFEST, digest: sha256('no such manifest'), size: 10 }],
    });
    await cliFails(
      ['put-image', '--repository-name', repo, '--image-manifest', orphanIndex, '--image-tag', 'x'],
      'ReferencedImagesNotFoundException',
    );
    const goodIndex = indexOver(img, other);
    const putIndex = await cli(['put-image', '--repository-name', repo, '--image-manifest', goodIndex, '--image-tag', 'multi']);
    assert.equal(putIndex.image.imageId.imageDigest, sha256(goodIndex));
    assert.equal(putIndex.image.imageManifestMediaType, OCI_INDEX);

    // manifests it cannot read
    const badJson = await cliFails(
      ['put-image', '--repository-name', repo, '--image-manifest', '{not json', '--image-tag', 'x'],
      'InvalidParameterException',
    );
    assert.equal(badJson, "Invalid parameter at 'ImageManifest' failed to satisfy constraint: 'Invalid JSON syntax'");
    await cliFails(
      ['put-image', '--repository-name', repo, '--image-manifest', JSON.stringify({ schemaVersion: 1, name: 'x' }), '--image-tag', 'x'],
      'InvalidParameterException',
    );
    await cliFails(
      [
        'put-image',
        '--repository-name',
        repo,
        '--image-manifest',
        `file://${file}`,
        '--image-tag',
        'x',
        '--image-manifest-media-type',
        OCI_INDEX,
      ],
      'InvalidParameterException',
    );

    // immutable repositories refuse to move a tag
    const frozen = await newRepo(['--image-tag-mutability', 'IMMUTABLE']);
    const f1 = await pushImage(frozen, 'stable');
    const f2 = await pushImage(frozen);
    const f2File = join(work, `${frozen}.json`);
    writeFileSync(f2File, f2.manifest);
    const immutable = await cliFails(
      ['put-image', '--repository-name', frozen, '--image-manifest', `file://${f2File}`, '--image-tag', 'stable'],
      'ImageTagAlreadyExistsException',
    );
    assert.equal(
      immutable,
      `The image tag 'stable' already exists in the '${frozen}' repository and cannot be overwritten because the repository is immutable.`,
    );
    const still = await registry(`${frozen}/manifests/stable`);
    assert.equal(still.headers.get('docker-content-digest'), f1.digest);
    await cli(['put-image', '--repository-name', frozen, '--image-manifest', `file://${f2File}`, '--image-tag', 'fresh']);
  });

  test('layers: availability, an upload in parts verified on completion, download URLs, and their errors', async () => {
    const repo = await newRepo();
    const img = await pushImage(repo, 'v1');

    const check = await cli([
      'batch-check-layer-availability',
      '--repository-name',
      repo,
      '--layer-digests',
      img.layer.digest,
      sha256('unknown'),
      'nope',
      '',
    ]);
    assert.deepEqual(check.layers, [
      { layerDigest: img.layer.digest, layerAvailability: 'AVAILABLE', layerSize: img.layer.size },
      { layerDigest: sha256('unknown'), layerAvailability: 'UNAVAILABLE' },
    ]);
    assert.deepEqual(
      check.failures.map((f: { layerDigest: string; failureCode: string }) => [f.layerDigest, f.failureCode]),
      [
        ['nope', 'InvalidLayerDigest'],
        ['', 'MissingLayerDigest'],
      ],
    );

    // two parts: the first at least 5 MiB, the second small
    const big = randomBytes(5 * 1024 * 1024);
    const small = randomBytes(1000);
    const bigFile = join(work, 'part1');
    const smallFile = join(work, 'part2');
    writeFileSync(bigFile, big);
    writeFileSync(smallFile, small);
    const layerDigest = sha256(Buffer.concat([big, small]));
    const start = await cli(['initiate-layer-upload', '--repository-name', repo]);
    assert.match(start.uploadId, /^[0-9a-f-]{36}$/);
    assert.equal(start.partSize, 10 * 1024 * 1024);
    const uploadId = start.uploadId;
    const part = (file: string, first: number, last: number, id = uploadId) => [
      'upload-layer-part',
      '--repository-name',
      repo,
      '--upload-id',
      id,
      '--part-first-byte',
      String(first),
      '--part-last-byte',
      String(last),
      '--layer-part-blob',
      `fileb://${file}`,
    ];
    const p1 = await cli(part(bigFile, 0, big.length - 1));
    assert.deepEqual(p1, { registryId: account, repositoryName: repo, uploadId, lastByteReceived: big.length - 1 });
    // a part that does not continue the upload, or whose range is not its size
    await cliFails(part(smallFile, 0, small.length - 1), 'InvalidLayerPartException');
    const debug = await awsCli(box.url, ['--debug', 'ecr', ...part(smallFile, 0, small.length - 1)]);
    assert.match(
      debug.stderr,
      new RegExp(`"lastValidByteReceived":\\s*${big.length - 1}[,}]`),
      'the error carries the last valid byte as a number',
    );
    await cliFails(part(smallFile, big.length, big.length + 5), 'InvalidLayerPartException');
    await cli(part(smallFile, big.length, big.length + small.length - 1));
    const done = await cli(['complete-layer-upload', '--repository-name', repo, '--upload-id', uploadId, '--layer-digests', layerDigest]);
    assert.deepEqual(done, { registryId: account, repositoryName: repo, uploadId, layerDigest });
    const blob = await registry(`${repo}/blobs/${layerDigest}`);
    assert.equal(blob.status, 200);
    assert.ok(Buffer.from(await blob.arrayBuffer()).equals(Buffer.concat([big, small])));
    await cliFails(
      ['complete-layer-upload', '--repository-name', repo, '--upload-id', uploadId, '--layer-digests', layerDigest],
      'UploadNotFoundException',
    );
    await cliFails(part(smallFile, 0, small.length - 1, '00000000-0000-0000-0000-000000000000'), 'UploadNotFoundException');

    // the same layer again
    const again = (await cli(['initiate-layer-upload', '--repository-name', repo])).uploadId;
    await cli(part(bigFile, 0, big.length - 1, again));
    await cli(part(smallFile, big.length, big.length + small.length - 1, again));
    await cliFails(
      ['complete-layer-upload', '--repository-name', repo, '--upload-id', again, '--layer-digests', layerDigest],
      'LayerAlreadyExistsException',
    );

    // a digest the content does not have; an empty upload; a small part before another
    const wrong = (await cli(['initiate-layer-upload', '--repository-name', repo])).uploadId;
    await cli(part(smallFile, 0, small.length - 1, wrong));
    await cliFails(
      ['complete-layer-upload', '--repository-name', repo, '--upload-id', wrong, '--layer-digests', sha256('something else')],
      'InvalidLayerException',
    );
    assert.equal((await registry(`${repo}/blobs/${sha256('something else')}`)).status, 404);
    const empty = (await cli(['initiate-layer-upload', '--repository-name', repo])).uploadId;
    await cliFails(
      ['complete-layer-upload', '--repository-name', repo, '--upload-id', empty, '--layer-digests', sha256('')],
      'EmptyUploadException',
    );
    const tooSmall = (await cli(['initiate-layer-upload', '--repository-name', repo])).uploadId;
    await cli(part(smallFile, 0, small.length - 1, tooSmall));
    await cli(part(smallFile, small.length, 2 * small.length - 1, tooSmall));
    await cliFails(
      [
        'complete-layer-upload',
        '--repository-name',
        repo,
        '--upload-id',
        tooSmall,
        '--layer-digests',
        sha256(Buffer.concat([small, small])),
      ],
      'LayerPartTooSmallException',
    );

    // the layer uploaded through the API becomes part of an image put through the API
    const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
    const configDigest = await pushBlob(repo, config);
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: configDigest, size: config.length },
      layers: [{ mediaType: OCI_LAYER, digest: layerDigest, size: big.length + small.length }],
    });
    await cliFails(['get-download-url-for-layer', '--repository-name', repo, '--layer-digest', layerDigest], 'LayerInaccessibleException');
    await cli(['put-image', '--repository-name', repo, '--image-manifest', manifest, '--image-tag', 'api']);
    const url = await cli(['get-download-url-for-layer', '--repository-name', repo, '--layer-digest', layerDigest]);
    assert.equal(url.layerDigest, layerDigest);
    assert.equal(url.downloadUrl, `http://localhost:${box.port}/v2/${repo}/blobs/${layerDigest}`);
    const fetched = await fetch(url.downloadUrl, { headers: { Authorization: authorization } });
    assert.equal(
      createHash('sha256')
        .update(Buffer.from(await fetched.arrayBuffer()))
        .digest('hex'),
      layerDigest.slice(7),
    );

    const u2 = await cli(['get-download-url-for-layer', '--repository-name', repo, '--layer-digest', img.layer.digest]);
    assert.equal(u2.downloadUrl, `http://localhost:${box.port}/v2/${repo}/blobs/${img.layer.digest}`);
    await cliFails(['get-download-url-for-layer', '--repository-name', repo, '--layer-digest', sha256('never')], 'LayersNotFoundException');
    await cliFails(['initiate-layer-upload', '--repository-name', 'no-such-repo'], 'RepositoryNotFoundException');
  });

  test('the registry and the layer API share uploads; the registry still verifies chunked uploads and manifests', async () => {
    const repo = await newRepo();
    // started through the API, finished through the registry
    const uploadId = (await cli(['initiate-layer-upload', '--repository-name', repo])).uploadId;
    const bytes = randomBytes(2000);
    const file = join(work, `${repo}.part`);
    writeFileSync(file, bytes.subarray(0, 1200));
    await cli([
      'upload-layer-part',
      '--repository-name',
      repo,
      '--upload-id',
      uploadId,
      '--part-first-byte',
      '0',
      '--part-last-byte',
      '1199',
      '--layer-part-blob',
      `fileb://${file}`,
    ]);
    const put = await registry(`${repo}/blobs/uploads/${uploadId}?digest=${sha256(bytes)}`, {
      method: 'PUT',
      body: new Uint8Array(bytes.subarray(1200)),
      headers: { 'Content-Type': 'application/octet-stream' },
    });
    assert.equal(put.status, 201, await put.text());
    const check = await cli(['batch-check-layer-availability', '--repository-name', repo, '--layer-digests', sha256(bytes)]);
    assert.deepEqual(check.layers, [{ layerDigest: sha256(bytes), layerAvailability: 'AVAILABLE', layerSize: 2000 }]);

    // chunked: POST, PATCH with Content-Range, PATCH, PUT with the digest
    const layer = randomBytes(3000);
    const started = await registry(`${repo}/blobs/uploads/`, { method: 'POST' });
    assert.equal(started.status, 202);
    const location = started.headers.get('location')!;
    const patch = (from: number, to: number) =>
      fetch(`${box.url}${location}`, {
        method: 'PATCH',
        body: new Uint8Array(layer.subarray(from, to)),
        headers: { Authorization: authorization, 'Content-Range': `${from}-${to - 1}`, 'Content-Type': 'application/octet-stream' },
      });
    assert.equal((await patch(0, 1000)).status, 202);
    assert.equal((await patch(500, 1500)).status, 416, 'a chunk that does not continue the upload');
    const second = await patch(1000, 3000);
    assert.equal(second.headers.get('range'), '0-2999');
    const wrongDigest = await fetch(`${box.url}${location}?digest=${sha256('other')}`, {
      method: 'PUT',
      headers: { Authorization: authorization },
    });
    assert.equal(wrongDigest.status, 400);
    assert.equal(((await wrongDigest.json()) as { errors: { code: string }[] }).errors[0].code, 'DIGEST_INVALID');
    const again = await registry(`${repo}/blobs/uploads/`, { method: 'POST' });
    const loc2 = again.headers.get('location')!;
    await fetch(`${box.url}${loc2}`, { method: 'PATCH', body: new Uint8Array(layer), headers: { Authorization: authorization } });
    const done = await fetch(`${box.url}${loc2}?digest=${sha256(layer)}`, { method: 'PUT', headers: { Authorization: authorization } });
    assert.equal(done.status, 201);
    const got = await registry(`${repo}/blobs/${sha256(layer)}`);
    assert.ok(Buffer.from(await got.arrayBuffer()).equals(layer));

    // manifests: missing blobs, tags an immutable repository keeps
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: sha256(bytes), size: 2000 },
      layers: [{ mediaType: OCI_LAYER, digest: sha256('absent'), size: 6 }],
    });
    const refused = await registry(`${repo}/manifests/v1`, { method: 'PUT', body: manifest, headers: { 'Content-Type': OCI_MANIFEST } });
    assert.equal(refused.status, 400);
    assert.equal(((await refused.json()) as { errors: { code: string }[] }).errors[0].code, 'MANIFEST_BLOB_UNKNOWN');
    const badDigest = await registry(`${repo}/manifests/${sha256('x')}`, {
      method: 'PUT',
      body: manifest,
      headers: { 'Content-Type': OCI_MANIFEST },
    });
    assert.equal(((await badDigest.json()) as { errors: { code: string }[] }).errors[0].code, 'DIGEST_INVALID');
    const frozen = await newRepo(['--image-tag-mutability', 'IMMUTABLE']);
    const f1 = await pushImage(frozen, 'stable');
    await pushManifest(frozen, 'stable', f1.manifest, OCI_MANIFEST); // the same image again is fine
    const f2 = await pushImage(frozen);
    const moved = await registry(`${frozen}/manifests/stable`, {
      method: 'PUT',
      body: f2.manifest,
      headers: { 'Content-Type': OCI_MANIFEST },
    });
    assert.equal(moved.status, 400);
    assert.equal(((await moved.json()) as { errors: { code: string }[] }).errors[0].code, 'TAG_INVALID');
  });
});
