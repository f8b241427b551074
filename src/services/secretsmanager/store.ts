/**
 * Secrets Manager tables: secrets (one row per secret, scoped by account and region, unique by
 * name while it exists, scheduled deletion included), their versions (the value as KMS envelope
 * ciphertext only: the data key encrypted by KMS and the value sealed with it), and staging labels
 * (one row per label per secret, so a label names at most one version by construction).
 *
 * A version and the labels it takes or gives up change in one transaction. A version left with no
 * label is deprecated: kept, and pruned as AWS does once a secret has more than 100 versions
 * (oldest first, never one created in the last 24 hours). A secret past its deletion date is
 * deleted (with its versions and tags) when it is next read.
 */
import { AwsError } from '../../core/errors.js';
import type { Scope } from '../../core/arn.js';
import type { Store } from '../../core/store.js';
import type { Tags } from '../../core/tags.js';

export interface SecretRow {
  id: number;
  account: string;
  region: string;
  name: string;
  arn: string;
  description: string | null;
  /** The KmsKeyId as the caller gave it; null for the AWS managed key aws/secretsmanager. */
  kms_key_id: string | null;
  type: string | null;
  created: number;
  last_changed: number;
  last_accessed: number | null;
  /** When a scheduled deletion happens (DescribeSecret's DeletedDate); null while the secret is live. */
  deletion_date: number | null;
  rotation_lambda: string | null;
  /** RotationRules as JSON. */
  rotation_rules: string | null;
  /** null until rotation is first configured (DescribeSecret then omits RotationEnabled). */
  rotation_enabled: number | null;
  last_rotated: number | null;
  next_rotation: number | null;
  policy: string | null;
}

export interface VersionRow {
  secret_id: number;
  version_id: string;
  seq: number;
  created: number;
  last_accessed: number | null;
  /** 'string' | 'binary'; null for a version without a value (the AWSPENDING version a rotation starts). */
  kind: 'string' | 'binary' | null;
  /** The data key as KMS encrypted it (GenerateDataKey's CiphertextBlob). */
  data_key: Buffer | null;
  /** iv (12) ‖ tag (16) ‖ AES-256-GCM ciphertext of the value. */
  ciphertext: Buffer | null;
  /** The key the version was encrypted under, as the secret named it (null: aws/secretsmanager). */
  kms_key_id: string | null;
}

const MIGRATIONS = [
  {
    version: 1,
    sql: `
      CREATE TABLE secretsmanager_secrets (
        id INTEGER PRIMARY KEY, account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL, arn TEXT NOT NULL,
        description TEXT, kms_key_id TEXT, type TEXT, created INTEGER NOT NULL, last_changed INTEGER NOT NULL,
        last_accessed INTEGER, deletion_date INTEGER, rotation_lambda TEXT, rotation_rules TEXT, rotation_enabled INTEGER,
        last_rotated INTEGER, next_rotation INTEGER, policy TEXT,
        UNIQUE (account, region, name));
      CREATE UNIQUE INDEX secretsmanager_secrets_by_arn ON secretsmanager_secrets (arn);
      CREATE TABLE secretsmanager_versions (
        secret_id INTEGER NOT NULL REFERENCES secretsmanager_secrets (id) ON DELETE CASCADE,
        version_id TEXT NOT NULL, seq INTEGER NOT NULL, created INTEGER NOT NULL, last_accessed INTEGER,
        kind TEXT, data_key BLOB, ciphertext BLOB, kms_key_id TEXT,
        PRIMARY KEY (secret_id, version_id));
      CREATE INDEX secretsmanager_versions_by_seq ON secretsmanager_versions (secret_id, seq);
      CREATE TABLE secretsmanager_stages (
        id INTEGER PRIMARY KEY, secret_id INTEGER NOT NULL, stage TEXT NOT NULL, version_id TEXT NOT NULL,
        FOREIGN KEY (secret_id, version_id) REFERENCES secretsmanager_versions (secret_id, version_id) ON DELETE CASCADE,
        UNIQUE (secret_id, stage));
      CREATE INDEX secretsmanager_stages_by_version ON secretsmanager_stages (secret_id, version_id);
    `,
  },
];

export const AWSCURRENT = 'AWSCURRENT';
export const AWSPREVIOUS = 'AWSPREVIOUS';
export const AWSPENDING = 'AWSPENDING';

/** AWS keeps the 100 most recent versions of a secret, and every version from the last 24 hours. */
export const MAX_VERSIONS = 100;
const KEEP_RECENT_MS = 24 * 3600_000;

export const secretNotFound = () => new AwsError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.", 400);

/** The columns a handler may change with `update`. */
type Settable = Exclude<keyof SecretRow, 'id' | 'account' | 'region' | 'name' | 'arn' | 'created'>;

export type SecretsStore = ReturnType<typeof createSecretsStore>;

