/**
 * The request path of every AWS API call, in order:
 *   1. identify the service, wire protocol and operation (rpc-v2 path, X-Amz-Target, SigV4 scope,
 *      host, Action field, REST templates)
 *   2. read the body (unless the operation streams it)
 *   3. resolve credentials to account, region and caller; strict mode verifies the signature
 *   4. parse wire bytes into typed input (protocol/, driven by the model)
 *   5. validate (required members from the model, constraints from the service's patch)
 *   6. dispatch to the service's handler
 *   7. serialize the output or the AwsError in the protocol the request used
 * Anything thrown that is not an AwsError becomes a 500 InternalFailure; the server keeps serving.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { DEFAULT_ACCOUNT } from '../core/credentials.js';
import { AwsError, internalFailure, notImplemented } from '../core/errors.js';
import { requestId as newRequestId } from '../core/ids.js';
import { log } from '../core/log.js';
import { WorkerPool } from '../core/workers.js';
import { loadModel, type Operation, type ServiceModel } from '../model/model.js';
import type { ModelPatch } from '../model/patch.js';
import { awsJson10, awsJson11 } from '../protocol/awsJson.js';
import { awsQuery, queryParams } from '../protocol/awsQuery.js';
import { matchRestRoute, streamingPayload } from '../protocol/rest.js';
import { restJson } from '../protocol/restJson.js';
import { restXml } from '../protocol/restXml.js';
import { RPC_V2_PATH, rpcv2Cbor } from '../protocol/rpcv2Cbor.js';
import { wireRequestOf, type Protocol, type ResponseMeta, type WireRequest } from '../protocol/types.js';
import type { Caller, RequestContext } from './context.js';
import type { HandlerTable, HttpRoute, ServiceEnv, ServiceInstance, ServiceSpec } from './service.js';
import { readSigV4, type SigV4Auth } from './sigv4.js';
import { verifyRequest } from './strictAuth.js';
import type { CallScope } from '../core/services.js';
import { validateInput } from './validate.js';

const MAX_BUFFERED_BODY = 64 * 1024 * 1024;
const CONCURRENCY_WINDOW_MS = 50;

interface Served {
  spec: ServiceSpec;
  model: ServiceModel;
  handlers: HandlerTable;
  instance: ServiceInstance;
  patch: ModelPatch;
}

interface Routed {
  served: Served;
  protocol: Protocol;
  /** Known once the operation is found; awsQuery needs the body first. */
  op?: Operation;
  opName?: string;
  labels?: Record<string, string>;
  /** An unsigned awsQuery form: the service is the one whose model has the body's Action. */
  byAction?: boolean;
}

export class Gateway {
  private bySigningName = new Map<string, Served>();
  private byTarget = new Map<string, Served>();
  private bySmithyName = new Map<string, Served>();
  readonly served: Served[] = [];
  private readonly fallbackServed: Served | undefined;
  /** Threads for the operations services offload (ServiceSpec.offload); started at first use. */
  private readonly workers = new WorkerPool();
  /** Connections that sent a request within the last CONCURRENCY_WINDOW_MS, and when. */
  private recent = new Map<object, number>();

  /** How many connections sent a request lately: a worker pays off only when others can be served meanwhile. */
  private get clientsActive() {
    return this.recent.size;
  }

  private noteClient(socket: object) {
    const now = performance.now();
    this.recent.set(socket, now);
    if (this.recent.size > 1) for (const [s, t] of this.recent) if (now - t > CONCURRENCY_WINDOW_MS) this.recent.delete(s);
  }

  constructor(
    specs: ServiceSpec[],
    private env: ServiceEnv,
  ) {
    for (const spec of specs) {
      const model = loadModel(spec.model);
      const instance = spec.create(env);
      const served: Served = { spec, model, handlers: instance.handlers as HandlerTable, instance, patch: spec.patch ?? {} };
      this.served.push(served);
      this.bySigningName.set(spec.signingName, served);
      const target = spec.targetPrefix ?? model.metadata.targetPrefix;
      if (target) this.byTarget.set(target, served);
      if (spec.smithyName) this.bySmithyName.set(spec.smithyName, served);
      env.services.register(spec.name, (operation, input, scope) => this.dispatchInternal(served, operation, input, scope));
    }
    this.fallbackServed = this.served.find((s) => s.spec.front?.fallback);
  }

