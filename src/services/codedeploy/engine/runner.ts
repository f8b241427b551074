/**
 * The deployment state machine: Created → InProgress → Succeeded / Failed / Stopped, one active
 * deployment per group. The platform (lambda.ts, server.ts) does the work in steps; between steps
 * and during every wait the runner can stop it: StopDeployment, or one of the group's CloudWatch
 * alarms going to ALARM (seen on the bus the moment the alarm changes, and checked with
 * DescribeAlarms before each step). A failure or stop with auto-rollback starts the rollback as a
 * new deployment that says which one it rolls back. State changes publish "CodeDeploy Deployment
 * State-change Notification" and reach the group's SNS triggers. Waits run on env.clock, divided by
 * OPSBOX_TIME_SCALE (or the group's opsbox:time-scale tag) so a 10-minute canary can take seconds.
 */
import { log } from '../../../core/log.js';
import type { BusEvent } from '../../../core/events.js';
import type { ServiceEnv } from '../../../gateway/service.js';
import type { AlarmConfiguration, RevisionLocation } from '../api.generated.js';
import { groupArn } from '../common.js';
import type { DeploymentDoc, DeploymentStatus, GroupDoc, TargetDoc } from '../model.js';
import type { CodedeployStore } from '../store.js';

export class DeploymentFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Thrown out of a wait or a step when the deployment was stopped meanwhile. */
class Stopped extends Error {}

export interface RunControl {
  /** Waits `minutes` of deployment time (scaled); rejects at once if the deployment is stopped meanwhile. */
  wait(minutes: number): Promise<void>;
  /** Throws if the deployment was stopped or an alarm went off; platforms call it between steps. */
  checkpoint(): Promise<void>;
  saveTarget(t: TargetDoc): void;
  save(): void;
  /** Waits for PutLifecycleEventHookExecutionStatus on `executionId` (at most an hour of deployment time). */
  hookResult(executionId: string): Promise<'Succeeded' | 'Failed'>;
}

export interface Platform {
  /** Makes the deployment's targets (saved before the run so Get/ListDeploymentTargets see them). */
  prepare(d: DeploymentDoc, group: GroupDoc): Promise<TargetDoc[]>;
  run(d: DeploymentDoc, group: GroupDoc, targets: TargetDoc[], ctl: RunControl): Promise<void>;
  /** The revision that puts back what `d` replaced, or undefined when there is nothing to go back to. */
  rollbackRevision(d: DeploymentDoc, group: GroupDoc): RevisionLocation | undefined;
  /** Puts traffic back at once when `d` stops half-way (Lambda: the alias to its current version). */
  revert?(d: DeploymentDoc, targets: TargetDoc[]): Promise<void>;
}

const ALARM_MESSAGE =
  'One or more alarms have been activated according to the Amazon CloudWatch metrics you selected, and the affected deployments have been stopped. Activated alarms: ';

interface Running {
  stopRequest?: { code: string; message: string; rollback: boolean };
  wakers: Set<() => void>;
}

export class DeploymentRunner {
  private running = new Map<string, Running>();
  private hooks = new Map<string, (status: 'Succeeded' | 'Failed') => void>();
  private unsubscribe?: () => void;

  constructor(
    private env: ServiceEnv,
    private store: CodedeployStore,
    private platforms: Record<string, Platform>,
    /** Creates and starts a rollback deployment of `of` to `revision`; returns its id. */
    private startRollback: (of: DeploymentDoc, revision: RevisionLocation) => string,
  ) {}

  start() {
    this.unsubscribe = this.env.bus.subscribe((e) => this.onEvent(e));
    // a deployment a stopped process left in progress runs again from its platform's first step:
    // each step is idempotent (the alias weight is set, files are copied again, scripts run again)
    for (const d of this.store.unfinished()) this.launch(d);
  }

  close() {
    this.unsubscribe?.();
    for (const r of this.running.values()) {
      r.stopRequest ??= { code: 'INTERNAL_ERROR', message: 'opsbox stopped', rollback: false };
      for (const w of r.wakers) w();
    }
  }

  isActive = (id: string) => this.running.has(id);

