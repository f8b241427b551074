/**
 * Report groups, reports and test cases: the handlers (CreateReportGroup … DescribeTestCases) and
 * recordReports(), which turns a finished build's `reports` section into reports: a group named
 * "<project>-<name>" is created on first use, as AWS does, unless the buildspec names a group ARN.
 */
import { randomUUID } from 'node:crypto';
import { relative } from 'node:path';
import { arn, type Scope } from '../../core/arn.js';
import { batchGet } from '../../core/batchGet.js';
import { AwsError } from '../../core/errors.js';
import { decodeToken, encodeToken, pageByOffset } from '../../core/pagination.js';
import type { ServiceEnv } from '../../gateway/service.js';
import type { CodebuildHandlers, ReportExportConfig, TagList, TestCaseOut } from './api.generated.js';
import type { Buildspec } from './build/buildspec.js';
import { badToken, invalidInput } from './projects.js';
import { readReports, summarize } from './build/reports.js';
import type { BuildDoc, CodebuildStore, ReportDoc, ReportGroupDoc } from './store.js';

const EXPIRY_MS = 30 * 24 * 3600_000;
const GROUP_NAME = /^[A-Za-z0-9][A-Za-z0-9\-_]{1,127}$/;
const notFound = (what: string) => new AwsError('ResourceNotFoundException', what, 400);

function groupDoc(scope: Scope, name: string, type: string, exportConfig: ReportExportConfig, tags: TagList, now: number): ReportGroupDoc {
  return {
    arn: arn('codebuild', scope, `report-group/${name}`),
    name,
    type,
    exportConfig,
    created: now,
    lastModified: now,
    tags,
    status: 'ACTIVE',
  };
}

const page = <T>(items: T[], token: string | undefined, max = 100) => pageByOffset(items, token, max, badToken);

export function reportGroupHandlers(store: CodebuildStore): CodebuildHandlers {
  const requireGroup = (scope: Scope, groupArn: string) =>
    store.reportGroup(scope, groupArn) ??
    (() => {
      throw notFound(`Report group not found: ${groupArn}`);
    })();
  return {
    CreateReportGroup(input, ctx) {
      if (!GROUP_NAME.test(input.name)) throw invalidInput(`Invalid report group name: ${input.name}`);
      if (!['TEST', 'CODE_COVERAGE'].includes(input.type)) throw invalidInput(`Invalid report group type: ${input.type}`);
      if (store.reportGroupByName(ctx, input.name))
        throw new AwsError(
          'ResourceAlreadyExistsException',
          `Report group already exists: ${arn('codebuild', ctx, `report-group/${input.name}`)}`,
          400,
        );
      const doc = groupDoc(ctx, input.name, input.type, input.exportConfig, input.tags ?? [], ctx.clock.now());
      store.insertReportGroup(ctx, doc, doc.created);
      return { reportGroup: doc };
    },

    UpdateReportGroup(input, ctx) {
      const doc = requireGroup(ctx, input.arn);
      if (input.exportConfig) doc.exportConfig = input.exportConfig;
      if (input.tags) doc.tags = input.tags;
      doc.lastModified = Date.now();
      store.updateReportGroup(doc);
      return { reportGroup: doc };
    },

    DeleteReportGroup(input, ctx) {
      requireGroup(ctx, input.arn);
      if (!input.deleteReports && store.reportArns({ account: '', region: '' }, input.arn).length)
        throw invalidInput(
          `Cannot delete report group ${input.arn} because it has reports. Delete the reports first, or set deleteReports`,
        );
      store.deleteReportGroup(input.arn);
      return {};
    },

    ListReportGroups(input, ctx) {
      const by = input.sortBy ?? 'CREATED_TIME';
      const rows = store.reportGroups(ctx);
      rows.sort((a, b) =>
        by === 'NAME'
          ? a.doc.name < b.doc.name
            ? -1
            : 1
          : by === 'CREATED_TIME'
            ? a.created - b.created
            : a.doc.lastModified - b.doc.lastModified,
      );
      if ((input.sortOrder ?? 'ASCENDING') === 'DESCENDING') rows.reverse();
      const p = page(
        rows.map((r) => r.doc.arn),
        input.nextToken,
        input.maxResults ?? 100,
      );
      return { reportGroups: p.items, nextToken: p.nextToken };
    },

    BatchGetReportGroups(input, ctx) {
      const { found, notFound } = batchGet(input.reportGroupArns, (a) => store.reportGroup(ctx, a));
      return { reportGroups: found, reportGroupsNotFound: notFound };
    },

    ListReports(input, ctx) {
      const arns = store.reportArns(ctx);
      if (input.sortOrder === 'ASCENDING') arns.reverse();
      const p = page(arns, input.nextToken, input.maxResults ?? 100);
      return { reports: p.items, nextToken: p.nextToken };
    },

    ListReportsForReportGroup(input, ctx) {
      requireGroup(ctx, input.reportGroupArn);
      const arns = store.reportArns(ctx, input.reportGroupArn);
      if (input.sortOrder === 'ASCENDING') arns.reverse();
      const p = page(arns, input.nextToken, input.maxResults ?? 100);
      return { reports: p.items, nextToken: p.nextToken };
    },

    BatchGetReports(input, ctx) {
      const { found, notFound } = batchGet(input.reportArns, (a) => store.report(ctx, a));
      return { reports: found, reportsNotFound: notFound };
    },

    DeleteReport(input, ctx) {
      // only the caller's own report; another account's is left alone (AWS answers success either way)
      if (store.report(ctx, input.arn)) store.deleteReport(input.arn);
      return {};
    },

    DescribeTestCases(input, ctx) {
      const report = store.report(ctx, input.reportArn);
      if (!report) throw notFound(`Report not found: ${input.reportArn}`);
      const max = input.maxResults ?? 100;
      if (max < 1 || max > 100) throw invalidInput('maxResults must be between 1 and 100');
      const status = input.filter?.status;
      const keyword = input.filter?.keyword?.toLowerCase();
      let after = input.nextToken ? Number(decodeToken(input.nextToken, badToken)) : 0;
      const testCases: TestCaseOut[] = [];
      // filtered pages scan forward in the report's own order, a bounded chunk at a time
      while (testCases.length < max) {
        const rows = store.testCases(input.reportArn, after, 500);
        if (rows.length === 0) break;
        for (const r of rows) {
          after = r.seq;
          if (status && r.status !== status) continue;
          if (keyword && !`${r.prefix} ${r.name}`.toLowerCase().includes(keyword)) continue;
          testCases.push({
            reportArn: r.report_arn,
            testRawDataPath: r.test_raw_data_path,
            prefix: r.prefix,
            name: r.name,
            status: r.status,
            durationInNanoSeconds: r.duration_ns,
            ...(r.message !== null && { message: r.message }),
            expired: r.expired,
          });
          if (testCases.length === max) break;
        }
      }
      const more = store.testCases(input.reportArn, after, 1).length > 0;
      return { testCases, nextToken: more ? encodeToken(after) : undefined };
    },
  };
}