  /** Where requests no service claims go (ServiceFront.fallback: S3). */
  private get fallback(): Served {
    if (!this.fallbackServed) throw new AwsError('UnknownOperationException', 'The request names no service opsbox serves.', 400);
    return this.fallbackServed;
  }

  /** The running instance of a service (in-process tests and benchmarks reach engines through it). */
  instance<I extends ServiceInstance = ServiceInstance>(name: string): I {
    const served = this.served.find((s) => s.spec.name === name);
    if (!served) throw new Error(`opsbox serves no ${name}`);
    return served.instance as I;
  }

  get routes(): HttpRoute[] {
    return this.served.flatMap((s) => s.instance.routes ?? []);
  }

  private started: Served[] = [];

  /**
   * Starts every instance, each after the services it names in dependsOn. Synchronous starts run
   * at once (an in-process test's timers exist when this returns); an asynchronous one holds back
   * the starts after it.
   */
  start(): Promise<void> {
    const byName = new Map(this.served.map((s) => [s.spec.name, s]));
    const order: Served[] = [];
    const visit = (s: Served, path: string[]) => {
      if (order.includes(s)) return;
      if (path.includes(s.spec.name)) throw new Error(`service dependencies form a cycle: ${[...path, s.spec.name].join(' → ')}`);
      for (const dep of s.spec.dependsOn ?? []) {
        const d = byName.get(dep);
        if (d) visit(d, [...path, s.spec.name]);
      }
      order.push(s);
    };
    for (const s of this.served) visit(s, []);
    let pending: Promise<void> | undefined;
    for (const s of order) {
      this.started.push(s);
      if (pending) pending = pending.then(() => s.instance.start?.());
      else {
        const r = s.instance.start?.();
        if (r) pending = Promise.resolve(r);
      }
    }
    return pending ?? Promise.resolve();
  }

  /** Stops the instances in reverse start order (never-started ones too), then the worker threads. */
  async close() {
    const order = [...this.started].reverse().concat(this.served.filter((s) => !this.started.includes(s)));
    for (const s of order) {
      try {
        await s.instance.close?.();
      } catch (err) {
        log.error('service close failed', { service: s.spec.name, err: String(err) });
      }
    }
    await this.workers.close();
  }

  /** An in-process call from another service: the same validation and handler as a wire request. */
  private async dispatchInternal(served: Served, operation: string, input: object, scope: CallScope) {
    const op = served.model.operation(operation);
    if (!op) throw new Error(`${served.spec.name} has no operation ${operation}`);
    validateInput(served.model, operation, op.input, input as Record<string, unknown>, served.patch, 'ValidationException');
    const handler = served.handlers[operation];
    if (!handler) throw notImplemented(served.spec.name, operation);
    const account = scope.account;
    const ctx: RequestContext = {
      requestId: newRequestId(),
      service: served.spec.name,
      operation,
      account,
      region: scope.region,
      caller: { account, arn: `arn:aws:iam::${account}:root`, userId: account, accessKeyId: '' },
      clock: this.env.clock,
      host: `${this.env.config.host}:${this.env.config.port}`,
      headers: {},
      internal: scope.internal,
    };
    return handler(input, ctx);
  }

