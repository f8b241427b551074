/**
 * Which backend runs a build. OPSBOX_CODEBUILD_BACKEND = auto (default) | container | host:
 * auto runs in a container when a Docker-Engine-API engine answers and on the host otherwise;
 * a project tagged opsbox:backend=host|container, or an image named opsbox/host, chooses for itself.
 * The engine is looked for once, at the first build, and again after it has gone away.
 */
import { createContainerBackend, lastContainerEngineError } from './container.js';
import { createHostBackend } from './host.js';
import type { ExecutionBackend } from './types.js';

export const HOST_IMAGE = /^opsbox\/host(:.*)?$/;

export class Backends {
  readonly host = createHostBackend();
  private container: Promise<ExecutionBackend | undefined> | undefined;
  private mode = (process.env.OPSBOX_CODEBUILD_BACKEND ?? 'auto').toLowerCase();

  private engine() {
    this.container ??= createContainerBackend().then((b) => {
      if (!b) this.container = undefined;
      return b;
    });
    return this.container;
  }

  /** The backend for an image; `note` says why, when it is not the obvious one. */
  async choose(image: string, preferred?: 'host' | 'container'): Promise<{ backend: ExecutionBackend; note?: string }> {
    const want = HOST_IMAGE.test(image) ? 'host' : (preferred ?? this.mode);
    if (want === 'host') return { backend: this.host };
    const engine = await this.engine();
    if (engine) return { backend: engine };
    const why = lastContainerEngineError() || 'no container engine found';
    if (want === 'container')
      throw new Error(
        `no container engine is reachable (${why}). Start Docker or 'podman system service', or set DOCKER_HOST; or run on the host with OPSBOX_CODEBUILD_BACKEND=host`,
      );
    return {
      backend: this.host,
      note: `No container engine is reachable (${why}); running the build on the host instead. Set DOCKER_HOST to run builds in their image`,
    };
  }

  async close() {
    const c = await this.container?.catch(() => undefined);
    await c?.close();
  }
}
