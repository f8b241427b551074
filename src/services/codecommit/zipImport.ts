/**
 * Seeding a new repository from a zip in S3 (AWS::CodeCommit::Repository's Code property): the
 * object is read through env.objects (never S3's tables), spooled to a temp file because a zip
 * needs random access, and each entry is streamed into `git hash-object -w --stdin`; the tree and
 * one parentless commit are then built with tree.ts. Nothing here touches refs: the caller moves
 * the branch once the repository row exists, so the usual ref event is published.
 */
import { randomUUID } from 'node:crypto';
import { createWriteStream, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { AwsError } from '../../core/errors.js';
import { readZipFile, type ZipEntry } from '../../core/zip.js';
import type { RequestContext } from '../../gateway/context.js';

import type { Codecommit } from './context.js';
import type { RepoRow } from './store.js';
import { buildTree, checkPath, commitTree, MODES, parentsOf, type Entry } from './tree.js';
import { checkBranchName } from './names.js';

export interface RepositoryCode {
  s3: { bucket: string; key: string; objectVersion?: string };
  branchName?: string;
}

/** AWS refuses archives over 20 MB compressed. */
const MAX_ZIP = 20 * 1024 * 1024;

const invalid = (message: string) => new AwsError('ValidationException', message);
const notZip = (detail: string) => invalid(`Code supplied is not a valid .zip archive: ${detail}`);

/** Checks the Code property and downloads the archive to a temp file; the caller removes it. */
export async function fetchZip(cc: Codecommit, ctx: RequestContext, code: RepositoryCode): Promise<{ file: string; branch: string }> {
  const s3 = code.s3;
  if (!s3?.bucket || !s3.key) throw invalid('Code.S3 requires Bucket and Key.');
  const branch = checkBranchName(code.branchName ?? 'main');
  const obj = await cc.env.objects.read(ctx.account, s3.bucket, s3.key, s3.objectVersion);
  if (!obj)
    throw invalid(
      `Could not read the code archive s3://${s3.bucket}/${s3.key}${s3.objectVersion ? ` (version ${s3.objectVersion})` : ''}: the bucket or object does not exist or is not accessible.`,
    );
  if (obj.size > MAX_ZIP) {
    obj.body.destroy();
    throw invalid('Code archive supplied cannot be more than 20 MB compressed');
  }
  const tmp = join(cc.store.gitRoot, '.tmp');
  mkdirSync(tmp, { recursive: true });
  const file = join(tmp, `code-${randomUUID()}.zip`);
  try {
    await pipeline(obj.body, createWriteStream(file));
  } catch (err) {
    rmSync(file, { force: true });
    throw err;
  }
  return { file, branch };
}

/** Pipes a stream into `git hash-object -w --stdin`; resolves the blob id. */
function hashStream(cc: Codecommit, row: RepoRow, body: Readable): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = cc.git.spawn(cc.gitDir(row), ['hash-object', '-w', '--stdin']);
    let out = '';
    let failed: Error | undefined;
    child.stdout!.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr!.resume();
    child.on('error', reject);
    child.stdin!.on('error', () => {});
    body.on('error', (err) => {
      failed = notZip(err.message);
      child.kill();
    });
    child.on('close', (code) => {
      if (failed) reject(failed);
      else if (code === 0 && /^[0-9a-f]{40}$/.test(out.trim())) resolve(out.trim());
      else reject(new Error(`git hash-object exited ${code}`));
    });
    body.pipe(child.stdin!);
  });
}

/** Executable when the entry carries Unix permissions with any execute bit. */
const modeOf = (entry: ZipEntry): string => (entry.mode & 0o111 ? MODES.EXECUTABLE : MODES.NORMAL);

/**
 * Writes every file of the zip as a blob and returns the initial commit (undefined for an archive
 * with no files). Rejects entries that would leave the repository (absolute, "..") and paths that
 * are both a file and a folder.
 */
export async function commitZip(cc: Codecommit, row: RepoRow, ctx: RequestContext, file: string): Promise<string | undefined> {
  const set = new Map<string, Entry>();
  const folders = new Set<string>();
  try {
    await readZipFile(
      file,
      async (entry, content) => {
        const path = checkEntryPath(entry.name.replace(/\/+$/, ''));
        if (set.has(path)) throw notZip(`duplicate entry ${path}`);
        const id = await hashStream(cc, row, content);
        set.set(path, { mode: modeOf(entry), type: 'blob', id });
        for (const p of parentsOf(path)) folders.add(p);
      },
      (folder) => {
        const name = folder.name.replace(/\/+$/, '');
        if (name) folders.add(checkEntryPath(name));
      },
    );
  } catch (err) {
    throw err instanceof AwsError ? err : notZip(err instanceof Error ? err.message : String(err));
  }
  for (const path of set.keys()) if (folders.has(path)) throw notZip(`${path} is both a file and a folder`);
  if (set.size === 0) return undefined;
  const tree = await buildTree(cc, row, undefined, set);
  return commitTree(cc, row, ctx, tree, [], {
    name: 'AWS CodeCommit',
    email: 'noreply-awscodecommit@amazon.com',
    message: 'Initial commit by AWS CodeCommit',
  });
}

function checkEntryPath(name: string): string {
  try {
    return checkPath(name, 'file path');
  } catch {
    throw notZip(`entry ${JSON.stringify(name)} is not a valid repository path`);
  }
}
