/** CodeCommit: repositories served over real git smart HTTP, branches, commits, files, pull requests. */
import type { ServiceSpec } from '../../gateway/service.js';
import type { CodecommitHandlers } from './api.generated.js';

export const codecommit: ServiceSpec<CodecommitHandlers> = {
  name: 'codecommit',
  model: 'codecommit-2015-04-13',
  signingName: 'codecommit',
  protocols: ['json1.1'],
  patch: {},
  create: () => ({}),
};
