/**
 * Concurrency as Lambda counts it, per account and region: a function with reserved concurrency
 * runs at most that many invocations at once (0: none, the function is throttled); the functions
 * without a reservation share what the reservations leave of the account's limit (the
 * UnreservedConcurrentExecutions of GetAccountSettings). A synchronous invocation beyond its limit
 * is refused with 429 TooManyRequestsException; an Event invocation waits in its queue (async.ts).
 *
 * Leases are counted in memory: they are invocations of this process, gone with it.
 */
import type { Scope } from '../../core/arn.js';
import type { AsyncTables, FunctionRow } from './store.js';

export type ThrottleReason = 'ReservedFunctionConcurrentInvocationLimitExceeded' | 'ConcurrentInvocationLimitExceeded';

export interface Lease {
  release(): void;
}

/** Lambda keeps this much of the account's concurrency for the functions without a reservation. */
export const minimumUnreserved = (accountLimit: number) => Math.min(100, Math.floor(accountLimit / 10));

export class ConcurrencyLimits {
  private byFunction = new Map<number, number>();
  /** In-flight invocations of functions without a reservation, per "account|region". */
  private unreserved = new Map<string, number>();
  private releasedListeners: ((fn: FunctionRow) => void)[] = [];

  constructor(
    private tables: Pick<AsyncTables, 'reserved' | 'reservedSum'>,
    readonly accountLimit: number,
  ) {}

  /** Called after each lease ends (the async engine wakes the events that were waiting for a slot). */
  onRelease(fn: (fn: FunctionRow) => void) {
    this.releasedListeners.push(fn);
  }

  /** The concurrency the scope's functions without a reservation share. */
  unreservedLimit(scope: Scope) {
    return this.accountLimit - this.tables.reservedSum(scope);
  }

  inFlight(fn: FunctionRow) {
    return this.byFunction.get(fn.id) ?? 0;
  }

  /** A lease for one invocation, or why the function is throttled. */
  acquire(fn: FunctionRow): Lease | { throttled: ThrottleReason } {
    const reserved = this.tables.reserved(fn.id);
    const key = `${fn.account}|${fn.region}`;
    const running = this.byFunction.get(fn.id) ?? 0;
    if (reserved !== undefined) {
      if (running >= reserved) return { throttled: 'ReservedFunctionConcurrentInvocationLimitExceeded' };
    } else if ((this.unreserved.get(key) ?? 0) >= this.unreservedLimit(fn)) return { throttled: 'ConcurrentInvocationLimitExceeded' };
    const shared = reserved === undefined;
    this.byFunction.set(fn.id, running + 1);
    if (shared) this.unreserved.set(key, (this.unreserved.get(key) ?? 0) + 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        const n = (this.byFunction.get(fn.id) ?? 1) - 1;
        if (n > 0) this.byFunction.set(fn.id, n);
        else this.byFunction.delete(fn.id);
        if (shared) {
          const u = (this.unreserved.get(key) ?? 1) - 1;
          if (u > 0) this.unreserved.set(key, u);
          else this.unreserved.delete(key);
        }
        for (const l of this.releasedListeners) l(fn);
      },
    };
  }
}
