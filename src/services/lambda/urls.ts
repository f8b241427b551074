/**
 * Function URLs: Create/Get/Update/Delete/ListFunctionUrlConfigs (AuthType NONE or AWS_IAM, Cors,
 * InvokeMode, for the function or one alias), and the URLs themselves, answered on opsbox's own port:
 *
 *   http://<url-id>.lambda-url.<region>.localhost:<port>/...   (what FunctionUrl says: *.localhost
 *                                                               resolves to 127.0.0.1 on most systems)
 *   http://localhost:<port>/_lambda-url/<url-id>/...           (the fallback where *.localhost does not
 *                                                               resolve: the same function, path after the id)
 *
 * A request becomes the payload format 2.0 event Lambda sends (version, routeKey $default, rawPath,
 * rawQueryString, cookies, headers, queryStringParameters, requestContext, body — base64 when not
 * text — and isBase64Encoded), the function runs through Invoke itself (in-process, with its
 * concurrency, logs and metrics), and its result maps back as Lambda maps it: an object with a
 * statusCode is the response (headers, body, isBase64Encoded, cookies); anything else is a 200
 * application/json body as returned. An unhandled error answers 502.
 *
 * Cors configured on the URL answers preflight requests and adds the Access-Control headers.
 * AWS_IAM: the request must be SigV4-signed (header or presigned query); with OPSBOX_AUTH=strict the
 * signature is verified as an API request's is (gateway/strictAuth.ts), in the default auth mode
 * only its presence is checked. The function's resource policy is not consulted (permissions.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Scope } from '../../core/arn.js';
import { AwsError } from '../../core/errors.js';
import { randomString, requestId as newRequestId } from '../../core/ids.js';
import { log } from '../../core/log.js';
import { decodeToken, offsetPage } from '../../core/pagination.js';
import type { HttpRoute, ServiceEnv } from '../../gateway/service.js';
import { readSigV4 } from '../../gateway/sigv4.js';
import { verifyRequest } from '../../gateway/strictAuth.js';
import { wireRequestOf } from '../../protocol/types.js';
import type { Cors, FunctionUrlConfigOut, InvokeOutput, LambdaHandlers } from './api.generated.js';
import { isVersion, qualifierOf } from './aliases.js';
import { invalidParameter, nameOf } from './functions.js';
import { functionArn, type FunctionRow, type LambdaStore, type UrlRow } from './store.js';

const PAYLOAD_LIMIT = 6 * 1024 * 1024;
const URL_ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
const HOST = /^([a-z0-9]+)\.lambda-url\.([a-z0-9-]+)\.localhost(?::\d+)?$/i;

const resourceNotFound = (message: string) => new AwsError('ResourceNotFoundException', message, 404, { Type: 'User' });

export const functionUrl = (port: number, region: string, urlId: string) => `http://${urlId}.lambda-url.${region}.localhost:${port}/`;

export function urlHandlers(env: ServiceEnv, store: LambdaStore): LambdaHandlers {
  function out(scope: Scope, fn: FunctionRow, u: UrlRow): FunctionUrlConfigOut {
    return {
      FunctionUrl: functionUrl(env.config.port, scope.region, u.url_id),
      FunctionArn: functionArn(scope, fn.name, u.qualifier || undefined),
      AuthType: u.auth_type,
      Cors: u.cors ? (JSON.parse(u.cors) as Cors) : undefined,
      CreationTime: u.created,
      LastModifiedTime: u.modified,
      InvokeMode: u.invoke_mode,
    };
  }

  /** The function and the URL's qualifier ('' for none); a version qualifier is refused as the model's pattern refuses it. */
  function target(scope: Scope, name: string, qualifier: string | undefined, missing: string) {
    const q = qualifier ?? qualifierOf(name) ?? '';
    if (q && isVersion(q))
      throw new AwsError(
        'ValidationException',
        `1 validation error detected: Value '${q}' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: ((?!^\\d+$)^[0-9a-zA-Z-_]+$)`,
        400,
      );
    const fn = store.findFunction(scope, nameOf(name));
    if (!fn) throw resourceNotFound(missing);
    return { fn, qualifier: q };
  }

  const requireAlias = (fn: FunctionRow, qualifier: string) => {
    if (qualifier && !store.alias(fn, qualifier)) throw resourceNotFound('Function does not exist');
  };

  const now = () => new Date(env.clock.now()).toISOString();

  return {
    CreateFunctionUrlConfig(input, ctx) {
      const { fn, qualifier } = target(ctx, input.FunctionName, input.Qualifier, 'Function does not exist');
      requireAlias(fn, qualifier);
      if (store.url(fn, qualifier))
        throw new AwsError(
          'ResourceConflictException',
          `Failed to create function url config for [functionArn = ${functionArn(ctx, fn.name, qualifier || undefined)}]. Error message:  FunctionUrlConfig exists for this Lambda function`,
          409,
          { Type: 'User' },
        );
      const at = now();
      const row: UrlRow = {
        function_id: fn.id,
        qualifier,
        url_id: randomString(32, URL_ID_ALPHABET),
        auth_type: input.AuthType,
        cors: input.Cors ? JSON.stringify(input.Cors) : null,
        invoke_mode: input.InvokeMode ?? 'BUFFERED',
        created: at,
        modified: at,
      };
      store.putUrl(row);
      const o = out(ctx, fn, row);
      return {
        FunctionUrl: o.FunctionUrl,
        FunctionArn: o.FunctionArn,
        AuthType: o.AuthType,
        Cors: o.Cors,
        CreationTime: o.CreationTime,
        InvokeMode: o.InvokeMode,
      };
    },

    GetFunctionUrlConfig(input, ctx) {
      const { fn, qualifier } = target(ctx, input.FunctionName, input.Qualifier, 'The resource you requested does not exist.');
      const u = store.url(fn, qualifier);
      if (!u) throw resourceNotFound('The resource you requested does not exist.');
      return out(ctx, fn, u);
    },

    UpdateFunctionUrlConfig(input, ctx) {
      const { fn, qualifier } = target(ctx, input.FunctionName, input.Qualifier, 'Function does not exist');
      requireAlias(fn, qualifier);
      const u = store.url(fn, qualifier);
      if (!u) throw resourceNotFound('The resource you requested does not exist.');
      const row: UrlRow = {
        ...u,
        auth_type: input.AuthType ?? u.auth_type,
        cors: input.Cors !== undefined ? JSON.stringify(input.Cors) : u.cors,
        invoke_mode: input.InvokeMode ?? u.invoke_mode,
        modified: now(),
      };
      store.putUrl(row);
      return out(ctx, fn, row);
    },

    DeleteFunctionUrlConfig(input, ctx) {
      const { fn, qualifier } = target(ctx, input.FunctionName, input.Qualifier, 'The resource you requested does not exist.');
      if (!store.deleteUrl(fn, qualifier)) throw resourceNotFound('The resource you requested does not exist.');
    },

    ListFunctionUrlConfigs(input, ctx) {
      const fn = store.findFunction(ctx, nameOf(input.FunctionName));
      if (!fn) throw resourceNotFound('Function does not exist');
      const start = input.Marker !== undefined ? Number(decodeToken(input.Marker, () => invalidParameter('Invalid marker.'))) : 0;
      const page = offsetPage(store.urls(fn), Number.isInteger(start) && start >= 0 ? start : 0, input.MaxItems ?? 50);
      return { FunctionUrlConfigs: page.items.map((u) => out(ctx, fn, u)), NextMarker: page.next };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The URLs themselves

class UrlError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The two routes a function URL answers on: the Host form (<url-id>.lambda-url.<region>.localhost) and /_lambda-url/<url-id>/. */
export function urlRoutes(env: ServiceEnv, store: LambdaStore): HttpRoute[] {
  const send = (res: ServerResponse, status: number, body: Buffer | string, headers: Record<string, string | string[]> = {}) => {
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    res.writeHead(status, { ...headers, 'Content-Length': bytes.length });
    res.end(bytes);
  };
  const fail = (res: ServerResponse, err: UrlError, requestId: string) =>
    send(res, err.status, JSON.stringify({ Message: err.message }), { 'Content-Type': 'application/json', 'x-amzn-RequestId': requestId });

  async function serve(req: IncomingMessage, res: ServerResponse, urlId: string, target: string, hostRegion?: string) {
    const requestId = newRequestId();
    try {
      const url = store.urlById(urlId);
      if (!url || (hostRegion !== undefined && hostRegion !== url.region)) {
        req.resume();
        throw new UrlError(404, 'Not Found');
      }
      const body = await readBody(req);
      const cors = url.cors ? (JSON.parse(url.cors) as Cors) : undefined;
      const origin = typeof req.headers.origin === 'string' ? req.headers.origin : undefined;
      if (cors && origin && req.method === 'OPTIONS' && req.headers['access-control-request-method'])
        return send(res, 200, '', { ...preflightHeaders(cors, origin), 'x-amzn-RequestId': requestId });
      const caller = url.auth_type === 'AWS_IAM' ? authorize(req, body) : undefined;
      const domainName = `${urlId}.lambda-url.${url.region}.localhost`;
      const event = eventOf(req, body, target, { urlId, domainName, requestId, accountId: url.account, caller, now: env.clock.now() });
      let result: InvokeOutput;
      try {
        result = await env.services.call<InvokeOutput>(
          'lambda',
          'Invoke',
          { FunctionName: url.name, Qualifier: url.qualifier || undefined, Payload: Buffer.from(JSON.stringify(event)) },
          { account: url.account, region: url.region },
        );
      } catch (err) {
        if (err instanceof AwsError && err.status === 429) throw new UrlError(429, 'Rate Exceeded.');
        log.warn('lambda: function URL invocation failed', { function: url.name, err: String(err) });
        throw new UrlError(502, 'Internal Server Error');
      }
      if (result.FunctionError) throw new UrlError(502, 'Internal Server Error');
      const response = responseOf(Buffer.from(result.Payload ?? []));
      const headers: Record<string, string | string[]> = { ...response.headers, 'x-amzn-RequestId': requestId };
      if (cors && origin) Object.assign(headers, corsHeaders(cors, origin));
      send(res, response.status, response.body, headers);
    } catch (err) {
      if (err instanceof UrlError) return fail(res, err, requestId);
      if (err instanceof AwsError) return fail(res, new UrlError(err.status, err.message), requestId);
      throw err;
    }
  }

  /** AWS_IAM: a SigV4-signed request; verified in strict mode. The caller, for requestContext.authorizer. */
  function authorize(req: IncomingMessage, body: Buffer) {
    const wire = wireRequestOf(req, body);
    const auth = readSigV4(req.headers, wire.query);
    if (!auth?.signature) throw new UrlError(403, 'Forbidden');
    if (env.config.auth === 'strict') verifyRequest(wire, auth, env.credentials, env.clock);
    const record = env.credentials.find(auth.accessKeyId);
    const account = env.credentials.accountOf(auth.accessKeyId);
    return {
      accessKey: auth.accessKeyId,
      accountId: account,
      arn: record?.arn ?? `arn:aws:iam::${account}:root`,
      userId: record?.userId ?? account,
    };
  }

  const hostRoute: HttpRoute = {
    prefix: '/',
    claims: (req) => HOST.test(String(req.headers.host ?? '')),
    handle(req, res) {
      const [, urlId, region] = HOST.exec(String(req.headers.host))!;
      return serve(req, res, urlId.toLowerCase(), req.url ?? '/', region);
    },
  };
  const pathRoute: HttpRoute = {
    prefix: '/_lambda-url/',
    handle(req, res) {
      const m = /^\/_lambda-url\/([^/?]*)(.*)$/.exec(req.url ?? '')!;
      const rest = m[2].startsWith('/') ? m[2] : `/${m[2]}`;
      return serve(req, res, m[1], rest);
    },
  };
  return [pathRoute, hostRoute];
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  if (Number(req.headers['content-length']) > PAYLOAD_LIMIT) {
    req.resume();
    return Promise.reject(new UrlError(413, 'Request Entity Too Large'));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= PAYLOAD_LIMIT) chunks.push(c);
    });
    req.once('end', () => (size > PAYLOAD_LIMIT ? reject(new UrlError(413, 'Request Entity Too Large')) : resolve(Buffer.concat(chunks))));
    req.once('error', reject);
  });
}

