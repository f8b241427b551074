/**
 * What a service folder exports: which model it serves, in which wire protocols, and a factory
 * that builds its handler table from the shared environment (store, blobs, bus, clock, credentials).
 */
import type { BlobStore } from '../core/blobs.js';
import type { Clock } from '../core/clock.js';
import type { Credentials } from '../core/credentials.js';
import type { EventBus } from '../core/events.js';
import type { Metrics } from '../core/metrics.js';
import type { GitRepos } from '../core/repos.js';
import type { ServiceCalls } from '../core/services.js';
import type { ObjectStore } from '../core/objects.js';
import type { Tags } from '../core/tags.js';
import type { Targets } from '../core/targets.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Store } from '../core/store.js';
import type { ModelPatch } from '../model/patch.js';
import type { WireProtocol } from '../protocol/types.js';
import type { RequestContext } from './context.js';

export type Handler<I = any, O = any> = (input: I, ctx: RequestContext) => O | Promise<O>;
export type HandlerTable = Record<string, Handler>;

export interface Config {
  host: string;
  port: number;
  dataDir: string;
  auth: 'default' | 'strict';
  ephemeral: boolean;
}

export interface ServiceEnv {
  store: Store;
  /** Every service's resource tags (core_tags), keyed by ARN. */
  tags: Tags;
  blobs: BlobStore;
  bus: EventBus;
  clock: Clock;
  credentials: Credentials;
  /** Alarm actions and EventBridge targets invoke other services' ARNs through this. */
  targets: Targets;
  /** Services report CloudWatch metrics about themselves through this. */
  metrics: Metrics;
  /** Reads another service's stored objects (S3 installs the reader). */
  objects: ObjectStore;
  /** Calls another service's API in-process (CodePipeline → CodeBuild StartBuild, CodeBuild → Logs). */
  services: ServiceCalls;
  /** Finds a CodeCommit repository's git directory (CodeCommit installs the resolver). */
  repos: GitRepos;
  config: Config;
}

/** A non-AWS HTTP route a service serves (git smart HTTP under /v1/repos, the OCI registry under /v2). */
export interface HttpRoute {
  /** Path prefix, e.g. "/v1/repos/". */
  prefix: string;
  /** Whether a request under the prefix is this route's (ECR's /v2/ leaves SigV4-signed requests, an S3 bucket "v2", to the gateway). */
  claims?(req: IncomingMessage): boolean;
  handle(req: IncomingMessage, res: ServerResponse): void | Promise<void>;
}

export interface ServiceSpec<H extends object = object> {
  /** opsbox's name for it, also the health endpoint's key. */
  name: string;
  /** Model id: models/<id>.json, e.g. "logs-2014-03-28". */
  model: string;
  /** SigV4 signing name (the credential scope's service). */
  signingName: string;
  /** Every wire protocol current clients use for this service; the gateway picks one per request. */
  protocols: WireProtocol[];
  /** X-Amz-Target prefix when it is not in the model (json over a query model, e.g. CloudWatch). */
  targetPrefix?: string;
  /** Smithy service shape name, for rpc-v2-cbor paths /service/<name>/operation/<Op>. */
  smithyName?: string;
  /** awsQueryCompatible: json/cbor errors also carry x-amzn-query-error. */
  queryCompatible?: boolean;
  /** IAM-like services are global: resources are scoped by account only. */
  global?: boolean;
  patch?: ModelPatch;
  /**
   * Builds one running instance of the service for one opsbox (the server owns it): its handler
   * table, typed with the generated <Name>Handlers interface, and what it starts and stops. No
   * state lives outside the instance, so two opsboxes in one process never touch each other.
   */
  create(env: ServiceEnv): ServiceInstance<H>;
  /** Services whose instances must start before this one's (CodePipeline resumes actions that call CodeBuild and S3). */
  dependsOn?: string[];
  /**
   * Operations whose large JSON bodies are parsed, validated and prepared by `fn` of `module`, which
   * gets { body, now, protocol } and returns the handler's input: in a worker thread
   * (core/workers.ts) while other clients are active, on the event loop otherwise.
   */
  offload?: Record<string, { module: string; fn: string; minBytes: number }>;
  /**
   * The largest request body an operation accepts (AWS's request size quotas: PutEvents, PutLogEvents,
   * PutMetricData). A bigger body is refused with 413 while it is read, before anything is built from it;
   * every other buffered body is capped at 64 MiB.
   */
  bodyLimits?: Record<string, number>;
  /** Where AWS's front end for this service differs from the generic one (S3's host names, envelope, fallback). */
  front?: ServiceFront;
  /** Operations AWS answers without a signature even in strict mode (SNS ConfirmSubscription from a SubscribeURL). */
  anonymousOperations?: string[];
}

export interface ServiceFront {
  /** Requests nothing else claims (unsigned, no target, no query Action) come here: S3's anonymous GETs and browser uploads. */
  fallback?: boolean;
  /**
   * Virtual-hosted style: a host matching this pattern names the first path segment in capture group 1
   * (`bucket.localhost:4566/key` → `/bucket/key`); `<signing name>.localhost` never does.
   */
  virtualHost?: RegExp;
  /** The error for a REST request no operation's route matches (S3: MethodNotAllowed, 405). */
  unmatchedRoute?: () => Error;
  /** rest-xml errors as a bare `<Error>` with RequestId and HostId (S3), not `<ErrorResponse>`. */
  bareErrors?: boolean;
  /** The XML namespace responses carry when the model names none (S3's). */
  xmlNamespace?: string;
}

/** A service running in one opsbox. */
export interface ServiceInstance<H extends object = object> {
  handlers: H;
  /** Non-AWS routes (git smart HTTP, SNS's signing certificate). */
  routes?: HttpRoute[];
  /**
   * Called once every service of the opsbox exists and it listens, dependencies first: resume what a
   * previous run left (interrupted builds, executions, deliveries), start timers and engines.
   */
  start?(): void | Promise<void>;
  /** Stops the instance's timers, child processes and subscriptions; called in reverse start order. */
  close?(): void | Promise<void>;
}
