/**
 * What IAM's handlers share: AWS's error shapes, policy-document checks, the URL encoding AWS
 * applies to every policy document it returns, Marker/MaxItems pagination and tag merging.
 */
import { AwsError } from '../../core/errors.js';
import { keysetPage, offsetPage } from '../../core/pagination.js';

export type Tag = { Key: string; Value: string };

export const noSuchEntity = (message: string) => new AwsError('NoSuchEntity', message, 404);
export const alreadyExists = (message: string) => new AwsError('EntityAlreadyExists', message, 409);
export const deleteConflict = (message: string) => new AwsError('DeleteConflict', message, 409);
export const limitExceeded = (message: string) => new AwsError('LimitExceeded', message, 409);
export const invalidInput = (message: string) => new AwsError('InvalidInput', message, 400);

/**
 * A policy document must be a JSON object. AWS answers (MalformedPolicyDocument, 400):
 *   trust policies: "This policy contains invalid Json"; permission policies: "Syntax errors in policy."
 */
export function checkPolicyDocument(doc: string, kind: 'trust' | 'permissions') {
  let parsed: unknown;
  try {
    parsed = JSON.parse(doc);
  } catch {
    parsed = undefined;
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new AwsError('MalformedPolicyDocument', kind === 'trust' ? 'This policy contains invalid Json' : 'Syntax errors in policy.', 400);
  const statement = (parsed as Record<string, unknown>).Statement;
  if (Array.isArray(statement) && statement.length === 0)
    throw new AwsError('MalformedPolicyDocument', 'Could not parse the policy: Statement is empty!', 400);
}

/** AWS returns policy documents URL-encoded (RFC 3986); the aws CLI decodes them, SDK users call decodeURIComponent. */
export const encodeDocument = (doc: string) => encodeURIComponent(doc);

/** The cursor in a Marker; IAM reads a marker it did not make as some cursor rather than failing. */
export const decodeMarker = (marker?: string) => (marker ? Buffer.from(marker, 'base64url').toString('utf8') : '');

export interface Page<T> {
  items: T[];
  IsTruncated: boolean;
  Marker?: string;
}

const iamPage = <T>({ items, next }: { items: T[]; next?: string }): Page<T> => ({ items, IsTruncated: next !== undefined, Marker: next });

/** Items sorted by `key`, already restricted to those after the marker (SQL: `LIMIT maxItems + 1`). */
export const pageOf = <T>(rows: T[], key: (t: T) => string, maxItems: number): Page<T> => iamPage(keysetPage(rows, maxItems, key));

/** Marker/MaxItems over a small in-memory list kept in its own order (tags, inline policy names, versions). */
export const paginate = <T>(all: T[], marker?: string, maxItems = 100): Page<T> =>
  iamPage(offsetPage(all, Number(decodeMarker(marker)) || 0, maxItems));

/** TagX: new keys are added, existing keys get the new value; more than 50 → LimitExceeded. */
export function mergeTags(existing: Tag[], add: Tag[] | undefined, entity: string): Tag[] {
  const out = existing.map((t) => ({ ...t }));
  for (const t of add ?? []) {
    const hit = out.find((o) => o.Key === t.Key);
    if (hit) hit.Value = t.Value ?? '';
    else out.push({ Key: t.Key, Value: t.Value ?? '' });
  }
  if (out.length > 50) throw limitExceeded(`Cannot exceed quota for TagsPer${entity}: 50`);
  return out;
}

export const removeTags = (existing: Tag[], keys: string[]) => existing.filter((t) => !keys.includes(t.Key));

/** Tags as outputs carry them: absent when there are none (AWS omits the element). */
export const tagsOut = (tags: Tag[]) => (tags.length ? tags : undefined);

export const boundaryOut = (arn: string | null | undefined) =>
  arn ? { PermissionsBoundaryType: 'Policy', PermissionsBoundaryArn: arn } : undefined;

export const normalizePath = (path: string | undefined) => path ?? '/';
