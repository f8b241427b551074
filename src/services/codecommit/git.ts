/**
 * Runs git itself (never a shell): every call is execFile/spawn with an argument array and an
 * isolated environment (no system or user config, HOME inside the data dir), so what a user puts
 * in a name or a path can never become a command or an option. Small outputs are collected;
 * packs and other large streams are piped by the callers of `spawn`. Hot paths do not run git
 * per call: objects are read through objectReader.ts, written by objectWriter.ts, and refs are
 * read and moved by refs.ts (long-lived children started with `spawn`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const EMPTY_TREE = '4b825dc642cb6eb9a060e54bf8d69288fbee4904';
export const ZERO = '0000000000000000000000000000000000000000';

export class GitError extends Error {
  constructor(
    readonly args: string[],
    readonly code: number | null,
    readonly stderr: string,
    readonly stdout: Buffer,
  ) {
    super(`git ${args.join(' ')} exited ${code}: ${stderr.trim()}`);
  }
}

export interface RunOptions {
  input?: Buffer | string;
  env?: Record<string, string>;
  /** Exit codes that are answers, not failures (merge-tree's 1 = conflicts). */
  okCodes?: number[];
}

export interface RunResult {
  stdout: Buffer;
  stderr: string;
  code: number;
}

export class Git {
  readonly home: string;
  private readonly baseEnv: Record<string, string>;

  constructor(readonly root: string) {
    this.home = join(root, '.home');
    mkdirSync(this.home, { recursive: true });
    writeFileSync(join(this.home, '.gitconfig'), '[user]\n\tname = opsbox\n\temail = opsbox@localhost\n[core]\n\tquotePath = false\n');
    this.baseEnv = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: this.home,
      XDG_CONFIG_HOME: join(this.home, '.config'),
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_TERMINAL_PROMPT: '0',
      GIT_LITERAL_PATHSPECS: '1',
      LANG: 'C',
      LC_ALL: 'C',
    };
  }

  env(extra: Record<string, string> = {}): Record<string, string> {
    return { ...this.baseEnv, ...extra };
  }

  /** Starts git in `gitDir` (a bare repository) with stdio piped; the caller streams. */
  spawn(gitDir: string | undefined, args: string[], env: Record<string, string> = {}): ChildProcess {
    const full = gitDir ? ['--git-dir', gitDir, ...args] : args;
    return spawn('git', full, { env: this.env(env), stdio: ['pipe', 'pipe', 'pipe'] });
  }

  /** Runs git to completion, collecting stdout; throws GitError on an unexpected exit code. */
  run(gitDir: string | undefined, args: string[], opts: RunOptions = {}): Promise<RunResult> {
    return new Promise((resolve, reject) => {
      const child = this.spawn(gitDir, args, opts.env);
      const out: Buffer[] = [];
      let err = '';
      child.stdout!.on('data', (d: Buffer) => out.push(d));
      child.stderr!.on('data', (d: Buffer) => (err += d.toString('utf8')));
      child.on('error', reject);
      child.stdin!.on('error', () => {});
      child.on('close', (code) => {
        const stdout = Buffer.concat(out);
        if (code === 0 || (code !== null && opts.okCodes?.includes(code))) resolve({ stdout, stderr: err, code: code! });
        else reject(new GitError(args, code, err, stdout));
      });
      if (opts.input !== undefined) child.stdin!.end(opts.input);
      else child.stdin!.end();
    });
  }

  async text(gitDir: string, args: string[], opts: RunOptions = {}): Promise<string> {
    return (await this.run(gitDir, args, opts)).stdout.toString('utf8').trim();
  }

  async init(gitDir: string) {
    await this.run(undefined, ['init', '--bare', '--quiet', '--initial-branch=main', gitDir]);
    // Pushes over smart HTTP need receive-pack enabled; deny nothing AWS allows (deletes, force).
    await this.run(gitDir, ['config', 'http.receivepack', 'true']);
    await this.run(gitDir, ['config', 'receive.denyDeleteCurrent', 'ignore']);
    await this.run(gitDir, ['config', 'core.logAllRefUpdates', 'false']);
  }

  /** Every ref: full name → object id. */
  async refs(gitDir: string): Promise<Map<string, string>> {
    const out = await this.text(gitDir, ['for-each-ref', '--format=%(objectname) %(refname)']);
    const map = new Map<string, string>();
    for (const line of out.split('\n')) {
      if (!line) continue;
      const i = line.indexOf(' ');
      map.set(line.slice(i + 1), line.slice(0, i));
    }
    return map;
  }
}

/** A long-lived git child (cat-file, update-ref) keeps the process alive only while it has work. */
export function setRef(child: ChildProcess, on: boolean) {
  for (const s of [child.stdout, child.stderr, child.stdin] as unknown as ({ ref?(): void; unref?(): void } | null)[]) {
    if (on) s?.ref?.();
    else s?.unref?.();
  }
  if (on) child.ref();
  else child.unref();
}
