/**
 * Buildspec parsing: the typed result of a full buildspec, the agent's string reading of scalars,
 * and the YAML_FILE_ERROR messages AWS records for bad buildspecs.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BuildspecError, parseBuildspec } from '../../src/services/codebuild/build/buildspec.js';

const err = (yaml: string): BuildspecError => {
  try {
    parseBuildspec(yaml);
  } catch (e) {
    assert.ok(e instanceof BuildspecError, String(e));
    assert.equal(e.statusCode, 'YAML_FILE_ERROR');
    return e;
  }
  assert.fail('expected a BuildspecError');
};

describe('parseBuildspec', () => {
  test('full 0.2 buildspec → typed result with defaults', () => {
    const spec = parseBuildspec(`version: 0.2
run-as: builder
env:
  shell: bash
  variables:
    JAVA_HOME: "/usr/lib/jvm/java-8-openjdk-amd64"
  parameter-store:
    LOGIN_PASSWORD: /CodeBuild/dockerLoginPassword
  secrets-manager:
    TOKEN: prod/token:key
  exported-variables:
    - IMAGE_TAG
  git-credential-helper: yes
proxy:
  upload-artifacts: no
phases:
  install:
    runtime-versions:
      nodejs: 18
      python: 3.x
    commands:
      - npm ci
    finally:
      - echo done
  build:
    on-failure: ABORT
    run-as: root
    commands:
      - npm test
  post_build:
    commands:
reports:
  arn:aws:codebuild:us-east-1:123456789012:report-group/unit:
    files:
      - "**/*"
    base-directory: target/reports
    discard-paths: no
  cucumber:
    files: cucumber/out.json
    file-format: CucumberJson
artifacts:
  files:
    - target/app.jar
  name: app-$(date +%Y)
  discard-paths: yes
  base-directory: out
  exclude-paths: ["**/*.map"]
  enable-symlinks: yes
  s3-prefix: builds
  secondary-artifacts:
    docs:
      files:
        - docs/**/*
cache:
  paths:
    - '/root/.m2/**/*'
unknown-top-level: ignored
`);
    assert.deepEqual(spec, {
      version: '0.2',
      runAs: 'builder',
      env: {
        shell: 'bash',
        variables: { JAVA_HOME: '/usr/lib/jvm/java-8-openjdk-amd64' },
        parameterStore: { LOGIN_PASSWORD: '/CodeBuild/dockerLoginPassword' },
        secretsManager: { TOKEN: 'prod/token:key' },
        exportedVariables: ['IMAGE_TAG'],
        gitCredentialHelper: true,
      },
      phases: {
        install: { runtimeVersions: { nodejs: '18', python: '3.x' }, commands: ['npm ci'], finally: ['echo done'], onFailure: 'ABORT' },
        build: { commands: ['npm test'], finally: [], onFailure: 'ABORT', onFailureExplicit: true, runAs: 'root' },
        post_build: { commands: [], finally: [], onFailure: 'CONTINUE' },
      },
      reports: {
        'arn:aws:codebuild:us-east-1:123456789012:report-group/unit': {
          files: ['**/*'],
          baseDirectory: 'target/reports',
          discardPaths: false,
          fileFormat: 'JUNITXML',
        },
        cucumber: { files: ['cucumber/out.json'], fileFormat: 'CUCUMBERJSON' },
      },
      artifacts: {
        files: ['target/app.jar'],
        name: 'app-$(date +%Y)',
        discardPaths: true,
        baseDirectory: 'out',
        excludePaths: ['**/*.map'],
        enableSymlinks: true,
        s3Prefix: 'builds',
      },
      secondaryArtifacts: { docs: { files: ['docs/**/*'] } },
      cache: { paths: ['/root/.m2/**/*'] },
    });
  });

  test('env variables and commands keep the source text of numbers and booleans, as the Go agent reads them', () => {
    const spec = parseBuildspec(`version: "0.2"
env:
  variables:
    VERSION: 0.10
    ENABLED: yes
    OFF: false
    COUNT: 010
    EMPTY:
    N: 1e3
    QUOTED: "007"
phases:
  build:
    commands:
      - 42
      - true