  async handle(req: IncomingMessage, res: ServerResponse) {
    const requestId = newRequestId();
    this.noteClient(req.socket);
    const wire = wireRequestOf(req);
    const auth = readSigV4(req.headers, wire.query);
    let routed: Routed | undefined;
    let meta: ResponseMeta | undefined;
    try {
      routed = this.identify(wire, auth);
      meta = responseMeta(routed.served, requestId);
      if (!(routed.op && streamingPayload(routed.served.model, routed.op))) wire.body = await readBody(req, bodyLimit(routed));
      // the signature covers the bytes as sent: checked before a gzip body is inflated
      if (this.env.config.auth === 'strict' && !anonymousAllowed(routed, wire, auth))
        verifyRequest(wire, auth, this.env.credentials, this.env.clock);
      // SDKs gzip large bodies of operations with the requestCompression trait (CloudWatch PutMetricData);
      // REST protocols keep Content-Encoding as the object's own metadata (S3), so only RPC bodies are inflated
      if (wire.body && !routed.protocol.name.startsWith('rest') && /^\s*gzip\s*$/i.test(String(req.headers['content-encoding'] ?? '')))
        wire.body = inflate(wire.body);
      if (!routed.op) {
        this.findOperation(routed, wire);
        if (routed.byAction) meta = responseMeta(routed.served, requestId);
        // a query body names its operation inside: that operation's own limit is checked once it is known
        if (wire.body && wire.body.length > bodyLimit(routed)) throw bodyTooLarge(bodyLimit(routed));
      }
      const { served, protocol, op } = routed;
      const ctx = this.context(wire, auth, served, op!.name, requestId);
      const offload = served.spec.offload?.[op!.name];
      let input: Record<string, unknown>;
      if (offload && wire.body && wire.body.length >= offload.minBytes && protocol.name.startsWith('json')) {
        const task = { body: wire.body, now: this.env.clock.now(), protocol: protocol.name };
        // a worker pays off only when the event loop has other clients to serve meanwhile
        input = await (this.clientsActive > 1
          ? this.workers.run(offload.module, offload.fn, task)
          : this.workers.here(offload.module, offload.fn, task));
      } else {
        input = (await protocol.parse(served.model, op!, wire, routed.labels)) as Record<string, unknown>;
        validateInput(
          served.model,
          op!.name,
          op!.input,
          input,
          served.patch,
          protocol.name === 'query' ? 'ValidationError' : 'ValidationException',
        );
      }
      const handler = served.handlers[op!.name];
      if (!handler) throw notImplemented(served.spec.name, op!.name);
      const output = await handler(input, ctx);
      await protocol.serialize(op!, output, meta, res, wire);
      if (log.enabled('debug'))
        log.debug('request', {
          requestId,
          service: meta.service,
          operation: op!.name,
          account: ctx.account,
          region: ctx.region,
          status: res.statusCode,
        });
    } catch (err) {
      this.fail(err, routed, meta, requestId, wire, res);
    }
  }