/** Reads the build's report files and stores one report per group; returns the report ARNs. */
export async function recordReports(
  env: ServiceEnv,
  store: CodebuildStore,
  scope: Scope,
  doc: BuildDoc,
  spec: Buildspec,
  srcDir: string,
): Promise<string[]> {
  if (!spec.reports) return [];
  const arns: string[] = [];
  const now = env.clock.now();
  for (const result of await readReports(srcDir, spec.reports)) {
    let group: ReportGroupDoc | undefined;
    if (result.group.startsWith('arn:')) group = store.reportGroup(scope, result.group);
    else {
      const name = `${doc.projectName}-${result.group}`;
      group = store.reportGroupByName(scope, name);
      if (!group) {
        group = groupDoc(scope, name, 'TEST', { exportConfigType: 'NO_EXPORT' }, [], now);
        store.insertReportGroup(scope, group, now);
      }
    }
    if (!group) continue;
    const reportArn = arn('codebuild', scope, `report/${group.name}:${randomUUID()}`);
    const summary = summarize(result.testCases);
    const failed = summary.statusCounts.FAILED + summary.statusCounts.ERROR > 0;
    const report: ReportDoc = {
      arn: reportArn,
      type: group.type,
      name: group.name,
      reportGroupArn: group.arn,
      executionId: doc.arn,
      status: result.error && result.testCases.length === 0 ? 'INCOMPLETE' : failed ? 'FAILED' : 'SUCCEEDED',
      created: now,
      expired: now + EXPIRY_MS,
      exportConfig: group.exportConfig,
      truncated: false,
      testSummary: summary,
    };
    store.insertReport(
      scope,
      report,
      result.testCases.map((t) => ({
        test_raw_data_path: relative(srcDir, t.testRawDataPath) || t.testRawDataPath,
        prefix: t.prefix,
        name: t.name,
        status: t.status,
        duration_ns: t.durationInNanoSeconds,
        message: t.message ?? null,
        expired: now + EXPIRY_MS,
      })),
    );
    arns.push(reportArn);
  }
  return arns;
}
