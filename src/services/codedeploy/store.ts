/**
 * CodeDeploy tables: applications, deployment groups, custom deployment configs, registered
 * revisions, on-premises instances, deployments and their targets. Everything is scoped by account
 * and region; the richer objects (a group's settings, a deployment's progress, a target's lifecycle
 * events) are JSON documents in the rows that find them, written back at every step so a restart
 * finds each deployment where it was. requireX() helpers throw AWS's error for a missing resource.
 */
import { AwsError } from '../../core/errors.js';
import type { Scope } from '../../core/arn.js';
import type { Store } from '../../core/store.js';
import type { DeploymentDoc, GroupDoc, InstanceDoc, RevisionDoc, TargetDoc } from './model.js';

export interface AppRow {
  id: string;
  account: string;
  region: string;
  name: string;
  platform: string;
  created: number;
}

export interface ConfigRow {
  id: string;
  account: string;
  region: string;
  name: string;
  doc: string;
  created: number;
}

const MIGRATIONS = [
  {
    version: 1,
    sql: `
      CREATE TABLE codedeploy_apps (
        id TEXT PRIMARY KEY, account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL,
        platform TEXT NOT NULL, created INTEGER NOT NULL, UNIQUE (account, region, name));
      CREATE TABLE codedeploy_groups (
        id TEXT PRIMARY KEY, app_id TEXT NOT NULL REFERENCES codedeploy_apps (id) ON DELETE CASCADE,
        name TEXT NOT NULL, doc TEXT NOT NULL, UNIQUE (app_id, name));
      CREATE TABLE codedeploy_configs (
        id TEXT PRIMARY KEY, account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL,
        doc TEXT NOT NULL, created INTEGER NOT NULL, UNIQUE (account, region, name));
      CREATE TABLE codedeploy_revisions (
        app_id TEXT NOT NULL REFERENCES codedeploy_apps (id) ON DELETE CASCADE,
        key TEXT NOT NULL, doc TEXT NOT NULL, registered INTEGER NOT NULL, PRIMARY KEY (app_id, key));
      CREATE TABLE codedeploy_instances (
        account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL, doc TEXT NOT NULL,
        PRIMARY KEY (account, region, name));
      CREATE TABLE codedeploy_deployments (
        id TEXT PRIMARY KEY, account TEXT NOT NULL, region TEXT NOT NULL, app TEXT NOT NULL, grp TEXT,
        status TEXT NOT NULL, created INTEGER NOT NULL, doc TEXT NOT NULL);
      CREATE INDEX codedeploy_deployments_by_group ON codedeploy_deployments (account, region, app, grp, created);
      CREATE INDEX codedeploy_deployments_by_status ON codedeploy_deployments (status);
      CREATE TABLE codedeploy_targets (
        deployment_id TEXT NOT NULL REFERENCES codedeploy_deployments (id) ON DELETE CASCADE,
        target_id TEXT NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (deployment_id, target_id));
    `,
  },
];

const noApp = (name: string) => new AwsError('ApplicationDoesNotExistException', `No application found for name: ${name}`);
const noGroup = (name: string) => new AwsError('DeploymentGroupDoesNotExistException', `No Deployment Group found for name: ${name}`);

export type CodedeployStore = ReturnType<typeof createCodedeployStore>;