`);
    assert.deepEqual(spec.env!.variables, {
      VERSION: '0.10',
      ENABLED: 'yes',
      OFF: 'false',
      COUNT: '010',
      EMPTY: '',
      N: '1e3',
      QUOTED: '007',
    });
    assert.deepEqual(spec.phases.build!.commands, ['42', 'true']);
  });

  test('version 0.1 is accepted', () => {
    assert.equal(parseBuildspec('version: 0.1\nphases:\n  build:\n    commands:\n      - ls\n').version, '0.1');
  });

  test('phase defaults: INSTALL/PRE_BUILD abort the build, BUILD/POST_BUILD continue; an empty phase has no commands', () => {
    const spec = parseBuildspec(
      'version: 0.2\nphases:\n  install:\n  pre_build:\n    commands: []\n  build:\n    commands: [make]\n  post_build:\n    finally: [echo f]\n',
    );
    assert.deepEqual(Object.fromEntries(Object.entries(spec.phases).map(([k, v]) => [k, v.onFailure])), {
      install: 'ABORT',
      pre_build: 'ABORT',
      build: 'CONTINUE',
      post_build: 'CONTINUE',
    });
    assert.deepEqual(spec.phases.install, { commands: [], finally: [], onFailure: 'ABORT' });
    assert.deepEqual(spec.phases.post_build!.finally, ['echo f']);
  });

  test('a command with an unquoted ": " → AWS "Expected Commands[0] to be of string type: found subkeys instead"', () => {
    const e = err('version: 0.2\n\nphases:\n  build:\n    commands:\n     - echo "Hello: world"\n');
    assert.equal(
      e.message,
      'Expected Commands[0] to be of string type: found subkeys instead at line 6, value of the key tag on line 5 might be empty',
    );
    assert.equal(e.display, `YAML_FILE_ERROR: ${e.message}`);
    assert.match(
      err('version: 0.2\nphases:\n  build:\n    commands:\n      - ls\n    finally:\n      - ok\n      - a: b\n').message,
      /^Expected Finally\[1\] to be of string type: found subkeys instead at line 8/,
    );
  });

  test('YAML syntax errors → go-yaml wording with the line', () => {
    assert.equal(err('version: 0.2\nphases:\n\tbuild:\n').message, 'found character that cannot start any token at line 3');
    assert.equal(err('version: 0.2\nphases:\n  build:\n    commands: [ls, pwd\n').message, "did not find expected ',' or ']' at line 5");
    assert.match(err('version: 0.2\nphases: build: x\n').message, /^mapping values are not allowed in this context at line 2/);
  });

  test('missing or unsupported version, missing phases, empty file → YAML_FILE_ERROR', () => {
    assert.match(err('phases:\n  build:\n    commands: [ls]\n').message, /^missing version/);
    assert.match(err('version: 0.3\nphases:\n  build:\n    commands: [ls]\n').message, /^invalid buildspec version 0\.3 at line 1/);
    assert.match(err('version: 0.2\n').message, /^missing phases/);
    assert.equal(err('').message, 'YAML file is empty');
    assert.match(err('- a\n- b\n').message, /^Expected buildspec to be of map type: found list instead/);
  });

  test('wrong types and unknown keys → YAML_FILE_ERROR naming the key and line', () => {
    assert.match(
      err('version: 0.2\nphases:\n  build:\n    commands:\n      x: y\n').message,
      /^Expected Commands to be of list type: found subkeys instead at line 5/,
    );
    assert.match(err('version: 0.2\nphases:\n  build:\n    command:\n      - ls\n').message, /^unknown key command in build at line 4/);
    assert.match(err('version: 0.2\nphases:\n  test:\n    commands: [ls]\n').message, /^unknown phase name test at line 3/);
    assert.match(
      err('version: 0.2\nphases:\n  build:\n    on-failure: SKIP\n    commands: [ls]\n').message,
      /^invalid on-failure value SKIP at line 4: allowed values are ABORT, CONTINUE, RETRY, RETRY-<count>, RETRY-<regex> and RETRY-<count>-<regex>$/,
    );
    assert.match(
      err('version: 0.2\nenv:\n  variables:\n    - A=1\nphases: {}\n').message,
      /^Expected variables to be of map type: found list instead at line 4/,
    );
    assert.match(
      err('version: 0.2\nenv:\n  variables:\n    A:\n      nested: 1\nphases: {}\n').message,
      /^Expected A to be of string type: found subkeys instead at line 5/,
    );
    assert.match(err('version: 0.2\nphases: {}\nartifacts:\n  name: x\n').message, /^missing files in artifacts/);
    assert.match(
      err('version: 0.2\nphases: {}\nartifacts:\n  files: [a]\n  discard-paths: maybe\n').message,
      /^Expected discard-paths to be of bool type/,
    );
    assert.match(err('version: 0.2\nenv:\n  exported-variables: ["BAD NAME"]\nphases: {}\n').message, /^invalid exported variable name/);
  });

  test('on-failure RETRY, RETRY-<count>, RETRY-<regex>, RETRY-<count>-<regex>: count 3 and regex .* unless given', () => {
    const retry = (v: string) => {
      const b = parseBuildspec(`version: 0.2\nphases:\n  build:\n    on-failure: ${JSON.stringify(v)}\n    commands: [ls]\n`).phases.build!;
      assert.equal(b.onFailure, 'RETRY');
      assert.equal(b.onFailureExplicit, true);
      return b.retry;
    };
    assert.deepEqual(retry('RETRY'), { count: 3, pattern: '.*' });
    assert.deepEqual(retry('RETRY-5'), { count: 5, pattern: '.*' });
    assert.deepEqual(retry('RETRY-0'), { count: 0, pattern: '.*' });
    assert.deepEqual(retry('RETRY-100'), { count: 100, pattern: '.*' });
    assert.deepEqual(retry('RETRY-timed out'), { count: 3, pattern: 'timed out' });
    assert.deepEqual(retry('RETRY-2-exit status (1|2)'), { count: 2, pattern: 'exit status (1|2)' });
    assert.deepEqual(retry('RETRY-2-3'), { count: 2, pattern: '3' });
    assert.deepEqual(retry('RETRY-a-b'), { count: 3, pattern: 'a-b' });
    assert.deepEqual(retry('RETRY-(?i)throttl'), { count: 3, pattern: '(?i)throttl' });
    // ABORT and CONTINUE carry no retry
    assert.equal(parseBuildspec('version: 0.2\nphases:\n  build:\n    on-failure: CONTINUE\n').phases.build!.retry, undefined);
  });

  test('bad RETRY values → YAML_FILE_ERROR naming the value and line', () => {
    const bad = (v: string) => err(`version: 0.2\nphases:\n  install:\n    on-failure: ${JSON.stringify(v)}\n    commands: [ls]\n`);
    assert.equal(bad('RETRY-101').message, 'invalid on-failure value RETRY-101 at line 4: the retry count must be between 0 and 100');
    assert.equal(bad('RETRY-').message, 'invalid on-failure value RETRY- at line 4: the retry regex is empty');
    assert.equal(bad('RETRY-2-').message, 'invalid on-failure value RETRY-2- at line 4: the retry regex is empty');
    assert.match(
      bad('RETRY-2-(unclosed').message,
      /^invalid on-failure value RETRY-2-\(unclosed at line 4: invalid retry regex \(unclosed: /,
    );
    assert.match(bad('retry').message, /^invalid on-failure value retry at line 4: allowed values are/);
    assert.match(bad('RETRY3').message, /^invalid on-failure value RETRY3 at line 4: allowed values are/);
    assert.equal(bad('RETRY-101').statusCode, 'YAML_FILE_ERROR');
  });

  test('a single string where a list is expected counts as a one-item list', () => {
    const spec = parseBuildspec('version: 0.2\nphases:\n  build:\n    commands: make all\nartifacts:\n  files: out/app\n');
    assert.deepEqual(spec.phases.build!.commands, ['make all']);
    assert.deepEqual(spec.artifacts!.files, ['out/app']);
  });

  test('multi-line block scalars keep their newlines', () => {
    const spec = parseBuildspec(
      'version: 0.2\nphases:\n  build:\n    commands:\n      - |\n        if true; then\n          echo yes\n        fi\n',
    );
    assert.equal(spec.phases.build!.commands[0], 'if true; then\n  echo yes\nfi\n');
  });
});
