/**
 * Labels: LabelParameterVersion (a label is on one version of its parameter at a time, so putting
 * it on another version moves it; at most 10 per version; labels AWS refuses come back in
 * InvalidLabels) and UnlabelParameterVersion.
 */
import { AwsError } from '../../core/errors.js';
import type { ServiceEnv } from '../../gateway/service.js';
import type { SsmHandlers } from './api.generated.js';
import { publishChange } from './events.js';
import { isValidLabel, MAX_LABELS } from './names.js';
import { requireParameter } from './parameters.js';
import type { SsmStore } from './store.js';

const versionNotFound = (version: number, name: string) =>
  new AwsError(
    'ParameterVersionNotFound',
    `Systems Manager could not find version ${version} of ${name}. Verify the version and try again.`,
    400,
  );

export function labelHandlers(env: ServiceEnv, store: SsmStore): SsmHandlers {
  return {
    LabelParameterVersion(input, ctx) {
      const p = requireParameter(store, ctx, input.Name, `Parameter ${input.Name} not found.`);
      const version = input.ParameterVersion ?? p.version;
      if (!store.version(p, version)) throw versionNotFound(version, p.name);
      const InvalidLabels = input.Labels.filter((l) => !isValidLabel(l));
      const valid = [...new Set(input.Labels.filter(isValidLabel))];
      const labelled = new Set([...store.labelsOf(p, version), ...valid]);
      if (labelled.size > MAX_LABELS)
        throw new AwsError(
          'ParameterVersionLabelLimitExceeded',
          `A parameter version can have maximum ${MAX_LABELS} labels. Move one or more labels to another version and try again.`,
          400,
        );
      if (valid.length) {
        store.transaction(() => {
          for (const label of valid) store.putLabel(p, label, version);
        });
        publishChange(env, ctx, p, 'LabelParameterVersion');
      }
      return { InvalidLabels, ParameterVersion: version };
    },

    UnlabelParameterVersion(input, ctx) {
      const p = requireParameter(store, ctx, input.Name, `Parameter ${input.Name} not found.`);
      if (!store.version(p, input.ParameterVersion)) throw versionNotFound(input.ParameterVersion, p.name);
      const RemovedLabels: string[] = [];
      const InvalidLabels: string[] = [];
      store.transaction(() => {
        for (const label of new Set(input.Labels)) {
          if (store.labelVersion(p, label) === input.ParameterVersion && store.removeLabel(p, label)) RemovedLabels.push(label);
          else InvalidLabels.push(label);
        }
      });
      return { RemovedLabels, InvalidLabels };
    },
  };
}
