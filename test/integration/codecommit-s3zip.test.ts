/**
 * Seeding a repository from a zip in S3 (AWS::CodeCommit::Repository's Code property). The Code
 * property is not part of the CodeCommit API, so the test runs opsbox in-process and calls the
 * CreateRepository handler the way a CloudFormation provider would; everything else (the S3
 * upload, GetRepository/GetFile/GetFolder, git clone) goes over the wire with real clients.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { deflateRawSync, crc32 } from 'node:zlib';
import { after, before, test } from 'node:test';
import { CodeCommitClient, GetFileCommand, GetFolderCommand, GetRepositoryCommand } from '@aws-sdk/client-codecommit';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { systemClock } from '../../src/core/clock.js';
import { DEFAULT_ACCOUNT } from '../../src/core/credentials.js';
import type { BusEvent } from '../../src/core/events.js';
import type { RequestContext } from '../../src/gateway/context.js';
import { startOpsbox, type Opsbox } from '../../src/server/server.js';
import { codecommit } from '../../src/services/codecommit/index.js';
import { clientConfig, unique } from '../helpers/opsbox.js';
import { GitClient } from './codecommit.helpers.js';

interface ZipFile {
  name: string;
  data?: Buffer;
  /** Unix mode stored in the external attributes (0o100755 for an executable). */
  mode?: number;
  deflate?: boolean;
}

/** A minimal zip writer: stored or deflated entries, Unix modes, one central directory. */
function zip(files: ZipFile[]): Buffer {
  const locals: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const f of files) {
    const name = Buffer.from(f.name);
    const data = f.data ?? Buffer.alloc(0);
    const body = f.deflate ? deflateRawSync(data) : data;
    const crc = crc32(data);
    const method = f.deflate ? 8 : 0;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(name.length, 26);
    locals.push(local, name, body);
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE((3 << 8) | 20, 4); // made by Unix
    c.writeUInt16LE(20, 6);
    c.writeUInt16LE(method, 10);
    c.writeUInt32LE(crc, 16);
    c.writeUInt32LE(body.length, 20);
    c.writeUInt32LE(data.length, 24);
    c.writeUInt16LE(name.length, 28);
    c.writeUInt32LE(((f.mode ?? (f.name.endsWith('/') ? 0o40755 : 0o100644)) << 16) >>> 0, 38);
    c.writeUInt32LE(offset, 42);
    central.push(c, name);
    offset += 30 + name.length + body.length;
  }
  const dir = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(files.length, 8);
  end.writeUInt16LE(files.length, 10);
  end.writeUInt32LE(dir.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, dir, end]);
}

let box: Opsbox;
let s3: S3Client;
let cc: CodeCommitClient;
let git: GitClient;
let bucket: string;
const events: BusEvent[] = [];

function ctx(): RequestContext {
  return {
    account: DEFAULT_ACCOUNT,
    region: 'us-east-1',
    requestId: unique('req'),
    service: 'codecommit',
    operation: 'CreateRepository',
    caller: { account: DEFAULT_ACCOUNT, arn: `arn:aws:iam::${DEFAULT_ACCOUNT}:root`, userId: DEFAULT_ACCOUNT, accessKeyId: 'test' },
    clock: systemClock,
    host: new URL(box.url).host,
    headers: {},
  };
}

/** CreateRepository with the Code property, as a CloudFormation provider calls it. */
function createWithCode(repositoryName: string, code: unknown) {
  const handlers = codecommit.create(box.env).handlers as any;
  return handlers.CreateRepository({ repositoryName, code }, ctx());
}

async function put(key: string, body: Buffer) {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
}

before(async () => {
  box = await startOpsbox({ host: '127.0.0.1', port: 0, dataDir: '', auth: 'default', ephemeral: true });
  s3 = new S3Client({ ...clientConfig(box.url), forcePathStyle: true });
  cc = new CodeCommitClient(clientConfig(box.url));
  git = new GitClient();
  bucket = unique('code');
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  box.env.bus.subscribe((e) => void events.push(e));
});
after(async () => {
  s3?.destroy();
  cc?.destroy();
  git?.dispose();
  await box?.close();
});

test('CreateRepository with Code.S3: one initial commit on main with the zip files, modes and default branch', async () => {
  const key = unique('src') + '.zip';
  const big = Buffer.from('line of text\n'.repeat(5000));
  await put(
    key,
    zip([
      { name: 'README.md', data: Buffer.from('# hello\n') },
      { name: 'src/', mode: 0o40755 },
      { name: 'src/app.js', data: big, deflate: true },
      { name: 'bin/run.sh', data: Buffer.from('#!/bin/sh\necho hi\n'), mode: 0o100755 },
      { name: 'empty.txt' },
    ]),
  );
  const name = unique('zip');
  const out = await createWithCode(name, { s3: { bucket, key } });
  assert.equal(out.repositoryMetadata.defaultBranch, 'main');

  const repo = await cc.send(new GetRepositoryCommand({ repositoryName: name }));
  assert.equal(repo.repositoryMetadata?.defaultBranch, 'main');

  const readme = await cc.send(new GetFileCommand({ repositoryName: name, filePath: 'README.md' }));
  assert.equal(Buffer.from(readme.fileContent!).toString(), '# hello\n');
  assert.equal(readme.fileMode, 'NORMAL');
  const app = await cc.send(new GetFileCommand({ repositoryName: name, filePath: 'src/app.js' }));
  assert.deepEqual(Buffer.from(app.fileContent!), big);
  const run = await cc.send(new GetFileCommand({ repositoryName: name, filePath: 'bin/run.sh' }));
  assert.equal(run.fileMode, 'EXECUTABLE');

  const root = await cc.send(new GetFolderCommand({ repositoryName: name, folderPath: '/' }));
  assert.deepEqual(root.files?.map((f) => f.absolutePath).sort(), ['README.md', 'empty.txt']);
  assert.deepEqual(root.subFolders?.map((f) => f.absolutePath).sort(), ['bin', 'src']);

  const created = events.find((e) => (e.detail as any).repositoryName === name);
  assert.ok(created, 'a CodeCommit Repository State Change event');
  assert.equal((created!.detail as any).event, 'referenceCreated');
  assert.equal((created!.detail as any).referenceName, 'main');
  assert.equal((created!.detail as any).commitId, readme.commitId);

  const dir = git.dir(unique('clone'));
  await git.must(dir, ['clone', '-q', repo.repositoryMetadata!.cloneUrlHttp!, '.']);
  assert.equal(readFileSync(join(dir, 'README.md'), 'utf8'), '# hello\n');
  assert.equal(statSync(join(dir, 'bin/run.sh')).mode & 0o111, 0o111);
  assert.equal(await git.must(dir, ['rev-list', '--count', 'HEAD']), '1');
  assert.equal(await git.must(dir, ['log', '-1', '--format=%an']), 'AWS CodeCommit');
});

