/**
 * Runs CodeBuild builds in containers of whatever Docker-Engine-API engine answers (Docker, or
 * `podman system service`): DOCKER_HOST (unix:// or tcp://) or the usual sockets.
 * One build = create → attach → start → (attach ends → inspect) or wait → remove, on the host's
 * network by default (a build reaches opsbox at 127.0.0.1 like a host build); output is demultiplexed from the attach
 * stream into lines as it arrives (lines capped at MAX_LINE bytes, so a flood never piles up in
 * memory). An abort kills and removes the container at once.
 */
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import type Docker from 'dockerode';
import { imageHint, isCuratedImage, resolveImage } from './images.js';
import { LineSplitter, MAX_LINE, throttle } from './lines.js';
import { ProvisioningError, type BuildExecution, type ExecutionBackend } from './types.js';

export { MAX_LINE };

const PING_TIMEOUT_MS = 1000;
export const BUILD_ID_LABEL = 'opsbox.codebuild.build-id';

let lastError = '';
/** Why the last createContainerBackend() returned undefined ('' when it found an engine). */
export const lastContainerEngineError = () => lastError;

interface Endpoint {
  label: string;
  options: Docker.DockerOptions;
}

function parseDockerHost(value: string): Endpoint {
  if (value.startsWith('unix://')) return { label: value, options: { socketPath: value.slice('unix://'.length) } };
  if (value.startsWith('/')) return { label: `unix://${value}`, options: { socketPath: value } };
  const m = /^(tcp|http|https):\/\/([^:/]+|\[[^\]]+\])(?::(\d+))?/.exec(value);
  if (!m) throw new Error(`unsupported DOCKER_HOST ${value} (expected unix:///path or tcp://host:port)`);
  const tls = m[1] === 'https' || !!process.env.DOCKER_TLS_VERIFY;
  return { label: value, options: { protocol: tls ? 'https' : 'http', host: m[2], port: Number(m[3] ?? (tls ? 2376 : 2375)) } };
}

function defaultEndpoints(): Endpoint[] {
  const uid = process.getuid?.();
  const paths = [
    '/var/run/docker.sock',
    process.env.XDG_RUNTIME_DIR && `${process.env.XDG_RUNTIME_DIR}/podman/podman.sock`,
    uid !== undefined && `/run/user/${uid}/podman/podman.sock`,
    '/run/podman/podman.sock',
    process.env.HOME && `${process.env.HOME}/.docker/run/docker.sock`,
    // where `opsbox containers setup` starts podman
    `${process.env.OPSBOX_CONTAINER_DIR ?? '/tmp/opsbox-podman'}/podman.sock`,
  ].filter((p): p is string => !!p);
  return [...new Set(paths)].filter((p) => existsSync(p)).map((p) => parseDockerHost(p));
}

const errText = (e: unknown) => {
  const err = e as { json?: { message?: string }; reason?: string; message?: string };
  return (err?.json?.message ?? err?.message ?? String(e)).trim();
};
// dockerode passes abortSignal through, its typings do not list it.
type InspectWithSignal = { inspect(o: { abortSignal: AbortSignal }): Promise<unknown> };
const statusOf = (e: unknown) => (e as { statusCode?: number })?.statusCode;

/**
 * The container backend on the first engine that answers within ~1 s, or undefined (see
 * lastContainerEngineError()) when none does.
 */
export async function createContainerBackend(
  opts: { dockerHost?: string; imageMap?: Record<string, string>; network?: string } = {},
): Promise<ExecutionBackend | undefined> {
  const host = opts.dockerHost ?? process.env.DOCKER_HOST;
  let endpoints: Endpoint[];
  try {
    endpoints = host ? [parseDockerHost(host)] : defaultEndpoints();
  } catch (e) {
    lastError = errText(e);
    return undefined;
  }
  if (endpoints.length === 0) {
    lastError =
      'no container engine: DOCKER_HOST is not set and none of /var/run/docker.sock, $XDG_RUNTIME_DIR/podman/podman.sock, /run/podman/podman.sock exists (`opsbox containers setup` starts one)';
    return undefined;
  }
  const failures: string[] = [];
  for (const ep of endpoints) {
    try {
      const engine = await ping(ep);
      // Loaded on first use: dockerode (with its ssh transport) costs ~140 ms to import.
      const { default: DockerClass } = await import('dockerode');
      lastError = '';
      const network = opts.network ?? process.env.OPSBOX_CODEBUILD_NETWORK ?? 'host';
      return new ContainerBackend(new DockerClass(ep.options), ep.label, engine, opts.imageMap ?? {}, network);
    } catch (e) {
      failures.push(`${ep.label}: ${errText(e)}`);
    }
  }
  lastError = `no container engine answered (${failures.join('; ')})`;
  return undefined;
}

