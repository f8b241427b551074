/**
 * Runs the real gateway in-process behind an SDK v3 client's requestHandler: the client's own
 * serializer builds the request, opsbox parses it, a probe handler records the typed input and
 * returns a chosen output, opsbox serializes it, and the client's own deserializer reads it.
 * This is how protocol tests check both directions against real client code.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { systemClock, type Clock } from '../../src/core/clock.js';
import { Gateway } from '../../src/gateway/pipeline.js';
import { createServiceEnv } from '../../src/server/env.js';
import type { Handler, ServiceEnv, ServiceSpec } from '../../src/gateway/service.js';

// in-process gateways start their services: no X-Ray daemon on the shared port 2000
process.env.OPSBOX_XRAY_DAEMON_PORT ??= 'off';

export class CapturedResponse extends Writable {
  statusCode = 0;
  headers: Record<string, string> = {};
  headersSent = false;
  private chunks: Buffer[] = [];
  done: Promise<void>;
  private resolveDone!: () => void;
  constructor() {
    super();
    this.done = new Promise((r) => (this.resolveDone = r));
    this.on('finish', () => this.resolveDone());
  }
  writeHead(status: number, headers: Record<string, string | number> = {}) {
    this.statusCode = status;
    for (const [k, v] of Object.entries(headers)) this.headers[k.toLowerCase()] = String(v);
    this.headersSent = true;
    return this;
  }
  setHeader(k: string, v: string) {
    this.headers[k.toLowerCase()] = v;
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void) {
    this.chunks.push(Buffer.from(chunk));
    cb();
  }
  body() {
    return Buffer.concat(this.chunks);
  }
}

export interface WireCall {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: Buffer;
}

export class InProcessOpsbox {
  readonly env: ServiceEnv;
  readonly gateway: Gateway;
  readonly calls: WireCall[] = [];
  private dir: string;

  constructor(specs: ServiceSpec[], clock: Clock = systemClock) {
    this.dir = mkdtempSync(join(tmpdir(), 'opsbox-unit-'));
    this.env = createServiceEnv({ host: '127.0.0.1', port: 4566, dataDir: this.dir, auth: 'default', ephemeral: true }, clock);
    this.gateway = new Gateway(specs, this.env);
    // synchronous starts (engines, timers on the clock) have run when the constructor returns
    void this.gateway.start();
  }

  /** Sends raw bytes through the gateway, as node:http would hand them over. */
  async send(call: WireCall): Promise<CapturedResponse> {
    this.calls.push(call);
    const req = Object.assign(Readable.from(call.body.length ? [call.body] : []), {
      method: call.method,
      url: call.url,
      headers: Object.fromEntries(Object.entries(call.headers).map(([k, v]) => [k.toLowerCase(), v])),
    });
    const res = new CapturedResponse();
    await this.gateway.handle(req as any, res as any);
    await res.done;
    return res;
  }

  /** A requestHandler for any SDK v3 client that routes its requests through this gateway. */
  requestHandler() {
    return {
      handle: async (request: any) => {
        const query = Object.entries(request.query ?? {})
          .flatMap(([k, v]) => (Array.isArray(v) ? v.map((x) => [k, x]) : [[k, v]]))
          .map(([k, v]) =>
            v === null ? encodeURIComponent(k as string) : `${encodeURIComponent(k as string)}=${encodeURIComponent(v as string)}`,
          )
          .join('&');
        const body = await toBuffer(request.body);
        const res = await this.send({
          method: request.method,
          url: request.path + (query ? `?${query}` : ''),
          headers: { host: request.hostname + (request.port ? `:${request.port}` : ''), ...request.headers },
          body,
        });
        return { response: { statusCode: res.statusCode, headers: res.headers, body: Readable.from([res.body()]) } };
      },
      updateHttpClientConfig() {},
      httpHandlerConfigs: () => ({}),
    };
  }

  async close() {
    await this.gateway.close();
    this.env.store.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

async function toBuffer(body: unknown): Promise<Buffer> {
  if (body === undefined || body === null) return Buffer.alloc(0);
  if (typeof body === 'string') return Buffer.from(body);
  if (body instanceof Uint8Array) return Buffer.from(body);
  const chunks: Buffer[] = [];
  for await (const c of body as AsyncIterable<Buffer | string>) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

/** A copy of a real service spec whose handlers are the given probes. */
export function probeSpec(spec: ServiceSpec, handlers: Record<string, Handler>): ServiceSpec {
  return { ...spec, create: () => ({ handlers }) };
}

export const sdkConfig = (gw: InProcessOpsbox) => ({
  region: 'us-east-1',
  endpoint: 'http://localhost:4566',
  credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  requestHandler: gw.requestHandler() as any,
  maxAttempts: 1,
});
