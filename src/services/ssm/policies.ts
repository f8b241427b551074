/**
 * Parameter policies (advanced parameters only): the JSON array PutParameter's Policies carries,
 * checked as Parameter Store checks it (at most 10, one of each type, the three known types and
 * their attributes) and kept as one PolicyText per policy. opsbox stores and returns policies;
 * it does not act on them (no expiry deletion or notification events), so they stay Pending.
 */
import { AwsError } from '../../core/errors.js';

export const POLICY_TYPES = ['Expiration', 'ExpirationNotification', 'NoChangeNotification'] as const;
export const MAX_POLICIES = 10;

export interface StoredPolicy {
  PolicyText: string;
  PolicyType: string;
  PolicyStatus: string;
}

const attributeError = (message: string) => new AwsError('InvalidPolicyAttributeException', message, 400);

/** The policies of a Policies string; [] for an empty array (which removes a parameter's policies). */
export function parsePolicies(text: string): StoredPolicy[] {
  let list: unknown;
  try {
    list = JSON.parse(text);
  } catch {
    throw attributeError('A policy attribute or its value is invalid. Policies must be a JSON array of policy objects.');
  }
  if (!Array.isArray(list))
    throw attributeError('A policy attribute or its value is invalid. Policies must be a JSON array of policy objects.');
  if (list.length > MAX_POLICIES)
    throw new AwsError(
      'PoliciesLimitExceededException',
      `You specified more than the maximum number of allowed policies for the parameter. The maximum is ${MAX_POLICIES}.`,
      400,
    );
  const seen = new Set<string>();
  return list.map((p) => {
    if (typeof p !== 'object' || p === null || Array.isArray(p)) throw attributeError('A policy attribute or its value is invalid.');
    const policy = p as { Type?: unknown; Version?: unknown; Attributes?: unknown };
    const type = policy.Type;
    if (typeof type !== 'string' || !(POLICY_TYPES as readonly string[]).includes(type))
      throw new AwsError(
        'InvalidPolicyTypeException',
        `The policy type isn't supported. Parameter Store supports the following policy types: Expiration, ExpirationNotification, and NoChangeNotification.`,
        400,
      );
    if (seen.has(type))
      throw new AwsError(
        'IncompatiblePolicyException',
        `There is a conflict in the policies specified for this parameter. You can't specify two ${type} policies for a parameter.`,
        400,
      );
    seen.add(type);
    if (policy.Version !== undefined && policy.Version !== '1.0')
      throw attributeError(`Policy version ${String(policy.Version)} is not supported.`);
    checkAttributes(type, policy.Attributes);
    return { PolicyText: JSON.stringify(p), PolicyType: type, PolicyStatus: 'Pending' };
  });
}

function checkAttributes(type: string, attributes: unknown) {
  const a = (typeof attributes === 'object' && attributes !== null ? attributes : {}) as Record<string, unknown>;
  if (type === 'Expiration') {
    const ts = a.Timestamp;
    if (typeof ts !== 'string' || Number.isNaN(Date.parse(ts)))
      throw attributeError('A policy attribute or its value is invalid. Expiration needs a Timestamp in ISO 8601 format.');
    return;
  }
  const amount = type === 'ExpirationNotification' ? a.Before : a.After;
  const field = type === 'ExpirationNotification' ? 'Before' : 'After';
  if (!/^[1-9]\d*$/.test(String(amount ?? '')))
    throw attributeError(`A policy attribute or its value is invalid. ${type} needs ${field} as a positive whole number.`);
  if (a.Unit !== 'Days' && a.Unit !== 'Hours')
    throw attributeError(`A policy attribute or its value is invalid. ${type} needs Unit Days or Hours.`);
}
