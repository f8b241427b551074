/**
 * The long-lived `git cat-file --batch` reader: its stdout parser fed every way a pipe can cut the
 * bytes, the tree-object parser against ls-tree, and the reader on a real bare repository —
 * concurrent requests, refs moving under it, a killed child restarted, close.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BatchParser, ObjectReader, parseTree, type GitObject } from '../../src/services/codecommit/objectReader.js';

const SHA_A = 'a'.repeat(40);
const SHA_B = 'b'.repeat(40);

/** Feeds `bytes` to a parser expecting `names`, cut into pieces of `step` bytes; returns what it emitted. */
function parse(names: string[], bytes: Buffer, step: number) {
  const out: (GitObject | undefined)[] = [];
  const p = new BatchParser((o) => out.push(o));
  for (const n of names) p.expect(n);
  for (let i = 0; i < bytes.length; i += step) p.push(bytes.subarray(i, i + step));
  return { out, waiting: p.waiting };
}

const answer = (id: string, type: string, content: Buffer) =>
  Buffer.concat([Buffer.from(`${id} ${type} ${content.length}\n`), content, Buffer.from('\n')]);

describe('BatchParser', () => {
  const binary = Buffer.from([0, 10, 255, 32, 10, 0x6d, 10]);
  const stream = Buffer.concat([
    answer(SHA_A, 'blob', Buffer.from('hello\n')),
    Buffer.from('refs/heads/nope missing\n'),
    answer(SHA_B, 'tree', Buffer.alloc(0)),
    // a missing name that holds a newline and looks like a header after it
    Buffer.from(`main:x\n${SHA_A} blob 3 missing\n`),
    answer(SHA_A, 'blob', binary),
    Buffer.from('abc ambiguous\n'),
    answer(SHA_B, 'commit', Buffer.from(`tree ${SHA_A}\n\nmsg missing\n`)),
  ]);
  const names = [SHA_A, 'refs/heads/nope', SHA_B, `main:x\n${SHA_A} blob 3`, 'main:bin', 'abc', 'HEAD'];

  for (const step of [1, 2, 3, 7, 64, stream.length])
    test(`answers in order, whatever the chunk size (${step} bytes at a time)`, () => {
      const { out, waiting } = parse(names, stream, step);
      assert.equal(waiting, 0);
      assert.equal(out.length, 7);
      assert.deepEqual(out[0], { id: SHA_A, type: 'blob', content: Buffer.from('hello\n') });
      assert.equal(out[1], undefined);
      assert.deepEqual(out[2], { id: SHA_B, type: 'tree', content: Buffer.alloc(0) });
      assert.equal(out[3], undefined);
      assert.deepEqual(out[4]?.content, binary);
      assert.equal(out[5], undefined);
      assert.equal(out[6]?.type, 'commit');
      assert.equal(out[6]?.content.toString(), `tree ${SHA_A}\n\nmsg missing\n`);
    });

  test('a partial answer waits for the rest', () => {
    const whole = answer(SHA_A, 'blob', Buffer.from('0123456789'));
    const { out, waiting } = parse([SHA_A], whole.subarray(0, whole.length - 1), 5);
    assert.equal(out.length, 0);
    assert.equal(waiting, 1);
  });

  test('output nobody asked for, or not in the protocol, throws', () => {
    assert.throws(() => parse([], Buffer.from(`${SHA_A} blob 1\nx\n`), 100), /without a request/);
    assert.throws(() => parse(['x'], Buffer.from('fatal: bad things\n'), 100), /unexpected answer/);
    assert.throws(() => parse([SHA_A], Buffer.from(`${SHA_A} blob 1\nxy`), 100), /not followed by a newline/);
  });
});

