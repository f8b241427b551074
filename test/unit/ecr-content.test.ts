/**
 * ecr/content.ts over a real store in a temp dir: uploads verified on completion (with the running
 * digest, and from the parts when the running digest is gone), and manifests checked and stored,
 * each problem as its typed ContentError.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { BlobStore } from '../../src/core/blobs.js';
import { systemClock } from '../../src/core/clock.js';
import { Store } from '../../src/core/store.js';
import { Tags } from '../../src/core/tags.js';
import type { ServiceEnv } from '../../src/gateway/service.js';
import { blobUploads, ContentError, storeManifest, type ContentProblem } from '../../src/services/ecr/content.js';
import { createEcrStore, type RepoRow } from '../../src/services/ecr/store.js';

const sha = (algorithm: string, b: Buffer | string) => `${algorithm}:${createHash(algorithm).update(b).digest('hex')}`;

const problem = (kind: ContentProblem['kind']) => (e: unknown) => e instanceof ContentError && e.problem.kind === kind;

describe('ecr content', () => {
  const dir = mkdtempSync(join(tmpdir(), 'opsbox-ecr-content-'));
  const store = new Store(dir);
  const blobs = new BlobStore(dir);
  const ecr = createEcrStore(store, blobs, new Tags(store));
  const env = { blobs, clock: systemClock } as unknown as ServiceEnv;
  after(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  let n = 0;
  const repo = (mutability: RepoRow['mutability'] = 'MUTABLE') =>
    ecr.insertRepo({
      account: '000000000000',
      region: 'us-east-1',
      name: `repo-${++n}`,
      created: 0,
      mutability,
      scan_on_push: 0,
      encryption: 'AES256',
      kms_key: null,
    });

  async function blob(r: RepoRow, bytes: Buffer) {
    const uploads = blobUploads(env, ecr);
    const uuid = uploads.start(r);
    await uploads.append(uuid, Readable.from([bytes]));
    return uploads.complete(r, uuid, sha('sha256', bytes));
  }

  test('an upload in parts becomes the blob its digest names; a wrong digest drops the upload', async () => {
    const r = repo();
    const uploads = blobUploads(env, ecr);
    const [a, b] = [randomBytes(1000), randomBytes(10)];
    const uuid = uploads.start(r);
    await uploads.append(uuid, Readable.from([a]));
    assert.equal(await uploads.append(uuid, Readable.from([])), 0, 'an empty part adds nothing');
    await uploads.append(uuid, Readable.from([b]));
    assert.equal(ecr.uploadParts(uuid).length, 2);
    const digest = sha('sha256', Buffer.concat([a, b]));
    assert.equal(await uploads.complete(r, uuid, digest), 1010);
    assert.deepEqual(ecr.findBlob(r, digest)?.size, 1010);
    assert.ok(ecr.repoHasBlob(r, digest));
    assert.equal(ecr.findUpload(uuid), undefined);

    const wrong = uploads.start(r);
    await uploads.append(wrong, Readable.from([a]));
    await assert.rejects(uploads.complete(r, wrong, sha('sha256', 'other')), problem('digestMismatch'));
    assert.equal(ecr.findUpload(wrong), undefined);
  });

  test('without the running digest (another process started it) the parts are read back; sha512 too', async () => {
    const r = repo();
    const bytes = randomBytes(5000);
    const first = blobUploads(env, ecr);
    const uuid = first.start(r);
    await first.append(uuid, Readable.from([bytes.subarray(0, 2000)]));
    const second = blobUploads(env, ecr); // as after a restart
    await second.append(uuid, Readable.from([bytes.subarray(2000)]));
    assert.equal(await second.complete(r, uuid, sha('sha256', bytes)), 5000);

    // a running sha512 digest completed under a sha256 digest: computed from the parts instead
    const mixed = first.start(r, 'sha512');
    await first.append(mixed, Readable.from([bytes]));
    assert.equal(await first.complete(r, mixed, sha('sha256', bytes)), 5000);
    const u512 = first.start(r, 'sha512');
    await first.append(u512, Readable.from([bytes]));
    assert.equal(await first.complete(r, u512, sha('sha512', bytes)), 5000);
    assert.ok(ecr.repoHasBlob(r, sha('sha512', bytes)));
  });

  test('storeManifest: checks, stores with its tag, and says what changed', async () => {
    const r = repo();
    const config = Buffer.from('{"os":"linux"}');
    const layer = randomBytes(100);
    await blob(r, config);
    await blob(r, layer);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha('sha256', config), size: config.length },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha('sha256', layer), size: layer.length }],
      }),
    );
    const digest = sha('sha256', manifest);
    const put = (body: Buffer, opts: Partial<Parameters<typeof storeManifest>[3]> = {}) =>
      storeManifest(ecr, r, body, { now: Date.now(), ...opts });

    const first = put(manifest, { tag: 'v1' });
    assert.equal(first.image.digest, digest);
    assert.equal(first.image.size, config.length + layer.length);
    assert.equal(first.changed, true);
    assert.equal(put(manifest, { tag: 'v1' }).changed, false);
    assert.equal(put(manifest).changed, false);
    assert.equal(put(manifest, { tag: 'v2' }).changed, true);
    assert.deepEqual(ecr.tagsOf(r, digest), ['v1', 'v2']);
    assert.throws(() => put(manifest, { tag: 'v1', refuseUnchanged: true }), problem('unchanged'));

    assert.equal(put(manifest, { expectedDigest: digest }).image.digest, digest);
    assert.throws(() => put(manifest, { expectedDigest: sha('sha256', 'x') }), problem('digestMismatch'));
    assert.throws(() => put(manifest, { expectedDigest: 'sha256:nothex' }), problem('digestMismatch'));
    assert.equal(put(manifest, { expectedDigest: sha('sha512', manifest) }).image.digest, sha('sha512', manifest));

    assert.throws(() => put(Buffer.from('{nope')), problem('manifestInvalid'));
    assert.throws(() => put(manifest, { contentType: 'application/vnd.oci.image.index.v1+json' }), problem('manifestInvalid'));
    const missing = Buffer.from(manifest.toString().replace(sha('sha256', layer), sha('sha256', 'absent')));
    assert.throws(
      () => put(missing),
      (e) => e instanceof ContentError && e.problem.kind === 'blobsMissing' && e.problem.digests[0] === sha('sha256', 'absent'),
    );
    const index = (child: string) =>
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.index.v1+json',
          manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: child, size: manifest.length }],
        }),
      );
    assert.throws(() => put(index(sha('sha256', 'no such manifest'))), problem('manifestsMissing'));
    assert.deepEqual(put(index(digest), { tag: 'multi' }).parsed.refs, [{ digest, kind: 'manifest' }]);
    assert.deepEqual(ecr.parentsOf(r, digest), [sha('sha256', index(digest))]);
  });

  test('storeManifest in an immutable repository: a tag never moves, re-putting the same image is fine', async () => {
    const r = repo('IMMUTABLE');
    const config = Buffer.from('{"os":"linux","v":1}');
    await blob(r, config);
    const manifest = (extra: string) =>
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha('sha256', config), size: config.length },
          layers: [],
          annotations: { extra },
        }),
      );
    storeManifest(ecr, r, manifest('a'), { tag: 'stable', now: 1 });
    assert.equal(storeManifest(ecr, r, manifest('a'), { tag: 'stable', now: 2 }).changed, false);
    assert.throws(
      () => storeManifest(ecr, r, manifest('b'), { tag: 'stable', now: 3 }),
      (e) => e instanceof ContentError && e.problem.kind === 'tagImmutable' && e.problem.tag === 'stable',
    );
    assert.equal(ecr.findTag(r, 'stable')?.digest, sha('sha256', manifest('a')));
  });
});