  private fail(
    err: unknown,
    routed: Routed | undefined,
    meta: ResponseMeta | undefined,
    requestId: string,
    wire: WireRequest,
    res: ServerResponse,
  ) {
    let error: AwsError;
    if (err instanceof AwsError) error = err;
    // the client went away mid-body: nothing was stored and there is no one to answer
    else if (wire.stream.destroyed && (err as NodeJS.ErrnoException)?.code === 'ECONNRESET')
      error = new AwsError('IncompleteBody', 'The request body ended before its Content-Length.', 400);
    else {
      log.error('unhandled error', {
        requestId,
        service: meta?.service,
        operation: routed?.op?.name,
        err: err instanceof Error ? err.stack : String(err),
      });
      error = internalFailure();
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (log.enabled('debug'))
      log.debug('request failed', {
        requestId,
        service: meta?.service,
        operation: routed?.op?.name,
        code: error.code,
        status: error.status,
      });
    const served = routed?.served ?? this.fallbackServed ?? this.served[0];
    const protocol = routed?.protocol ?? (wire.headers['x-amz-target'] ? awsJson11 : RPC_V2_PATH.test(wire.path) ? rpcv2Cbor : restXml);
    const m = meta ?? responseMeta(served, requestId);
    if ((error as { closeConnection?: boolean }).closeConnection) {
      res.setHeader('Connection', 'close');
      // lingering close: the rest of the body is read and dropped for a moment, so the client gets the
      // answer instead of a reset, then the socket goes whatever the client still sends
      res.once('finish', () => {
        wire.stream.resume();
        setTimeout(() => wire.stream.socket.destroy(), 2000).unref();
      });
    }
    // an error answered before the body was read: drain it so keep-alive connections stay usable
    else if (!wire.body && !wire.stream.readableEnded) wire.stream.resume();
    protocol.serializeError(error, m, res, wire);
  }

  /** Step 1: which service, protocol and (when the headers say) operation. */
  private identify(req: WireRequest, auth: SigV4Auth | undefined): Routed {
    const rpc = RPC_V2_PATH.exec(req.path);
    if (rpc && (req.headers['smithy-protocol'] === 'rpc-v2-cbor' || req.method === 'POST')) {
      const served = this.bySmithyName.get(rpc[1]) ?? (auth && this.bySigningName.get(auth.service));
      if (served && served.spec.protocols.includes('rpc-v2-cbor')) return this.withOperation({ served, protocol: rpcv2Cbor }, rpc[2]);
    }
    const target = req.headers['x-amz-target'];
    if (typeof target === 'string') {
      const dot = target.lastIndexOf('.');
      const served = this.byTarget.get(target.slice(0, dot));
      if (!served) throw new AwsError('UnknownOperationException', `Unknown target prefix in X-Amz-Target: ${target}`, 400);
      const ct = String(req.headers['content-type'] ?? '');
      const json = ct.includes('1.0')
        ? awsJson10
        : ct.includes('1.1')
          ? awsJson11
          : served.model.metadata.jsonVersion === '1.0'
            ? awsJson10
            : awsJson11;
      return this.withOperation({ served, protocol: json }, target.slice(dot + 1));
    }
    if (
      !auth &&
      req.method === 'POST' &&
      req.path === '/' &&
      /^application\/x-www-form-urlencoded\b/i.test(String(req.headers['content-type'] ?? ''))
    ) {
      const queryService = this.served.find((s) => s.spec.protocols.includes('query'));
      if (queryService) return { served: queryService, protocol: awsQuery, byAction: true };
    }
    const served = this.serviceOf(req, auth);
    const protocols = served.spec.protocols;
    if (protocols.includes('query')) return { served, protocol: awsQuery };
    const rest = protocols.includes('rest-xml') ? restXml : restJson;
    if (served.spec.front?.virtualHost) rewriteVirtualHost(req, served.spec.front.virtualHost);
    const match = matchRestRoute(served.model, req.method, req.path, req.query, req.headers);
    if (!match) {
      if (served.spec.front?.unmatchedRoute) throw served.spec.front.unmatchedRoute();
      throw new AwsError('UnknownOperationException', `No operation of ${served.spec.name} matches ${req.method} ${req.path}`, 404);
    }
    return { served, protocol: rest, op: match.op, labels: match.labels };
  }

  private serviceOf(req: WireRequest, auth: SigV4Auth | undefined): Served {
    if (auth?.service) {
      const s = this.bySigningName.get(auth.service);
      if (s) return s;
      throw new AwsError('InvalidClientTokenId', `opsbox does not serve the service '${auth.service}' named in the credential scope.`, 403);
    }
    // unsigned awsQuery calls AWS allows (SNS ConfirmSubscription from a SubscribeURL) name their Action
    const action = req.method === 'GET' ? req.query.get('Action') : null;
    if (action) {
      const byAction = this.queryServiceWith(action);
      if (byAction) return byAction;
    }
    const host = String(req.headers.host ?? '').split(':')[0];
    const first = host.split('.')[0];
    const named = this.bySigningName.get(first);
    if (host.endsWith('.localhost') && named && !named.spec.front?.fallback) return named;
    return this.fallback;
  }

  private withOperation(routed: Routed, name: string): Routed {
    return { ...routed, op: routed.served.model.operation(name), opName: name };
  }

  /** The awsQuery service whose model has the operation `action` (unsigned calls name only their Action). */
  private queryServiceWith(action: string): Served | undefined {
    return this.served.find((s) => s.spec.protocols.includes('query') && s.model.operation(action));
  }

  /** The operation when the headers did not settle it: an unknown name, or awsQuery's Action field. */
  private findOperation(routed: Routed, req: WireRequest) {
    if (routed.opName !== undefined) throw new AwsError('UnknownOperationException', `Unknown operation ${routed.opName}`, 400);
    const action = queryParams(req).get('Action');
    if (!action) throw new AwsError('MissingAction', 'Missing Action', 400);
    if (routed.byAction) routed.served = this.queryServiceWith(action) ?? routed.served;
    const op = routed.served.model.operation(action);
    if (!op) throw new AwsError('InvalidAction', `The action ${action} is not valid for this web service.`, 400);
    routed.op = op;
  }

  /** Step 3: account, region and caller. */
  private context(req: WireRequest, auth: SigV4Auth | undefined, served: Served, operation: string, requestId: string): RequestContext {
    const akid = auth?.accessKeyId;
    const record = akid ? this.env.credentials.find(akid) : undefined;
    const account = record?.account ?? this.env.credentials.accountOf(akid);
    const caller: Caller = record
      ? { account, arn: record.arn, userId: record.userId, accessKeyId: akid! }
      : { account, arn: `arn:aws:iam::${account}:root`, userId: account, accessKeyId: akid ?? '' };
    return {
      requestId,
      service: served.spec.name,
      operation,
      account: account || DEFAULT_ACCOUNT,
      region: auth?.region || 'us-east-1',
      caller,
      clock: this.env.clock,
      host: String(req.headers.host ?? `${this.env.config.host}:${this.env.config.port}`),
      headers: req.headers,
    };
  }
}

/** An unsigned call of an operation the service declares anonymous (the operation named in the URL or the query body). */
function anonymousAllowed(routed: Routed, wire: WireRequest, auth: SigV4Auth | undefined): boolean {
  const anonymous = routed.served.spec.anonymousOperations;
  if (auth || !anonymous) return false;
  const name = routed.op?.name ?? (routed.protocol === awsQuery ? queryParams(wire).get('Action') : undefined);
  return !!name && anonymous.includes(name);
}

function responseMeta(served: Served, requestId: string): ResponseMeta {
  const service = served.spec.name;
  const front = served.spec.front;
  return {
    requestId,
    service,
    model: served.model,
    queryCompatible: !!served.spec.queryCompatible,
    patch: served.patch,
    bareErrors: !!front?.bareErrors,
    xmlNamespace: front?.xmlNamespace,
  };
}

/** bucket.localhost:4566/key → /bucket/key (virtual-hosted style; the service's ServiceFront.virtualHost). */
function rewriteVirtualHost(req: WireRequest, pattern: RegExp) {
  const host = String(req.headers.host ?? '').split(':')[0];
  const m = pattern.exec(host);
  if (!m?.[1]) return;
  req.path = `/${m[1]}${req.path === '/' ? '' : req.path}`;
}

function inflate(body: Buffer): Buffer {
  try {
    return gunzipSync(body, { maxOutputLength: MAX_BUFFERED_BODY });
  } catch {
    throw new AwsError('SerializationException', 'The request body could not be decompressed (Content-Encoding: gzip).', 400);
  }
}

/** An operation's body cap (ServiceSpec.bodyLimits; '*' while the operation is not known yet). */
function bodyLimit(routed: Routed): number {
  const limits = routed.served.spec.bodyLimits;
  return (routed.op && limits?.[routed.op.name]) || limits?.['*'] || MAX_BUFFERED_BODY;
}

const bodyTooLarge = (limit: number) =>
  Object.assign(new AwsError('RequestEntityTooLarge', `Request size exceeded ${limit} bytes`, 413), { closeConnection: true });

/**
 * Buffers a body of at most `limit` bytes. A bigger one (by its Content-Length, or once that many
 * bytes arrived) is refused with 413 and the connection closed after the answer, as AWS's front ends
 * do: the rest is never read, and a client still sending it sees the answer and a closed socket.
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge = () => bodyTooLarge(limit);
  if (Number(req.headers['content-length']) > limit) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData).pause();
        reject(tooLarge());
      } else chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
    req.once('error', reject);
    req.once('aborted', () => reject(new AwsError('IncompleteBody', 'The request body ended before its Content-Length.', 400)));
  });
}
