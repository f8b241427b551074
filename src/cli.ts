#!/usr/bin/env node
/**
 * opsbox start [--host H] [--port P] [--data-dir D] [--log-level L] [--ephemeral] [--auth strict]
 * Flags override the OPSBOX_* environment; defaults: 127.0.0.1, 4566, ./.opsbox, info.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { log, setLogLevel } from './core/log.js';
import { startOpsbox } from './server/server.js';
import { VERSION } from './version.js';

const USAGE = `usage: opsbox start [--host HOST] [--port PORT] [--data-dir DIR] [--log-level debug|info|warn|error] [--ephemeral] [--auth default|strict]
       opsbox containers setup [--dir DIR]    prepare a container engine (podman + runc) and print its DOCKER_HOST
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
      dir: { type: 'string' },
    },
  });
  const command = positionals[0] ?? 'start';
  if (values.help) return console.log(USAGE);
  if (command === 'version') return console.log(VERSION);
  if (command === 'containers' && positionals[1] === 'setup') return setupContainers(values.dir);
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

/**
 * `opsbox containers setup`: what scripts/container-setup.sh does (podman, runc and a small busybox
 * image installed when missing, an engine configuration that works without cgroup v2 or raised
 * rlimits, `podman system service` on a socket), idempotent. opsbox finds that socket by itself;
 * DOCKER_HOST is printed for the docker and podman CLIs.
 */
function setupContainers(dir: string | undefined) {
  const script = fileURLToPath(new URL('../../scripts/container-setup.sh', import.meta.url));
  const r = spawnSync('bash', [script, ...(dir ? [dir] : [])], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (r.status !== 0) {
    console.error('opsbox: the container engine could not be set up (see above)');
    process.exit(1);
  }
  const vars = Object.fromEntries(
    r.stdout
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  console.log(`A container engine answers at ${vars.DOCKER_HOST}; opsbox finds it without settings.
For the docker or podman command line:
  export DOCKER_HOST=${vars.DOCKER_HOST}
  export CONTAINERS_CONF=${vars.CONTAINERS_CONF}
A small image to try it with: ${vars.OPSBOX_TEST_IMAGE}`);
}

main().catch((err) => {
  console.error(`opsbox: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
