import type { IncomingHttpHeaders } from 'node:http';
import type { Clock } from '../core/clock.js';
import type { Scope } from '../core/arn.js';

/** Who signed the request, as GetCallerIdentity reports it. */
export interface Caller {
  account: string;
  arn: string;
  userId: string;
  accessKeyId: string;
}

/** What a handler knows about the request beyond its typed input. */
export interface RequestContext extends Scope {
  requestId: string;
  service: string;
  operation: string;
  caller: Caller;
  clock: Clock;
  /** The Host header the client used; services build URLs (cloneUrlHttp, Location) from it. */
  host: string;
  headers: IncomingHttpHeaders;
  /** Set only on in-process calls between services (core/services.ts). */
  internal?: Record<string, unknown>;
}
