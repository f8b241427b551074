/**
 * CodeBuild tables. Projects, builds, report groups and reports are kept as the JSON documents the
 * API returns (Project, Build, ReportGroup, Report), with the columns that lists and lookups filter
 * on beside them; test cases are rows of their report. Every row is scoped by account and region.
 * A project's or report group's tags are not in its document but in core_tags, by its ARN: they are
 * read back into the document and written with it, in one transaction.
 * requireX() helpers throw AWS's error for a missing resource.
 */
import type Database from 'better-sqlite3';
import { arn, type Scope } from '../../core/arn.js';
import { AwsError } from '../../core/errors.js';
import type { Store } from '../../core/store.js';
import { keyValuesOf, tagMapOfKeyValues, type TagRules, type Tags } from '../../core/tags.js';
import type {
  BuildArtifacts,
  BuildOut,
  BuildPhaseOut,
  LogsConfig,
  LogsLocationOut,
  ProjectArtifacts,
  ProjectCache,
  ProjectEnvironment,
  ProjectOut,
  ProjectSource,
  ProjectSourceVersion,
  ReportExportConfig,
  ReportGroupOut,
  ReportOut,
  TagList,
} from './api.generated.js';
import type { BuildPrivate } from './build/runner.js';

/*
 * The documents are AWS's output shapes (api.generated.ts) with what opsbox always fills in made
 * required. Timestamps are kept as epoch milliseconds (the shapes allow Date | number). Nested
 * settings the user gave (source, artifacts, environment) are kept as the input shapes the request
 * was validated against, so their required members (type, image, name, value …) are known to be set.
 */

/** `T` with `U`'s members in place of its own. */
type With<T, U> = Omit<T, keyof U> & U;

/** A project as CreateProject/UpdateProject store it (projects.ts projectDoc()). */
export type ProjectDoc = With<
  ProjectOut,
  {
    name: string;
    arn: string;
    source: ProjectSource;
    secondarySources: ProjectSource[];
    secondarySourceVersions: ProjectSourceVersion[];
    artifacts: ProjectArtifacts;
    secondaryArtifacts: ProjectArtifacts[];
    cache: ProjectCache;
    environment: ProjectEnvironment;
    serviceRole: string;
    timeoutInMinutes: number;
    queuedTimeoutInMinutes: number;
    encryptionKey: string;
    tags: TagList;
    created: number;
    lastModified: number;
    logsConfig: LogsConfig;
  }
>;

/** A phase of a build; `pendingContext` (the failed command's context, until the phase ends) is opsbox's own. */
export type BuildPhaseDoc = With<
  BuildPhaseOut,
  {
    phaseType: string;
    startTime: number;
    endTime?: number;
    pendingContext?: { statusCode: string; message: string };
  }
>;

/** A build as StartBuild stores it (builds.ts startBuild()); `opsbox` is never returned (publicBuild()). */
export type BuildDoc = With<
  BuildOut,
  {
    id: string;
    arn: string;
    buildNumber: number;
    startTime: number;
    endTime?: number;
    currentPhase: string;
    projectName: string;
    buildStatus: string;
    phases: BuildPhaseDoc[];
    source: ProjectSource;
    secondarySources: ProjectSource[];
    secondarySourceVersions: ProjectSourceVersion[];
    artifacts: BuildArtifacts;
    secondaryArtifacts: BuildArtifacts[];
    cache: ProjectCache;
    environment: ProjectEnvironment;
    serviceRole: string;
    logs: LogsLocationOut & { groupName: string; streamName: string; deepLink: string };
    timeoutInMinutes: number;
    queuedTimeoutInMinutes: number;
    initiator: string;
    encryptionKey: string;
    opsbox: BuildPrivate;
  }
>;

export type ReportGroupDoc = With<
  ReportGroupOut,
  {
    arn: string;
    name: string;
    type: string;
    exportConfig: ReportExportConfig;
    tags: TagList;
    created: number;
    lastModified: number;
  }
>;

export type ReportDoc = With<ReportOut, { arn: string; reportGroupArn: string; status: string; created: number; expired: number }>;

