/**
 * Parameter Store tables. ssm_parameters holds one row per parameter (scoped by account and
 * region, found by its canonical name) with its latest version's metadata, for listings and
 * filters; ssm_versions holds every version kept (at most 100) with its value, and ssm_labels the
 * labels, each on exactly one version of its parameter. Versions and labels hang off the
 * parameter's row id, so they are as scoped as it is, and go with it (ON DELETE CASCADE).
 * A SecureString's value is stored as the ciphertext only.
 */
import type { Scope } from '../../core/arn.js';
import { AwsError } from '../../core/errors.js';
import type { Store } from '../../core/store.js';

/** How a version's value is kept: as is, a KMS ciphertext (standard tier), or a KMS-wrapped data key with AES-GCM (advanced). */
export type Encryption = 'none' | 'kms' | 'envelope';

/** What every version records (and the parameter row repeats for its latest version). */
export interface VersionFields {
  type: string;
  key_id: string | null;
  description: string | null;
  allowed_pattern: string | null;
  tier: string;
  /** JSON of StoredPolicy[], or null for none. */
  policies: string | null;
  data_type: string;
  modified: number;
  modified_user: string;
}

export interface ParamRow extends VersionFields {
  id: number;
  account: string;
  region: string;
  /** Canonical name: "/" + the name without its leading slash. */
  key: string;
  /** The name as first written ("config" or "/app/config"). */
  name: string;
  version: number;
}

export interface VersionRow extends VersionFields {
  param_id: number;
  version: number;
  /** The value, or for a SecureString the ciphertext in base64. */
  value: string;
  encryption: Encryption;
}

export interface LabelRow {
  label: string;
  version: number;
}

const FIELDS = 'type, key_id, description, allowed_pattern, tier, policies, data_type, modified, modified_user';
const FIELD_COLUMNS = `
  type TEXT NOT NULL, key_id TEXT, description TEXT, allowed_pattern TEXT, tier TEXT NOT NULL, policies TEXT,
  data_type TEXT NOT NULL, modified INTEGER NOT NULL, modified_user TEXT NOT NULL`;

const MIGRATIONS = [
  {
    version: 1,
    sql: `
      CREATE TABLE ssm_parameters (
        id INTEGER PRIMARY KEY, account TEXT NOT NULL, region TEXT NOT NULL, key TEXT NOT NULL, name TEXT NOT NULL,
        version INTEGER NOT NULL, ${FIELD_COLUMNS},
        UNIQUE (account, region, key));
      CREATE TABLE ssm_versions (
        param_id INTEGER NOT NULL REFERENCES ssm_parameters (id) ON DELETE CASCADE, version INTEGER NOT NULL,
        value TEXT NOT NULL, encryption TEXT NOT NULL, ${FIELD_COLUMNS},
        PRIMARY KEY (param_id, version));
      CREATE TABLE ssm_labels (
        id INTEGER PRIMARY KEY, param_id INTEGER NOT NULL REFERENCES ssm_parameters (id) ON DELETE CASCADE,
        label TEXT NOT NULL, version INTEGER NOT NULL, UNIQUE (param_id, label));
      CREATE INDEX ssm_labels_by_version ON ssm_labels (param_id, version);
    `,
  },
];

/** Parameter Store keeps this many versions of a parameter. */
export const MAX_VERSIONS = 100;

export type SsmStore = ReturnType<typeof createSsmStore>;

