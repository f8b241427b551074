/** X-Ray test helpers: a free port for the daemon (UDP and TCP alike), ids and segment documents. */
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';

/** A port free for both UDP and TCP on 127.0.0.1, for OPSBOX_XRAY_DAEMON_PORT. */
export async function freeDaemonPort(): Promise<number> {
  for (;;) {
    const udp = createSocket('udp4');
    const port = await new Promise<number>((ok) => udp.bind(0, '127.0.0.1', () => ok(udp.address().port)));
    const tcpFree = await new Promise<boolean>((ok) => {
      const s = createServer();
      s.once('error', () => ok(false));
      s.listen(port, '127.0.0.1', () => s.close(() => ok(true)));
    });
    udp.close();
    if (tcpFree) return port;
  }
}

export const traceId = (epochS = Math.floor(Date.now() / 1000)) =>
  `1-${epochS.toString(16).padStart(8, '0')}-${randomBytes(12).toString('hex')}`;
export const segmentId = () => randomBytes(8).toString('hex');

/** Sends one segment the way the X-Ray SDKs do: the daemon header line, then the document. */
export function daemonPacket(doc: object) {
  return Buffer.from(`{"format": "json", "version": 1}\n${JSON.stringify(doc)}`);
}