export interface TestCaseRow {
  report_arn: string;
  seq: number;
  test_raw_data_path: string;
  prefix: string;
  name: string;
  status: string;
  duration_ns: number;
  message: string | null;
  expired: number;
}

/** A document as its row keeps it: its tags are in core_tags. */
type Untagged<T> = Omit<T, 'tags'>;

/**
 * CodeBuild's wording for tags the shared rules refuse. The model's tighter limits (keys of 1–127
 * characters, values of at most 255, at most 50 tags) are checked before a handler runs.
 */
const tagRules: TagRules = {
  errors: (p) =>
    new AwsError(
      'InvalidInputException',
      p.kind === 'tooMany'
        ? `Number of tags must be at most ${p.limit}`
        : p.kind === 'valueLength'
          ? `Invalid tag value for key: ${p.key}`
          : p.kind === 'reservedKey'
            ? `Invalid tag key: ${p.key}. Tag keys cannot start with aws:`
            : `Invalid tag key: ${p.key}`,
      400,
    ),
};

/** The document's JSON as its row keeps it: without the tags. */
const untagged = (doc: { tags: TagList }) => JSON.stringify({ ...doc, tags: undefined });

/** Moves the `tags` list of each row's JSON document into core_tags (by `arnSql`) and out of the document. */
const moveDocTagsSql = (table: string, arnSql: string) => `
  INSERT OR REPLACE INTO core_tags (arn, key, value)
    SELECT ${arnSql}, json_extract(j.value, '$.key'), COALESCE(json_extract(j.value, '$.value'), '')
    FROM ${table}, json_each(${table}.doc, '$.tags') AS j
    WHERE json_extract(j.value, '$.key') IS NOT NULL ORDER BY ${table}.rowid, j.id;
  UPDATE ${table} SET doc = json_remove(doc, '$.tags');`;

const MIGRATIONS = [
  {
    version: 1,
    sql: `
      CREATE TABLE codebuild_projects (
        account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL,
        created INTEGER NOT NULL, build_counter INTEGER NOT NULL DEFAULT 0, doc TEXT NOT NULL,
        PRIMARY KEY (account, region, name)
      );
      CREATE TABLE codebuild_builds (
        id TEXT PRIMARY KEY, account TEXT NOT NULL, region TEXT NOT NULL, project TEXT NOT NULL,
        seq INTEGER NOT NULL, status TEXT NOT NULL, doc TEXT NOT NULL
      );
      CREATE INDEX codebuild_builds_by_account ON codebuild_builds (account, region, seq);
      CREATE INDEX codebuild_builds_by_project ON codebuild_builds (account, region, project, seq);
      CREATE INDEX codebuild_builds_running ON codebuild_builds (status) WHERE status = 'IN_PROGRESS';
      CREATE TABLE codebuild_report_groups (
        account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL, arn TEXT NOT NULL UNIQUE,
        created INTEGER NOT NULL, doc TEXT NOT NULL,
        PRIMARY KEY (account, region, name)
      );
      CREATE TABLE codebuild_reports (
        arn TEXT PRIMARY KEY, account TEXT NOT NULL, region TEXT NOT NULL, group_arn TEXT NOT NULL,
        seq INTEGER NOT NULL, doc TEXT NOT NULL
      );
      CREATE INDEX codebuild_reports_by_group ON codebuild_reports (group_arn, seq);
      CREATE INDEX codebuild_reports_by_account ON codebuild_reports (account, region, seq);
      CREATE TABLE codebuild_test_cases (
        report_arn TEXT NOT NULL, seq INTEGER NOT NULL, test_raw_data_path TEXT NOT NULL, prefix TEXT NOT NULL,
        name TEXT NOT NULL, status TEXT NOT NULL, duration_ns INTEGER NOT NULL, message TEXT, expired INTEGER NOT NULL,
        PRIMARY KEY (report_arn, seq)
      );
    `,
  },
  // the documents' tags move to core_tags, keyed by the ARN the document carries
  {
    version: 2,
    sql:
      moveDocTagsSql('codebuild_projects', "json_extract(codebuild_projects.doc, '$.arn')") +
      moveDocTagsSql('codebuild_report_groups', 'codebuild_report_groups.arn'),
  },
];

