/**
 * CodeCommit over real git smart HTTP: clone, push, fetch, branches, tags, deletes, force pushes,
 * rejected pushes, concurrent pushes, the events each ref change publishes, a 100 MB push,
 * persistence across kill -9, and strict authentication.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { awsCli, startOpsbox, unique, type RunningOpsbox } from '../helpers/opsbox.js';
import { api, errorCode, eventSink, GitClient, ok, type Sink } from './codecommit.helpers.js';

let box: RunningOpsbox;
let git: GitClient;
let sink: Sink;

before(async () => {
  box = await startOpsbox();
  git = new GitClient();
  sink = await eventSink(box.url);
});
after(async () => {
  sink?.close();
  await box?.dispose();
  git?.dispose();
});

async function createRepo(name: string) {
  const r = await awsCli(box.url, ['codecommit', 'create-repository', '--repository-name', name]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout).repositoryMetadata;
}

/** A clone with one commit on main pushed. */
async function seeded(name: string) {
  const meta = await createRepo(name);
  const dir = git.dir(unique('w'));
  await git.must(dir, ['clone', '-q', meta.cloneUrlHttp, '.']);
  writeFileSync(join(dir, 'a.txt'), 'hello\n');
  await git.must(dir, ['add', '.']);
  await git.must(dir, ['commit', '-qm', 'first']);
  await git.must(dir, ['push', '-q', 'origin', 'main']);
  return { meta, dir };
}

const eventsFor = (repo: string) =>
  sink.events.filter((e) => e.detail.repositoryName === repo && e['detail-type'] === 'CodeCommit Repository State Change');

