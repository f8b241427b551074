/**
 * Artifact file selection (globs, base-directory, discard-paths, exclude-paths, root escape) and
 * test reports (JUnit XML, Cucumber JSON → DescribeTestCases test cases, TestReportSummary).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  globToRegExp,
  normalizePattern,
  NoMatchingArtifactError,
  selectArtifactFiles,
} from '../../src/services/codebuild/build/artifactFiles.js';
import { parseCucumberJson, parseJunitXml, readReports, secondsToNanos, summarize } from '../../src/services/codebuild/build/reports.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'cbart-'));
  dirs.push(root);
  for (const [p, body] of Object.entries(files)) {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    writeFileSync(join(root, p), body);
  }
  return root;
}

describe('globToRegExp', () => {
  const m = (glob: string, path: string) => globToRegExp(glob).test(path);
  test('** spans directories, * and ? stay within a segment, dotfiles match', () => {
    assert.ok(m('**/*', 'a'));
    assert.ok(m('**/*', 'a/b/c.txt'));
    assert.ok(m('**/*', '.hidden/x'));
    assert.ok(m('*', 'top.txt'));
    assert.ok(!m('*', 'dir/file'));
    assert.ok(m('dir/*', 'dir/file'));
    assert.ok(!m('dir/*', 'dir/sub/file'));
    assert.ok(m('dir/**/*', 'dir/sub/deeper/file'));
    assert.ok(m('dir/**/*', 'dir/file'));
    assert.ok(m('a/**/b.txt', 'a/b.txt'));
    assert.ok(m('a/**/b.txt', 'a/x/y/b.txt'));
    assert.ok(!m('a/**/b.txt', 'ab.txt'));
    assert.ok(m('dist/**', 'dist/x/y'));
    assert.ok(m('*.jar', 'app.jar'));
    assert.ok(!m('*.jar', 'app.jarx'));
    assert.ok(m('file?.txt', 'file1.txt'));
    assert.ok(!m('file?.txt', 'file/.txt'));
    assert.ok(m('[ab]*.js', 'b1.js'));
    assert.ok(!m('[!ab]*.js', 'b1.js'));
    assert.ok(m('*.{js,map}', 'x.map'));
    assert.ok(m('a.b+c(d)', 'a.b+c(d)'));
    assert.ok(!m('a.b', 'axb'));
  });

  test('normalizePattern strips ./ and refuses paths that leave the root', () => {
    assert.equal(normalizePattern('./target//app.jar'), 'target/app.jar');
    assert.equal(normalizePattern('dist/'), 'dist');
    assert.equal(normalizePattern('../secret'), undefined);
    assert.equal(normalizePattern('a/../../b'), undefined);
    assert.equal(normalizePattern('/etc/passwd'), undefined);
  });
});

