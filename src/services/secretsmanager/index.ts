/**
 * Secrets Manager: secrets with string or binary values, encrypted through KMS in-process (one
 * data key per version, context {SecretARN, SecretVersionId}), versions and staging labels,
 * ClientRequestToken idempotency, filters, scheduled deletion and restore, random passwords,
 * resource policies (stored), tags on core_tags, and rotation through a Lambda function.
 * secrets.ts holds the secret lifecycle, versions.ts the values and labels, rotation.ts rotation,
 * values.ts the envelope encryption, password.ts and filters.ts the pure parts, store.ts the tables.
 */
import type { ServiceEnv, ServiceSpec } from '../../gateway/service.js';
import type { SecretsmanagerHandlers } from './api.generated.js';
import { passwordHandlers } from './passwordHandler.js';
import { rotationEngine, rotationHandlers, type RotationEngine } from './rotation.js';
import { secretHandlers } from './secrets.js';
import { createSecretsStore } from './store.js';
import { valueCrypto } from './values.js';
import { versionHandlers } from './versions.js';

export interface SecretsManagerInstance {
  handlers: SecretsmanagerHandlers;
  /** Rotations run in the background, as in AWS; tests wait for them here. */
  rotations: RotationEngine;
  close(): Promise<void>;
}

export function createSecretsManager(env: ServiceEnv): SecretsManagerInstance {
  const store = createSecretsStore(env.store, env.tags);
  const crypto = valueCrypto(env.services);
  const rotations = rotationEngine(store, env.services, env.clock);
  return {
    handlers: {
      ...secretHandlers(store, env.tags, crypto),
      ...versionHandlers(store, env.tags, crypto),
      ...rotationHandlers(store, env.services, rotations),
      ...passwordHandlers(),
    },
    rotations,
    close: () => rotations.settled(),
  };
}

export const secretsmanager: ServiceSpec<SecretsmanagerHandlers> = {
  name: 'secretsmanager',
  model: 'secretsmanager-2017-10-17',
  signingName: 'secretsmanager',
  protocols: ['json1.1'],
  // the model's constraints answer ValidationException; the service's own checks InvalidParameterException
  patch: { validationErrorCode: 'ValidationException' },
  // values are sealed through KMS in-process
  dependsOn: ['kms'],
  create: (env) => createSecretsManager(env),
};
