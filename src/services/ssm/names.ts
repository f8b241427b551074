/**
 * Parameter names, paths, selectors and labels: AWS's rules for each, as pure functions (no store,
 * no context) so they are unit-tested alone. A name is kept as the caller first wrote it; its
 * canonical form ("/" + the name without a leading slash) is the key a parameter is found by, so
 * "/config" and "config" are one parameter with one ARN, as in AWS.
 */
import { parseArn, type Scope } from '../../core/arn.js';
import { AwsError } from '../../core/errors.js';

/** At most this many levels in a name (/L1/…/L14/name). */
export const MAX_LEVELS = 15;
/** At most this many labels on one version. */
export const MAX_LABELS = 10;

const validation = (message: string) => new AwsError('ValidationException', message, 400);

const RESERVED_MESSAGE = 'Parameter name: can\'t be prefixed with "aws" or "ssm" (case-insensitive).';
const SUB_PATHS =
  'If formed as a path, it can consist of sub-paths divided by slash symbol; each sub-path can be formed as a mix of letters, numbers and the following 3 symbols .-_';
const RESERVED_PATH_MESSAGE = `Parameter name: can't be prefixed with "ssm" (case-insensitive). ${SUB_PATHS}`;
const INVALID_NAME_MESSAGE = `Parameter name: can't be prefixed with "aws" or "ssm" (case-insensitive). ${SUB_PATHS}`;
export const INVALID_PATH_MESSAGE =
  'The parameter doesn\'t meet the parameter name requirements. The parameter name must begin with a forward slash "/". ' +
  'It can\'t be prefixed with "aws" or "ssm" (case-insensitive). ' +
  'It must use only letters, numbers, or the following symbols: . (period), - (hyphen), _ (underscore). ' +
  'Special characters are not allowed. All sub-paths, if specified, must use the forward slash symbol "/". ' +
  'Valid example: /get/parameters2-/by1./path0_.';

/** The key a parameter is stored and found by: its name with exactly one leading slash. */
export const canonical = (name: string) => (name.startsWith('/') ? name : `/${name}`);

export const parameterArn = (scope: Scope, name: string) => `arn:aws:ssm:${scope.region}:${scope.account}:parameter${canonical(name)}`;

/** The ARN of a public parameter (AWS's own, no account). */
export const publicArn = (region: string, name: string) => `arn:aws:ssm:${region}::parameter${canonical(name)}`;

/** True for names in AWS's reserved namespaces (/aws/…, /ssm/…, aws…, ssm…). */
export const isReserved = (name: string) => /^(aws|ssm)/i.test(name.replace(/^\//, ''));

/** True for the public parameter namespace AWS answers for every account (/aws/service/…). */
export const isPublic = (name: string) => /^\/aws\//i.test(canonical(name));

/**
 * A name the caller passed as a name or as a parameter ARN, trimmed (AWS drops the spaces around a
 * name). `foreign` is set for an ARN naming another account or region.
 */
export function nameOf(raw: string, scope: Scope): { name: string; foreign: boolean } {
  const value = raw.trim();
  if (!value.startsWith('arn:')) return { name: value, foreign: false };
  const a = parseArn(value);
  if (!a || a.service !== 'ssm' || !a.resource.startsWith('parameter/')) return { name: value, foreign: false };
  const path = a.resource.slice('parameter'.length);
  // an ARN names /x for a single-level name x: keep the unslashed form for those
  const name = path.indexOf('/', 1) === -1 ? path.slice(1) : path;
  const foreign = (a.account !== '' && a.account !== scope.account) || a.region !== scope.region;
  return { name, foreign };
}

/** Checks a name PutParameter is to create or update; throws AWS's error for a bad one. */
export function checkName(name: string): void {
  if (isReserved(name)) {
    const isPath = (name.match(/\//g) ?? []).length > 1;
    if (isPath && /^\/aws/i.test(name)) throw new AwsError('AccessDeniedException', `No access to reserved parameter name: ${name}.`, 400);
    throw validation(isPath ? RESERVED_PATH_MESSAGE : RESERVED_MESSAGE);
  }
  if (name.includes('/') && !name.startsWith('/')) throw validation('Parameter name must be a fully qualified name.');
  if (!/^[a-zA-Z0-9_.\-/]+$/.test(name) || name.includes('//') || name.endsWith('/') || name === '/')
    throw validation(INVALID_NAME_MESSAGE);
  if (levels(name) > MAX_LEVELS)
    throw new AwsError(
      'HierarchyLevelLimitExceededException',
      `A hierarchy can have a maximum of ${MAX_LEVELS} levels. Parameter name ${name} has ${levels(name)}.`,
      400,
    );
}

export const levels = (name: string) => name.split('/').filter(Boolean).length;

/** A name with its selector: `name`, `name:3` (a version) or `name:label`. */
export interface Selected {
  name: string;
  version?: number;
  label?: string;
  /** ":3" or ":label", as GetParameter reports it. */
  selector?: string;
}

/** Splits `name:selector`; undefined when there is more than one selector (no such parameter). */
export function parseSelector(name: string): Selected | undefined {
  const i = name.indexOf(':');
  if (i === -1) return { name };
  const base = name.slice(0, i);
  const sel = name.slice(i + 1);
  if (sel === '' || sel.includes(':')) return undefined;
  if (/^\d+$/.test(sel)) return { name: base, version: Number(sel), selector: `:${sel}` };
  return { name: base, label: sel, selector: `:${sel}` };
}

/** Whether a label is one LabelParameterVersion accepts (others come back in InvalidLabels). */
export const isValidLabel = (label: string) =>
  label.length >= 1 && label.length <= 100 && /^[a-zA-Z0-9_.-]+$/.test(label) && !/^(aws|ssm|\d)/i.test(label);

/** The path prefix a GetParametersByPath path selects: canonical, ending in one slash ("/" for the root). */
export function pathPrefix(path: string): string {
  const p = path.trim();
  if (!p.startsWith('/') || !/^[a-zA-Z0-9_.\-/]*$/.test(p) || p.includes('//')) throw validation(INVALID_PATH_MESSAGE);
  return p.endsWith('/') ? p : `${p}/`;
}

/** Whether the parameter with canonical key `key` is under `prefix` (from pathPrefix): directly, or at any depth. */
export function underPath(key: string, prefix: string, recursive: boolean): boolean {
  if (!key.startsWith(prefix) || key.length === prefix.length) return false;
  return recursive || !key.slice(prefix.length).includes('/');
}
