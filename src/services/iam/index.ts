/** IAM: roles, managed and inline policies, users, access keys, instance profiles. Global (account-scoped). */
import type { ServiceSpec } from '../../gateway/service.js';

export const iam: ServiceSpec = {
  name: 'iam',
  model: 'iam-2010-05-08',
  signingName: 'iam',
  protocols: ['query'],
  global: true,
  patch: { validationErrorCode: 'ValidationError' },
  create: () => ({}),
};
