/**
 * Worker threads for CPU-heavy request work that needs no state (parsing and preparing a large
 * request body), so a multi-core machine serves more than one core's worth: the event loop keeps
 * HTTP and storage, a worker turns bytes into the few rows the handler writes. A task names an
 * exported function of a module; it gets one structured-cloneable argument and returns one.
 * An AwsError thrown in a worker is thrown again, as an AwsError, in the caller.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { AwsError } from './errors.js';

const WORKER_MAIN = new URL('./workerMain.js', import.meta.url);

export type TaskFailure =
  { aws: { code: string; message: string; status: number; fields: Record<string, string | number> } } | { crash: string };

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

class TaskWorker {
  readonly worker = new Worker(WORKER_MAIN);
  readonly pending = new Map<number, Pending>();

  constructor() {
    this.worker.unref();
    this.worker.on('message', (m: { id: number; result?: unknown; failure?: TaskFailure }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (!m.failure) p.resolve(m.result);
      else if ('aws' in m.failure)
        p.reject(new AwsError(m.failure.aws.code, m.failure.aws.message, m.failure.aws.status, m.failure.aws.fields));
      else p.reject(new Error(m.failure.crash));
    });
    this.worker.on('error', (err) => {
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    });
  }
}

/** Modules of tasks run on this thread (WorkerPool.here), loaded once. */
const local = new Map<string, Promise<Record<string, (arg: unknown) => unknown>>>();

export class WorkerPool {
  private workers: TaskWorker[] = [];
  private seq = 0;

  /** Runs a task on this thread instead, with the same contract (for when a worker would not pay off). */
  async here<T>(module: string, fn: string, arg: unknown): Promise<T> {
    let mod = local.get(module);
    if (!mod) local.set(module, (mod = import(module)));
    return (await mod)[fn](arg) as T;
  }

  /** `size` defaults to one worker per core beyond the first (at least one). */
  constructor(private readonly size = Math.max(1, availableParallelism() - 1)) {}

  run<T>(module: string, fn: string, arg: unknown): Promise<T> {
    if (this.workers.length < this.size) this.workers.push(new TaskWorker());
    // the least busy worker
    let w = this.workers[0];
    for (const x of this.workers) if (x.pending.size < w.pending.size) w = x;
    const id = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      w.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      w.worker.postMessage({ id, module, fn, arg });
    });
  }

  async close() {
    const all = this.workers;
    this.workers = [];
    await Promise.all(all.map((w) => w.worker.terminate()));
  }
}
