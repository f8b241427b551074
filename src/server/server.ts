/**
 * The node:http listener and the opsbox's lifetime. /_opsbox/ is opsbox's own (health); the services'
 * non-AWS routes come next (git smart HTTP under /v1/repos/, SNS's certificate under /_aws/sns/);
 * every other request is an AWS API call for the gateway. The gateway owns the service instances:
 * created together, started once listening (dependencies first), closed in reverse.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { systemClock, type Clock } from '../core/clock.js';
import { log } from '../core/log.js';
import { Gateway } from '../gateway/pipeline.js';
import { createServiceEnv } from './env.js';
import type { Config, ServiceEnv } from '../gateway/service.js';
import { allServices } from '../services/index.js';
import { VERSION } from '../version.js';

export interface Opsbox {
  server: Server;
  env: ServiceEnv;
  url: string;
  close(): Promise<void>;
}

export async function startOpsbox(config: Config, clock: Clock = systemClock): Promise<Opsbox> {
  const dataDir = config.ephemeral ? mkdtempSync(join(tmpdir(), 'opsbox-')) : resolve(config.dataDir);
  config = { ...config, dataDir };
  const env = createServiceEnv(config, clock);
  const store = env.store;
  const specs = allServices();
  const gateway = new Gateway(specs, env);
  const routes = gateway.routes;
  const started = new Date().toISOString();

  const server = createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 }, (req: IncomingMessage, res: ServerResponse) => {
    if (req.url?.startsWith('/_opsbox/')) return internalRoute(req, res);
    const route = routes.find((r) => req.url!.startsWith(r.prefix) && (r.claims?.(req) ?? true));
    if (route) {
      return void Promise.resolve(route.handle(req, res)).catch((err) => {
        log.error('route failed', { prefix: route.prefix, err: err instanceof Error ? err.stack : String(err) });
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
    }
    gateway.handle(req, res).catch((err) => {
      log.error('request failed outside the gateway', { err: String(err) });
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });

  function internalRoute(req: IncomingMessage, res: ServerResponse) {
    if (req.url === '/_opsbox/health' || req.url?.startsWith('/_opsbox/health?')) {
      const body = JSON.stringify({
        status: 'running',
        version: VERSION,
        started,
        dataDir,
        services: Object.fromEntries(
          gateway.served.map((s) => [s.spec.name, { state: 'running', operations: Object.keys(s.handlers).length }]),
        ),
      });
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      return res.end(body);
    }
    res.writeHead(404, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ message: `no such opsbox route: ${req.url}` }));
  }

  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(config.port, config.host, () => ok());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  // with --port 0 the services learn the real port here (builds hand it to their AWS clients)
  env.config.port = port;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  // every service exists and the port is known: resume interrupted work, start engines
  await gateway.start();

  let closed = false;
  return {
    server,
    env,
    url,
    async close() {
      if (closed) return;
      closed = true;
      await new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      });
      await gateway.close();
      store.close();
      if (config.ephemeral) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
