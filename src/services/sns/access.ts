/**
 * Topic access policies: the default policy AWS writes for a new topic, and the cross-account check.
 * The topic's own account is always allowed (opsbox does not evaluate IAM identity policies); another
 * account needs an Allow statement in the topic policy naming it (or "*") and the action, and the
 * default policy's AWS:SourceOwner condition limits "*" to the owner — as on AWS.
 */
import { AwsError } from '../../core/errors.js';
import type { RequestContext } from '../../gateway/context.js';
import type { TopicRow } from './store.js';

export function defaultPolicy(topicArn: string, owner: string): string {
  return JSON.stringify({
    Version: '2008-10-17',
    Id: '__default_policy_ID',
    Statement: [
      {
        Sid: '__default_statement_ID',
        Effect: 'Allow',
        Principal: { AWS: '*' },
        Action: [
          'SNS:GetTopicAttributes',
          'SNS:SetTopicAttributes',
          'SNS:AddPermission',
          'SNS:RemovePermission',
          'SNS:DeleteTopic',
          'SNS:Subscribe',
          'SNS:ListSubscriptionsByTopic',
          'SNS:Publish',
        ],
        Resource: topicArn,
        Condition: { StringEquals: { 'AWS:SourceOwner': owner } },
      },
    ],
  });
}

/** A topic policy statement as read from the user's JSON: nothing in it is trusted. */
interface PolicyStatement {
  Effect?: unknown;
  Principal?: '*' | { AWS?: unknown };
  Action?: unknown;
  Condition?: { StringEquals?: Record<string, unknown> };
}

const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]);

/** Throws AuthorizationError 403 unless the caller may perform SNS:<action> on the topic. */
export function authorize(topic: TopicRow, ctx: Pick<RequestContext, 'account' | 'caller'>, action: string) {
  if (ctx.account === topic.account) return;
  const attrs = JSON.parse(topic.attributes) as Record<string, string>;
  let policy: { Statement?: unknown };
  try {
    policy = JSON.parse(attrs.Policy ?? defaultPolicy(topic.arn, topic.account));
  } catch {
    policy = {};
  }
  const who = [ctx.account, `arn:aws:iam::${ctx.account}:root`, ctx.caller.arn];
  const allowed = list(policy.Statement).some((statement) => {
    const s = statement as PolicyStatement | null;
    if (s?.Effect !== 'Allow') return false;
    const principals = s.Principal === '*' ? ['*'] : list(s.Principal?.AWS);
    if (!principals.some((p) => p === '*' || who.includes(String(p)))) return false;
    const actions = list(s.Action).map((a) => String(a).toLowerCase());
    if (!actions.some((a) => a === '*' || a === 'sns:*' || a === `sns:${action.toLowerCase()}`)) return false;
    const owner = s.Condition?.StringEquals?.['AWS:SourceOwner'] ?? s.Condition?.StringEquals?.['aws:SourceOwner'];
    return owner === undefined || list(owner).includes(ctx.account);
  });
  if (!allowed)
    throw new AwsError(
      'AuthorizationError',
      `User: ${ctx.caller.arn} is not authorized to perform: SNS:${action} on resource: ${topic.arn} because no resource-based policy allows the SNS:${action} action`,
      403,
    );
}
