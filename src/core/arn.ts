export interface Scope {
  account: string;
  region: string;
}

export const arn = (service: string, scope: Scope, resource: string, global = false) =>
  `arn:aws:${service}:${global ? '' : scope.region}:${scope.account}:${resource}`;

export function parseArn(value: string) {
  const parts = value.split(':');
  if (parts.length < 6 || parts[0] !== 'arn') return undefined;
  return {
    partition: parts[1],
    service: parts[2],
    region: parts[3],
    account: parts[4],
    resource: parts.slice(5).join(':'),
  };
}

/**
 * The parsed ARN a caller passed, if it names the caller's own account and region (region is not
 * checked for global services: pass `global`); otherwise the service's own error (AWS mostly
 * answers as if the resource did not exist). A value that is not an ARN at all returns undefined,
 * so callers keep their own format errors.
 */
export function requireOwnArn(value: string, scope: Scope, notFound: () => Error, global = false) {
  const p = parseArn(value);
  if (!p) return undefined;
  if (isForeignArn(value, scope, global)) throw notFound();
  return p;
}

/**
 * True when `value` is an ARN naming another account or region than the caller's: for lookups
 * that answer "not found" without throwing (batch gets, idempotent deletes).
 */
export function isForeignArn(value: string, scope: Scope, global = false) {
  const p = parseArn(value);
  return !!p && (p.account !== scope.account || (!global && p.region !== scope.region));
}
