/**
 * Container and process output as lines (CodeBuild's backends, ECS's awslogs driver): bytes are collected until '\n' (or MAX_LINE bytes, so
 * a flood without newlines never piles up) and handed on without the newline; a multi-byte
 * character split across chunks stays whole because a line is decoded only once complete.
 */
/** Receives one line (without its newline) of a stream, in order. */
export type OnLine = (stream: 'stdout' | 'stderr', line: string) => void;
/** A promise while lines arrive faster than they can be stored: the reader pauses until it settles. */
export type Backlog = () => Promise<void> | undefined;

/** Longest line handed to onOutput; longer lines arrive in pieces of this size. */
export const MAX_LINE = 256 * 1024;

/** Pauses `stream` while the log is behind (backlog), so output never outruns its storage. */
export function throttle(stream: NodeJS.ReadableStream, exec: { backlog?: Backlog }) {
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
    private readonly emit: OnLine,
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

/**
 * Reads the engine's multiplexed stream (8-byte header: stream type, 3 zero bytes, big-endian
 * payload size) and hands complete lines to onOutput in arrival order. Resolves when it ends.
 */
export function demux(stream: NodeJS.ReadableStream, onOutput: OnLine, backlog?: Backlog): Promise<void> {
  const lines = { stdout: new LineSplitter('stdout', onOutput), stderr: new LineSplitter('stderr', onOutput) };
  const header = Buffer.alloc(8);
  let headerLen = 0;
  let remaining = 0;
  let target: LineSplitter | undefined;
  stream.on('data', (chunk: Buffer) => {
    let off = 0;
    while (off < chunk.length) {
      if (remaining > 0) {
        const n = Math.min(remaining, chunk.length - off);
        target?.push(chunk.subarray(off, off + n));
        off += n;
        remaining -= n;
        continue;
      }
      const n = Math.min(8 - headerLen, chunk.length - off);
      chunk.copy(header, headerLen, off, off + n);
      headerLen += n;
      off += n;
      if (headerLen === 8) {
        headerLen = 0;
        remaining = header.readUInt32BE(4);
        target = header[0] === 2 ? lines.stderr : header[0] === 1 ? lines.stdout : undefined;
      }
    }
    throttle(stream, { backlog });
  });
  return new Promise<void>((resolve) => {
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      lines.stdout.flush();
      lines.stderr.flush();
      resolve();
    };
    stream.on('end', finish);
    stream.on('close', finish);
    stream.on('error', finish);
  });
}
