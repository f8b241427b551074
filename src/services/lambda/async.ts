/**
 * Asynchronous invocation as Lambda does it. Invoke with InvocationType Event (and the ARN targets
 * of SNS subscriptions, EventBridge rules and Lambda destinations) puts the event on the
 * function's queue: a row in lambda_async_events, committed before the 202 is answered, so an
 * acknowledged event survives kill -9 and runs after the next start (an attempt the process was
 * running when it died runs again: delivery is at least once, as on AWS).
 *
 * The engine runs due events in the background, each within the function's concurrency
 * (concurrency.ts): a throttled event stays queued and is tried again with a backoff (1 s doubling
 * to 5 min), or as soon as a slot of its function frees. A function error or timeout is retried
 * MaximumRetryAttempts times (default 2), one then two minutes later as Lambda does (the minute is
 * OPSBOX_LAMBDA_RETRY_DELAY_MS, for tests); an event older than MaximumEventAgeInSeconds (default
 * 6 h) is dropped. Then the invocation record goes to the OnFailure destination (condition
 * RetriesExhausted or EventAgeExceeded) or, without one, the original event to the function's
 * DeadLetterConfig target; a success goes to the OnSuccess destination. Destinations are SNS
 * topics, EventBridge buses (as a "Lambda Function Invocation Result" event), other functions
 * (invoked asynchronously) and whatever else env.targets delivers to.
 */
import { randomUUID } from 'node:crypto';
import { arn, parseArn, type Scope } from '../../core/arn.js';
import type { Clock } from '../../core/clock.js';
import { log } from '../../core/log.js';
import type { Metrics } from '../../core/metrics.js';
import type { TargetInvocation, Targets } from '../../core/targets.js';
import type { ConcurrencyLimits, ThrottleReason } from './concurrency.js';
import type { Executor } from './invoke.js';
import type { InvocationResult } from './runtime/environments.js';
import { docOf, functionArn, type AsyncEventRow, type AsyncTables, type FunctionRow } from './store.js';

export const DEFAULT_RETRY_ATTEMPTS = 2;
export const DEFAULT_MAX_EVENT_AGE_S = 21_600;
const RETRY_BASE_MS = Number(process.env.OPSBOX_LAMBDA_RETRY_DELAY_MS ?? 60_000);
const PARALLEL = Number(process.env.OPSBOX_LAMBDA_ASYNC_CONCURRENCY ?? 16);

/** What PutFunctionEventInvokeConfig stores for a function and qualifier. */
export interface EventInvokeConfigDoc {
  MaximumRetryAttempts?: number;
  MaximumEventAgeInSeconds?: number;
  DestinationConfig?: { OnSuccess?: { Destination?: string }; OnFailure?: { Destination?: string } };
}

export type Condition = 'Success' | 'RetriesExhausted' | 'EventAgeExceeded';

/** The answer of an attempt, as the invocation record's responseContext and responsePayload carry it. */
export interface AttemptResponse {
  statusCode: number;
  executedVersion: string;
  functionError?: string;
  payload: string;
}

/** The wait before retry n (1-based: after the n-th failed attempt): one minute, then two, as Lambda. */
export const retryDelay = (attempt: number, minuteMs = RETRY_BASE_MS) => minuteMs * attempt;

/** The wait of an event throttled n times in a row: 1 s doubling up to 5 min, on the retries' scale. */
export const throttleDelay = (throttles: number, minuteMs = RETRY_BASE_MS) =>
  Math.max(1, Math.min(300_000, 1000 * 2 ** Math.max(0, throttles - 1)) * (minuteMs / 60_000));

const parseOr = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
};

/** The invocation record Lambda sends to a destination. */
export function invocationRecord(o: {
  now: number;
  requestId: string;
  functionArn: string;
  condition: Condition;
  attempts: number;
  requestPayload: Buffer;
  response?: AttemptResponse;
}) {
  const r = o.response;
  return {
    version: '1.0',
    timestamp: new Date(o.now).toISOString(),
    requestContext: {
      requestId: o.requestId,
      functionArn: o.functionArn,
      condition: o.condition,
      approximateInvokeCount: o.attempts,
    },
    requestPayload: parseOr(o.requestPayload.toString('utf8')),
    ...(r
      ? {
          responseContext: {
            statusCode: r.statusCode,
            executedVersion: r.executedVersion,
            ...(r.functionError ? { functionError: r.functionError } : {}),
          },
          responsePayload: parseOr(r.payload),
        }
      : {}),
  };
}

