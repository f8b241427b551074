/**
 * Which local image runs a build whose project names an image. AWS's curated images
 * (aws/codebuild/standard:7.0 …) live only inside CodeBuild, so a user points each at an image of
 * their own; any other name (a Docker Hub / ECR / registry reference) is used as written.
 *
 * Resolution, first match wins:
 *   1. the backend's `imageMap` option (programmatic, used by tests);
 *   2. env OPSBOX_CODEBUILD_IMAGE_<NAME>, NAME = the image upper-cased with every run of
 *      non-alphanumerics turned into "_": aws/codebuild/standard:7.0 → OPSBOX_CODEBUILD_IMAGE_AWS_CODEBUILD_STANDARD_7_0;
 *   3. the JSON object in the file named by env OPSBOX_CODEBUILD_IMAGES, e.g.
 *      { "aws/codebuild/standard:7.0": "localhost/cb-standard:7", "aws/codebuild/*": "ubuntu:22.04" }
 *      (a key ending in "*" matches by prefix; exact keys win over prefixes, longer prefixes over shorter);
 *   4. env OPSBOX_CODEBUILD_IMAGE for every curated image at once (one line: every project on
 *      aws/codebuild/* runs in that image);
 *   5. the name itself, so an image the user built and tagged with the curated name
 *      (`docker build -t aws/codebuild/standard:7.0 .` from github.com/aws/aws-codebuild-docker-images) is used.
 */
import { readFileSync, statSync } from 'node:fs';

/** Curated image identifiers CodeBuild documents for Linux containers (docs: "Docker images provided by CodeBuild"). */
export const CURATED_IMAGES = [
  'aws/codebuild/standard:5.0',
  'aws/codebuild/standard:6.0',
  'aws/codebuild/standard:7.0',
  'aws/codebuild/amazonlinux2-x86_64-standard:4.0',
  'aws/codebuild/amazonlinux2-x86_64-standard:5.0',
  'aws/codebuild/amazonlinux-x86_64-standard:5.0',
  'aws/codebuild/amazonlinux-x86_64-standard:corretto8',
  'aws/codebuild/amazonlinux-x86_64-standard:corretto11',
  'aws/codebuild/amazonlinux2-aarch64-standard:2.0',
  'aws/codebuild/amazonlinux2-aarch64-standard:3.0',
  'aws/codebuild/amazonlinux-aarch64-standard:2.0',
  'aws/codebuild/amazonlinux-aarch64-standard:3.0',
] as const;

export const isCuratedImage = (name: string) => name.startsWith('aws/codebuild/');

export const imageEnvVar = (name: string) =>
  'OPSBOX_CODEBUILD_IMAGE_' +
  name
    .toUpperCase()
    .replace(/[^A-Z0-9]+/g, '_')
    .replace(/^_|_$/g, '');

let fileCache: { path: string; mtimeMs: number; map: Record<string, string> } | undefined;

/** The map in OPSBOX_CODEBUILD_IMAGES (re-read when the file changes); a broken file is an error worth seeing. */
function fileMap(env: NodeJS.ProcessEnv): Record<string, string> {
  const path = env.OPSBOX_CODEBUILD_IMAGES;
  if (!path) return {};
  const mtimeMs = statSync(path).mtimeMs;
  if (fileCache?.path === path && fileCache.mtimeMs === mtimeMs) return fileCache.map;
  const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new Error(`${path} (OPSBOX_CODEBUILD_IMAGES) must hold a JSON object of image name → local image`);
  const map: Record<string, string> = {};
  for (const [k, v] of Object.entries(parsed)) if (typeof v === 'string') map[k] = v;
  fileCache = { path, mtimeMs, map };
  return map;
}

function lookup(map: Record<string, string>, name: string): string | undefined {
  if (Object.hasOwn(map, name)) return map[name];
  let best: string | undefined;
  for (const key of Object.keys(map)) {
    if (key.endsWith('*') && name.startsWith(key.slice(0, -1)) && (!best || key.length > best.length)) best = key;
  }
  return best && map[best];
}

/** The local image to run for `name`, as described at the top of this file. */
export function resolveImage(name: string, imageMap: Record<string, string> = {}, env: NodeJS.ProcessEnv = process.env): string {
  return (
    lookup(imageMap, name) ??
    env[imageEnvVar(name)] ??
    lookup(fileMap(env), name) ??
    (isCuratedImage(name) && env.OPSBOX_CODEBUILD_IMAGE ? env.OPSBOX_CODEBUILD_IMAGE : undefined) ??
    name
  );
}

/** How to make `name` available locally, for the PROVISIONING error. */
export function imageHint(name: string, resolved: string): string {
  const mapped = resolved !== name ? ` (mapped to ${resolved})` : '';
  const tagHint = isCuratedImage(name)
    ? `build it from github.com/aws/aws-codebuild-docker-images and tag it \`${resolved}\``
    : `pull or build it and tag it \`${resolved}\``;
  return (
    `opsbox: image ${name}${mapped} is not in the local container engine and could not be pulled; ` +
    `${tagHint}, or map the name to an image you have with ${imageEnvVar(name)}=<image> ` +
    `or a JSON file named by OPSBOX_CODEBUILD_IMAGES ({"${name}": "<image>"})` +
    (isCuratedImage(name) ? `, or every curated image to one of yours with OPSBOX_CODEBUILD_IMAGE=<image>.` : '.')
  );
}
