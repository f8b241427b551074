/**
 * AddTagsToResource, RemoveTagsFromResource and ListTagsForResource for ResourceType Parameter
 * (ResourceId the parameter's name or ARN), on core_tags by the parameter's ARN. The other
 * resource types SSM tags (documents, maintenance windows, managed instances…) are not served by
 * opsbox, so no id of theirs exists: InvalidResourceId, as AWS answers for an unknown id.
 */
import { AwsError } from '../../core/errors.js';
import { tagMapOf, type Tags } from '../../core/tags.js';
import type { RequestContext } from '../../gateway/context.js';
import type { SsmHandlers } from './api.generated.js';
import { parameterArn } from './names.js';
import { findParameter, ssmTagRules } from './parameters.js';
import type { SsmStore } from './store.js';

export function tagHandlers(store: SsmStore, tags: Tags): SsmHandlers {
  function arnOf(ctx: RequestContext, input: { ResourceType: string; ResourceId: string }) {
    const p = input.ResourceType === 'Parameter' ? findParameter(store, ctx, input.ResourceId) : undefined;
    if (!p) throw new AwsError('InvalidResourceId', '', 400);
    return parameterArn(ctx, p.name);
  }

  return {
    AddTagsToResource(input, ctx) {
      tags.add(arnOf(ctx, input), tagMapOf(input.Tags, ssmTagRules.errors), ssmTagRules);
      return {};
    },

    RemoveTagsFromResource(input, ctx) {
      tags.remove(arnOf(ctx, input), input.TagKeys);
      return {};
    },

    ListTagsForResource(input, ctx) {
      return { TagList: tags.list(arnOf(ctx, input)) };
    },
  };
}
