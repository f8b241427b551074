#!/usr/bin/env node
/**
 * opsbox start [--host H] [--port P] [--data-dir D] [--log-level L] [--ephemeral] [--auth strict]
 * Flags override the OPSBOX_* environment; defaults: 127.0.0.1, 4566, ./.opsbox, info.
 */
import { parseArgs } from 'node:util';
import { log, setLogLevel } from './core/log.js';
import { startOpsbox } from './server/server.js';
import { VERSION } from './version.js';

const USAGE = `usage: opsbox start [--host HOST] [--port PORT] [--data-dir DIR] [--log-level debug|info|warn|error] [--ephemeral] [--auth default|strict]
       opsbox version`;

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      'data-dir': { type: 'string' },
      'log-level': { type: 'string' },
      ephemeral: { type: 'boolean' },
      auth: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const command = positionals[0] ?? 'start';
  if (values.help) return console.log(USAGE);
  if (command === 'version') return console.log(VERSION);
  if (command !== 'start') {
    console.error(USAGE);
    process.exit(2);
  }
  setLogLevel(values['log-level'] ?? process.env.OPSBOX_LOG_LEVEL ?? 'info');
  const auth = values.auth ?? process.env.OPSBOX_AUTH ?? 'default';
  if (auth !== 'default' && auth !== 'strict') throw new Error(`--auth must be default or strict, not ${auth}`);
  const port = Number(values.port ?? process.env.OPSBOX_PORT ?? 4566);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid port ${values.port ?? process.env.OPSBOX_PORT}`);
  const opsbox = await startOpsbox({
    host: values.host ?? process.env.OPSBOX_HOST ?? '127.0.0.1',
    port,
    dataDir: values['data-dir'] ?? process.env.OPSBOX_DATA_DIR ?? '.opsbox',
    auth,
    ephemeral: values.ephemeral ?? process.env.OPSBOX_EPHEMERAL === '1',
  });
  const where = opsbox.env.config.ephemeral ? `${opsbox.env.config.dataDir} (ephemeral)` : opsbox.env.config.dataDir;
  console.log(`opsbox ${VERSION} listening on ${opsbox.url} · data in ${where} · auth ${auth}`);

  const shutdown = (signal: string) => {
    log.info(`received ${signal}, shutting down`);
    opsbox.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((err) => {
  console.error(`opsbox: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
