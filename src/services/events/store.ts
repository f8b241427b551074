/**
 * EventBridge tables and queries: buses, rules (pattern and/or schedule) and their targets, scoped
 * by account and region. The default bus is created lazily the first time an account and region
 * touch it, so it always "exists". Targets are stored as their wire JSON (every target field
 * survives a restart) keyed by (rule, Id). requireX() helpers throw AWS's errors.
 */
import { AwsError } from '../../core/errors.js';
import { requireOwnArn, type Scope } from '../../core/arn.js';
import type { Store } from '../../core/store.js';
import { migrateTagTable, moveTagColumnSql } from '../../core/tags.js';

export interface BusRow {
  account: string;
  region: string;
  name: string;
  description: string | null;
  created: number;
  modified: number;
}

export interface RuleRow {
  id: number;
  account: string;
  region: string;
  bus: string;
  name: string;
  pattern: string | null;
  schedule: string | null;
  state: string;
  description: string | null;
  role_arn: string | null;
  managed_by: string | null;
  created: number;
}

export interface TargetRow {
  rule_id: number;
  id: string;
  arn: string;
  body: string;
}

const MIGRATIONS = [
  {
    version: 1,
    sql: `
      CREATE TABLE events_buses (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        description TEXT,
        created INTEGER NOT NULL,
        modified INTEGER NOT NULL,
        tags TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (account, region, name)
      );
      CREATE TABLE events_rules (
        id INTEGER PRIMARY KEY,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        bus TEXT NOT NULL,
        name TEXT NOT NULL,
        pattern TEXT,
        schedule TEXT,
        state TEXT NOT NULL,
        description TEXT,
        role_arn TEXT,
        managed_by TEXT,
        created INTEGER NOT NULL,
        tags TEXT NOT NULL DEFAULT '{}',
        UNIQUE (account, region, bus, name)
      );
      CREATE INDEX events_rules_scheduled ON events_rules (schedule) WHERE schedule IS NOT NULL;
      CREATE TABLE events_targets (
        rule_id INTEGER NOT NULL,
        id TEXT NOT NULL,
        arn TEXT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (rule_id, id)
      );
      CREATE INDEX events_targets_by_arn ON events_targets (arn);
    `,
  },
  {
    // tags moved to core_tags, by the ARNs busArn and ruleArn give (a default-bus rule's has no bus segment)
    version: 2,
    sql:
      moveTagColumnSql('events_buses', "'arn:aws:events:' || region || ':' || account || ':event-bus/' || name", 'map') +
      moveTagColumnSql(
        'events_rules',
        "'arn:aws:events:' || region || ':' || account || ':rule/' || CASE WHEN bus = 'default' THEN '' ELSE bus || '/' END || name",
        'map',
      ),
  },
];

export const ruleArn = (r: { account: string; region: string; bus: string; name: string }) =>
  `arn:aws:events:${r.region}:${r.account}:rule/${r.bus === 'default' ? '' : `${r.bus}/`}${r.name}`;
export const busArn = (scope: Scope, name: string) => `arn:aws:events:${scope.region}:${scope.account}:event-bus/${name}`;

/** A bus name or ARN, as EventBusName accepts either; absent means "default". */
export const busName = (nameOrArn: string | undefined, scope: Scope) => {
  if (!nameOrArn) return 'default';
  const i = nameOrArn.indexOf(':event-bus/');
  if (!nameOrArn.startsWith('arn:') || i < 0) return nameOrArn;
  const name = nameOrArn.slice(i + ':event-bus/'.length);
  // another account's or region's bus is one this caller cannot see
  requireOwnArn(nameOrArn, scope, () => new AwsError('ResourceNotFoundException', `Event bus ${name} does not exist.`, 400));
  return name;
};

export type EventsStore = ReturnType<typeof createEventsStore>;

