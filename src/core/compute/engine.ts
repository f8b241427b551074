/**
 * core/compute: running containers through whatever Docker-Engine-API engine answers (Docker, or
 * `podman system service`), for every service that runs user code in containers (CodeBuild's
 * container backend, ECS tasks). One engine client per caller:
 *
 *   connectEngine()  DOCKER_HOST (unix:// or tcp://) or the usual sockets, the first that answers
 *                    GET /_ping within ~1 s; lastEngineError() says why none did
 *   ComputeEngine    images (present? pull, with registry credentials; plain HTTP for localhost
 *                    registries such as opsbox's own ECR), create/start/stop/kill/remove,
 *                    inspect, wait, attach and logs as lines, stats, list by label
 *
 * Containers carry labels saying who owns them (OPSBOX_LABEL plus the owner's own: account,
 * region, service, task ARN), so a restarted opsbox can find and reconcile what it left running.
 * dockerode is loaded on first use (its import costs ~140 ms).
 */
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import type Docker from 'dockerode';
import { demux, type Backlog, type OnLine } from './lines.js';

export { MAX_LINE, LineSplitter, demux, throttle, type OnLine, type Backlog } from './lines.js';

const PING_TIMEOUT_MS = 1000;

/** Every container opsbox creates has this label (value: the owning service, e.g. "ecs", "codebuild"). */
export const OPSBOX_LABEL = 'opsbox.service';
export const ACCOUNT_LABEL = 'opsbox.account';
export const REGION_LABEL = 'opsbox.region';

let lastError = '';
/** Why the last connectEngine() returned undefined ('' when it found an engine). */
export const lastEngineError = () => lastError;

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

export const errText = (e: unknown) => {
  const err = e as { json?: { message?: string }; reason?: string; message?: string };
  return (err?.json?.message ?? err?.message ?? String(e)).trim();
};
export const statusOf = (e: unknown) => (e as { statusCode?: number })?.statusCode;
// dockerode passes abortSignal through, its typings do not list it.
type InspectWithSignal = { inspect(o: { abortSignal: AbortSignal }): Promise<unknown> };

