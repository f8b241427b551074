/**
 * CodeCommit pieces without a server: name and path rules, ref snapshot diffs, and the handlers
 * in-process with a ManualClock — one bus event per ref change, stamped with the injected time.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../../src/core/clock.js';
import { Credentials } from '../../src/core/credentials.js';
import { EventBus, type BusEvent } from '../../src/core/events.js';
import { Store } from '../../src/core/store.js';
import { Tags } from '../../src/core/tags.js';
import { Targets } from '../../src/core/targets.js';
import type { RequestContext } from '../../src/gateway/context.js';
import type { ServiceEnv } from '../../src/gateway/service.js';
import { GitRepos } from '../../src/core/repos.js';
import { checkBranchName, checkRepositoryName } from '../../src/services/codecommit/names.js';
import { Codecommit } from '../../src/services/codecommit/context.js';
import { ZERO } from '../../src/services/codecommit/git.js';
import { createCodecommitHandlers } from '../../src/services/codecommit/index.js';
import { checkPath } from '../../src/services/codecommit/tree.js';

const code = (fn: () => unknown) => {
  try {
    fn();
    return 'ok';
  } catch (err: any) {
    return err.code;
  }
};

describe('rules', () => {
  test('checkPath: relative paths pass; traversal, absolute, empty segments and .git → InvalidPathException', () => {
    for (const p of ['a.txt', 'dir/sub/file.bin', '.github/workflows/x.yml', 'a..b', 'ünïcode/ファイル'])
      assert.equal(
        code(() => checkPath(p)),
        'ok',
        p,
      );
    for (const p of ['../x', '/abs', 'a/../b', 'a/./b', 'a//b', 'a/', '.git/config', 'x/.GIT/y', 'nul\0byte', 'back\\slash'])
      assert.equal(
        code(() => checkPath(p)),
        'InvalidPathException',
        p,
      );
    assert.equal(
      code(() => checkPath('')),
      'PathRequiredException',
    );
  });

  test('checkBranchName follows git ref rules', () => {
    for (const b of ['main', 'feature/x', 'release-1.2', 'a_b'])
      assert.equal(
        code(() => checkBranchName(b)),
        'ok',
        b,
      );
    for (const b of ['-x', 'a..b', 'a b', 'x.lock', 'a/.b', 'a~1', 'a^', 'a:b', 'a?', 'a*', 'a[', '@', 'a@{1}', '/a', 'a/'])
      assert.equal(
        code(() => checkBranchName(b)),
        'InvalidBranchNameException',
        b,
      );
  });

  test('checkRepositoryName: [\\w.-]{1,100}, never ending in .git', () => {
    for (const n of ['shop', 'my.repo_1-x', 'x'.repeat(100)])
      assert.equal(
        code(() => checkRepositoryName(n)),
        'ok',
        n,
      );
    for (const n of ['a b', 'x'.repeat(101), 'a.git', 'A.GIT', 'a/b', '..'])
      assert.equal(
        code(() => checkRepositoryName(n)),
        'InvalidRepositoryNameException',
        n,
      );
  });
});

describe('handlers in-process', () => {
  let dir: string;
  let store: Store;
  let clock: ManualClock;
  let env: ServiceEnv;
  let h: any;
  const events: BusEvent[] = [];
  const ctx = (): RequestContext =>
    ({
      account: '123456789012',
      region: 'eu-west-1',
      requestId: 'r',
      service: 'codecommit',
      operation: 'x',
      caller: { account: '123456789012', arn: 'arn:aws:iam::123456789012:user/alice', userId: 'AIDA', accessKeyId: 'AKIA' },
      clock,
      host: 'localhost:4566',
      headers: {},
    }) as RequestContext;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'codecommit-unit-'));
    store = new Store(dir);
    clock = new ManualClock(Date.UTC(2025, 5, 1, 12, 0, 0));
    const bus = new EventBus();
    bus.subscribe((e) => events.push(e));
    env = {
      store,
      tags: new Tags(store),
      clock,
      bus,
      credentials: new Credentials(store),
      targets: new Targets(),
      repos: new GitRepos(),
      config: { auth: 'default' },
    } as unknown as ServiceEnv;
    h = createCodecommitHandlers(env);
  });
  after(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('diffRefs: created, updated and deleted branches and tags; other refs ignored', () => {
    const cc = new Codecommit(env);
    const a = '1'.repeat(40);
    const b = '2'.repeat(40);
    const before = new Map([
      ['refs/heads/main', a],
      ['refs/heads/gone', a],
      ['refs/notes/x', a],
    ]);
    const after = new Map([
      ['refs/heads/main', b],
      ['refs/tags/v1', b],
      ['refs/notes/x', b],
    ]);
    assert.deepEqual(cc.diffRefs(before, after), [
      { ref: 'refs/heads/main', old: a, next: b },
      { ref: 'refs/tags/v1', old: ZERO, next: b },
      { ref: 'refs/heads/gone', old: a, next: ZERO },
    ]);
  });

  test('API commits and branch changes publish one event each, with the ManualClock time, account and region', async () => {
    const meta = (await h.CreateRepository({ repositoryName: 'unit' }, ctx())).repositoryMetadata;
    assert.equal(meta.Arn, 'arn:aws:codecommit:eu-west-1:123456789012:unit');
    assert.equal(meta.cloneUrlHttp, 'http://localhost:4566/v1/repos/unit');
    const put = await h.PutFile({ repositoryName: 'unit', branchName: 'main', filePath: 'a.txt', fileContent: Buffer.from('a') }, ctx());
    clock.advance(1000);
    await h.CreateBranch({ repositoryName: 'unit', branchName: 'dev', commitId: put.commitId }, ctx());
    const second = await h.PutFile(
      { repositoryName: 'unit', branchName: 'dev', filePath: 'b.txt', fileContent: Buffer.from('b'), parentCommitId: put.commitId },
      ctx(),
    );
    await h.DeleteBranch({ repositoryName: 'unit', branchName: 'dev' }, ctx());
    assert.deepEqual(
      events.map((e) => [e.detail.event, e.detail.referenceName, e.detail.commitId, e.detail.oldCommitId]),
      [
        ['referenceCreated', 'main', put.commitId, undefined],
        ['referenceCreated', 'dev', put.commitId, undefined],
        ['referenceUpdated', 'dev', second.commitId, put.commitId],
        ['referenceDeleted', 'dev', undefined, second.commitId],
      ],
    );
    assert.equal(events[0].time, '2025-06-01T12:00:00Z');
    assert.equal(events[1].time, '2025-06-01T12:00:01Z');
    assert.deepEqual([events[0].account, events[0].region, events[0].resources], ['123456789012', 'eu-west-1', [meta.Arn]]);
    assert.equal(events[0].detail.callerUserArn, 'arn:aws:iam::123456789012:user/alice');
    const commit = (await h.GetCommit({ repositoryName: 'unit', commitId: put.commitId }, ctx())).commit;
    assert.equal(commit.author.name, 'alice');
    assert.equal(commit.author.date, `${Date.UTC(2025, 5, 1, 12, 0, 0) / 1000} +0000`);
    const repo = (await h.GetRepository({ repositoryName: 'unit' }, ctx())).repositoryMetadata;
    assert.equal(repo.defaultBranch, 'main');
  });
});
