/**
 * IAM's tables and queries. Every row is scoped by account only (IAM is global). Names are unique
 * case-insensitively (the *_lc columns) but stored as given. Attachments and inline policies point
 * at an entity's id, so renaming a user keeps them. Policy versions live beside their policy.
 * requireX() helpers throw the AWS error for a missing entity. Tags live in core_tags, by the entity's ARN.
 */
import type { Db, Store } from '../../core/store.js';
import { moveTagColumnSql } from '../../core/tags.js';
import { noSuchEntity } from './common.js';

export type EntityType = 'role' | 'user';

interface Base {
  account: string;
  name: string;
  name_lc: string;
  path: string;
  arn: string;
  created_at: number;
}
export interface RoleRow extends Base {
  role_id: string;
  trust_policy: string;
  description: string | null;
  max_session: number;
  boundary: string | null;
}
export interface UserRow extends Base {
  user_id: string;
  boundary: string | null;
}
export interface ProfileRow extends Base {
  profile_id: string;
}
export interface PolicyRow extends Base {
  policy_id: string;
  description: string | null;
  default_version: number;
  next_version: number;
  updated_at: number;
}
export interface VersionRow {
  version: number;
  document: string;
  created_at: number;
}

const MIGRATIONS = [
  {
    version: 1,
    sql: `
      CREATE TABLE iam_roles (
        account TEXT NOT NULL, name_lc TEXT NOT NULL, name TEXT NOT NULL, role_id TEXT NOT NULL, path TEXT NOT NULL,
        arn TEXT NOT NULL, trust_policy TEXT NOT NULL, description TEXT, max_session INTEGER NOT NULL,
        boundary TEXT, tags TEXT NOT NULL, created_at INTEGER NOT NULL, PRIMARY KEY (account, name_lc));
      CREATE UNIQUE INDEX iam_roles_id ON iam_roles(role_id);
      CREATE TABLE iam_users (
        account TEXT NOT NULL, name_lc TEXT NOT NULL, name TEXT NOT NULL, user_id TEXT NOT NULL, path TEXT NOT NULL,
        arn TEXT NOT NULL, boundary TEXT, tags TEXT NOT NULL, created_at INTEGER NOT NULL, PRIMARY KEY (account, name_lc));
      CREATE UNIQUE INDEX iam_users_id ON iam_users(user_id);
      CREATE TABLE iam_instance_profiles (
        account TEXT NOT NULL, name_lc TEXT NOT NULL, name TEXT NOT NULL, profile_id TEXT NOT NULL, path TEXT NOT NULL,
        arn TEXT NOT NULL, tags TEXT NOT NULL, created_at INTEGER NOT NULL, PRIMARY KEY (account, name_lc));
      CREATE TABLE iam_instance_profile_roles (
        account TEXT NOT NULL, profile_id TEXT NOT NULL, role_id TEXT NOT NULL, PRIMARY KEY (profile_id, role_id));
      CREATE INDEX iam_instance_profile_roles_role ON iam_instance_profile_roles(role_id);
      CREATE TABLE iam_policies (
        account TEXT NOT NULL, name_lc TEXT NOT NULL, name TEXT NOT NULL, policy_id TEXT NOT NULL, path TEXT NOT NULL,
        arn TEXT NOT NULL, description TEXT, default_version INTEGER NOT NULL, next_version INTEGER NOT NULL,
        tags TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, PRIMARY KEY (account, name_lc));
      CREATE UNIQUE INDEX iam_policies_arn ON iam_policies(account, arn);
      CREATE TABLE iam_policy_versions (
        account TEXT NOT NULL, policy_arn TEXT NOT NULL, version INTEGER NOT NULL, document TEXT NOT NULL,
        created_at INTEGER NOT NULL, PRIMARY KEY (account, policy_arn, version));
      CREATE TABLE iam_attachments (
        account TEXT NOT NULL, entity_type TEXT NOT NULL, entity_id TEXT NOT NULL, policy_arn TEXT NOT NULL,
        PRIMARY KEY (account, entity_type, entity_id, policy_arn));
      CREATE INDEX iam_attachments_policy ON iam_attachments(account, policy_arn);
      CREATE TABLE iam_inline_policies (
        account TEXT NOT NULL, entity_type TEXT NOT NULL, entity_id TEXT NOT NULL, name_lc TEXT NOT NULL,
        name TEXT NOT NULL, document TEXT NOT NULL, PRIMARY KEY (account, entity_type, entity_id, name_lc));`,
  },
  {
    version: 2,
    sql: ['iam_roles', 'iam_users', 'iam_instance_profiles', 'iam_policies'].map((t) => moveTagColumnSql(t, 'arn', 'list')).join('\n'),
  },
];