/** GET /_ping within PING_TIMEOUT_MS; names the engine from the Server header (GET /version takes ~0.5 s on podman). */
function ping(ep: Endpoint): Promise<string> {
  if (ep.options.protocol === 'https') return Promise.resolve('Docker Engine API (TLS)'); // dockerode's calls will tell
  return new Promise((resolve, reject) => {
    const req = request(
      { socketPath: ep.options.socketPath, host: ep.options.host, port: ep.options.port, path: '/_ping', timeout: PING_TIMEOUT_MS },
      (res) => {
        res.resume();
        if (res.statusCode !== 200) return reject(new Error(`GET /_ping answered ${res.statusCode}`));
        const server = String(res.headers.server ?? '');
        const m = /^(Libpod|Docker)\/(\S+)/.exec(server);
        resolve(m ? `${m[1] === 'Libpod' ? 'Podman' : 'Docker'} ${m[2]}` : `Docker Engine API ${res.headers['api-version'] ?? ''}`.trim());
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${PING_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end();
  });
}

class ContainerBackend implements ExecutionBackend {
  readonly name = 'container' as const;
  private readonly active = new Set<{ stop(): Promise<void> }>();

  constructor(
    private readonly docker: Docker,
    private readonly endpoint: string,
    private readonly engine: string,
    private readonly imageMap: Record<string, string>,
    /** Docker NetworkMode. 'host' (default) lets a build reach opsbox at the same 127.0.0.1 URL as a host build. */
    private readonly network: string,
  ) {}

  async provision(image: string, signal: AbortSignal): Promise<string> {
    const resolved = resolveImage(image, this.imageMap);
    const where = `Running in a container of image ${resolved}${resolved !== image ? ` (for ${image})` : ''} on ${this.engine} at ${this.endpoint}`;
    try {
      await (this.docker.getImage(resolved) as unknown as InspectWithSignal).inspect({ abortSignal: signal });
      return where;
    } catch (e) {
      if (signal.aborted) throw e;
      if (statusOf(e) !== 404)
        throw new ProvisioningError(
          `Unable to pull customer's container image. CannotPullContainerError: Error response from daemon: ${errText(e)}. ${imageHint(image, resolved)}`,
        );
    }
    // AWS's curated names exist in no registry an engine can reach: only a local tag or a mapping helps.
    let reason = `pull access denied for ${resolved}, repository does not exist or may require 'docker login'`;
    if (!isCuratedImage(resolved)) {
      try {
        await this.pull(resolved, signal);
        return `${where} (pulled)`;
      } catch (e) {
        if (signal.aborted) throw e;
        reason = errText(e);
      }
    }
    // AWS: phase PROVISIONING, status CLIENT_ERROR, context "BUILD_CONTAINER_UNABLE_TO_PULL_IMAGE: Unable to pull
    // customer's container image. CannotPullContainerError: Error response from daemon: pull access denied for
    // <image>, repository does not exist or may require 'docker login'"
    throw new ProvisioningError(
      `Unable to pull customer's container image. CannotPullContainerError: Error response from daemon: ${reason}. ${imageHint(image, resolved)}`,
    );
  }

  private async pull(image: string, signal: AbortSignal): Promise<void> {
    const stream = (await this.docker.pull(image, { abortSignal: signal })) as NodeJS.ReadableStream;
    await new Promise<void>((resolve, reject) => {
      this.docker.modem.followProgress(stream, (err: Error | null, events: { error?: string; errorDetail?: { message?: string } }[]) => {
        const failed = err ?? events?.find((ev) => ev.error || ev.errorDetail);
        if (failed) reject(failed instanceof Error ? failed : new Error(failed.errorDetail?.message ?? failed.error));
        else resolve();
      });
    });
  }

  async run(exec: BuildExecution): Promise<{ exitCode: number | null; signal?: string }> {
    const image = resolveImage(exec.image, this.imageMap);
    const name = `opsbox-codebuild-${exec.buildId.replace(/[^a-zA-Z0-9_.-]+/g, '-')}`.slice(0, 200);
    let container: Docker.Container | undefined;
    let stream: (NodeJS.ReadableStream & { destroy?(): void }) | undefined;
    let killed = false;
    let removal: Promise<void> | undefined;
    const remove = (c: Docker.Container) =>
      (removal ??= c.remove({ force: true, v: true }).then(
        () => undefined,
        (e) => {
          if (statusOf(e) !== 404 && statusOf(e) !== 409) throw e;
        },
      ));
    // Kill first: a forced remove alone may give the process a grace period (podman: 10 s of SIGTERM).
    // Before the container exists, only mark the run: it is removed as soon as create returns.
    const stop = async () => {
      killed = true;
      stream?.destroy?.();
      if (!container) return;
      const c = container;
      await c.kill({ signal: 'SIGKILL' }).catch(() => undefined);
      await remove(c).catch(() => undefined);
    };
    const entry = { stop };
    this.active.add(entry);
    const onAbort = () => void stop();
    try {
      if (exec.signal.aborted) return { exitCode: null, signal: 'SIGKILL' };
      exec.signal.addEventListener('abort', onAbort, { once: true });
      container = await this.docker
        .createContainer({
          name,
          Image: image,
          Entrypoint: exec.command.slice(0, 1),
          Cmd: exec.command.slice(1),
          Env: Object.entries(exec.env).map(([k, v]) => `${k}=${v}`),
          WorkingDir: exec.containerWorkDir,
          Labels: { [BUILD_ID_LABEL]: exec.buildId },
          AttachStdin: false,
          AttachStdout: true,
          AttachStderr: true,
          Tty: false,
          OpenStdin: false,
          HostConfig: {
            Binds: [`${exec.workDir}:${exec.containerWorkDir}`, ...exec.mounts.map((m) => `${m.host}:${m.container}`)],
            Privileged: exec.privileged,
            NetworkMode: this.network,
          },
        })
        .catch((e) => {
          if (statusOf(e) === 404)
            throw new ProvisioningError(
              `Unable to pull customer's container image. CannotPullContainerError: Error response from daemon: ${errText(e)}. ${imageHint(exec.image, image)}`,
            );
          throw e;
        });
      if (killed || exec.signal.aborted) {
        await stop();
        return { exitCode: null, signal: 'SIGKILL' };
      }
      stream = (await container.attach({ stream: true, stdout: true, stderr: true })) as NodeJS.ReadableStream & { destroy?(): void };
      const drained = demux(stream, exec.onOutput, exec.backlog);
      await container.start();
      const exitCode = await exitCodeOf(container, drained);
      // All output is written before the process exits, but the stream may trail the wait answer a little.
      await Promise.race([drained, new Promise((r) => setTimeout(r, 2000).unref())]);
      if (killed || exec.signal.aborted) return { exitCode: null, signal: 'SIGKILL' };
      return { exitCode };
    } catch (e) {
      if (killed || exec.signal.aborted) return { exitCode: null, signal: 'SIGKILL' };
      throw e;
    } finally {
      exec.signal.removeEventListener('abort', onAbort);
      stream?.destroy?.();
      if (container) await (killed ? stop() : remove(container)).catch(() => undefined);
      this.active.delete(entry);
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.active].map((a) => a.stop()));
  }
}

/**
 * The exit code of a started container. POST /wait is the authority, but podman answers it only
 * after its cleanup process ran and on a 250 ms poll (0.2–0.8 s after the exit); the attach stream
 * ends as soon as the process exits (it is PID 1: its end ends the container), and an inspect then
 * already shows the exit code. Whichever answers first wins.
 */
async function exitCodeOf(container: Docker.Container, streamEnded: Promise<void>): Promise<number> {
  const done = new AbortController();
  const waited = (container.wait({ abortSignal: done.signal } as object) as Promise<{ StatusCode: number }>).then((r) => r.StatusCode);
  waited.catch(() => undefined);
  const inspected = streamEnded.then(async () => {
    try {
      for (let i = 0; i < 50 && !done.signal.aborted; i++) {
        const { State } = await container.inspect();
        if (!State.Running && ['exited', 'stopped', 'dead'].includes(State.Status)) return State.ExitCode;
        await new Promise((r) => setTimeout(r, 10));
      }
    } catch {
      // wait's answer (or error) decides
    }
    return waited;
  });
  inspected.catch(() => undefined);
  try {
    return await Promise.race([waited, inspected]);
  } finally {
    done.abort();
  }
}

/**
 * Reads the engine's multiplexed stream (8-byte header: stream type, 3 zero bytes, big-endian
 * payload size) and hands complete lines to onOutput in arrival order. Resolves when it ends.
 */
export function demux(
  stream: NodeJS.ReadableStream,
  onOutput: BuildExecution['onOutput'],
  backlog?: BuildExecution['backlog'],
): Promise<void> {
  const lines = { stdout: new LineSplitter('stdout', onOutput), stderr: new LineSplitter('stderr', onOutput) };
  const header = Buffer.alloc(8);
  let headerLen = 0;
  let remaining = 0;
  let target: LineSplitter | undefined;
  stream.on('data', (chunk: Buffer) => {
    let off = 0;
    while (off < chunk.length) {
      if (remaining > 0) {
        const n = Math.min(remaining, chunk.length - off);
        target?.push(chunk.subarray(off, off + n));
        off += n;
        remaining -= n;
        continue;
      }
      const n = Math.min(8 - headerLen, chunk.length - off);
      chunk.copy(header, headerLen, off, off + n);
      headerLen += n;
      off += n;
      if (headerLen === 8) {
        headerLen = 0;
        remaining = header.readUInt32BE(4);
        target = header[0] === 2 ? lines.stderr : header[0] === 1 ? lines.stdout : undefined;
      }
    }
    throttle(stream, { backlog });
  });
  return new Promise<void>((resolve) => {
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      lines.stdout.flush();
      lines.stderr.flush();
      resolve();
    };
    stream.on('end', finish);
    stream.on('close', finish);
    stream.on('error', finish);
  });
}
