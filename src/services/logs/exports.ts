/**
 * Export tasks: CreateExportTask / DescribeExportTasks / CancelExportTask, and the exporter that
 * really writes a group's events to S3 in AWS's layout: `aws-logs-write-test` at the prefix when the
 * task is created, then `<prefix>/<taskId>/<logStreamName>/000000.gz`, one gzip of
 * "<ISO timestamp> <message>" lines per stream with events in [from, to]. Events are read a page at
 * a time and streamed through gzip into S3, so no export holds a stream in memory. One task per
 * account is active at a time, as in AWS; a task a stopped process left unfinished runs again at start.
 */
import { randomUUID } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { AwsError } from '../../core/errors.js';
import { log } from '../../core/log.js';
import { decodeToken, encodeToken } from '../../core/pagination.js';
import type { ServiceCalls } from '../../core/services.js';
import type { Clock } from '../../core/clock.js';
import type { LogsHandlers } from './api.generated.js';
import type { ExportTaskRow, FilterStore } from './filterStore.js';
import type { LogsStore, Position } from './store.js';

const PAGE = 1000;
const invalid = (message: string) => new AwsError('InvalidParameterException', message, 400);

const view = (t: ExportTaskRow) => ({
  taskId: t.task_id,
  taskName: t.name ?? undefined,
  logGroupName: t.group_name,
  from: t.from_ts,
  to: t.to_ts,
  destination: t.bucket,
  destinationPrefix: t.prefix,
  status: { code: t.status, message: t.message ?? undefined },
  executionInfo: { creationTime: t.created, completionTime: t.completed ?? undefined },
});

export class Exporter {
  private running = new Map<string, { cancelled: boolean }>();

  constructor(
    private store: LogsStore,
    private filters: FilterStore,
    private services: ServiceCalls,
    private clock: Clock,
  ) {}

  /** Runs the tasks a stopped process left PENDING or RUNNING (a cancel it was asked for completes now). */
  resume() {
    for (const t of this.filters.unfinishedTasks()) {
      if (t.status === 'PENDING_CANCEL') this.filters.setStatus(t, 'CANCELLED', 'Cancelled by user', this.clock.now());
      else this.run(t);
    }
  }

  cancel(t: ExportTaskRow) {
    const r = this.running.get(t.task_id);
    if (r) {
      r.cancelled = true;
      this.filters.setStatus(t, 'PENDING_CANCEL', 'Cancellation requested', null);
    } else this.filters.setStatus(t, 'CANCELLED', 'Cancelled by user', this.clock.now());
  }

  run(t: ExportTaskRow) {
    const state = { cancelled: false };
    this.running.set(t.task_id, state);
    this.filters.setStatus(t, 'RUNNING', 'Started successfully', null);
    this.export(t, state)
      .then(
        () =>
          state.cancelled
            ? this.filters.setStatus(t, 'CANCELLED', 'Cancelled by user', this.clock.now())
            : this.filters.setStatus(t, 'COMPLETED', 'Completed successfully', this.clock.now()),
        (err: Error) => {
          log.warn(`logs: export task ${t.task_id} failed: ${err.message}`);
          this.filters.setStatus(t, 'FAILED', err.message, this.clock.now());
        },
      )
      .finally(() => this.running.delete(t.task_id));
  }

