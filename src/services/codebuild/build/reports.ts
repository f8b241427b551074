/**
 * Test reports: the buildspec's `reports` groups → test cases as DescribeTestCases returns them,
 * plus the TestReportSummary of a report. Reads JUnit XML (JUNITXML) and Cucumber JSON
 * (CUCUMBERJSON); any other file-format yields a group with an error naming it.
 *
 * JUnit: one test case per <testcase>; prefix = its classname (the enclosing <testsuite> name when
 * there is none), name = its name, time (seconds) → nanoseconds; <failure> → FAILED, <error> →
 * ERROR, <skipped> → SKIPPED, else SUCCEEDED; message = the failure/error message and text.
 * Cucumber: one test case per scenario; prefix = the feature name, name = the scenario name,
 * duration = the sum of its step durations (already nanoseconds); any failed step → FAILED,
 * else any skipped/pending/undefined step → SKIPPED, else SUCCEEDED.
 */
import { readFile } from 'node:fs/promises';
import { XMLParser } from 'fast-xml-parser';
import type { Buildspec } from './buildspec.js';
import { NoMatchingArtifactError, selectArtifactFiles } from './artifactFiles.js';

export type TestStatus = 'SUCCEEDED' | 'FAILED' | 'ERROR' | 'SKIPPED' | 'UNKNOWN';
export const TEST_STATUSES: readonly TestStatus[] = ['SUCCEEDED', 'FAILED', 'ERROR', 'SKIPPED', 'UNKNOWN'];

export interface TestCase {
  /** Absolute path of the report file the case came from (the runner may rewrite it to where it stored the file). */
  testRawDataPath: string;
  prefix: string;
  name: string;
  status: TestStatus;
  durationInNanoSeconds: number;
  message?: string;
  expired?: Date;
}

export interface GroupResult {
  /** The report group name or ARN as written in the buildspec. */
  group: string;
  format: string;
  /** Report files read (absolute paths). */
  files: string[];
  testCases: TestCase[];
  error?: string;
}

const SUPPORTED = new Set(['JUNITXML', 'CUCUMBERJSON']);

export async function readReports(rootDir: string, reports: Buildspec['reports']): Promise<GroupResult[]> {
  const out: GroupResult[] = [];
  for (const [group, spec] of Object.entries(reports ?? {})) {
    const format = spec.fileFormat.toUpperCase();
    const result: GroupResult = { group, format, files: [], testCases: [] };
    out.push(result);
    if (!SUPPORTED.has(format)) {
      result.error = `Unsupported report file format: ${format}. Supported formats are JUNITXML and CUCUMBERJSON`;
      continue;
    }
    let files: string[];
    try {
      files = (await selectArtifactFiles(rootDir, { files: spec.files, baseDirectory: spec.baseDirectory })).map((f) => f.path);
    } catch (err) {
      if (!(err instanceof NoMatchingArtifactError)) throw err;
      result.error = 'no matching report paths found';
      continue;
    }
    result.files = files;
    const errors: string[] = [];
    for (const file of files) {
      try {
        const text = await readFile(file, 'utf8');
        result.testCases.push(...(format === 'JUNITXML' ? parseJunitXml(text, file) : parseCucumberJson(text, file)));
      } catch (err) {
        errors.push(`${file}: ${(err as Error).message}`);
      }
    }
    if (errors.length) result.error = `Error parsing report files: ${errors.join('; ')}`;
  }
  return out;
}

/** TestReportSummary: total, per-status counts (every status present, zero included) and total duration. */
export function summarize(testCases: readonly Pick<TestCase, 'status' | 'durationInNanoSeconds'>[]): {
  total: number;
  statusCounts: Record<string, number>;
  durationInNanoSeconds: number;
} {
  const statusCounts: Record<string, number> = Object.fromEntries(TEST_STATUSES.map((s) => [s, 0]));
  let duration = 0;
  for (const t of testCases) {
    statusCounts[t.status] = (statusCounts[t.status] ?? 0) + 1;
    duration += t.durationInNanoSeconds;
  }
  return { total: testCases.length, statusCounts, durationInNanoSeconds: duration };
}

/** Seconds (JUnit `time`, possibly "1,234.5") → whole nanoseconds; 0 when absent or unreadable. */
export function secondsToNanos(time: unknown): number {
  if (time == null || time === '') return 0;
  const n = Number(String(time).trim().replace(/,/g, ''));
  return Number.isFinite(n) && n > 0 ? Math.round(n * 1e9) : 0;
}

const xml = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  textNodeName: '#text',
  parseAttributeValue: false,
  parseTagValue: false,
  trimValues: false,
  processEntities: true,
  isArray: (name) => ['testsuite', 'testcase', 'failure', 'error', 'skipped'].includes(name),
});

