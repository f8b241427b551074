/**
 * The host backend: the build's driver script runs as a child process in the build's own work
 * folder, in a process group of its own so StopBuild and timeouts kill every process it started.
 * Its environment is the build's variables plus PATH, never opsbox's own environment.
 */
import { spawn } from 'node:child_process';
import { LineSplitter, throttle } from '../../../../core/compute/lines.js';
import type { BuildExecution, ExecutionBackend } from './types.js';

export function createHostBackend(): ExecutionBackend {
  return {
    name: 'host',
    async provision() {
      return 'Running on the host (opsbox host backend): commands run as child processes of opsbox in the build folder';
    },
    run(exec: BuildExecution) {
      return new Promise((resolve) => {
        const child = spawn(exec.command[0], exec.command.slice(1), {
          cwd: exec.workDir,
          env: { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', HOME: exec.env.HOME ?? exec.workDir, ...exec.env },
          stdio: ['ignore', 'pipe', 'pipe'],
          detached: true,
        });
        const out = new LineSplitter('stdout', exec.onOutput);
        const err = new LineSplitter('stderr', exec.onOutput);
        child.stdout!.on('data', (d: Buffer) => {
          out.push(d);
          throttle(child.stdout!, exec);
        });
        child.stderr!.on('data', (d: Buffer) => {
          err.push(d);
          throttle(child.stderr!, exec);
        });
        const kill = () => {
          try {
            process.kill(-child.pid!, 'SIGKILL');
          } catch {
            /* already gone */
          }
        };
        if (exec.signal.aborted) kill();
        exec.signal.addEventListener('abort', kill, { once: true });
        child.once('error', (e) => {
          exec.onOutput('stderr', `opsbox: cannot start ${exec.command[0]}: ${e.message}`);
          exec.signal.removeEventListener('abort', kill);
          resolve({ exitCode: 127 });
        });
        child.once('close', (code, signal) => {
          exec.signal.removeEventListener('abort', kill);
          out.flush();
          err.flush();
          // children the script left in the background die with the build, as on AWS
          kill();
          resolve({ exitCode: code, signal: signal ?? undefined });
        });
      });
    },
    async close() {},
  };
}
