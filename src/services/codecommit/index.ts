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
import { templateHandlers } from './templates.js';

export function createCodecommitHandlers(env: ServiceEnv, cc = new Codecommit(env)): CodecommitHandlers {
  const prs = new PullRequests(cc);
  return {
    ...repositoryHandlers(cc),
    ...branchHandlers(cc),
    ...commitHandlers(cc),
    ...fileHandlers(cc),
    ...mergeHandlers(cc),
    ...pullRequestHandlers(cc, prs),
    ...reviewHandlers(cc, prs),
    ...templateHandlers(cc),
  };
}

export const codecommit: ServiceSpec<CodecommitHandlers> = {
  name: 'codecommit',
  model: 'codecommit-2015-04-13',
  signingName: 'codecommit',
  protocols: ['json1.1'],
  // CodeCommit answers bad values with its own exceptions (InvalidRepositoryNameException, InvalidSortByException …)
  patch: { modelConstraints: false },
  create(env) {
    // the handler table and the git route share one Codecommit: its locks, repository cache and
    // long-lived git children (cat-file, update-ref), which close() stops
    const cc = new Codecommit(env);
    return { handlers: createCodecommitHandlers(env, cc), routes: [gitHttpRoute(cc)], close: () => cc.close() };
  },
};