/** A parsed XML element or JSON object, of whatever shape the report file has. */
type XmlNode = Record<string, unknown>;

const text = (n: unknown): string => {
  if (n == null) return '';
  if (typeof n === 'string') return n;
  if (typeof n === 'object') return String((n as XmlNode)['#text'] ?? '');
  return String(n);
};

function failureMessage(nodes: XmlNode[] | undefined): string | undefined {
  const n = nodes?.[0];
  if (n === undefined) return undefined;
  const msg = typeof n === 'object' ? (n['@message'] as string | undefined) : undefined;
  const body = text(n).trim();
  const joined = [msg, body].filter((s) => s && s.length).join('\n');
  return joined || undefined;
}

export function parseJunitXml(source: string, file: string): TestCase[] {
  if (!/<\s*(testsuites|testsuite)\b/.test(source)) throw new Error('not a JUnit XML report: no <testsuites> or <testsuite> element');
  let doc: XmlNode;
  try {
    doc = xml.parse(source, true) as XmlNode;
  } catch (err) {
    throw new Error(`invalid XML: ${(err as Error).message}`);
  }
  const cases: TestCase[] = [];
  const visitSuite = (suite: XmlNode) => {
    if (typeof suite !== 'object' || suite === null) return;
    const suiteName = String(suite['@name'] ?? '');
    for (const tc of (suite['testcase'] as XmlNode[] | undefined) ?? []) {
      const c: XmlNode = typeof tc === 'object' && tc !== null ? tc : {};
      // the parser makes every <failure>, <error> and <skipped> a list (isArray above)
      const failure = failureMessage(c['failure'] as XmlNode[] | undefined);
      const error = failureMessage(c['error'] as XmlNode[] | undefined);
      let status: TestStatus = 'SUCCEEDED';
      let message: string | undefined;
      if (c['failure']) [status, message] = ['FAILED', failure];
      else if (c['error']) [status, message] = ['ERROR', error];
      else if (c['skipped']) [status, message] = ['SKIPPED', failureMessage(c['skipped'] as XmlNode[] | undefined)];
      const t: TestCase = {
        testRawDataPath: file,
        prefix: String(c['@classname'] ?? '') || suiteName,
        name: String(c['@name'] ?? ''),
        status,
        durationInNanoSeconds: secondsToNanos(c['@time']),
      };
      if (message) t.message = message;
      cases.push(t);
    }
    for (const nested of (suite['testsuite'] as XmlNode[] | undefined) ?? []) visitSuite(nested);
  };
  const roots = doc['testsuites'] as XmlNode | undefined;
  if (roots !== undefined) for (const s of (roots?.['testsuite'] as XmlNode[] | undefined) ?? []) visitSuite(s);
  for (const s of (doc['testsuite'] as XmlNode[] | undefined) ?? []) visitSuite(s);
  return cases;
}

export function parseCucumberJson(source: string, file: string): TestCase[] {
  let features: unknown;
  try {
    features = JSON.parse(source);
  } catch (err) {
    throw new Error(`invalid JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(features)) throw new Error('not a Cucumber JSON report: expected an array of features');
  const cases: TestCase[] = [];
  for (const f of features as XmlNode[]) {
    const prefix = String(f?.name ?? '');
    for (const el of (f?.elements as XmlNode[] | undefined) ?? []) {
      if (el?.type === 'background') continue;
      const steps: XmlNode[] = [
        ...((el?.before as XmlNode[]) ?? []),
        ...((el?.steps as XmlNode[]) ?? []),
        ...((el?.after as XmlNode[]) ?? []),
      ];
      let duration = 0;
      let status: TestStatus = 'SUCCEEDED';
      let message: string | undefined;
      for (const s of steps) {
        const r = (s?.result ?? {}) as XmlNode;
        duration += typeof r.duration === 'number' && r.duration > 0 ? Math.round(r.duration) : 0;
        const st = String(r.status ?? '').toLowerCase();
        if (st === 'failed' || st === 'ambiguous') {
          if (status !== 'FAILED') message = r.error_message ? String(r.error_message) : undefined;
          status = 'FAILED';
        } else if ((st === 'skipped' || st === 'pending' || st === 'undefined') && status === 'SUCCEEDED') status = 'SKIPPED';
        else if (st !== 'passed' && st !== 'skipped' && st !== 'pending' && st !== 'undefined' && status === 'SUCCEEDED')
          status = 'UNKNOWN';
      }
      const t: TestCase = { testRawDataPath: file, prefix, name: String(el?.name ?? ''), status, durationInNanoSeconds: duration };
      if (message) t.message = message;
      cases.push(t);
    }
  }
  return cases;
}