  launch(d: DeploymentDoc) {
    const r: Running = { wakers: new Set() };
    this.running.set(d.deploymentId, r);
    this.execute(d, r)
      .catch((err: Error) => log.error(`codedeploy: deployment ${d.deploymentId} crashed: ${err.stack ?? err.message}`))
      .finally(() => this.running.delete(d.deploymentId));
  }

  /** StopDeployment: the run stops at its next wait or step. */
  stop(d: DeploymentDoc, rollback: boolean) {
    const r = this.running.get(d.deploymentId);
    if (!r) return false;
    r.stopRequest ??= { code: 'MANUAL_STOP', message: 'The deployment was stopped by a user.', rollback };
    for (const w of r.wakers) w();
    return true;
  }

  /** PutLifecycleEventHookExecutionStatus: false when no hook waits on this execution id. */
  reportHook(executionId: string, status: 'Succeeded' | 'Failed'): boolean {
    const resolve = this.hooks.get(executionId);
    if (!resolve) return false;
    this.hooks.delete(executionId);
    resolve(status);
    return true;
  }

  private group(d: DeploymentDoc): GroupDoc | undefined {
    const app = this.store.app(d, d.applicationName);
    return app && this.store.group(app, d.deploymentGroupName);
  }

  private alarmsOf(d: DeploymentDoc, g: GroupDoc): string[] {
    // a rollback runs while the alarm that caused it is still in ALARM: it is not watched
    if (d.creator === 'codeDeployRollback') return [];
    const a: AlarmConfiguration | undefined = d.overrideAlarmConfiguration ?? g.alarmConfiguration;
    return a?.enabled ? (a.alarms ?? []).map((x) => x.name!).filter(Boolean) : [];
  }

  private onEvent(e: BusEvent) {
    if (e['detail-type'] !== 'CloudWatch Alarm State Change') return;
    const detail = e.detail as { alarmName?: string; state?: { value?: string } };
    if (detail.state?.value !== 'ALARM' || !detail.alarmName) return;
    for (const [id, r] of this.running) {
      const d = this.store.deployment(id);
      if (!d || d.account !== e.account || d.region !== e.region) continue;
      const g = this.group(d);
      if (g && this.alarmsOf(d, g).includes(detail.alarmName)) this.alarmStop(d, g, r, [detail.alarmName]);
    }
  }

  private alarmStop(d: DeploymentDoc, g: GroupDoc, r: Running, alarms: string[]) {
    const rollback =
      !!(d.autoRollbackConfiguration ?? g.autoRollbackConfiguration)?.enabled &&
      !!(d.autoRollbackConfiguration ?? g.autoRollbackConfiguration)?.events?.includes('DEPLOYMENT_STOP_ON_ALARM');
    r.stopRequest ??= { code: 'ALARM_ACTIVE', message: ALARM_MESSAGE + alarms.join(', '), rollback };
    for (const w of r.wakers) w();
  }

  private async alarmsInAlarm(d: DeploymentDoc, g: GroupDoc): Promise<string[]> {
    const names = this.alarmsOf(d, g);
    if (!names.length) return [];
    try {
      const out = await this.env.services.call<{ MetricAlarms?: { AlarmName: string; StateValue: string }[] }>(
        'cloudwatch',
        'DescribeAlarms',
        { AlarmNames: names },
        { account: d.account, region: d.region },
      );
      return (out.MetricAlarms ?? []).filter((a) => a.StateValue === 'ALARM').map((a) => a.AlarmName);
    } catch (err) {
      log.warn(`codedeploy: could not read the alarms of ${d.deploymentId}: ${(err as Error).message}`);
      return [];
    }
  }

  private scale(d: DeploymentDoc, g: GroupDoc): number {
    const tag = Number(this.env.tags.get(groupArn(d, g.applicationName, g.deploymentGroupName))['opsbox:time-scale']);
    if (Number.isFinite(tag) && tag > 0) return tag;
    const env = Number(process.env.OPSBOX_TIME_SCALE);
    return Number.isFinite(env) && env > 0 ? env : 1;
  }

  private setStatus(d: DeploymentDoc, status: DeploymentStatus) {
    d.status = status;
    this.store.putDeployment(d);
  }

