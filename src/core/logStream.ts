/**
 * A log stream a service writes while something runs (a build's log, a function's invocations):
 * lines go to a CloudWatch Logs group and stream through the Logs API in-process, batched for at
 * most FLUSH_MS so `aws logs tail --follow` sees them live without one PutLogEvents per line.
 * Values given to mask() never reach the log. The group and stream are created on first use.
 */
import type { ServiceCalls } from './services.js';
import type { Clock } from './clock.js';
import { log } from './log.js';

const FLUSH_MS = 100;
const MAX_BATCH_EVENTS = 5000;
const MAX_BATCH_BYTES = 900_000;
/** CloudWatch Logs takes events up to 256 KiB; longer lines are cut as AWS's agent does. */
const MAX_EVENT_BYTES = 256 * 1024 - 26;
/** Bytes of lines not yet stored past which the build's output is paused until they are. */
const MAX_BACKLOG = 4 * 1024 * 1024;

export class LogStream {
  private pending: { timestamp: number; message: string }[] = [];
  private pendingBytes = 0;
  /** Bytes added and not yet stored (pending plus batches on their way). */
  private unstored = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private chain: Promise<void> = Promise.resolve();
  private ready: Promise<boolean>;
  /** Values that must not appear in the log, longest first (so a value containing another is masked whole). */
  private secrets: string[] = [];

  constructor(
    private services: ServiceCalls,
    protected clock: Clock,
    private scope: { account: string; region: string },
    readonly groupName: string,
    readonly streamName: string,
    private enabled: boolean,
  ) {
    this.ready = enabled ? this.create() : Promise.resolve(false);
  }

  private async create() {
    try {
      await this.services.call('logs', 'CreateLogGroup', { logGroupName: this.groupName }, this.scope).catch((e) => {
        if (e?.code !== 'ResourceAlreadyExistsException') throw e;
      });
      await this.services
        .call('logs', 'CreateLogStream', { logGroupName: this.groupName, logStreamName: this.streamName }, this.scope)
        .catch((e) => {
          if (e?.code !== 'ResourceAlreadyExistsException') throw e;
        });
      return true;
    } catch (err) {
      log.warn('cannot write to CloudWatch Logs', { group: this.groupName, err: String(err) });
      return false;
    }
  }

  /** From now on every occurrence of these values in a line is written as ***. */
  mask(values: string[]) {
    this.secrets = [...new Set([...this.secrets, ...values.filter((v) => v.length > 0)])].sort((a, b) => b.length - a.length);
  }

  /** A line as is, stamped now (or at `timestamp`). */
  line(message: string, timestamp = this.clock.now()) {
    this.add(timestamp, message);
  }

  private add(timestamp: number, message: string) {
    if (!this.enabled) return;
    for (const secret of this.secrets) if (message.includes(secret)) message = message.split(secret).join('***');
    if (message.length === 0) message = ' ';
    if (Buffer.byteLength(message) > MAX_EVENT_BYTES) message = Buffer.from(message).subarray(0, MAX_EVENT_BYTES).toString('utf8');
    this.pending.push({ timestamp, message });
    const bytes = Buffer.byteLength(message) + 26;
    this.pendingBytes += bytes;
    this.unstored += bytes;
    if (this.pending.length >= MAX_BATCH_EVENTS || this.pendingBytes >= MAX_BATCH_BYTES) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), FLUSH_MS);
  }

  /** Sends what is pending; resolves when every line so far is stored. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    const bytes = this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    if (batch.length > 0)
      this.chain = this.chain.then(async () => {
        if (!(await this.ready)) return;
        try {
          await this.services.call(
            'logs',
            'PutLogEvents',
            { logGroupName: this.groupName, logStreamName: this.streamName, logEvents: batch },
            this.scope,
          );
        } catch (err) {
          log.warn('log lines lost', { group: this.groupName, lines: batch.length, err: String(err) });
        }
        this.unstored -= bytes;
      });
    return this.chain;
  }

  /** While more than MAX_BACKLOG bytes wait to be stored: a promise of when they are (the build's output waits). */
  backlog(): Promise<void> | undefined {
    return this.unstored > MAX_BACKLOG ? this.flush() : undefined;
  }
}
