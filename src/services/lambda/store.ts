/**
 * Lambda tables: functions (scoped by account and region) and their versions. `$LATEST` is a
 * version row like the published ones; each row holds the configuration as AWS returns it (a JSON
 * document) and the deployment package, a zip kept in core/blobs by id. Publishing copies the
 * $LATEST row to the next number. A function's code is unpacked for running on first use, under
 * the data dir, keyed by the package's SHA-256 (lambda/code/<sha>/).
 */
import { arn, type Scope } from '../../core/arn.js';
import type { BlobStore } from '../../core/blobs.js';
import { AwsError } from '../../core/errors.js';
import type { Db, Store } from '../../core/store.js';
import type { Tags } from '../../core/tags.js';

/** The configuration opsbox keeps per version: what GetFunctionConfiguration answers, minus derived fields. */
export interface FunctionDoc {
  Runtime?: string;
  Role: string;
  Handler?: string;
  Description: string;
  Timeout: number;
  MemorySize: number;
  Environment: Record<string, string>;
  Architectures: string[];
  PackageType: 'Zip';
  EphemeralStorage: number;
  TracingMode: string;
  LastModified: string;
  RevisionId: string;
  CodeSha256: string;
  CodeSize: number;
  /** The layers, in order (layers.ts); absent or empty without. */
  Layers?: LayerRef[];
}

/** A layer version a function uses: what its configuration shows (Arn, CodeSize) and the package it runs with. */
export interface LayerRef {
  Arn: string;
  CodeSize: number;
  CodeSha256: string;
  Blob: string;
}

export interface FunctionRow {
  id: number;
  account: string;
  region: string;
  name: string;
  created: number;
  next_version: number;
}

export interface VersionRow {
  function_id: number;
  version: string;
  doc: string;
  code_blob: string;
  created: number;
}

const MIGRATIONS = [
  {
    version: 1,
    sql: `
      CREATE TABLE lambda_functions (
        id INTEGER PRIMARY KEY, account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL, created INTEGER NOT NULL,
        next_version INTEGER NOT NULL DEFAULT 1, UNIQUE (account, region, name));
      CREATE TABLE lambda_versions (
        function_id INTEGER NOT NULL REFERENCES lambda_functions (id) ON DELETE CASCADE, version TEXT NOT NULL,
        doc TEXT NOT NULL, code_blob TEXT NOT NULL, created INTEGER NOT NULL, PRIMARY KEY (function_id, version));
    `,
  },
  {
    // layers (layers.ts): a layer row outlives its versions so version numbers are never reused;
    // lambda_layer_retired holds the packages of deleted versions that functions still run with
    version: 2,
    sql: `
      CREATE TABLE lambda_layers (
        id INTEGER PRIMARY KEY, account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL,
        next_version INTEGER NOT NULL DEFAULT 1, UNIQUE (account, region, name));
      CREATE TABLE lambda_layer_versions (
        layer_id INTEGER NOT NULL REFERENCES lambda_layers (id) ON DELETE CASCADE, version INTEGER NOT NULL,
        doc TEXT NOT NULL, blob TEXT NOT NULL, created INTEGER NOT NULL, policy TEXT, policy_revision TEXT,
        PRIMARY KEY (layer_id, version));
      CREATE TABLE lambda_layer_retired (blob TEXT PRIMARY KEY);
    `,
  },
  {
    // aliases, resource policies and function URLs (aliases.ts, permissions.ts, urls.ts); qualifier '' is the unqualified function
    version: 3,
    sql: `
      CREATE TABLE lambda_aliases (
        function_id INTEGER NOT NULL REFERENCES lambda_functions (id) ON DELETE CASCADE, name TEXT NOT NULL,
        function_version TEXT NOT NULL, description TEXT NOT NULL, routing TEXT, revision_id TEXT NOT NULL,
        PRIMARY KEY (function_id, name));
      CREATE TABLE lambda_policy_statements (
        function_id INTEGER NOT NULL REFERENCES lambda_functions (id) ON DELETE CASCADE, qualifier TEXT NOT NULL, sid TEXT NOT NULL,
        statement TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (function_id, qualifier, sid));
      CREATE TABLE lambda_urls (
        function_id INTEGER NOT NULL REFERENCES lambda_functions (id) ON DELETE CASCADE, qualifier TEXT NOT NULL,
        url_id TEXT NOT NULL UNIQUE, auth_type TEXT NOT NULL, cors TEXT, invoke_mode TEXT NOT NULL,
        created TEXT NOT NULL, modified TEXT NOT NULL, PRIMARY KEY (function_id, qualifier));
    `,
  },
];

export const functionArn = (scope: Scope, name: string, qualifier?: string) =>
  arn('lambda', scope, `function:${name}${qualifier ? `:${qualifier}` : ''}`);

