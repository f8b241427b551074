/**
 * Writing git objects in-process, as git writes loose objects: id = SHA-1 of "<type> <size>\0" +
 * content, zlib-deflated (git's core.looseCompression default, level 1) into a temporary file in
 * objects/xx/, then renamed to its final name (git's core.createObject=rename), so a reader never
 * sees half an object; two writers of one object write the same bytes, so either rename may win.
 * An object already there is only freshened (its mtime touched, as git does, so gc's prune grace
 * period restarts). Tree and commit bodies are serialized here too; nothing is run.
 *
 * Creating a file is the expensive part (hundreds of microseconds of kernel time on a busy VM
 * disk), so it stays off the event loop (fs/promises); the existence check is a synchronous stat,
 * small objects are deflated inline, and each objects/xx folder is made once per process.
 *
 * Objects can also be collected (PendingObjects) and written together as one pack (writePack):
 * two files for any number of objects — how the API commits that wait for the repository lock
 * together get their blobs, trees and commits into the repository.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, renameSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { crc32, deflate as deflateCb, deflateSync } from 'node:zlib';

const deflate = promisify(deflateCb);

export type WritableType = 'blob' | 'tree' | 'commit';

/** The id git gives `content` as an object of `type`. */
export function objectId(type: WritableType, content: Buffer): string {
  return createHash('sha1').update(`${type} ${content.length}\0`).update(content).digest('hex');
}

const SMALL = 64 * 1024;
let tmpSeq = 0;
/** objects/xx folders known to exist (bounded: forgotten wholesale when large). */
const dirs = new Set<string>();

/** Writes the object (if it is not there yet) and returns its id. */
export async function writeObject(gitDir: string, type: WritableType, content: Buffer): Promise<string> {
  const id = objectId(type, content);
  const dir = join(gitDir, 'objects', id.slice(0, 2));
  const file = join(dir, id.slice(2));
  if (statSync(file, { throwIfNoEntry: false })) {
    const now = new Date();
    try {
      utimesSync(file, now, now);
    } catch {
      /* read-only or just pruned: the rename below would not help either */
    }
    return id;
  }
  const raw = Buffer.concat([Buffer.from(`${type} ${content.length}\0`), content]);
  const z = raw.length <= SMALL ? deflateSync(raw, { level: 1 }) : await deflate(raw, { level: 1 });
  const tmp = join(dir, `tmp_obj_${process.pid}_${tmpSeq++}`);
  if (!dirs.has(dir)) {
    await mkdir(dir, { recursive: true });
    if (dirs.size > 100_000) dirs.clear();
    dirs.add(dir);
  }
  try {
    await writeFile(tmp, z, { mode: 0o444, flag: 'wx' });
  } catch (err) {
    // the folder went away (repository deleted and made again): make it and try once more
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    await mkdir(dir, { recursive: true });
    await writeFile(tmp, z, { mode: 0o444, flag: 'wx' });
  }
  await rename(tmp, file);
  return id;
}

/** Where a commit's new objects go: written now (writeObject), or collected for a pack. */
export type ObjectSink = (type: WritableType, content: Buffer) => Promise<string>;

/** Objects collected for one pack; `sink` computes ids and keeps the contents. */
export class PendingObjects {
  readonly objects = new Map<string, { type: WritableType; content: Buffer }>();
  readonly sink: ObjectSink = (type, content) => {
    const id = objectId(type, content);
    this.objects.set(id, { type, content });
    return Promise.resolve(id);
  };
}

const PACK_TYPE: Record<WritableType, number> = { commit: 1, tree: 2, blob: 3 };

/**
 * Writes `objects` as one pack (version 2, whole objects, no deltas) and its index (version 2) in
 * objects/pack, named after the pack's checksum as git names them. The pack is renamed into place
 * before its index: git finds packs through their .idx, so a visible index always has its pack.
 * git itself finds a pack written after it started (it rescans on a missing object).
 */
