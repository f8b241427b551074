/**
 * A build's log: CloudWatch Logs group /aws/codebuild/<project>, stream <build uuid>, written while
 * the build runs (core/logStream.ts). CodeBuild's own lines carry AWS's
 * "[Container] 2026/11/26 04:01:00.123456 " prefix.
 */
import { LogStream } from '../../../core/logStream.js';

export function containerPrefix(ms: number) {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `[Container] ${d.getUTCFullYear()}/${p(d.getUTCMonth() + 1)}/${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds() * 1000, 6)} `;
}

/** The build's log stream, with CodeBuild's own lines prefixed as AWS prefixes them. */
export class BuildLog extends LogStream {
  /** A line of CodeBuild's own, with the [Container] prefix. */
  system(message: string) {
    const now = this.clock.now();
    this.line(containerPrefix(now) + message, now);
  }

  /** A line the build's commands printed, as is. */
  output(line: string) {
    this.line(line);
  }
}
