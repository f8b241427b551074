/**
 * Refs without a process per call. Reading: a ref is its loose file under the git directory, else
 * its line in packed-refs (parsed once per change of that file) — git's files backend, read the way
 * git reads it, exact (no rev-parse abbreviation rules). Writing: one long-lived
 * `git update-ref --stdin` per repository runs each compare-and-swap as its own transaction
 * (start / update <ref> <new> <old> / prepare / commit), so git itself takes the ref lock and checks
 * the old value. A failed transaction ends that child (update-ref dies on it); the next one starts
 * a new child.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setRef, ZERO } from './git.js';

const ID = /^[0-9a-f]{40}$|^[0-9a-f]{64}$/;

const packed = new Map<string, { key: string; refs: Map<string, string> }>();

function packedRefs(gitDir: string): Map<string, string> {
  const file = join(gitDir, 'packed-refs');
  const st = statSync(file, { throwIfNoEntry: false });
  if (!st) {
    packed.delete(gitDir);
    return new Map();
  }
  const key = `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
  const hit = packed.get(gitDir);
  if (hit?.key === key) return hit.refs;
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    /* removed meanwhile: no packed refs */
  }
  const refs = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (!line || line[0] === '#' || line[0] === '^') continue;
    const sp = line.indexOf(' ');
    refs.set(line.slice(sp + 1), line.slice(0, sp));
  }
  packed.set(gitDir, { key, refs });
  return refs;
}

/** Forgets a repository's cached packed-refs (it was deleted). */
export function forgetRefs(gitDir: string) {
  packed.delete(gitDir);
}

/**
 * The object id a full ref name (refs/heads/x, refs/tags/x) points to, following symbolic refs;
 * undefined when there is no such ref. The name must already be a valid ref name.
 */
export async function readRef(gitDir: string, ref: string): Promise<string | undefined> {
  return readRefSync(gitDir, ref, 0);
}

/**
 * Synchronous on purpose: a ref file is 41 bytes in the page cache, and open+read+close on the
 * event loop costs a few microseconds where fs/promises' readFile costs four thread-pool round
 * trips (this was most of GetBranch's time under load).
 */
