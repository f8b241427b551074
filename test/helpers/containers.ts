/**
 * A container engine for tests and the bench: runs scripts/container-setup.sh (podman + runc on a
 * private socket, the localhost/opsbox-busybox:1 image) once per process and says where it is.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const SETUP_SCRIPT = fileURLToPath(new URL('../../../scripts/container-setup.sh', import.meta.url));

export interface ContainerEngine {
  /** unix:///… socket of the engine's Docker Engine API. */
  dockerHost: string;
  /** A small local image with busybox (/bin/sh and the usual applets). */
  image: string;
  /** DOCKER_HOST and CONTAINERS_CONF, for child processes (opsbox, the podman CLI). */
  env: Record<string, string>;
}

let pending: Promise<ContainerEngine | { skip: string }> | undefined;

const onPath = (cmd: string) => (process.env.PATH ?? '/usr/bin:/bin').split(':').some((d) => existsSync(`${d}/${cmd}`));

/** The engine, set up on first call; `{ skip }` only when podman is missing and cannot be installed. */
export function ensureContainerEngine(): Promise<ContainerEngine | { skip: string }> {
  return (pending ??= setup());
}

async function setup(): Promise<ContainerEngine | { skip: string }> {
  const canInstall = onPath('apt-get') && (process.getuid?.() === 0 || onPath('sudo'));
  if (!onPath('podman') && !canInstall) return { skip: 'no podman on the PATH and no apt-get (as root or with sudo) to install it' };
  const out = await new Promise<string>((resolve, reject) =>
    execFile('bash', [SETUP_SCRIPT], { timeout: 300_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${SETUP_SCRIPT} failed: ${err.message}\n${stderr}`)) : resolve(stdout),
    ),
  );
  const vars = Object.fromEntries(
    out
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  if (!vars.DOCKER_HOST || !vars.OPSBOX_TEST_IMAGE) throw new Error(`${SETUP_SCRIPT} printed no DOCKER_HOST/OPSBOX_TEST_IMAGE:\n${out}`);
  return {
    dockerHost: vars.DOCKER_HOST,
    image: vars.OPSBOX_TEST_IMAGE,
    env: { DOCKER_HOST: vars.DOCKER_HOST, CONTAINERS_CONF: vars.CONTAINERS_CONF },
  };
}
