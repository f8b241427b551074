/**
 * Large bodies (S3 objects and parts) live as files under <dataDir>/blobs, named by opsbox-generated
 * ids only — never by a user-supplied key — so no request can reach outside the data dir.
 * Writes stream through MD5 (and optionally other digests) into a temp file that is renamed into
 * place before the caller commits the row that references it.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, openSync, rmSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface StoredBlob {
  id: string;
  size: number;
  md5: Buffer;
}

export class BlobStore {
  private readonly root: string;
  private readonly tmp: string;

  constructor(dataDir: string) {
    this.root = join(dataDir, 'blobs');
    this.tmp = join(this.root, 'tmp');
    mkdirSync(this.tmp, { recursive: true });
  }

  private path(id: string) {
    if (!/^[0-9a-f-]{36}$/.test(id)) throw new Error(`invalid blob id ${id}`);
    return join(this.root, id.slice(0, 2), id);
  }

  /** Shard folders are made on first use: making all 256 at start costs more than the rest of startup. */
  private shardFor(id: string) {
    const shard = join(this.root, id.slice(0, 2));
    if (!this.shards.has(shard)) {
      mkdirSync(shard, { recursive: true });
      this.shards.add(shard);
    }
    return this.path(id);
  }
  private shards = new Set<string>();

  /** Streams `body` to a new blob. `limit` caps the size (the stream fails with a size error past it). */
  async write(body: Readable, opts: { onChunk?: (chunk: Buffer) => void } = {}): Promise<StoredBlob> {
    const id = randomUUID();
    const tmpPath = join(this.tmp, id);
    const md5 = createHash('md5');
    let size = 0;
    const tap = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        md5.update(chunk);
        opts.onChunk?.(chunk);
        size += chunk.length;
        cb(null, chunk);
      },
    });
    try {
      await pipeline(body, tap, createWriteStream(tmpPath));
      renameSync(tmpPath, this.shardFor(id));
    } catch (err) {
      rmSync(tmpPath, { force: true });
      throw err;
    }
    return { id, size, md5: md5.digest() };
  }

  /** Opens the file now, so a later overwrite that deletes the blob cannot cut this read short. */
  read(id: string, range?: { start: number; end: number }): Readable {
    return createReadStream(this.path(id), { fd: openSync(this.path(id), 'r'), highWaterMark: 512 * 1024, ...range });
  }

  size(id: string) {
    return statSync(this.path(id)).size;
  }

  delete(id: string) {
    rmSync(this.path(id), { force: true });
  }

  /** Concatenates blobs (multipart completion) into a new one, streaming. */
  async concat(ids: string[]): Promise<StoredBlob> {
    const read = (id: string) => this.read(id);
    async function* chunks() {
      for (const id of ids) yield* read(id);
    }
    const { Readable } = await import('node:stream');
    return this.write(Readable.from(chunks()));
  }
}
