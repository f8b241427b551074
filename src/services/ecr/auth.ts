/**
 * Registry credentials as ECR hands them out: GetAuthorizationToken returns base64("AWS:<password>")
 * valid for 12 hours, and `docker login` / `podman login` send it back as HTTP basic auth. The
 * password names the account and region it was issued for and its expiry, signed with a key kept
 * once per data dir, so opsbox can map a registry request to an account without any other state.
 *
 * Strict mode accepts only such a token, unexpired. Default mode accepts any basic credentials:
 * a token picks its account and region; otherwise a 12-digit user name or a known access key picks
 * the account, in us-east-1.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Scope } from '../../core/arn.js';
import type { Credentials } from '../../core/credentials.js';
import type { EcrStore } from './store.js';

export const TOKEN_LIFETIME_MS = 12 * 3_600_000;

export type RegistryCaller = { ok: true; scope: Scope } | { ok: false; status: 401 | 403; code: string; message: string };

export function registryAuth(store: EcrStore, credentials: Credentials, strict: boolean) {
  // read (or made) once: every registry request signs with it, and the store write is not free
  let key: Buffer | undefined;
  const sign = (payload: string) =>
    createHmac(
      'sha256',
      (key ??= Buffer.from(
        store.meta('token-key', () => randomBytes(32).toString('hex')),
        'hex',
      )),
    )
      .update(payload)
      .digest('base64url');

  function issue(scope: Scope, now: number) {
    const expires = now + TOKEN_LIFETIME_MS;
    const payload = Buffer.from(JSON.stringify({ a: scope.account, r: scope.region, x: expires })).toString('base64url');
    const password = `${payload}.${sign(payload)}`;
    return { token: Buffer.from(`AWS:${password}`).toString('base64'), expires };
  }

  /** The account and region a token was issued for, or why it is not usable. */
  function readToken(password: string, now: number): { scope: Scope } | { expired: true } | undefined {
    const [payload, signature] = password.split('.');
    if (!payload || !signature) return undefined;
    const expected = Buffer.from(sign(payload));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
    const t = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { a: string; r: string; x: number };
    if (t.x < now) return { expired: true };
    return { scope: { account: t.a, region: t.r } };
  }

  function identify(req: IncomingMessage, now: number): RegistryCaller {
    const h = req.headers.authorization;
    if (!h || !/^basic /i.test(h)) return { ok: false, status: 401, code: 'UNAUTHORIZED', message: 'authentication required' };
    const decoded = Buffer.from(h.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const user = colon < 0 ? decoded : decoded.slice(0, colon);
    const password = colon < 0 ? '' : decoded.slice(colon + 1);
    const token = readToken(password, now);
    if (token && 'scope' in token) return { ok: true, scope: token.scope };
    if (strict || token)
      return token
        ? { ok: false, status: 403, code: 'DENIED', message: 'Your authorization token has expired. Reauthenticate and try again.' }
        : {
            ok: false,
            status: 401,
            code: 'UNAUTHORIZED',
            message: 'Your authorization token is invalid. Reauthenticate with aws ecr get-login-password.',
          };
    return { ok: true, scope: { account: credentials.accountOf(user || undefined), region: 'us-east-1' } };
  }

  return { issue, identify };
}
