/** ListActionTypes: the action types this opsbox runs, read from the provider registry. */
import { AwsError } from '../../core/errors.js';
import type { CodepipelineHandlers } from './api.generated.js';
import { actionTypes } from './providers/registry.js';

export function actionTypeHandlers(): CodepipelineHandlers {
  return {
    ListActionTypes(input) {
      if (input.nextToken !== undefined)
        throw new AwsError(
          'InvalidNextTokenException',
          'The next token was specified in an invalid format. Make sure that the next token you provide is the token returned by a previous call.',
        );
      const types = actionTypes()
        .filter((t) => input.actionOwnerFilter === undefined || t.owner === input.actionOwnerFilter)
        .sort((a, b) => `${a.category}/${a.provider}`.localeCompare(`${b.category}/${b.provider}`));
      return {
        actionTypes: types.map((t) => ({
          id: { category: t.category, owner: t.owner, provider: t.provider, version: '1' },
          settings: {},
          actionConfigurationProperties: [
            ...t.impl.required.map((name) => ({ name, required: true, key: true, secret: false })),
            ...t.impl.optional.map((name) => ({ name, required: false, key: false, secret: false })),
          ],
          inputArtifactDetails: { minimumCount: t.impl.inputs[0], maximumCount: t.impl.inputs[1] },
          outputArtifactDetails: { minimumCount: t.impl.outputs[0], maximumCount: t.impl.outputs[1] },
        })),
      };
    },
  };
}
