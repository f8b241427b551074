/**
 * RotateSecret and CancelRotateSecret. Rotation is a Lambda function's work, as in AWS: RotateSecret
 * checks the function exists (through the `lambda` service in-process; with no Lambda service
 * there is no function, and AWS's error for a missing one is the answer), stores the rotation
 * configuration, adds the AWSPENDING version (without a value) named by the ClientRequestToken and
 * answers; then, in the background, invokes the function's createSecret, setSecret, testSecret and
 * finishSecret steps, which call back into Secrets Manager to fill that version and move AWSCURRENT.
 * Nothing here makes a value up or moves a label itself.
 */
import type { ServiceCalls } from '../../core/services.js';
import { AwsError } from '../../core/errors.js';
import { uuid } from '../../core/ids.js';
import { log } from '../../core/log.js';
import type { Clock } from '../../core/clock.js';
import type { RequestContext } from '../../gateway/context.js';
import type { RotationRulesType, SecretsmanagerHandlers } from './api.generated.js';
import { currentlyMarkedDeleted, invalidParameter, invalidRequest, requireSecret, rotationRules } from './common.js';
import { AWSCURRENT, AWSPENDING, type SecretRow, type SecretsStore } from './store.js';

const DAY = 86_400_000;

/** When the next rotation is due after one at `from`: AutomaticallyAfterDays, or a rate() schedule; cron() is not computed. */
export function nextRotation(rules: RotationRulesType | undefined, from: number): number | null {
  if (!rules) return null;
  if (rules.AutomaticallyAfterDays !== undefined) return from + rules.AutomaticallyAfterDays * DAY;
  const m = /^rate\(\s*(\d+)\s+(hours?|days?)\s*\)$/.exec(rules.ScheduleExpression ?? '');
  if (!m) return null;
  return from + Number(m[1]) * (m[2].startsWith('hour') ? 3600_000 : DAY);
}

export function rotationEngine(store: SecretsStore, services: ServiceCalls, clock: Clock) {
  const running = new Set<Promise<void>>();
  /** Secret ids whose running rotation CancelRotateSecret stopped. */
  const cancelled = new Set<number>();

  async function invoke(s: SecretRow, fn: string, step: string, token: string) {
    const payload = { Step: step, SecretId: s.arn, ClientRequestToken: token };
    const out = await services.call<{ FunctionError?: string; Payload?: Buffer }>(
      'lambda',
      'Invoke',
      { FunctionName: fn, InvocationType: 'RequestResponse', Payload: Buffer.from(JSON.stringify(payload)) },
      { account: s.account, region: s.region },
    );
    if (out.FunctionError)
      throw new Error(`${step} failed (${out.FunctionError}): ${out.Payload ? Buffer.from(out.Payload).toString() : ''}`);
  }

  async function run(secretId: number, fn: string, token: string, immediately: boolean) {
    const steps = immediately ? ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] : ['testSecret'];
    try {
      for (const step of steps) {
        const s = store.byId(secretId, clock.now());
        if (!s || cancelled.has(secretId)) return;
        await invoke(s, fn, step, token);
      }
      const s = store.byId(secretId, clock.now());
      if (!s) return;
      const now = clock.now();
      store.transaction(() => {
        if (immediately) {
          store.set(s, 'last_rotated', now);
          store.set(s, 'next_rotation', nextRotation(rotationRules(s), now));
        } else if (store.holder(s, AWSPENDING) === token && store.holder(s, AWSCURRENT) !== token) {
          // the test rotation's AWSPENDING version goes again
          store.removeStage(s, AWSPENDING);
          if (!store.version(s, token)?.kind) store.deleteVersion(s, token);
        }
      });
    } catch (err) {
      // as in AWS, a failed rotation leaves the labels where the function left them
      log.warn('secret rotation failed', { secretId, token, err: err instanceof Error ? err.message : String(err) });
    } finally {
      cancelled.delete(secretId);
    }
  }

  return {
    start(s: SecretRow, fn: string, token: string, immediately: boolean) {
      cancelled.delete(s.id);
      const p = run(s.id, fn, token, immediately).finally(() => running.delete(p));
      running.add(p);
    },
    cancel(s: SecretRow) {
      cancelled.add(s.id);
    },
    /** Resolves once every rotation started so far has finished (tests, close). */
    async settled() {
      while (running.size) await Promise.allSettled([...running]);
    },
  };
}

export type RotationEngine = ReturnType<typeof rotationEngine>;

/** AWS's answer for a rotation function that is not there. */
const noFunction = (fn: string) => new AwsError('ResourceNotFoundException', `Resource not found for ARN '${fn}'.`, 400);

export function rotationHandlers(store: SecretsStore, services: ServiceCalls, engine: RotationEngine): SecretsmanagerHandlers {
  async function requireFunction(ctx: RequestContext, fn: string) {
    if (!services.has('lambda')) throw noFunction(fn);
    try {
      await services.call('lambda', 'GetFunction', { FunctionName: fn }, { account: ctx.account, region: ctx.region });
    } catch (err) {
      if (err instanceof AwsError) throw noFunction(fn);
      throw err;
    }
  }

  return {
    async RotateSecret(input, ctx) {
      const s = requireSecret(store, ctx, input.SecretId);
      if (s.deletion_date !== null) throw currentlyMarkedDeleted();
      const fn = input.RotationLambdaARN || s.rotation_lambda;
      if (!fn) throw invalidRequest('No Lambda rotation function ARN is associated with this secret.');
      const rules = input.RotationRules ?? rotationRules(s);
      if (rules?.AutomaticallyAfterDays !== undefined && rules.ScheduleExpression !== undefined)
        throw invalidParameter('You cannot specify both rotation frequency and schedule expression together.');
      const pending = store.holder(s, AWSPENDING);
      const token = input.ClientRequestToken ?? uuid();
      if (pending !== undefined && pending !== store.holder(s, AWSCURRENT) && pending !== token)
        throw invalidRequest('Previous rotation request is still in progress.');
      await requireFunction(ctx, fn);

      const now = ctx.clock.now();
      const existing = store.version(s, token);
      store.transaction(() => {
        store.set(s, 'rotation_lambda', fn);
        store.set(s, 'rotation_rules', rules ? JSON.stringify(rules) : null);
        store.set(s, 'rotation_enabled', 1);
        store.set(s, 'next_rotation', nextRotation(rules, s.last_rotated ?? now));
        if (!existing)
          store.putVersion(s, { version_id: token, kind: null, data_key: null, ciphertext: null, kms_key_id: null }, [AWSPENDING], now);
        else store.set(s, 'last_changed', now);
      });
      engine.start(s, fn, token, input.RotateImmediately !== false);
      return { ARN: s.arn, Name: s.name, VersionId: token };
    },

    CancelRotateSecret(input, ctx) {
      const s = requireSecret(store, ctx, input.SecretId);
      if (s.deletion_date !== null) throw currentlyMarkedDeleted();
      if (!s.rotation_lambda)
        throw invalidRequest(
          "You tried to enable rotation on a secret that doesn't already have a Lambda function ARN configured and you didn't include such an ARN as a parameter in this call.",
        );
      engine.cancel(s);
      const now = ctx.clock.now();
      store.transaction(() => {
        store.set(s, 'rotation_enabled', 0);
        store.set(s, 'next_rotation', null);
        store.set(s, 'last_changed', now);
      });
      const pending = store.holder(s, AWSPENDING);
      return { ARN: s.arn, Name: s.name, VersionId: pending !== store.holder(s, AWSCURRENT) ? pending : undefined };
    },
  };
}