export type InvocationRecord = ReturnType<typeof invocationRecord>;

/** The event an EventBridge bus destination receives. */
export function destinationEvent(record: InvocationRecord, scope: Scope, bus: string) {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': `Lambda Function Invocation Result - ${record.requestContext.condition === 'Success' ? 'Success' : 'Failure'}`,
    source: 'lambda',
    account: scope.account,
    time: record.timestamp.replace(/\.\d{3}Z$/, 'Z'),
    region: scope.region,
    resources: [bus, record.requestContext.functionArn],
    detail: record,
  };
}

/** The retry and age settings of a config (AWS's defaults where it sets none). */
export const settingsOf = (c: EventInvokeConfigDoc | undefined) => ({
  retries: c?.MaximumRetryAttempts ?? DEFAULT_RETRY_ATTEMPTS,
  maxAgeMs: (c?.MaximumEventAgeInSeconds ?? DEFAULT_MAX_EVENT_AGE_S) * 1000,
  onSuccess: c?.DestinationConfig?.OnSuccess?.Destination || undefined,
  onFailure: c?.DestinationConfig?.OnFailure?.Destination || undefined,
});

export interface AsyncDeps {
  clock: Clock;
  targets: Targets;
  metrics: Metrics;
}

type Runner = Pick<Executor, 'resolve' | 'execute' | 'metrics' | 'accountBusy'>;

export class AsyncInvoker {
  /** Rows this process is working on: running an attempt, or delivering the outcome. */
  private busy = new Map<number, 'attempt' | 'finish'>();
  /** Functions with events waiting for a slot, and why they were throttled. */
  private waiting = new Map<number, { scope: string; reason: ThrottleReason }>();
  private timer?: { cancel(): void };
  private timerAt = Infinity;
  private started = false;
  private closed = false;
  private kickPending = false;

  constructor(
    private deps: AsyncDeps,
    private tables: AsyncTables,
    private x: Runner,
    private limits: ConcurrencyLimits,
    private opts: { retryMinuteMs?: number; parallel?: number } = {},
  ) {
    limits.onRelease((fn) => this.released(fn));
  }

  private get minuteMs() {
    return this.opts.retryMinuteMs ?? RETRY_BASE_MS;
  }

  private get parallel() {
    return this.opts.parallel ?? PARALLEL;
  }

  /** Resumes the queue the previous run left (attempts cut short by a kill run again). */
  start() {
    this.tables.resume();
    this.started = true;
    this.kick();
  }

  /** Stops the engine; attempts in flight do not count and run again at the next start. */
  close() {
    this.closed = true;
    this.timer?.cancel();
    for (const [id, kind] of this.busy) if (kind === 'attempt') this.tables.stopped(id);
  }

  /** Queues an event (committed when this returns). */
  enqueue(fn: FunctionRow, qualifier: string, payload: Buffer, requestId: string) {
    this.tables.insertEvent(fn.id, qualifier, requestId, payload, this.deps.clock.now());
    this.put(fn, 'AsyncEventsReceived', 1);
    this.kick();
  }

  /** The env.targets invoker for arn:aws:lambda:… (SNS subscriptions, EventBridge rules): an Event invocation. */
  invokeTarget = (inv: TargetInvocation) => {
    const p = parseArn(inv.arn)!;
    const scope = { account: p.account || inv.account, region: p.region || inv.region };
    const { fn, qualifier } = this.x.resolve(scope, inv.arn, undefined);
    this.enqueue(fn, qualifier, Buffer.from(inv.payload), randomUUID());
  };

