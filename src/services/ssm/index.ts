/**
 * Systems Manager Parameter Store (only Parameter Store: SSM's other operations are not in the
 * handler table, so opsbox answers them as not implemented). parameters.ts holds the parameter
 * operations, labels.ts the labels, tags.ts the tags, names.ts and filters.ts AWS's rules for
 * names and filters, secure.ts SecureString encryption through KMS (called in-process),
 * publicParameters.ts the public /aws/service/… parameters, store.ts the tables. Regional.
 */
import type { ServiceEnv, ServiceSpec } from '../../gateway/service.js';
import type { SsmHandlers } from './api.generated.js';
import { labelHandlers } from './labels.js';
import { parameterHandlers } from './parameters.js';
import { secureValues } from './secure.js';
import { createSsmStore } from './store.js';
import { tagHandlers } from './tags.js';

export function createSsmHandlers(env: ServiceEnv): SsmHandlers {
  const store = createSsmStore(env.store);
  return {
    ...parameterHandlers(env, store, env.tags, secureValues(env.services)),
    ...labelHandlers(env, store),
    ...tagHandlers(store, env.tags),
  };
}

export const ssm: ServiceSpec<SsmHandlers> = {
  name: 'ssm',
  model: 'ssm-2014-11-06',
  signingName: 'ssm',
  protocols: ['json1.1'],
  patch: { validationErrorCode: 'ValidationException' },
  dependsOn: ['kms'],
  create: (env) => ({ handlers: createSsmHandlers(env) }),
};
