/** What Lambda tests share: a deployment package made in memory, the execution role they name, and a JSON payload read back. */
import { zipBuffers } from '../../src/core/zip.js';

export const ROLE = 'arn:aws:iam::000000000000:role/fn';

/** A zip of the given files (name → content), with Unix modes where given (0o755 for a bootstrap). */
export async function zip(files: Record<string, string>, modes: Record<string, number> = {}): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of zipBuffers(files, modes)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** An Invoke payload as JSON. */
export const json = (p: Uint8Array | undefined) => JSON.parse(Buffer.from(p ?? []).toString('utf8'));
