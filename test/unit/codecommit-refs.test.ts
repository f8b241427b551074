/**
 * Refs and objects without a process per call, checked against git itself: readRef (loose,
 * packed, symbolic, missing), RefUpdater's batched compare-and-swaps through one
 * `git update-ref --stdin`, and objects written in-process (ids equal to hash-object / mktree /
 * commit-tree, fsck clean).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ZERO } from '../../src/services/codecommit/git.js';
import {
  identPart,
  PendingObjects,
  serializeCommit,
  serializeTree,
  writeObject,
  writePack,
} from '../../src/services/codecommit/objectWriter.js';
import { readRef, RefUpdater } from '../../src/services/codecommit/refs.js';

let root: string;
let bare: string;
const env = {
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  HOME: '/nonexistent',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_AUTHOR_NAME: 't',
  GIT_AUTHOR_EMAIL: 't@x',
  GIT_COMMITTER_NAME: 't',
  GIT_COMMITTER_EMAIL: 't@x',
  GIT_AUTHOR_DATE: '1700000000 +0000',
  GIT_COMMITTER_DATE: '1700000000 +0000',
};
const git = (args: string[], input?: string | Buffer) =>
  execFileSync('git', ['--git-dir', bare, ...args], { env, input })
    .toString()
    .trim();
let c1: string;
let c2: string;
let c3: string;

before(() => {
  root = mkdtempSync(join(tmpdir(), 'refs-'));
  bare = join(root, 'r.git');
  execFileSync('git', ['init', '-q', '--bare', bare], { env });
  const empty = git(['mktree'], '');
  c1 = git(['commit-tree', empty, '-m', 'one']);
  c2 = git(['commit-tree', empty, '-p', c1, '-m', 'two']);
  c3 = git(['commit-tree', empty, '-p', c2, '-m', 'three']);
});
after(() => rmSync(root, { recursive: true, force: true }));

describe('readRef', () => {
  test('loose, then packed, then loose over packed; symbolic refs followed; missing and folders are undefined', async () => {
    git(['update-ref', 'refs/heads/a', c1]);
    git(['update-ref', 'refs/heads/dir/b', c2]);
    assert.equal(await readRef(bare, 'refs/heads/a'), c1);
    assert.equal(await readRef(bare, 'refs/heads/dir/b'), c2);
    assert.equal(await readRef(bare, 'refs/heads/dir'), undefined);
    assert.equal(await readRef(bare, 'refs/heads/nope'), undefined);
    assert.equal(await readRef(bare, 'refs/heads/a/deeper'), undefined);
    assert.equal(
      await readRef(bare, `refs/heads/${'a'.repeat(300)}`),
      undefined,
      'a name too long for any file is no ref (not ENAMETOOLONG)',
    );
    assert.equal(await readRef(bare, 'refs/heads/../../config'), undefined);
    git(['pack-refs', '--all']);
    assert.equal(await readRef(bare, 'refs/heads/a'), c1);
    git(['update-ref', 'refs/heads/a', c3]);
    assert.equal(await readRef(bare, 'refs/heads/a'), c3);
    git(['symbolic-ref', 'refs/heads/alias', 'refs/heads/dir/b']);
    assert.equal(await readRef(bare, 'refs/heads/alias'), c2);
    git(['update-ref', '-d', 'refs/heads/dir/b']);
    assert.equal(await readRef(bare, 'refs/heads/dir/b'), undefined);
    assert.equal(await readRef(bare, 'refs/heads/alias'), undefined);
    git(['symbolic-ref', '-d', 'refs/heads/alias']);
  });
});

describe('RefUpdater', () => {
  const updaters: RefUpdater[] = [];
  after(() => updaters.forEach((u) => u.close()));
  let starts = 0;
  /** An updater; `stale` makes its view of the refs lie (as if another writer had moved them), so git itself refuses. */
  const updater = (stale?: Map<string, string>) => {
    const u = new RefUpdater(
      () => {
        starts++;
        return spawn('git', ['--git-dir', bare, 'update-ref', '--stdin'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
      },
      async (ref) => stale?.get(ref) ?? readRef(bare, ref),
    );
    updaters.push(u);
    return u;
  };

  test('a batch: old values checked first (a mismatch is refused without asking git), chained updates of one ref in order', async () => {
    const u = updater();
    starts = 0;
    const r = await u.updateMany([
      { ref: 'refs/heads/x', next: c1, old: ZERO },
      { ref: 'refs/heads/y', next: c2, old: c1 }, // y does not exist: refused
      { ref: 'refs/heads/z', next: c3, old: ZERO },
      { ref: 'refs/heads/x', next: c2, old: c1 }, // after the first: x is at c1
      { ref: 'refs/heads/x', next: c3, old: c1 }, // x is at c2 by then: refused
      { ref: 'refs/heads/bad name', next: c1, old: ZERO },
    ]);
    assert.deepEqual(r, [true, false, true, true, false, false]);
    assert.equal(git(['rev-parse', 'refs/heads/x']), c2);
    assert.equal(git(['rev-parse', 'refs/heads/z']), c3);
    assert.equal(await readRef(bare, 'refs/heads/y'), undefined);
    assert.equal(await u.update('refs/heads/z', ZERO, c3), true);
    assert.equal(await readRef(bare, 'refs/heads/z'), undefined);
    assert.equal(starts, 1);
  });

  test('distinct refs: one transaction; refused by git (a writer the check did not see): each alone, the others still move', async () => {
    const u = updater();
    starts = 0;
    assert.deepEqual(
      await u.updateMany([
        { ref: 'refs/heads/m1', next: c1, old: ZERO },
        { ref: 'refs/heads/m2', next: c2, old: ZERO },
        { ref: 'refs/heads/m3', next: c3, old: ZERO },
      ]),
      [true, true, true],
    );
    assert.equal(starts, 1);
    const liar = updater(new Map([['refs/heads/m2', c1]])); // m2 is really at c2
    starts = 0;
    assert.deepEqual(
      await liar.updateMany([
        { ref: 'refs/heads/m1', next: c2, old: c1 },
        { ref: 'refs/heads/m2', next: c3, old: c1 },
        { ref: 'refs/heads/m3', next: c1, old: c3 },
      ]),
      [true, false, true],
    );
    // the joint transaction and the lone m2 each ended a child
    assert.equal(starts, 3);
    assert.deepEqual(
      [git(['rev-parse', 'refs/heads/m1']), git(['rev-parse', 'refs/heads/m2']), git(['rev-parse', 'refs/heads/m3'])],
      [c2, c2, c1],
    );
  });
});