/** The first engine that answers within ~1 s, or undefined (see lastEngineError()) when none does. */
export async function connectEngine(opts: { dockerHost?: string } = {}): Promise<ComputeEngine | undefined> {
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
      const { default: DockerClass } = await import('dockerode');
      lastError = '';
      return new ComputeEngine(new DockerClass(ep.options), ep.label, engine);
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

export interface PortBinding {
  containerPort: number;
  protocol?: 'tcp' | 'udp';
  /** Host address to bind (default all). */
  hostIp?: string;
  /** Host port; 0 or undefined lets the engine pick one. */
  hostPort?: number;
}

export interface ContainerSpec {
  name?: string;
  image: string;
  entrypoint?: string[];
  cmd?: string[];
  env?: Record<string, string>;
  workingDir?: string;
  user?: string;
  labels: Record<string, string>;
  binds?: string[];
  privileged?: boolean;
  /** Docker NetworkMode: 'host', 'bridge', 'none', a network name. */
  networkMode?: string;
  ports?: PortBinding[];
  /** Hard memory limit in bytes. */
  memoryBytes?: number;
  memoryReservationBytes?: number;
  /** Relative CPU weight (Docker's CpuShares; ECS's cpu units map 1:1). */
  cpuShares?: number;
  /** CPU quota in units of 1e-9 CPUs. */
  nanoCpus?: number;
  healthcheck?: { test: string[]; intervalMs?: number; timeoutMs?: number; retries?: number; startPeriodMs?: number };
  stdout?: boolean;
}

export interface ContainerState {
  id: string;
  name: string;
  running: boolean;
  status: string; // created | running | exited | …
  exitCode: number | null;
  oomKilled: boolean;
  error: string;
  startedAt?: string;
  finishedAt?: string;
  health?: string; // starting | healthy | unhealthy
  labels: Record<string, string>;
  /** The container's own address on its network ('' on the host network). */
  ip: string;
  /** containerPort/protocol → bound host ports. */
  ports: { containerPort: number; protocol: string; hostIp: string; hostPort: number }[];
}

export interface ContainerSummary {
  id: string;
  name: string;
  state: string;
  labels: Record<string, string>;
}

export interface RegistryAuth {
  username: string;
  password: string;
  serveraddress?: string;
}

export interface Stats {
  /** CPU used since the previous sample, in percent of one CPU. */
  cpuPercent: number;
  memoryBytes: number;
  memoryLimitBytes: number;
}

/** A registry host that engines reach over plain HTTP (opsbox's own ECR on localhost, 127.x). */
export const isLocalRegistry = (image: string) => /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?\//.test(image);

export class ComputeEngine {
  readonly isPodman: boolean;

  constructor(
    /** The dockerode client, for what this interface does not say (CodeBuild's attach-before-start). */
    readonly docker: Docker,
    /** Where it was reached: unix:///… or tcp://… */
    readonly endpoint: string,
    /** Which engine: "Podman 4.3.1", "Docker 24.0.7". */
    readonly engine: string,
  ) {
    this.isPodman = engine.startsWith('Podman');
  }

  async hasImage(image: string, signal?: AbortSignal): Promise<boolean> {
    try {
      await (this.docker.getImage(image) as unknown as InspectWithSignal).inspect({ abortSignal: signal ?? new AbortController().signal });
      return true;
    } catch (e) {
      if (statusOf(e) === 404) return false;
      throw e;
    }
  }

  /**
   * Pulls an image. Images on a local registry (opsbox's ECR at localhost:<port>) are pulled over
   * plain HTTP: Docker allows that for localhost itself; podman is asked through its own API with
   * tlsVerify=false.
   */
  async pull(image: string, opts: { signal?: AbortSignal; auth?: RegistryAuth } = {}): Promise<void> {
    if (this.isPodman && isLocalRegistry(image)) return this.podmanPull(image, opts);
    const pullOpts: Record<string, unknown> = {};
    if (opts.signal) pullOpts.abortSignal = opts.signal;
    if (opts.auth) pullOpts.authconfig = opts.auth;
    const stream = (await this.docker.pull(image, pullOpts)) as NodeJS.ReadableStream;
    await new Promise<void>((resolve, reject) => {
      this.docker.modem.followProgress(stream, (err: Error | null, events: { error?: string; errorDetail?: { message?: string } }[]) => {
        const failed = err ?? events?.find((ev) => ev.error || ev.errorDetail);
        if (failed) reject(failed instanceof Error ? failed : new Error(failed.errorDetail?.message ?? failed.error));
        else resolve();
      });
    });
  }

  private podmanPull(image: string, opts: { signal?: AbortSignal; auth?: RegistryAuth }): Promise<void> {
    const o = this.docker.modem as unknown as { socketPath?: string; host?: string; port?: number };
    const headers: Record<string, string> = {};
    if (opts.auth) headers['X-Registry-Auth'] = Buffer.from(JSON.stringify(opts.auth)).toString('base64url');
    const path = `/v4.0.0/libpod/images/pull?reference=${encodeURIComponent(image)}&tlsVerify=false&quiet=true`;
    return new Promise((resolve, reject) => {
      const req = request(
        { socketPath: o.socketPath, host: o.host, port: o.port, method: 'POST', path, headers, signal: opts.signal },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (body += d));
          res.on('end', () => {
            // a stream of JSON objects; {"error": "..."} reports a failure even with 200
            const failure = body
              .split('\n')
              .map((l) => {
                try {
                  return JSON.parse(l) as { error?: string; message?: string };
                } catch {
                  return undefined;
                }
              })
              .find((j) => j?.error || (res.statusCode !== 200 && j?.message));
            if (res.statusCode !== 200 || failure)
              reject(new Error(failure?.error ?? failure?.message ?? `pull answered ${res.statusCode}: ${body}`));
            else resolve();
          });
        },
      );
      req.on('error', reject);
      req.end();
    });
  }

  /** Creates a container (not started); returns its id. A 404 means the image is missing. */
  async create(spec: ContainerSpec): Promise<string> {
    const exposed: Record<string, object> = {};
    const bindings: Record<string, { HostIp?: string; HostPort?: string }[]> = {};
    for (const p of spec.ports ?? []) {
      const key = `${p.containerPort}/${p.protocol ?? 'tcp'}`;
      exposed[key] = {};
      (bindings[key] ??= []).push({ HostIp: p.hostIp ?? '', HostPort: p.hostPort ? String(p.hostPort) : '' });
    }
    const hc = spec.healthcheck;
    const c = await this.docker.createContainer({
      name: spec.name,
      Image: spec.image,
      ...(spec.entrypoint ? { Entrypoint: spec.entrypoint } : {}),
      ...(spec.cmd ? { Cmd: spec.cmd } : {}),
      Env: Object.entries(spec.env ?? {}).map(([k, v]) => `${k}=${v}`),
      ...(spec.workingDir ? { WorkingDir: spec.workingDir } : {}),
      ...(spec.user ? { User: spec.user } : {}),
      Labels: spec.labels,
      AttachStdin: false,
      AttachStdout: true,
      AttachStderr: true,
      Tty: false,
      OpenStdin: false,
      ExposedPorts: exposed,
      ...(hc
        ? {
            Healthcheck: {
              Test: hc.test,
              Interval: (hc.intervalMs ?? 30_000) * 1e6,
              Timeout: (hc.timeoutMs ?? 5_000) * 1e6,
              Retries: hc.retries ?? 3,
              StartPeriod: (hc.startPeriodMs ?? 0) * 1e6,
            },
          }
        : {}),
      HostConfig: {
        Binds: spec.binds ?? [],
        Privileged: spec.privileged ?? false,
        NetworkMode: spec.networkMode ?? 'bridge',
        PortBindings: bindings,
        ...(spec.memoryBytes ? { Memory: spec.memoryBytes } : {}),
        ...(spec.memoryReservationBytes ? { MemoryReservation: spec.memoryReservationBytes } : {}),
        ...(spec.cpuShares ? { CpuShares: Math.max(2, spec.cpuShares) } : {}),
        ...(spec.nanoCpus ? { NanoCpus: spec.nanoCpus } : {}),
      },
    });
    return c.id;
  }

  start(id: string): Promise<void> {
    return this.docker
      .getContainer(id)
      .start()
      .then(() => undefined)
      .catch((e) => {
        if (statusOf(e) !== 304) throw e; // already started
      });
  }

  /** SIGTERM, then SIGKILL after graceSeconds (docker stop). Missing or stopped containers are fine. */
  stop(id: string, graceSeconds = 30): Promise<void> {
    return this.docker
      .getContainer(id)
      .stop({ t: graceSeconds })
      .then(() => undefined)
      .catch((e) => {
        if (statusOf(e) !== 304 && statusOf(e) !== 404) throw e;
      });
  }

  kill(id: string, signal = 'SIGKILL'): Promise<void> {
    return this.docker
      .getContainer(id)
      .kill({ signal })
      .then(() => undefined)
      .catch((e) => {
        if (statusOf(e) !== 404 && statusOf(e) !== 409 && statusOf(e) !== 304) throw e;
      });
  }

  remove(id: string): Promise<void> {
    return this.docker
      .getContainer(id)
      .remove({ force: true, v: true })
      .then(() => undefined)
      .catch((e) => {
        if (statusOf(e) !== 404 && statusOf(e) !== 409) throw e;
      });
  }

  /** The container's state, or undefined when it no longer exists. */
  async inspect(id: string): Promise<ContainerState | undefined> {
    let info: Docker.ContainerInspectInfo;
    try {
      info = await this.docker.getContainer(id).inspect();
    } catch (e) {
      if (statusOf(e) === 404) return undefined;
      throw e;
    }
    const s = info.State;
    const nets = Object.values(info.NetworkSettings?.Networks ?? {});
    const ports: ContainerState['ports'] = [];
    for (const [key, binds] of Object.entries(info.NetworkSettings?.Ports ?? {})) {
      const [port, protocol] = key.split('/');
      for (const b of binds ?? [])
        ports.push({ containerPort: Number(port), protocol: protocol ?? 'tcp', hostIp: b.HostIp, hostPort: Number(b.HostPort) });
    }
    const exited = !s.Running && s.Status !== 'created';
    return {
      id: info.Id,
      name: info.Name.replace(/^\//, ''),
      running: s.Running,
      status: s.Status,
      exitCode: exited ? s.ExitCode : null,
      oomKilled: s.OOMKilled,
      error: s.Error ?? '',
      startedAt: s.StartedAt && !s.StartedAt.startsWith('0001') ? s.StartedAt : undefined,
      finishedAt: s.FinishedAt && !s.FinishedAt.startsWith('0001') ? s.FinishedAt : undefined,
      health: (s as { Health?: { Status?: string } }).Health?.Status || undefined,
      labels: info.Config.Labels ?? {},
      ip: nets.find((n) => n.IPAddress)?.IPAddress ?? (info.NetworkSettings as { IPAddress?: string } | undefined)?.IPAddress ?? '',
      ports,
    };
  }

  /** Resolves with the exit code once the container stops (POST /wait). */
  async wait(id: string, signal?: AbortSignal): Promise<number> {
    const r = (await this.docker.getContainer(id).wait({ abortSignal: signal } as object)) as { StatusCode: number };
    return r.StatusCode;
  }

  /** Attaches to stdout/stderr (before start, to miss nothing); `done` resolves when the stream ends. */
  async attach(id: string, onLine: OnLine, backlog?: Backlog): Promise<{ done: Promise<void>; close(): void }> {
    const stream = (await this.docker.getContainer(id).attach({ stream: true, stdout: true, stderr: true })) as NodeJS.ReadableStream & {
      destroy?(): void;
    };
    return { done: demux(stream, onLine, backlog), close: () => stream.destroy?.() };
  }

  /** Follows the container's output from `sinceSeconds` (Unix time) on, as lines. */
  async logs(
    id: string,
    onLine: OnLine,
    opts: { sinceSeconds?: number; follow?: boolean } = {},
  ): Promise<{ done: Promise<void>; close(): void }> {
    const stream = (await this.docker.getContainer(id).logs({
      follow: (opts.follow ?? true) as true,
      stdout: true,
      stderr: true,
      since: opts.sinceSeconds ?? 0,
    })) as unknown as NodeJS.ReadableStream & { destroy?(): void };
    return { done: demux(stream, onLine), close: () => stream.destroy?.() };
  }

  /** One CPU/memory sample (the engine's one-shot stats; CPU over the engine's own interval). */
  async stats(id: string): Promise<Stats | undefined> {
    let s: Docker.ContainerStats;
    try {
      s = (await this.docker.getContainer(id).stats({ stream: false })) as Docker.ContainerStats;
    } catch (e) {
      if (statusOf(e) === 404 || statusOf(e) === 409) return undefined;
      throw e;
    }
    const cpuDelta = (s.cpu_stats?.cpu_usage?.total_usage ?? 0) - (s.precpu_stats?.cpu_usage?.total_usage ?? 0);
    const sysDelta = (s.cpu_stats?.system_cpu_usage ?? 0) - (s.precpu_stats?.system_cpu_usage ?? 0);
    const cpus = s.cpu_stats?.online_cpus || s.cpu_stats?.cpu_usage?.percpu_usage?.length || 1;
    return {
      cpuPercent: sysDelta > 0 && cpuDelta > 0 ? (cpuDelta / sysDelta) * cpus * 100 : 0,
      memoryBytes: s.memory_stats?.usage ?? 0,
      memoryLimitBytes: s.memory_stats?.limit ?? 0,
    };
  }

  /** Containers (running or not) having every label given (a value of undefined: any value). */
  async list(labels: Record<string, string | undefined>): Promise<ContainerSummary[]> {
    const filter = Object.entries(labels).map(([k, v]) => (v === undefined ? k : `${k}=${v}`));
    const found = await this.docker.listContainers({ all: true, filters: { label: filter } });
    return found.map((c) => ({ id: c.Id, name: (c.Names?.[0] ?? '').replace(/^\//, ''), state: c.State, labels: c.Labels ?? {} }));
  }
}
