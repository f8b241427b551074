/**
 * The physical limit of the CodeBuild container figure ("container build overhead ≤ bare
 * `podman run` + 300 ms"): one no-op container through the podman CLI (`podman run --rm IMAGE
 * true`, with the same CONTAINERS_CONF as the engine's service). bench/codebuild.ts times the
 * same through a whole opsbox build.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** CONTAINERS_CONF for the CLI: the env's, else the containers.conf beside the engine's socket (scripts/container-setup.sh). */
function containersConf(dockerHost: string): string | undefined {
  if (process.env.CONTAINERS_CONF) return process.env.CONTAINERS_CONF;
  if (!dockerHost.startsWith('unix://')) return undefined;
  const conf = join(dirname(dockerHost.slice('unix://'.length)), 'containers.conf');
  return existsSync(conf) ? conf : undefined;
}

/** ms of one `podman run --rm IMAGE true` (the CLI in local mode, not through the service). */
export async function bareContainerRun(dockerHost: string, image: string): Promise<number> {
  const conf = containersConf(dockerHost);
  const env = { ...process.env, ...(conf ? { CONTAINERS_CONF: conf } : {}) };
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) =>
    execFile('podman', ['run', '--rm', image, 'true'], { env }, (err, _out, stderr) =>
      err ? reject(new Error(`podman run: ${err.message} ${stderr}`)) : resolve(),
    ),
  );
  return performance.now() - t0;
}
