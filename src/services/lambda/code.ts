/**
 * Deployment packages unpacked for running: each package (by its SHA-256) is extracted once under
 * <dataDir>/lambda/code/<sha>/, into a temporary folder renamed into place when complete, so a
 * crash mid-extraction never leaves a half package that looks whole.
 */
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { BlobStore } from '../../core/blobs.js';
import { extractZip, spool } from '../../core/zip.js';

export class CodeCache {
  private readonly root: string;
  private pending = new Map<string, Promise<string>>();

  constructor(
    dataDir: string,
    private blobs: BlobStore,
  ) {
    this.root = join(dataDir, 'lambda', 'code');
    mkdirSync(this.root, { recursive: true });
  }

  dirOf(shaHex: string) {
    return join(this.root, shaHex);
  }

  /** The folder holding the unpacked package; throws when the blob is not a zip. */
  unpack(blobId: string, shaHex: string): Promise<string> {
    const dir = this.dirOf(shaHex);
    if (existsSync(dir)) return Promise.resolve(dir);
    let p = this.pending.get(shaHex);
    if (!p) {
      p = this.extract(blobId, dir).finally(() => this.pending.delete(shaHex));
      this.pending.set(shaHex, p);
    }
    return p;
  }

  private async extract(blobId: string, dir: string) {
    const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
    const zip = `${tmp}.zip`;
    try {
      await spool(this.blobs.read(blobId), zip);
      await extractZip(zip, tmp);
      renameSync(tmp, dir);
      return dir;
    } finally {
      rmSync(zip, { force: true });
      rmSync(tmp, { recursive: true, force: true });
    }
  }
}
