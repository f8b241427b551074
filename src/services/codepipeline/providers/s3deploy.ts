/**
 * Deploy to S3: the input artifact extracted file by file under ObjectKey (Extract=true), or the
 * artifact zip written as one object (Extract=false, ObjectKey required). Runs again from the
 * start after a restart: every write is a plain PutObject, so repeating it is harmless.
 */
import { AwsError } from '../../../core/errors.js';
import { failed, registerActionProvider, type ActionContext, type ActionResult } from './registry.js';
import { readZipStream } from '../../../core/zip.js';

const TYPES: Record<string, string> = {
  html: 'text/html',
  htm: 'text/html',
  css: 'text/css',
  js: 'application/javascript',
  mjs: 'application/javascript',
  json: 'application/json',
  txt: 'text/plain',
  md: 'text/markdown',
  svg: 'image/svg+xml',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  ico: 'image/x-icon',
  xml: 'application/xml',
  zip: 'application/zip',
  wasm: 'application/wasm',
  map: 'application/json',
};
const contentType = (path: string) => TYPES[path.slice(path.lastIndexOf('.') + 1).toLowerCase()] ?? 'application/octet-stream';

async function deploy(ctx: ActionContext): Promise<ActionResult> {
  const c = ctx.configuration;
  const scope = { account: ctx.account, region: ctx.region };
  const extract = c.Extract.toLowerCase() === 'true';
  const extra = { CacheControl: c.CacheControl, ACL: c.CannedACL };
  try {
    await ctx.env.services.call('s3', 'HeadBucket', { Bucket: c.BucketName }, scope);
    const body = await ctx.getArtifact(ctx.inputArtifacts[0]);
    if (!extract) {
      await ctx.env.services.call(
        's3',
        'PutObject',
        { Bucket: c.BucketName, Key: c.ObjectKey, Body: body, ContentType: contentType(c.ObjectKey), ...extra },
        scope,
      );
      return { status: 'Succeeded', summary: `Deployed ${c.ObjectKey} to ${c.BucketName}` };
    }
    const prefix = c.ObjectKey ? c.ObjectKey.replace(/\/+$/, '') + '/' : '';
    let count = 0;
    await readZipStream(body, async ({ name: path, size }, content) => {
      if (ctx.signal.aborted) throw new Error('Stopped');
      await ctx.env.services.call(
        's3',
        'PutObject',
        { Bucket: c.BucketName, Key: prefix + path, Body: content, ContentLength: size, ContentType: contentType(path), ...extra },
        scope,
      );
      count++;
    });
    return { status: 'Succeeded', summary: `Extracted ${count} files to s3://${c.BucketName}/${prefix}` };
  } catch (err) {
    if (err instanceof AwsError) return failed(`${err.code}: ${err.message}`, 'JobFailed');
    throw err;
  }
}

export function registerS3DeployProvider() {
  registerActionProvider('Deploy', 'AWS', 'S3', {
    inputs: [1, 1],
    outputs: [0, 0],
    required: ['BucketName', 'Extract'],
    optional: ['ObjectKey', 'KMSEncryptionKeyARN', 'CannedACL', 'CacheControl'],
    validate(a) {
      const e = a.configuration?.Extract?.toLowerCase();
      if (e !== 'true' && e !== 'false')
        return `Action configuration for action '${a.name}' contains an invalid value for Extract: '${a.configuration?.Extract}'`;
      if (e === 'false' && !a.configuration?.ObjectKey)
        return `Action configuration for action '${a.name}' is missing required configuration 'ObjectKey'`;
      return undefined;
    },
    run: deploy,
  });
}
