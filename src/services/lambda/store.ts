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
  /** DeadLetterConfig.TargetArn: where a failed Event invocation's event goes (async.ts). */
  DeadLetterTarget?: string;
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
  {
    // asynchronous invocation (async.ts) and concurrency (concurrency.ts, asyncConfig.ts)
    version: 4,
    sql: `
      CREATE TABLE lambda_event_invoke_configs (
        function_id INTEGER NOT NULL REFERENCES lambda_functions (id) ON DELETE CASCADE, qualifier TEXT NOT NULL,
        doc TEXT NOT NULL, last_modified INTEGER NOT NULL, PRIMARY KEY (function_id, qualifier));
      CREATE TABLE lambda_concurrency (
        function_id INTEGER PRIMARY KEY REFERENCES lambda_functions (id) ON DELETE CASCADE, reserved INTEGER NOT NULL);
      CREATE TABLE lambda_provisioned_concurrency (
        function_id INTEGER NOT NULL REFERENCES lambda_functions (id) ON DELETE CASCADE, qualifier TEXT NOT NULL,
        requested INTEGER NOT NULL, last_modified INTEGER NOT NULL, PRIMARY KEY (function_id, qualifier));
      CREATE TABLE lambda_async_events (
        id INTEGER PRIMARY KEY, function_id INTEGER NOT NULL REFERENCES lambda_functions (id) ON DELETE CASCADE,
        qualifier TEXT NOT NULL, request_id TEXT NOT NULL, payload BLOB NOT NULL, received INTEGER NOT NULL,
        due INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, throttles INTEGER NOT NULL DEFAULT 0,
        running INTEGER NOT NULL DEFAULT 0, last_response TEXT);
      CREATE INDEX lambda_async_events_due ON lambda_async_events (running, due);
      CREATE INDEX lambda_async_events_function ON lambda_async_events (function_id);
    `,
  },
];

export const functionArn = (scope: Scope, name: string, qualifier?: string) =>
  arn('lambda', scope, `function:${name}${qualifier ? `:${qualifier}` : ''}`);

export const invalidParameter = (message: string) => new AwsError('InvalidParameterValueException', message, 400, { Type: 'User' });

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

// Aliases, resource policies and function URLs (migration 3). A policy or URL belongs to the
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

// ---------------------------------------------------------------------------------------------
// Asynchronous invocation and concurrency (migration 4): event invoke configs, reserved and
// provisioned concurrency, and the durable queue of Event invocations.

/** One queued Event invocation with its function's scope and name. */
export interface AsyncEventRow {
  id: number;
  function_id: number;
  account: string;
  region: string;
  name: string;
  qualifier: string;
  request_id: string;
  payload: Buffer;
  received: number;
  due: number;
  attempts: number;
  throttles: number;
  running: number;
  last_response: string | null;
}

export interface EventInvokeConfigRow {
  function_id: number;
  qualifier: string;
  doc: string;
  last_modified: number;
}

export interface ProvisionedRow {
  function_id: number;
  qualifier: string;
  requested: number;
  last_modified: number;
}

export type AsyncTables = ReturnType<typeof createAsyncTables>;

