/** The hash constructor @smithy/signature-v4 takes (SHA-256, or HMAC-SHA-256 with a secret), on node:crypto. */
import { createHash, createHmac } from 'node:crypto';

export class Sha256 {
  private h: ReturnType<typeof createHash> | ReturnType<typeof createHmac>;
  constructor(secret?: Uint8Array | string) {
    this.h = secret ? createHmac('sha256', secret) : createHash('sha256');
  }
  update(d: Uint8Array | string) {
    this.h.update(d);
  }
  async digest() {
    return new Uint8Array(this.h.digest());
  }
}
