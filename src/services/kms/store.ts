/**
 * KMS tables: keys (one row per key, scoped by account and region), their key material (one row
 * per version: rotation adds one, every version still decrypts), aliases and grants. Key material
 * is stored in the data dir's database and never leaves it except as the public half of a key pair.
 *
 * Time-based changes happen when a key is next read: a key past its deletion date is deleted
 * (with its aliases, grants and tags), and a key whose automatic rotation came due gets the
 * material versions it would have had, dated when they were due.
 */
import { arn, type Scope } from '../../core/arn.js';
import { AwsError } from '../../core/errors.js';
import type { Store } from '../../core/store.js';
import type { Tags } from '../../core/tags.js';
import { generateMaterial, type KeySpec } from './crypto.js';

export interface KeyRow {
  id: number;
  account: string;
  region: string;
  key_id: string;
  spec: KeySpec;
  usage: string;
  state: 'Enabled' | 'Disabled' | 'PendingDeletion';
  description: string;
  origin: string;
  manager: 'CUSTOMER' | 'AWS';
  policy: string;
  created: number;
  deletion_date: number | null;
  rotation_days: number | null;
  next_rotation: number | null;
  multi_region: number;
}

export interface MaterialRow {
  key_row: number;
  version: number;
  material: Buffer;
  created: number;
  on_demand: number;
}

export interface AliasRow {
  account: string;
  region: string;
  name: string;
  key_id: string;
  created: number;
  updated: number;
}

export interface GrantRow {
  account: string;
  region: string;
  grant_id: string;
  key_id: string;
  token: string;
  name: string | null;
  grantee: string;
  retiring: string | null;
  operations: string;
  constraints: string | null;
  issuer: string;
  created: number;
}

const MIGRATIONS = [
  {
    version: 1,
    sql: `
      CREATE TABLE kms_keys (
        id INTEGER PRIMARY KEY, account TEXT NOT NULL, region TEXT NOT NULL, key_id TEXT NOT NULL,
        spec TEXT NOT NULL, usage TEXT NOT NULL, state TEXT NOT NULL, description TEXT NOT NULL, origin TEXT NOT NULL,
        manager TEXT NOT NULL, policy TEXT NOT NULL, created INTEGER NOT NULL, deletion_date INTEGER,
        rotation_days INTEGER, next_rotation INTEGER, multi_region INTEGER NOT NULL DEFAULT 0,
        UNIQUE (account, region, key_id));
      CREATE TABLE kms_material (
        key_row INTEGER NOT NULL REFERENCES kms_keys (id) ON DELETE CASCADE, version INTEGER NOT NULL,
        material BLOB NOT NULL, created INTEGER NOT NULL, on_demand INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (key_row, version));
      CREATE TABLE kms_aliases (
        account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL, key_id TEXT NOT NULL,
        created INTEGER NOT NULL, updated INTEGER NOT NULL, PRIMARY KEY (account, region, name));
      CREATE TABLE kms_grants (
        account TEXT NOT NULL, region TEXT NOT NULL, grant_id TEXT NOT NULL, key_id TEXT NOT NULL, token TEXT NOT NULL,
        name TEXT, grantee TEXT NOT NULL, retiring TEXT, operations TEXT NOT NULL, constraints TEXT, issuer TEXT NOT NULL,
        created INTEGER NOT NULL, PRIMARY KEY (account, region, grant_id));
      CREATE INDEX kms_grants_by_key ON kms_grants (account, region, key_id, created);
    `,
  },
];

const DAY = 86_400_000;

export const keyArn = (scope: Scope, keyId: string) => arn('kms', scope, `key/${keyId}`);
export const aliasArn = (scope: Scope, name: string) => arn('kms', scope, name);

export type KmsStore = ReturnType<typeof createKmsStore>;

const MATERIAL_CACHE_SIZE = 1024;

