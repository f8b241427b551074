/**
 * CodeCommit: repositories served over real git smart HTTP (http.ts), branches, commits, files,
 * pull requests and merges, all against bare git repositories under <dataDir>/codecommit.
 * Every reference change publishes "CodeCommit Repository State Change" on the internal bus.
 */
import type { ServiceEnv, ServiceSpec } from '../../gateway/service.js';
import type { CodecommitHandlers } from './api.generated.js';
import { branchHandlers } from './branches.js';
import { commitHandlers } from './commits.js';
import { fileHandlers } from './files.js';
import { Codecommit } from './context.js';
import { gitHttpRoute } from './http.js';
import { mergeHandlers } from './merges.js';
import { pullRequestHandlers, PullRequests } from './pullRequests.js';
import { repositoryHandlers } from './repositories.js';
import { reviewHandlers } from './reviews.js';

/** One Codecommit per environment: the handler table and the git route share its locks. */
const instances = new WeakMap<ServiceEnv, Codecommit>();
/** Every instance, so close() can stop their git children (cat-file, update-ref). */
const live = new Set<Codecommit>();
function instance(env: ServiceEnv) {
  let cc = instances.get(env);
  if (!cc) {
    instances.set(env, (cc = new Codecommit(env)));
    live.add(cc);
  }
  return cc;
}

export function createCodecommitHandlers(env: ServiceEnv): CodecommitHandlers {
  const cc = instance(env);
  const prs = new PullRequests(cc);
  return {
    ...repositoryHandlers(cc),
    ...branchHandlers(cc),
    ...commitHandlers(cc),
    ...fileHandlers(cc),
    ...mergeHandlers(cc),
    ...pullRequestHandlers(cc, prs),
    ...reviewHandlers(cc, prs),
  };
}

export const codecommit: ServiceSpec<CodecommitHandlers> = {
  name: 'codecommit',
  model: 'codecommit-2015-04-13',
  signingName: 'codecommit',
  protocols: ['json1.1'],
  patch: {},
  create: createCodecommitHandlers,
  httpRoutes: (env) => [gitHttpRoute(instance(env))],
  close() {
    for (const cc of live) cc.close();
  },
};