describe('objects written in-process', () => {
  test('blob, tree (git order: "a.b" < "a/" < "a0"), commit: the ids git computes, and fsck is clean', async () => {
    const blob = await writeObject(bare, 'blob', Buffer.from('content\n'));
    assert.equal(blob, git(['hash-object', '--stdin'], 'content\n'));
    const sub = await writeObject(bare, 'tree', serializeTree([{ name: 'x', mode: '100644', id: blob }]));
    const items = [
      { name: 'a0', mode: '100644', id: blob },
      { name: 'a', mode: '040000', id: sub },
      { name: 'a.b', mode: '100755', id: blob },
      { name: 'ü', mode: '120000', id: blob },
    ];
    const tree = await writeObject(bare, 'tree', serializeTree(items));
    const listing = `100644 blob ${blob}\ta0\n040000 tree ${sub}\ta\n100755 blob ${blob}\ta.b\n120000 blob ${blob}\tü\n`;
    assert.equal(tree, git(['mktree'], listing));
    const who = { name: ' .Ann <x>; ', email: 'ann@example.com', date: '1700000000 +0000' };
    const commit = await writeObject(
      bare,
      'commit',
      serializeCommit({ tree, parents: [c1], author: who, committer: who, message: 'msg without newline' }),
    );
    const expected = execFileSync('git', ['--git-dir', bare, 'commit-tree', tree, '-p', c1], {
      env: { ...env, GIT_AUTHOR_NAME: who.name, GIT_AUTHOR_EMAIL: who.email, GIT_COMMITTER_NAME: who.name, GIT_COMMITTER_EMAIL: who.email },
      input: 'msg without newline',
    })
      .toString()
      .trim();
    assert.equal(commit, expected);
    assert.equal(identPart(who.name), 'Ann x');
    assert.equal(await writeObject(bare, 'blob', Buffer.from('content\n')), blob);
    git(['update-ref', 'refs/heads/written', commit]);
    const fsck = spawnSync('git', ['--git-dir', bare, 'fsck', '--strict', '--no-dangling'], { env });
    assert.equal(fsck.status, 0, fsck.stderr.toString() + fsck.stdout.toString());
  });
});

describe('objects written as one pack', () => {
  test('writePack: git verify-pack accepts pack and index; cat-file reads every object; big and empty blobs too', async () => {
    const pending = new PendingObjects();
    const big = Buffer.alloc(200_000, 'x');
    const ids = [
      await pending.sink('blob', Buffer.from('packed\n')),
      await pending.sink('blob', Buffer.alloc(0)),
      await pending.sink('blob', big),
    ];
    const tree = await pending.sink('tree', serializeTree(ids.map((id, i) => ({ name: `f${i}`, mode: '100644', id }))));
    const who = { name: 'p', email: 'p@x', date: '1700000000 +0000' };
    const commit = await pending.sink('commit', serializeCommit({ tree, parents: [c1], author: who, committer: who, message: 'packed\n' }));
    const name = await writePack(bare, pending.objects);
    assert.match(name ?? '', /^pack-[0-9a-f]{40}$/);
    const verify = spawnSync('git', ['verify-pack', '-v', join(bare, 'objects', 'pack', `${name}.idx`)], { env });
    assert.equal(verify.status, 0, verify.stderr.toString());
    assert.equal(git(['cat-file', '-p', `${commit}:f0`]), 'packed');
    assert.equal(git(['cat-file', '-s', ids[2]]), String(big.length));
    assert.equal(git(['cat-file', '-t', ids[1]]), 'blob');
    git(['update-ref', 'refs/heads/packed', commit]);
    const fsck = spawnSync('git', ['--git-dir', bare, 'fsck', '--strict', '--no-dangling'], { env });
    assert.equal(fsck.status, 0, fsck.stderr.toString() + fsck.stdout.toString());
    assert.equal(await writePack(bare, new Map()), undefined);
  });
});
