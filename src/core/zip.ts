/**
 * Zip archives as builds and pipelines move them: artifacts are zipped straight from files (or small
 * in-memory files) into a stream (yazl), and zips are spooled to a file (a zip needs random access)
 * and read entry by entry (yauzl), one entry stream at a time, refusing entries that would land
 * outside the target folder. Unix modes survive both ways, so an executable stays executable.
 */
import { createReadStream, createWriteStream, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createRequire } from 'node:module';
import type * as Yauzl from 'yauzl';
import type * as Yazl from 'yazl';

// loaded at the first zip rather than at opsbox's start
const require = createRequire(import.meta.url);
let yauzlLib: typeof Yauzl | undefined;
let yazlLib: typeof Yazl | undefined;
const yauzl = () => (yauzlLib ??= require('yauzl') as typeof Yauzl);
const yazl = () => (yazlLib ??= require('yazl') as typeof Yazl);

export class ZipError extends Error {}

/** The archive as a stream that fails (rather than the process) when a file cannot be read. */
function outputOf(zip: Yazl.ZipFile): Readable {
  zip.end();
  const out = new PassThrough();
  zip.on('error', (err: Error) => out.destroy(err));
  zip.outputStream.pipe(out);
  return out;
}

/** A zip of the given files (path on disk, name in the archive) as a stream; nothing is buffered whole. */
export function zipFiles(files: { path: string; name: string }[]): Readable {
  const zip = new (yazl().ZipFile)();
  for (const f of files) {
    const st = statSync(f.path);
    if (st.isDirectory()) zip.addEmptyDirectory(f.name, { mode: st.mode, mtime: st.mtime });
    // opened when the archive reaches it, so a consumer that gives up early leaves no file open or failing
    else
      zip.addReadStreamLazy(f.name, { mode: st.mode, mtime: st.mtime, size: st.size }, (cb) => {
        const file = createReadStream(f.path);
        file.on('error', (err) => zip.emit('error', err));
        cb(null, file);
      });
  }
  return outputOf(zip);
}

/** A zip of small in-memory files (name → content), with a Unix mode per file where given (0o755 for a script). */
export function zipBuffers(files: Record<string, string | Buffer>, modes: Record<string, number> = {}): Readable {
  const zip = new (yazl().ZipFile)();
  for (const [name, body] of Object.entries(files))
    zip.addBuffer(
      Buffer.isBuffer(body) ? body : Buffer.from(body),
      name,
      modes[name] !== undefined ? { mode: 0o100000 | modes[name] } : {},
    );
  return outputOf(zip);
}

/** Writes a stream to a file (to give a zip the random access it needs). */
export async function spool(body: Readable, file: string) {
  mkdirSync(dirname(file), { recursive: true });
  await pipeline(body, createWriteStream(file));
}

export interface ZipEntry {
  /** Path inside the archive, '/'-separated (a folder's ends in '/'). */
  name: string;
  size: number;
  /** Unix permission bits, 0 when the archive has none. */
  mode: number;
}

/**
 * Calls `onFile` for every file of the zip file in turn, and `onFolder` for folder entries (skipped
 * without it); rejects with ZipError for a damaged archive, or with what a callback throws.
 */
export function readZipFile(
  file: string,
  onFile: (entry: ZipEntry, content: Readable) => Promise<void>,
  onFolder?: (entry: ZipEntry) => void,
): Promise<number> {
  return new Promise((ok, fail) => {
    yauzl().open(file, { lazyEntries: true, autoClose: true }, (err, zip) => {
      if (err || !zip) return fail(new ZipError(err?.message ?? 'not a zip archive'));
      let count = 0;
      zip.on('error', (e) => fail(new ZipError(e.message)));
      zip.on('end', () => ok(count));
      zip.on('entry', (entry: Yauzl.Entry) => {
        if (entry.fileName.endsWith('/')) {
          try {
            onFolder?.({ name: entry.fileName, size: 0, mode: 0 });
          } catch (fe) {
            zip.close();
            return fail(fe);
          }
          return zip.readEntry();
        }
        zip.openReadStream(entry, (e, stream) => {
          if (e || !stream) return fail(new ZipError(e?.message ?? 'unreadable entry'));
          const info = { name: entry.fileName, size: entry.uncompressedSize, mode: (entry.externalFileAttributes >>> 16) & 0o777 };
          onFile(info, stream).then(
            () => {
              count++;
              zip.readEntry();
            },
            (fe) => {
              zip.close();
              fail(fe);
            },
          );
        });
      });
      zip.readEntry();
    });
  });
}

/** readZipFile over a zip arriving as a stream (an S3 object), spooled to a temp file first. */
export async function readZipStream(body: Readable, onFile: (entry: ZipEntry, content: Readable) => Promise<void>): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'opsbox-zip-'));
  try {
    const file = join(dir, 'archive.zip');
    await spool(body, file);
    return await readZipFile(file, onFile);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Extracts a zip file into `dest`; rejects with ZipError for a damaged archive or an escaping entry. */
export function extractZip(file: string, dest: string): Promise<number> {
  const root = resolve(dest);
  mkdirSync(root, { recursive: true });
  return readZipFile(file, async (entry, content) => {
    const target = resolve(root, entry.name);
    if (target !== root && !target.startsWith(root + sep)) {
      content.destroy();
      throw new ZipError(`entry ${entry.name} is outside the archive root`);
    }
    mkdirSync(dirname(target), { recursive: true });
    try {
      await pipeline(content, createWriteStream(target, { mode: entry.mode || 0o644 }));
    } catch (err) {
      throw new ZipError(String(err));
    }
  });
}
