/**
 * In-place deployments to on-premises instances, by opsbox's built-in agent. Each instance is a
 * directory under <dataDir>/codedeploy/instances/ that stands for its root file system: the agent
 * unpacks the bundle into the instance's deployment-root (as AWS's agent does), runs the previous
 * revision's ApplicationStop scripts, removes the files the previous deployment installed, copies
 * `files` to their destinations inside the instance root (file_exists_behavior DISALLOW, OVERWRITE,
 * RETAIN), applies `permissions` modes, and runs each lifecycle event's scripts with bash (their
 * timeout enforced; runas is not: scripts run as opsbox's user), capturing their output into the
 * event's diagnostics as AWS's agent does. Instances go in batches the config's minimum healthy hosts
 * allows, and the deployment fails once too many instances have failed.
 */
import { spawn } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import type { ServiceEnv } from '../../../gateway/service.js';
import type { RevisionLocation } from '../api.generated.js';
import { requireConfig } from '../configs.js';
import { selectInstances } from '../instances.js';
import type { DeploymentDoc, GroupDoc, LifecycleEventDoc, TargetDoc } from '../model.js';
import type { CodedeployStore } from '../store.js';
import { AppSpecError, parseServerAppSpec, type ServerAppSpec, type ServerHookName } from './appspec.js';
import { archiveDir, fetchBundle } from './bundle.js';
import { DeploymentFailure, type Platform, type RunControl } from './runner.js';

const EVENTS = ['ApplicationStop', 'DownloadBundle', 'BeforeInstall', 'Install', 'AfterInstall', 'ApplicationStart', 'ValidateService'];
const LOG_TAIL_BYTES = 2048;

class InstanceFailure extends Error {
  constructor(readonly diagnostics: NonNullable<LifecycleEventDoc['diagnostics']>) {
    super(diagnostics.message);
  }
}

/** How many instances may be deployed at once, and how many may fail, under a minimum-healthy-hosts rule. */
export function batchPlan(total: number, m: { type?: string; value?: number } | undefined, oneAtATime: boolean) {
  if (oneAtATime) return { batch: 1, maxFailures: 0, lastMayFail: true };
  const minHealthy = m?.type === 'FLEET_PERCENT' ? Math.ceil((total * (m.value ?? 0)) / 100) : Math.min(total, m?.value ?? 0);
  const spare = Math.max(0, total - minHealthy);
  return { batch: Math.max(1, spare), maxFailures: spare, lastMayFail: false };
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    out.push(p);
    if (e.isDirectory()) out.push(...walk(p));
  }
  return out;
}

/** The glob AWS's permissions `pattern` and `except` use: * within a name, ** across directories. */
const globToRegExp = (glob: string) =>
  new RegExp(
    `^${glob
      .split('**')
      .map((part) =>
        part
          .replace(/[.+^${}()|[\]\\]/g, '\\$&')
          .replace(/\*/g, '[^/]*')
          .replace(/\?/g, '[^/]'),
      )
      .join('.*')}$`,
  );