describe('git smart HTTP', () => {
  test('clone/push/fetch round trip: the first pushed branch becomes the default, others see the commits', async () => {
    const name = unique('round');
    const { meta, dir } = await seeded(name);
    assert.equal(meta.cloneUrlHttp, `${box.url}/v1/repos/${name}`);
    const repo = await ok(box.url, 'GetRepository', { repositoryName: name });
    assert.equal(repo.repositoryMetadata.defaultBranch, 'main');

    const other = git.dir(unique('w2'));
    await git.must(other, ['clone', '-q', meta.cloneUrlHttp, '.']);
    assert.equal(readFileSync(join(other, 'a.txt'), 'utf8'), 'hello\n');

    writeFileSync(join(dir, 'b.txt'), 'second\n');
    await git.must(dir, ['add', '.']);
    await git.must(dir, ['commit', '-qm', 'second']);
    await git.must(dir, ['push', '-q']);
    await git.must(other, ['pull', '-q']);
    assert.equal(readFileSync(join(other, 'b.txt'), 'utf8'), 'second\n');

    const file = await ok(box.url, 'GetFile', { repositoryName: name, filePath: 'b.txt' });
    assert.equal(Buffer.from(file.fileContent, 'base64').toString(), 'second\n');
  });

  test('push: branches, tags, deletes and force pushes each publish exactly one event per ref change', async () => {
    const name = unique('refs');
    const { dir } = await seeded(name);
    const main1 = await git.must(dir, ['rev-parse', 'HEAD']);
    await sink.waitFor(() => eventsFor(name).length === 1);
    assert.deepEqual(
      { ...eventsFor(name)[0].detail, repositoryId: undefined, callerUserArn: undefined },
      {
        event: 'referenceCreated',
        repositoryName: name,
        repositoryId: undefined,
        referenceType: 'branch',
        referenceName: 'main',
        referenceFullName: 'refs/heads/main',
        commitId: main1,
        callerUserArn: undefined,
      },
    );
    assert.equal(eventsFor(name)[0].source, 'aws.codecommit');
    assert.match(eventsFor(name)[0].resources[0], new RegExp(`^arn:aws:codecommit:us-east-1:\\d{12}:${name}$`));

    // a new branch and a tag in one push: two events
    await git.must(dir, ['checkout', '-qb', 'feature/x']);
    writeFileSync(join(dir, 'x.txt'), 'x\n');
    await git.must(dir, ['add', '.']);
    await git.must(dir, ['commit', '-qm', 'x']);
    await git.must(dir, ['tag', 'v1']);
    await git.must(dir, ['push', '-q', 'origin', 'feature/x', 'v1']);
    const fx = await git.must(dir, ['rev-parse', 'HEAD']);
    await sink.waitFor(() => eventsFor(name).length === 3);
    const created = eventsFor(name)
      .slice(1)
      .map((e) => [e.detail.event, e.detail.referenceType, e.detail.referenceFullName, e.detail.commitId]);
    assert.deepEqual(created.sort(), [
      ['referenceCreated', 'branch', 'refs/heads/feature/x', fx],
      ['referenceCreated', 'tag', 'refs/tags/v1', fx],
    ]);

    // force push: rewrite feature/x
    await git.must(dir, ['commit', '-q', '--amend', '-m', 'x rewritten']);
    const fx2 = await git.must(dir, ['rev-parse', 'HEAD']);
    await git.must(dir, ['push', '-q', '--force', 'origin', 'feature/x']);
    await sink.waitFor(() => eventsFor(name).length === 4);
    const upd = eventsFor(name)[3].detail;
    assert.equal(upd.event, 'referenceUpdated');
    assert.equal(upd.commitId, fx2);
    assert.equal(upd.oldCommitId, fx);

    // delete the branch and the tag
    await git.must(dir, ['push', '-q', 'origin', '--delete', 'feature/x', 'v1']);
    await sink.waitFor(() => eventsFor(name).length === 6);
    const deleted = eventsFor(name)
      .slice(4)
      .map((e) => [e.detail.event, e.detail.referenceFullName, e.detail.oldCommitId, e.detail.commitId]);
    assert.deepEqual(deleted.sort(), [
      ['referenceDeleted', 'refs/heads/feature/x', fx2, undefined],
      ['referenceDeleted', 'refs/tags/v1', fx, undefined],
    ]);
    const branches = await ok(box.url, 'ListBranches', { repositoryName: name });
    assert.deepEqual(branches.branches, ['main']);
    // nothing else trickles in later
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(eventsFor(name).length, 6);
  });

  test('push: a non-fast-forward push is rejected and changes nothing', async () => {
    const name = unique('nff');
    const { meta, dir } = await seeded(name);
    const other = git.dir(unique('w'));
    await git.must(other, ['clone', '-q', meta.cloneUrlHttp, '.']);
    writeFileSync(join(dir, 'c.txt'), 'one\n');
    await git.must(dir, ['add', '.']);
    await git.must(dir, ['commit', '-qm', 'one']);
    await git.must(dir, ['push', '-q']);
    const tip = await git.must(dir, ['rev-parse', 'HEAD']);

    writeFileSync(join(other, 'c.txt'), 'two\n');
    await git.must(other, ['add', '.']);
    await git.must(other, ['commit', '-qm', 'two']);
    const r = await git.run(other, ['push', 'origin', 'main']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /rejected|non-fast-forward|fetch first/);
    const b = await ok(box.url, 'GetBranch', { repositoryName: name, branchName: 'main' });
    assert.equal(b.branch.commitId, tip);
  });

  test('push: concurrent pushes to two branches both land, one event each', async () => {
    const name = unique('conc');
    const { meta } = await seeded(name);
    const dirs = await Promise.all(
      ['left', 'right'].map(async (branch) => {
        const d = git.dir(unique(branch));
        await git.must(d, ['clone', '-q', meta.cloneUrlHttp, '.']);
        await git.must(d, ['checkout', '-qb', branch]);
        for (let i = 0; i < 20; i++) writeFileSync(join(d, `${branch}-${i}.txt`), randomBytes(2000).toString('hex'));
        await git.must(d, ['add', '.']);
        await git.must(d, ['commit', '-qm', branch]);
        return { d, branch };
      }),
    );
    await Promise.all(dirs.map(({ d, branch }) => git.must(d, ['push', '-q', 'origin', branch])));
    const branches = (await ok(box.url, 'ListBranches', { repositoryName: name })).branches.sort();
    assert.deepEqual(branches, ['left', 'main', 'right']);
    await sink.waitFor(() => eventsFor(name).length === 3);
    assert.deepEqual(
      eventsFor(name)
        .map((e) => e.detail.referenceName)
        .sort(),
      ['left', 'main', 'right'],
    );
  });

  test("push: a tree with a '..' or '.git' entry is refused as git's fsck refuses it, and changes nothing", async () => {
    const name = unique('fsck');
    const { dir } = await seeded(name);
    const tip = await git.must(dir, ['rev-parse', 'HEAD']);
    for (const entry of ['..', '.git']) {
      const blob = await git.must(dir, ['rev-parse', 'HEAD:a.txt']);
      const tree = Buffer.concat([Buffer.from(`100644 ${entry}\0`), Buffer.from(blob, 'hex')]);
      const treeFile = join(dir, '..', `${unique('tree')}.bin`);
      writeFileSync(treeFile, tree);
      const treeId = await git.must(dir, ['hash-object', '-t', 'tree', '--literally', '-w', treeFile]);
      const commit = await git.must(dir, ['commit-tree', treeId, '-p', tip, '-m', `evil ${entry}`]);
      const r = await git.run(dir, ['push', 'origin', `${commit}:refs/heads/main`]);
      assert.notEqual(r.code, 0, `push of a '${entry}' entry was accepted`);
      assert.match(r.stderr, /hasDot|fsck|rejected|unpack/i);
    }
    const b = await ok(box.url, 'GetBranch', { repositoryName: name, branchName: 'main' });
    assert.equal(b.branch.commitId, tip);
  });

  test('clone of an unknown repository → 404, git reports not found', async () => {
    const res = await fetch(`${box.url}/v1/repos/${unique('nope')}/info/refs?service=git-upload-pack`, {
      headers: { Authorization: 'Basic ' + Buffer.from('test:test').toString('base64') },
    });
    assert.equal(res.status, 404);
    const r = await git.run(git.dir(unique('w')), ['clone', `${box.url}/v1/repos/${unique('nope')}`, '.']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /not found|404/i);
  });

  test('push: 100 MB of random data streams through and clones back intact', async () => {
    const name = unique('big');
    const { meta, dir } = await seeded(name);
    const file = join(dir, 'big.bin');
    await new Promise<void>((resolve, reject) => {
      const out = createWriteStream(file);
      let left = 100;
      const write = () => {
        while (left > 0) {
          left--;
          if (!out.write(randomBytes(1024 * 1024))) return out.once('drain', write);
        }
        out.end(resolve);
      };
      out.on('error', reject);
      write();
    });
    await git.must(dir, ['add', 'big.bin']);
    await git.must(dir, ['commit', '-qm', 'big']);
    const rssBefore = vmHwm(box.proc.pid!);
    const started = Date.now();
    await git.must(dir, ['push', '-q']);
    const pushMs = Date.now() - started;
    const rssAfter = vmHwm(box.proc.pid!);
    // the server only pipes the pack to git: its peak memory must not grow by anything near 100 MB
    assert.ok(rssAfter - rssBefore < 60 * 1024, `server peak RSS grew by ${rssAfter - rssBefore} kB`);
    const other = git.dir(unique('bigclone'));
    await git.must(other, ['clone', '-q', meta.cloneUrlHttp, '.']);
    const want = await git.must(dir, ['hash-object', 'big.bin']);
    const got = await git.must(other, ['hash-object', 'big.bin']);
    assert.equal(got, want);
    assert.ok(pushMs < 60_000, `push took ${pushMs} ms`);
  });
});