function readRefSync(gitDir: string, ref: string, depth: number): string | undefined {
  if (depth > 5 || !ref.startsWith('refs/') || ref.includes('..')) return undefined;
  let text: string | undefined;
  try {
    text = readFileSync(join(gitDir, ref), 'utf8').trim();
  } catch (err) {
    // EISDIR: refs/heads/a is a folder of refs (a/b), not a ref; ENOENT/ENOTDIR: not loose;
    // ENAMETOOLONG: a name no file system holds (a 300-character specifier) is no loose ref either
    if (!['ENOENT', 'ENOTDIR', 'EISDIR', 'ENAMETOOLONG'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
  }
  if (text === undefined) return packedRefs(gitDir).get(ref);
  if (text.startsWith('ref: ')) return readRefSync(gitDir, text.slice(5).trim(), depth + 1);
  // a loose file being written is never seen half-written (git renames the lock into place)
  return ID.test(text) ? text : undefined;
}

/** One repository's `git update-ref --stdin`; callers serialize (they hold the repository lock). */
export class RefUpdater {
  private child?: ChildProcess;
  private out = '';
  private waiter?: (line: string | undefined) => void;
  private idle?: NodeJS.Timeout;

  constructor(
    private readonly spawnUpdater: () => ChildProcess,
    /** Reads a ref's current value (to settle a transaction whose answer was cut off). */
    private readonly current: (ref: string) => Promise<string | undefined>,
    private readonly idleMs = 10_000,
  ) {}

  /** Atomically moves `ref` from `old` (ZERO: must not exist) to `next` (ZERO: delete); false if it was not at `old`. */
  async update(ref: string, next: string, old: string): Promise<boolean> {
    return (await this.updateMany([{ ref, next, old }]))[0];
  }

  /**
   * Several compare-and-swaps in one go. Those whose old value is not the ref's are refused
   * without asking git; the rest go as one transaction (git locks every ref, checks every old
   * value, then moves them all — or none): one round trip, three lines back. If that is refused
   * anyway, or a ref appears twice, each is run as its own transaction, still written together:
   * update-ref dies on the first that fails, the ones before it are done, the failed one is
   * answered from the ref itself when it got past prepare (the child was killed, not refused),
   * and the rest go to a new child.
   */
  async updateMany(updates: { ref: string; next: string; old: string }[]): Promise<boolean[]> {
    const bad = (u: { ref: string; next: string; old: string }) => /[\s\0]/.test(u.ref) || !ID.test(u.next) || !ID.test(u.old);
    const line = (u: { ref: string; next: string; old: string }) =>
      u.next === ZERO ? `delete ${u.ref} ${u.old}\n` : `update ${u.ref} ${u.next} ${u.old}\n`;
    // The callers hold the repository lock, so the refs cannot move under us: an update whose old
    // value is not the current one (after the batch's earlier updates) is refused here, without
    // sending it — a refusal would end the child. Commits racing for one branch mostly end here.
    const value = new Map<string, string>();
    const results: (boolean | undefined)[] = [];
    const send: { ref: string; next: string; old: string }[] = [];
    for (const u of updates) {
      const cur = value.get(u.ref) ?? (bad(u) ? undefined : ((await this.current(u.ref)) ?? ZERO));
      if (bad(u) || cur !== u.old) results.push(false);
      else {
        results.push(undefined);
        value.set(u.ref, u.next);
        send.push(u);
      }
    }
    const sent = await this.transactions(send, line);
    return results.map((r) => r ?? sent.shift()!);
  }

  private async transactions(
    updates: { ref: string; next: string; old: string }[],
    line: (u: { ref: string; next: string; old: string }) => string,
  ): Promise<boolean[]> {
    if (updates.length === 0) return [];
    if (updates.length > 1 && new Set(updates.map((u) => u.ref)).size === updates.length) {
      const lines = await this.send(`start\n${updates.map(line).join('')}prepare\ncommit\n`, 3);
      if (lines.join('\n') === 'start: ok\nprepare: ok\ncommit: ok') return updates.map(() => true);
      if (lines[1] === 'prepare: ok') {
        // cut off after prepare: what happened is in the refs themselves
        return Promise.all(updates.map(async (u) => (await this.current(u.ref)) === (u.next === ZERO ? undefined : u.next)));
      }
    }
    const results: boolean[] = [];
    let rest = updates;
    while (rest.length) {
      const lines = await this.send(rest.map((u) => `start\n${line(u)}prepare\ncommit\n`).join(''), 3 * rest.length);
      let done = 0;
      while (done < rest.length && lines.slice(3 * done, 3 * done + 3).join('\n') === 'start: ok\nprepare: ok\ncommit: ok') done++;
      for (let i = 0; i < done; i++) results.push(true);
      rest = rest.slice(done);
      if (rest.length) {
        // this one ended the child: refused at prepare, or cut off after it (child killed), when
        // only the ref itself can say whether it moved
        const u = rest[0];
        const prepared = lines[3 * done + 1] === 'prepare: ok';
        results.push(prepared && (await this.current(u.ref)) === (u.next === ZERO ? undefined : u.next));
        rest = rest.slice(1);
      }
    }
    return results;
  }

  /** Writes `commands` to the child (started if needed) and collects `n` answer lines, or fewer if it ends. */
  private async send(commands: string, n: number): Promise<string[]> {
    clearTimeout(this.idle);
    const child = this.child ?? this.start();
    setRef(child, true);
    const reply = this.lines(child, n);
    child.stdin!.write(commands);
    const lines = await reply;
    this.scheduleIdle();
    return lines;
  }

  close() {
    clearTimeout(this.idle);
    const child = this.child;
    this.child = undefined;
    if (child) {
      child.stdin?.end();
      child.kill();
    }
  }

  /** The next `n` stdout lines, or fewer when the child ended first. */
  private async lines(child: ChildProcess, n: number): Promise<string[]> {
    const got: string[] = [];
    while (got.length < n) {
      const line = await new Promise<string | undefined>((resolve) => {
        const nl = this.out.indexOf('\n');
        if (nl >= 0) {
          const l = this.out.slice(0, nl);
          this.out = this.out.slice(nl + 1);
          return resolve(l);
        }
        if (this.child !== child) return resolve(undefined);
        this.waiter = resolve;
      });
      if (line === undefined) return got;
      got.push(line);
    }
    return got;
  }

  private start(): ChildProcess {
    const child = this.spawnUpdater();
    this.child = child;
    this.out = '';
    const wake = () => {
      const w = this.waiter;
      this.waiter = undefined;
      if (!w) return;
      const nl = this.out.indexOf('\n');
      if (nl >= 0) {
        const l = this.out.slice(0, nl);
        this.out = this.out.slice(nl + 1);
        w(l);
      } else if (this.child !== child) w(undefined);
      else this.waiter = w;
    };
    child.stdout!.on('data', (d: Buffer) => {
      if (this.child !== child) return;
      this.out += d.toString('utf8');
      wake();
    });
    child.stderr!.resume();
    child.stdin!.on('error', () => {});
    const gone = () => {
      if (this.child !== child) return;
      this.child = undefined;
      wake();
    };
    child.on('error', gone);
    child.on('close', gone);
    return child;
  }

  private scheduleIdle() {
    const child = this.child;
    if (!child) return;
    this.idle = setTimeout(() => this.child === child && this.close(), this.idleMs);
    this.idle.unref();
    setRef(child, false);
  }
}