/** The statements of migration 2's tables (createLambdaStore has applied it). */
export function createAsyncTables(store: Store) {
  const db = store.db;
  const SELECT_EVENT = `SELECT e.*, f.account, f.region, f.name FROM lambda_async_events e JOIN lambda_functions f ON f.id = e.function_id`;
  const q = {
    config: db.prepare<[number, string], EventInvokeConfigRow>(
      'SELECT * FROM lambda_event_invoke_configs WHERE function_id = ? AND qualifier = ?',
    ),
    configs: db.prepare<[number], EventInvokeConfigRow>(
      'SELECT * FROM lambda_event_invoke_configs WHERE function_id = ? ORDER BY qualifier',
    ),
    putConfig: db.prepare(
      `INSERT INTO lambda_event_invoke_configs (function_id, qualifier, doc, last_modified) VALUES (?, ?, ?, ?)
       ON CONFLICT (function_id, qualifier) DO UPDATE SET doc = excluded.doc, last_modified = excluded.last_modified`,
    ),
    deleteConfig: db.prepare('DELETE FROM lambda_event_invoke_configs WHERE function_id = ? AND qualifier = ?'),
    reserved: db.prepare<[number], { reserved: number }>('SELECT reserved FROM lambda_concurrency WHERE function_id = ?'),
    reservedSum: db.prepare<[string, string, number], { n: number | null }>(
      `SELECT SUM(c.reserved) AS n FROM lambda_concurrency c JOIN lambda_functions f ON f.id = c.function_id
       WHERE f.account = ? AND f.region = ? AND f.id != ?`,
    ),
    putReserved: db.prepare(
      'INSERT INTO lambda_concurrency (function_id, reserved) VALUES (?, ?) ON CONFLICT (function_id) DO UPDATE SET reserved = excluded.reserved',
    ),
    deleteReserved: db.prepare('DELETE FROM lambda_concurrency WHERE function_id = ?'),
    provisioned: db.prepare<[number, string], ProvisionedRow>(
      'SELECT * FROM lambda_provisioned_concurrency WHERE function_id = ? AND qualifier = ?',
    ),
    provisionedAll: db.prepare<[number], ProvisionedRow>(
      'SELECT * FROM lambda_provisioned_concurrency WHERE function_id = ? ORDER BY qualifier',
    ),
    putProvisioned: db.prepare(
      `INSERT INTO lambda_provisioned_concurrency (function_id, qualifier, requested, last_modified) VALUES (?, ?, ?, ?)
       ON CONFLICT (function_id, qualifier) DO UPDATE SET requested = excluded.requested, last_modified = excluded.last_modified`,
    ),
    deleteProvisioned: db.prepare('DELETE FROM lambda_provisioned_concurrency WHERE function_id = ? AND qualifier = ?'),
    insertEvent: db.prepare(
      'INSERT INTO lambda_async_events (function_id, qualifier, request_id, payload, received, due) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    event: db.prepare<[number], AsyncEventRow>(`${SELECT_EVENT} WHERE e.id = ?`),
    due: db.prepare<[number, number], AsyncEventRow>(`${SELECT_EVENT} WHERE e.running = 0 AND e.due <= ? ORDER BY e.due, e.id LIMIT ?`),
    nextDue: db.prepare<[], { at: number | null }>('SELECT MIN(due) AS at FROM lambda_async_events WHERE running = 0'),
    claim: db.prepare('UPDATE lambda_async_events SET running = 1 WHERE id = ?'),
    start: db.prepare('UPDATE lambda_async_events SET running = 1, attempts = attempts + 1, throttles = 0 WHERE id = ?'),
    retryLater: db.prepare('UPDATE lambda_async_events SET running = 0, due = ?, last_response = ? WHERE id = ?'),
    throttled: db.prepare('UPDATE lambda_async_events SET throttles = throttles + 1, due = ? WHERE id = ?'),
    wake: db.prepare('UPDATE lambda_async_events SET due = ? WHERE function_id = ? AND running = 0 AND throttles > 0 AND due > ?'),
    stopped: db.prepare('UPDATE lambda_async_events SET running = 0, attempts = MAX(0, attempts - 1) WHERE id = ?'),
    resume: db.prepare('UPDATE lambda_async_events SET running = 0 WHERE running = 1'),
    deleteEvent: db.prepare('DELETE FROM lambda_async_events WHERE id = ?'),
    count: db.prepare<[number], { n: number }>('SELECT COUNT(*) AS n FROM lambda_async_events WHERE function_id = ?'),
  };
  return {
    eventConfig: (functionId: number, qualifier: string) => q.config.get(functionId, qualifier),
    eventConfigs: (functionId: number) => q.configs.all(functionId),
    putEventConfig: (functionId: number, qualifier: string, doc: object, now: number) =>
      void q.putConfig.run(functionId, qualifier, JSON.stringify(doc), now),
    deleteEventConfig: (functionId: number, qualifier: string) => q.deleteConfig.run(functionId, qualifier).changes > 0,
    reserved: (functionId: number): number | undefined => q.reserved.get(functionId)?.reserved,
    /** The reserved concurrency of the scope's functions, but `exceptId`'s. */
    reservedSum: (scope: Scope, exceptId = -1) => q.reservedSum.get(scope.account, scope.region, exceptId)!.n ?? 0,
    putReserved: (functionId: number, n: number) => void q.putReserved.run(functionId, n),
    deleteReserved: (functionId: number) => void q.deleteReserved.run(functionId),
    provisioned: (functionId: number, qualifier: string) => q.provisioned.get(functionId, qualifier),
    provisionedAll: (functionId: number) => q.provisionedAll.all(functionId),
    putProvisioned: (functionId: number, qualifier: string, n: number, now: number) =>
      void q.putProvisioned.run(functionId, qualifier, n, now),
    deleteProvisioned: (functionId: number, qualifier: string) => void q.deleteProvisioned.run(functionId, qualifier),
    /** Queues an event; returns its row id once committed. */
    insertEvent: (functionId: number, qualifier: string, requestId: string, payload: Buffer, now: number) =>
      Number(q.insertEvent.run(functionId, qualifier, requestId, payload, now, now).lastInsertRowid),
    event: (id: number) => q.event.get(id),
    due: (now: number, limit: number) => q.due.all(now, limit),
    nextDue: () => q.nextDue.get()!.at ?? undefined,
    /** The event's outcome is being delivered: not due again unless the process dies meanwhile. */
    claim: (id: number) => void q.claim.run(id),
    /** The event is running: one attempt more. */
    startAttempt: (id: number) => void q.start.run(id),
    retryLater: (id: number, due: number, lastResponse: string) => void q.retryLater.run(due, lastResponse, id),
    throttled: (id: number, due: number) => void q.throttled.run(due, id),
    /** Throttled events of a function may run now (a slot freed, its concurrency changed). */
    wake: (functionId: number, now: number) => q.wake.run(now, functionId, now).changes,
    /** An attempt cut short by shutdown: it does not count, and runs again at the next start. */
    stopped: (id: number) => void q.stopped.run(id),
    /** At start: attempts the previous process was running when it died run again. */
    resume: () => void q.resume.run(),
    deleteEvent: (id: number) => q.deleteEvent.run(id).changes > 0,
    queued: (functionId: number) => q.count.get(functionId)!.n,
  };
}
