/** Builds the environment every service is created from: one store, blobs, bus, clock and registries. */
import { BlobStore } from '../core/blobs.js';
import { systemClock, type Clock } from '../core/clock.js';
import { Credentials } from '../core/credentials.js';
import { EventBus } from '../core/events.js';
import { Metrics } from '../core/metrics.js';
import { ObjectStore } from '../core/objects.js';
import { GitRepos } from '../core/repos.js';
import { ServiceCalls } from '../core/services.js';
import { Store } from '../core/store.js';
import { Tags } from '../core/tags.js';
import { Targets } from '../core/targets.js';
import type { Config, ServiceEnv } from '../gateway/service.js';

export function createServiceEnv(config: Config, clock: Clock = systemClock): ServiceEnv {
  const store = new Store(config.dataDir);
  return {
    store,
    tags: new Tags(store),
    blobs: new BlobStore(config.dataDir),
    bus: new EventBus(),
    clock,
    credentials: new Credentials(store, {
      id: process.env.OPSBOX_ROOT_ACCESS_KEY_ID ?? 'test',
      secret: process.env.OPSBOX_ROOT_SECRET_ACCESS_KEY ?? 'test',
    }),
    targets: new Targets(),
    metrics: new Metrics(),
    objects: new ObjectStore(),
    services: new ServiceCalls(),
    repos: new GitRepos(),
    config,
  };
}
