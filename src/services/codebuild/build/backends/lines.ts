/**
 * Build output as lines, for both backends: bytes are collected until '\n' (or MAX_LINE bytes, so
 * a flood without newlines never piles up) and handed on without the newline; a multi-byte
 * character split across chunks stays whole because a line is decoded only once complete.
 */
import type { BuildExecution } from './types.js';

/** Longest line handed to onOutput; longer lines arrive in pieces of this size. */
export const MAX_LINE = 256 * 1024;

/** Pauses `stream` while the build's log is behind (exec.backlog), so output never outruns its storage. */
export function throttle(stream: NodeJS.ReadableStream, exec: Pick<BuildExecution, 'backlog'>) {
  const wait = exec.backlog?.();
  if (!wait) return;
  stream.pause();
  void wait.then(() => stream.resume());
}

/** Collects bytes until '\n' (or MAX_LINE bytes) and emits them as one line, without the newline. */
export class LineSplitter {
  private parts: Buffer[] = [];
  private len = 0;
  /** The last line was cut at MAX_LINE: a newline right after it ends that line, not an empty one. */
  private cut = false;

  constructor(
    private readonly name: 'stdout' | 'stderr',
    private readonly emit: BuildExecution['onOutput'],
  ) {}

  push(buf: Buffer) {
    let off = 0;
    while (off < buf.length) {
      const nl = buf.indexOf(10, off);
      const end = nl === -1 ? buf.length : nl;
      const take = Math.min(end - off, MAX_LINE - this.len);
      if (take > 0) {
        this.parts.push(buf.subarray(off, off + take));
        this.len += take;
        off += take;
      }
      if (this.len >= MAX_LINE) {
        this.flush();
        this.cut = true;
      } else if (off === nl) {
        off++;
        if (this.len > 0 || !this.cut) this.flush(true);
        this.cut = false;
      } else if (take > 0) this.cut = false;
    }
  }

  flush(force = false) {
    if (this.len === 0 && !force) return;
    let line = (this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.len)).toString('utf8');
    if (line.endsWith('\r')) line = line.slice(0, -1);
    this.parts = [];
    this.len = 0;
    this.emit(this.name, line);
  }
}