  /** A function's reserved concurrency changed: its waiting events (and those sharing the account's pool) try again now. */
  concurrencyChanged(fn: FunctionRow) {
    const scope = `${fn.account}|${fn.region}`;
    for (const [id, w] of this.waiting) if (id === fn.id || w.scope === scope) this.wake(id);
    this.kick();
  }

  private released(fn: FunctionRow) {
    if (!this.waiting.size) return;
    const scope = `${fn.account}|${fn.region}`;
    let woke = false;
    for (const [id, w] of this.waiting)
      if (id === fn.id || (w.reason === 'ConcurrentInvocationLimitExceeded' && w.scope === scope)) {
        this.wake(id);
        woke = true;
      }
    if (woke) this.kick();
  }

  private wake(functionId: number) {
    this.waiting.delete(functionId);
    this.tables.wake(functionId, this.deps.clock.now());
  }

  private kick() {
    if (!this.started || this.closed || this.kickPending) return;
    this.kickPending = true;
    setImmediate(() => {
      this.kickPending = false;
      this.pump();
    });
  }

  private pump() {
    if (this.closed) return;
    const now = this.deps.clock.now();
    for (;;) {
      const room = this.parallel - this.busy.size;
      if (room <= 0) break;
      const rows = this.tables.due(now, room);
      if (!rows.length) break;
      for (const row of rows) this.dispatch(row, now);
    }
    this.schedule(now);
  }

  private schedule(now: number) {
    const at = this.busy.size < this.parallel ? this.tables.nextDue() : undefined;
    if (at === undefined || at !== this.timerAt) {
      this.timer?.cancel();
      this.timer = undefined;
      this.timerAt = Infinity;
    }
    if (at !== undefined && !this.timer) {
      this.timerAt = at;
      this.timer = this.deps.clock.setTimeout(
        () => {
          this.timer = undefined;
          this.timerAt = Infinity;
          this.pump();
        },
        Math.max(0, at - now),
      );
    }
  }

  private config(row: AsyncEventRow) {
    const c = this.tables.eventConfig(row.function_id, row.qualifier);
    return settingsOf(c ? (JSON.parse(c.doc) as EventInvokeConfigDoc) : undefined);
  }

  /** Starts what a due row needs: an attempt, a wait for concurrency, or its end. */
  private dispatch(row: AsyncEventRow, now: number) {
    const s = this.config(row);
    const expiry = row.received + s.maxAgeMs;
    const last = row.last_response ? (JSON.parse(row.last_response) as AttemptResponse) : undefined;
    if (now >= expiry) {
      this.tables.claim(row.id);
      return this.track(row.id, 'finish', this.finish(row, 'EventAgeExceeded', last));
    }
    const scope = { account: row.account, region: row.region };
    let resolved;
    try {
      resolved = this.x.resolve(scope, row.name, row.qualifier);
    } catch {
      // the version or alias the event named is gone: nothing can run it
      log.warn('lambda: dropping an event whose function version no longer exists', { function: row.name, qualifier: row.qualifier });
      this.tables.deleteEvent(row.id);
      return;
    }
    const { fn, v, alias } = resolved;
    const lease = this.x.accountBusy(row.account) ? { throttled: 'ConcurrentInvocationLimitExceeded' as const } : this.limits.acquire(fn);
    if ('throttled' in lease) {
      this.tables.throttled(row.id, Math.min(expiry, now + throttleDelay(row.throttles + 1, this.minuteMs)));
      this.waiting.set(fn.id, { scope: `${fn.account}|${fn.region}`, reason: lease.throttled });
      this.x.metrics(scope, fn, v.version, undefined, true);
      return;
    }
    this.tables.startAttempt(row.id);
    const attempt = async () => {
      let res: InvocationResult;
      try {
        res = await this.x.execute(scope, fn, v, row.payload, row.request_id, alias);
      } catch (err) {
        res = {
          payload: Buffer.from(JSON.stringify({ errorType: 'ServiceException', errorMessage: String(err) })),
          functionError: 'Unhandled',
          logTail: '',
          durationMs: 0,
        };
      } finally {
        lease.release();
      }
      if (this.closed) return;
      const current = this.tables.event(row.id);
      if (!current) return; // the function was deleted meanwhile
      const response: AttemptResponse = {
        statusCode: 200,
        executedVersion: v.version,
        functionError: res.functionError,
        payload: res.payload.toString('utf8'),
      };
      if (!res.functionError) return this.finish(current, 'Success', response);
      const after = this.config(current);
      const at = this.deps.clock.now();
      if (current.attempts <= after.retries) {
        this.tables.retryLater(
          row.id,
          Math.min(current.received + after.maxAgeMs, at + retryDelay(current.attempts, this.minuteMs)),
          JSON.stringify(response),
        );
        return;
      }
      return this.finish(current, 'RetriesExhausted', response);
    };
    this.track(row.id, 'attempt', attempt());
  }

