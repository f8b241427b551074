/** What every IAM handler group is built from. */
import type { ServiceEnv } from '../../gateway/service.js';
import type { IamStore } from './store.js';

export interface IamDeps {
  store: IamStore;
  env: ServiceEnv;
}
