/**
 * Local caching (project cache type LOCAL with LOCAL_CUSTOM_CACHE): the buildspec's cache paths
 * inside the source folder (node_modules/**\/*, .m2/**\/*) are kept per project under
 * <dataDir>/codebuild/cache and put back before INSTALL of the next build, as a build host that
 * AWS reuses keeps them. Paths outside the source folder are not cached (the log says so).
 */
import { cp, mkdir, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { isAbsolute, join, normalize } from 'node:path';
import type { Scope } from '../../../core/arn.js';
import type { ProjectCacheOut } from '../api.generated.js';

export const localCacheEnabled = (cache: ProjectCacheOut | undefined) =>
  cache?.type === 'LOCAL' && (cache.modes ?? []).includes('LOCAL_CUSTOM_CACHE');

/** The folder a cache path names: "node_modules/**\/*" → "node_modules". */
function rootOf(path: string): string | undefined {
  const stem = path
    .split('/')
    .filter((part) => !/[*?[{]/.test(part))
    .join('/');
  const clean = normalize(stem || '.');
  if (isAbsolute(path) || clean.startsWith('..') || clean === '.') return undefined;
  return clean;
}

const cacheDir = (dataDir: string, scope: Scope, project: string) =>
  join(dataDir, 'codebuild', 'cache', scope.account, scope.region, project);

export async function restoreCache(
  dataDir: string,
  scope: Scope,
  project: string,
  paths: string[],
  srcDir: string,
  log: (m: string) => void,
) {
  const dir = cacheDir(dataDir, scope, project);
  for (const p of paths) {
    const root = rootOf(p);
    if (!root) {
      log(`Local cache: skipping ${p} (opsbox caches folders inside the source folder only)`);
      continue;
    }
    if (!existsSync(join(dir, root))) continue;
    await cp(join(dir, root), join(srcDir, root), { recursive: true, force: true });
    log(`Local cache: restored ${root}`);
  }
}

export async function saveCache(dataDir: string, scope: Scope, project: string, paths: string[], srcDir: string, log: (m: string) => void) {
  const dir = cacheDir(dataDir, scope, project);
  for (const p of paths) {
    const root = rootOf(p);
    if (!root || !existsSync(join(srcDir, root))) continue;
    await rm(join(dir, root), { recursive: true, force: true });
    await mkdir(join(dir, root, '..'), { recursive: true });
    await cp(join(srcDir, root), join(dir, root), { recursive: true });
    log(`Local cache: saved ${root}`);
  }
}
