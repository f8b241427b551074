/**
 * KMS: symmetric keys (AES-256-GCM), RSA and ECC key pairs, HMAC keys, aliases, key policies
 * (stored), rotation, scheduled deletion, grants and tags. keys.ts holds the key lifecycle and how
 * a KeyId names a key, operations.ts the cryptographic operations, crypto.ts the cryptography
 * itself, store.ts the tables. Other services encrypt through its API in-process (SSM's
 * SecureString, Secrets Manager), with the AWS managed keys (alias/aws/ssm, …) made on first use.
 */
import type { ServiceEnv, ServiceSpec } from '../../gateway/service.js';
import type { KmsHandlers } from './api.generated.js';
import { keyHandlers, keyResolver } from './keys.js';
import { operationHandlers } from './operations.js';
import { createKmsStore } from './store.js';

export function createKmsHandlers(env: ServiceEnv): KmsHandlers {
  const store = createKmsStore(env.store, env.tags);
  const resolve = keyResolver(store);
  return { ...keyHandlers(store, env.tags, resolve), ...operationHandlers(store, resolve) };
}

export const kms: ServiceSpec<KmsHandlers> = {
  name: 'kms',
  model: 'kms-2014-11-01',
  signingName: 'kms',
  protocols: ['json1.1'],
  patch: { validationErrorCode: 'ValidationException' },
  create: (env) => ({ handlers: createKmsHandlers(env) }),
};
