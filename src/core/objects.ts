/**
 * How a service reads an object another service stores (CodeCommit importing a zip from S3)
 * without reading its tables: S3 installs the reader when it starts; without S3, or when the
 * object is missing or not the account's to read, `read` answers undefined.
 */
import type { Readable } from 'node:stream';

export type ObjectReader = (
  account: string,
  bucket: string,
  key: string,
  versionId?: string,
) => Promise<{ body: Readable; size: number } | undefined>;

export class ObjectStore {
  private reader: ObjectReader | undefined;

  install(reader: ObjectReader) {
    this.reader = reader;
  }

  async read(account: string, bucket: string, key: string, versionId?: string) {
    return this.reader ? this.reader(account, bucket, key, versionId) : undefined;
  }
}
