/**
 * Reading git objects without a process per call. Each repository gets one long-lived
 * `git cat-file --batch -z`: requests (an object id, a full ref name, `<rev>^{commit}` or
 * `<rev>:<path>` — anything rev-parse understands) are written NUL-terminated to its stdin, and its
 * stdout answers them in order, `<id> <type> <size>\n<content>\n` or `<name> missing\n`.
 * Concurrent callers share the child: requests queue, answers are matched to them in order.
 *
 * cat-file re-reads refs from disk on every lookup and rescans packs when an object is not
 * found, so pushes, ref updates and gc by other git processes are seen without restarting it.
 * A child that dies is restarted (its unanswered requests are sent again, once); one idle for
 * `idleMs` is closed, and so is every child when its repository is deleted or the server stops.
 * Trees and commits are immutable, so the last few thousand read are kept, parsed.
 */
import type { ChildProcess } from 'node:child_process';
import { setRef } from './git.js';

export type ObjectType = 'blob' | 'tree' | 'commit' | 'tag';

export interface GitObject {
  id: string;
  type: ObjectType;
  content: Buffer;
}

/** One entry of a tree object; `mode` as ls-tree prints it (040000 for a tree). */
export interface TreeEntry {
  name: string;
  mode: string;
  type: 'blob' | 'tree' | 'commit';
  id: string;
}

const HEADER = /^([0-9a-f]{40}|[0-9a-f]{64}) (blob|tree|commit|tag) (\d+)$/;
const LF = 10;
const EMPTY: Buffer = Buffer.alloc(0);

/**
 * The stdout side of `cat-file --batch`, as a state machine over chunks: for each expected request
 * name (in the order they were sent) it emits the object, or undefined for `<name> missing` /
 * `<name> ambiguous`. The name is known, so a missing line is recognized even when the name itself
 * holds a newline. Large contents are copied once into a buffer of their announced size.
 */
export class BatchParser {
  private readonly names: string[] = [];
  private head: Buffer = EMPTY;
  private body?: { id: string; type: ObjectType; content: Buffer; filled: number };

  constructor(private readonly emit: (obj: GitObject | undefined) => void) {}

  /** Registers the next request's name (call before its answer can arrive). */
  expect(name: string) {
    this.names.push(name);
  }

  get waiting() {
    return this.names.length;
  }

  /** Forgets expected names and partial data (after the child died). */
  reset() {
    this.names.length = 0;
    this.head = EMPTY;
    this.body = undefined;
  }

  /** Feeds stdout bytes; throws on output that is not an answer to the expected request. */
  push(chunk: Buffer) {
    let data: Buffer = chunk;
    for (;;) {
      if (this.body) {
        const b = this.body;
        const n = Math.min(b.content.length - b.filled, data.length);
        if (n > 0) {
          data.copy(b.content, b.filled, 0, n);
          b.filled += n;
          data = data.subarray(n);
        }
        if (b.filled < b.content.length || !data.length) return;
        if (data[0] !== LF) throw new Error('cat-file: object not followed by a newline');
        data = data.subarray(1);
        this.body = undefined;
        this.names.shift();
        this.emit({ id: b.id, type: b.type, content: b.content });
        continue;
      }
      if (data.length) this.head = this.head.length ? Buffer.concat([this.head, data]) : data;
      data = EMPTY;
      const step = this.answer();
      if (step === 'wait') return;
      if (step === 'body') {
        data = this.head;
        this.head = EMPTY;
      }
    }
  }

