/**
 * ECR: a real OCI registry at /v2/ on opsbox's port (registry.ts; docker, podman and skopeo push and
 * pull there with the credentials GetAuthorizationToken gives, auth.ts) and the ECR API over the
 * same repositories (repositories.ts). store.ts holds repositories, content-addressed blobs,
 * manifests and tags; manifests.ts reads manifests. Pushes and deletes are published as
 * "ECR Image Action" events. scanning.ts scans images (scan/: layers read for packages, matched
 * against the OSV feed in OPSBOX_VULN_DB), on request and on push.
 */
import type { ServiceEnv, ServiceInstance, ServiceSpec } from '../../gateway/service.js';
import type { EcrHandlers } from './api.generated.js';
import { registryAuth } from './auth.js';
import { registryRoute, type RegistryHooks } from './registry.js';
import { repoLookup, repositoryHandlers } from './repositories.js';
import { scanning } from './scanning.js';
import { createEcrStore, type RepoRow } from './store.js';

export function createEcr(env: ServiceEnv): ServiceInstance<EcrHandlers> {
  const store = createEcrStore(env.store, env.blobs, env.tags);
  const auth = registryAuth(store, env.credentials, env.config.auth === 'strict');
  const requireRepo = repoLookup(store);
  const scans = scanning(env, store, requireRepo);
  const imageAction = (repo: RepoRow, action: 'PUSH' | 'DELETE', digest: string, tag: string | undefined) =>
    env.bus.publish({
      'detail-type': 'ECR Image Action',
      source: 'aws.ecr',
      account: repo.account,
      region: repo.region,
      resources: [],
      detail: { result: 'SUCCESS', 'repository-name': repo.name, 'image-digest': digest, 'action-type': action, 'image-tag': tag },
    });
  const hooks: RegistryHooks = {
    pushed: (repo, image, tag) => {
      imageAction(repo, 'PUSH', image.digest, tag);
      scans.pushed(repo, image);
    },
    deleted: (repo, digest, tag) => imageAction(repo, 'DELETE', digest, tag),
  };
  return {
    handlers: { ...repositoryHandlers(env, store, env.tags, auth, requireRepo), ...scans.handlers },
    routes: [registryRoute(env, store, auth, hooks)],
    start: scans.start,
    close: scans.close,
  };
}

export const ecr: ServiceSpec<EcrHandlers> = {
  name: 'ecr',
  model: 'ecr-2015-09-21',
  signingName: 'ecr',
  protocols: ['json1.1'],
  patch: { validationErrorCode: 'InvalidParameterException' },
  create: createEcr,
};
