/**
 * Opaque pagination tokens (NextToken, Marker, continuation-token): a cursor the service chooses
 * (the last name or id returned, an offset) encoded as base64url. Each service keeps its own error
 * for a token it did not make, since AWS's codes differ per service. Two pagers make the pages:
 * keysetPage for rows read past the decoded cursor (SQL `WHERE key > ? ORDER BY key LIMIT n + 1`),
 * pageByOffset / offsetPage for a list already in memory.
 */
import type { AwsError } from './errors.js';

export const encodeToken = (cursor: string | number) => Buffer.from(String(cursor), 'utf8').toString('base64url');

/** The cursor inside a token opsbox made; throws `invalid()` for anything else. */
export function decodeToken(token: string, invalid: () => AwsError): string {
  const cursor = readToken(token);
  if (cursor === undefined) throw invalid();
  return cursor;
}

/** The cursor inside a token opsbox made, or undefined. */
export function readToken(token: string | undefined): string | undefined {
  if (!token) return undefined;
  const cursor = Buffer.from(token, 'base64url').toString('utf8');
  return cursor && encodeToken(cursor) === token ? cursor : undefined;
}

/**
 * One page of rows read in key order with `limit + 1` past the cursor: the first `limit` rows,
 * and when the extra row says there are more, the token of the last row's key (`keyOf`) for the next.
 */
export function keysetPage<T>(rows: readonly T[], limit: number, keyOf: (row: T) => string | number): { items: T[]; next?: string } {
  if (rows.length <= limit) return { items: rows.slice() };
  const items = rows.slice(0, limit);
  return { items, next: encodeToken(keyOf(items[items.length - 1])) };
}

/** One page of a list already in memory from offset `start`: its items and the next page's token (the next offset), if any. */
export function offsetPage<T>(items: readonly T[], start: number, size: number): { items: T[]; next?: string } {
  return { items: items.slice(start, start + size), next: start + size < items.length ? encodeToken(start + size) : undefined };
}

/** offsetPage from a token opsbox made (`invalid()` for any other). */
export function pageByOffset<T>(items: readonly T[], token: string | undefined, size: number, invalid: () => AwsError) {
  const start = token ? Number(decodeToken(token, invalid)) : 0;
  if (!Number.isInteger(start) || start < 0) throw invalid();
  const page = offsetPage(items, start, size);
  return { items: page.items, nextToken: page.next };
}
