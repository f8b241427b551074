/**
 * aws-chunked content encoding (SigV4 streaming uploads): the body arrives as
 *   <hex size>[;chunk-signature=<sig>]\r\n<data>\r\n … 0[;chunk-signature=…]\r\n[<trailer>: <value>\r\n]*\r\n
 * SDK v3 and botocore send it for S3 uploads with checksums (STREAMING-UNSIGNED-PAYLOAD-TRAILER).
 * This Transform strips the framing as the bytes pass, never holding more than one header line.
 * Given the request's signature chain (strict mode, signed streaming), every chunk's signature and
 * the trailer's are checked as they end; a bad one fails the stream before its consumer sees the end.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { AwsError } from '../core/errors.js';
import { signaturesEqual, type ChunkSignatures } from '../gateway/sigv4.js';

export class AwsChunkedDecoder extends Transform {
  private state: 'header' | 'data' | 'dataEnd' | 'trailer' | 'done' = 'header';
  private line = '';
  private remaining = 0;
  readonly trailers: Record<string, string> = {};
  private decoded = 0;

  private chunkSignature = '';
  private chunkHash: Hash | undefined;
  private trailerText = '';
  private trailerSignature = '';

  /**
   * `expected`: x-amz-decoded-content-length, when the client declared it; more or fewer decoded bytes fail the stream.
   * `signatures`: the chain every chunk (and, with `signedTrailer`, the trailer) must match.
   */
  constructor(
    private readonly expected?: number,
    private readonly signatures?: ChunkSignatures,
    private readonly signedTrailer = false,
  ) {
    super();
  }

  private verifyChunk() {
    if (!this.signatures) return;
    const data = (this.chunkHash ?? createHash('sha256')).digest('hex');
    this.chunkHash = undefined;
    if (!signaturesEqual(this.signatures.next(data), this.chunkSignature)) throw signatureMismatch();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
    let i = 0;
    try {
      while (i < chunk.length) {
        if (this.state === 'data') {
          const n = Math.min(this.remaining, chunk.length - i);
          this.decoded += n;
          if (this.expected !== undefined && this.decoded > this.expected) throw incomplete();
          this.chunkHash?.update(chunk.subarray(i, i + n));
          this.push(chunk.subarray(i, i + n));
          i += n;
          this.remaining -= n;
          if (this.remaining === 0) {
            this.verifyChunk();
            this.state = 'dataEnd';
          }
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
        const [sizeText, ...extensions] = line.split(';');
        const size = parseInt(sizeText, 16);
        if (Number.isNaN(size)) throw malformed();
        if (this.signatures) {
          const sig = extensions.find((e) => e.startsWith('chunk-signature='));
          if (!sig) throw signatureMismatch();
          this.chunkSignature = sig.slice('chunk-signature='.length);
          this.chunkHash = createHash('sha256');
        }
        if (size === 0) {
          this.verifyChunk();
          this.state = 'trailer';
        } else {
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
          if (this.signatures && this.signedTrailer && !signaturesEqual(this.signatures.trailer(this.trailerText), this.trailerSignature))
            throw signatureMismatch();
          this.state = 'done';
          return;
        }
        const colon = line.indexOf(':');
        if (colon <= 0) return;
        const name = line.slice(0, colon).trim().toLowerCase();
        const value = line.slice(colon + 1).trim();
        if (name === 'x-amz-trailer-signature') this.trailerSignature = value;
        else {
          this.trailers[name] = value;
          this.trailerText += `${name}:${value}\n`;
        }
        return;
      }
    }
  }

  override _flush(cb: TransformCallback) {
    if (!(this.state === 'done' || (this.state === 'trailer' && !(this.signatures && this.signedTrailer)))) return cb(malformed());
    cb(this.expected !== undefined && this.decoded !== this.expected ? incomplete() : null);
  }
}

const incomplete = () =>
  new AwsError('IncompleteBody', 'You did not provide the number of bytes specified by the Content-Length HTTP header', 400);
const signatureMismatch = () =>
  new AwsError(
    'SignatureDoesNotMatch',
    'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
    403,
  );
const malformed = () => new AwsError('IncompleteBody', 'The request body terminated unexpectedly', 400);

export function isAwsChunked(headers: Record<string, string | string[] | undefined>) {
  const sha = headers['x-amz-content-sha256'];
  const enc = headers['content-encoding'];
  return (typeof sha === 'string' && sha.startsWith('STREAMING-')) || (typeof enc === 'string' && enc.includes('aws-chunked'));
}