  private async export(t: ExportTaskRow, state: { cancelled: boolean }) {
    const scope = { account: t.account, region: t.region };
    const group = this.store.findGroup(scope, t.group_name);
    if (!group) throw new Error(`The log group ${t.group_name} no longer exists.`);
    const streams = [...this.store.streamNames(group)].filter(([, name]) => !t.stream_prefix || name.startsWith(t.stream_prefix));
    for (const [, name] of streams) {
      if (state.cancelled) return;
      const stream = this.store.findStream(group, name);
      if (!stream || stream.last_ts === null || stream.last_ts < t.from_ts || (stream.first_ts ?? 0) > t.to_ts) continue;
      const gzip = createGzip();
      const body = gzip.pipe(new PassThrough());
      const upload = this.services.call(
        's3',
        'PutObject',
        { Bucket: t.bucket, Key: `${t.prefix}/${t.task_id}/${name}/000000.gz`, Body: body },
        scope,
      );
      let pos: Position = { ts: t.from_ts - 1, id: Number.MAX_SAFE_INTEGER };
      for (;;) {
        const page: { ts: number; id: number; message: string }[] = [];
        for (const row of this.store.streamForward(stream, pos, t.from_ts, t.to_ts + 1)) {
          page.push(row);
          if (page.length >= PAGE) break;
        }
        if (!page.length || state.cancelled) break;
        const text = page.map((e) => `${new Date(e.ts).toISOString()} ${e.message}\n`).join('');
        if (!gzip.write(text)) await new Promise((r) => gzip.once('drain', r));
        pos = { ts: page[page.length - 1].ts, id: page[page.length - 1].id };
        if (page.length < PAGE) break;
      }
      gzip.end();
      await upload;
    }
  }
}

export function exportHandlers(store: LogsStore, filters: FilterStore, services: ServiceCalls, exporter: Exporter): LogsHandlers {
  return {
    async CreateExportTask(input, ctx) {
      store.requireGroup(ctx, input.logGroupName);
      if (input.from > input.to) throw invalid('The specified time range is not valid: from is after to.');
      if (filters.activeTask(ctx.account)) throw new AwsError('LimitExceededException', 'Resource limit exceeded.', 400);
      const prefix = (input.destinationPrefix ?? 'exportedlogs').replace(/^\/+|\/+$/g, '') || 'exportedlogs';
      try {
        // AWS writes this object first to check that it may write to the bucket
        await services.call(
          's3',
          'PutObject',
          {
            Bucket: input.destination,
            Key: `${prefix}/aws-logs-write-test`,
            Body: Readable.from([Buffer.from('Permission Check Successful')]),
          },
          ctx,
        );
      } catch (err) {
        log.debug(`logs: export write test to ${input.destination} failed: ${(err as Error).message} (${(err as { code?: string }).code})`);
        if ((err as { code?: string }).code === 'NoSuchBucket')
          throw invalid('The given bucket does not exist. Please make sure the bucket is valid.');
        throw invalid(
          'GetBucketAcl call on the given bucket failed. Please check if CloudWatch Logs has been granted permission to perform this operation.',
        );
      }
      const task: ExportTaskRow = {
        task_id: randomUUID(),
        account: ctx.account,
        region: ctx.region,
        name: input.taskName ?? null,
        group_name: input.logGroupName,
        stream_prefix: input.logStreamNamePrefix ?? null,
        from_ts: input.from,
        to_ts: input.to,
        bucket: input.destination,
        prefix,
        status: 'PENDING',
        message: 'Pending',
        created: ctx.clock.now(),
        completed: null,
      };
      filters.insertTask(task);
      exporter.run(task);
      return { taskId: task.task_id };
    },

    DescribeExportTasks(input, ctx) {
      if (input.taskId !== undefined) {
        const t = filters.task(ctx, input.taskId);
        if (!t) throw new AwsError('ResourceNotFoundException', 'The specified export task does not exist.', 400);
        return { exportTasks: input.statusCode === undefined || t.status === input.statusCode ? [view(t)] : [] };
      }
      const all = filters.tasks(ctx).filter((t) => input.statusCode === undefined || t.status === input.statusCode);
      const start =
        input.nextToken === undefined ? 0 : Number(decodeToken(input.nextToken, () => invalid('The specified nextToken is invalid.')));
      const limit = input.limit ?? 50;
      return {
        exportTasks: all.slice(start, start + limit).map(view),
        nextToken: start + limit < all.length ? encodeToken(start + limit) : undefined,
      };
    },

    CancelExportTask(input, ctx) {
      const t = filters.task(ctx, input.taskId);
      if (!t) throw new AwsError('ResourceNotFoundException', 'The specified export task does not exist.', 400);
      if (t.status !== 'PENDING' && t.status !== 'RUNNING')
        throw new AwsError('InvalidOperationException', `The export task is not in a cancellable state: ${t.status}.`, 400);
      exporter.cancel(t);
    },
  };
}
