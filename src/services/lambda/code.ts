/**
 * Deployment packages unpacked for running: each package (by its SHA-256) is extracted once under
 * <dataDir>/lambda/code/<sha>/, into a temporary folder renamed into place when complete, so a
 * crash mid-extraction never leaves a half package that looks whole.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { Scope } from '../../core/arn.js';
import type { BlobStore } from '../../core/blobs.js';
import type { AwsError } from '../../core/errors.js';
import { extractZip, spool } from '../../core/zip.js';
import type { ServiceEnv } from '../../gateway/service.js';
import { invalidParameter } from './store.js';

/** Where a function's or layer's zip comes from: inline bytes or an S3 object. */
export interface PackageSource {
  ZipFile?: Buffer;
  S3Bucket?: string;
  S3Key?: string;
  S3ObjectVersion?: string;
}

/**
 * Stores a deployment package (a function's code or a layer's content) as a blob, checks that it
 * unpacks, and answers its blob id, SHA-256 (base64, as CodeSha256) and size.
 */
export async function storePackage(env: ServiceEnv, code: CodeCache, scope: Scope, c: PackageSource, what: 'function' | 'layer') {
  let body: Readable;
  if (c.ZipFile) body = Readable.from([c.ZipFile]);
  else if (c.S3Bucket && c.S3Key) {
    try {
      const obj = await env.services.call('s3', 'GetObject', { Bucket: c.S3Bucket, Key: c.S3Key, VersionId: c.S3ObjectVersion }, scope);
      body = obj.Body as Readable;
    } catch (err) {
      const e = err as AwsError;
      throw invalidParameter(`Error occurred while GetObject. S3 Error Code: ${e.code}. S3 Error Message: ${e.message}`);
    }
  } else throw invalidParameter(`Please provide a source for ${what} code.`);
  const hash = createHash('sha256');
  const blob = await env.blobs.write(body, { onChunk: (chunk) => hash.update(chunk) });
  const sha = hash.digest();
  try {
    await code.unpack(blob.id, sha.toString('hex'));
  } catch {
    env.blobs.delete(blob.id);
    throw invalidParameter('Could not unzip uploaded file. Please check your file, then try to upload again.');
  }
  return { blobId: blob.id, sha256: sha.toString('base64'), size: blob.size };
}

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
