/**
 * The X-Ray daemon, built in: what the X-Ray SDKs talk to at AWS_XRAY_DAEMON_ADDRESS.
 *
 *   UDP  each datagram is a header line and a segment document:
 *        {"format": "json", "version": 1}\n{"trace_id": …}
 *        (a segment, or an independent subsegment the SDK streamed on its own). Datagrams are
 *        gathered and stored in one transaction per turn of the event loop (ingest.ts).
 *   TCP  the daemon's HTTP proxy for centralized sampling: POST /GetSamplingRules and
 *        POST /SamplingTargets, answered by this X-Ray's own sampling rules.
 *
 * Port: OPSBOX_XRAY_DAEMON_PORT (default 2000, the daemon's), "off" or "0" for none (tests that run
 * several opsboxes choose free ports). Segments belong to the default account, in the region
 * OPSBOX_XRAY_DAEMON_REGION / AWS_REGION name (default us-east-1), as the daemon's credentials would.
 */
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server } from 'node:http';
import { DEFAULT_ACCOUNT } from '../../core/credentials.js';
import { AwsError } from '../../core/errors.js';
import { log } from '../../core/log.js';
import type { Ingest } from './ingest.js';

export interface DaemonOptions {
  host: string;
  port: number | undefined;
  region: string;
  ingest: Ingest;
  /** Calls this X-Ray's API (GetSamplingRules, GetSamplingTargets) as the daemon's proxy calls AWS's. */
  call: (operation: string, input: object) => Promise<unknown>;
}

/** OPSBOX_XRAY_DAEMON_PORT read: a port, or undefined for no daemon. */
export function daemonPort(value = process.env.OPSBOX_XRAY_DAEMON_PORT): number | undefined {
  if (value === undefined || value === '') return 2000;
  if (value === 'off' || value === '0') return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`OPSBOX_XRAY_DAEMON_PORT must be a port number or "off", not ${value}`);
  return n;
}

/** Splits a datagram into its segment document; undefined when the header is not the daemon's. */
export function segmentOfPacket(packet: Buffer): string | undefined {
  const nl = packet.indexOf(10);
  if (nl < 0) return undefined;
  let header: { format?: string; version?: number };
  try {
    header = JSON.parse(packet.subarray(0, nl).toString('utf8'));
  } catch {
    return undefined;
  }
  if (header.format !== 'json' || header.version !== 1) return undefined;
  return packet.subarray(nl + 1).toString('utf8');
}

/** The daemon's proxy paths → the API operations they call. */
const PROXIED: Record<string, string> = { '/GetSamplingRules': 'GetSamplingRules', '/SamplingTargets': 'GetSamplingTargets' };

/** Dates as epoch seconds, as the X-Ray API's JSON carries them. */
function wire(v: unknown): unknown {
  if (v instanceof Date) return v.getTime() / 1000;
  if (Array.isArray(v)) return v.map(wire);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, wire(x)]));
  return v;
}

export class Daemon {
  private udp?: Socket;
  private http?: Server;
  private queue: string[] = [];
  private flushing = false;

  constructor(private opts: DaemonOptions) {}

  async start() {
    const { port, host } = this.opts;
    if (port === undefined) return;
    // a large receive buffer (the OS caps it at net.core.rmem_max) rides out bursts of datagrams
    const udp = createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', recvBufferSize: 16 * 1024 * 1024 });
    udp.on('message', (msg) => {
      const doc = segmentOfPacket(msg);
      if (doc === undefined) return;
      this.queue.push(doc);
      if (!this.flushing) {
        this.flushing = true;
        setImmediate(() => this.flush());
      }
    });
    const bound = await new Promise<boolean>((ok) => {
      udp.once('error', (err) => {
        log.warn('xray daemon: UDP port unavailable, no daemon', { port, err: String(err) });
        ok(false);
      });
      udp.bind(port, host, () => ok(true));
    });
    if (!bound) return udp.close();
    this.udp = udp;
    udp.on('error', (err) => log.warn('xray daemon: UDP error', { err: String(err) }));

    const http = createServer((req, res) => {
      const op = req.method !== 'POST' ? undefined : PROXIED[req.url ?? ''];
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', async () => {
        if (!op) {
          res.writeHead(404).end();
          return;
        }
        try {
          const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
          const out = await this.opts.call(op, body);
          const text = JSON.stringify(wire(out));
          res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) }).end(text);
        } catch (e) {
          const status = e instanceof AwsError ? e.status : 500;
          res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify({ message: String((e as Error).message) }));
        }
      });
    });
    await new Promise<void>((ok) => {
      http.once('error', (err) => {
        log.warn('xray daemon: TCP port unavailable, no sampling proxy', { port, err: String(err) });
        ok();
      });
      http.listen(port, host, () => {
        this.http = http;
        ok();
      });
    });
  }

  private flush() {
    this.flushing = false;
    const docs = this.queue;
    this.queue = [];
    if (docs.length === 0) return;
    const scope = { account: DEFAULT_ACCOUNT, region: this.opts.region };
    for (const u of this.opts.ingest(scope, docs)) log.warn('xray daemon: segment refused', { ...u });
  }

  async close() {
    this.flush();
    this.udp?.close();
    this.udp = undefined;
    const http = this.http;
    this.http = undefined;
    if (http) await new Promise<void>((ok) => http.close(() => ok()));
  }
}
