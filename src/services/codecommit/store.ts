/**
 * CodeCommit tables. A repository row is scoped by account and region and carries the generated id
 * that names its bare git directory; the git data itself (refs, objects) lives in that directory,
 * never in SQLite. Pull requests, their events and comments are JSON documents keyed by the
 * columns they are looked up by. requireX() helpers throw AWS's error for a missing resource.
 */
import { join } from 'node:path';
import { AwsError } from '../../core/errors.js';
import type { Scope } from '../../core/arn.js';
import type { Store } from '../../core/store.js';
import { moveTagColumnSql } from '../../core/tags.js';

export interface RepoRow {
  id: string;
  account: string;
  region: string;
  name: string;
  description: string | null;
  default_branch: string | null;
  created: number;
  modified: number;
  kms: string | null;
  triggers: string;
  triggers_id: string | null;
}

const MIGRATIONS = [
  {
    version: 1,
    sql: `
      CREATE TABLE codecommit_repos (
        id TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        description TEXT,
        default_branch TEXT,
        created INTEGER NOT NULL,
        modified INTEGER NOT NULL,
        kms TEXT,
        tags TEXT NOT NULL DEFAULT '{}',
        triggers TEXT NOT NULL DEFAULT '[]',
        triggers_id TEXT,
        UNIQUE (account, region, name)
      );
      CREATE TABLE codecommit_pr_seq (account TEXT NOT NULL, region TEXT NOT NULL, next INTEGER NOT NULL, PRIMARY KEY (account, region));
      CREATE TABLE codecommit_prs (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        pr_id INTEGER NOT NULL,
        repo_id TEXT NOT NULL,
        status TEXT NOT NULL,
        author TEXT NOT NULL,
        token TEXT,
        doc TEXT NOT NULL,
        PRIMARY KEY (account, region, pr_id)
      );
      CREATE INDEX codecommit_prs_repo ON codecommit_prs (repo_id, status, pr_id);
      CREATE UNIQUE INDEX codecommit_prs_token ON codecommit_prs (account, region, token) WHERE token IS NOT NULL;
      CREATE TABLE codecommit_pr_events (
        id INTEGER PRIMARY KEY,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        pr_id INTEGER NOT NULL,
        doc TEXT NOT NULL
      );
      CREATE INDEX codecommit_pr_events_pr ON codecommit_pr_events (account, region, pr_id, id);
      CREATE TABLE codecommit_comments (
        id TEXT PRIMARY KEY,
        seq INTEGER NOT NULL,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        repo_id TEXT NOT NULL,
        pr_id INTEGER,
        before_commit TEXT,
        after_commit TEXT NOT NULL,
        token TEXT,
        doc TEXT NOT NULL
      );
      CREATE INDEX codecommit_comments_pr ON codecommit_comments (account, region, pr_id, seq);
      CREATE INDEX codecommit_comments_commit ON codecommit_comments (repo_id, after_commit, seq);
    `,
  },
  { version: 2, sql: 'CREATE INDEX codecommit_repos_name ON codecommit_repos (name)' },
  // tags move to core_tags, keyed by the repository ARN (Codecommit.repoArn)
  { version: 3, sql: moveTagColumnSql('codecommit_repos', "'arn:aws:codecommit:' || region || ':' || account || ':' || name", 'map') },
  {
    version: 4,
    sql: `
      CREATE TABLE codecommit_templates (
        id TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        description TEXT NOT NULL,
        content TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        created INTEGER NOT NULL,
        modified INTEGER NOT NULL,
        modified_by TEXT NOT NULL,
        UNIQUE (account, region, name)
      );
      CREATE TABLE codecommit_template_repos (
        template_id TEXT NOT NULL REFERENCES codecommit_templates (id) ON DELETE CASCADE,
        repo_id TEXT NOT NULL REFERENCES codecommit_repos (id) ON DELETE CASCADE,
        PRIMARY KEY (template_id, repo_id)
      );
      CREATE INDEX codecommit_template_repos_repo ON codecommit_template_repos (repo_id);
    `,
  },
];