export function createCodedeployStore(store: Store) {
  store.migrate('codedeploy', MIGRATIONS);
  const db = store.db;
  const q = {
    app: db.prepare<[string, string, string], AppRow>('SELECT * FROM codedeploy_apps WHERE account = ? AND region = ? AND name = ?'),
    appById: db.prepare<[string], AppRow>('SELECT * FROM codedeploy_apps WHERE id = ?'),
    apps: db.prepare<[string, string], AppRow>('SELECT * FROM codedeploy_apps WHERE account = ? AND region = ? ORDER BY name'),
    insertApp: db.prepare(
      'INSERT INTO codedeploy_apps (id, account, region, name, platform, created) VALUES (@id, @account, @region, @name, @platform, @created)',
    ),
    renameApp: db.prepare('UPDATE codedeploy_apps SET name = ? WHERE id = ?'),
    deleteApp: db.prepare('DELETE FROM codedeploy_apps WHERE id = ?'),
    group: db.prepare<[string, string], { id: string; doc: string }>('SELECT id, doc FROM codedeploy_groups WHERE app_id = ? AND name = ?'),
    groups: db.prepare<[string], { id: string; doc: string }>('SELECT id, doc FROM codedeploy_groups WHERE app_id = ? ORDER BY name'),
    putGroup: db.prepare(
      'INSERT INTO codedeploy_groups (id, app_id, name, doc) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET name = excluded.name, doc = excluded.doc',
    ),
    deleteGroup: db.prepare('DELETE FROM codedeploy_groups WHERE id = ?'),
    config: db.prepare<[string, string, string], ConfigRow>(
      'SELECT * FROM codedeploy_configs WHERE account = ? AND region = ? AND name = ?',
    ),
    configs: db.prepare<[string, string], ConfigRow>('SELECT * FROM codedeploy_configs WHERE account = ? AND region = ? ORDER BY name'),
    insertConfig: db.prepare(
      'INSERT INTO codedeploy_configs (id, account, region, name, doc, created) VALUES (@id, @account, @region, @name, @doc, @created)',
    ),
    deleteConfig: db.prepare('DELETE FROM codedeploy_configs WHERE id = ?'),
    revision: db.prepare<[string, string], { doc: string }>('SELECT doc FROM codedeploy_revisions WHERE app_id = ? AND key = ?'),
    revisions: db.prepare<[string], { doc: string }>('SELECT doc FROM codedeploy_revisions WHERE app_id = ? ORDER BY registered DESC'),
    putRevision: db.prepare(
      'INSERT INTO codedeploy_revisions (app_id, key, doc, registered) VALUES (?, ?, ?, ?) ON CONFLICT (app_id, key) DO UPDATE SET doc = excluded.doc',
    ),
    instance: db.prepare<[string, string, string], { doc: string }>(
      'SELECT doc FROM codedeploy_instances WHERE account = ? AND region = ? AND name = ?',
    ),
    instances: db.prepare<[string, string], { doc: string }>(
      'SELECT doc FROM codedeploy_instances WHERE account = ? AND region = ? ORDER BY name',
    ),
    putInstance: db.prepare(
      'INSERT INTO codedeploy_instances (account, region, name, doc) VALUES (?, ?, ?, ?) ON CONFLICT (account, region, name) DO UPDATE SET doc = excluded.doc',
    ),
    deployment: db.prepare<[string], { doc: string }>('SELECT doc FROM codedeploy_deployments WHERE id = ?'),
    deployments: db.prepare<[string, string], { doc: string }>(
      'SELECT doc FROM codedeploy_deployments WHERE account = ? AND region = ? ORDER BY created DESC, id',
    ),
    unfinished: db.prepare<[], { doc: string }>(
      "SELECT doc FROM codedeploy_deployments WHERE status IN ('Created', 'Queued', 'InProgress', 'Baking', 'Ready')",
    ),
    putDeployment: db.prepare(
      `INSERT INTO codedeploy_deployments (id, account, region, app, grp, status, created, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET status = excluded.status, doc = excluded.doc`,
    ),
    target: db.prepare<[string, string], { doc: string }>('SELECT doc FROM codedeploy_targets WHERE deployment_id = ? AND target_id = ?'),
    targets: db.prepare<[string], { doc: string }>('SELECT doc FROM codedeploy_targets WHERE deployment_id = ? ORDER BY target_id'),
    putTarget: db.prepare(
      'INSERT INTO codedeploy_targets (deployment_id, target_id, doc) VALUES (?, ?, ?) ON CONFLICT (deployment_id, target_id) DO UPDATE SET doc = excluded.doc',
    ),
  };
  const parse = <T>(row: { doc: string } | undefined): T | undefined => (row ? (JSON.parse(row.doc) as T) : undefined);

  return {
    transaction: <T>(fn: () => T): T => db.transaction(fn)(),

    app: (scope: Scope, name: string) => q.app.get(scope.account, scope.region, name),
    /** Throws ApplicationDoesNotExistException. */
    requireApp(scope: Scope, name: string): AppRow {
      const a = q.app.get(scope.account, scope.region, name);
      if (!a) throw noApp(name);
      return a;
    },
    appById: (id: string) => q.appById.get(id),
    apps: (scope: Scope) => q.apps.all(scope.account, scope.region),
    insertApp: (a: AppRow) => q.insertApp.run(a),
    renameApp: (a: AppRow, name: string) => q.renameApp.run(name, a.id),
    deleteApp: (a: AppRow) => q.deleteApp.run(a.id),

    group: (app: AppRow, name: string) => parse<GroupDoc>(q.group.get(app.id, name)),
    /** Throws DeploymentGroupDoesNotExistException. */
    requireGroup(app: AppRow, name: string): GroupDoc {
      const g = parse<GroupDoc>(q.group.get(app.id, name));
      if (!g) throw noGroup(name);
      return g;
    },
    groups: (app: AppRow) => q.groups.all(app.id).map((r) => JSON.parse(r.doc) as GroupDoc),
    putGroup: (app: AppRow, g: GroupDoc) => q.putGroup.run(g.deploymentGroupId, app.id, g.deploymentGroupName, JSON.stringify(g)),
    deleteGroup: (g: GroupDoc) => q.deleteGroup.run(g.deploymentGroupId),

    config: (scope: Scope, name: string) => q.config.get(scope.account, scope.region, name),
    configs: (scope: Scope) => q.configs.all(scope.account, scope.region),
    insertConfig: (c: ConfigRow) => q.insertConfig.run(c),
    deleteConfig: (c: ConfigRow) => q.deleteConfig.run(c.id),

    revision: (app: AppRow, key: string) => parse<RevisionDoc>(q.revision.get(app.id, key)),
    revisions: (app: AppRow) => q.revisions.all(app.id).map((r) => JSON.parse(r.doc) as RevisionDoc),
    putRevision: (app: AppRow, key: string, r: RevisionDoc) => q.putRevision.run(app.id, key, JSON.stringify(r), r.registerTime),

    instance: (scope: Scope, name: string) => parse<InstanceDoc>(q.instance.get(scope.account, scope.region, name)),
    instances: (scope: Scope) => q.instances.all(scope.account, scope.region).map((r) => JSON.parse(r.doc) as InstanceDoc),
    putInstance: (scope: Scope, i: InstanceDoc) => q.putInstance.run(scope.account, scope.region, i.instanceName, JSON.stringify(i)),

    deployment: (id: string) => parse<DeploymentDoc>(q.deployment.get(id)),
    deployments: (scope: Scope) => q.deployments.all(scope.account, scope.region).map((r) => JSON.parse(r.doc) as DeploymentDoc),
    unfinished: () => q.unfinished.all().map((r) => JSON.parse(r.doc) as DeploymentDoc),
    putDeployment: (d: DeploymentDoc) =>
      q.putDeployment.run(
        d.deploymentId,
        d.account,
        d.region,
        d.applicationName,
        d.deploymentGroupName ?? null,
        d.status,
        d.createTime,
        JSON.stringify(d),
      ),

    target: (deploymentId: string, targetId: string) => parse<TargetDoc>(q.target.get(deploymentId, targetId)),
    targets: (deploymentId: string) => q.targets.all(deploymentId).map((r) => JSON.parse(r.doc) as TargetDoc),
    putTarget: (t: TargetDoc) => q.putTarget.run(t.deploymentId, t.targetId, JSON.stringify(t)),
  };
}
