/**
 * Resource tags, for every service: one table (core_tags) keyed by the resource's ARN, AWS's
 * common tag rules (keys 1–128 characters, values 0–256, at most 50 per resource, the `aws:` key
 * prefix reserved for AWS), and each service's own error wording for breaking them, since the codes
 * differ (CodeCommit's TooManyTagsException, SNS's TagLimitExceeded, IAM's LimitExceeded…).
 *
 * Tags come back in the order their keys were first set. A service deletes a resource's tags when
 * it deletes the resource (so a new resource of the same name starts bare) and moves them when a
 * rename changes the ARN. Pattern checks on keys and values are the models' (gateway/validate.ts).
 */
import type { AwsError } from './errors.js';
import type { Db, Store } from './store.js';

export type TagMap = Record<string, string>;
export interface Tag {
  Key: string;
  Value: string;
}

export const MAX_TAGS = 50;
export const MAX_KEY_LENGTH = 128;
export const MAX_VALUE_LENGTH = 256;

/** What is wrong with a set of tags; the service turns it into its own error. */
export type TagProblem =
  | { kind: 'tooMany'; count: number; limit: number }
  | { kind: 'keyLength'; key: string }
  | { kind: 'valueLength'; key: string; value: string }
  | { kind: 'reservedKey'; key: string }
  | { kind: 'duplicateKey'; key: string };

export type TagErrors = (problem: TagProblem) => AwsError;

export interface TagRules {
  errors: TagErrors;
  /** At most this many tags on one resource (50 unless the service says otherwise). */
  limit?: number;
}

/** Tags as a list of {Key, Value} in a map, failing on a key given twice. */
export function tagMapOf(list: readonly Tag[], errors: TagErrors): TagMap {
  const map: TagMap = {};
  for (const t of list) {
    if (Object.hasOwn(map, t.Key)) throw errors({ kind: 'duplicateKey', key: t.Key });
    // defineProperty: a key of "__proto__" is a tag like any other, not the map's prototype
    Object.defineProperty(map, t.Key, { value: t.Value, enumerable: true, writable: true, configurable: true });
  }
  return map;
}

/** A tag in the lowercase spelling CodePipeline and CodeBuild use (CodeBuild's model leaves both members optional). */
export interface KeyValueTag {
  key?: string;
  value?: string;
}

/** A {key, value} tag list as a map: a key given twice keeps its last value, a missing key or value reads as "". */
export const tagMapOfKeyValues = (list: readonly KeyValueTag[]): TagMap =>
  Object.fromEntries(list.map((t) => [t.key ?? '', t.value ?? '']));

/** Stored tags in the {key, value} spelling. */
export const keyValuesOf = (tags: readonly Tag[]) => tags.map((t) => ({ key: t.Key, value: t.Value }));

/** Checks keys and values on their own (not the count on a resource): the part of the rules a create checks first. */
export function checkTags(tags: TagMap, rules: TagRules) {
  for (const [key, value] of Object.entries(tags)) {
    if (key.length < 1 || key.length > MAX_KEY_LENGTH) throw rules.errors({ kind: 'keyLength', key });
    if (value.length > MAX_VALUE_LENGTH) throw rules.errors({ kind: 'valueLength', key, value });
    if (key.toLowerCase().startsWith('aws:')) throw rules.errors({ kind: 'reservedKey', key });
  }
  const limit = rules.limit ?? MAX_TAGS;
  const count = Object.keys(tags).length;
  if (count > limit) throw rules.errors({ kind: 'tooMany', count, limit });
}

/**
 * Creates core_tags if it is not there yet. Tags does it; a service store whose migrations move
 * tags into core_tags calls it first, so it also opens on a Store no Tags was made for.
 */
export function migrateTagTable(store: Store) {
  store.migrate('core.tags', [
    {
      version: 1,
      sql: `CREATE TABLE core_tags (id INTEGER PRIMARY KEY, arn TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, UNIQUE (arn, key));`,
    },
  ]);
}