export const notFound = (scope: Scope, name: string, qualifier?: string) =>
  new AwsError('ResourceNotFoundException', `Function not found: ${functionArn(scope, name, qualifier)}`, 404, { Type: 'User' });

export type LambdaStore = ReturnType<typeof createLambdaStore>;

export function createLambdaStore(store: Store, blobs: BlobStore, tags: Tags) {
  store.migrate('lambda', MIGRATIONS);
  const db = store.db;
  const q = {
    fn: db.prepare<[string, string, string], FunctionRow>('SELECT * FROM lambda_functions WHERE account = ? AND region = ? AND name = ?'),
    fns: db.prepare<[string, string, string, number], FunctionRow>(
      'SELECT * FROM lambda_functions WHERE account = ? AND region = ? AND name > ? ORDER BY name LIMIT ?',
    ),
    insertFn: db.prepare('INSERT INTO lambda_functions (account, region, name, created) VALUES (?, ?, ?, ?)'),
    deleteFn: db.prepare('DELETE FROM lambda_functions WHERE id = ?'),
    bumpVersion: db.prepare('UPDATE lambda_functions SET next_version = next_version + 1 WHERE id = ?'),
    version: db.prepare<[number, string], VersionRow>('SELECT * FROM lambda_versions WHERE function_id = ? AND version = ?'),
    versions: db.prepare<[number], VersionRow>(
      "SELECT * FROM lambda_versions WHERE function_id = ? ORDER BY CASE version WHEN '$LATEST' THEN 0 ELSE CAST(version AS INTEGER) END",
    ),
    putVersion: db.prepare(
      `INSERT INTO lambda_versions (function_id, version, doc, code_blob, created) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (function_id, version) DO UPDATE SET doc = excluded.doc, code_blob = excluded.code_blob`,
    ),
    blobUsers: db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM lambda_versions WHERE code_blob = ?'),
  };

  return {
    transaction: <T>(fn: () => T): T => db.transaction(fn)(),
    findFunction: (scope: Scope, name: string) => q.fn.get(scope.account, scope.region, name),
    listFunctions: (scope: Scope, after: string, limit: number) => q.fns.all(scope.account, scope.region, after, limit),
    /** Creates the function with its $LATEST version. */
    insertFunction(scope: Scope, name: string, doc: FunctionDoc, codeBlob: string, now: number): FunctionRow {
      q.insertFn.run(scope.account, scope.region, name, now);
      const fn = q.fn.get(scope.account, scope.region, name)!;
      q.putVersion.run(fn.id, '$LATEST', JSON.stringify(doc), codeBlob, now);
      return fn;
    },
    /** Deletes the function, its versions, tags and the packages nothing else uses. */
    deleteFunction(fn: FunctionRow) {
      const packages = q.versions.all(fn.id).map((v) => v.code_blob);
      db.transaction(() => {
        q.deleteFn.run(fn.id);
        tags.delete(functionArn(fn, fn.name));
      })();
      for (const id of new Set(packages)) if (q.blobUsers.get(id)!.n === 0) blobs.delete(id);
    },
    version: (fn: FunctionRow, version: string) => q.version.get(fn.id, version),
    versions: (fn: FunctionRow) => q.versions.all(fn.id),
    /** Replaces $LATEST's configuration (and package); the old package is deleted if no version uses it. */
    updateLatest(fn: FunctionRow, doc: FunctionDoc, codeBlob: string) {
      const old = q.version.get(fn.id, '$LATEST')!.code_blob;
      q.putVersion.run(fn.id, '$LATEST', JSON.stringify(doc), codeBlob, Date.now());
      if (old !== codeBlob && q.blobUsers.get(old)!.n === 0) blobs.delete(old);
    },
    /** Copies $LATEST to the next version number and returns that number. */
    publish(fn: FunctionRow, now: number): string {
      return db.transaction(() => {
        const current = q.fn.get(fn.account, fn.region, fn.name)!;
        const latest = q.version.get(fn.id, '$LATEST')!;
        const version = String(current.next_version);
        q.putVersion.run(fn.id, version, latest.doc, latest.code_blob, now);
        q.bumpVersion.run(fn.id);
        return version;
      })();
    },
    ...qualifiedTables(db),
  };
}

export const docOf = (v: VersionRow) => JSON.parse(v.doc) as FunctionDoc;

// Aliases, resource policies and function URLs (migration 2). A policy or URL belongs to the
// unqualified function (qualifier '') or to one alias (or, for policies, one version).

export interface AliasRow {
  function_id: number;
  name: string;
  function_version: string;
  description: string;
  /** AdditionalVersionWeights as JSON, or null. */
  routing: string | null;
  revision_id: string;
}

export interface StatementRow {
  function_id: number;
  qualifier: string;
  sid: string;
  statement: string;
  seq: number;
}