const TEXT = /^(text\/|application\/(json|xml|javascript|x-www-form-urlencoded|[\w.+-]+\+(json|xml))\b)/i;

/** Whether a body goes to the function as text: a textual content type, or none and valid UTF-8. */
function isText(contentType: string | undefined, body: Buffer) {
  if (contentType) return TEXT.test(contentType);
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(body);
    return true;
  } catch {
    return false;
  }
}

interface EventContext {
  urlId: string;
  domainName: string;
  requestId: string;
  accountId: string;
  caller?: { accessKey: string; accountId: string; arn: string; userId: string };
  now: number;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** requestContext.time: 07/Sep/2021:22:50:22 +0000 */
function clf(ms: number) {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

/** The payload format 2.0 event of one request; `target` is the path and query the function sees. */
export function eventOf(req: IncomingMessage, body: Buffer, target: string, c: EventContext) {
  const q = target.indexOf('?');
  const rawPath = q === -1 ? target : target.slice(0, q);
  const rawQueryString = q === -1 ? '' : target.slice(q + 1);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && k !== 'cookie') headers[k] = Array.isArray(v) ? v.join(',') : v;
  const sourceIp = (req.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, '');
  headers['x-forwarded-for'] ??= sourceIp;
  headers['x-forwarded-proto'] ??= 'http';
  headers['x-forwarded-port'] ??= String(req.socket.localPort ?? '');
  const query: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(rawQueryString)) query[k] = k in query ? `${query[k]},${v}` : v;
  const cookie = req.headers.cookie;
  const text = isText(req.headers['content-type'], body);
  let path = rawPath;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    // a malformed escape stays as sent
  }
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString,
    ...(cookie ? { cookies: cookie.split(/;\s*/).filter(Boolean) } : {}),
    headers,
    ...(rawQueryString ? { queryStringParameters: query } : {}),
    requestContext: {
      accountId: c.accountId,
      apiId: c.urlId,
      ...(c.caller
        ? {
            authorizer: {
              iam: {
                accessKey: c.caller.accessKey,
                accountId: c.caller.accountId,
                callerId: c.caller.userId,
                cognitoIdentity: null,
                principalOrgId: null,
                userArn: c.caller.arn,
                userId: c.caller.userId,
              },
            },
          }
        : {}),
      domainName: c.domainName,
      domainPrefix: c.urlId,
      http: {
        method: req.method ?? 'GET',
        path,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp,
        userAgent: req.headers['user-agent'] ?? '',
      },
      requestId: c.requestId,
      routeKey: '$default',
      stage: '$default',
      time: clf(c.now),
      timeEpoch: c.now,
    },
    ...(body.length ? { body: text ? body.toString('utf8') : body.toString('base64') } : {}),
    isBase64Encoded: body.length > 0 && !text,
  };
}