export async function writePack(
  gitDir: string,
  objects: Map<string, { type: WritableType; content: Buffer }>,
): Promise<string | undefined> {
  // (async only for deflating large objects in the thread pool)
  if (objects.size === 0) return undefined;
  const parts: Buffer[] = [];
  const head = Buffer.alloc(12);
  head.write('PACK', 0, 'latin1');
  head.writeUInt32BE(2, 4);
  head.writeUInt32BE(objects.size, 8);
  parts.push(head);
  let offset = 12;
  const entries: { id: string; offset: number; crc: number }[] = [];
  for (const [id, o] of objects) {
    const bytes: number[] = [];
    let size = o.content.length;
    let c = (PACK_TYPE[o.type] << 4) | (size & 15);
    size = Math.floor(size / 16);
    while (size > 0) {
      bytes.push(c | 0x80);
      c = size & 0x7f;
      size = Math.floor(size / 128);
    }
    bytes.push(c);
    const hdr = Buffer.from(bytes);
    const z = o.content.length <= SMALL ? deflateSync(o.content, { level: 1 }) : await deflate(o.content, { level: 1 });
    if (offset >= 2 ** 31) throw new Error('pack too large for 32-bit offsets');
    entries.push({ id, offset, crc: crc32(z, crc32(hdr)) });
    parts.push(hdr, z);
    offset += hdr.length + z.length;
  }
  const packSum = createHash('sha1');
  for (const p of parts) packSum.update(p);
  const checksum = packSum.digest();
  parts.push(checksum);

  entries.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const n = entries.length;
  const idx = Buffer.alloc(8 + 256 * 4 + n * (20 + 4 + 4) + 20);
  idx.writeUInt32BE(0xff744f63, 0);
  idx.writeUInt32BE(2, 4);
  const fanout = new Array<number>(256).fill(0);
  for (const e of entries) fanout[parseInt(e.id.slice(0, 2), 16)]++;
  for (let i = 0, sum = 0; i < 256; i++) idx.writeUInt32BE((sum += fanout[i]), 8 + i * 4);
  let pos = 8 + 256 * 4;
  for (const e of entries) pos += idx.write(e.id, pos, 'hex');
  for (const e of entries) pos = idx.writeUInt32BE(e.crc >>> 0, pos);
  for (const e of entries) pos = idx.writeUInt32BE(e.offset, pos);
  checksum.copy(idx, pos);
  const idxFile = Buffer.concat([idx, createHash('sha1').update(idx).digest()]);

  // synchronous: the caller holds the repository lock, which every waiting commit needs back
  // soon; two files written without giving the event loop away keep that section short
  const dir = join(gitDir, 'objects', 'pack');
  const name = `pack-${checksum.toString('hex')}`;
  const tmp = join(dir, `tmp_pack_${process.pid}_${tmpSeq++}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(tmp, Buffer.concat(parts), { mode: 0o444, flag: 'wx' });
  renameSync(tmp, join(dir, `${name}.pack`));
  writeFileSync(tmp + '.idx', idxFile, { mode: 0o444, flag: 'wx' });
  renameSync(tmp + '.idx', join(dir, `${name}.idx`));
  return name;
}

export interface TreeItem {
  name: string;
  /** As ls-tree prints it or shorter: 100644, 100755, 120000, 160000, 040000/40000. */
  mode: string;
  id: string;
}

/**
 * A tree object's body: entries sorted as git sorts them (by name bytes, a tree's name compared
 * as if it ended in "/"), each "<mode> <name>\0<raw id>", modes without leading zeros.
 */
export function serializeTree(items: TreeItem[]): Buffer {
  const keyed = items.map((it) => {
    const mode = it.mode.replace(/^0+/, '');
    const name = Buffer.from(it.name, 'utf8');
    return { mode, name, id: it.id, key: mode === '40000' ? Buffer.concat([name, Buffer.from('/')]) : name };
  });
  keyed.sort((a, b) => Buffer.compare(a.key, b.key));
  const parts: Buffer[] = [];
  for (const k of keyed) parts.push(Buffer.from(`${k.mode} `), k.name, Buffer.from([0]), Buffer.from(k.id, 'hex'));
  return Buffer.concat(parts);
}

const crud = (c: string) => c <= ' ' || '.,:;<>"\\\''.includes(c);

/** An ident part as git writes it: no crud at either end, no newline or angle bracket inside. */
export function identPart(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && crud(s[a])) a++;
  while (b > a && crud(s[b - 1])) b--;
  return s.slice(a, b).replace(/[\n<>]/g, '');
}

export interface CommitFields {
  tree: string;
  parents: string[];
  author: { name: string; email: string; date: string };
  committer: { name: string; email: string; date: string };
  /** Kept byte for byte, as commit-tree keeps what it reads on stdin. */
  message: string;
}

export function serializeCommit(c: CommitFields): Buffer {
  const who = (p: CommitFields['author']) => `${identPart(p.name)} <${identPart(p.email)}> ${p.date}`;
  let text = `tree ${c.tree}\n`;
  for (const p of c.parents) text += `parent ${p}\n`;
  text += `author ${who(c.author)}\ncommitter ${who(c.committer)}\n\n${c.message}`;
  return Buffer.from(text, 'utf8');
}
