/**
 * Opaque pagination tokens (NextToken, Marker, continuation-token): a cursor the service chooses
 * (the last name or id returned, an offset) encoded as base64url. Each service keeps its own error
 * for a token it did not make, since AWS's codes differ per service.
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

/** One page of a list already in memory, by offset: its items and the next page's token, if any. */
export function pageByOffset<T>(items: readonly T[], token: string | undefined, size: number, invalid: () => AwsError) {
  const start = token ? Number(decodeToken(token, invalid)) : 0;
  if (!Number.isInteger(start) || start < 0) throw invalid();
  return { items: items.slice(start, start + size), nextToken: start + size < items.length ? encodeToken(start + size) : undefined };
}
