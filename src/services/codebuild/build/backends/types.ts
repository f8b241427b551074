/**
 * The contract between the CodeBuild runner and the places a build can execute: on the host
 * (backends/host.ts) or in a container of a Docker-Engine-API engine (backends/container.ts).
 */

export interface BuildExecution {
  buildId: string; // "project:uuid"
  image: string; // the project's image as the user wrote it
  workDir: string; // host dir holding the primary source; becomes the container's working dir
  mounts: { host: string; container: string }[]; // extra dirs (secondary sources, a scripts dir holding the driver script)
  command: string[]; // e.g. ['sh', '/codebuild/opsbox/driver.sh']; run with cwd = workDir's container path
  containerWorkDir: string; // e.g. '/codebuild/output/src123/src'  (host backend ignores)
  env: Record<string, string>;
  privileged: boolean;
  onOutput(stream: 'stdout' | 'stderr', line: string): void; // called per line as it is produced, in order
  signal: AbortSignal; // StopBuild/timeout abort: kill everything (container stopped and removed) promptly
  /** A promise while output is arriving faster than it can be stored: the backend stops reading until it settles. */
  backlog?(): Promise<void> | undefined;
}

export interface ExecutionBackend {
  readonly name: 'host' | 'container';
  /** PROVISIONING: make sure the image is there (pull if the engine can); throws ProvisioningError with AWS's message when it is not. Returns a line for the build log saying what runs where. */
  provision(image: string, signal: AbortSignal): Promise<string>;
  run(exec: BuildExecution): Promise<{ exitCode: number | null; signal?: string }>;
  close(): Promise<void>;
}

/**
 * PROVISIONING failed. AWS reports an image it cannot pull as the phase context
 * { statusCode: 'BUILD_CONTAINER_UNABLE_TO_PULL_IMAGE', message: "Unable to pull customer's container image.
 * CannotPullContainerError: Error response from daemon: pull access denied for <image>, repository does not
 * exist or may require 'docker login'" } (shown as "<statusCode>: <message>"), phase status CLIENT_ERROR.
 * `message` is that message (for opsbox followed by how to fix it locally).
 */
export class ProvisioningError extends Error {
  override name = 'ProvisioningError';
  constructor(
    message: string,
    readonly contextStatusCode = 'BUILD_CONTAINER_UNABLE_TO_PULL_IMAGE',
    readonly phaseStatus: 'CLIENT_ERROR' | 'FAILED' = 'CLIENT_ERROR',
  ) {
    super(message);
  }
}