  private async execute(d: DeploymentDoc, r: Running) {
    const g = this.group(d);
    const platform = this.platforms[d.computePlatform];
    if (!g || !platform) {
      d.errorInformation = { code: 'DEPLOYMENT_GROUP_MISSING', message: 'The deployment group no longer exists.' };
      d.completeTime = this.env.clock.now();
      this.setStatus(d, 'Failed');
      return;
    }
    const scale = this.scale(d, g);
    const ctl: RunControl = {
      wait: (minutes) =>
        new Promise<void>((resolve, reject) => {
          if (r.stopRequest) return reject(new Stopped());
          const wake = () => {
            timer.cancel();
            r.wakers.delete(wake);
            reject(new Stopped());
          };
          const timer = this.env.clock.setTimeout(
            () => {
              r.wakers.delete(wake);
              resolve();
            },
            (minutes * 60_000) / scale,
          );
          r.wakers.add(wake);
        }),
      checkpoint: async () => {
        if (r.stopRequest) throw new Stopped();
        const alarms = await this.alarmsInAlarm(d, g);
        if (alarms.length) this.alarmStop(d, g, r, alarms);
        if (r.stopRequest) throw new Stopped();
      },
      saveTarget: (t) => {
        t.lastUpdatedAt = this.env.clock.now();
        this.store.putTarget(t);
      },
      save: () => this.store.putDeployment(d),
      hookResult: (executionId) =>
        new Promise((resolve, reject) => {
          const wake = () => {
            timer.cancel();
            this.hooks.delete(executionId);
            reject(new Stopped());
          };
          const timer = this.env.clock.setTimeout(() => {
            r.wakers.delete(wake);
            this.hooks.delete(executionId);
            resolve('Failed');
          }, 3_600_000 / scale);
          r.wakers.add(wake);
          this.hooks.set(executionId, (status) => {
            timer.cancel();
            r.wakers.delete(wake);
            resolve(status);
          });
        }),
    };

    if (d.status === 'Created') {
      d.startTime = this.env.clock.now();
      this.setStatus(d, 'InProgress');
      this.notify(d, g, 'START', 'DeploymentStart');
    }
    let targets = this.store.targets(d.deploymentId);
    let outcome: { status: DeploymentStatus; code?: string; message?: string; rollback: boolean };
    try {
      if (!targets.length) {
        targets = await platform.prepare(d, g);
        for (const t of targets) this.store.putTarget(t);
      }
      await ctl.checkpoint();
      await platform.run(d, g, targets, ctl);
      await ctl.checkpoint();
      outcome = { status: 'Succeeded', rollback: false };
    } catch (err) {
      const rb = d.autoRollbackConfiguration ?? g.autoRollbackConfiguration;
      if (err instanceof Stopped && r.stopRequest) {
        const s = r.stopRequest;
        const onRequest =
          s.code === 'MANUAL_STOP' && (s.rollback || (!!rb?.enabled && !!rb.events?.includes('DEPLOYMENT_STOP_ON_REQUEST')));
        outcome = { status: 'Stopped', code: s.code, message: s.message, rollback: s.rollback || onRequest };
        if (s.code === 'INTERNAL_ERROR') return; // opsbox is closing: the next start resumes it
      } else if (err instanceof DeploymentFailure) {
        outcome = {
          status: 'Failed',
          code: err.code,
          message: err.message,
          rollback: !!rb?.enabled && !!rb.events?.includes('DEPLOYMENT_FAILURE'),
        };
      } else {
        log.error(`codedeploy: deployment ${d.deploymentId} failed: ${(err as Error).stack ?? err}`);
        outcome = {
          status: 'Failed',
          code: 'INTERNAL_ERROR',
          message: `An internal error occurred: ${(err as Error).message}`,
          rollback: false,
        };
      }
      for (const t of targets.filter((t) => t.status === 'InProgress' || t.status === 'Pending')) {
        t.status = outcome.status === 'Stopped' ? 'Skipped' : 'Failed';
        for (const e of t.lifecycleEvents)
          if (e.status === 'Pending' || e.status === 'InProgress') e.status = e.status === 'InProgress' ? 'Failed' : 'Skipped';
        ctl.saveTarget(t);
      }
      if (outcome.status === 'Stopped' && !outcome.rollback) await platform.revert?.(d, targets).catch(() => undefined);
    }
    d.completeTime = this.env.clock.now();
    if (outcome.code) d.errorInformation = { code: outcome.code, message: outcome.message };
    this.setStatus(d, outcome.status);
    this.finish(d, g, outcome.status === 'Succeeded');
    this.notify(
      d,
      g,
      outcome.status === 'Succeeded' ? 'SUCCESS' : outcome.status === 'Stopped' ? 'STOP' : 'FAILURE',
      {
        Succeeded: 'DeploymentSuccess',
        Failed: 'DeploymentFailure',
        Stopped: 'DeploymentStop',
      }[outcome.status as 'Succeeded' | 'Failed' | 'Stopped'],
    );
    if (outcome.rollback && d.creator !== 'codeDeployRollback') this.rollback(d, g, platform);
  }

