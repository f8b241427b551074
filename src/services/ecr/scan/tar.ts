/**
 * A streaming tar reader for image layers: ustar, GNU (long names 'L'/'K', base-256 sizes) and
 * POSIX pax headers ('x' per entry, 'g' global). Entries come one at a time from an async
 * iterable of bytes; an entry's content is read only when the caller asks for it (up to a cap),
 * otherwise skipped, so a layer is never held in memory. Written by hand: no tar library is among
 * opsbox's dependencies.
 */

export interface TarHeader {
  /** The entry's path as written in the archive (pax/GNU long names applied). */
  path: string;
  /** '0' file, '1' hard link, '2' symlink, '5' directory, … ('\0' is read as '0'). */
  type: string;
  size: number;
  linkname: string;
}

export class TarError extends Error {}

const BLOCK = 512;

/** Reads exact byte counts from an async iterable of chunks. */
class ByteReader {
  private chunks: Buffer[] = [];
  private have = 0;
  private done = false;
  private readonly it: AsyncIterator<Buffer>;

  constructor(source: AsyncIterable<Buffer | Uint8Array>) {
    this.it = (source as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  }

  /** Buffers until `n` bytes are available; false when the stream ended first. */
  private async fill(n: number): Promise<boolean> {
    while (this.have < n && !this.done) {
      const r = await this.it.next();
      if (r.done) this.done = true;
      else if (r.value.length > 0) {
        const c = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value);
        this.chunks.push(c);
        this.have += c.length;
      }
    }
    return this.have >= n;
  }

  /** Exactly `n` bytes, or undefined at a clean end of stream (nothing buffered); throws on a truncated read. */
  async read(n: number): Promise<Buffer | undefined> {
    if (!(await this.fill(n))) {
      if (this.have === 0) return undefined;
      throw new TarError('unexpected end of tar archive');
    }
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length ? [rest] : [];
    this.have = rest.length;
    return out;
  }

  /** Drops `n` bytes without keeping them. */
  async skip(n: number): Promise<void> {
    while (n > 0) {
      if (this.have === 0 && !(await this.fill(1))) throw new TarError('unexpected end of tar archive');
      const c = this.chunks[0];
      if (c.length <= n) {
        this.chunks.shift();
        this.have -= c.length;
        n -= c.length;
      } else {
        this.chunks[0] = c.subarray(n);
        this.have -= n;
        n = 0;
      }
    }
  }

  async close() {
    await this.it.return?.();
  }
}

const cstring = (b: Buffer) => {
  const end = b.indexOf(0);
  return b.subarray(0, end < 0 ? b.length : end).toString('utf8');
};

/** A numeric field: octal text, or GNU base-256 when the first byte's high bit is set. */
function numeric(b: Buffer): number {
  if (b[0] & 0x80) {
    let n = b[0] & 0x7f;
    for (let i = 1; i < b.length; i++) n = n * 256 + b[i];
    return n;
  }
  const text = cstring(b).trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new TarError(`invalid tar numeric field '${text}'`);
  return parseInt(text, 8);
}

function checksumOk(block: Buffer): boolean {
  let stored: number;
  try {
    stored = numeric(block.subarray(148, 156));
  } catch {
    return false;
  }
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : block[i];
  return sum === stored;
}

/** pax records: "<len> key=value\n" repeated. */
function paxRecords(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(0x20, i);
    if (sp < 0) break;
    const len = Number(data.subarray(i, sp).toString('ascii'));
    if (!Number.isInteger(len) || len <= 0 || i + len > data.length) break;
    const record = data.subarray(sp + 1, i + len - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1);
    i += len;
  }
  return out;
}

const padded = (n: number) => Math.ceil(n / BLOCK) * BLOCK;
const MAX_META = 1024 * 1024;

/**
 * Walks the archive: `onEntry` gets each entry's header and returns how many bytes of its content
 * it wants (0 to skip it); when it wants some, `onContent` gets them (the whole content when it
 * fits the cap, else nothing: an entry larger than asked for is skipped). Stops at the end-of-archive blocks.
 */
export async function readTar(
  source: AsyncIterable<Buffer | Uint8Array>,
  onEntry: (h: TarHeader) => number,
  onContent: (h: TarHeader, data: Buffer) => void,
  signal?: AbortSignal,
): Promise<void> {
  const r = new ByteReader(source);
  let globalPax: Record<string, string> = {};
  let pax: Record<string, string> = {};
  let longName: string | undefined;
  let longLink: string | undefined;
  try {
    for (;;) {
      signal?.throwIfAborted();
      const block = await r.read(BLOCK);
      if (!block) return; // some writers omit the end-of-archive blocks
      if (block.every((b) => b === 0)) return;
      if (!checksumOk(block)) throw new TarError('not a tar archive (header checksum mismatch)');
      const type = String.fromCharCode(block[156] || 0x30);
      let size = numeric(block.subarray(124, 136));
      const magic = block.subarray(257, 263).toString('latin1');
      let name = cstring(block.subarray(0, 100));
      // ustar's prefix field; GNU tar ("ustar  ") keeps other data there
      if (magic === 'ustar\0') {
        const prefix = cstring(block.subarray(345, 500));
        if (prefix) name = `${prefix}/${name}`;
      }
      if (type === 'x' || type === 'g' || type === 'L' || type === 'K') {
        if (size > MAX_META) throw new TarError('tar metadata entry too large');
        const data = (await r.read(padded(size)))?.subarray(0, size);
        if (!data) throw new TarError('unexpected end of tar archive');
        if (type === 'x') pax = paxRecords(data);
        else if (type === 'g') globalPax = { ...globalPax, ...paxRecords(data) };
        else if (type === 'L') longName = cstring(data);
        else longLink = cstring(data);
        continue;
      }
      const meta = { ...globalPax, ...pax };
      if (meta.size !== undefined && /^\d+$/.test(meta.size)) size = Number(meta.size);
      const header: TarHeader = {
        path: meta.path ?? longName ?? name,
        type: type === '\0' ? '0' : type === '7' ? '0' : type,
        size,
        linkname: meta.linkpath ?? longLink ?? cstring(block.subarray(157, 257)),
      };
      pax = {};
      longName = longLink = undefined;
      // links, directories and devices carry no content whatever their size field says; other types do
      const body = '123456'.includes(header.type) ? 0 : size;
      const want = onEntry(header);
      if (header.type === '0' && want > 0 && body <= want) {
        const data = body > 0 ? await r.read(padded(body)) : Buffer.alloc(0);
        if (!data) throw new TarError('unexpected end of tar archive');
        onContent(header, data.subarray(0, body));
      } else if (body > 0) await r.skip(padded(body));
    }
  } finally {
    await r.close();
  }
}
