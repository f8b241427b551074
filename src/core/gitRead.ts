/**
 * Reading a CodeCommit repository's bare git dir (core/repos.ts finds it) without writing to it, for
 * builds and pipelines: the commit a name points at, whether it is a branch, a commit's message and
 * times, the files two commits differ in, and the tree as a zip stream.
 */
import { execFile, spawn } from 'node:child_process';
import { PassThrough, type Readable } from 'node:stream';

function git(gitDir: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('git', ['--git-dir', gitDir, ...args], { maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) =>
      err ? reject(new Error(stderr.trim() || String(err))) : resolve(stdout),
    );
  });
}

/** The commit `rev` names, or undefined. */
export async function revParse(gitDir: string, rev: string): Promise<string | undefined> {
  try {
    return (await git(gitDir, ['rev-parse', '--verify', '--quiet', `${rev}^{commit}`])).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Whether `name` is a branch of the repository. */
export async function isBranch(gitDir: string, name: string): Promise<boolean> {
  return git(gitDir, ['show-ref', '--verify', '--quiet', `refs/heads/${name}`]).then(
    () => true,
    () => false,
  );
}

export interface CommitInfo {
  id: string;
  message: string;
  authorName: string;
  authorEmail: string;
  authorTime: number;
  committerTime: number;
}

export async function commitInfo(gitDir: string, commit: string): Promise<CommitInfo> {
  const out = await git(gitDir, ['log', '-1', '--format=%H%x00%an%x00%ae%x00%at%x00%ct%x00%B', commit]);
  const [id, authorName, authorEmail, at, ct, ...rest] = out.split('\0');
  return { id, authorName, authorEmail, authorTime: Number(at) * 1000, committerTime: Number(ct) * 1000, message: rest.join('\0').trim() };
}

/** Paths changed between two commits (all files of `next` when `old` is missing). */
export async function changedFiles(gitDir: string, old: string | undefined, next: string): Promise<string[]> {
  const args = old && !/^0+$/.test(old) ? ['diff', '--name-only', '--no-renames', old, next] : ['ls-tree', '-r', '--name-only', next];
  return (await git(gitDir, args)).split('\n').filter(Boolean);
}

/** `git archive --format=zip` of the commit, streamed; the stream errors if git fails. */
export function archiveZip(gitDir: string, commit: string): Readable {
  const child = spawn('git', ['--git-dir', gitDir, 'archive', '--format=zip', commit], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out = new PassThrough();
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  child.stdout.pipe(out, { end: false });
  child.on('close', (code) => {
    if (code === 0) out.end();
    else out.destroy(new Error(`git archive failed: ${stderr.trim()}`));
  });
  child.on('error', (err) => out.destroy(err));
  return out;
}