export function createKmsStore(store: Store, tags: Tags) {
  const materialCache = new Map<string, MaterialRow>();
  store.migrate('kms', MIGRATIONS);
  const db = store.db;
  const q = {
    key: db.prepare<[string, string, string], KeyRow>('SELECT * FROM kms_keys WHERE account = ? AND region = ? AND key_id = ?'),
    keys: db.prepare<[string, string, string, number], KeyRow>(
      'SELECT * FROM kms_keys WHERE account = ? AND region = ? AND key_id > ? ORDER BY key_id LIMIT ?',
    ),
    insertKey: db.prepare(
      `INSERT INTO kms_keys (account, region, key_id, spec, usage, state, description, origin, manager, policy, created, multi_region)
       VALUES (@account, @region, @key_id, @spec, @usage, @state, @description, @origin, @manager, @policy, @created, @multi_region)`,
    ),
    deleteKey: db.prepare('DELETE FROM kms_keys WHERE id = ?'),
    update: (column: string) => db.prepare(`UPDATE kms_keys SET ${column} = ? WHERE id = ?`),
    material: db.prepare<[number, number], MaterialRow>('SELECT * FROM kms_material WHERE key_row = ? AND version = ?'),
    latestMaterial: db.prepare<[number], MaterialRow>('SELECT * FROM kms_material WHERE key_row = ? ORDER BY version DESC LIMIT 1'),
    materials: db.prepare<[number], MaterialRow>('SELECT * FROM kms_material WHERE key_row = ? ORDER BY version'),
    insertMaterial: db.prepare('INSERT INTO kms_material (key_row, version, material, created, on_demand) VALUES (?, ?, ?, ?, ?)'),
    alias: db.prepare<[string, string, string], AliasRow>('SELECT * FROM kms_aliases WHERE account = ? AND region = ? AND name = ?'),
    aliases: db.prepare<[string, string, string, number], AliasRow>(
      'SELECT * FROM kms_aliases WHERE account = ? AND region = ? AND name > ? ORDER BY name LIMIT ?',
    ),
    aliasesOfKey: db.prepare<[string, string, string], AliasRow>(
      'SELECT * FROM kms_aliases WHERE account = ? AND region = ? AND key_id = ? ORDER BY name',
    ),
    insertAlias: db.prepare('INSERT INTO kms_aliases (account, region, name, key_id, created, updated) VALUES (?, ?, ?, ?, ?, ?)'),
    retargetAlias: db.prepare('UPDATE kms_aliases SET key_id = ?, updated = ? WHERE account = ? AND region = ? AND name = ?'),
    deleteAlias: db.prepare('DELETE FROM kms_aliases WHERE account = ? AND region = ? AND name = ?'),
    deleteKeyAliases: db.prepare('DELETE FROM kms_aliases WHERE account = ? AND region = ? AND key_id = ?'),
    grant: db.prepare<[string, string, string], GrantRow>('SELECT * FROM kms_grants WHERE account = ? AND region = ? AND grant_id = ?'),
    grantByToken: db.prepare<[string, string, string], GrantRow>('SELECT * FROM kms_grants WHERE account = ? AND region = ? AND token = ?'),
    grantsOfKey: db.prepare<[string, string, string], GrantRow>(
      'SELECT * FROM kms_grants WHERE account = ? AND region = ? AND key_id = ? ORDER BY created, grant_id',
    ),
    retirable: db.prepare<[string, string], GrantRow>(
      'SELECT * FROM kms_grants WHERE account = ? AND retiring = ? ORDER BY created, grant_id',
    ),
    insertGrant: db.prepare(
      `INSERT INTO kms_grants (account, region, grant_id, key_id, token, name, grantee, retiring, operations, constraints, issuer, created)
       VALUES (@account, @region, @grant_id, @key_id, @token, @name, @grantee, @retiring, @operations, @constraints, @issuer, @created)`,
    ),
    deleteGrant: db.prepare('DELETE FROM kms_grants WHERE account = ? AND region = ? AND grant_id = ?'),
    deleteKeyGrants: db.prepare('DELETE FROM kms_grants WHERE account = ? AND region = ? AND key_id = ?'),
  };
  const setters = {
    state: q.update('state'),
    description: q.update('description'),
    policy: q.update('policy'),
    deletion_date: q.update('deletion_date'),
    rotation_days: q.update('rotation_days'),
    next_rotation: q.update('next_rotation'),
  };

  const purge = db.transaction((k: KeyRow) => {
    q.deleteKeyAliases.run(k.account, k.region, k.key_id);
    q.deleteKeyGrants.run(k.account, k.region, k.key_id);
    q.deleteKey.run(k.id);
    tags.delete(keyArn(k, k.key_id));
    for (const id of materialCache.keys()) if (id.startsWith(`${k.key_id}:`)) materialCache.delete(id);
  });

  const catchUpRotation = db.transaction((k: KeyRow, now: number) => {
    let due = k.next_rotation!;
    let version = q.latestMaterial.get(k.id)!.version;
    while (due <= now) {
      q.insertMaterial.run(k.id, ++version, generateMaterial(k.spec), due, 0);
      due += k.rotation_days! * DAY;
    }
    setters.next_rotation.run(due, k.id);
    k.next_rotation = due;
  });

  /** The key as it is at `now`: undefined once its deletion date has passed (it is deleted then). */
  function current(k: KeyRow | undefined, now: number): KeyRow | undefined {
    if (!k) return undefined;
    if (k.state === 'PendingDeletion' && k.deletion_date !== null && k.deletion_date <= now) {
      purge(k);
      return undefined;
    }
    if (k.next_rotation !== null && k.next_rotation <= now && k.state === 'Enabled') catchUpRotation(k, now);
    return k;
  }

  return {
    transaction: <T>(fn: () => T): T => db.transaction(fn)(),

    findKey: (scope: Scope, keyId: string, now: number) => current(q.key.get(scope.account, scope.region, keyId), now),

    /** Keys of a scope in key id order after `after`; ones past their deletion date are deleted on the way. */
    listKeys(scope: Scope, after: string, limit: number, now: number): KeyRow[] {
      return q.keys
        .all(scope.account, scope.region, after, limit)
        .map((k) => current(k, now))
        .filter((k): k is KeyRow => k !== undefined);
    },

    insertKey(row: Omit<KeyRow, 'id' | 'deletion_date' | 'rotation_days' | 'next_rotation'>, material: Buffer) {
      const id = Number(q.insertKey.run(row).lastInsertRowid);
      q.insertMaterial.run(id, 1, material, row.created, 0);
    },

    set(k: KeyRow, column: keyof typeof setters, value: string | number | null) {
      setters[column].run(value, k.id);
    },

    /** Material never changes once made, so a version read once is kept (keyed by key id, which is never reused). */
    material(k: KeyRow, version: number): MaterialRow | undefined {
      const id = `${k.key_id}:${version}`;
      let m = materialCache.get(id);
      if (m) return m;
      m = q.material.get(k.id, version);
      if (!m) return undefined;
      if (materialCache.size >= MATERIAL_CACHE_SIZE) materialCache.delete(materialCache.keys().next().value!);
      materialCache.set(id, m);
      return m;
    },
    latestMaterial: (k: KeyRow) => q.latestMaterial.get(k.id)!,
    materials: (k: KeyRow) => q.materials.all(k.id),
    addMaterial(k: KeyRow, created: number, onDemand: boolean) {
      const version = q.latestMaterial.get(k.id)!.version + 1;
      q.insertMaterial.run(k.id, version, generateMaterial(k.spec), created, onDemand ? 1 : 0);
    },

    findAlias: (scope: Scope, name: string) => q.alias.get(scope.account, scope.region, name),
    listAliases: (scope: Scope, after: string, limit: number) => q.aliases.all(scope.account, scope.region, after, limit),
    aliasesOfKey: (scope: Scope, keyId: string) => q.aliasesOfKey.all(scope.account, scope.region, keyId),
    insertAlias: (scope: Scope, name: string, keyId: string, now: number) =>
      q.insertAlias.run(scope.account, scope.region, name, keyId, now, now),
    retargetAlias: (scope: Scope, name: string, keyId: string, now: number) =>
      q.retargetAlias.run(keyId, now, scope.account, scope.region, name),
    deleteAlias: (scope: Scope, name: string) => q.deleteAlias.run(scope.account, scope.region, name),

    findGrant: (scope: Scope, grantId: string) => q.grant.get(scope.account, scope.region, grantId),
    findGrantByToken: (scope: Scope, token: string) => q.grantByToken.get(scope.account, scope.region, token),
    grantsOfKey: (scope: Scope, keyId: string) => q.grantsOfKey.all(scope.account, scope.region, keyId),
    retirableGrants: (account: string, principal: string) => q.retirable.all(account, principal),
    insertGrant: (row: GrantRow) => q.insertGrant.run(row),
    deleteGrant: (scope: Scope, grantId: string) => q.deleteGrant.run(scope.account, scope.region, grantId),
  };
}

export const notFound = (message: string) => new AwsError('NotFoundException', message, 400);
