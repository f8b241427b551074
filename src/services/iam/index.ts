/**
 * IAM: roles, managed and inline policies, users, access keys, instance profiles. Global (account-scoped).
 * Handlers live by resource (roles.ts, policies.ts, attachments.ts, users.ts, instanceProfiles.ts);
 * the constraints below are AWS's (API reference) and feed the gateway's generic validator.
 */
import type { ServiceEnv, ServiceSpec } from '../../gateway/service.js';
import type { IamHandlers } from './api.generated.js';
import { attachmentHandlers } from './attachments.js';
import { instanceProfileHandlers } from './instanceProfiles.js';
import { policyHandlers } from './policies.js';
import { roleHandlers } from './roles.js';
import { createIamStore } from './store.js';
import { userHandlers } from './users.js';

export function createIamHandlers(env: ServiceEnv): IamHandlers {
  const store = createIamStore(env.store);
  return {
    ...roleHandlers(env, store),
    ...policyHandlers(env, store),
    ...attachmentHandlers(store),
    ...userHandlers(env, store),
    ...instanceProfileHandlers(env, store),
  };
}

const NAME = '[\\w+=,.@-]+';
const PATH = '(\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)';
const PATH_PREFIX = '\\u002F[\\u0021-\\u007F]*';

export const iam: ServiceSpec<IamHandlers> = {
  name: 'iam',
  model: 'iam-2010-05-08',
  signingName: 'iam',
  protocols: ['query'],
  global: true,
  patch: {
    validationErrorCode: 'ValidationError',
    constraints: {
      UserName: { min: 1, max: 128, pattern: NAME },
      Path: { min: 1, max: 512, pattern: PATH },
      PathPrefix: { min: 1, max: 512, pattern: PATH_PREFIX },
      Description: { max: 1000, pattern: '[\\u0009\\u000A\\u000D\\u0020-\\u007E\\u00A1-\\u00FF]*' },
    },
  },
  create: (env) => ({ handlers: createIamHandlers(env) }),
};
