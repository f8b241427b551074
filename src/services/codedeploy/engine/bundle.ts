/**
 * A deployment's revision content: the AppSpec text of a Lambda or ECS revision (inline, or a YAML or
 * JSON object in S3), and a server bundle (zip, tar or tgz in S3) unpacked into a directory. S3 is
 * read through env.objects, as the deployment group's service role would read it.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Readable } from 'node:stream';
import { extractZip, readZipStream, spool, ZipError } from '../../../core/zip.js';
import type { ServiceEnv } from '../../../gateway/service.js';
import type { DeploymentDoc } from '../model.js';
import { DeploymentFailure } from './runner.js';

const run = promisify(execFile);
const MAX_APPSPEC_BYTES = 1024 * 1024;

async function s3Object(env: ServiceEnv, d: DeploymentDoc) {
  const loc = d.revision.s3Location!;
  const obj = await env.objects.read(d.account, loc.bucket!, loc.key!, loc.version);
  if (!obj)
    throw new DeploymentFailure(
      'REVISION_MISSING',
      `The revision s3://${loc.bucket}/${loc.key} does not exist or the deployment cannot read it.`,
    );
  return obj;
}

export async function revisionText(env: ServiceEnv, d: DeploymentDoc): Promise<string> {
  const r = d.revision;
  if (r.revisionType === 'AppSpecContent') return r.appSpecContent!.content!;
  if (r.revisionType === 'String') return r.string!.content!;
  const obj = await s3Object(env, d);
  const loc = d.revision.s3Location!;
  if (loc.bundleType === 'zip' || (!loc.bundleType && loc.key!.endsWith('.zip'))) return appSpecInZip(obj.body);
  if (obj.size > MAX_APPSPEC_BYTES) throw new DeploymentFailure('INVALID_REVISION', 'The AppSpec file in S3 is larger than 1 MB.');
  const chunks: Buffer[] = [];
  for await (const c of obj.body) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The appspec.yml (or .yaml, .json) at the root of a zip bundle: how a pipeline's artifact carries a Lambda AppSpec. */
async function appSpecInZip(body: Readable): Promise<string> {
  let text: string | undefined;
  try {
    await readZipStream(body, async (entry, content) => {
      const chunks: Buffer[] = [];
      for await (const c of content) chunks.push(c as Buffer);
      if (text === undefined && /^appspec\.(ya?ml|json)$/.test(entry.name) && entry.size <= MAX_APPSPEC_BYTES)
        text = Buffer.concat(chunks).toString('utf8');
    });
  } catch (err) {
    throw new DeploymentFailure('INVALID_REVISION', `The revision bundle is not a valid zip: ${(err as Error).message}`);
  }
  if (text === undefined) throw new DeploymentFailure('INVALID_REVISION', 'The revision bundle has no appspec.yml at its root.');
  return text;
}

/** Unpacks the deployment's S3 bundle into `dir` (emptied first). */
export async function fetchBundle(env: ServiceEnv, d: DeploymentDoc, dir: string): Promise<void> {
  if (d.revision.revisionType !== 'S3')
    throw new DeploymentFailure('INVALID_REVISION', 'A server deployment needs a revision bundle in S3.');
  const loc = d.revision.s3Location!;
  const type =
    loc.bundleType ?? (loc.key!.endsWith('.zip') ? 'zip' : loc.key!.endsWith('.tar') ? 'tar' : loc.key!.endsWith('gz') ? 'tgz' : 'zip');
  const obj = await s3Object(env, d);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const file = `${dir}.bundle`;
  await spool(obj.body, file);
  try {
    if (type === 'zip') await extractZip(file, dir);
    else if (type === 'tar' || type === 'tgz') await run('tar', [type === 'tgz' ? '-xzf' : '-xf', file, '-C', dir, '--no-same-owner']);
    else throw new DeploymentFailure('INVALID_REVISION', `A server bundle must be zip, tar or tgz, not ${type}.`);
  } catch (err) {
    if (err instanceof DeploymentFailure) throw err;
    throw new DeploymentFailure(
      'INVALID_REVISION',
      `The bundle s3://${loc.bucket}/${loc.key} could not be unpacked as ${type}: ${err instanceof ZipError ? err.message : (err as Error).message}`,
    );
  } finally {
    rmSync(file, { force: true });
  }
}

export const archiveDir = (root: string, groupId: string, deploymentId: string) =>
  join(root, 'opt', 'codedeploy-agent', 'deployment-root', groupId, deploymentId, 'deployment-archive');
