/**
 * Topic handlers: CreateTopic (idempotent for the same name, attributes and tags), Get/SetTopicAttributes,
 * ListTopics, DeleteTopic (idempotent) and tagging. Only user-set attributes are stored; Policy,
 * EffectiveDeliveryPolicy, Owner and the subscription counts are filled in when read.
 */
import { arn } from '../../core/arn.js';
import { AwsError } from '../../core/errors.js';
import type { RequestContext } from '../../gateway/context.js';
import { authorize, defaultPolicy } from './access.js';
import type { SnsHandlers } from './api.generated.js';
import { DEFAULT_HTTP_POLICY } from './retryPolicy.js';
import { page, parseTopicArn, readPageToken, type SnsStore, type TopicRow } from './store.js';
import { checkTags, tagMapOf, type TagRules, type Tags } from '../../core/tags.js';

const invalid = (what: string) => new AwsError('InvalidParameter', `Invalid parameter: ${what}`, 400);

const TOPIC_NAME = /^[A-Za-z0-9_-]{1,256}$/;
const FIFO_TOPIC_NAME = /^[A-Za-z0-9_-]{1,251}\.fifo$/;

/** Attributes a user may set (CreateTopic also takes FifoTopic). */
const SETTABLE = new Set([
  'DeliveryPolicy',
  'DisplayName',
  'Policy',
  'TracingConfig',
  'KmsMasterKeyId',
  'SignatureVersion',
  'ContentBasedDeduplication',
  'ArchivePolicy',
  'FifoThroughputScope',
  'DataProtectionPolicy',
  ...['HTTP', 'Firehose', 'Lambda', 'SQS', 'Application'].flatMap((p) => [
    `${p}SuccessFeedbackRoleArn`,
    `${p}SuccessFeedbackSampleRate`,
    `${p}FailureFeedbackRoleArn`,
  ]),
]);

function checkAttribute(name: string, value: string, fifo: boolean) {
  if (!SETTABLE.has(name)) throw invalid('AttributeName');
  if ((name === 'Policy' || name === 'DeliveryPolicy' || name === 'ArchivePolicy') && value !== '') {
    try {
      JSON.parse(value);
    } catch {
      throw invalid(`${name}: failed to parse JSON.`);
    }
  }
  if (name === 'SignatureVersion' && !['1', '2'].includes(value)) throw invalid('SignatureVersion');
  if (name === 'TracingConfig' && !['Active', 'PassThrough'].includes(value)) throw invalid('TracingConfig');
  if (name === 'ContentBasedDeduplication') {
    if (!fifo) throw invalid('ContentBasedDeduplication Reason: Content based deduplication can only be set for FIFO topics');
    if (!['true', 'false'].includes(value)) throw invalid('ContentBasedDeduplication');
  }
  if (name === 'DisplayName' && value.length > 100) throw invalid('DisplayName');
}

/** SNS's wording for tags that break the rules. */
const tagRules: TagRules = {
  errors(p) {
    switch (p.kind) {
      case 'tooMany':
        return new AwsError('TagLimitExceeded', 'Could not complete request: tag quota of per resource exceeded', 400);
      case 'duplicateKey':
        return invalid('Duplicated keys are not allowed.');
      case 'keyLength':
        return invalid('Tags Reason: Tag key must be between 1 and 128 characters');
      case 'valueLength':
        return invalid('Tags Reason: Tag value must be between 0 and 256 characters');
      case 'reservedKey':
        return invalid("Tags Reason: Tag keys must not start with 'aws:'");
    }
  },
};

/** The topic a TopicArn names, in the request's region; InvalidParameter / NotFound otherwise. */
export function topicFor(store: SnsStore, topicArn: string | undefined, ctx: RequestContext, member = 'TopicArn'): TopicRow {
  const p = parseTopicArn(topicArn, member);
  if (p.region !== ctx.region) throw invalid(member);
  return store.requireTopic(topicArn!);
}

export function topicAttributes(store: SnsStore, topic: TopicRow): Record<string, string> {
  const attrs = JSON.parse(topic.attributes) as Record<string, string>;
  const counts = store.subCounts(topic);
  return {
    Policy: attrs.Policy || defaultPolicy(topic.arn, topic.account),
    Owner: topic.account,
    SubscriptionsPending: String(counts.pending),
    TopicArn: topic.arn,
    EffectiveDeliveryPolicy: attrs.DeliveryPolicy || JSON.stringify(DEFAULT_HTTP_POLICY),
    SubscriptionsConfirmed: String(counts.confirmed),
    DisplayName: attrs.DisplayName ?? '',
    SubscriptionsDeleted: String(counts.deleted),
    ...Object.fromEntries(Object.entries(attrs).filter(([k]) => k !== 'Policy' && k !== 'DisplayName')),
  };
}

