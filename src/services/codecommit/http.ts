/**
 * Git smart HTTP at /v1/repos/<name> (AWS's cloneUrlHttp path), served the way `git http-backend`
 * does but without it: GET info/refs?service=git-<svc> streams `git <svc> --stateless-rpc
 * --advertise-refs`, POST git-<svc> pipes the request body (inflated when gzip) into `git <svc>
 * --stateless-rpc` and streams its output back, so no pack is ever held in memory. Dumb HTTP paths
 * (HEAD, objects/...) answer 404: git clients only fall back to them when a server is not smart.
 *
 * Who is calling (account, region):
 *  - Both modes: a request without HTTP basic credentials is answered 401 + WWW-Authenticate, since
 *    the account cannot be known without them (git sends none until challenged, even when the URL
 *    holds them); the repository is then looked up only in the caller's account and region.
 *  - default mode: any credentials. The basic-auth username picks the account when it is a
 *    12-digit id or a known access key (anything else: the default account); it may end in
 *    "@<region>" (written %40 in a URL) to pick a region, otherwise us-east-1. The password is ignored.
 *  - OPSBOX_AUTH=strict: HTTP basic credentials are required;
 *    the username is a known access key id (optionally "%<session token>" as AWS's credential helper
 *    sends it, optionally "@<region>"), else 403. The password is either the key's secret, or the
 *    signature `aws codecommit credential-helper --ignore-host-check` / git-remote-codecommit compute
 *    ("<yyyymmddThhmmss>Z<hex sigv4>"); the region that signature verifies for selects the region.
 *
 * A push (POST git-receive-pack) runs under the repository's lock; the refs before and after are
 * compared and each change is published as a "CodeCommit Repository State Change" event.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createGunzip } from 'node:zlib';
import { DEFAULT_ACCOUNT, type CredentialRecord } from '../../core/credentials.js';
import { log } from '../../core/log.js';
import type { HttpRoute } from '../../gateway/service.js';
import type { Codecommit } from './context.js';
import type { RepoRow } from './store.js';

const PREFIX = '/v1/repos/';
const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;

interface Who {
  account: string;
  region: string;
  user: string;
  arn: string;
}

export function gitHttpRoute(cc: Codecommit): HttpRoute {
  return { prefix: PREFIX, handle: (req, res) => serve(cc, req, res) };
}

function reply(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function basicAuth(req: IncomingMessage): { user: string; pass: string } | undefined {
  const h = req.headers.authorization;
  if (!h || !/^basic /i.test(h)) return undefined;
  const decoded = Buffer.from(h.slice(6).trim(), 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i < 0) return undefined;
  return { user: decoded.slice(0, i), pass: decoded.slice(i + 1) };
}

const REGIONS = [
  'us-east-1',
  'us-east-2',
  'us-west-1',
  'us-west-2',
  'ca-central-1',
  'ca-west-1',
  'sa-east-1',
  'mx-central-1',
  'eu-west-1',
  'eu-west-2',
  'eu-west-3',
  'eu-central-1',
  'eu-central-2',
  'eu-north-1',
  'eu-south-1',
  'eu-south-2',
  'ap-east-1',
  'ap-south-1',
  'ap-south-2',
  'ap-northeast-1',
  'ap-northeast-2',
  'ap-northeast-3',
  'ap-southeast-1',
  'ap-southeast-2',
  'ap-southeast-3',
  'ap-southeast-4',
  'ap-southeast-5',
  'ap-southeast-7',
  'me-south-1',
  'me-central-1',
  'il-central-1',
  'af-south-1',
  'us-gov-west-1',
  'us-gov-east-1',
  'cn-north-1',
  'cn-northwest-1',
];

/**
 * The password AWS's credential helper sends ("<yyyymmddThhmmss>Z<sigv4 of 'GIT <path>'>", valid
 * 15 minutes). The signing region is not in the password: the one that verifies is the region asked for.
 */
function helperSignatureRegion(
  pass: string,
  rec: CredentialRecord,
  path: string,
  host: string,
  preferred: string,
  now: number,
): string | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z([0-9a-f]{64})$/.exec(pass);
  if (!m) return undefined;
  const signedAt = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
  if (Math.abs(now - signedAt) > 15 * 60_000) return undefined;
  for (const region of [preferred, ...REGIONS.filter((r) => r !== preferred)])
    if (verifiesHelperSignature(pass, rec, path, host, region)) return region;
  return undefined;
}