export function createSecretsStore(store: Store, tags: Tags) {
  store.migrate('secretsmanager', MIGRATIONS);
  const db = store.db;
  const q = {
    byName: db.prepare<[string, string, string], SecretRow>(
      'SELECT * FROM secretsmanager_secrets WHERE account = ? AND region = ? AND name = ?',
    ),
    byArn: db.prepare<[string], SecretRow>('SELECT * FROM secretsmanager_secrets WHERE arn = ?'),
    byId: db.prepare<[number], SecretRow>('SELECT * FROM secretsmanager_secrets WHERE id = ?'),
    list: db.prepare<[string, string], SecretRow>('SELECT * FROM secretsmanager_secrets WHERE account = ? AND region = ? ORDER BY id'),
    insert: db.prepare(
      `INSERT INTO secretsmanager_secrets (account, region, name, arn, description, kms_key_id, type, created, last_changed)
       VALUES (@account, @region, @name, @arn, @description, @kms_key_id, @type, @created, @created)`,
    ),
    delete: db.prepare('DELETE FROM secretsmanager_secrets WHERE id = ?'),
    version: db.prepare<[number, string], VersionRow>('SELECT * FROM secretsmanager_versions WHERE secret_id = ? AND version_id = ?'),
    versions: db.prepare<[number], VersionRow>('SELECT * FROM secretsmanager_versions WHERE secret_id = ? ORDER BY seq DESC'),
    versionCount: db.prepare<[number], { n: number }>('SELECT COUNT(*) AS n FROM secretsmanager_versions WHERE secret_id = ?'),
    nextSeq: db.prepare<[number], { seq: number }>(
      'SELECT COALESCE(MAX(seq), 0) + 1 AS seq FROM secretsmanager_versions WHERE secret_id = ?',
    ),
    insertVersion: db.prepare(
      `INSERT INTO secretsmanager_versions (secret_id, version_id, seq, created, kind, data_key, ciphertext, kms_key_id)
       VALUES (@secret_id, @version_id, @seq, @created, @kind, @data_key, @ciphertext, @kms_key_id)`,
    ),
    fillVersion: db.prepare(
      'UPDATE secretsmanager_versions SET kind = ?, data_key = ?, ciphertext = ?, kms_key_id = ? WHERE secret_id = ? AND version_id = ?',
    ),
    touchVersion: db.prepare('UPDATE secretsmanager_versions SET last_accessed = ? WHERE secret_id = ? AND version_id = ?'),
    deleteVersion: db.prepare('DELETE FROM secretsmanager_versions WHERE secret_id = ? AND version_id = ?'),
    // deprecated versions (no label) old enough to prune, oldest first
    prunable: db.prepare<[number, number], { version_id: string }>(
      `SELECT version_id FROM secretsmanager_versions v WHERE secret_id = ? AND created < ?
         AND NOT EXISTS (SELECT 1 FROM secretsmanager_stages s WHERE s.secret_id = v.secret_id AND s.version_id = v.version_id)
       ORDER BY seq`,
    ),
    stages: db.prepare<[number], { stage: string; version_id: string }>(
      'SELECT stage, version_id FROM secretsmanager_stages WHERE secret_id = ? ORDER BY id',
    ),
    holder: db.prepare<[number, string], { version_id: string }>(
      'SELECT version_id FROM secretsmanager_stages WHERE secret_id = ? AND stage = ?',
    ),
    // the version a label is on, with every label of that version in the order they were attached
    labelled: db.prepare<[number, string], VersionRow & { labels: string }>(
      `SELECT v.*, (SELECT group_concat(o.stage, char(31) ORDER BY o.id) FROM secretsmanager_stages o
                     WHERE o.secret_id = v.secret_id AND o.version_id = v.version_id) AS labels
       FROM secretsmanager_stages s JOIN secretsmanager_versions v ON v.secret_id = s.secret_id AND v.version_id = s.version_id
       WHERE s.secret_id = ? AND s.stage = ?`,
    ),
    removeStage: db.prepare('DELETE FROM secretsmanager_stages WHERE secret_id = ? AND stage = ?'),
    addStage: db.prepare('INSERT INTO secretsmanager_stages (secret_id, stage, version_id) VALUES (?, ?, ?)'),
  };
  const setters = new Map<string, ReturnType<typeof db.prepare>>();
  const setter = (column: string) =>
    setters.get(column) ?? setters.set(column, db.prepare(`UPDATE secretsmanager_secrets SET ${column} = ? WHERE id = ?`)).get(column)!;

  const purge = db.transaction((s: SecretRow) => {
    q.delete.run(s.id);
    tags.delete(s.arn);
  });

  /** The secret as it is at `now`: undefined once its scheduled deletion date has passed (it is deleted then). */
  function current(s: SecretRow | undefined, now: number): SecretRow | undefined {
    if (!s) return undefined;
    if (s.deletion_date !== null && s.deletion_date <= now) {
      purge(s);
      return undefined;
    }
    return s;
  }

  /** Moves `stage` to `versionId`; moving AWSCURRENT hands AWSPREVIOUS to the version it left. */
  function attach(secretId: number, versionId: string, stage: string) {
    const holder = q.holder.get(secretId, stage)?.version_id;
    if (holder === versionId) return;
    q.removeStage.run(secretId, stage);
    q.addStage.run(secretId, stage, versionId);
    if (stage === AWSCURRENT && holder !== undefined) {
      q.removeStage.run(secretId, AWSPREVIOUS);
      q.addStage.run(secretId, AWSPREVIOUS, holder);
    }
  }

  function prune(secretId: number, now: number) {
    let excess = q.versionCount.get(secretId)!.n - MAX_VERSIONS;
    if (excess <= 0) return;
    for (const v of q.prunable.all(secretId, now - KEEP_RECENT_MS)) {
      if (excess-- <= 0) break;
      q.deleteVersion.run(secretId, v.version_id);
    }
  }

  return {
    transaction: <T>(fn: () => T): T => db.transaction(fn)(),

    byName: (scope: Scope, name: string, now: number) => current(q.byName.get(scope.account, scope.region, name), now),
    byArn: (arn: string, now: number) => current(q.byArn.get(arn), now),
    byId: (id: number, now: number) => current(q.byId.get(id), now),

    /** Every secret of a scope in creation order; ones past their deletion date are deleted on the way. */
    all(scope: Scope, now: number): SecretRow[] {
      return q.list
        .all(scope.account, scope.region)
        .map((s) => current(s, now))
        .filter((s): s is SecretRow => s !== undefined);
    },

    insertSecret(row: Pick<SecretRow, 'account' | 'region' | 'name' | 'arn' | 'description' | 'kms_key_id' | 'type' | 'created'>): number {
      return Number(q.insert.run(row).lastInsertRowid);
    },

    /** Deletes the secret now, with its versions, labels and tags. */
    purge: (s: SecretRow) => purge(s),

    set(s: SecretRow, column: Settable, value: string | number | null) {
      setter(column).run(value, s.id);
      (s as unknown as Record<string, unknown>)[column] = value;
    },

    version: (s: SecretRow, versionId: string) => q.version.get(s.id, versionId),
    /** Newest first. */
    versions: (s: SecretRow) => q.versions.all(s.id),
    /** Label → version id, in the order labels were attached. */
    stages(s: SecretRow): Map<string, string> {
      return new Map(q.stages.all(s.id).map((r) => [r.stage, r.version_id]));
    },
    holder: (s: SecretRow, stage: string) => q.holder.get(s.id, stage)?.version_id,
    /** The version `stage` is on and all of that version's labels, in one read (GetSecretValue's path). */
    labelled(s: SecretRow, stage: string): { version: VersionRow; stages: string[] } | undefined {
      const row = q.labelled.get(s.id, stage);
      if (!row) return undefined;
      const { labels, ...version } = row;
      return { version, stages: labels.split('\x1f') };
    },

    /**
     * Adds a version (or fills in the value of a valueless one with the same id) and moves `stages`
     * to it, in one transaction; then prunes deprecated versions beyond AWS's limit.
     */
    putVersion(
      s: SecretRow,
      v: Pick<VersionRow, 'version_id' | 'kind' | 'data_key' | 'ciphertext' | 'kms_key_id'>,
      stages: readonly string[],
      now: number,
    ) {
      db.transaction(() => {
        const existing = q.version.get(s.id, v.version_id);
        if (existing) q.fillVersion.run(v.kind, v.data_key, v.ciphertext, v.kms_key_id, s.id, v.version_id);
        else q.insertVersion.run({ ...v, secret_id: s.id, seq: q.nextSeq.get(s.id)!.seq, created: now });
        for (const stage of stages) attach(s.id, v.version_id, stage);
        setter('last_changed').run(now, s.id);
        s.last_changed = now;
        prune(s.id, now);
      })();
    },

    /** Replaces a version's ciphertext (UpdateSecret's new KMS key re-encrypts the labelled versions). */
    reencrypt(s: SecretRow, versionId: string, dataKey: Buffer, ciphertext: Buffer, kmsKeyId: string | null, kind: VersionRow['kind']) {
      q.fillVersion.run(kind, dataKey, ciphertext, kmsKeyId, s.id, versionId);
    },

    /** UpdateSecretVersionStage: takes `stage` off `from` and/or puts it on `to`, in one transaction. */
    moveStage(s: SecretRow, stage: string, from: string | undefined, to: string | undefined, now: number) {
      db.transaction(() => {
        if (to !== undefined) attach(s.id, to, stage);
        else if (from !== undefined) q.removeStage.run(s.id, stage);
        setter('last_changed').run(now, s.id);
        s.last_changed = now;
      })();
    },

    removeStage(s: SecretRow, stage: string) {
      q.removeStage.run(s.id, stage);
    },

    deleteVersion(s: SecretRow, versionId: string) {
      q.deleteVersion.run(s.id, versionId);
    },

    /** LastAccessedDate of the secret and the version read (AWS keeps the day, not the time). */
    touch(s: SecretRow, v: VersionRow, now: number) {
      const day = now - (now % 86_400_000);
      if (s.last_accessed === day && v.last_accessed === day) return;
      db.transaction(() => {
        if (s.last_accessed !== day) setter('last_accessed').run(day, s.id);
        if (v.last_accessed !== day) q.touchVersion.run(day, s.id, v.version_id);
      })();
      s.last_accessed = day;
      v.last_accessed = day;
    },
  };
}