export function topicHandlers(store: SnsStore, tags: Tags): SnsHandlers {
  /** The topic a tag operation names, in the request's region; another account's is then authorized by its policy. */
  function resource(resourceArn: string, ctx: RequestContext): TopicRow {
    const t = store.topicByArn(resourceArn);
    if (!t || t.region !== ctx.region) throw new AwsError('ResourceNotFound', 'Resource does not exist', 404);
    return t;
  }

  return {
    CreateTopic(input, ctx) {
      const given = { ...input.Attributes };
      const fifo = given.FifoTopic === 'true';
      if (fifo) {
        if (!FIFO_TOPIC_NAME.test(input.Name))
          throw invalid(
            'Fifo Topic names must end with .fifo and must be made up of only uppercase and lowercase ASCII letters, numbers, underscores, and hyphens, and must be between 1 and 256 characters long.',
          );
      } else {
        if (!TOPIC_NAME.test(input.Name)) throw invalid('Topic Name');
        if ('FifoTopic' in given && given.FifoTopic !== 'false') throw invalid('FifoTopic');
      }
      delete given.FifoTopic;
      for (const [k, v] of Object.entries(given)) checkAttribute(k, v, fifo);
      const tagged = tagMapOf(input.Tags ?? [], tagRules.errors);
      checkTags(tagged, tagRules);

      const topicArn = arn('sns', ctx, input.Name);
      const existing = store.topicByArn(topicArn);
      if (existing) {
        const attrs = JSON.parse(existing.attributes) as Record<string, string>;
        if (Object.entries(given).some(([k, v]) => (attrs[k] ?? '') !== v))
          throw invalid('Attributes Reason: Topic already exists with different attributes');
        const have = tags.get(topicArn);
        if (Object.entries(tagged).some(([k, v]) => !Object.hasOwn(have, k) || have[k] !== v))
          throw invalid('Tags Reason: Topic already exists with different tags');
        return { TopicArn: topicArn };
      }
      const attrs: Record<string, string> = fifo ? { FifoTopic: 'true', ContentBasedDeduplication: 'false', ...given } : given;
      store.transaction(() => {
        store.insertTopic(ctx.account, ctx.region, input.Name, topicArn, attrs, ctx.clock.now());
        tags.add(topicArn, tagged, tagRules);
      });
      return { TopicArn: topicArn };
    },

    GetTopicAttributes(input, ctx) {
      const topic = topicFor(store, input.TopicArn, ctx);
      authorize(topic, ctx, 'GetTopicAttributes');
      return { Attributes: topicAttributes(store, topic) };
    },

    SetTopicAttributes(input, ctx) {
      const topic = topicFor(store, input.TopicArn, ctx);
      authorize(topic, ctx, 'SetTopicAttributes');
      const attrs = JSON.parse(topic.attributes) as Record<string, string>;
      const value = input.AttributeValue ?? '';
      checkAttribute(input.AttributeName, value, attrs.FifoTopic === 'true');
      if (value === '' && input.AttributeName !== 'DisplayName') delete attrs[input.AttributeName];
      else attrs[input.AttributeName] = value;
      store.setTopicAttributes(topic.id, attrs);
    },

    ListTopics(input, ctx) {
      const { items, next } = page(store.listTopics(ctx.account, ctx.region, readPageToken(input.NextToken)));
      return { Topics: items.map((t) => ({ TopicArn: t.arn })), NextToken: next };
    },

    DeleteTopic(input, ctx) {
      const p = parseTopicArn(input.TopicArn);
      if (p.region !== ctx.region) throw invalid('TopicArn');
      const topic = store.topicByArn(input.TopicArn);
      if (!topic) return;
      authorize(topic, ctx, 'DeleteTopic');
      // its subscriptions and tags go with it; http retries still waiting find them gone and stop
      store.transaction(() => {
        store.deleteTopic(topic.id);
        tags.delete(topic.arn);
      });
    },

    TagResource(input, ctx) {
      const topic = resource(input.ResourceArn, ctx);
      authorize(topic, ctx, 'TagResource');
      tags.add(topic.arn, tagMapOf(input.Tags, tagRules.errors), tagRules);
      return {};
    },

    UntagResource(input, ctx) {
      const topic = resource(input.ResourceArn, ctx);
      authorize(topic, ctx, 'UntagResource');
      tags.remove(topic.arn, input.TagKeys);
      return {};
    },

    ListTagsForResource(input, ctx) {
      const topic = resource(input.ResourceArn, ctx);
      authorize(topic, ctx, 'ListTagsForResource');
      return { Tags: tags.list(topic.arn) };
    },
  };
}