  /** Takes one answer off the front of `head`: a missing line (done), an object header (body), or not yet (wait). */
  private answer(): 'wait' | 'done' | 'body' {
    const head = this.head;
    if (!head.length) return 'wait';
    const name = this.names[0];
    if (name === undefined) throw new Error(`cat-file: output without a request: ${head.subarray(0, 80).toString('latin1')}`);
    let partial = false;
    for (const word of [' missing\n', ' ambiguous\n']) {
      const line = Buffer.from(name + word, 'utf8');
      const n = Math.min(line.length, head.length);
      if (head.compare(line, 0, n, 0, n) !== 0) continue;
      if (head.length < line.length) {
        partial = true;
        continue;
      }
      this.head = head.subarray(line.length);
      this.names.shift();
      this.emit(undefined);
      return 'done';
    }
    const nl = head.indexOf(LF);
    if (nl < 0) {
      if (partial || head.length <= 200) return 'wait';
      throw new Error(`cat-file: header too long: ${head.subarray(0, 80).toString('latin1')}`);
    }
    const m = HEADER.exec(head.toString('latin1', 0, nl));
    if (!m) {
      if (partial) return 'wait';
      throw new Error(`cat-file: unexpected answer for ${JSON.stringify(name)}: ${head.toString('latin1', 0, Math.min(nl, 120))}`);
    }
    this.body = { id: m[1], type: m[2] as ObjectType, content: Buffer.allocUnsafe(Number(m[3])), filled: 0 };
    this.head = head.subarray(nl + 1);
    return 'body';
  }
}

/** Parses a tree object: `<mode> <name>\0<raw id>` repeated; idBytes is 20 (SHA-1) or 32. */
export function parseTree(content: Buffer, idBytes = 20): TreeEntry[] {
  const out: TreeEntry[] = [];
  let i = 0;
  while (i < content.length) {
    const sp = content.indexOf(0x20, i);
    const nul = content.indexOf(0, sp + 1);
    if (sp < 0 || nul < 0 || nul + 1 + idBytes > content.length) throw new Error('malformed tree object');
    const raw = content.toString('latin1', i, sp);
    const mode = raw.padStart(6, '0');
    const type = mode === '040000' ? 'tree' : mode === '160000' ? 'commit' : 'blob';
    out.push({ name: content.toString('utf8', sp + 1, nul), mode, type, id: content.toString('hex', nul + 1, nul + 1 + idBytes) });
    i = nul + 1 + idBytes;
  }
  return out;
}

interface Pending {
  name: string;
  resolve(o: GitObject | undefined): void;
  reject(e: Error): void;
  retried: boolean;
}

/** A small LRU of parsed immutable objects (trees and commits), bounded by their content bytes. */
class ObjectCache {
  private map = new Map<string, { obj: GitObject; tree?: TreeEntry[] }>();
  private bytes = 0;
  constructor(private readonly maxBytes: number) {}

  get(id: string) {
    const e = this.map.get(id);
    if (e) {
      this.map.delete(id);
      this.map.set(id, e);
    }
    return e;
  }

  set(id: string, e: { obj: GitObject; tree?: TreeEntry[] }) {
    if (e.obj.content.length > this.maxBytes / 8 || this.map.has(id)) return;
    this.map.set(id, e);
    this.bytes += e.obj.content.length + 100;
    for (const [k, v] of this.map) {
      if (this.bytes <= this.maxBytes) break;
      this.map.delete(k);
      this.bytes -= v.obj.content.length + 100;
    }
  }
}

export interface ReaderOptions {
  /** Starts `git cat-file --batch -z` for the repository. */
  spawn(): ChildProcess;
  /** Close the child after this long without requests (default 10 s). */
  idleMs?: number;
  cacheBytes?: number;
}

/** One repository's cat-file child and the queue of requests waiting on it. */
export class ObjectReader {
  private child?: ChildProcess;
  private parser: BatchParser;
  private pending: Pending[] = [];
  private idle?: NodeJS.Timeout;
  private stderr = '';
  private cache: ObjectCache;
  private closed = false;
  private corked = false;
  /** Trees being read and parsed, so concurrent walks share one read. */
  private trees = new Map<string, Promise<TreeEntry[] | undefined>>();
  /** Children started so far (restarts included); for tests and diagnostics. */
  starts = 0;

