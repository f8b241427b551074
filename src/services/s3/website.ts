/**
 * Static website hosting: Put/Get/DeleteBucketWebsite with AWS's checks, and the website endpoint
 * that serves a configured bucket over plain HTTP as S3's does: index documents for "/" and
 * "dir/", a 302 from "dir" to "dir/" when "dir/index.html" exists, the error document with the
 * error's status, RedirectAllRequestsTo, routing rules (KeyPrefixEquals before the lookup,
 * HttpErrorCodeReturnedEquals after it), an object's x-amz-website-redirect-location as a 301,
 * and HTML error pages (NoSuchBucket, NoSuchWebsiteConfiguration, NoSuchKey, MethodNotAllowed).
 *
 * Host names: <bucket>.s3-website.localhost, <bucket>.s3-website-<region>.localhost and
 * <bucket>.s3-website.<region>.localhost (any port; also under amazonaws.com), plus the path form
 * /_s3-website/<bucket>/… for machines where *.localhost does not resolve. AWS serves only objects
 * the public can read; opsbox serves every object of a configured bucket.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { AwsError } from '../../core/errors.js';
import { log } from '../../core/log.js';
import type { HttpRoute, ServiceEnv } from '../../gateway/service.js';
import type { RoutingRule, S3Handlers, WebsiteConfiguration } from './api.generated.js';
import { parseRange } from './objects.js';
import type { StoredHeaders } from './common.js';
import type { BucketRow, ObjectRow, S3Store } from './store.js';

const HOST_ID = Buffer.from('opsbox').toString('base64');

/** bucket.s3-website.localhost, bucket.s3-website-us-east-1.localhost, bucket.s3-website.eu-west-1.localhost (and amazonaws.com). */
export const WEBSITE_HOST = /^(.+?)\.s3-website(?:[.-]([a-z]{2}(?:-[a-z]+)+-\d))?\.(?:localhost(?:\.localstack\.cloud)?|amazonaws\.com)$/;

/** The path form of the website endpoint: /_s3-website/<bucket>/<key>. */
export const WEBSITE_PATH_PREFIX = '/_s3-website/';

const invalidRequest = (message: string) => new AwsError('InvalidRequest', message, 400);
const BAD_PROTOCOL = 'Invalid protocol, protocol can be http or https. If not defined the protocol will be selected automatically.';

/** AWS's checks on a website configuration, in AWS's order. */
export function checkWebsite(c: WebsiteConfiguration) {
  if (c.RedirectAllRequestsTo) {
    if (c.IndexDocument || c.ErrorDocument || c.RoutingRules)
      throw new AwsError('InvalidArgument', 'RedirectAllRequestsTo cannot be provided in conjunction with other Routing Rules.', 400, {
        ArgumentName: 'RedirectAllRequestsTo',
        ArgumentValue: 'not null',
      });
    if (!c.RedirectAllRequestsTo.HostName)
      throw new AwsError('InvalidArgument', 'A host name must be provided to redirect all requests (e.g. "example.com").', 400);
    const p = c.RedirectAllRequestsTo.Protocol;
    if (p !== undefined && p !== 'http' && p !== 'https') throw invalidRequest(BAD_PROTOCOL);
    return;
  }
  if (!c.IndexDocument)
    throw new AwsError('InvalidArgument', 'A value for IndexDocument Suffix must be provided if RedirectAllRequestsTo is empty', 400, {
      ArgumentName: 'IndexDocument',
      ArgumentValue: 'null',
    });
  const suffix = c.IndexDocument.Suffix;
  if (!suffix || suffix.includes('/'))
    throw new AwsError('InvalidArgument', 'The IndexDocument Suffix is not well formed', 400, {
      ArgumentName: 'IndexDocument',
      ArgumentValue: suffix ?? '',
    });
  if (c.ErrorDocument && !c.ErrorDocument.Key)
    throw new AwsError('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema', 400);
  const rules = c.RoutingRules;
  if (rules) {
    if (rules.length === 0)
      throw new AwsError('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema', 400);
    if (rules.length > 50) throw invalidRequest('The number of routing rules must not exceed 50.');
    for (const r of rules) {
      const cond = r.Condition;
      if (cond && cond.KeyPrefixEquals === undefined && cond.HttpErrorCodeReturnedEquals === undefined)
        throw invalidRequest(
          "Condition cannot be empty. To redirect all requests without a condition, the condition element shouldn't be present.",
        );
      const code = cond?.HttpErrorCodeReturnedEquals;
      if (code !== undefined && !/^[45]\d\d$/.test(code))
        throw invalidRequest(`The provided HTTP error code (${code}) is not valid. Valid codes are 4XX or 5XX.`);
      const red = r.Redirect ?? {};
      if (red.ReplaceKeyPrefixWith !== undefined && red.ReplaceKeyWith !== undefined)
        throw invalidRequest('You can only define ReplaceKeyPrefix or ReplaceKey but not both.');
      if (red.Protocol !== undefined && red.Protocol !== 'http' && red.Protocol !== 'https') throw invalidRequest(BAD_PROTOCOL);
      const rc = red.HttpRedirectCode;
      if (rc !== undefined && (!/^3\d\d$/.test(rc) || rc === '300'))
        throw invalidRequest(`The provided HTTP redirect code (${rc}) is not valid. Valid codes are 3XX except 300.`);
    }
  }
}