export class Tags {
  private readonly db: Db;
  private readonly q;

  constructor(store: Store) {
    migrateTagTable(store);
    this.db = store.db;
    this.q = {
      list: this.db.prepare<[string], { key: string; value: string }>('SELECT key, value FROM core_tags WHERE arn = ? ORDER BY id'),
      count: this.db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM core_tags WHERE arn = ?'),
      upsert: this.db.prepare(
        'INSERT INTO core_tags (arn, key, value) VALUES (?, ?, ?) ON CONFLICT (arn, key) DO UPDATE SET value = excluded.value',
      ),
      remove: this.db.prepare('DELETE FROM core_tags WHERE arn = ? AND key = ?'),
      clear: this.db.prepare('DELETE FROM core_tags WHERE arn = ?'),
      move: this.db.prepare('UPDATE core_tags SET arn = ? WHERE arn = ?'),
    };
  }

  /** The resource's tags as a map, in the order their keys were first set. */
  get(arn: string): TagMap {
    return Object.fromEntries(this.q.list.all(arn).map((r) => [r.key, r.value]));
  }

  list(arn: string): Tag[] {
    return this.q.list.all(arn).map((r) => ({ Key: r.key, Value: r.value }));
  }

  /** Adds or overwrites `tags` on the resource, refusing the change whole if a tag or the resulting count breaks the rules. */
  add(arn: string, tags: TagMap, rules: TagRules) {
    checkTags(tags, { ...rules, limit: Infinity });
    this.db.transaction(() => {
      for (const [key, value] of Object.entries(tags)) this.q.upsert.run(arn, key, value);
      const limit = rules.limit ?? MAX_TAGS;
      const count = this.q.count.get(arn)!.n;
      if (count > limit) throw rules.errors({ kind: 'tooMany', count, limit });
    })();
  }

  /** Removes the keys (absent ones are ignored, as AWS does); `rules` refuses reserved keys where the service does. */
  remove(arn: string, keys: readonly string[], rules?: TagRules) {
    if (rules) for (const key of keys) if (key.toLowerCase().startsWith('aws:')) throw rules.errors({ kind: 'reservedKey', key });
    this.db.transaction(() => {
      for (const key of keys) this.q.remove.run(arn, key);
    })();
  }

  /** Replaces the resource's whole tag set (S3's PutBucketTagging). */
  replace(arn: string, tags: TagMap, rules: TagRules) {
    checkTags(tags, rules);
    this.db.transaction(() => {
      this.q.clear.run(arn);
      for (const [key, value] of Object.entries(tags)) this.q.upsert.run(arn, key, value);
    })();
  }

  /** Forgets the resource's tags: call it when the resource itself is deleted. */
  delete(arn: string) {
    this.q.clear.run(arn);
  }

  /** Carries the tags over to the resource's new ARN after a rename. */
  move(from: string, to: string) {
    this.q.move.run(to, from);
  }
}

/**
 * The migration SQL that moves a service's old per-row JSON tag column into core_tags and drops it:
 * `arn` is an SQL expression over the table's columns naming each row's resource ARN, `format` the
 * column's JSON (a {key: value} map, or a [{Key, Value}] list). Run migrateTagTable first.
 */
export function moveTagColumnSql(table: string, arn: string, format: 'map' | 'list', column = 'tags'): string {
  const [key, value] = format === 'map' ? ['j.key', 'j.value'] : ["json_extract(j.value, '$.Key')", "json_extract(j.value, '$.Value')"];
  return `
    INSERT OR REPLACE INTO core_tags (arn, key, value)
      SELECT ${arn}, ${key}, ${value} FROM ${table}, json_each(${table}.${column}) AS j ORDER BY ${table}.rowid, j.id;
    ALTER TABLE ${table} DROP COLUMN ${column};`;
}
