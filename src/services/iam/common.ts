/**
 * What IAM's handlers share: AWS's error shapes, policy-document checks, the URL encoding AWS
 * applies to every policy document it returns, Marker/MaxItems pagination and IAM's view of resource tags.
 */
import { AwsError } from '../../core/errors.js';
import { keysetPage, offsetPage } from '../../core/pagination.js';
import { tagMapOf, type Tag, type TagRules, type Tags } from '../../core/tags.js';

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

/** The IAM entities that carry tags; the quota in a LimitExceeded message is named after them (TagsPerRole…). */
export type TagEntity = 'User' | 'Role' | 'InstanceProfile' | 'Policy';

/** IAM's wording for tags that break the rules: more than 50 → LimitExceeded 409, anything else InvalidInput 400. */
export const tagRules = (entity: TagEntity): TagRules => ({
  errors: (p) => {
    switch (p.kind) {
      case 'tooMany':
        return limitExceeded(`Cannot exceed quota for TagsPer${entity}: ${p.limit}`);
      case 'duplicateKey':
        return invalidInput('Duplicate tag keys found. Please note that Tag keys are case insensitive.');
      case 'reservedKey':
        return invalidInput(`Tag key ${p.key} is not valid: user-defined tag keys cannot start with aws:.`);
      case 'keyLength':
        return invalidInput(`Tag key ${p.key} is not valid: a tag key must be 1 to 128 characters long.`);
      case 'valueLength':
        return invalidInput(`Tag value for key ${p.key} is not valid: a tag value must be at most 256 characters long.`);
    }
  },
});

/**
 * One kind of entity's tags in the shared tag store (core_tags, by the entity's ARN) as IAM's
 * handlers use them: TagX adds (existing keys get the new value, keeping their place), UntagX
 * removes, ListXTags pages with Marker/MaxItems, and outputs omit Tags when there are none.
 */
export function entityTags(tags: Tags, entity: TagEntity) {
  const rules = tagRules(entity);
  return {
    add: (arn: string, list: readonly Tag[] | undefined) => tags.add(arn, tagMapOf(list ?? [], rules.errors), rules),
    remove: (arn: string, keys: readonly string[]) => tags.remove(arn, keys),
    /** Tags as outputs carry them: absent when there are none (AWS omits the element). */
    out: (arn: string) => {
      const list = tags.list(arn);
      return list.length ? list : undefined;
    },
    page: (arn: string, marker?: string, maxItems?: number) => {
      const page = paginate(tags.list(arn), marker, maxItems);
      return { Tags: page.items, IsTruncated: page.IsTruncated, Marker: page.Marker };
    },
  };
}

export const boundaryOut = (arn: string | null | undefined) =>
  arn ? { PermissionsBoundaryType: 'Policy', PermissionsBoundaryArn: arn } : undefined;

export const normalizePath = (path: string | undefined) => path ?? '/';
