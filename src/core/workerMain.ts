/** A worker thread of core/workers.ts: runs the named export of a module for each task it is sent. */
import { parentPort } from 'node:worker_threads';
import { AwsError } from './errors.js';
import type { TaskFailure } from './workers.js';

const modules = new Map<string, Promise<Record<string, (arg: unknown) => unknown>>>();

parentPort!.on('message', async (m: { id: number; module: string; fn: string; arg: unknown }) => {
  try {
    let mod = modules.get(m.module);
    if (!mod) modules.set(m.module, (mod = import(m.module)));
    const result = await (await mod)[m.fn](m.arg);
    parentPort!.postMessage({ id: m.id, result });
  } catch (err) {
    const failure: TaskFailure =
      err instanceof AwsError
        ? { aws: { code: err.code, message: err.message, status: err.status, fields: err.fields } }
        : { crash: err instanceof Error ? (err.stack ?? err.message) : String(err) };
    parentPort!.postMessage({ id: m.id, failure });
  }
});
