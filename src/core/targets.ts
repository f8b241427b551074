/**
 * Where one service hands work to another without reading its tables: alarm actions and
 * EventBridge targets invoke an ARN (arn:aws:sns:…, arn:aws:codebuild:…, arn:aws:codepipeline:…);
 * the service that owns that ARN's service prefix registers how to act on it. A service that is not
 * there yet simply has no invoker, and the caller records the failure as AWS would.
 */
import { parseArn } from './arn.js';

export interface TargetInvocation {
  /** The target's ARN; its service part picks the invoker. */
  arn: string;
  /** The account and region of the caller (alarm, rule); the target's own come from its ARN. */
  account: string;
  region: string;
  /** What is delivered: an SNS message, an event document, … */
  payload: string;
  /** SNS Subject, when the caller has one (alarm notifications do). */
  subject?: string;
  /** Who invokes, for logs and message attributes: "cloudwatch", "events". */
  source: string;
  /** Target-specific settings (EventBridge target fields such as Input, RoleArn). */
  options?: Record<string, unknown>;
}

export type Invoker = (inv: TargetInvocation) => void | Promise<void>;

export class Targets {
  private invokers = new Map<string, Invoker>();

  /** Registers the invoker for ARNs of `service` (the ARN's third field: "sns", "codebuild"). */
  register(service: string, invoker: Invoker) {
    this.invokers.set(service, invoker);
  }

  supports(arn: string) {
    const p = parseArn(arn);
    return !!p && this.invokers.has(p.service);
  }

  /** Invokes the target; rejects when no service handles the ARN or the invoker fails. */
  async invoke(inv: TargetInvocation): Promise<void> {
    const p = parseArn(inv.arn);
    const invoker = p && this.invokers.get(p.service);
    if (!invoker) throw new Error(`no opsbox service delivers to ${inv.arn}`);
    await invoker(inv);
  }
}
