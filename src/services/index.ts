/** Every service opsbox serves. Adding one: docs/adding-a-service.md. */
import type { ServiceSpec } from '../gateway/service.js';
import { sts } from './sts/index.js';

export function allServices(): ServiceSpec[] {
  return [sts];
}
