/**
 * Zip helpers for artifacts: building a zip from in-memory files (tests, the S3 deploy of a
 * single object) and walking the entries of a zip stream (S3 deploy with Extract).
 */
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import yauzl from 'yauzl';
import yazl from 'yazl';

export function zipOf(files: Record<string, string | Buffer>): Readable {
  const zip = new yazl.ZipFile();
  for (const [name, body] of Object.entries(files)) zip.addBuffer(Buffer.isBuffer(body) ? body : Buffer.from(body), name);
  zip.end();
  return zip.outputStream as unknown as Readable;
}

/** Calls `onFile` for every file of the zip, one at a time, with a stream of its contents. */
export async function eachZipEntry(body: Readable, onFile: (path: string, size: number, content: Readable) => Promise<void>) {
  const dir = mkdtempSync(join(tmpdir(), 'opsbox-cp-'));
  const file = join(dir, 'artifact.zip');
  try {
    await pipeline(body, createWriteStream(file));
    const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
      yauzl.open(file, { lazyEntries: true }, (err, z) => (err || !z ? reject(err ?? new Error('bad zip')) : resolve(z))),
    );
    await new Promise<void>((resolve, reject) => {
      zip.on('error', reject);
      zip.on('end', () => resolve());
      zip.on('entry', (entry: yauzl.Entry) => {
        if (entry.fileName.endsWith('/')) return zip.readEntry();
        zip.openReadStream(entry, (err, stream) => {
          if (err || !stream) return reject(err ?? new Error('unreadable zip entry'));
          onFile(entry.fileName, entry.uncompressedSize, stream).then(() => zip.readEntry(), reject);
        });
      });
      zip.readEntry();
    });
    zip.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