test('CreateRepository with Code.BranchName: that branch is the only branch and the default', async () => {
  const key = unique('src') + '.zip';
  await put(key, zip([{ name: 'a.txt', data: Buffer.from('a') }]));
  const name = unique('zip');
  await createWithCode(name, { s3: { bucket, key }, branchName: 'develop' });
  const repo = await cc.send(new GetRepositoryCommand({ repositoryName: name }));
  assert.equal(repo.repositoryMetadata?.defaultBranch, 'develop');
  const dir = git.dir(unique('clone'));
  await git.must(dir, ['clone', '-q', repo.repositoryMetadata!.cloneUrlHttp!, '.']);
  assert.equal(await git.must(dir, ['branch', '--show-current']), 'develop');
});

async function assertNotCreated(name: string) {
  await assert.rejects(cc.send(new GetRepositoryCommand({ repositoryName: name })), { name: 'RepositoryDoesNotExistException' });
}

test('CreateRepository with Code.S3: missing object → ValidationException naming bucket and key, no repository', async () => {
  const name = unique('zip');
  await assert.rejects(createWithCode(name, { s3: { bucket, key: 'nope.zip' } }), (err: any) => {
    assert.equal(err.code, 'ValidationException');
    assert.match(err.message, new RegExp(`s3://${bucket}/nope\\.zip`));
    return true;
  });
  await assertNotCreated(name);
  await assert.rejects(createWithCode(name, { s3: { bucket: unique('nobucket'), key: 'x.zip' } }), { code: 'ValidationException' });
  await assertNotCreated(name);
});

test('CreateRepository with Code.S3: a bucket of another account cannot be read', async () => {
  const name = unique('zip');
  const key = unique('src') + '.zip';
  await put(key, zip([{ name: 'a.txt', data: Buffer.from('a') }]));
  const other = { ...ctx(), account: '111111111111' };
  const handlers = codecommit.create(box.env).handlers as any;
  await assert.rejects(async () => handlers.CreateRepository({ repositoryName: name, code: { s3: { bucket, key } } }, other), {
    code: 'ValidationException',
  });
});

test('CreateRepository with Code.S3: an object that is not a zip → error, no repository', async () => {
  const key = unique('notzip');
  await put(key, Buffer.from('this is not a zip archive at all'));
  const name = unique('zip');
  await assert.rejects(createWithCode(name, { s3: { bucket, key } }), (err: any) => {
    assert.equal(err.code, 'ValidationException');
    assert.match(err.message, /not a valid \.zip archive/);
    return true;
  });
  await assertNotCreated(name);
});

test('CreateRepository with Code.S3: path traversal and absolute entries → rejected, no repository', async () => {
  for (const bad of ['../evil.txt', 'a/../../evil.txt', '/etc/evil', '.git/config']) {
    const key = unique('bad') + '.zip';
    await put(
      key,
      zip([
        { name: 'ok.txt', data: Buffer.from('ok') },
        { name: bad, data: Buffer.from('x') },
      ]),
    );
    const name = unique('zip');
    await assert.rejects(createWithCode(name, { s3: { bucket, key } }), (err: any) => {
      assert.equal(err.code, 'ValidationException', `${bad}: ${err}`);
      assert.match(err.message, /not a valid \.zip archive/);
      return true;
    });
    await assertNotCreated(name);
  }
});

test('CreateRepository with Code.S3: a path that is both a file and a folder → rejected', async () => {
  const key = unique('conflict') + '.zip';
  await put(
    key,
    zip([
      { name: 'a', data: Buffer.from('file') },
      { name: 'a/b.txt', data: Buffer.from('x') },
    ]),
  );
  const name = unique('zip');
  await assert.rejects(createWithCode(name, { s3: { bucket, key } }), { code: 'ValidationException' });
  await assertNotCreated(name);
});

test('failed imports leave no repository directories or spooled archives behind', async () => {
  const root = join(box.env.config.dataDir, 'codecommit');
  const tmp = join(root, '.tmp');
  assert.deepEqual(existsSync(tmp) ? readdirSync(tmp).filter((f) => f.endsWith('.zip')) : [], []);
  const repos = readdirSync(join(root, DEFAULT_ACCOUNT, 'us-east-1'));
  assert.equal(repos.length, 2, 'only the two successful imports');
});