describe('ObjectReader on a bare repository', () => {
  let root: string;
  let bare: string;
  let blobId: string;
  let first: string;
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: '/nonexistent',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_AUTHOR_NAME: 't',
    GIT_AUTHOR_EMAIL: 't@x',
    GIT_COMMITTER_NAME: 't',
    GIT_COMMITTER_EMAIL: 't@x',
  };
  const git = (args: string[], input?: string) =>
    execFileSync('git', ['--git-dir', bare, ...args], { env, input })
      .toString()
      .trim();
  const readers: ObjectReader[] = [];
  const reader = (idleMs?: number) => {
    const r = new ObjectReader({
      spawn: () => spawn('git', ['--git-dir', bare, 'cat-file', '--batch', '-z'], { env, stdio: ['pipe', 'pipe', 'pipe'] }),
      idleMs,
    });
    readers.push(r);
    return r;
  };

  before(() => {
    root = mkdtempSync(join(tmpdir(), 'objreader-'));
    bare = join(root, 'r.git');
    execFileSync('git', ['init', '-q', '--bare', bare], { env });
    blobId = git(['hash-object', '-w', '--stdin'], 'content\n');
    const exe = git(['hash-object', '-w', '--stdin'], '#!/bin/sh\n');
    const sub = git(['mktree'], `100644 blob ${blobId}\tinner.txt\n`);
    const tree = git(
      ['mktree'],
      `100644 blob ${blobId}\ta.txt\n100755 blob ${exe}\trun.sh\n120000 blob ${blobId}\tlink\n040000 tree ${sub}\tdir\n160000 commit ${'c'.repeat(40)}\tmod\n100644 blob ${blobId}\tünï code.txt\n`,
    );
    first = git(['commit-tree', tree, '-m', 'one']);
    git(['update-ref', 'refs/heads/main', first]);
  });
  after(() => {
    for (const r of readers) r.close();
    rmSync(root, { recursive: true, force: true });
  });

  test('parseTree reads the binary tree format as ls-tree lists it', async () => {
    const r = reader();
    const obj = await r.read(`${first}^{tree}`);
    assert.equal(obj?.type, 'tree');
    const entries = parseTree(obj!.content);
    const listed = git(['ls-tree', '-z', first])
      .split('\0')
      .filter(Boolean)
      .map((rec) => {
        const [meta, name] = rec.split('\t');
        const [mode, type, id] = meta.split(' ');
        return { name, mode, type, id };
      });
    assert.deepEqual(entries, listed);
    assert.deepEqual(await r.tree(obj!.id), listed);
  });

  test('blobs by id, refs, <rev>:<path>, and missing names (also with a newline)', async () => {
    const r = reader();
    assert.equal((await r.read(blobId))?.content.toString(), 'content\n');
    assert.equal((await r.read('refs/heads/main'))?.id, first);
    assert.equal((await r.read('refs/heads/main:dir/inner.txt'))?.id, blobId);
    assert.equal((await r.read('refs/heads/main:ünï code.txt'))?.id, blobId);
    assert.equal(await r.read('refs/heads/nope'), undefined);
    assert.equal(await r.read('refs/heads/main:no\nsuch'), undefined);
    assert.equal(await r.read('d'.repeat(40)), undefined);
    assert.equal(await r.read('has\0nul'), undefined);
  });

  test('200 concurrent requests share one child and come back matched', async () => {
    const r = reader();
    const names = Array.from({ length: 200 }, (_, i) =>
      i % 3 === 0 ? blobId : i % 3 === 1 ? 'refs/heads/main' : `refs/heads/missing-${i}`,
    );
    const got = await Promise.all(names.map((n) => r.read(n)));
    got.forEach((o, i) => assert.equal(o?.id, i % 3 === 0 ? blobId : i % 3 === 1 ? first : undefined, String(i)));
    assert.equal(r.starts, 1);
  });

  test('a ref moved by another git process is seen without a restart', async () => {
    const r = reader();
    assert.equal((await r.read('refs/heads/main^{commit}'))?.id, first);
    const second = git(['commit-tree', `${first}^{tree}`, '-p', first, '-m', 'two']);
    git(['update-ref', 'refs/heads/main', second, first]);
    assert.equal((await r.read('refs/heads/main^{commit}'))?.id, second);
    git(['pack-refs', '--all']);
    git(['update-ref', 'refs/heads/main', first, second]);
    assert.equal((await r.read('refs/heads/main^{commit}'))?.id, first);
    assert.equal(r.starts, 1);
  });

  test('a killed child is restarted and its unanswered requests are sent again', async () => {
    const r = reader();
    await r.read(blobId);
    const child = (r as unknown as { child: { kill(sig: string): void } }).child;
    child.kill('SIGKILL');
    const pending = Promise.all([r.read(blobId), r.read('refs/heads/main')]);
    const [a, b] = await pending;
    assert.equal(a?.id, blobId);
    assert.equal(b?.id, first);
    assert.equal(r.starts, 2);
  });

  test('close fails what is pending; the next read starts a new child; idle children close', async () => {
    const r = reader(50);
    const p = r.read(blobId);
    r.close();
    await assert.rejects(p, /closed/);
    assert.equal((await r.read(blobId))?.id, blobId);
    await new Promise((ok) => setTimeout(ok, 150));
    assert.equal((r as unknown as { child?: unknown }).child, undefined);
    assert.equal((await r.read(blobId))?.id, blobId);
    assert.equal(r.starts, 3);
  });

  test('a repository that is gone: reads fail instead of hanging', async () => {
    const r = new ObjectReader({
      spawn: () =>
        spawn('git', ['--git-dir', join(root, 'gone.git'), 'cat-file', '--batch', '-z'], { env, stdio: ['pipe', 'pipe', 'pipe'] }),
    });
    readers.push(r);
    await assert.rejects(r.read(blobId), /cat-file exited/);
  });
});
