/**
 * Runs CodeBuild builds in containers of whatever Docker-Engine-API engine answers (Docker, or
 * `podman system service`): DOCKER_HOST (unix:// or tcp://) or the usual sockets.
 * One build = create → attach → start → (attach ends → inspect) or wait → remove, on the host's
 * network by default (a build reaches opsbox at 127.0.0.1 like a host build); output is demultiplexed from the attach
 * stream into lines as it arrives (lines capped at MAX_LINE bytes, so a flood never piles up in
 * memory). An abort kills and removes the container at once.
 */
import type Docker from 'dockerode';
import {
  OPSBOX_LABEL,
  connectEngine,
  demux,
  errText,
  lastEngineError,
  statusOf,
  type ComputeEngine,
} from '../../../../core/compute/engine.js';
import { imageHint, isCuratedImage, resolveImage } from './images.js';
import { ProvisioningError, type BuildExecution, type ExecutionBackend } from './types.js';

export { MAX_LINE, demux } from '../../../../core/compute/engine.js';

export const BUILD_ID_LABEL = 'opsbox.codebuild.build-id';

/** Why the last createContainerBackend() returned undefined ('' when it found an engine). */
export const lastContainerEngineError = () => lastEngineError();

/**
 * The container backend on the first engine that answers within ~1 s (core/compute), or undefined
 * (see lastContainerEngineError()) when none does.
 */
export async function createContainerBackend(
  opts: { dockerHost?: string; imageMap?: Record<string, string>; network?: string } = {},
): Promise<ExecutionBackend | undefined> {
  const engine = await connectEngine({ dockerHost: opts.dockerHost });
  if (!engine) return undefined;
  const network = opts.network ?? process.env.OPSBOX_CODEBUILD_NETWORK ?? 'host';
  return new ContainerBackend(engine, opts.imageMap ?? {}, network);
}

class ContainerBackend implements ExecutionBackend {
  readonly name = 'container' as const;
  private readonly active = new Set<{ stop(): Promise<void> }>();

  private readonly docker: Docker;

  constructor(
    private readonly compute: ComputeEngine,
    private readonly imageMap: Record<string, string>,
    /** Docker NetworkMode. 'host' (default) lets a build reach opsbox at the same 127.0.0.1 URL as a host build. */
    private readonly network: string,
  ) {
    this.docker = compute.docker;
  }

  async provision(image: string, signal: AbortSignal): Promise<string> {
    const resolved = resolveImage(image, this.imageMap);
    const where = `Running in a container of image ${resolved}${resolved !== image ? ` (for ${image})` : ''} on ${this.compute.engine} at ${this.compute.endpoint}`;
    try {
      if (await this.compute.hasImage(resolved, signal)) return where;
    } catch (e) {
      if (signal.aborted) throw e;
      throw new ProvisioningError(
        `Unable to pull customer's container image. CannotPullContainerError: Error response from daemon: ${errText(e)}. ${imageHint(image, resolved)}`,
      );
    }
    // AWS's curated names exist in no registry an engine can reach: only a local tag or a mapping helps.
    let reason = `pull access denied for ${resolved}, repository does not exist or may require 'docker login'`;
    if (!isCuratedImage(resolved)) {
      try {
        await this.compute.pull(resolved, { signal });
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
          Labels: { [OPSBOX_LABEL]: 'codebuild', [BUILD_ID_LABEL]: exec.buildId },
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
