/**
 * DOWNLOAD_SOURCE: puts a build's primary and secondary sources into their folders. CodeCommit
 * sources are cloned from the repository's git directory (env.repos) and checked out at the source
 * version (branch, tag or commit); S3 sources and pipeline input artifacts are zips read through
 * env.objects and extracted; NO_SOURCE is an empty folder. Failures throw SourceError with the
 * message AWS puts in the phase context.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ServiceEnv } from '../../../gateway/service.js';
import { isBranch, revParse } from '../../../core/gitRead.js';
import { extractZip, spool, ZipError } from '../../../core/zip.js';

const exec = promisify(execFile);

export class SourceError extends Error {
  constructor(
    message: string,
    readonly statusCode = 'CLIENT_ERROR',
  ) {
    super(message);
  }
}

export interface SourceToFetch {
  type: string;
  location?: string;
  sourceIdentifier?: string;
  /** A pipeline input artifact (CODEPIPELINE sources). */
  artifact?: { name: string; bucket: string; key: string };
}

export interface FetchedSource {
  resolvedVersion?: string;
  repoUrl?: string;
}

/** The repository name in a CodeCommit clone URL (https://git-codecommit.<region>.amazonaws.com/v1/repos/<name>, or opsbox's own). */
export function codecommitRepo(location: string, defaultRegion: string): { name: string; region: string } | undefined {
  const m =
    /^(?:https?|codecommit):\/\/([^/]*)\/v1\/repos\/([^/?#]+)\/?$/.exec(location) ??
    /^codecommit::([a-z0-9-]+):\/\/([^/?#]+)$/.exec(location);
  if (!m) return undefined;
  const region =
    /git-codecommit(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com/.exec(m[1])?.[1] ??
    (location.startsWith('codecommit::') ? m[1] : defaultRegion);
  return { name: decodeURIComponent(m[2]), region };
}

function s3Location(location: string): { bucket: string; key: string } | undefined {
  const m = /^(?:arn:aws:s3:::)?([^/]+)\/(.+)$/.exec(location);
  return m ? { bucket: m[1], key: m[2] } : undefined;
}

export async function fetchSource(
  env: ServiceEnv,
  scope: { account: string; region: string },
  source: SourceToFetch,
  version: string | undefined,
  dir: string,
  tmpDir: string,
  which: string,
): Promise<FetchedSource> {
  mkdirSync(dir, { recursive: true });
  switch (source.type) {
    case 'NO_SOURCE':
      return {};
    case 'CODECOMMIT':
      return cloneCodecommit(env, scope, source.location ?? '', version, dir, which);
    case 'S3': {
      const loc = s3Location(source.location ?? '');
      if (!loc) throw new SourceError(`CLIENT_ERROR: invalid S3 location ${source.location} for ${which}`);
      if (loc.key.endsWith('/'))
        throw new SourceError(
          `CLIENT_ERROR: opsbox reads S3 sources from a zip object; ${source.location} is a folder. Zip it, or point the source at the zip`,
        );
      await fetchZip(env, scope, loc.bucket, loc.key, version, dir, tmpDir, which, version);
      return { resolvedVersion: version };
    }
    case 'CODEPIPELINE': {
      const a = source.artifact;
      if (!a)
        throw new SourceError(
          `CLIENT_ERROR: no input artifact for ${which}: builds of a CODEPIPELINE project are started by a pipeline action`,
        );
      await fetchZip(env, scope, a.bucket, a.key, undefined, dir, tmpDir, which, version);
      return {};
    }
    default:
      throw new SourceError(
        `CLIENT_ERROR: opsbox cannot download ${source.type} sources (it runs offline). Push the code to an opsbox CodeCommit repository or upload a zip to S3 for ${which}`,
      );
  }
}

async function fetchZip(
  env: ServiceEnv,
  scope: { account: string },
  bucket: string,
  key: string,
  versionId: string | undefined,
  dir: string,
  tmpDir: string,
  which: string,
  version?: string,
) {
  const obj = await env.objects.read(scope.account, bucket, key, versionId);
  if (!obj)
    throw new SourceError(
      `CLIENT_ERROR: NoSuchKey: The specified key does not exist. for ${which} and source version ${version ?? ''}`.trimEnd(),
    );
  const file = join(tmpDir, `source-${Math.random().toString(36).slice(2)}.zip`);
  try {
    await spool(obj.body, file);
    await extractZip(file, dir);
  } catch (err) {
    if (err instanceof ZipError) throw new SourceError(`CLIENT_ERROR: zip: not a valid zip file (${err.message}) for ${which}`);
    throw err;
  } finally {
    rmSync(file, { force: true });
  }
}

const git = (args: string[], cwd?: string) =>
  exec('git', args, { cwd, maxBuffer: 1 << 20, env: { ...process.env, GIT_TERMINAL_PROMPT: '0' } });

async function cloneCodecommit(
  env: ServiceEnv,
  scope: { account: string; region: string },
  location: string,
  version: string | undefined,
  dir: string,
  which: string,
): Promise<FetchedSource> {
  const ref = codecommitRepo(location, scope.region);
  const repo = ref && env.repos.resolve(scope.account, ref.region, ref.name);
  if (!repo) throw new SourceError(`CLIENT_ERROR: repository not found for ${which} and source version ${version ?? ''}`.trimEnd());
  const wanted = version || repo.defaultBranch || 'HEAD';
  let commit: string | undefined;
  let branch: string | undefined;
  for (const candidate of [wanted, `refs/heads/${wanted}`, `refs/tags/${wanted}`]) {
    commit = await revParse(repo.gitDir, candidate);
    if (commit) {
      const b = wanted.replace(/^refs\/heads\//, '');
      if (await isBranch(repo.gitDir, b)) branch = b;
      break;
    }
  }
  if (!commit) throw new SourceError(`CLIENT_ERROR: reference not found for ${which} and source version ${wanted}`);
  // a local clone hardlinks the objects: instant, and the build cannot write into the repository
  await git(['clone', '--quiet', '--no-checkout', repo.gitDir, dir]);
  await git(branch ? ['checkout', '--quiet', '-B', branch, commit] : ['checkout', '--quiet', '--detach', commit], dir);
  await git(['remote', 'set-url', 'origin', location], dir);
  return { resolvedVersion: commit, repoUrl: location };
}
