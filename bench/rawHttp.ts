/**
 * A wrk-style HTTP/1.1 client: one keep-alive socket replaying pre-built request bytes and parsing
 * just enough of the response (status, Content-Length or chunked, Connection: close). Far cheaper
 * than node:http's client, so the load generator steals less of the 2 cores from the server.
 */
import net from 'node:net';

export interface RawResponse {
  status: number;
  head: string;
  body: Buffer;
}

const EMPTY = Buffer.alloc(0);

export class RawConnection {
  private sock: net.Socket | undefined;
  private buf: Buffer = EMPTY;
  private head: string | undefined;
  private status = 0;
  private length = -1;
  private chunked = false;
  private close = false;
  private waiter: { resolve(r: RawResponse): void; reject(e: Error): void; timer: NodeJS.Timeout } | undefined;
  connects = 0;

  constructor(
    readonly host: string,
    readonly port: number,
  ) {}

  request(bytes: Buffer, timeoutMs = 15_000): Promise<RawResponse> {
    if (!this.sock) this.connect();
    this.buf = EMPTY;
    this.head = undefined;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.fail(new Error(`no response within ${timeoutMs} ms`)), timeoutMs);
      this.waiter = { resolve, reject, timer };
      this.sock!.write(bytes);
    });
  }

  destroy() {
    this.sock?.destroy();
    this.sock = undefined;
  }

  private connect() {
    const s = net.connect(this.port, this.host);
    s.setNoDelay(true);
    s.on('data', (d: Buffer) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      this.parse();
    });
    s.on('error', (e) => this.fail(e));
    s.on('close', () => {
      if (this.sock !== s) return;
      this.sock = undefined;
      // a response delimited by the end of the connection
      if (this.waiter && this.head !== undefined && this.length < 0 && !this.chunked) this.done(this.buf);
      else this.fail(new Error('connection closed by server'));
    });
    this.sock = s;
    this.connects++;
  }

  private parse() {
    if (this.head === undefined) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = this.buf.toString('latin1', 0, end);
      this.head = head;
      this.status = Number(head.slice(9, 12));
      const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      this.length = cl ? Number(cl[1]) : -1;
      this.chunked = /\r\ntransfer-encoding:\s*chunked/i.test(head);
      this.close = /\r\nconnection:\s*close/i.test(head) || (head.startsWith('HTTP/1.0') && !/\r\nconnection:\s*keep-alive/i.test(head));
      this.buf = this.buf.subarray(end + 4);
    }
    if (this.length >= 0) {
      if (this.buf.length >= this.length) this.done(this.buf.subarray(0, this.length));
    } else if (this.chunked) {
      const parts: Buffer[] = [];
      let pos = 0;
      for (;;) {
        const eol = this.buf.indexOf('\r\n', pos);
        if (eol < 0) return;
        const size = parseInt(this.buf.toString('latin1', pos, eol), 16);
        if (size === 0) {
          if (this.buf.length < eol + 4) return;
          return this.done(Buffer.concat(parts));
        }
        if (this.buf.length < eol + 2 + size + 2) return;
        parts.push(this.buf.subarray(eol + 2, eol + 2 + size));
        pos = eol + 2 + size + 2;
      }
    }
  }

  private done(body: Buffer) {
    const w = this.waiter;
    if (!w) return;
    this.waiter = undefined;
    clearTimeout(w.timer);
    if (this.close) this.destroy();
    w.resolve({ status: this.status, head: this.head!, body });
  }

  private fail(e: Error) {
    this.destroy();
    const w = this.waiter;
    if (!w) return;
    this.waiter = undefined;
    clearTimeout(w.timer);
    w.reject(e);
  }
}