type Statements = ReturnType<typeof entityStatements>;

/** Insert / select / update statements for one name-keyed entity table. */
function entityStatements(db: Db, table: string, columns: string[]) {
  const cols = ['account', 'name_lc', 'name', 'path', 'arn', 'created_at', ...columns];
  return {
    insert: db.prepare(`INSERT INTO ${table} (${cols.join(', ')}) VALUES (${cols.map((c) => '@' + c).join(', ')})`),
    get: db.prepare(`SELECT * FROM ${table} WHERE account = ? AND name_lc = ?`),
    list: db.prepare(
      `SELECT * FROM ${table} WHERE account = @account AND name_lc > @after AND substr(path, 1, length(@prefix)) = @prefix ORDER BY name_lc LIMIT @limit`,
    ),
    delete: db.prepare(`DELETE FROM ${table} WHERE account = ? AND name_lc = ?`),
  };
}

function statements(db: Db) {
  return {
    roleById: db.prepare('SELECT * FROM iam_roles WHERE role_id = ?'),
    updateRole: db.prepare(
      'UPDATE iam_roles SET description = @description, max_session = @max_session, trust_policy = @trust_policy, boundary = @boundary WHERE account = @account AND name_lc = @name_lc',
    ),
    userById: db.prepare('SELECT * FROM iam_users WHERE user_id = ?'),
    renameUser: db.prepare('UPDATE iam_users SET name = ?, name_lc = ?, path = ?, arn = ? WHERE account = ? AND name_lc = ?'),
    setUserBoundary: db.prepare('UPDATE iam_users SET boundary = ? WHERE account = ? AND name_lc = ?'),
    policyByArn: db.prepare('SELECT * FROM iam_policies WHERE account = ? AND arn = ?'),
    allPolicies: db.prepare(
      'SELECT * FROM iam_policies WHERE account = @account AND substr(path, 1, length(@prefix)) = @prefix ORDER BY name_lc',
    ),
    deletePolicy: db.prepare('DELETE FROM iam_policies WHERE account = ? AND arn = ?'),
    setPolicyVersions: db.prepare(
      'UPDATE iam_policies SET default_version = ?, next_version = ?, updated_at = ? WHERE account = ? AND arn = ?',
    ),
    insertVersion: db.prepare(
      'INSERT INTO iam_policy_versions (account, policy_arn, version, document, created_at) VALUES (?, ?, ?, ?, ?)',
    ),
    getVersion: db.prepare(
      'SELECT version, document, created_at FROM iam_policy_versions WHERE account = ? AND policy_arn = ? AND version = ?',
    ),
    listVersions: db.prepare(
      'SELECT version, document, created_at FROM iam_policy_versions WHERE account = ? AND policy_arn = ? ORDER BY version DESC',
    ),
    deleteVersion: db.prepare('DELETE FROM iam_policy_versions WHERE account = ? AND policy_arn = ? AND version = ?'),
    deleteVersions: db.prepare('DELETE FROM iam_policy_versions WHERE account = ? AND policy_arn = ?'),
    attach: db.prepare('INSERT OR IGNORE INTO iam_attachments (account, entity_type, entity_id, policy_arn) VALUES (?, ?, ?, ?)'),
    detach: db.prepare('DELETE FROM iam_attachments WHERE account = ? AND entity_type = ? AND entity_id = ? AND policy_arn = ?'),
    attachedTo: db.prepare('SELECT policy_arn FROM iam_attachments WHERE account = ? AND entity_type = ? AND entity_id = ?'),
    attachmentCount: db.prepare('SELECT count(*) AS n FROM iam_attachments WHERE account = ? AND policy_arn = ?'),
    attachedEntities: db.prepare('SELECT entity_type, entity_id FROM iam_attachments WHERE account = ? AND policy_arn = ?'),
    putInline: db.prepare(
      'INSERT INTO iam_inline_policies (account, entity_type, entity_id, name_lc, name, document) VALUES (?, ?, ?, ?, ?, ?) ' +
        'ON CONFLICT (account, entity_type, entity_id, name_lc) DO UPDATE SET name = excluded.name, document = excluded.document',
    ),
    getInline: db.prepare(
      'SELECT name, document FROM iam_inline_policies WHERE account = ? AND entity_type = ? AND entity_id = ? AND name_lc = ?',
    ),
    listInline: db.prepare('SELECT name FROM iam_inline_policies WHERE account = ? AND entity_type = ? AND entity_id = ? ORDER BY name_lc'),
    deleteInline: db.prepare('DELETE FROM iam_inline_policies WHERE account = ? AND entity_type = ? AND entity_id = ? AND name_lc = ?'),
    addProfileRole: db.prepare('INSERT INTO iam_instance_profile_roles (account, profile_id, role_id) VALUES (?, ?, ?)'),
    removeProfileRole: db.prepare('DELETE FROM iam_instance_profile_roles WHERE profile_id = ? AND role_id = ?'),
    profileRoleIds: db.prepare('SELECT role_id FROM iam_instance_profile_roles WHERE profile_id = ?'),
    profilesOfRole: db.prepare(
      'SELECT p.* FROM iam_instance_profile_roles r JOIN iam_instance_profiles p ON p.profile_id = r.profile_id AND p.account = r.account WHERE r.role_id = ? ORDER BY p.name_lc',
    ),
    deleteProfileRoles: db.prepare('DELETE FROM iam_instance_profile_roles WHERE profile_id = ?'),
  };
}