  constructor(private readonly opts: ReaderOptions) {
    this.cache = new ObjectCache(opts.cacheBytes ?? 16 * 2 ** 20);
    this.parser = new BatchParser((obj) => {
      const p = this.pending.shift();
      if (!p) return;
      if (obj && (obj.type === 'tree' || obj.type === 'commit')) this.cache.set(obj.id, { obj });
      p.resolve(obj);
      if (this.pending.length === 0) this.becameIdle();
    });
  }

  /** The object `name` names (id, ref, `<rev>^{commit}`, `<rev>:<path>`), or undefined when none. */
  read(name: string): Promise<GitObject | undefined> {
    if (name.includes('\0') || name === '') return Promise.resolve(undefined);
    const hit = this.cache.get(name);
    if (hit) return Promise.resolve(hit.obj);
    this.closed = false;
    return new Promise((resolve, reject) => {
      const p: Pending = { name, resolve, reject, retried: false };
      this.pending.push(p);
      this.send(p);
    });
  }

  /** A tree's entries, parsed (cached by id); undefined when `id` is not a tree. */
  tree(id: string): Promise<TreeEntry[] | undefined> {
    const hit = this.cache.get(id);
    if (hit?.tree) return Promise.resolve(hit.tree);
    let p = this.trees.get(id);
    if (!p) {
      p = (async () => {
        const obj = hit?.obj ?? (await this.read(id));
        if (!obj || obj.type !== 'tree') return undefined;
        const tree = parseTree(obj.content, obj.id.length / 2);
        const e = this.cache.get(obj.id);
        if (e) e.tree = tree;
        return tree;
      })();
      this.trees.set(id, p);
      void p.finally(() => this.trees.delete(id)).catch(() => {});
    }
    return p;
  }

  /** Stops the child; pending requests fail. The next read starts a new one. */
  close() {
    this.closed = true;
    clearTimeout(this.idle);
    this.idle = undefined;
    const child = this.child;
    this.child = undefined;
    this.parser.reset();
    const pending = this.pending.splice(0);
    for (const p of pending) p.reject(new Error('object reader closed'));
    if (child) {
      child.removeAllListeners('close');
      child.stdin?.end();
      child.kill();
    }
  }

  private send(p: Pending) {
    clearTimeout(this.idle);
    this.idle = undefined;
    const child = this.child ?? this.start();
    this.parser.expect(p.name);
    if (this.pending.length === 1) setRef(child, true);
    const stdin = child.stdin!;
    // requests from one turn of the event loop go out in one write
    if (!this.corked) {
      this.corked = true;
      stdin.cork();
      setImmediate(() => {
        this.corked = false;
        stdin.uncork();
      });
    }
    stdin.write(p.name + '\0');
  }

  private start(): ChildProcess {
    const child = this.opts.spawn();
    this.starts++;
    this.child = child;
    this.stderr = '';
    this.parser.reset();
    child.stdout!.on('data', (d: Buffer) => {
      if (this.child !== child) return;
      try {
        this.parser.push(d);
      } catch (err) {
        this.died(child, err as Error);
      }
    });
    child.stderr!.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString('utf8')).slice(-2000)));
    child.stdin!.on('error', () => {});
    child.on('error', (err) => this.died(child, err));
    child.on('close', (code) => this.died(child, new Error(`git cat-file exited ${code}: ${this.stderr.trim()}`)));
    return child;
  }

  /** The child is gone: requests it did not answer are sent once more to a new one, then fail. */
  private died(child: ChildProcess, err: Error) {
    if (this.child !== child) return;
    this.child = undefined;
    child.removeAllListeners('close');
    child.kill();
    this.parser.reset();
    const pending = this.pending.splice(0);
    for (const p of pending) {
      if (p.retried || this.closed) {
        p.reject(err);
        continue;
      }
      p.retried = true;
      this.pending.push(p);
      this.send(p);
    }
  }

  private becameIdle() {
    const child = this.child;
    if (!child) return;
    setRef(child, false);
    clearTimeout(this.idle);
    this.idle = setTimeout(() => {
      if (this.pending.length === 0 && this.child === child) this.close();
    }, this.opts.idleMs ?? 10_000);
    this.idle.unref();
  }
}