export function serverPlatform(env: ServiceEnv, store: CodedeployStore): Platform {
  const instanceRoot = (d: { account: string; region: string }, name: string) =>
    join(env.config.dataDir, 'codedeploy', 'instances', d.account, d.region, name);
  /** Inside the instance root: an AppSpec destination is an absolute path on the instance. */
  const inRoot = (root: string, path: string) => {
    const p = resolve(root, `.${sep}${path}`);
    if (p !== root && !p.startsWith(root + sep))
      throw new InstanceFailure({ errorCode: 'UnknownError', scriptName: '', message: `${path} is outside the instance.`, logTail: '' });
    return p;
  };
  const stateFile = (root: string, groupId: string) =>
    join(root, 'opt', 'codedeploy-agent', 'deployment-root', 'deployment-instructions', `${groupId}.json`);
  const readState = (root: string, groupId: string): { archive?: string; installed: string[] } => {
    try {
      return JSON.parse(readFileSync(stateFile(root, groupId), 'utf8'));
    } catch {
      return { installed: [] };
    }
  };

  function runScript(
    d: DeploymentDoc,
    g: GroupDoc,
    root: string,
    archive: string,
    event: ServerHookName,
    hook: { location: string; timeout: number },
  ) {
    const script = join(archive, hook.location);
    return new Promise<void>((resolvePromise, reject) => {
      if (!existsSync(script))
        return reject(
          new InstanceFailure({
            errorCode: 'ScriptMissing',
            scriptName: hook.location,
            message: `Script does not exist at specified location: ${script}`,
            logTail: '',
          }),
        );
      let tail = '';
      const keep = (stream: string) => (chunk: Buffer) => {
        tail = (
          tail +
          chunk
            .toString('utf8')
            .split('\n')
            .filter(Boolean)
            .map((l) => `[${stream}]${l}\n`)
            .join('')
        ).slice(-LOG_TAIL_BYTES);
      };
      const child = spawn('/bin/bash', [script], {
        cwd: archive,
        detached: true,
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: root,
          LIFECYCLE_EVENT: event,
          DEPLOYMENT_ID: d.deploymentId,
          APPLICATION_NAME: d.applicationName,
          DEPLOYMENT_GROUP_NAME: d.deploymentGroupName,
          DEPLOYMENT_GROUP_ID: g.deploymentGroupId,
          OPSBOX_INSTANCE_ROOT: root,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout.on('data', keep('stdout'));
      child.stderr.on('data', keep('stderr'));
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
      }, hook.timeout * 1000);
      child.on('error', (err) => {
        clearTimeout(timer);
        reject(new InstanceFailure({ errorCode: 'UnknownError', scriptName: hook.location, message: err.message, logTail: tail }));
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        if (timedOut)
          return reject(
            new InstanceFailure({
              errorCode: 'ScriptTimedOut',
              scriptName: hook.location,
              message: `Script at specified location: ${hook.location} failed to complete in ${hook.timeout} seconds`,
              logTail: tail,
            }),
          );
        if (code !== 0)
          return reject(
            new InstanceFailure({
              errorCode: 'ScriptFailed',
              scriptName: hook.location,
              message: `Script at specified location: ${hook.location} run as user root failed with exit code ${code}`,
              logTail: tail,
            }),
          );
        resolvePromise();
      });
    });
  }

  function install(d: DeploymentDoc, spec: ServerAppSpec, root: string, archive: string, previous: string[]): string[] {
    for (const f of previous) rmSync(f, { force: true });
    const behavior = d.fileExistsBehavior ?? spec.fileExistsBehavior ?? 'DISALLOW';
    const installed: string[] = [];
    for (const f of spec.files) {
      const src = resolve(archive, `.${sep}${f.source}`);
      if (!existsSync(src))
        throw new InstanceFailure({
          errorCode: 'UnknownError',
          scriptName: '',
          message: `The file ${f.source} named in the AppSpec file's files is not in the bundle.`,
          logTail: '',
        });
      const dest = inRoot(root, f.destination);
      const pairs = statSync(src).isDirectory()
        ? walk(src)
            .filter((p) => !statSync(p).isDirectory() && relative(archive, p) !== 'appspec.yml')
            .map((p) => [p, join(dest, relative(src, p))])
        : [[src, join(dest, f.source.split('/').pop()!)]];
      for (const [from, to] of pairs) {
        if (existsSync(to)) {
          if (behavior === 'RETAIN') continue;
          if (behavior === 'DISALLOW')
            throw new InstanceFailure({
              errorCode: 'UnknownError',
              scriptName: '',
              message: `The deployment failed because a specified file already exists at this location: ${'/' + relative(root, to)}`,
              logTail: '',
            });
        }
        mkdirSync(dirname(to), { recursive: true });
        cpSync(from, to);
        installed.push(to);
      }
    }
    for (const p of spec.permissions) {
      if (!p.mode) continue;
      const object = inRoot(root, p.object);
      if (!existsSync(object)) continue;
      const candidates = statSync(object).isDirectory() ? walk(object) : [object];
      const pattern = globToRegExp(p.pattern);
      for (const c of candidates) {
        const rel = relative(object, c) || c.split(sep).pop()!;
        const isDir = statSync(c).isDirectory();
        if (!p.type.includes(isDir ? 'directory' : 'file') || !pattern.test(rel) || p.except.some((e) => globToRegExp(e).test(rel)))
          continue;
        chmodSync(c, parseInt(p.mode, 8));
      }
    }
    return installed;
  }

  async function deployTo(d: DeploymentDoc, g: GroupDoc, t: TargetDoc, ctl: RunControl) {
    const root = instanceRoot(d, t.targetId);
    const archive = archiveDir(root, g.deploymentGroupId, d.deploymentId);
    const state = readState(root, g.deploymentGroupId);
    let spec: ServerAppSpec | undefined;
    t.status = 'InProgress';
    ctl.saveTarget(t);
    for (const e of t.lifecycleEvents) {
      if (e.status === 'Succeeded') continue;
      e.status = 'InProgress';
      e.startTime = env.clock.now();
      ctl.saveTarget(t);
      try {
        switch (e.lifecycleEventName) {
          case 'ApplicationStop': {
            // the scripts of the revision this one replaces, from its archive on the instance
            const prev =
              state.archive && existsSync(join(state.archive, 'appspec.yml'))
                ? parseServerAppSpec(readFileSync(join(state.archive, 'appspec.yml'), 'utf8'))
                : undefined;
            for (const h of prev?.hooks.ApplicationStop ?? []) {
              try {
                await runScript(d, g, root, state.archive!, 'ApplicationStop', h);
              } catch (err) {
                if (!d.ignoreApplicationStopFailures) throw err;
              }
            }
            break;
          }
          case 'DownloadBundle':
            await fetchBundle(env, d, archive);
            break;
          case 'Install':
            spec ??= readSpec(archive);
            writeState(root, g.deploymentGroupId, { archive: state.archive, installed: install(d, spec, root, archive, state.installed) });
            break;
          default: {
            spec ??= readSpec(archive);
            for (const h of spec.hooks[e.lifecycleEventName as ServerHookName] ?? [])
              await runScript(d, g, root, archive, e.lifecycleEventName as ServerHookName, h);
          }
        }
        e.status = 'Succeeded';
        e.endTime = env.clock.now();
        ctl.saveTarget(t);
      } catch (err) {
        e.status = 'Failed';
        e.endTime = env.clock.now();
        e.diagnostics =
          err instanceof InstanceFailure
            ? err.diagnostics
            : {
                errorCode: 'UnknownError',
                scriptName: '',
                message:
                  err instanceof DeploymentFailure || err instanceof AppSpecError ? err.message : String((err as Error).message ?? err),
                logTail: '',
              };
        for (const rest of t.lifecycleEvents) if (rest.status === 'Pending') rest.status = 'Skipped';
        t.status = 'Failed';
        ctl.saveTarget(t);
        return false;
      }
    }
    const installed = readState(root, g.deploymentGroupId).installed;
    writeState(root, g.deploymentGroupId, { archive, installed });
    t.status = 'Succeeded';
    ctl.saveTarget(t);
    return true;
  }

  const readSpec = (archive: string) => {
    const file = ['appspec.yml', 'appspec.yaml'].map((n) => join(archive, n)).find(existsSync);
    if (!file) throw new AppSpecError('The revision has no appspec.yml at its root.');
    return parseServerAppSpec(readFileSync(file, 'utf8'));
  };
  const writeState = (root: string, groupId: string, s: { archive?: string; installed: string[] }) => {
    mkdirSync(dirname(stateFile(root, groupId)), { recursive: true });
    writeFileSync(stateFile(root, groupId), JSON.stringify(s));
  };

  return {
    async prepare(d, g) {
      const instances = selectInstances(store, d, g.onPremisesInstanceTagFilters, g.onPremisesTagSet?.onPremisesTagSetList);
      if (!instances.length)
        throw new DeploymentFailure(
          'NO_INSTANCES',
          'The deployment failed because no instances were found for your deployment group. Check your deployment group settings to make sure the tags for your EC2 instances or Auto Scaling groups correctly identify the instances you want to deploy to, and then try again.',
        );
      const now = env.clock.now();
      return instances.map((i) => ({
        deploymentId: d.deploymentId,
        targetId: i.instanceName,
        targetArn: i.instanceArn,
        deploymentTargetType: 'InstanceTarget' as const,
        status: 'Pending' as const,
        lastUpdatedAt: now,
        lifecycleEvents: EVENTS.map((e) => ({ lifecycleEventName: e, status: 'Pending' as const })),
      }));
    },

    async run(d, g, targets, ctl) {
      const config = requireConfig(store, d, d.deploymentConfigName);
      const plan = batchPlan(targets.length, config.minimumHealthyHosts, config.deploymentConfigName === 'CodeDeployDefault.OneAtATime');
      let failed = targets.filter((t) => t.status === 'Failed').length;
      const pending = targets.filter((t) => t.status !== 'Succeeded' && t.status !== 'Failed');
      for (let i = 0; i < pending.length; i += plan.batch) {
        await ctl.checkpoint();
        const batch = pending.slice(i, i + plan.batch);
        const results = await Promise.all(batch.map((t) => deployTo(d, g, t, ctl)));
        failed += results.filter((ok) => !ok).length;
        const isLast = i + plan.batch >= pending.length;
        if (failed > plan.maxFailures && !(plan.lastMayFail && isLast && failed === 1)) {
          for (const t of pending.slice(i + plan.batch)) {
            t.status = 'Skipped';
            for (const e of t.lifecycleEvents) e.status = 'Skipped';
            ctl.saveTarget(t);
          }
          throw new DeploymentFailure(
            'HEALTH_CONSTRAINTS',
            'The overall deployment failed because too many individual instances failed deployment, too few healthy instances are available for deployment, or some instances in your deployment group are experiencing problems.',
          );
        }
      }
    },

    rollbackRevision(_d, g): RevisionLocation | undefined {
      return g.lastSuccessfulDeployment ? g.targetRevision : undefined;
    },
  };
}
