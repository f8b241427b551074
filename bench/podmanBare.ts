/**
 * The cost of one no-op container, two ways, so the CodeBuild figure "container build overhead ≤
 * bare `podman run` + 300 ms" can be reported: the podman CLI (`podman run --rm IMAGE true`, with
 * the same CONTAINERS_CONF as the engine's service) and the CodeBuild container backend
 * (provision + run of `true` through the Docker Engine API). `containerOverhead()` takes medians.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createContainerBackend, lastContainerEngineError } from '../src/services/codebuild/backends/container.js';
import type { ExecutionBackend } from '../src/services/codebuild/backends/types.js';

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
    execFile('podman', ['run', '--rm', image, 'true'], { env }, (err, _out, stderr) => (err ? reject(new Error(`podman run: ${err.message} ${stderr}`)) : resolve())),
  );
  return performance.now() - t0;
}

const backends = new Map<string, Promise<ExecutionBackend>>();
function backendFor(dockerHost: string): Promise<ExecutionBackend> {
  let b = backends.get(dockerHost);
  if (!b) {
    b = createContainerBackend({ dockerHost }).then((x) => x ?? Promise.reject(new Error(lastContainerEngineError())));
    backends.set(dockerHost, b);
  }
  return b;
}

let seq = 0;
/** ms of provision + run of `true` through the CodeBuild container backend (created once per dockerHost, not timed). */
export async function backendRun(dockerHost: string, image: string): Promise<number> {
  const backend = await backendFor(dockerHost);
  const workDir = mkdtempSync(join(tmpdir(), 'opsbox-bench-cb-'));
  try {
    const signal = new AbortController().signal;
    const t0 = performance.now();
    await backend.provision(image, signal);
    const r = await backend.run({
      buildId: `bench:${process.pid}-${++seq}`,
      image,
      workDir,
      mounts: [],
      command: ['true'],
      containerWorkDir: '/codebuild/output/src1/src',
      env: { CODEBUILD_BUILD_ID: 'bench' },
      privileged: false,
      onOutput: () => {},
      signal,
    });
    const ms = performance.now() - t0;
    if (r.exitCode !== 0) throw new Error(`backend run exited with ${r.exitCode ?? r.signal}`);
    return ms;
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}

/** Closes the backends backendRun() created. */
export async function closeBackends(): Promise<void> {
  const all = [...backends.values()];
  backends.clear();
  await Promise.all(all.map((b) => b.then((x) => x.close(), () => undefined)));
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Medians of n alternating runs (one warm-up each, not counted), and the backend's overhead over bare. */
export async function containerOverhead(dockerHost: string, image: string, n = 5): Promise<{ bareMs: number; backendMs: number; overheadMs: number; samples: { bare: number[]; backend: number[] } }> {
  await bareContainerRun(dockerHost, image);
  await backendRun(dockerHost, image);
  const bare: number[] = [];
  const backend: number[] = [];
  for (let i = 0; i < n; i++) {
    bare.push(await bareContainerRun(dockerHost, image));
    backend.push(await backendRun(dockerHost, image));
  }
  const bareMs = median(bare);
  const backendMs = median(backend);
  return { bareMs, backendMs, overheadMs: backendMs - bareMs, samples: { bare, backend } };
}
