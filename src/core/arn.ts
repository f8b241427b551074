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