/** The HTTP response a function's result means: an object with statusCode is one; anything else is a 200 JSON body as returned. */
export function responseOf(payload: Buffer): { status: number; headers: Record<string, string | string[]>; body: Buffer } {
  let value: unknown;
  try {
    value = JSON.parse(payload.toString('utf8'));
  } catch {
    value = undefined;
  }
  if (!value || typeof value !== 'object' || Array.isArray(value) || !('statusCode' in value))
    return { status: 200, headers: { 'Content-Type': 'application/json' }, body: payload };
  const r = value as {
    statusCode: unknown;
    headers?: Record<string, unknown>;
    body?: unknown;
    isBase64Encoded?: boolean;
    cookies?: unknown;
  };
  const status = Number(r.statusCode);
  if (!Number.isInteger(status) || status < 100 || status > 599) throw new UrlError(502, 'Internal Server Error');
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(r.headers ?? {})) if (v !== null && v !== undefined) headers[k.toLowerCase()] = String(v);
  headers['content-type'] ??= 'application/json';
  if (Array.isArray(r.cookies) && r.cookies.length) headers['set-cookie'] = r.cookies.map(String);
  const text = r.body === undefined || r.body === null ? '' : typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
  return { status, headers, body: r.isBase64Encoded ? Buffer.from(text, 'base64') : Buffer.from(text, 'utf8') };
}

const allowsOrigin = (cors: Cors, origin: string) => (cors.AllowOrigins ?? []).some((o) => o === '*' || o === origin);

function corsHeaders(cors: Cors, origin: string): Record<string, string> {
  if (!allowsOrigin(cors, origin)) return {};
  return {
    'access-control-allow-origin': (cors.AllowOrigins ?? []).includes('*') && !cors.AllowCredentials ? '*' : origin,
    ...(cors.ExposeHeaders?.length ? { 'access-control-expose-headers': cors.ExposeHeaders.join(',') } : {}),
    ...(cors.AllowCredentials ? { 'access-control-allow-credentials': 'true' } : {}),
    vary: 'Origin',
  };
}

function preflightHeaders(cors: Cors, origin: string): Record<string, string> {
  if (!allowsOrigin(cors, origin)) return {};
  return {
    ...corsHeaders(cors, origin),
    ...(cors.AllowMethods?.length ? { 'access-control-allow-methods': cors.AllowMethods.join(',') } : {}),
    ...(cors.AllowHeaders?.length ? { 'access-control-allow-headers': cors.AllowHeaders.join(',') } : {}),
    ...(cors.MaxAge !== undefined ? { 'access-control-max-age': String(cors.MaxAge) } : {}),
  };
}