export interface UrlRow {
  function_id: number;
  qualifier: string;
  url_id: string;
  auth_type: string;
  cors: string | null;
  invoke_mode: string;
  created: string;
  modified: string;
}

function qualifiedTables(db: Db) {
  const q = {
    alias: db.prepare<[number, string], AliasRow>('SELECT * FROM lambda_aliases WHERE function_id = ? AND name = ?'),
    aliases: db.prepare<[number, string, number], AliasRow>(
      'SELECT * FROM lambda_aliases WHERE function_id = ? AND name > ? ORDER BY name LIMIT ?',
    ),
    aliasesOf: db.prepare<[number, string, string, number], AliasRow>(
      'SELECT * FROM lambda_aliases WHERE function_id = ? AND function_version = ? AND name > ? ORDER BY name LIMIT ?',
    ),
    putAlias: db.prepare(
      `INSERT INTO lambda_aliases (function_id, name, function_version, description, routing, revision_id) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (function_id, name) DO UPDATE SET function_version = excluded.function_version, description = excluded.description,
       routing = excluded.routing, revision_id = excluded.revision_id`,
    ),
    deleteAlias: db.prepare('DELETE FROM lambda_aliases WHERE function_id = ? AND name = ?'),
    statements: db.prepare<[number, string], StatementRow>(
      'SELECT * FROM lambda_policy_statements WHERE function_id = ? AND qualifier = ? ORDER BY seq',
    ),
    addStatement: db.prepare(
      `INSERT INTO lambda_policy_statements (function_id, qualifier, sid, statement, seq)
       VALUES (?, ?, ?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM lambda_policy_statements WHERE function_id = ? AND qualifier = ?))`,
    ),
    removeStatement: db.prepare('DELETE FROM lambda_policy_statements WHERE function_id = ? AND qualifier = ? AND sid = ?'),
    removeStatements: db.prepare('DELETE FROM lambda_policy_statements WHERE function_id = ? AND qualifier = ?'),
    url: db.prepare<[number, string], UrlRow>('SELECT * FROM lambda_urls WHERE function_id = ? AND qualifier = ?'),
    urlById: db.prepare<[string], UrlRow & { account: string; region: string; name: string }>(
      `SELECT u.*, f.account, f.region, f.name FROM lambda_urls u JOIN lambda_functions f ON f.id = u.function_id WHERE u.url_id = ?`,
    ),
    urls: db.prepare<[number], UrlRow>('SELECT * FROM lambda_urls WHERE function_id = ? ORDER BY qualifier'),
    putUrl: db.prepare(
      `INSERT INTO lambda_urls (function_id, qualifier, url_id, auth_type, cors, invoke_mode, created, modified) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (function_id, qualifier) DO UPDATE SET auth_type = excluded.auth_type, cors = excluded.cors,
       invoke_mode = excluded.invoke_mode, modified = excluded.modified`,
    ),
    deleteUrl: db.prepare('DELETE FROM lambda_urls WHERE function_id = ? AND qualifier = ?'),
  };
  return {
    alias: (fn: FunctionRow, name: string) => q.alias.get(fn.id, name),
    /** A function's aliases by name after `after`, all or those pointing to `version`. */
    aliases: (fn: FunctionRow, after: string, limit: number, version?: string) =>
      version === undefined ? q.aliases.all(fn.id, after, limit) : q.aliasesOf.all(fn.id, version, after, limit),
    putAlias: (a: AliasRow) => q.putAlias.run(a.function_id, a.name, a.function_version, a.description, a.routing, a.revision_id),
    /** Deletes the alias with its resource policy and function URL. */
    deleteAlias(fn: FunctionRow, name: string) {
      db.transaction(() => {
        q.deleteAlias.run(fn.id, name);
        q.removeStatements.run(fn.id, name);
        q.deleteUrl.run(fn.id, name);
      })();
    },
    statements: (fn: FunctionRow, qualifier: string) => q.statements.all(fn.id, qualifier),
    addStatement: (fn: FunctionRow, qualifier: string, sid: string, statement: object) =>
      q.addStatement.run(fn.id, qualifier, sid, JSON.stringify(statement), fn.id, qualifier),
    /** Whether a statement was there to remove. */
    removeStatement: (fn: FunctionRow, qualifier: string, sid: string) => q.removeStatement.run(fn.id, qualifier, sid).changes > 0,
    url: (fn: FunctionRow, qualifier: string) => q.url.get(fn.id, qualifier),
    urlById: (urlId: string) => q.urlById.get(urlId),
    urls: (fn: FunctionRow) => q.urls.all(fn.id),
    putUrl: (u: UrlRow) => q.putUrl.run(u.function_id, u.qualifier, u.url_id, u.auth_type, u.cors, u.invoke_mode, u.created, u.modified),
    deleteUrl: (fn: FunctionRow, qualifier: string) => q.deleteUrl.run(fn.id, qualifier).changes > 0,
  };
}
