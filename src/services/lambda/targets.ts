/**
 * Lambda as a target of other services: EventBridge rules, SNS 'lambda' subscriptions and
 * CloudWatch alarm actions invoke arn:aws:lambda:… through env.targets. AWS invokes these
 * asynchronously (InvocationType Event) with the event its source builds — the EventBridge event
 * (or the target's Input), SNS's {Records:[{EventSource:'aws:sns', Sns:{…}}]}, the alarm's state
 * change — so the payload arrives here as it goes to the function. A function that is not there,
 * or cannot be queued, rejects: the source records the failed delivery as it does for any target.
 */
import { parseArn } from '../../core/arn.js';
import type { ServiceEnv } from '../../gateway/service.js';
import type { TargetInvocation } from '../../core/targets.js';

/** `queue` is the durable Event queue (async.ts): an invocation is acknowledged once queued. */
export function registerLambdaTargets(env: ServiceEnv, queue: { invokeTarget(inv: TargetInvocation): void }) {
  env.targets.register('lambda', async (inv) => {
    const p = parseArn(inv.arn)!;
    if (!/^function:[^:]+(:[^:]+)?$/.test(p.resource)) throw new Error(`${inv.arn} is not a Lambda function ARN`);
    // a function's event is JSON: an input transformer's plain text arrives as a JSON string
    let payload = inv.payload;
    try {
      JSON.parse(payload);
    } catch {
      payload = JSON.stringify(payload);
    }
    queue.invokeTarget({ ...inv, payload });
  });
}
