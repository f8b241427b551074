/**
 * STS GetCallerIdentity as the aws CLI sends it (awsQuery POST, SigV4 header), signed once per
 * target and replayed: latency and requests/s on 1 and on 32 keep-alive connections. Also the
 * first call after a cold start (which includes any lazy loading in the server).
 */
import { callOnce, callScenario, type CallTiming } from './callScenario.js';
import type { RawResponse } from './rawHttp.js';
import { rawRequest, signV4 } from './sigv4.js';
import type { Target, TargetName } from './targets.js';

const BODY = 'Action=GetCallerIdentity&Version=2011-06-15';

export function getCallerIdentityRequest(t: { host: string; port: number }): Buffer {
  const headers = signV4({
    method: 'POST',
    host: `${t.host}:${t.port}`,
    path: '/',
    service: 'sts',
    headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
    body: BODY,
  });
  return rawRequest('POST', '/', headers, BODY);
}

export const isIdentity = (r: RawResponse) => r.status === 200 && r.body.includes('<Arn>');

/** One call on a fresh connection: ms, or throws with the failure. */
export async function oneCall(t: { host: string; port: number }): Promise<number> {
  const req = getCallerIdentityRequest(t);
  const t0 = performance.now();
  await callOnce(t, req, isIdentity);
  return performance.now() - t0;
}

export type StsTiming = CallTiming;

export const stsScenario = (targets: Partial<Record<TargetName, Target | Error>>, timing: CallTiming, log: (s: string) => void) =>
  callScenario(
    { section: 'STS GetCallerIdentity (awsQuery, SigV4)', name: 'sts', request: getCallerIdentityRequest, ok: isIdentity },
    targets,
    timing,
    log,
  );