  private rollback(d: DeploymentDoc, g: GroupDoc, platform: Platform) {
    const revision = platform.rollbackRevision(d, g);
    if (!revision) {
      d.rollbackInfo = {
        rollbackMessage: 'Automatic rollback was not performed because no previous successful deployment was found to roll back to.',
      };
      this.store.putDeployment(d);
      return;
    }
    const id = this.startRollback(d, revision);
    d.rollbackInfo = { rollbackDeploymentId: id, rollbackMessage: `Deployment ${d.deploymentId} was rolled back by ${id}.` };
    this.store.putDeployment(d);
    this.notify(d, g, undefined, 'DeploymentRollback');
  }

  /** The group's last attempted and last successful deployment, and its target revision. */
  private finish(d: DeploymentDoc, g: GroupDoc, succeeded: boolean) {
    const app = this.store.app(d, d.applicationName);
    const current = app && this.store.group(app, g.deploymentGroupName);
    if (!app || !current) return;
    const last = { deploymentId: d.deploymentId, status: d.status, endTime: d.completeTime, createTime: d.createTime };
    current.lastAttemptedDeployment = last;
    if (succeeded) {
      current.lastSuccessfulDeployment = last;
      current.targetRevision = d.revision;
    }
    this.store.putGroup(app, current);
  }

  private notify(d: DeploymentDoc, g: GroupDoc, state: string | undefined, trigger: string) {
    const scope = { account: d.account, region: d.region };
    if (state)
      this.env.bus.publish({
        source: 'aws.codedeploy',
        'detail-type': 'CodeDeploy Deployment State-change Notification',
        account: d.account,
        region: d.region,
        resources: [groupArn(scope, d.applicationName, d.deploymentGroupName)],
        detail: {
          region: d.region,
          deploymentId: d.deploymentId,
          instanceGroupId: g.deploymentGroupId,
          deploymentGroup: d.deploymentGroupName,
          state,
          application: d.applicationName,
          computePlatform: d.computePlatform,
          creator: d.creator,
          revision: d.revision,
          errorInformation: d.errorInformation,
        },
      });
    for (const t of g.triggerConfigurations ?? []) {
      if (!t.triggerTargetArn || !t.triggerEvents?.includes(trigger)) continue;
      const message = {
        region: d.region,
        accountId: d.account,
        eventTriggerName: t.triggerName,
        applicationName: d.applicationName,
        deploymentId: d.deploymentId,
        deploymentGroupName: d.deploymentGroupName,
        createTime: new Date(d.createTime).toString(),
        completeTime: d.completeTime === undefined ? undefined : new Date(d.completeTime).toString(),
        status: d.status.toUpperCase(),
        errorInformation: d.errorInformation ? JSON.stringify(d.errorInformation) : undefined,
      };
      this.env.services
        .call(
          'sns',
          'Publish',
          {
            TopicArn: t.triggerTargetArn,
            Subject: `${d.status.toUpperCase()}: AWS CodeDeploy ${d.deploymentId} in ${d.region} to ${d.applicationName}`,
            Message: JSON.stringify(message),
          },
          scope,
        )
        .catch((err: Error) => log.warn(`codedeploy: trigger ${t.triggerName} could not publish to ${t.triggerTargetArn}: ${err.message}`));
    }
  }
}
