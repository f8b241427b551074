/**
 * Waiting for work another service runs (a build, a deployment): the outcome is checked when that
 * service's state-change event arrives on the bus, on a slow poll as a safety net (and after a
 * restart), and the work is stopped when the execution is abandoned.
 */
import type { BusEvent } from '../../../core/events.js';
import { failed, type ActionContext, type ActionResult } from './registry.js';

export interface ExternalWork {
  /** The result once the work is over, undefined while it runs; a throw fails the action with its message. */
  check(): Promise<ActionResult | undefined>;
  /** Whether a bus event may mean the work is over (the check then runs at once). */
  concerns(e: BusEvent): boolean;
  /** Stops the work when the pipeline execution is abandoned. */
  stop(): Promise<unknown>;
  /** Added to the result: the id and console URL of the work. */
  externalExecutionId: string;
  externalExecutionUrl?: string;
}

const POLL_MS = 5000;

export function awaitExternal(ctx: ActionContext, work: ExternalWork): Promise<ActionResult> {
  return new Promise((resolve) => {
    let done = false;
    let timer: { cancel(): void } | undefined;
    const finish = (r: ActionResult) => {
      if (done) return;
      done = true;
      unsubscribe();
      timer?.cancel();
      ctx.signal.removeEventListener('abort', onAbort);
      resolve({ ...r, externalExecutionId: work.externalExecutionId, externalExecutionUrl: work.externalExecutionUrl });
    };
    const check = async () => {
      if (done) return;
      try {
        const r = await work.check();
        if (r) finish(r);
      } catch (err) {
        finish(failed(String((err as Error).message ?? err), 'JobFailed'));
      }
    };
    const poll = () => {
      timer = ctx.env.clock.setTimeout(() => void check().then(() => !done && poll()), POLL_MS);
    };
    const unsubscribe = ctx.env.bus.subscribe((e) => {
      if (e.account === ctx.account && work.concerns(e)) void check();
    });
    const onAbort = () => {
      work.stop().catch(() => {});
      finish(failed('Stopped', 'JobFailed'));
    };
    ctx.signal.addEventListener('abort', onAbort);
    void check();
    poll();
  });
}