export interface TemplateRow {
  id: string;
  account: string;
  region: string;
  name: string;
  description: string;
  content: string;
  sha256: string;
  created: number;
  modified: number;
  modified_by: string;
}

export type CodecommitStore = ReturnType<typeof createCodecommitStore>;

export function createCodecommitStore(store: Store) {
  store.migrate('codecommit', MIGRATIONS);
  const gitRoot = join(store.dataDir, 'codecommit');
  const db = store.db;
  const s = {
    byName: db.prepare('SELECT * FROM codecommit_repos WHERE account = ? AND region = ? AND name = ?'),
    byId: db.prepare('SELECT * FROM codecommit_repos WHERE id = ?'),
    insert: db.prepare(
      'INSERT INTO codecommit_repos (id, account, region, name, description, created, modified, kms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    del: db.prepare('DELETE FROM codecommit_repos WHERE id = ?'),
    list: db.prepare('SELECT * FROM codecommit_repos WHERE account = ? AND region = ?'),
    rename: db.prepare('UPDATE codecommit_repos SET name = ?, modified = ? WHERE id = ?'),
    describe: db.prepare('UPDATE codecommit_repos SET description = ?, modified = ? WHERE id = ?'),
    defaultBranch: db.prepare('UPDATE codecommit_repos SET default_branch = ?, modified = ? WHERE id = ?'),
    touch: db.prepare('UPDATE codecommit_repos SET modified = ? WHERE id = ?'),
    triggers: db.prepare('UPDATE codecommit_repos SET triggers = ?, triggers_id = ? WHERE id = ?'),
    seqGet: db.prepare('SELECT next FROM codecommit_pr_seq WHERE account = ? AND region = ?'),
    seqSet: db.prepare('INSERT OR REPLACE INTO codecommit_pr_seq (account, region, next) VALUES (?, ?, ?)'),
    prInsert: db.prepare(
      'INSERT INTO codecommit_prs (account, region, pr_id, repo_id, status, author, token, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    prGet: db.prepare('SELECT doc, repo_id FROM codecommit_prs WHERE account = ? AND region = ? AND pr_id = ?'),
    prByToken: db.prepare('SELECT doc FROM codecommit_prs WHERE account = ? AND region = ? AND token = ?'),
    prUpdate: db.prepare('UPDATE codecommit_prs SET status = ?, doc = ? WHERE account = ? AND region = ? AND pr_id = ?'),
    prList: db.prepare('SELECT pr_id, author, status FROM codecommit_prs WHERE repo_id = ? ORDER BY pr_id DESC'),
    prOpenForRepo: db.prepare("SELECT doc FROM codecommit_prs WHERE repo_id = ? AND status = 'OPEN'"),
    prDeleteRepo: db.prepare('DELETE FROM codecommit_prs WHERE repo_id = ?'),
    evInsert: db.prepare('INSERT INTO codecommit_pr_events (account, region, pr_id, doc) VALUES (?, ?, ?, ?)'),
    evList: db.prepare('SELECT doc FROM codecommit_pr_events WHERE account = ? AND region = ? AND pr_id = ? ORDER BY id'),
    cInsert: db.prepare(
      'INSERT INTO codecommit_comments (id, seq, account, region, repo_id, pr_id, before_commit, after_commit, token, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    cByPr: db.prepare(
      'SELECT doc, before_commit, after_commit, repo_id FROM codecommit_comments WHERE account = ? AND region = ? AND pr_id = ? ORDER BY seq',
    ),
    cByCommit: db.prepare(
      'SELECT doc, before_commit, after_commit FROM codecommit_comments WHERE repo_id = ? AND after_commit = ? AND pr_id IS NULL ORDER BY seq',
    ),
    cMaxSeq: db.prepare('SELECT COALESCE(MAX(seq), 0) AS m FROM codecommit_comments'),
    tByName: db.prepare<[string, string, string], TemplateRow>(
      'SELECT * FROM codecommit_templates WHERE account = ? AND region = ? AND name = ?',
    ),
    tList: db.prepare<[string, string], TemplateRow>('SELECT * FROM codecommit_templates WHERE account = ? AND region = ? ORDER BY name'),
    tCount: db.prepare<[string, string], { n: number }>('SELECT COUNT(*) AS n FROM codecommit_templates WHERE account = ? AND region = ?'),
    tInsert: db.prepare(
      `INSERT INTO codecommit_templates (id, account, region, name, description, content, sha256, created, modified, modified_by)
       VALUES (@id, @account, @region, @name, @description, @content, @sha256, @created, @modified, @modified_by)`,
    ),
    tUpdate: db.prepare(
      'UPDATE codecommit_templates SET name = @name, description = @description, content = @content, sha256 = @sha256, modified = @modified, modified_by = @modified_by WHERE id = @id',
    ),
    tDelete: db.prepare('DELETE FROM codecommit_templates WHERE id = ?'),
    tAssociate: db.prepare('INSERT OR IGNORE INTO codecommit_template_repos (template_id, repo_id) VALUES (?, ?)'),
    tDisassociate: db.prepare('DELETE FROM codecommit_template_repos WHERE template_id = ? AND repo_id = ?'),
    tReposOf: db.prepare<[string], RepoRow>(
      'SELECT r.* FROM codecommit_template_repos a JOIN codecommit_repos r ON r.id = a.repo_id WHERE a.template_id = ? ORDER BY r.name',
    ),
    tOfRepo: db.prepare<[string], TemplateRow>(
      'SELECT t.* FROM codecommit_template_repos a JOIN codecommit_templates t ON t.id = a.template_id WHERE a.repo_id = ? ORDER BY t.name',
    ),
  };

  const self = {
    gitRoot,

    /** The bare repository directory: named by the generated id, never by the user's name. */
    gitDir(row: { id: string; account: string; region: string }) {
      return join(gitRoot, row.account, row.region, `${row.id}.git`);
    },

    findRepo(scope: Scope, name: string) {
      return s.byName.get(scope.account, scope.region, name) as RepoRow | undefined;
    },

    repoById(id: string) {
      return s.byId.get(id) as RepoRow | undefined;
    },

    /** Throws RepositoryDoesNotExistException ("<name> does not exist"). */
    requireRepo(scope: Scope, name: string): RepoRow {
      const row = self.findRepo(scope, name);
      if (!row) throw new AwsError('RepositoryDoesNotExistException', `${name} does not exist`, 400);
      return row;
    },

    insertRepo(r: Pick<RepoRow, 'id' | 'account' | 'region' | 'name' | 'description' | 'created' | 'kms'>) {
      s.insert.run(r.id, r.account, r.region, r.name, r.description, r.created, r.created, r.kms);
    },

    deleteRepo(id: string) {
      db.transaction(() => {
        s.prDeleteRepo.run(id);
        s.del.run(id);
      })();
    },

    listRepos(scope: Scope) {
      return s.list.all(scope.account, scope.region) as RepoRow[];
    },

    renameRepo(id: string, name: string, now: number) {
      s.rename.run(name, now, id);
    },
    setDescription(id: string, d: string | null, now: number) {
      s.describe.run(d, now, id);
    },
    setDefaultBranch(id: string, b: string | null, now: number) {
      s.defaultBranch.run(b, now, id);
    },
    touch(id: string, now: number) {
      s.touch.run(now, id);
    },
    setTriggers(id: string, triggers: unknown[], configId: string) {
      s.triggers.run(JSON.stringify(triggers), configId, id);
    },

    /** Pull request ids count from 1 per account and region, as AWS's do. */
    nextPullRequestId(scope: Scope): number {
      const row = s.seqGet.get(scope.account, scope.region) as { next: number } | undefined;
      const id = row?.next ?? 1;
      s.seqSet.run(scope.account, scope.region, id + 1);
      return id;
    },

    insertPr(scope: Scope, id: number, repoId: string, status: string, author: string, token: string | null, doc: unknown) {
      s.prInsert.run(scope.account, scope.region, id, repoId, status, author, token, JSON.stringify(doc));
    },
    getPr<T>(scope: Scope, id: number): T | undefined {
      const row = s.prGet.get(scope.account, scope.region, id) as { doc: string } | undefined;
      return row ? JSON.parse(row.doc) : undefined;
    },
    prByToken<T>(scope: Scope, token: string): T | undefined {
      const row = s.prByToken.get(scope.account, scope.region, token) as { doc: string } | undefined;
      return row ? JSON.parse(row.doc) : undefined;
    },
    updatePr(scope: Scope, id: number, status: string, doc: unknown) {
      s.prUpdate.run(status, JSON.stringify(doc), scope.account, scope.region, id);
    },
    listPrs(repoId: string) {
      return s.prList.all(repoId) as { pr_id: number; author: string; status: string }[];
    },
    openPrs<T>(repoId: string): T[] {
      return (s.prOpenForRepo.all(repoId) as { doc: string }[]).map((r) => JSON.parse(r.doc));
    },
    addPrEvent(scope: Scope, id: number, doc: unknown) {
      s.evInsert.run(scope.account, scope.region, id, JSON.stringify(doc));
    },
    prEvents<T>(scope: Scope, id: number): T[] {
      return (s.evList.all(scope.account, scope.region, id) as { doc: string }[]).map((r) => JSON.parse(r.doc));
    },

    addComment(c: {
      id: string;
      account: string;
      region: string;
      repoId: string;
      prId: number | null;
      before: string | null;
      after: string;
      token: string | null;
      doc: unknown;
    }) {
      const seq = (s.cMaxSeq.get() as { m: number }).m + 1;
      s.cInsert.run(c.id, seq, c.account, c.region, c.repoId, c.prId, c.before, c.after, c.token, JSON.stringify(c.doc));
    },
    commentsForPr(scope: Scope, prId: number) {
      return s.cByPr.all(scope.account, scope.region, prId) as {
        doc: string;
        before_commit: string | null;
        after_commit: string;
        repo_id: string;
      }[];
    },
    commentsForCommit(repoId: string, after: string) {
      return s.cByCommit.all(repoId, after) as { doc: string; before_commit: string | null; after_commit: string }[];
    },

    template: (scope: Scope, name: string) => s.tByName.get(scope.account, scope.region, name),
    /** Throws ApprovalRuleTemplateDoesNotExistException. */
    requireTemplate(scope: Scope, name: string): TemplateRow {
      const t = s.tByName.get(scope.account, scope.region, name);
      if (!t)
        throw new AwsError(
          'ApprovalRuleTemplateDoesNotExistException',
          'The specified approval rule template does not exist. Verify that the name is correct and that you are signed in to the Amazon Web Services Region where the template was created, and then try again.',
        );
      return t;
    },
    templates: (scope: Scope) => s.tList.all(scope.account, scope.region),
    templateCount: (scope: Scope) => s.tCount.get(scope.account, scope.region)!.n,
    insertTemplate: (t: TemplateRow) => s.tInsert.run(t),
    updateTemplate: (t: TemplateRow) => s.tUpdate.run(t),
    deleteTemplate: (id: string) => s.tDelete.run(id),
    associate: (templateId: string, repoId: string) => s.tAssociate.run(templateId, repoId),
    disassociate: (templateId: string, repoId: string) => s.tDisassociate.run(templateId, repoId),
    /** The repositories a template is associated with, by name. */
    templateRepos: (templateId: string) => s.tReposOf.all(templateId),
    /** The templates associated with a repository, by name. */
    repoTemplates: (repoId: string) => s.tOfRepo.all(repoId),

    transaction<T>(fn: () => T): T {
      return db.transaction(fn)();
    },
  };
  return self;
}