export function createEventsStore(store: Store) {
  migrateTagTable(store);
  store.migrate('events', MIGRATIONS);
  const db = store.db;
  const q = {
    bus: db.prepare('SELECT * FROM events_buses WHERE account = ? AND region = ? AND name = ?'),
    insertBus: db.prepare(
      'INSERT OR IGNORE INTO events_buses (account, region, name, description, created, modified) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    listBuses: db.prepare(
      "SELECT * FROM events_buses WHERE account = ? AND region = ? AND name > ? AND name LIKE ? ESCAPE '\\' ORDER BY name LIMIT ?",
    ),
    deleteBus: db.prepare('DELETE FROM events_buses WHERE account = ? AND region = ? AND name = ?'),
    updateBus: db.prepare('UPDATE events_buses SET description = ?, modified = ? WHERE account = ? AND region = ? AND name = ?'),
    rule: db.prepare('SELECT * FROM events_rules WHERE account = ? AND region = ? AND bus = ? AND name = ?'),
    ruleById: db.prepare('SELECT * FROM events_rules WHERE id = ?'),
    insertRule: db.prepare(
      `INSERT INTO events_rules (account, region, bus, name, pattern, schedule, state, description, role_arn, managed_by, created)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
    ),
    updateRule: db.prepare('UPDATE events_rules SET pattern = ?, schedule = ?, state = ?, description = ?, role_arn = ? WHERE id = ?'),
    setRuleState: db.prepare('UPDATE events_rules SET state = ? WHERE id = ?'),
    deleteRule: db.prepare('DELETE FROM events_rules WHERE id = ?'),
    listRules: db.prepare(
      "SELECT * FROM events_rules WHERE account = ? AND region = ? AND bus = ? AND name > ? AND name LIKE ? ESCAPE '\\' ORDER BY name LIMIT ?",
    ),
    busRules: db.prepare('SELECT * FROM events_rules WHERE account = ? AND region = ? AND bus = ?'),
    scheduledRules: db.prepare('SELECT * FROM events_rules WHERE schedule IS NOT NULL'),
    targets: db.prepare('SELECT * FROM events_targets WHERE rule_id = ? ORDER BY id'),
    targetsPage: db.prepare('SELECT * FROM events_targets WHERE rule_id = ? AND id > ? ORDER BY id LIMIT ?'),
    targetCount: db.prepare('SELECT count(*) AS n FROM events_targets WHERE rule_id = ?'),
    upsertTarget: db.prepare(
      'INSERT INTO events_targets (rule_id, id, arn, body) VALUES (?, ?, ?, ?) ON CONFLICT (rule_id, id) DO UPDATE SET arn = excluded.arn, body = excluded.body',
    ),
    deleteTarget: db.prepare('DELETE FROM events_targets WHERE rule_id = ? AND id = ?'),
    deleteRuleTargets: db.prepare('DELETE FROM events_targets WHERE rule_id = ?'),
    rulesByTarget: db.prepare(
      `SELECT DISTINCT r.name FROM events_targets t JOIN events_rules r ON r.id = t.rule_id
       WHERE t.arn = ? AND r.account = ? AND r.region = ? AND r.bus = ? AND r.name > ? ORDER BY r.name LIMIT ?`,
    ),
  };

  const likePrefix = (prefix: string | undefined) => (prefix ?? '').replace(/[\\%_]/g, '\\$&') + '%';

  return {
    /** Creates the default bus row for this account and region if it is not there yet. */
    ensureDefault(scope: Scope, now: number) {
      q.insertBus.run(scope.account, scope.region, 'default', null, now, now);
    },

    findBus(scope: Scope, name: string) {
      return q.bus.get(scope.account, scope.region, name) as BusRow | undefined;
    },

    /** ResourceNotFoundException "Event bus <name> does not exist." */
    requireBus(scope: Scope, name: string, now: number): BusRow {
      let b = this.findBus(scope, name);
      if (!b && name === 'default') {
        this.ensureDefault(scope, now);
        b = this.findBus(scope, name);
      }
      if (!b) throw new AwsError('ResourceNotFoundException', `Event bus ${name} does not exist.`, 400);
      return b;
    },

    createBus(scope: Scope, name: string, description: string | undefined, now: number) {
      return q.insertBus.run(scope.account, scope.region, name, description ?? null, now, now).changes > 0;
    },

    listBuses(scope: Scope, prefix: string | undefined, after: string, limit: number) {
      return q.listBuses.all(scope.account, scope.region, after, likePrefix(prefix), limit) as BusRow[];
    },

    /** Deletes the bus with its rules and their targets. */
    deleteBus: db.transaction((scope: Scope, name: string) => {
      for (const r of q.busRules.all(scope.account, scope.region, name) as RuleRow[]) {
        q.deleteRuleTargets.run(r.id);
        q.deleteRule.run(r.id);
      }
      q.deleteBus.run(scope.account, scope.region, name);
    }),

    updateBus(b: BusRow, description: string | null, now: number) {
      q.updateBus.run(description, now, b.account, b.region, b.name);
    },

    findRule(scope: Scope, bus: string, name: string) {
      return q.rule.get(scope.account, scope.region, bus, name) as RuleRow | undefined;
    },

    /** ResourceNotFoundException "Rule <name> does not exist on EventBus <bus>." */
    requireRule(scope: Scope, bus: string, name: string): RuleRow {
      const r = this.findRule(scope, bus, name);
      if (!r) throw new AwsError('ResourceNotFoundException', `Rule ${name} does not exist on EventBus ${bus}.`, 400);
      return r;
    },

    ruleById(id: number) {
      return q.ruleById.get(id) as RuleRow | undefined;
    },

    insertRule(r: Omit<RuleRow, 'id'>): number {
      return (
        q.insertRule.get(
          r.account,
          r.region,
          r.bus,
          r.name,
          r.pattern,
          r.schedule,
          r.state,
          r.description,
          r.role_arn,
          r.managed_by,
          r.created,
        ) as { id: number }
      ).id;
    },

    updateRule(id: number, r: Pick<RuleRow, 'pattern' | 'schedule' | 'state' | 'description' | 'role_arn'>) {
      q.updateRule.run(r.pattern, r.schedule, r.state, r.description, r.role_arn, id);
    },

    setRuleState(id: number, state: string) {
      q.setRuleState.run(state, id);
    },

    deleteRule(id: number) {
      q.deleteRule.run(id);
    },

    listRules(scope: Scope, bus: string, prefix: string | undefined, after: string, limit: number) {
      return q.listRules.all(scope.account, scope.region, bus, after, likePrefix(prefix), limit) as RuleRow[];
    },

    busRules(scope: Scope, bus: string) {
      return q.busRules.all(scope.account, scope.region, bus) as RuleRow[];
    },

    scheduledRules() {
      return q.scheduledRules.all() as RuleRow[];
    },

    targets(ruleId: number) {
      return q.targets.all(ruleId) as TargetRow[];
    },

    targetsPage(ruleId: number, after: string, limit: number) {
      return q.targetsPage.all(ruleId, after, limit) as TargetRow[];
    },

    targetCount(ruleId: number) {
      return (q.targetCount.get(ruleId) as { n: number }).n;
    },

    putTargets: db.transaction((ruleId: number, targets: { Id: string; Arn: string }[]) => {
      for (const t of targets) q.upsertTarget.run(ruleId, t.Id, t.Arn, JSON.stringify(t));
    }),

    removeTargets: db.transaction((ruleId: number, ids: string[]) => {
      for (const id of ids) q.deleteTarget.run(ruleId, id);
    }),

    deleteRuleTargets(ruleId: number) {
      q.deleteRuleTargets.run(ruleId);
    },

    rulesByTarget(scope: Scope, bus: string, arn: string, after: string, limit: number) {
      return (q.rulesByTarget.all(arn, scope.account, scope.region, bus, after, limit) as { name: string }[]).map((r) => r.name);
    },

    /** Runs `fn` in one transaction (a bus or rule and its tags change together). */
    transaction: <T>(fn: () => T): T => db.transaction(fn)(),
  };
}