  private track(id: number, kind: 'attempt' | 'finish', p: Promise<void>) {
    this.busy.set(id, kind);
    p.catch((err) => log.error('lambda: async invocation failed', { err: String(err) })).finally(() => {
      this.busy.delete(id);
      this.kick();
    });
  }

  /** Sends the outcome where the function's config says, then forgets the event. */
  private async finish(row: AsyncEventRow, condition: Condition, response: AttemptResponse | undefined) {
    this.busy.set(row.id, 'finish');
    const s = this.config(row);
    const scope = { account: row.account, region: row.region };
    const record = invocationRecord({
      now: this.deps.clock.now(),
      requestId: row.request_id,
      functionArn: functionArn(scope, row.name, row.qualifier),
      condition,
      attempts: row.attempts,
      requestPayload: row.payload,
      response,
    });
    const destination = condition === 'Success' ? s.onSuccess : s.onFailure;
    if (destination) {
      const ok = await this.deliver(scope, destination, record);
      if (!ok) this.put(row, 'DestinationDeliveryFailures', 1);
    } else if (condition !== 'Success') {
      const dlq = this.deadLetterTarget(scope, row);
      if (dlq) {
        const ok = await this.send({ arn: dlq, ...scope, payload: row.payload.toString('utf8'), source: 'lambda' }, dlq);
        if (!ok) this.put(row, 'DeadLetterErrors', 1);
      } else this.put(row, 'AsyncEventsDropped', 1);
    }
    this.tables.deleteEvent(row.id);
  }

  private deadLetterTarget(scope: Scope, row: AsyncEventRow) {
    try {
      return docOf(this.x.resolve(scope, row.name, row.qualifier).v).DeadLetterTarget;
    } catch {
      return undefined;
    }
  }

  /** Delivers an invocation record; false (logged) when the destination cannot take it. */
  private async deliver(scope: Scope, destination: string, record: InvocationRecord): Promise<boolean> {
    const p = parseArn(destination);
    if (p?.service === 'lambda') {
      try {
        const target = { account: p.account || scope.account, region: p.region || scope.region };
        if (target.account !== scope.account) throw new Error(`${destination} belongs to another account`);
        const { fn, qualifier } = this.x.resolve(target, destination, undefined);
        this.enqueue(fn, qualifier, Buffer.from(JSON.stringify(record)), randomUUID());
        return true;
      } catch (err) {
        log.warn('lambda: destination delivery failed', { destination, err: String(err) });
        return false;
      }
    }
    const payload =
      p?.service === 'events'
        ? JSON.stringify(
            destinationEvent(record, scope, destination.includes(':event-bus/') ? destination : arn('events', scope, 'event-bus/default')),
          )
        : JSON.stringify(record);
    return this.send({ arn: destination, ...scope, payload, source: 'lambda' }, destination);
  }

  private async send(inv: TargetInvocation, destination: string) {
    try {
      await this.deps.targets.invoke(inv);
      return true;
    } catch (err) {
      log.warn('lambda: destination delivery failed', { destination, err: String(err) });
      return false;
    }
  }

  private put(fn: Pick<FunctionRow, 'account' | 'region' | 'name'>, metricName: string, value: number) {
    this.deps.metrics.put(fn.account, fn.region, [
      { namespace: 'AWS/Lambda', metricName, dimensions: [{ Name: 'FunctionName', Value: fn.name }], value, unit: 'Count' },
    ]);
  }
}