describe('selectArtifactFiles', () => {
  const root = tree({
    'buildspec.yml': '',
    'target/app.jar': 'jar',
    'target/classes/A.class': '',
    'target/app.jar.map': '',
    'my-build1/my-file1.txt': '',
    'my-build2/my-file2.txt': '',
    'my-build2/my-subdirectory/my-file3.txt': '',
    'dist/index.html': '',
    'dist/assets/app.js': '',
  });
  const names = async (spec: Parameters<typeof selectArtifactFiles>[1]) =>
    (await selectArtifactFiles(root, spec)).map((f) => f.name).sort();

  test('**/* takes every file with its path; absolute paths point into the root', async () => {
    const files = await selectArtifactFiles(root, { files: ['**/*'] });
    assert.equal(files.length, 9);
    const jar = files.find((f) => f.name === 'target/app.jar')!;
    assert.equal(jar.path, join(root, 'target/app.jar'));
  });

  test('single files, dir/*, and a bare directory name', async () => {
    assert.deepEqual(await names({ files: ['target/app.jar', 'target/*'] }), ['target/app.jar', 'target/app.jar.map']);
    assert.deepEqual(await names({ files: ['dist'] }), ['dist/assets/app.js', 'dist/index.html']);
  });

  test('base-directory: names are relative to it (AWS doc example: */my-file3.txt in my-build2)', async () => {
    assert.deepEqual(await names({ files: ['*/my-file3.txt'], baseDirectory: 'my-build2' }), ['my-subdirectory/my-file3.txt']);
  });

  test("base-directory glob 'my-build*' with discard-paths → the flat list from the AWS doc", async () => {
    assert.deepEqual(await names({ files: ['**/*'], baseDirectory: 'my-build*', discardPaths: true }), [
      'my-file1.txt',
      'my-file2.txt',
      'my-file3.txt',
    ]);
  });

  test('exclude-paths removes matches (relative to the base directory)', async () => {
    assert.deepEqual(await names({ files: ['target/**/*'], excludePaths: ['**/*.map', 'target/classes/**/*'] }), ['target/app.jar']);
  });

  test('nothing matching, or only paths outside the root → NoMatchingArtifactError (CLIENT_ERROR)', async () => {
    await assert.rejects(selectArtifactFiles(root, { files: ['nope/*.zip'] }), (e: unknown) => {
      assert.ok(e instanceof NoMatchingArtifactError);
      assert.equal(e.statusCode, 'CLIENT_ERROR');
      assert.equal(e.display, 'CLIENT_ERROR: no matching artifact paths found');
      return true;
    });
    await assert.rejects(selectArtifactFiles(root, { files: ['../**/*', '/etc/passwd'] }), NoMatchingArtifactError);
    await assert.rejects(selectArtifactFiles(root, { files: ['**/*'], baseDirectory: '../' }), NoMatchingArtifactError);
  });

  test('symlinks: followed inside the root, skipped when they point outside; kept as links with enable-symlinks', async () => {
    const r = tree({ 'real/file.txt': 'x' });
    const outside = tree({ 'secret.txt': 's' });
    symlinkSync(join(r, 'real/file.txt'), join(r, 'link.txt'));
    symlinkSync(join(outside, 'secret.txt'), join(r, 'escape.txt'));
    symlinkSync(r, join(r, 'real/loop'));
    const plain = (await selectArtifactFiles(r, { files: ['**/*'] })).map((f) => f.name).sort();
    assert.deepEqual(plain, ['link.txt', 'real/file.txt']);
    const kept = await selectArtifactFiles(r, { files: ['link.txt'], enableSymlinks: true });
    assert.deepEqual(kept, [{ path: join(r, 'link.txt'), name: 'link.txt', linkTarget: join(r, 'real/file.txt') }]);
  });
});

const JUNIT = `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="all" tests="5">
  <testsuite name="com.example.MathTest" tests="4" time="1.5">
    <testcase name="adds" classname="com.example.MathTest" time="0.25"/>
    <testcase name="divides" classname="com.example.MathTest" time="1,000.5">
      <failure message="expected 2 but was 3" type="AssertionError">at MathTest.java:12</failure>
    </testcase>
    <testcase name="explodes" classname="com.example.MathTest" time="0.001">
      <error message="NullPointerException"/>
    </testcase>
    <testcase name="later" classname="com.example.MathTest"><skipped/></testcase>
    <testsuite name="nested">
      <testcase name="inner &amp; quoted" time="2"/>
    </testsuite>
  </testsuite>
</testsuites>`;

