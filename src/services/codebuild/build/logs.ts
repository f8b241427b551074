/**
 * A build's log: lines go to CloudWatch Logs group /aws/codebuild/<project>, stream <build uuid>,
 * through the Logs API in-process, while the build runs. Lines are batched for at most FLUSH_MS so
 * `aws logs tail --follow` sees them live without one PutLogEvents per line. CodeBuild's own lines
 * carry AWS's "[Container] 2026/11/26 04:01:00.123456 " prefix.
 */
import type { ServiceCalls } from '../../../core/services.js';
import type { Clock } from '../../../core/clock.js';
import { log } from '../../../core/log.js';

const FLUSH_MS = 100;
const MAX_BATCH_EVENTS = 5000;
const MAX_BATCH_BYTES = 900_000;
/** CloudWatch Logs takes events up to 256 KiB; longer lines are cut as AWS's agent does. */
const MAX_EVENT_BYTES = 256 * 1024 - 26;
/** Bytes of lines not yet stored past which the build's output is paused until they are. */
const MAX_BACKLOG = 4 * 1024 * 1024;

export function containerPrefix(ms: number) {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `[Container] ${d.getUTCFullYear()}/${p(d.getUTCMonth() + 1)}/${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds() * 1000, 6)} `;
}

export class BuildLog {
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
    private clock: Clock,
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
      log.warn('codebuild: cannot write build logs', { group: this.groupName, err: String(err) });
      return false;
    }
  }

  /** From now on every occurrence of these values in a line is written as ***. */
  mask(values: string[]) {
    this.secrets = [...new Set([...this.secrets, ...values.filter((v) => v.length > 0)])].sort((a, b) => b.length - a.length);
  }

  /** A line of CodeBuild's own, with the [Container] prefix. */
  system(message: string) {
    const now = this.clock.now();
    this.add(now, containerPrefix(now) + message);
  }

  /** A line the build's commands printed, as is. */
  output(line: string) {
    this.add(this.clock.now(), line);
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
          log.warn('codebuild: build log lines lost', { group: this.groupName, lines: batch.length, err: String(err) });
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