export type CodebuildStore = ReturnType<typeof createCodebuildStore>;

export function createCodebuildStore(store: Store, tags: Tags) {
  store.migrate('codebuild', MIGRATIONS);
  const db = store.db;
  const s: Record<string, Database.Statement> = {
    projectGet: db.prepare('SELECT doc FROM codebuild_projects WHERE account = ? AND region = ? AND name = ?'),
    projectInsert: db.prepare('INSERT INTO codebuild_projects (account, region, name, created, doc) VALUES (?, ?, ?, ?, ?)'),
    projectUpdate: db.prepare('UPDATE codebuild_projects SET doc = ? WHERE account = ? AND region = ? AND name = ?'),
    projectDelete: db.prepare('DELETE FROM codebuild_projects WHERE account = ? AND region = ? AND name = ?'),
    projectNames: db.prepare('SELECT name, created, doc FROM codebuild_projects WHERE account = ? AND region = ?'),
    projectCounter: db.prepare(
      'UPDATE codebuild_projects SET build_counter = build_counter + 1 WHERE account = ? AND region = ? AND name = ? RETURNING build_counter',
    ),
    buildGet: db.prepare('SELECT doc FROM codebuild_builds WHERE id = ? AND account = ? AND region = ?'),
    buildInsert: db.prepare('INSERT INTO codebuild_builds (id, account, region, project, seq, status, doc) VALUES (?, ?, ?, ?, ?, ?, ?)'),
    buildUpdate: db.prepare('UPDATE codebuild_builds SET status = ?, doc = ? WHERE id = ?'),
    buildDelete: db.prepare('DELETE FROM codebuild_builds WHERE id = ? AND account = ? AND region = ?'),
    buildIds: db.prepare('SELECT id FROM codebuild_builds WHERE account = ? AND region = ? ORDER BY seq DESC'),
    buildIdsAsc: db.prepare('SELECT id FROM codebuild_builds WHERE account = ? AND region = ? ORDER BY seq ASC'),
    buildIdsForProject: db.prepare('SELECT id FROM codebuild_builds WHERE account = ? AND region = ? AND project = ? ORDER BY seq DESC'),
    buildIdsForProjectAsc: db.prepare('SELECT id FROM codebuild_builds WHERE account = ? AND region = ? AND project = ? ORDER BY seq ASC'),
    running: db.prepare("SELECT doc, account, region FROM codebuild_builds WHERE status = 'IN_PROGRESS'"),
    runningForProject: db.prepare(
      "SELECT COUNT(*) AS n FROM codebuild_builds WHERE account = ? AND region = ? AND project = ? AND status = 'IN_PROGRESS'",
    ),
    maxSeq: db.prepare(
      'SELECT COALESCE(MAX(seq), 0) AS m FROM (SELECT seq FROM codebuild_builds UNION ALL SELECT seq FROM codebuild_reports)',
    ),
    groupGet: db.prepare('SELECT doc FROM codebuild_report_groups WHERE arn = ? AND account = ? AND region = ?'),
    groupByName: db.prepare('SELECT doc FROM codebuild_report_groups WHERE account = ? AND region = ? AND name = ?'),
    groupInsert: db.prepare('INSERT INTO codebuild_report_groups (account, region, name, arn, created, doc) VALUES (?, ?, ?, ?, ?, ?)'),
    groupUpdate: db.prepare('UPDATE codebuild_report_groups SET doc = ? WHERE arn = ?'),
    groupDelete: db.prepare('DELETE FROM codebuild_report_groups WHERE arn = ?'),
    groupList: db.prepare('SELECT doc, created FROM codebuild_report_groups WHERE account = ? AND region = ?'),
    reportGet: db.prepare('SELECT doc FROM codebuild_reports WHERE arn = ? AND account = ? AND region = ?'),
    reportInsert: db.prepare('INSERT INTO codebuild_reports (arn, account, region, group_arn, seq, doc) VALUES (?, ?, ?, ?, ?, ?)'),
    reportUpdate: db.prepare('UPDATE codebuild_reports SET doc = ? WHERE arn = ?'),
    reportDelete: db.prepare('DELETE FROM codebuild_reports WHERE arn = ?'),
    reportsForGroup: db.prepare('SELECT arn FROM codebuild_reports WHERE group_arn = ? ORDER BY seq DESC'),
    reportsForAccount: db.prepare('SELECT arn FROM codebuild_reports WHERE account = ? AND region = ? ORDER BY seq DESC'),
    caseInsert: db.prepare(
      'INSERT INTO codebuild_test_cases (report_arn, seq, test_raw_data_path, prefix, name, status, duration_ns, message, expired) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    casesAfter: db.prepare('SELECT * FROM codebuild_test_cases WHERE report_arn = ? AND seq > ? ORDER BY seq LIMIT ?'),
    casesDelete: db.prepare('DELETE FROM codebuild_test_cases WHERE report_arn = ?'),
  };
  let seq = (s.maxSeq.get() as { m: number }).m;
  const nextSeq = () => ++seq;

  /** A stored document with its tags (core_tags) back in it. */
  function withTags<D extends { arn: string }>(doc: D): D & { tags: TagList } {
    return { ...doc, tags: keyValuesOf(tags.list(doc.arn)) };
  }

  /** Sets the document's tags in core_tags (call it in the transaction that writes the document). */
  function saveTags(doc: { arn: string; tags: TagList }) {
    tags.replace(doc.arn, tagMapOfKeyValues(doc.tags), tagRules);
  }

  /** Runs `fn` in one transaction. */
  function tx<T>(fn: () => T): T {
    return db.transaction(fn)();
  }

  const self = {
    db,

    // projects

    project(scope: Scope, name: string): ProjectDoc | undefined {
      const row = s.projectGet.get(scope.account, scope.region, name) as { doc: string } | undefined;
      return row && withTags(JSON.parse(row.doc) as Untagged<ProjectDoc>);
    },

    requireProject(scope: Scope, name: string): ProjectDoc {
      const p = self.project(scope, name);
      if (!p)
        throw new AwsError(
          'ResourceNotFoundException',
          `Project cannot be found: arn:aws:codebuild:${scope.region}:${scope.account}:project/${name}`,
          400,
        );
      return p;
    },

    insertProject(scope: Scope, doc: ProjectDoc, created: number) {
      tx(() => {
        s.projectInsert.run(scope.account, scope.region, doc.name, created, untagged(doc));
        saveTags(doc);
      });
    },

    updateProject(scope: Scope, doc: ProjectDoc) {
      tx(() => {
        s.projectUpdate.run(untagged(doc), scope.account, scope.region, doc.name);
        saveTags(doc);
      });
    },

    deleteProject(scope: Scope, name: string) {
      return tx(() => {
        tags.delete(arn('codebuild', scope, `project/${name}`));
        return s.projectDelete.run(scope.account, scope.region, name).changes > 0;
      });
    },

    /** The scope's projects, without their tags. */
    projects(scope: Scope): { name: string; created: number; doc: Untagged<ProjectDoc> }[] {
      return (s.projectNames.all(scope.account, scope.region) as { name: string; created: number; doc: string }[]).map((r) => ({
        name: r.name,
        created: r.created,
        doc: JSON.parse(r.doc),
      }));
    },

    /** The project's next build number, counted once per StartBuild as AWS does. */
    nextBuildNumber(scope: Scope, name: string): number {
      return (s.projectCounter.get(scope.account, scope.region, name) as { build_counter: number }).build_counter;
    },

    // builds

    build(scope: Scope, id: string): BuildDoc | undefined {
      const row = s.buildGet.get(id, scope.account, scope.region) as { doc: string } | undefined;
      return row && JSON.parse(row.doc);
    },

    insertBuild(scope: Scope, doc: BuildDoc) {
      s.buildInsert.run(doc.id, scope.account, scope.region, doc.projectName, nextSeq(), doc.buildStatus, JSON.stringify(doc));
    },

    saveBuild(doc: BuildDoc) {
      s.buildUpdate.run(doc.buildStatus, JSON.stringify(doc), doc.id);
    },

    deleteBuild(scope: Scope, id: string) {
      return s.buildDelete.run(id, scope.account, scope.region).changes > 0;
    },

    buildIds(scope: Scope, ascending: boolean, project?: string): string[] {
      const stmt = project ? (ascending ? s.buildIdsForProjectAsc : s.buildIdsForProject) : ascending ? s.buildIdsAsc : s.buildIds;
      const rows = (project ? stmt.all(scope.account, scope.region, project) : stmt.all(scope.account, scope.region)) as { id: string }[];
      return rows.map((r) => r.id);
    },

    runningBuilds(): { scope: Scope; doc: BuildDoc }[] {
      return (s.running.all() as { doc: string; account: string; region: string }[]).map((r) => ({
        scope: { account: r.account, region: r.region },
        doc: JSON.parse(r.doc),
      }));
    },

    runningCount(scope: Scope, project: string): number {
      return (s.runningForProject.get(scope.account, scope.region, project) as { n: number }).n;
    },

    // report groups and reports

    /** The caller's report group of that ARN (another account's or region's is not found). */
    reportGroup(scope: Scope, arn: string): ReportGroupDoc | undefined {
      const row = s.groupGet.get(arn, scope.account, scope.region) as { doc: string } | undefined;
      return row && withTags(JSON.parse(row.doc) as Untagged<ReportGroupDoc>);
    },

    reportGroupByName(scope: Scope, name: string): ReportGroupDoc | undefined {
      const row = s.groupByName.get(scope.account, scope.region, name) as { doc: string } | undefined;
      return row && withTags(JSON.parse(row.doc) as Untagged<ReportGroupDoc>);
    },

    insertReportGroup(scope: Scope, doc: ReportGroupDoc, created: number) {
      tx(() => {
        s.groupInsert.run(scope.account, scope.region, doc.name, doc.arn, created, untagged(doc));
        saveTags(doc);
      });
    },

    updateReportGroup(doc: ReportGroupDoc) {
      tx(() => {
        s.groupUpdate.run(untagged(doc), doc.arn);
        saveTags(doc);
      });
    },

    deleteReportGroup(arn: string) {
      tx(() => {
        for (const r of s.reportsForGroup.all(arn) as { arn: string }[]) self.deleteReport(r.arn);
        s.groupDelete.run(arn);
        tags.delete(arn);
      });
    },

    /** The scope's report groups, without their tags. */
    reportGroups(scope: Scope): { doc: Untagged<ReportGroupDoc>; created: number }[] {
      return (s.groupList.all(scope.account, scope.region) as { doc: string; created: number }[]).map((r) => ({
        doc: JSON.parse(r.doc),
        created: r.created,
      }));
    },

    /** The caller's report of that ARN (another account's or region's is not found). */
    report(scope: Scope, arn: string): ReportDoc | undefined {
      const row = s.reportGet.get(arn, scope.account, scope.region) as { doc: string } | undefined;
      return row && JSON.parse(row.doc);
    },

    insertReport(scope: Scope, doc: ReportDoc, cases: Omit<TestCaseRow, 'report_arn' | 'seq'>[]) {
      const tx = db.transaction(() => {
        s.reportInsert.run(doc.arn, scope.account, scope.region, doc.reportGroupArn, nextSeq(), JSON.stringify(doc));
        let i = 0;
        for (const c of cases)
          s.caseInsert.run(doc.arn, ++i, c.test_raw_data_path, c.prefix, c.name, c.status, c.duration_ns, c.message, c.expired);
      });
      tx();
    },

    saveReport(doc: ReportDoc) {
      s.reportUpdate.run(JSON.stringify(doc), doc.arn);
    },

    deleteReport(arn: string) {
      s.casesDelete.run(arn);
      return s.reportDelete.run(arn).changes > 0;
    },

    reportArns(scope: Scope, groupArn?: string): string[] {
      const rows = (groupArn ? s.reportsForGroup.all(groupArn) : s.reportsForAccount.all(scope.account, scope.region)) as {
        arn: string;
      }[];
      return rows.map((r) => r.arn);
    },

    testCases(reportArn: string, afterSeq: number, limit: number): TestCaseRow[] {
      return s.casesAfter.all(reportArn, afterSeq, limit) as TestCaseRow[];
    },
  };
  return self;
}
