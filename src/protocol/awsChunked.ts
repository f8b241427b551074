/**
 * aws-chunked content encoding (SigV4 streaming uploads): the body arrives as
 *   <hex size>[;chunk-signature=<sig>]\r\n<data>\r\n … 0[;chunk-signature=…]\r\n[<trailer>: <value>\r\n]*\r\n
 * SDK v3 and botocore send it for S3 uploads with checksums (STREAMING-UNSIGNED-PAYLOAD-TRAILER).
 * This Transform strips the framing as the bytes pass, never holding more than one header line.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { AwsError } from '../core/errors.js';

export class AwsChunkedDecoder extends Transform {
  private state: 'header' | 'data' | 'dataEnd' | 'trailer' | 'done' = 'header';
  private line = '';
  private remaining = 0;
  readonly trailers: Record<string, string> = {};
  private decoded = 0;

  /** `expected`: x-amz-decoded-content-length, when the client declared it; more or fewer decoded bytes fail the stream. */
  constructor(private readonly expected?: number) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
    let i = 0;
    try {
      while (i < chunk.length) {
        if (this.state === 'data') {
          const n = Math.min(this.remaining, chunk.length - i);
          this.decoded += n;
          if (this.expected !== undefined && this.decoded > this.expected) throw incomplete();
          this.push(chunk.subarray(i, i + n));
          i += n;
          this.remaining -= n;
          if (this.remaining === 0) this.state = 'dataEnd';
          continue;
        }
        // nothing may follow the final chunk and its trailers
        if (this.state === 'done') throw malformed();
        const nl = chunk.indexOf(10, i);
        const end = nl === -1 ? chunk.length : nl;
        this.line += chunk.toString('latin1', i, end);
        if (this.line.length > 4096) throw malformed();
        i = end;
        if (nl === -1) break;
        i = nl + 1;
        const line = this.line.replace(/\r$/, '');
        this.line = '';
        this.onLine(line);
      }
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }

  private onLine(line: string) {
    switch (this.state) {
      case 'header': {
        const size = parseInt(line.split(';')[0], 16);
        if (Number.isNaN(size)) throw malformed();
        if (size === 0) this.state = 'trailer';
        else {
          this.remaining = size;
          this.state = 'data';
        }
        return;
      }
      case 'dataEnd':
        if (line !== '') throw malformed();
        this.state = 'header';
        return;
      case 'trailer': {
        if (line === '') {
          this.state = 'done';
          return;
        }
        const colon = line.indexOf(':');
        if (colon > 0) this.trailers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
        return;
      }
    }
  }

  override _flush(cb: TransformCallback) {
    if (!(this.state === 'done' || this.state === 'trailer')) return cb(malformed());
    cb(this.expected !== undefined && this.decoded !== this.expected ? incomplete() : null);
  }
}

const incomplete = () =>
  new AwsError('IncompleteBody', 'You did not provide the number of bytes specified by the Content-Length HTTP header', 400);
const malformed = () => new AwsError('IncompleteBody', 'The request body terminated unexpectedly', 400);

export function isAwsChunked(headers: Record<string, string | string[] | undefined>) {
  const sha = headers['x-amz-content-sha256'];
  const enc = headers['content-encoding'];
  return (typeof sha === 'string' && sha.startsWith('STREAMING-')) || (typeof enc === 'string' && enc.includes('aws-chunked'));
}
