/**
 * UPLOAD_ARTIFACTS: the buildspec's artifact files (artifactFiles.ts picks them) go to S3 through
 * the S3 API in-process: zipped as one object, or one object per file with packaging NONE, under
 * path / build id (namespaceType BUILD_ID) / name, as AWS lays them out. A pipeline's build writes
 * its output artifacts as zips where the pipeline said.
 */
import type { Scope } from '../../../core/arn.js';
import type { ServiceEnv } from '../../../gateway/service.js';
import type { BuildArtifacts, ProjectArtifactsOut } from '../api.generated.js';
import { selectArtifactFiles } from './artifactFiles.js';
import type { ArtifactsSpec, Buildspec } from './buildspec.js';
import type { BuildPrivate } from './runner.js';
import type { BuildDoc } from '../store.js';
import { zipFiles } from '../../../core/zip.js';
import { spawnSync } from 'node:child_process';
import { createReadStream } from 'node:fs';

/** Where an S3 artifact goes: bucket and object key (a key prefix with packaging NONE). */
export function artifactTarget(artifacts: ProjectArtifactsOut, buildUuid: string, projectName: string, nameOverride?: string) {
  const name = nameOverride ?? artifacts.name ?? projectName;
  const parts = [artifacts.path, artifacts.namespaceType === 'BUILD_ID' ? buildUuid : undefined, name === '/' ? undefined : name];
  const key = parts
    .filter((p) => p !== undefined && p !== '')
    .join('/')
    .replace(/\/+/g, '/')
    .replace(/^\//, '');
  return {
    bucket: String(artifacts.location)
      .replace(/^arn:aws:s3:::/, '')
      .replace(/\/.*$/, ''),
    key,
  };
}

export const artifactLocation = (t: { bucket: string; key: string }) => `arn:aws:s3:::${t.bucket}${t.key ? `/${t.key}` : ''}`;

/**
 * A buildspec artifact name is evaluated by the shell at the end of the build, as AWS does
 * (`name: site-$CODEBUILD_BUILD_NUMBER`, `name: $(date +%Y-%m-%d)`), with the build's variables.
 */
function evaluateName(name: string, vars: Record<string, string>, cwd: string): string {
  if (!/[$`]/.test(name)) return name;
  const r = spawnSync('sh', ['-c', `printf '%s' "${name.replace(/(["\\])/g, '\\$1')}"`], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...vars },
    cwd,
    encoding: 'utf8',
    timeout: 5000,
  });
  return r.status === 0 && r.stdout ? r.stdout : name;
}

export async function uploadArtifacts(
  env: ServiceEnv,
  scope: Scope,
  doc: BuildDoc,
  spec: Buildspec,
  srcDir: string,
  priv: BuildPrivate,
  vars: Record<string, string>,
  log: (m: string) => void,
) {
  // A failed upload fails the phase with the message AWS's agent logs ("Error uploading artifacts: NoSuchBucket: …").
  const put = (bucket: string, key: string, body: NodeJS.ReadableStream) =>
    env.services.call('s3', 'PutObject', { Bucket: bucket, Key: key, Body: body }, scope).catch((err) => {
      const status = err?.status ? ` status code: ${err.status}` : '';
      throw Object.assign(new Error(`Error uploading artifacts: ${err?.code ?? err?.name ?? 'Error'}: ${err?.message ?? err}${status}`), {
        statusCode: 'CLIENT_ERROR',
      });
    });
  const zipTo = async (files: ArtifactsSpec, bucket: string, key: string) => {
    const selected = await selectArtifactFiles(srcDir, files);
    log(`Expanding base directory path: ${files.baseDirectory ?? '.'}`);
    log(`Found ${selected.length} file(s)`);
    await put(bucket, key, zipFiles(selected));
  };

  if (priv.pipeline) {
    for (const [i, out] of priv.pipeline.outputArtifacts.entries()) {
      const files = i === 0 ? (spec.artifacts ?? spec.secondaryArtifacts?.[out.name]) : spec.secondaryArtifacts?.[out.name];
      if (!files)
        throw Object.assign(new Error(`no artifact definition in the buildspec for output artifact ${out.name}`), {
          statusCode: 'CLIENT_ERROR',
        });
      log(`Uploading output artifact ${out.name}`);
      await zipTo(files, out.bucket, out.key);
    }
    return;
  }

  const uuid = doc.id.slice(doc.id.indexOf(':') + 1);
  const targets: { artifacts: ProjectArtifactsOut; files: ArtifactsSpec | undefined; label: string; out: BuildArtifacts | undefined }[] =
    [];
  if (priv.artifacts && priv.artifacts.type !== 'NO_ARTIFACTS')
    targets.push({ artifacts: priv.artifacts, files: spec.artifacts, label: 'primary artifact', out: doc.artifacts });
  for (const a of priv.secondaryArtifacts ?? [])
    if (a.type !== 'NO_ARTIFACTS')
      targets.push({
        artifacts: a,
        // checkArtifacts() requires a secondary artifact's identifier
        files: spec.secondaryArtifacts?.[a.artifactIdentifier!],
        label: `secondary artifact ${a.artifactIdentifier}`,
        out: doc.secondaryArtifacts.find((x) => x.artifactIdentifier === a.artifactIdentifier),
      });
  for (const t of targets) {
    if (!t.files) {
      log(`Skipping ${t.label}: the buildspec has no artifacts section for it`);
      continue;
    }
    const override = t.artifacts.overrideArtifactName && t.files.name ? evaluateName(t.files.name, vars, srcDir) : undefined;
    const target = artifactTarget(t.artifacts, uuid, doc.projectName, override);
    if ((t.artifacts.packaging ?? 'NONE') === 'ZIP') await zipTo(t.files, target.bucket, target.key);
    else {
      const selected = await selectArtifactFiles(srcDir, t.files);
      log(`Found ${selected.length} file(s)`);
      for (const f of selected) {
        if (f.name.endsWith('/')) continue;
        await put(target.bucket, target.key ? `${target.key}/${f.name}` : f.name, createReadStream(f.path));
      }
    }
    if (t.out) t.out.location = artifactLocation(target);
    log(`Uploaded ${t.label} to ${artifactLocation(target)}`);
  }
}
