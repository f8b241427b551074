/**
 * Waiting in tests, in real time (HTTP round trips, builds and deliveries are real even when a
 * service's clock is not). One place for the polls every suite needs.
 */
import { BatchGetBuildsCommand, type Build, type CodeBuildClient } from '@aws-sdk/client-codebuild';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until `pred` holds for its value; the timeout error shows `what` and the last value. */
export async function waitFor<T>(what: string, fn: () => Promise<T> | T, pred: (v: T) => boolean, ms = 30_000, everyMs = 50): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (pred(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${String(JSON.stringify(v, null, 1)).slice(0, 2000)}`);
    await sleep(everyMs);
  }
}

/** Waits until a synchronous condition holds (a listener's received list, a counter). */
export async function until(cond: () => boolean, ms = 3000, everyMs = 10) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await sleep(everyMs);
  }
}

/** A build, once `done` holds for it (by default: complete). */
export async function waitBuild(
  cb: CodeBuildClient,
  id: string,
  ms = 30_000,
  done: (b: Build) => boolean = (b) => !!b.buildComplete,
): Promise<Build> {
  const end = Date.now() + ms;
  for (;;) {
    const b = (await cb.send(new BatchGetBuildsCommand({ ids: [id] }))).builds![0];
    if (done(b)) return b;
    if (Date.now() > end) throw new Error(`build ${id} still ${b.buildStatus} in ${b.currentPhase}`);
    await sleep(25);
  }
}