function verifiesHelperSignature(pass: string, rec: CredentialRecord, path: string, host: string, region: string) {
  const m = /^(\d{8})(T\d{6})Z([0-9a-f]{64})$/.exec(pass);
  if (!m) return false;
  const [, date, time, signature] = m;
  const canonical = `GIT\n${path}\n\nhost:${host}\n\nhost\n`;
  const scope = `${date}/${region}/codecommit/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', `${date}${time}`, scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
  const h = (k: Buffer | string, d: string) => createHmac('sha256', k).update(d, 'utf8').digest();
  const key = h(h(h(h('AWS4' + rec.secretAccessKey, date), region), 'codecommit'), 'aws4_request');
  const expected = createHmac('sha256', key).update(toSign, 'utf8').digest('hex');
  return timingSafeEqual(Buffer.from(expected), Buffer.from(signature));
}

function identify(cc: Codecommit, req: IncomingMessage, res: ServerResponse, repoPath: string): Who | undefined {
  const creds = cc.env.credentials;
  const auth = basicAuth(req);
  let user = auth?.user ?? '';
  let region = 'us-east-1';
  const at = user.lastIndexOf('@');
  if (at > 0 && REGION.test(user.slice(at + 1))) {
    region = user.slice(at + 1);
    user = user.slice(0, at);
  }
  const keyId = user.split('%')[0];
  if (!auth) {
    reply(res, 401, 'Authentication required\n', { 'WWW-Authenticate': 'Basic realm="opsbox"' });
    return undefined;
  }
  if (cc.env.config.auth !== 'strict') {
    const rec = keyId ? creds.find(keyId) : undefined;
    const account = creds.accountOf(keyId || undefined);
    return { account, region, user: keyId || 'anonymous', arn: rec?.arn ?? `arn:aws:iam::${account}:root` };
  }
  const rec = creds.find(keyId);
  const now = cc.env.clock.now();
  const host = String(req.headers.host ?? '').replace(/:\d+$/, '');
  const usable = rec && rec.status === 'Active' && !(rec.expiresAt && rec.expiresAt < now);
  const signedRegion =
    usable && auth.pass !== rec.secretAccessKey ? helperSignatureRegion(auth.pass, rec, repoPath, host, region, now) : undefined;
  if (signedRegion) region = signedRegion;
  if (!usable || (auth.pass !== rec.secretAccessKey && !signedRegion)) {
    reply(res, 403, `The security token included in the request is invalid.\n`);
    return undefined;
  }
  return { account: rec.account ?? DEFAULT_ACCOUNT, region, user: keyId, arn: rec.arn };
}

async function serve(cc: Codecommit, req: IncomingMessage, res: ServerResponse) {
  const url = new URL(req.url ?? '/', 'http://x');
  const rest = url.pathname.slice(PREFIX.length);
  const slash = rest.indexOf('/');
  let name: string;
  try {
    name = decodeURIComponent(slash < 0 ? rest : rest.slice(0, slash));
  } catch {
    return reply(res, 400, 'Bad request\n');
  }
  const sub = slash < 0 ? '' : rest.slice(slash);
  if (!/^[\w.-]{1,100}$/.test(name) || sub.includes('..') || sub.includes('\\')) return reply(res, 404, 'Repository not found\n');
  const who = identify(cc, req, res, PREFIX + name);
  if (!who) return;
  // only the caller's own account and region: another account's repository of the same name is not found
  const row = cc.store.findRepo(who, name);
  if (!row) return reply(res, 404, `Repository not found: ${name}\n`);

  const call = gitCall(req.method ?? 'GET', sub, url.searchParams.get('service'));
  if (call === 405) return reply(res, 405, 'Method not allowed\n', { Allow: sub === '/info/refs' ? 'GET, HEAD' : 'POST' });
  if (typeof call === 'number') return reply(res, call, call === 403 ? 'Unsupported service\n' : 'Not found\n');
  if (call.rpc && req.headers['content-type'] !== `application/x-git-${call.service}-request`)
    return reply(res, 415, 'Unsupported Media Type\n');
  if (!(call.rpc && call.service === 'receive-pack')) return run(cc, req, res, row, call, who);
  const repo = row;
  const caller = who.arn;
  await cc.withLock(repo.id, async () => {
    const dir = cc.gitDir(repo);
    const before = await cc.git.refs(dir);
    // the response ends only after the events are out: when `git push` returns, everything is published
    await run(cc, req, res, repo, call, who, async () => {
      const after = await cc.git.refs(dir);
      await cc.refsChanged(repo, cc.diffRefs(before, after), caller);
    });
  });
}

interface GitCall {
  service: 'upload-pack' | 'receive-pack';
  /** POST <repo>/git-<service> (true) or GET <repo>/info/refs?service=git-<service> (false). */
  rpc: boolean;
}

/** The smart HTTP request a path names, or the status to answer (dumb HTTP paths are not served). */
function gitCall(method: string, sub: string, service: string | null): GitCall | number {
  if (sub === '/info/refs') {
    if (method !== 'GET' && method !== 'HEAD') return 405;
    if (service === null) return 404;
    if (service !== 'git-upload-pack' && service !== 'git-receive-pack') return 403;
    return { service: service.slice(4) as GitCall['service'], rpc: false };
  }
  if (sub === '/git-upload-pack' || sub === '/git-receive-pack') {
    if (method !== 'POST') return 405;
    return { service: sub.slice(5) as GitCall['service'], rpc: true };
  }
  return 404;
}

const pktLine = (s: string) => (s.length + 4).toString(16).padStart(4, '0') + s;

/**
 * Runs `git <service> --stateless-rpc` for one request, as http-backend would: the advertisement
 * (info/refs) or the request body piped in, stdout streamed out. Resolves when git has exited and
 * `beforeEnd` ran.
 */
/**
 * Pushed objects are checked as git's fsck does, with the tree entries no checkout may write
 * (`.`, `..`, `.git`) raised from warnings to errors, so such a push is refused.
 */
const RECEIVE_FSCK = [
  '-c',
  'receive.fsckObjects=true',
  '-c',
  'receive.fsck.hasDot=error',
  '-c',
  'receive.fsck.hasDotdot=error',
  '-c',
  'receive.fsck.hasDotgit=error',
];

function run(
  cc: Codecommit,
  req: IncomingMessage,
  res: ServerResponse,
  row: RepoRow,
  call: GitCall,
  who: Who,
  beforeEnd?: () => Promise<void>,
): Promise<void> {
  const protocol = req.headers['git-protocol'];
  const env: Record<string, string> = {
    GIT_COMMITTER_NAME: who.user,
    GIT_COMMITTER_EMAIL: `${who.user}@http.${req.socket.remoteAddress ?? '(none)'}`,
  };
  if (protocol) env.GIT_PROTOCOL = String(protocol);
  const kind = call.rpc ? 'result' : 'advertisement';
  const headers = {
    'Content-Type': `application/x-git-${call.service}-${kind}`,
    Expires: 'Fri, 01 Jan 1980 00:00:00 GMT',
    Pragma: 'no-cache',
    'Cache-Control': 'no-cache, max-age=0, must-revalidate',
  };
  // v0/v1 advertisements open with the service line; a v2 capability advertisement does not
  const prefix = call.rpc || /(^|:)version=2(:|$)/.test(String(protocol ?? '')) ? '' : `${pktLine(`# service=git-${call.service}\n`)}0000`;
  const args = [
    ...(call.service === 'receive-pack' ? RECEIVE_FSCK : []),
    call.service,
    '--stateless-rpc',
    ...(call.rpc ? [] : ['--advertise-refs']),
    cc.gitDir(row),
  ];

  return new Promise((resolve) => {
    const child = cc.git.spawn(undefined, args, env);
    let stderr = '';
    let badRequest: string | undefined;
    child.stderr!.on('data', (d: Buffer) => {
      if (stderr.length < 4096) stderr += d.toString('utf8');
    });
    child.stdin!.on('error', () => {});
    if (!call.rpc) child.stdin!.end();
    else if (/^(x-)?gzip$/i.test(String(req.headers['content-encoding'] ?? ''))) {
      const gunzip = createGunzip();
      gunzip.on('error', (err) => {
        badRequest ??= `error: bad gzip request body: ${err.message}\n`;
        child.kill('SIGTERM');
      });
      req.pipe(gunzip).pipe(child.stdin!);
    } else req.pipe(child.stdin!);
    req.on('aborted', () => child.kill('SIGTERM'));
    res.on('close', () => {
      if (child.exitCode === null) child.kill('SIGTERM');
    });

    let started = false;
    const start = () => {
      if (started) return;
      started = true;
      res.writeHead(200, headers);
      if (prefix && req.method !== 'HEAD') res.write(prefix);
    };
    const out = child.stdout!;
    out.on('data', (chunk: Buffer) => {
      start();
      if (req.method === 'HEAD') return;
      if (!res.write(chunk)) {
        out.pause();
        res.once('drain', () => out.resume());
      }
    });
    child.on('error', (err) => {
      log.error(`git ${call.service} failed to start`, { err: String(err) });
      if (!started) reply(res, 500, 'git unavailable\n');
      started = true;
      resolve();
    });
    child.on('close', async (code) => {
      if (code !== 0 && stderr) log.warn(`git ${call.service}`, { code, stderr: stderr.trim() });
      try {
        await beforeEnd?.();
      } catch (err) {
        log.error('codecommit push bookkeeping failed', { err: String(err) });
      }
      // a request git could not read (bad pkt-lines, bad gzip) is the client's fault: 400 with git's words
      const protocolError = /^fatal: .*(protocol error|pkt-line|unknown capability|not our ref)/m.exec(stderr)
        ? `${stderr.trim().split('\n')[0]}\n`
        : undefined;
      if (code !== 0 && !started)
        reply(res, badRequest || protocolError ? 400 : 500, badRequest ?? protocolError ?? `git ${call.service} failed\n`);
      else {
        start();
        res.end();
      }
      resolve();
    });
  });
}
