/**
 * The host backend: the build's driver script runs as a child process in the build's own work
 * folder, in a process group of its own so StopBuild and timeouts kill every process it started.
 * Its environment is the build's variables plus PATH, never opsbox's own environment.
 */
import { spawn } from 'node:child_process';
import { StringDecoder } from 'node:string_decoder';
import type { BuildExecution, ExecutionBackend } from './types.js';

/** Longest line passed on whole; a longer one is cut so a flood cannot grow memory. */
const MAX_LINE = 256 * 1024;

export function lineReader(onLine: (line: string) => void) {
  let rest = '';
  const decoder = new StringDecoder('utf8');
  return {
    push(chunk: Buffer) {
      const text = rest + decoder.write(chunk);
      let start = 0;
      for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', start)) {
        onLine(text.slice(start, i).replace(/\r$/, ''));
        start = i + 1;
      }
      rest = text.slice(start);
      if (rest.length > MAX_LINE) {
        onLine(rest.slice(0, MAX_LINE));
        rest = '';
      }
    },
    end() {
      rest += decoder.end();
      if (rest) onLine(rest);
      rest = '';
    },
  };
}

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
        const out = lineReader((l) => exec.onOutput('stdout', l));
        const err = lineReader((l) => exec.onOutput('stderr', l));
        child.stdout!.on('data', (d) => out.push(d));
        child.stderr!.on('data', (d) => err.push(d));
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
          out.end();
          err.end();
          // children the script left in the background die with the build, as on AWS
          kill();
          resolve({ exitCode: code, signal: signal ?? undefined });
        });
      });
    },
    async close() {},
  };
}
