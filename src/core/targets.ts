/**
 * Where one service hands work to another without reading its tables: alarm actions and
 * EventBridge targets invoke an ARN (arn:aws:sns:…, arn:aws:codebuild:…, arn:aws:codepipeline:…);
 * the service that owns that ARN's service prefix registers how to act on it. A service that is not
 * there yet simply has no invoker, and the caller records the failure as AWS would.
 *
 * A target in another account than the caller's is refused here, unless its service registered
 * `crossAccount` and checks the target's own resource policy (SNS topic policies): one account's
 * alarm or rule never starts another account's build or pipeline, nor puts events on its bus.
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
  private invokers = new Map<string, { invoke: Invoker; crossAccount: boolean }>();

  /**
   * Registers the invoker for ARNs of `service` (the ARN's third field: "sns", "codebuild").
   * `crossAccount`: the invoker also receives targets in other accounts and authorizes them itself.
   */
  register(service: string, invoker: Invoker, opts: { crossAccount?: boolean } = {}) {
    this.invokers.set(service, { invoke: invoker, crossAccount: !!opts.crossAccount });
  }

  supports(arn: string) {
    const p = parseArn(arn);
    return !!p && this.invokers.has(p.service);
  }

  /** Invokes the target; rejects when no service handles the ARN, it is another account's, or the invoker fails. */
  async invoke(inv: TargetInvocation): Promise<void> {
    const p = parseArn(inv.arn);
    const invoker = p && this.invokers.get(p.service);
    if (!invoker) throw new Error(`no opsbox service delivers to ${inv.arn}`);
    if (p.account && p.account !== inv.account && !invoker.crossAccount)
      throw new Error(`${inv.arn} belongs to account ${p.account}; account ${inv.account} cannot invoke it`);
    await invoker.invoke(inv);
  }
}
