/**
 * ECR's registry against a real opsbox process: podman push/pull/run and skopeo copy/inspect with
 * the token from `aws ecr get-login-password`, the SDK v3 client, and the OCI distribution API by
 * hand (chunked uploads with Content-Range, upload status and cancel, digest checks, cross-repo
 * mount, an index, the referrers API, tag paging, tag immutability, deletes), auth challenges and
 * strict tokens, S3's bucket "v2" untouched, and an upload cut by kill -9.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { Agent } from 'node:http';
import type { LookupFunction } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  CreateRepositoryCommand,
  DeleteRepositoryCommand,
  DescribeRepositoriesCommand,
  ECRClient,
  GetAuthorizationTokenCommand,
  PutImageTagMutabilityCommand,
} from '@aws-sdk/client-ecr';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ensureContainerEngine, type ContainerEngine } from '../helpers/containers.js';
import { awsCli, clientConfig, failure, startOpsbox, unique, type RunningOpsbox } from '../helpers/opsbox.js';

const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

function run(cmd: string, args: string[], env: Record<string, string> = {}, input?: string) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const child = execFile(cmd, args, { env: { ...process.env, ...env }, maxBuffer: 64 << 20, timeout: 120_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    if (input !== undefined) child.stdin!.end(input);
  });
}

describe('ecr registry', () => {
  let box: RunningOpsbox;
  let ecr: ECRClient;
  let engine: ContainerEngine | { skip: string };
  let auth: string;
  let host: string;

  before(async () => {
    engine = await ensureContainerEngine();
    box = await startOpsbox();
    ecr = new ECRClient(clientConfig(box.url));
    host = `localhost:${box.port}`;
    const token = (await ecr.send(new GetAuthorizationTokenCommand({}))).authorizationData![0].authorizationToken!;
    auth = `Basic ${token}`;
  });
  after(async () => {
    ecr?.destroy();
    await box?.dispose();
  });

  const v2 = (path: string, init: RequestInit & { headers?: Record<string, string> } = {}) =>
    fetch(`${box.url}/v2/${path}`, { ...init, headers: { authorization: auth, ...init.headers } });

  async function pushBlob(repo: string, content: Buffer | string) {
    const digest = sha256(content);
    const r = await v2(`${repo}/blobs/uploads/?digest=${digest}`, {
      method: 'POST',
      body: typeof content === 'string' ? content : new Uint8Array(content),
    });
    assert.equal(r.status, 201, await r.text());
    return { digest, size: Buffer.byteLength(content) };
  }

  async function pushImage(repo: string, tag: string, layerText: string, extra: Record<string, unknown> = {}) {
    const config = await pushBlob(repo, JSON.stringify({ architecture: 'amd64', os: 'linux', note: layerText }));
    const layer = await pushBlob(repo, layerText);
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }],
      ...extra,
    });
    const r = await v2(`${repo}/manifests/${tag}`, {
      method: 'PUT',
      body: manifest,
      headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
    });
    return { status: r.status, body: await r.text(), digest: sha256(manifest), size: Buffer.byteLength(manifest), headers: r.headers };
  }

  const newRepo = async (prefix = 'shop') => {
    const name = `${unique(prefix)}/api`;
    await ecr.send(new CreateRepositoryCommand({ repositoryName: name }));
    return name;
  };

  test('podman: login with get-login-password, push, pull, run; skopeo copy and inspect', async (t) => {
    if ('skip' in engine) return t.skip(engine.skip);
    const env = engine.env;
    const repo = await newRepo();
    const created = await awsCli(box.url, ['ecr', 'describe-repositories', '--repository-names', repo, '--region', 'us-east-1']);
    assert.equal(created.code, 0, created.stderr);
    const uri = JSON.parse(created.stdout).repositories[0].repositoryUri;
    assert.equal(uri, `${host}/${repo}`);
    const password = await awsCli(box.url, ['ecr', 'get-login-password', '--region', 'us-east-1']);
    assert.equal(password.code, 0, password.stderr);
    const login = await run(
      'podman',
      ['login', '--tls-verify=false', '--username', 'AWS', '--password-stdin', host],
      env,
      password.stdout.trim(),
    );
    assert.equal(login.code, 0, login.stderr);
    assert.equal((await run('podman', ['tag', engine.image, `${uri}:1.0`], env)).code, 0);
    const push = await run('podman', ['push', '--tls-verify=false', `${uri}:1.0`], env);
    assert.equal(push.code, 0, push.stderr);
    await run('podman', ['rmi', `${uri}:1.0`], env);
    const pull = await run('podman', ['pull', '--tls-verify=false', `${uri}:1.0`], env);
    assert.equal(pull.code, 0, pull.stderr);
    const ran = await run('podman', ['run', '--rm', `${uri}:1.0`, 'sh', '-c', 'echo from-ecr'], env);
    assert.equal(ran.stdout.trim(), 'from-ecr', ran.stderr);

    const dir = mkdtempSync(join(tmpdir(), 'ecr-skopeo-'));
    assert.equal((await run('podman', ['save', '-o', join(dir, 'img.tar'), engine.image], env)).code, 0);
    const creds = `AWS:${password.stdout.trim()}`;
    const copy = await run('skopeo', [
      'copy',
      '--dest-tls-verify=false',
      '--dest-creds',
      creds,
      `docker-archive:${join(dir, 'img.tar')}`,
      `docker://${uri}:1.1`,
    ]);
    assert.equal(copy.code, 0, copy.stderr);
    const oci = await run('skopeo', [
      'copy',
      '--format',
      'oci',
      '--src-tls-verify=false',
      '--dest-tls-verify=false',
      '--src-creds',
      creds,
      '--dest-creds',
      creds,
      `docker://${uri}:1.1`,
      `docker://${uri}:1.1-oci`,
    ]);
    assert.equal(oci.code, 0, oci.stderr);
    const inspect = await run('skopeo', ['inspect', '--tls-verify=false', '--creds', creds, `docker://${uri}:1.1-oci`]);
    assert.equal(inspect.code, 0, inspect.stderr);
    assert.deepEqual(JSON.parse(inspect.stdout).RepoTags.sort(), ['1.0', '1.1', '1.1-oci']);
  });

  test('the registry challenges unauthenticated requests and accepts the ECR token', async () => {
    const anon = await fetch(`${box.url}/v2/`);
    assert.equal(anon.status, 401);
    assert.match(anon.headers.get('www-authenticate')!, /^Basic realm=/);
    assert.equal((await anon.json()).errors[0].code, 'UNAUTHORIZED');
    const ok = await v2('');
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('docker-distribution-api-version'), 'registry/2.0');
  });

  test('blob uploads: chunked with Content-Range, status, wrong range, cancel, digest mismatch, monolithic, Range reads', async () => {
    const repo = await newRepo();
    const start = await v2(`${repo}/blobs/uploads/`, { method: 'POST' });
    assert.equal(start.status, 202);
    const location = start.headers.get('location')!;
    const uuid = start.headers.get('docker-upload-uuid')!;
    assert.ok(location.endsWith(uuid));
    const a = Buffer.from('hello, '.repeat(1000));
    const b = Buffer.from('registry!');
    const p1 = await fetch(`${box.url}${location}`, {
      method: 'PATCH',
      body: new Uint8Array(a),
      headers: { authorization: auth, 'content-range': `0-${a.length - 1}`, 'content-type': 'application/octet-stream' },
    });
    assert.equal(p1.status, 202);
    assert.equal(p1.headers.get('range'), `0-${a.length - 1}`);
    const wrong = await fetch(`${box.url}${location}`, {
      method: 'PATCH',
      body: new Uint8Array(b),
      headers: { authorization: auth, 'content-range': '5-10' },
    });
    assert.equal(wrong.status, 416);
    const status = await fetch(`${box.url}${location}`, { headers: { authorization: auth } });
    assert.equal(status.status, 204);
    assert.equal(status.headers.get('range'), `0-${a.length - 1}`);
    const whole = Buffer.concat([a, b]);
    const put = await fetch(`${box.url}${location}?digest=${sha256(whole)}`, {
      method: 'PUT',
      body: new Uint8Array(b),
      headers: { authorization: auth },
    });
    assert.equal(put.status, 201, await put.text());
    assert.equal(put.headers.get('docker-content-digest'), sha256(whole));
    const head = await v2(`${repo}/blobs/${sha256(whole)}`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(whole.length));
    const got = Buffer.from(await (await v2(`${repo}/blobs/${sha256(whole)}`)).arrayBuffer());
    assert.deepEqual(got, whole);
    const ranged = await v2(`${repo}/blobs/${sha256(whole)}`, { headers: { range: `bytes=${a.length - 2}-${a.length + 2}` } });
    assert.equal(ranged.status, 206);
    assert.equal(await ranged.text(), ', reg');

    const bad = await v2(`${repo}/blobs/uploads/?digest=${sha256('other')}`, { method: 'POST', body: 'content' });
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).errors[0].code, 'DIGEST_INVALID');
    assert.equal((await v2(`${repo}/blobs/${sha256('content')}`, { method: 'HEAD' })).status, 404, 'a refused upload leaves no blob');

    const cancel = await v2(`${repo}/blobs/uploads/`, { method: 'POST' });
    const cancelled = await fetch(`${box.url}${cancel.headers.get('location')}`, { method: 'DELETE', headers: { authorization: auth } });
    assert.equal(cancelled.status, 204);
    const gone = await fetch(`${box.url}${cancel.headers.get('location')}`, { headers: { authorization: auth } });
    assert.equal(gone.status, 404);
    assert.equal((await gone.json()).errors[0].code, 'BLOB_UPLOAD_UNKNOWN');

    const unknown = await v2(`${repo}/blobs/${sha256('never pushed')}`);
    assert.equal(unknown.status, 404);
    assert.equal((await unknown.json()).errors[0].code, 'BLOB_UNKNOWN');
    const noRepo = await v2(`nothing/here/blobs/${sha256('x')}`);
    assert.equal(noRepo.status, 404);
    assert.equal((await noRepo.json()).errors[0].code, 'NAME_UNKNOWN');
  });

  test('cross-repository mount: 201 when the source has the blob, an upload otherwise', async () => {
    const from = await newRepo();
    const to = await newRepo();
    const blob = await pushBlob(from, 'shared layer');
    assert.equal((await v2(`${to}/blobs/${blob.digest}`, { method: 'HEAD' })).status, 404, 'not in the other repository until mounted');
    const mounted = await v2(`${to}/blobs/uploads/?mount=${blob.digest}&from=${from}`, { method: 'POST' });
    assert.equal(mounted.status, 201);
    assert.equal((await v2(`${to}/blobs/${blob.digest}`, { method: 'HEAD' })).status, 200);
    const fallback = await v2(`${to}/blobs/uploads/?mount=${sha256('absent')}&from=${from}`, { method: 'POST' });
    assert.equal(fallback.status, 202);
  });

  test('manifests: by tag and digest, an index, unknown blobs refused, tags paging, referrers, deletes', async () => {
    const repo = await newRepo();
    const img = await pushImage(repo, 'v1', 'layer one');
    assert.equal(img.status, 201, img.body);
    assert.equal(img.headers.get('docker-content-digest'), img.digest);
    const byTag = await v2(`${repo}/manifests/v1`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    assert.equal(byTag.headers.get('content-type'), 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(sha256(Buffer.from(await byTag.arrayBuffer())), img.digest);
    assert.equal((await v2(`${repo}/manifests/${img.digest}`, { method: 'HEAD' })).status, 200);

    const missing = await v2(`${repo}/manifests/broken`, {
      method: 'PUT',
      headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
      body: JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256('nope'), size: 4 },
        layers: [],
      }),
    });
    assert.equal(missing.status, 400);
    assert.equal((await missing.json()).errors[0].code, 'MANIFEST_BLOB_UNKNOWN');
    const invalid = await v2(`${repo}/manifests/bad`, {
      method: 'PUT',
      body: '{not json',
      headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
    });
    assert.equal((await invalid.json()).errors[0].code, 'MANIFEST_INVALID');

    const index = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: img.digest,
          size: img.size,
          platform: { architecture: 'amd64', os: 'linux' },
        },
      ],
    });
    const putIndex = await v2(`${repo}/manifests/multi`, {
      method: 'PUT',
      body: index,
      headers: { 'content-type': 'application/vnd.oci.image.index.v1+json' },
    });
    assert.equal(putIndex.status, 201, await putIndex.text());
    assert.equal((await v2(`${repo}/manifests/multi`)).headers.get('content-type'), 'application/vnd.oci.image.index.v1+json');

    // an artifact (a signature, say) whose subject is the image
    const sig = await pushImage(repo, 'sig', 'signature bytes', {
      artifactType: 'application/vnd.example.signature',
      subject: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: img.digest, size: img.size },
    });
    assert.equal(sig.status, 201, sig.body);
    assert.equal(sig.headers.get('oci-subject'), img.digest);
    const referrers = await v2(`${repo}/referrers/${img.digest}`);
    assert.equal(referrers.headers.get('content-type'), 'application/vnd.oci.image.index.v1+json');
    const list = await referrers.json();
    assert.deepEqual(
      list.manifests.map((m: { digest: string; artifactType: string }) => [m.digest, m.artifactType]),
      [[sig.digest, 'application/vnd.example.signature']],
    );
    const filtered = await v2(`${repo}/referrers/${img.digest}?artifactType=application/vnd.other`);
    assert.equal(filtered.headers.get('oci-filters-applied'), 'artifactType');
    assert.deepEqual((await filtered.json()).manifests, []);

    for (const tag of ['a', 'b', 'c']) assert.equal((await pushImage(repo, tag, `layer ${tag}`)).status, 201);
    const page1 = await v2(`${repo}/tags/list?n=2`);
    assert.deepEqual((await page1.json()).tags, ['a', 'b']);
    assert.match(page1.headers.get('link')!, /last=b>; rel="next"/);
    assert.deepEqual((await (await v2(`${repo}/tags/list?n=2&last=b`)).json()).tags, ['c', 'multi']);

    assert.equal((await v2(`${repo}/manifests/a`, { method: 'DELETE' })).status, 202);
    assert.equal((await v2(`${repo}/manifests/a`)).status, 404);
    const delByDigest = await v2(`${repo}/manifests/${sig.digest}`, { method: 'DELETE' });
    assert.equal(delByDigest.status, 202);
    const unknown = await v2(`${repo}/manifests/${sig.digest}`);
    assert.equal((await unknown.json()).errors[0].code, 'MANIFEST_UNKNOWN');
  });

  test('tag immutability: a tag cannot be moved once the repository is IMMUTABLE', async () => {
    const repo = await newRepo();
    assert.equal((await pushImage(repo, 'release', 'first')).status, 201);
    await ecr.send(new PutImageTagMutabilityCommand({ repositoryName: repo, imageTagMutability: 'IMMUTABLE' }));
    const again = await pushImage(repo, 'release', 'second');
    assert.equal(again.status, 400);
    const err = JSON.parse(again.body).errors[0];
    assert.equal(err.code, 'TAG_INVALID');
    assert.match(err.message, /already exists .* cannot be overwritten because the repository is immutable/);
    assert.equal((await pushImage(repo, 'release', 'first')).status, 201, 'the same manifest under the same tag is fine');
  });

  test('SDK: repositories, errors, delete with force', async () => {
    const repo = await newRepo();
    const dup = await failure(ecr.send(new CreateRepositoryCommand({ repositoryName: repo })));
    assert.equal(dup.name, 'RepositoryAlreadyExistsException');
    const bad = await failure(ecr.send(new CreateRepositoryCommand({ repositoryName: 'Bad_Name' })));
    assert.equal(bad.name, 'InvalidParameterException');
    const none = await failure(ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ['no/such/repo'] })));
    assert.deepEqual(
      [none.name, none.message],
      ['RepositoryNotFoundException', "The repository with name 'no/such/repo' does not exist in the registry with id '000000000000'"],
    );
    await pushImage(repo, 'v1', 'content');
    const notEmpty = await failure(ecr.send(new DeleteRepositoryCommand({ repositoryName: repo })));
    assert.equal(notEmpty.name, 'RepositoryNotEmptyException');
    await ecr.send(new DeleteRepositoryCommand({ repositoryName: repo, force: true }));
    assert.equal((await v2(`${repo}/tags/list`)).status, 404);
  });

  test('a virtual-hosted S3 request for a key under v2/ is still S3', async () => {
    // <bucket>.localhost resolved to loopback, as it is on machines with systemd-resolved
    const lookup = ((_host: string, opts: { all?: boolean }, cb: (...a: unknown[]) => void) =>
      opts?.all ? cb(null, [{ address: '127.0.0.1', family: 4 }]) : cb(null, '127.0.0.1', 4)) as unknown as LookupFunction;
    const { NodeHttpHandler } = await import('@smithy/node-http-handler');
    const s3 = new S3Client({
      ...clientConfig(`http://localhost:${box.port}`),
      forcePathStyle: false,
      requestHandler: new NodeHttpHandler({ httpAgent: new Agent({ lookup }) }),
    });
    const bucket = unique('vhost');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'v2/shop/manifests/x', Body: 'still s3' }));
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'v2/shop/manifests/x' }));
    assert.equal(await got.Body!.transformToString(), 'still s3');
    s3.destroy();
  });

  test('an upload cut by kill -9 leaves no blob; completed blobs and images survive', async () => {
    const repo = await newRepo();
    const img = await pushImage(repo, 'kept', 'durable layer');
    const start = await v2(`${repo}/blobs/uploads/`, { method: 'POST' });
    const location = start.headers.get('location')!;
    const part = Buffer.alloc(256 * 1024, 7);
    assert.equal(
      (await fetch(`${box.url}${location}`, { method: 'PATCH', body: new Uint8Array(part), headers: { authorization: auth } })).status,
      202,
    );
    await box.kill9();
    box = await startOpsbox({ dataDir: box.dataDir });
    ecr.destroy();
    ecr = new ECRClient(clientConfig(box.url));
    auth = `Basic ${(await ecr.send(new GetAuthorizationTokenCommand({}))).authorizationData![0].authorizationToken!}`;
    assert.equal((await v2(`${repo}/blobs/${sha256(part)}`, { method: 'HEAD' })).status, 404);
    const manifest = await v2(`${repo}/manifests/kept`);
    assert.equal(manifest.status, 200);
    assert.equal(manifest.headers.get('docker-content-digest'), img.digest);
    // the upload's acknowledged chunk is still there: finishing it gives the blob
    const put = await fetch(`${box.url}${location.replace(/:\d+/, '')}?digest=${sha256(part)}`, {
      method: 'PUT',
      headers: { authorization: auth },
    });
    assert.equal(put.status, 201, await put.text());
    assert.equal((await v2(`${repo}/blobs/${sha256(part)}`, { method: 'HEAD' })).status, 200);
  });
});

describe('ecr registry, strict auth', () => {
  let box: RunningOpsbox;
  before(async () => {
    box = await startOpsbox({ env: { OPSBOX_AUTH: 'strict' } });
  });
  after(async () => box?.dispose());

  test('only a token GetAuthorizationToken issued is accepted', async () => {
    const wrong = await fetch(`${box.url}/v2/`, { headers: { authorization: `Basic ${Buffer.from('AWS:made-up').toString('base64')}` } });
    assert.equal(wrong.status, 401);
    const ecr = new ECRClient(clientConfig(box.url));
    const token = (await ecr.send(new GetAuthorizationTokenCommand({}))).authorizationData![0];
    assert.ok(token.expiresAt!.getTime() > Date.now() + 11 * 3_600_000);
    const ok = await fetch(`${box.url}/v2/`, { headers: { authorization: `Basic ${token.authorizationToken}` } });
    assert.equal(ok.status, 200);
    const tampered = Buffer.from(token.authorizationToken!, 'base64')
      .toString()
      .replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'));
    const bad = await fetch(`${box.url}/v2/`, { headers: { authorization: `Basic ${Buffer.from(tampered).toString('base64')}` } });
    assert.equal(bad.status, 401);
    ecr.destroy();
  });
});