export function websiteHandlers(store: S3Store): S3Handlers {
  return {
    PutBucketWebsite(input, ctx) {
      const b = store.requireBucket(input.Bucket, ctx);
      checkWebsite(input.WebsiteConfiguration);
      store.setBucketField(b.name, 'website', JSON.stringify(input.WebsiteConfiguration));
    },
    GetBucketWebsite(input, ctx) {
      const b = store.requireBucket(input.Bucket, ctx);
      if (!b.website)
        throw new AwsError('NoSuchWebsiteConfiguration', 'The specified bucket does not have a website configuration', 404, {
          BucketName: b.name,
        });
      return JSON.parse(b.website) as WebsiteConfiguration;
    },
    DeleteBucketWebsite(input, ctx) {
      const b = store.requireBucket(input.Bucket, ctx);
      store.setBucketField(b.name, 'website', null);
    },
  };
}

const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const STATUS_TEXT: Record<number, string> = { 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed' };

interface PageError {
  status: number;
  code: string;
  message: string;
  fields: Record<string, string>;
}

const items = (fields: Record<string, string>) =>
  Object.entries(fields)
    .map(([k, v]) => `<li>${k}: ${escapeHtml(v)}</li>\n`)
    .join('');

/** S3's HTML error page; `docError` is the failure to fetch the custom error document. */
function errorPage(e: PageError, requestId: string, docError?: PageError) {
  const title = `${e.status} ${STATUS_TEXT[e.status] ?? 'Error'}`;
  const extra = docError
    ? `<h3>An Error Occurred While Attempting to Retrieve a Custom Error Document</h3>\n<ul>\n${items({
        Code: docError.code,
        Message: docError.message,
        ...docError.fields,
      })}</ul>\n<hr/>\n`
    : '';
  return `<html>\n<head><title>${title}</title></head>\n<body>\n<h1>${title}</h1>\n<ul>\n${items({
    Code: e.code,
    Message: e.message,
    ...e.fields,
    RequestId: requestId,
    HostId: HOST_ID,
  })}</ul>\n${extra}<hr/>\n</body>\n</html>\n`;
}

const encodePath = (key: string) => key.split('/').map(encodeURIComponent).join('/');

/** Where a website request lands: the bucket it names and the path below the site's root. */
interface SiteRequest {
  bucket: string;
  /** The decoded path after the site root, without the leading "/". */
  key: string;
  /** The site root as the client sees it: "" for the host form, "/_s3-website/<bucket>" for the path form. */
  base: string;
}

export function websiteRoutes(env: ServiceEnv, store: S3Store): HttpRoute[] {
  const hostOf = (req: IncomingMessage) => String(req.headers.host ?? '').replace(/:\d+$/, '');
  const pathOf = (req: IncomingMessage) => (req.url ?? '/').split('?')[0];

  function decode(p: string) {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  }

  async function serve(req: IncomingMessage, res: ServerResponse, site: SiteRequest) {
    const requestId = randomUUID().replace(/-/g, '').slice(0, 16).toUpperCase();
    const head = req.method === 'HEAD';
    const common = { 'x-amz-request-id': requestId, 'x-amz-id-2': HOST_ID, Server: 'AmazonS3' };
    req.resume();

    const sendError = (e: PageError, docError?: PageError) => {
      const body = Buffer.from(errorPage(e, requestId, docError));
      res.writeHead(e.status, {
        ...common,
        'x-amz-error-code': e.code,
        'x-amz-error-message': e.message,
        'Content-Type': 'text/html; charset=utf-8',
        'Content-Length': body.length,
      });
      res.end(head ? undefined : body);
    };
    const redirect = (status: number, location: string) => {
      res.writeHead(status, { ...common, Location: location, 'Content-Length': 0 });
      res.end();
    };

    if (req.method !== 'GET' && req.method !== 'HEAD')
      return sendError({
        status: 405,
        code: 'MethodNotAllowed',
        message: 'The specified method is not allowed against this resource.',
        fields: { Method: req.method ?? '', ResourceType: 'OBJECT' },
      });
    const bucket = store.bucket(site.bucket);
    if (!bucket)
      return sendError({
        status: 404,
        code: 'NoSuchBucket',
        message: 'The specified bucket does not exist',
        fields: { BucketName: site.bucket },
      });
    if (!bucket.website)
      return sendError({
        status: 404,
        code: 'NoSuchWebsiteConfiguration',
        message: 'The specified bucket does not have a website configuration',
        fields: { BucketName: bucket.name },
      });
    const config = JSON.parse(bucket.website) as WebsiteConfiguration;
    const proto = String(req.headers['x-forwarded-proto'] ?? 'http');
    const host = String(req.headers.host ?? `localhost:${env.config.port}`);
    const key = site.key;
    // the path form's root needs its slash, or the site's relative links would leave it
    if (site.base && key === '' && !pathOf(req).endsWith('/')) return redirect(302, `${site.base}/`);

    if (config.RedirectAllRequestsTo) {
      const to = config.RedirectAllRequestsTo;
      return redirect(301, `${to.Protocol ?? proto}://${to.HostName}/${encodePath(key)}`);
    }

    const ruleLocation = (r: RoutingRule) => {
      const red = r.Redirect ?? {};
      const prefix = r.Condition?.KeyPrefixEquals ?? '';
      const newKey =
        red.ReplaceKeyWith !== undefined
          ? red.ReplaceKeyWith
          : red.ReplaceKeyPrefixWith !== undefined
            ? red.ReplaceKeyPrefixWith + key.slice(prefix.length)
            : key;
      const where = red.HostName ? red.HostName : `${host}${site.base}`;
      return { status: Number(red.HttpRedirectCode ?? 301), location: `${red.Protocol ?? proto}://${where}/${encodePath(newKey)}` };
    };
    const rules = config.RoutingRules ?? [];
    // rules without an error-code condition apply before the object is looked up
    for (const r of rules) {
      if (r.Condition?.HttpErrorCodeReturnedEquals !== undefined) continue;
      if (r.Condition?.KeyPrefixEquals !== undefined && !key.startsWith(r.Condition.KeyPrefixEquals)) continue;
      const { status, location } = ruleLocation(r);
      return redirect(status, location);
    }

    const suffix = config.IndexDocument?.Suffix ?? 'index.html';
    const objectKey = key === '' || key.endsWith('/') ? key + suffix : key;
    const current = (k: string) => {
      const row = store.latest(bucket.name, k);
      return row && !row.delete_marker ? row : undefined;
    };
    const row = current(objectKey);
    if (row) return sendObject(req, res, bucket, row, common, site, 200);
    if (key !== '' && !key.endsWith('/') && current(`${key}/${suffix}`)) return redirect(302, `${site.base}/${encodePath(key)}/`);

    const notFound: PageError = {
      status: 404,
      code: 'NoSuchKey',
      message: 'The specified key does not exist.',
      fields: { Key: objectKey },
    };
    for (const r of rules) {
      const cond = r.Condition;
      if (cond?.HttpErrorCodeReturnedEquals !== '404') continue;
      if (cond.KeyPrefixEquals !== undefined && !key.startsWith(cond.KeyPrefixEquals)) continue;
      const { status, location } = ruleLocation(r);
      return redirect(status, location);
    }
    const docKey = config.ErrorDocument?.Key;
    if (docKey) {
      const doc = current(docKey);
      if (doc) return sendObject(req, res, bucket, doc, common, site, 404);
      return sendError(notFound, { status: 404, code: 'NoSuchKey', message: 'The specified key does not exist.', fields: { Key: docKey } });
    }
    return sendError(notFound);
  }

  function sendObject(
    req: IncomingMessage,
    res: ServerResponse,
    bucket: BucketRow,
    row: ObjectRow,
    common: Record<string, string>,
    site: SiteRequest,
    status: number,
  ) {
    const h = JSON.parse(row.headers) as StoredHeaders;
    if (status === 200 && h.WebsiteRedirectLocation) {
      const to = h.WebsiteRedirectLocation;
      res.writeHead(301, { ...common, Location: to.startsWith('/') ? `${site.base}${to}` : to, 'Content-Length': 0 });
      return void res.end();
    }
    const headers: Record<string, string | number> = {
      ...common,
      'Content-Type': h.ContentType ?? 'binary/octet-stream',
      ETag: row.etag,
      'Last-Modified': new Date(row.last_modified).toUTCString(),
      'Accept-Ranges': 'bytes',
    };
    for (const [member, name] of [
      ['CacheControl', 'Cache-Control'],
      ['ContentDisposition', 'Content-Disposition'],
      ['ContentEncoding', 'Content-Encoding'],
      ['ContentLanguage', 'Content-Language'],
      ['Expires', 'Expires'],
    ] as const)
      if (h[member]) headers[name] = member === 'Expires' ? new Date(h[member]).toUTCString() : h[member];
    for (const [k, v] of Object.entries(JSON.parse(row.metadata) as Record<string, string>)) headers[`x-amz-meta-${k}`] = v;
    if (status === 200) {
      const inm = req.headers['if-none-match'];
      const ims = req.headers['if-modified-since'];
      const unchanged = inm
        ? inm.split(',').some((t) => t.trim() === '*' || t.trim().replace(/^W\//, '') === row.etag)
        : ims !== undefined && !Number.isNaN(Date.parse(ims)) && row.last_modified <= Date.parse(ims);
      if (unchanged) {
        res.writeHead(304, { ...common, ETag: row.etag, 'Last-Modified': headers['Last-Modified'] });
        return void res.end();
      }
    }
    let range: { start: number; end: number } | undefined;
    try {
      range = status === 200 ? parseRange(req.headers.range, row.size) : undefined;
    } catch {
      res.writeHead(416, { ...common, 'Content-Range': `bytes */${row.size}`, 'Content-Length': 0 });
      return void res.end();
    }
    if (range) {
      status = 206;
      headers['Content-Range'] = `bytes ${range.start}-${range.end}/${row.size}`;
    }
    headers['Content-Length'] = range ? range.end - range.start + 1 : row.size;
    res.writeHead(status, headers);
    if (req.method === 'HEAD' || row.size === 0) return void res.end();
    const body: Readable = env.blobs.read(row.blob_id!, range);
    body.on('error', (err) => {
      log.error('s3 website: object body failed', { bucket: bucket.name, key: row.key, err: String(err) });
      res.destroy();
    });
    body.pipe(res);
  }

  const guarded = (site: (req: IncomingMessage) => SiteRequest) => async (req: IncomingMessage, res: ServerResponse) => {
    try {
      await serve(req, res, site(req));
    } catch (err) {
      log.error('s3 website request failed', { url: req.url, err: err instanceof Error ? err.stack : String(err) });
      if (!res.headersSent) res.writeHead(500);
      res.end();
    }
  };
  return [
    {
      // the path form: /_s3-website/<bucket>/<key> (a bucket name has no "_", so no bucket is shadowed)
      prefix: WEBSITE_PATH_PREFIX,
      handle: guarded((req) => {
        const rest = pathOf(req).slice(WEBSITE_PATH_PREFIX.length);
        const slash = rest.indexOf('/');
        const bucket = decode(slash === -1 ? rest : rest.slice(0, slash));
        return { bucket, key: slash === -1 ? '' : decode(rest.slice(slash + 1)), base: `${WEBSITE_PATH_PREFIX}${bucket}` };
      }),
    },
    {
      // the host form: every request to <bucket>.s3-website….localhost is the website's
      prefix: '/',
      claims: (req) => WEBSITE_HOST.test(hostOf(req)),
      handle: guarded((req) => ({
        bucket: WEBSITE_HOST.exec(hostOf(req))![1],
        key: decode(pathOf(req).slice(1)),
        base: '',
      })),
    },
  ];
}
