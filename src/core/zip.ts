/**
 * Zip archives as builds and pipelines move them: artifacts are zipped straight from files into a
 * stream (yazl), and source or artifact zips are spooled to a file (a zip needs random access) and
 * extracted entry by entry (yauzl), refusing entries that would land outside the target folder.
 * Unix modes survive both ways, so a script that was executable stays executable.
 */
import { createReadStream, createWriteStream, mkdirSync, statSync } from 'node:fs';
import { dirname, resolve, sep } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import yauzl from 'yauzl';
import yazl from 'yazl';

/** A zip of the given files (path on disk, name in the archive) as a stream; nothing is buffered whole. */
export function zipFiles(files: { path: string; name: string }[]): Readable {
  const zip = new yazl.ZipFile();
  for (const f of files) {
    const st = statSync(f.path);
    if (st.isDirectory()) zip.addEmptyDirectory(f.name, { mode: st.mode, mtime: st.mtime });
    else zip.addReadStream(createReadStream(f.path), f.name, { mode: st.mode, mtime: st.mtime, size: st.size });
  }
  zip.end();
  const out = new PassThrough();
  zip.outputStream.pipe(out);
  return out;
}

/** Writes a stream to a file (to give a zip the random access it needs). */
export async function spool(body: Readable, file: string) {
  mkdirSync(dirname(file), { recursive: true });
  await pipeline(body, createWriteStream(file));
}

export class ZipError extends Error {}

/** Extracts a zip file into `dest`; rejects with ZipError for a damaged archive or an escaping entry. */
export function extractZip(file: string, dest: string): Promise<number> {
  const root = resolve(dest);
  mkdirSync(root, { recursive: true });
  return new Promise((ok, fail) => {
    yauzl.open(file, { lazyEntries: true, autoClose: true }, (err, zip) => {
      if (err || !zip) return fail(new ZipError(err?.message ?? 'not a zip archive'));
      let count = 0;
      zip.on('error', (e) => fail(new ZipError(e.message)));
      zip.on('end', () => ok(count));
      zip.on('entry', (entry: yauzl.Entry) => {
        const target = resolve(root, entry.fileName);
        if (target !== root && !target.startsWith(root + sep)) {
          zip.close();
          return fail(new ZipError(`entry ${entry.fileName} is outside the archive root`));
        }
        if (entry.fileName.endsWith('/')) {
          mkdirSync(target, { recursive: true });
          return zip.readEntry();
        }
        zip.openReadStream(entry, (e, stream) => {
          if (e || !stream) return fail(new ZipError(e?.message ?? 'unreadable entry'));
          mkdirSync(dirname(target), { recursive: true });
          const mode = (entry.externalFileAttributes >>> 16) & 0o777;
          pipeline(stream, createWriteStream(target, { mode: mode || 0o644 }))
            .then(() => {
              count++;
              zip.readEntry();
            })
            .catch((we) => fail(new ZipError(String(we))));
        });
      });
      zip.readEntry();
    });
  });
}
