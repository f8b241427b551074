/**
 * Access keys opsbox knows: the configured root key, IAM users' access keys and STS temporary
 * credentials. The gateway resolves a request's access key id to an account and principal here;
 * IAM and STS write here. Lookups are cached in memory (the hot path must not hit SQLite).
 */
import type { Store } from './store.js';

export interface CredentialRecord {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  account: string;
  /** The principal ARN GetCallerIdentity reports. */
  arn: string;
  /** The UserId GetCallerIdentity reports (AIDA…, AROA…:session, or the account id for root). */
  userId: string;
  /** IAM user name for user keys. */
  userName?: string;
  status: 'Active' | 'Inactive';
  createdAt: number;
  expiresAt?: number;
  source: 'root' | 'iam' | 'sts';
}

export const DEFAULT_ACCOUNT = '000000000000';

export class Credentials {
  private cache = new Map<string, CredentialRecord | null>();
  private readonly root: CredentialRecord;

  constructor(
    private store: Store,
    rootKey = { id: 'test', secret: 'test' },
  ) {
    store.migrate('core_credentials', [
      {
        version: 1,
        sql: `CREATE TABLE core_credentials (
          access_key_id TEXT PRIMARY KEY, secret TEXT NOT NULL, session_token TEXT, account TEXT NOT NULL,
          arn TEXT NOT NULL, user_id TEXT NOT NULL, user_name TEXT, status TEXT NOT NULL,
          created_at INTEGER NOT NULL, expires_at INTEGER, source TEXT NOT NULL);
          CREATE INDEX core_credentials_user ON core_credentials(account, user_name);`,
      },
    ]);
    this.root = {
      accessKeyId: rootKey.id,
      secretAccessKey: rootKey.secret,
      account: DEFAULT_ACCOUNT,
      arn: `arn:aws:iam::${DEFAULT_ACCOUNT}:root`,
      userId: DEFAULT_ACCOUNT,
      status: 'Active',
      createdAt: 0,
      source: 'root',
    };
  }

  /**
   * The stored record for a key, or undefined. A 12-digit access key id is that account's root,
   * signing with the root secret: how a second account is reached when signatures are checked.
   */
  find(accessKeyId: string): CredentialRecord | undefined {
    if (accessKeyId === this.root.accessKeyId) return this.root;
    if (/^\d{12}$/.test(accessKeyId))
      return { ...this.root, accessKeyId, account: accessKeyId, arn: `arn:aws:iam::${accessKeyId}:root`, userId: accessKeyId };
    let hit = this.cache.get(accessKeyId);
    if (hit === undefined) {
      const row = this.store.db.prepare('SELECT * FROM core_credentials WHERE access_key_id = ?').get(accessKeyId) as any;
      hit = row ? fromRow(row) : null;
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(accessKeyId, hit);
    }
    return hit ?? undefined;
  }

  /** Account of a key: a known key's, a 12-digit key names its account, anything else the default. */
  accountOf(accessKeyId: string | undefined): string {
    if (!accessKeyId) return DEFAULT_ACCOUNT;
    if (/^\d{12}$/.test(accessKeyId)) return accessKeyId;
    return this.find(accessKeyId)?.account ?? DEFAULT_ACCOUNT;
  }

  put(rec: CredentialRecord) {
    this.store.db
      .prepare(
        `INSERT OR REPLACE INTO core_credentials (access_key_id, secret, session_token, account, arn, user_id, user_name, status, created_at, expires_at, source)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        rec.accessKeyId,
        rec.secretAccessKey,
        rec.sessionToken ?? null,
        rec.account,
        rec.arn,
        rec.userId,
        rec.userName ?? null,
        rec.status,
        rec.createdAt,
        rec.expiresAt ?? null,
        rec.source,
      );
    this.cache.delete(rec.accessKeyId);
  }

  setStatus(accessKeyId: string, status: 'Active' | 'Inactive') {
    this.store.db.prepare('UPDATE core_credentials SET status = ? WHERE access_key_id = ?').run(status, accessKeyId);
    this.cache.delete(accessKeyId);
  }

  delete(accessKeyId: string) {
    this.store.db.prepare('DELETE FROM core_credentials WHERE access_key_id = ?').run(accessKeyId);
    this.cache.delete(accessKeyId);
  }

  listForUser(account: string, userName: string): CredentialRecord[] {
    return (
      this.store.db
        .prepare("SELECT * FROM core_credentials WHERE account = ? AND user_name = ? AND source = 'iam' ORDER BY created_at")
        .all(account, userName) as any[]
    ).map(fromRow);
  }
}

function fromRow(r: any): CredentialRecord {
  return {
    accessKeyId: r.access_key_id,
    secretAccessKey: r.secret,
    sessionToken: r.session_token ?? undefined,
    account: r.account,
    arn: r.arn,
    userId: r.user_id,
    userName: r.user_name ?? undefined,
    status: r.status,
    createdAt: r.created_at,
    expiresAt: r.expires_at ?? undefined,
    source: r.source,
  };
}
