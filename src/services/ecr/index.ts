/**
 * ECR: a real OCI registry at /v2/ on opsbox's port (registry.ts; docker, podman and skopeo push and
 * pull there with the credentials GetAuthorizationToken gives, auth.ts) and the ECR API over the
 * same repositories (repositories.ts) and images (images.ts). content.ts is what both do to content:
 * verified blob uploads, manifests checked and stored. store.ts holds repositories, content-addressed
 * blobs, manifests and tags; manifests.ts reads manifests. Lifecycle policies (lifecyclePolicies.ts,
 * the evaluator in lifecycle.ts) run on a timer the instance starts and stops; scanning.ts scans
 * images on request and on push (scan/: layers read for packages, matched against the OSV feed in
 * OPSBOX_VULN_DB). Pushes and deletes, lifecycle expiries included, are published as
 * "ECR Image Action" events.
 */
import type { ServiceEnv, ServiceInstance, ServiceSpec } from '../../gateway/service.js';
import type { EcrHandlers } from './api.generated.js';
import { registryAuth } from './auth.js';
import { blobUploads } from './content.js';
import { imageHandlers } from './images.js';
import { DEFAULT_INTERVAL_MS, LifecycleEngine, lifecycleHandlers } from './lifecyclePolicies.js';
import { registryRoute, type RegistryHooks } from './registry.js';
import { repoLookup, repositoryHandlers } from './repositories.js';
import { scanning } from './scanning.js';
import { createEcrStore, type RepoRow } from './store.js';

export interface EcrInstance extends ServiceInstance<EcrHandlers> {
  /** The lifecycle policy engine, for in-process tests. */
  lifecycle: LifecycleEngine;
}

export function createEcr(env: ServiceEnv): EcrInstance {
  const store = createEcrStore(env.store, env.blobs, env.tags);
  const auth = registryAuth(store, env.credentials, env.config.auth === 'strict');
  const requireRepo = repoLookup(store);
  const uploads = blobUploads(env, store);
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
  const interval = Number(process.env.OPSBOX_ECR_LIFECYCLE_INTERVAL_MS);
  const lifecycle = new LifecycleEngine(
    store,
    env.clock,
    (repo, digest, tag) => imageAction(repo, 'DELETE', digest, tag),
    Number.isFinite(interval) && interval > 0 ? interval : DEFAULT_INTERVAL_MS,
  );
  return {
    handlers: {
      ...repositoryHandlers(env, store, env.tags, auth, requireRepo),
      ...imageHandlers(env, store, uploads, hooks, requireRepo),
      ...lifecycleHandlers(store, requireRepo),
      ...scans.handlers,
    },
    routes: [registryRoute(env, store, auth, uploads, hooks)],
    lifecycle,
    start() {
      lifecycle.start();
      scans.start();
    },
    close() {
      lifecycle.close();
      return scans.close();
    },
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