export type IamStore = ReturnType<typeof createIamStore>;

export function createIamStore(store: Store) {
  store.migrate('iam', MIGRATIONS);
  const db = store.db;
  const roles: Statements = entityStatements(db, 'iam_roles', ['role_id', 'trust_policy', 'description', 'max_session', 'boundary']);
  const users: Statements = entityStatements(db, 'iam_users', ['user_id', 'boundary']);
  const profiles: Statements = entityStatements(db, 'iam_instance_profiles', ['profile_id']);
  const policies: Statements = entityStatements(db, 'iam_policies', [
    'policy_id',
    'description',
    'default_version',
    'next_version',
    'updated_at',
  ]);
  const s = statements(db);

  const self = {
    db,
    transaction<T>(fn: () => T): T {
      return db.transaction(fn)();
    },

    // ---- roles

    getRole: (account: string, name: string) => roles.get.get(account, name.toLowerCase()) as RoleRow | undefined,
    /** NoSuchEntity 404: "The role with name X cannot be found." */
    requireRole(account: string, name: string): RoleRow {
      const row = self.getRole(account, name);
      if (!row) throw noSuchEntity(`The role with name ${name} cannot be found.`);
      return row;
    },
    insertRole: (row: RoleRow) => roles.insert.run(row),
    updateRole: (row: RoleRow) => s.updateRole.run(row),
    deleteRole: (account: string, name: string) => roles.delete.run(account, name.toLowerCase()),
    listRoles: (account: string, pathPrefix: string, after: string, limit: number) =>
      roles.list.all({ account, after, prefix: pathPrefix, limit }) as RoleRow[],
    roleById: (id: string) => s.roleById.get(id) as RoleRow | undefined,

    // ---- users

    getUser: (account: string, name: string) => users.get.get(account, name.toLowerCase()) as UserRow | undefined,
    /** NoSuchEntity 404: "The user with name X cannot be found." */
    requireUser(account: string, name: string): UserRow {
      const row = self.getUser(account, name);
      if (!row) throw noSuchEntity(`The user with name ${name} cannot be found.`);
      return row;
    },
    insertUser: (row: UserRow) => users.insert.run(row),
    deleteUser: (account: string, name: string) => users.delete.run(account, name.toLowerCase()),
    listUsers: (account: string, pathPrefix: string, after: string, limit: number) =>
      users.list.all({ account, after, prefix: pathPrefix, limit }) as UserRow[],
    userById: (id: string) => s.userById.get(id) as UserRow | undefined,
    renameUser: (u: UserRow, name: string, path: string, arn: string) =>
      s.renameUser.run(name, name.toLowerCase(), path, arn, u.account, u.name_lc),
    setUserBoundary: (account: string, name: string, arn: string | null) => s.setUserBoundary.run(arn, account, name.toLowerCase()),

    // ---- instance profiles

    getProfile: (account: string, name: string) => profiles.get.get(account, name.toLowerCase()) as ProfileRow | undefined,
    /** NoSuchEntity 404: "Instance Profile X cannot be found." */
    requireProfile(account: string, name: string): ProfileRow {
      const row = self.getProfile(account, name);
      if (!row) throw noSuchEntity(`Instance Profile ${name} cannot be found.`);
      return row;
    },
    insertProfile: (row: ProfileRow) => profiles.insert.run(row),
    deleteProfile: (account: string, p: ProfileRow) =>
      self.transaction(() => {
        s.deleteProfileRoles.run(p.profile_id);
        profiles.delete.run(account, p.name_lc);
      }),
    listProfiles: (account: string, pathPrefix: string, after: string, limit: number) =>
      profiles.list.all({ account, after, prefix: pathPrefix, limit }) as ProfileRow[],
    profileRoles: (p: ProfileRow) =>
      (s.profileRoleIds.all(p.profile_id) as { role_id: string }[]).map((r) => self.roleById(r.role_id)).filter((r): r is RoleRow => !!r),
    addProfileRole: (p: ProfileRow, r: RoleRow) => s.addProfileRole.run(p.account, p.profile_id, r.role_id),
    removeProfileRole: (p: ProfileRow, r: RoleRow) => s.removeProfileRole.run(p.profile_id, r.role_id).changes > 0,
    profilesOfRole: (r: RoleRow) => s.profilesOfRole.all(r.role_id) as ProfileRow[],

    // ---- managed policies and versions

    getPolicyByName: (account: string, name: string) => policies.get.get(account, name.toLowerCase()) as PolicyRow | undefined,
    getPolicy: (account: string, arn: string) => s.policyByArn.get(account, arn) as PolicyRow | undefined,
    allPolicies: (account: string, pathPrefix: string) => s.allPolicies.all({ account, prefix: pathPrefix }) as PolicyRow[],
    insertPolicy: (row: PolicyRow, document: string) =>
      self.transaction(() => {
        policies.insert.run(row);
        s.insertVersion.run(row.account, row.arn, 1, document, row.created_at);
      }),
    deletePolicy: (account: string, arn: string) =>
      self.transaction(() => {
        s.deleteVersions.run(account, arn);
        s.deletePolicy.run(account, arn);
      }),
    setPolicyVersions: (p: PolicyRow, defaultVersion: number, nextVersion: number, now: number) =>
      s.setPolicyVersions.run(defaultVersion, nextVersion, now, p.account, p.arn),
    insertVersion: (p: PolicyRow, version: number, document: string, now: number) =>
      s.insertVersion.run(p.account, p.arn, version, document, now),
    getVersion: (p: PolicyRow, version: number) => s.getVersion.get(p.account, p.arn, version) as VersionRow | undefined,
    listVersions: (p: PolicyRow) => s.listVersions.all(p.account, p.arn) as VersionRow[],
    deleteVersion: (p: PolicyRow, version: number) => s.deleteVersion.run(p.account, p.arn, version),

    // ---- attachments and inline policies (by entity id)

    attach: (account: string, type: EntityType, id: string, arn: string) => s.attach.run(account, type, id, arn),
    detach: (account: string, type: EntityType, id: string, arn: string) => s.detach.run(account, type, id, arn).changes > 0,
    attachedTo: (account: string, type: EntityType, id: string) =>
      (s.attachedTo.all(account, type, id) as { policy_arn: string }[]).map((r) => r.policy_arn),
    attachmentCount: (account: string, arn: string) => (s.attachmentCount.get(account, arn) as { n: number }).n,
    attachedEntities: (account: string, arn: string) =>
      s.attachedEntities.all(account, arn) as { entity_type: EntityType; entity_id: string }[],

    putInline: (account: string, type: EntityType, id: string, name: string, document: string) =>
      s.putInline.run(account, type, id, name.toLowerCase(), name, document),
    getInline: (account: string, type: EntityType, id: string, name: string) =>
      s.getInline.get(account, type, id, name.toLowerCase()) as { name: string; document: string } | undefined,
    listInline: (account: string, type: EntityType, id: string) =>
      (s.listInline.all(account, type, id) as { name: string }[]).map((r) => r.name),
    deleteInline: (account: string, type: EntityType, id: string, name: string) =>
      s.deleteInline.run(account, type, id, name.toLowerCase()).changes > 0,
  };
  return self;
}
