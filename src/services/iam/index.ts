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
import { IamStore } from './store.js';
import { userHandlers } from './users.js';

export function createIamHandlers(env: ServiceEnv): IamHandlers {
  const deps = { store: new IamStore(env.store), env };
  return {
    ...roleHandlers(deps),
    ...policyHandlers(deps),
    ...attachmentHandlers(deps),
    ...userHandlers(deps),
    ...instanceProfileHandlers(deps),
  };
}

const NAME = '[\\w+=,.@-]+';
const PATH = '(\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)';
const PATH_PREFIX = '\\u002F[\\u0021-\\u007F]*';
const POLICY_PATH = '((/[A-Za-z0-9\\.,\\+@=_-]+)*)/';
const DOCUMENT = { min: 1, max: 131072, pattern: '[\\u0009\\u000A\\u000D\\u0020-\\u00FF]+' };

export const iam: ServiceSpec<IamHandlers> = {
  name: 'iam',
  model: 'iam-2010-05-08',
  signingName: 'iam',
  protocols: ['query'],
  global: true,
  patch: {
    validationErrorCode: 'ValidationError',
    constraints: {
      RoleName: { min: 1, max: 64, pattern: NAME },
      UserName: { min: 1, max: 128, pattern: NAME },
      'CreateUser.UserName': { min: 1, max: 64, pattern: NAME },
      NewUserName: { min: 1, max: 64, pattern: NAME },
      PolicyName: { min: 1, max: 128, pattern: NAME },
      InstanceProfileName: { min: 1, max: 128, pattern: NAME },
      Path: { min: 1, max: 512, pattern: PATH },
      NewPath: { min: 1, max: 512, pattern: PATH },
      'CreatePolicy.Path': { min: 1, max: 512, pattern: POLICY_PATH },
      PathPrefix: { min: 1, max: 512, pattern: PATH_PREFIX },
      'ListPolicies.PathPrefix': { min: 1, max: 512, pattern: POLICY_PATH },
      'ListAttachedRolePolicies.PathPrefix': { min: 1, max: 512, pattern: POLICY_PATH },
      'ListAttachedUserPolicies.PathPrefix': { min: 1, max: 512, pattern: POLICY_PATH },
      Description: { max: 1000, pattern: '[\\u0009\\u000A\\u000D\\u0020-\\u007E\\u00A1-\\u00FF]*' },
      'CreatePolicy.Description': { max: 1000 },
      AssumeRolePolicyDocument: DOCUMENT,
      PolicyDocument: DOCUMENT,
      MaxSessionDuration: { min: 3600, max: 43200 },
      PermissionsBoundary: { min: 20, max: 2048 },
      PolicyArn: { min: 20, max: 2048 },
      VersionId: { pattern: 'v[1-9][0-9]*(\\.[A-Za-z0-9-]*)?' },
      MaxItems: { min: 1, max: 1000 },
      Marker: { min: 1, max: 320, pattern: '[\\u0020-\\u00FF]+' },
      AccessKeyId: { min: 16, max: 128, pattern: '[\\w]+' },
      Status: { enum: ['Active', 'Inactive', 'Expired'] },
      Scope: { enum: ['All', 'AWS', 'Local'] },
      PolicyUsageFilter: { enum: ['PermissionsPolicy', 'PermissionsBoundary'] },
      EntityFilter: { enum: ['User', 'Role', 'Group', 'LocalManagedPolicy', 'AWSManagedPolicy'] },
      Tags: { max: 50 },
      TagKeys: { max: 50 },
    },
  },
  create: createIamHandlers,
};