describe('reports', () => {
  test('JUnit XML → prefix from classname (suite name when absent), status from failure/error/skipped, seconds → ns', () => {
    assert.deepEqual(parseJunitXml(JUNIT, '/r.xml'), [
      { testRawDataPath: '/r.xml', prefix: 'com.example.MathTest', name: 'adds', status: 'SUCCEEDED', durationInNanoSeconds: 250_000_000 },
      {
        testRawDataPath: '/r.xml',
        prefix: 'com.example.MathTest',
        name: 'divides',
        status: 'FAILED',
        durationInNanoSeconds: 1_000_500_000_000,
        message: 'expected 2 but was 3\nat MathTest.java:12',
      },
      {
        testRawDataPath: '/r.xml',
        prefix: 'com.example.MathTest',
        name: 'explodes',
        status: 'ERROR',
        durationInNanoSeconds: 1_000_000,
        message: 'NullPointerException',
      },
      { testRawDataPath: '/r.xml', prefix: 'com.example.MathTest', name: 'later', status: 'SKIPPED', durationInNanoSeconds: 0 },
      { testRawDataPath: '/r.xml', prefix: 'nested', name: 'inner & quoted', status: 'SUCCEEDED', durationInNanoSeconds: 2_000_000_000 },
    ]);
    assert.equal(parseJunitXml('<testsuite name="solo"><testcase name="t" classname="" time="0.1"/></testsuite>', 'f')[0]!.prefix, 'solo');
    assert.throws(() => parseJunitXml('{"not":"xml"}', 'f'), /not a JUnit XML report/);
    assert.equal(secondsToNanos('bogus'), 0);
  });

  test('Cucumber JSON → one case per scenario, prefix = feature, durations summed, failed/skipped steps', () => {
    const cucumber = JSON.stringify([
      {
        name: 'Login',
        elements: [
          { type: 'background', name: 'bg', steps: [{ result: { status: 'passed', duration: 5 } }] },
          {
            type: 'scenario',
            name: 'good password',
            steps: [{ result: { status: 'passed', duration: 1000 } }, { result: { status: 'passed', duration: 2000 } }],
          },
          {
            type: 'scenario',
            name: 'bad password',
            steps: [{ result: { status: 'failed', duration: 10, error_message: 'boom' } }, { result: { status: 'skipped' } }],
          },
          { type: 'scenario', name: 'todo', steps: [{ result: { status: 'undefined' } }] },
        ],
      },
    ]);
    assert.deepEqual(parseCucumberJson(cucumber, '/c.json'), [
      { testRawDataPath: '/c.json', prefix: 'Login', name: 'good password', status: 'SUCCEEDED', durationInNanoSeconds: 3000 },
      { testRawDataPath: '/c.json', prefix: 'Login', name: 'bad password', status: 'FAILED', durationInNanoSeconds: 10, message: 'boom' },
      { testRawDataPath: '/c.json', prefix: 'Login', name: 'todo', status: 'SKIPPED', durationInNanoSeconds: 0 },
    ]);
    assert.throws(() => parseCucumberJson('<xml/>', 'f'), /invalid JSON/);
  });

  test('readReports: files by glob under base-directory, unsupported format and missing files reported per group', async () => {
    const root = tree({
      'target/reports/a.xml': JUNIT,
      'target/reports/sub/b.xml': '<testsuite name="b"><testcase name="x"/></testsuite>',
      'target/reports/bad.xml': '<testsuite><testcase',
    });
    const groups = await readReports(root, {
      unit: { files: ['**/*.xml'], baseDirectory: 'target/reports', fileFormat: 'JUNITXML' },
      trx: { files: ['*.trx'], fileFormat: 'VISUALSTUDIOTRX' },
      none: { files: ['missing/*.xml'], fileFormat: 'JUNITXML' },
    });
    const unit = groups.find((g) => g.group === 'unit')!;
    assert.equal(unit.testCases.length, 6);
    assert.match(unit.error ?? '', /bad\.xml/);
    assert.equal(unit.testCases.find((t) => t.name === 'x')!.testRawDataPath, join(root, 'target/reports/sub/b.xml'));
    assert.match(groups.find((g) => g.group === 'trx')!.error!, /Unsupported report file format: VISUALSTUDIOTRX/);
    assert.equal(groups.find((g) => g.group === 'none')!.error, 'no matching report paths found');
  });

  test('summarize → TestReportSummary with every status counted', () => {
    const s = summarize(parseJunitXml(JUNIT, 'f'));
    assert.deepEqual(s, {
      total: 5,
      statusCounts: { SUCCEEDED: 2, FAILED: 1, ERROR: 1, SKIPPED: 1, UNKNOWN: 0 },
      durationInNanoSeconds: 250_000_000 + 1_000_500_000_000 + 1_000_000 + 2_000_000_000,
    });
    assert.deepEqual(summarize([]), {
      total: 0,
      statusCounts: { SUCCEEDED: 0, FAILED: 0, ERROR: 0, SKIPPED: 0, UNKNOWN: 0 },
      durationInNanoSeconds: 0,
    });
  });
});
