/**
 * An append-only journal file for write-behind state: a service acknowledges a write once its
 * record is appended, keeps the effect in memory, and later applies many records to the store in
 * one transaction, together with the sequence number it applied through (so a record applied but
 * not yet cleared is not applied twice). One write() per record and no fsync: like the store's
 * WAL with synchronous=NORMAL, a record survives kill -9 of the process, not a crash of the OS.
 *
 * A record is a 16-byte header (payload length, CRC-32 of the payload, sequence number) and the
 * payload. Replay stops at the first record that is cut short or fails its CRC (the tail of an
 * append the process was killed in, which was never acknowledged) and drops it from the file.
 */
import { closeSync, fstatSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import { crc32 } from 'node:zlib';

const HEADER = 16;
/** Records larger than this are not ours (a damaged length): replay stops there. */
const MAX_RECORD = 256 * 2 ** 20;

export class Journal {
  private readonly fd: number;
  private size: number;
  private seq = 0;
  private readonly header = Buffer.alloc(HEADER);

  constructor(readonly file: string) {
    this.fd = openSync(file, 'a+');
    this.size = fstatSync(this.fd).size;
  }

  /** Appends one record; returns its sequence number (increasing, also across restarts once replayed). */
  append(payload: Uint8Array): number {
    const seq = ++this.seq;
    const h = this.header;
    h.writeUInt32LE(payload.length, 0);
    h.writeUInt32LE(crc32(payload), 4);
    h.writeDoubleLE(seq, 8);
    // one write of header and payload, so a record is never interleaved or split by another
    const record = Buffer.concat([h, payload]);
    let done = 0;
    while (done < record.length) done += writeSync(this.fd, record, done, record.length - done, this.size + done);
    this.size += record.length;
    return seq;
  }

  /**
   * The records after `appliedThrough`, in order, read with a buffer the size of one record. Sequence
   * numbers continue after the highest seen (or `appliedThrough`).
   */
  *replay(appliedThrough: number): Generator<[number, Buffer]> {
    this.seq = Math.max(this.seq, appliedThrough);
    let at = 0;
    while (at + HEADER <= this.size) {
      readSync(this.fd, this.header, 0, HEADER, at);
      const length = this.header.readUInt32LE(0);
      const crc = this.header.readUInt32LE(4);
      const seq = this.header.readDoubleLE(8);
      if (length > MAX_RECORD || at + HEADER + length > this.size) break;
      const payload = Buffer.allocUnsafe(length);
      readSync(this.fd, payload, 0, length, at + HEADER);
      if (crc32(payload) !== crc) break;
      at += HEADER + length;
      this.seq = Math.max(this.seq, seq);
      if (seq > appliedThrough) yield [seq, payload];
    }
    if (at < this.size) {
      ftruncateSync(this.fd, at);
      this.size = at;
    }
  }

  /** Empties the journal: every record in it has been applied. */
  clear() {
    ftruncateSync(this.fd, 0);
    this.size = 0;
  }

  get bytes() {
    return this.size;
  }

  close() {
    closeSync(this.fd);
  }
}
