/**
 * The embedded store: one SQLite database (WAL) in the data dir for state, and a blobs/ folder for
 * large bodies (core/blobs.ts). A statement that returned means the row is committed: WAL with
 * synchronous=NORMAL survives kill -9 of the process (only an OS crash could lose the last commits).
 *
 * Each service owns its tables (prefixed with its name) and declares its schema as an ordered list
 * of migrations; applied versions are recorded in schema_migrations so upgrades run once.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

export type Db = Database.Database;

export interface Migration {
  version: number;
  sql: string;
}

export class Store {
  readonly db: Db;

  constructor(readonly dataDir: string) {
    mkdirSync(dataDir, { recursive: true });
    this.db = new Database(join(dataDir, 'opsbox.db'));
    // One process owns the database: exclusive locking keeps the WAL index in its own memory, so a
    // statement outside a transaction does not take and release shared-memory locks (half the cost
    // of a point read). Its lock goes with the process, kill -9 included.
    this.db.pragma('locking_mode = EXCLUSIVE');
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(
      'CREATE TABLE IF NOT EXISTS schema_migrations (service TEXT NOT NULL, version INTEGER NOT NULL, applied_at TEXT NOT NULL, PRIMARY KEY (service, version))',
    );
  }

  /** Applies, in order and each in its own transaction, the migrations of `service` not applied yet. */
  migrate(service: string, migrations: Migration[]) {
    const applied = new Set(
      (this.db.prepare('SELECT version FROM schema_migrations WHERE service = ?').all(service) as { version: number }[]).map(
        (r) => r.version,
      ),
    );
    const record = this.db.prepare('INSERT INTO schema_migrations (service, version, applied_at) VALUES (?, ?, ?)');
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (applied.has(m.version)) continue;
      this.db.transaction(() => {
        this.db.exec(m.sql);
        record.run(service, m.version, new Date().toISOString());
      })();
    }
  }

  close() {
    if (this.db.open) this.db.close();
  }
}