export function createSsmStore(store: Store) {
  store.migrate('ssm', MIGRATIONS);
  const db = store.db;
  const q = {
    param: db.prepare<[string, string, string], ParamRow>('SELECT * FROM ssm_parameters WHERE account = ? AND region = ? AND key = ?'),
    paramById: db.prepare<[number], ParamRow>('SELECT * FROM ssm_parameters WHERE id = ?'),
    params: db.prepare<[string, string, string, number, string, number], ParamRow>(
      'SELECT * FROM ssm_parameters WHERE account = ? AND region = ? AND key > ? AND substr(key, 1, ?) = ? ORDER BY key LIMIT ?',
    ),
    insertParam: db.prepare(
      `INSERT INTO ssm_parameters (account, region, key, name, version, ${FIELDS})
       VALUES (@account, @region, @key, @name, @version, @type, @key_id, @description, @allowed_pattern, @tier, @policies, @data_type, @modified, @modified_user)`,
    ),
    updateParam: db.prepare(
      `UPDATE ssm_parameters SET version = @version, type = @type, key_id = @key_id, description = @description,
         allowed_pattern = @allowed_pattern, tier = @tier, policies = @policies, data_type = @data_type, modified = @modified,
         modified_user = @modified_user WHERE id = @id`,
    ),
    deleteParam: db.prepare('DELETE FROM ssm_parameters WHERE id = ?'),
    version: db.prepare<[number, number], VersionRow>('SELECT * FROM ssm_versions WHERE param_id = ? AND version = ?'),
    versions: db.prepare<[number, number, number], VersionRow>(
      'SELECT * FROM ssm_versions WHERE param_id = ? AND version > ? ORDER BY version LIMIT ?',
    ),
    oldest: db.prepare<[number], { version: number; n: number }>(
      'SELECT MIN(version) AS version, COUNT(*) AS n FROM ssm_versions WHERE param_id = ?',
    ),
    insertVersion: db.prepare(
      `INSERT INTO ssm_versions (param_id, version, value, encryption, ${FIELDS})
       VALUES (@param_id, @version, @value, @encryption, @type, @key_id, @description, @allowed_pattern, @tier, @policies, @data_type, @modified, @modified_user)`,
    ),
    deleteVersion: db.prepare('DELETE FROM ssm_versions WHERE param_id = ? AND version = ?'),
    labels: db.prepare<[number], LabelRow>('SELECT label, version FROM ssm_labels WHERE param_id = ? ORDER BY id'),
    labelsOfVersion: db.prepare<[number, number], { label: string }>(
      'SELECT label FROM ssm_labels WHERE param_id = ? AND version = ? ORDER BY id',
    ),
    labelVersion: db.prepare<[number, string], { version: number }>('SELECT version FROM ssm_labels WHERE param_id = ? AND label = ?'),
    putLabel: db.prepare('INSERT INTO ssm_labels (param_id, label, version) VALUES (?, ?, ?)'),
    removeLabel: db.prepare('DELETE FROM ssm_labels WHERE param_id = ? AND label = ?'),
  };

  return {
    transaction: <T>(fn: () => T): T => db.transaction(fn)(),

    find: (scope: Scope, key: string) => q.param.get(scope.account, scope.region, key),
    byId: (id: number) => q.paramById.get(id),

    /** Parameters of a scope in key order after `after` whose key starts with `prefix`, read a batch at a time. */
    *scan(scope: Scope, after: string, prefix: string, batch = 100): Generator<ParamRow> {
      for (;;) {
        const rows = q.params.all(scope.account, scope.region, after, prefix.length, prefix, batch);
        yield* rows;
        if (rows.length < batch) return;
        after = rows[rows.length - 1].key;
      }
    },

    version: (p: ParamRow, version: number) => q.version.get(p.id, version),
    latest: (p: ParamRow) => q.version.get(p.id, p.version)!,
    versions: (p: ParamRow, after: number, limit: number) => q.versions.all(p.id, after, limit),
    oldest: (p: ParamRow) => q.oldest.get(p.id)!,

    labels: (p: ParamRow) => q.labels.all(p.id),
    labelsOf: (p: ParamRow, version: number) => q.labelsOfVersion.all(p.id, version).map((r) => r.label),
    labelVersion: (p: ParamRow, label: string) => q.labelVersion.get(p.id, label)?.version,
    /** Puts `label` on `version`, moving it off whichever version had it. */
    putLabel(p: ParamRow, label: string, version: number) {
      q.removeLabel.run(p.id, label);
      q.putLabel.run(p.id, label, version);
    },
    removeLabel: (p: ParamRow, label: string) => q.removeLabel.run(p.id, label).changes > 0,

    /**
     * Writes a new version and the parameter's row in one transaction (call inside one): creates the
     * row for a new parameter, and drops the oldest version past MAX_VERSIONS, refusing (as AWS does)
     * when that version carries a label.
     */
    writeVersion(
      scope: Scope,
      existing: ParamRow | undefined,
      key: string,
      name: string,
      fields: VersionFields,
      value: string,
      encryption: Encryption,
    ): ParamRow {
      const version = (existing?.version ?? 0) + 1;
      let id: number;
      if (existing) {
        const { version: oldestVersion, n } = q.oldest.get(existing.id)!;
        if (n >= MAX_VERSIONS) {
          if (q.labelsOfVersion.all(existing.id, oldestVersion).length > 0)
            throw new AwsError(
              'ParameterMaxVersionLimitExceeded',
              `You attempted to create a new version of ${existing.name} by calling the PutParameter API with the overwrite flag. ` +
                `Version ${oldestVersion}, the oldest version, can't be deleted because it has a label associated with it. ` +
                'Move the label to another version of the parameter, and try again.',
              400,
            );
          q.deleteVersion.run(existing.id, oldestVersion);
        }
        id = existing.id;
        q.updateParam.run({ ...fields, version, id });
      } else {
        id = Number(q.insertParam.run({ ...fields, account: scope.account, region: scope.region, key, name, version }).lastInsertRowid);
      }
      q.insertVersion.run({ ...fields, param_id: id, version, value, encryption });
      return q.paramById.get(id)!;
    },

    deleteParam: (p: ParamRow) => q.deleteParam.run(p.id),
  };
}
