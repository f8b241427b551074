/**
 * http(s) delivery policies: AWS's default, the policy in force for a subscription (topic's
 * defaults, the subscription's own unless overrides are disabled) and the retry schedule it gives.
 */

export const DEFAULT_HTTP_POLICY = {
  http: {
    defaultHealthyRetryPolicy: {
      minDelayTarget: 20,
      maxDelayTarget: 20,
      numRetries: 3,
      numMaxDelayRetries: 0,
      numNoDelayRetries: 0,
      numMinDelayRetries: 0,
      backoffFunction: 'linear',
    },
    disableSubscriptionOverrides: false,
    defaultRequestPolicy: { headerContentType: 'text/plain; charset=UTF-8' },
  },
};

export interface RetryPolicy {
  minDelayTarget: number;
  maxDelayTarget: number;
  numRetries: number;
  numMaxDelayRetries: number;
  numNoDelayRetries: number;
  numMinDelayRetries: number;
  backoffFunction: string;
}

/** The delays in seconds before each retry of an attempt that failed, per AWS's four phases. */
export function retryDelays(p: RetryPolicy): number[] {
  const out: number[] = [];
  for (let i = 0; i < p.numNoDelayRetries; i++) out.push(0);
  for (let i = 0; i < p.numMinDelayRetries; i++) out.push(p.minDelayTarget);
  const backoff = Math.max(0, p.numRetries - p.numNoDelayRetries - p.numMinDelayRetries - p.numMaxDelayRetries);
  const span = p.maxDelayTarget - p.minDelayTarget;
  for (let k = 1; k <= backoff; k++) {
    const x = k / backoff;
    const f = { arithmetic: x * x, geometric: 1 - (1 - x) * (1 - x), exponential: x ** 3, linear: x }[p.backoffFunction] ?? x;
    out.push(Math.round(p.minDelayTarget + span * f));
  }
  for (let i = 0; i < p.numMaxDelayRetries; i++) out.push(p.maxDelayTarget);
  return out.slice(0, p.numRetries);
}

/** The http(s) retry policy in force for a subscription: its own, unless the topic forbids overrides. */
export function effectiveRetryPolicy(topicAttrs: Record<string, string>, subAttrs: Record<string, string>): RetryPolicy {
  const topic = jsonOr(topicAttrs.DeliveryPolicy)?.http ?? {};
  const base = { ...DEFAULT_HTTP_POLICY.http.defaultHealthyRetryPolicy, ...topic.defaultHealthyRetryPolicy };
  const sub = jsonOr(subAttrs.DeliveryPolicy)?.healthyRetryPolicy;
  return sub && !topic.disableSubscriptionOverrides ? { ...base, ...sub } : base;
}

/**
 * A DeliveryPolicy attribute as SNS reads it: a topic's (`http`) or a subscription's (top level).
 * Parsed from what a user set, so every member is optional.
 */
export interface DeliveryPolicyDoc {
  http?: {
    defaultHealthyRetryPolicy?: Partial<RetryPolicy>;
    disableSubscriptionOverrides?: boolean;
    defaultRequestPolicy?: { headerContentType?: string };
  };
  healthyRetryPolicy?: Partial<RetryPolicy>;
  requestPolicy?: { headerContentType?: string };
}

export function jsonOr(text: string | undefined): DeliveryPolicyDoc | undefined {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