function vmHwm(pid: number) {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

describe('durability', () => {
  test('repositories, refs and metadata survive kill -9 and restart', async () => {
    const own = await startOpsbox();
    const g = new GitClient();
    try {
      const name = unique('durable');
      const meta = (await ok(own.url, 'CreateRepository', { repositoryName: name, repositoryDescription: 'kept' })).repositoryMetadata;
      const dir = g.dir('w');
      await g.must(dir, ['clone', '-q', meta.cloneUrlHttp, '.']);
      writeFileSync(join(dir, 'a.txt'), 'durable\n');
      await g.must(dir, ['add', '.']);
      await g.must(dir, ['commit', '-qm', 'first']);
      await g.must(dir, ['push', '-q', 'origin', 'main']);
      const tip = await g.must(dir, ['rev-parse', 'HEAD']);
      await own.kill9();
      const again = await startOpsbox({ dataDir: own.dataDir });
      try {
        const repo = (await ok(again.url, 'GetRepository', { repositoryName: name })).repositoryMetadata;
        assert.equal(repo.repositoryDescription, 'kept');
        assert.equal(repo.defaultBranch, 'main');
        assert.equal(repo.repositoryId, meta.repositoryId);
        const b = await ok(again.url, 'GetBranch', { repositoryName: name, branchName: 'main' });
        assert.equal(b.branch.commitId, tip);
        const clone = g.dir('again');
        await g.must(clone, ['clone', '-q', repo.cloneUrlHttp, '.']);
        assert.equal(readFileSync(join(clone, 'a.txt'), 'utf8'), 'durable\n');
      } finally {
        await again.dispose();
      }
    } finally {
      await own.dispose();
      g.dispose();
    }
  });
});

describe('OPSBOX_AUTH=strict', () => {
  test('git over HTTP: no credentials → 401 Basic challenge, unknown key → 403, known key → clone and push work', async () => {
    const strict = await startOpsbox({ env: { OPSBOX_AUTH: 'strict' } });
    const g = new GitClient();
    try {
      const name = unique('strict');
      const create = await awsCli(strict.url, ['codecommit', 'create-repository', '--repository-name', name]);
      assert.equal(create.code, 0, create.stderr);
      const path = `/v1/repos/${name}/info/refs?service=git-upload-pack`;

      const anon = await fetch(strict.url + path);
      assert.equal(anon.status, 401);
      assert.match(anon.headers.get('www-authenticate') ?? '', /^Basic realm=/);

      const basic = (u: string, p: string) => ({ Authorization: 'Basic ' + Buffer.from(`${u}:${p}`).toString('base64') });
      assert.equal((await fetch(strict.url + path, { headers: basic('AKIAUNKNOWNKEY000000', 'x') })).status, 403);
      assert.equal((await fetch(strict.url + path, { headers: basic('test', 'wrong-secret') })).status, 403);
      assert.equal((await fetch(strict.url + path, { headers: basic('test', 'test') })).status, 200);

      const u = new URL(strict.url);
      const authed = `http://test:test@${u.host}/v1/repos/${name}`;
      const dir = g.dir('w');
      await g.must(dir, ['clone', '-q', authed, '.']);
      writeFileSync(join(dir, 'a.txt'), 'strict\n');
      await g.must(dir, ['add', '.']);
      await g.must(dir, ['commit', '-qm', 'first']);
      await g.must(dir, ['push', '-q', 'origin', 'main']);

      const denied = await g.run(g.dir('denied'), ['-c', 'credential.helper=', 'clone', `${strict.url}/v1/repos/${name}`, '.']);
      assert.notEqual(denied.code, 0);

      // AWS's own credential helper: a SigV4 signature as password; the region it signed for picks the repository
      const euName = unique('strict-eu');
      const eu = await awsCli(strict.url, ['codecommit', 'create-repository', '--repository-name', euName, '--region', 'eu-west-1']);
      assert.equal(eu.code, 0, eu.stderr);
      const helper = [
        '-c',
        'credential.helper=',
        '-c',
        'credential.helper=!aws codecommit credential-helper --ignore-host-check $@',
        '-c',
        'credential.UseHttpPath=true',
      ];
      const awsEnv = {
        AWS_ACCESS_KEY_ID: 'test',
        AWS_SECRET_ACCESS_KEY: 'test',
        AWS_DEFAULT_REGION: 'eu-west-1',
        AWS_CONFIG_FILE: '/dev/null',
        AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      };
      const viaHelper = g.dir('helper');
      await g.must(viaHelper, [...helper, 'clone', '-q', `${strict.url}/v1/repos/${euName}`, '.'], awsEnv);
      writeFileSync(join(viaHelper, 'eu.txt'), 'eu\n');
      await g.must(viaHelper, ['add', '.']);
      await g.must(viaHelper, ['commit', '-qm', 'eu']);
      await g.must(viaHelper, [...helper, 'push', '-q', 'origin', 'main'], awsEnv);
      const branches = await awsCli(strict.url, ['codecommit', 'list-branches', '--repository-name', euName, '--region', 'eu-west-1']);
      assert.deepEqual(JSON.parse(branches.stdout).branches, ['main']);
    } finally {
      await strict.dispose();
      g.dispose();
    }
  });
});

test('API and git agree: a commit made with PutFile is fetched by git, and a push is visible to GetDifferences', async () => {
  const name = unique('agree');
  const { dir } = await seeded(name);
  const tip = await git.must(dir, ['rev-parse', 'HEAD']);
  const put = await ok(box.url, 'PutFile', {
    repositoryName: name,
    branchName: 'main',
    filePath: 'api/x.txt',
    fileContent: Buffer.from('from api').toString('base64'),
    parentCommitId: tip,
  });
  await git.must(dir, ['pull', '-q']);
  assert.equal(readFileSync(join(dir, 'api/x.txt'), 'utf8'), 'from api');
  assert.equal(await git.must(dir, ['rev-parse', 'HEAD']), put.commitId);
  const diff = await ok(box.url, 'GetDifferences', { repositoryName: name, beforeCommitSpecifier: tip, afterCommitSpecifier: 'main' });
  assert.deepEqual(
    diff.differences.map((d: any) => [d.changeType, d.afterBlob.path]),
    [['A', 'api/x.txt']],
  );
  const missing = await api(box.url, 'GetBranch', { repositoryName: name, branchName: 'nope' });
  assert.equal(errorCode(missing), 'BranchDoesNotExistException');
});

test('default auth: git is challenged (401) before a repository is chosen, and its credentials name the account and region', async () => {
  const name = unique('elsewhere');
  const mk = async (account: string, region: string, content: string) => {
    const meta = (await ok(box.url, 'CreateRepository', { repositoryName: name }, account, region)).repositoryMetadata;
    assert.equal(meta.Arn, `arn:aws:codecommit:${region}:${account}:${name}`);
    const tip = await ok(
      box.url,
      'PutFile',
      { repositoryName: name, branchName: 'main', filePath: 'who.txt', fileContent: Buffer.from(content).toString('base64') },
      account,
      region,
    );
    return { meta, tip };
  };
  const a = await mk('111111111111', 'eu-west-1', 'eu');
  // no credentials: 401 with a Basic challenge, whatever exists under that name
  const anon = await fetch(`${a.meta.cloneUrlHttp}/info/refs?service=git-upload-pack`);
  assert.equal(anon.status, 401);
  assert.equal(anon.headers.get('www-authenticate'), 'Basic realm="opsbox"');
  // the default account's credentials (the helper) do not reach another account's repository
  const asDefault = await git.run(git.dir(unique('w')), ['clone', '-q', a.meta.cloneUrlHttp, '.']);
  assert.notEqual(asDefault.code, 0);
  assert.match(asDefault.stderr, /not found|404/i);
  const u = new URL(box.url);
  const viaA = git.dir(unique('w'));
  await git.must(viaA, ['clone', '-q', `http://111111111111%40eu-west-1:x@${u.host}/v1/repos/${name}`, '.']);
  assert.equal(readFileSync(join(viaA, 'who.txt'), 'utf8'), 'eu');

  // the same name in a second account/region: its credentials pick its repository
  await mk('222222222222', 'ap-south-1', 'ap');
  const viaCreds = git.dir(unique('w'));
  await git.must(viaCreds, ['clone', '-q', `http://222222222222%40ap-south-1:x@${u.host}/v1/repos/${name}`, '.']);
  assert.equal(readFileSync(join(viaCreds, 'who.txt'), 'utf8'), 'ap');
  writeFileSync(join(viaCreds, 'who.txt'), 'ap2');
  await git.must(viaCreds, ['commit', '-qam', 'two']);
  await git.must(viaCreds, ['push', '-q']);
  const f = await ok(box.url, 'GetFile', { repositoryName: name, filePath: 'who.txt' }, '222222222222', 'ap-south-1');
  assert.equal(Buffer.from(f.fileContent, 'base64').toString(), 'ap2');
  const other = await ok(box.url, 'GetFile', { repositoryName: name, filePath: 'who.txt' }, '111111111111', 'eu-west-1');
  assert.equal(Buffer.from(other.fileContent, 'base64').toString(), 'eu');
  // an account's user name without its region: us-east-1, where that account has no such repository
  const noRegion = await git.run(git.dir(unique('w')), ['clone', '-q', `http://111111111111:x@${u.host}/v1/repos/${name}`, '.']);
  assert.notEqual(noRegion.code, 0);
});

test('upload-pack accepts gzip request bodies, as git sends them for large negotiations', async () => {
  const name = unique('gzip');
  const { dir } = await seeded(name);
  const id = await git.must(dir, ['rev-parse', 'HEAD']);
  const { gzipSync } = await import('node:zlib');
  const body = gzipSync(Buffer.from(`0032want ${id}\n00000009done\n`));
  const res = await fetch(`${box.url}/v1/repos/${name}/git-upload-pack`, {
    method: 'POST',
    headers: {
      Authorization: 'Basic ' + Buffer.from('test:test').toString('base64'),
      'Content-Type': 'application/x-git-upload-pack-request',
      'Content-Encoding': 'gzip',
      Accept: 'application/x-git-upload-pack-result',
    },
    body,
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'application/x-git-upload-pack-result');
  const out = Buffer.from(await res.arrayBuffer());
  assert.ok(out.includes(Buffer.from('PACK')), out.subarray(0, 100).toString());
});
