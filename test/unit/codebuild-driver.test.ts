/**
 * The CodeBuild driver script, really run: each case generates the script from a buildspec and
 * runs it with dash (/bin/sh), busybox sh and bash, then checks the marker sequence and output.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parseBuildspec } from '../../src/services/codebuild/build/buildspec.js';
import { commandFailureContext, generateDriver, parseMarker, type Marker } from '../../src/services/codebuild/build/driver.js';

const NONCE = 'n0nce42';
const SHELLS: [string, string[]][] = [
  ['dash', ['/bin/sh']],
  ['busybox', ['busybox', 'sh']],
  ...(existsSync('/bin/bash') ? ([['bash', ['/bin/bash']]] as [string, string[]][]) : []),
];
const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

interface Run {
  markers: Marker[];
  /** Markers in compact text form, e.g. "phase-start BUILD", "command BUILD 0", "done 0". */
  seq: string[];
  /** Non-marker stdout lines. */
  out: string[];
  status: number | null;
}

function run(shell: string[], yaml: string, env: Record<string, string> = {}, viaStdin = false): Run {
  const cwd = mkdtempSync(join(tmpdir(), 'cbdrv-'));
  dirs.push(cwd);
  const script = generateDriver(parseBuildspec(yaml), { nonce: NONCE });
  // Run it as the runner may: the script on stdin (`sh -s`), so a command reading stdin must not eat it.
  const r = viaStdin
    ? spawnSync(shell[0]!, [...shell.slice(1), '-s'], { cwd, input: script, env: { PATH: process.env.PATH!, ...env }, encoding: 'utf8' })
    : spawnSync(shell[0]!, [...shell.slice(1), '-c', script, 'driver'], {
        cwd,
        env: { PATH: process.env.PATH!, ...env },
        encoding: 'utf8',
        input: 'STDIN-DATA\n',
      });
  const markers: Marker[] = [];
  const out: string[] = [];
  for (const line of r.stdout.split('\n').slice(0, -1)) {
    const m = parseMarker(line, NONCE);
    if (m) {
      if (m.before !== undefined) out.push(m.before);
      markers.push(m);
    } else out.push(line);
  }
  assert.ok(markers.filter((m) => m.kind === 'done').length <= 1, `more than one done marker:\n${r.stdout}`);
  return { markers, seq: markers.map(compact), out, status: r.status };
}

function compact(m: Marker): string {
  switch (m.kind) {
    case 'phase-start':
      return `phase-start ${m.phase}`;
    case 'command':
      return `command ${m.phase} ${m.finally ? 'f' : ''}${m.index}`;
    case 'command-failed':
      return `command-failed ${m.phase} ${m.finally ? 'f' : ''}${m.index} ${m.exitCode}`;
    case 'phase-retry':
      return `phase-retry ${m.phase} ${m.retry}`;
    case 'phase-end':
      return `phase-end ${m.phase} ${m.status}`;
    case 'exported':
      return `exported ${m.name}=${m.value}`;
    case 'done':
      return `done ${m.failed ? 1 : 0}`;
  }
}

const ok = (phase: string, n: number) => [
  `phase-start ${phase}`,
  ...Array.from({ length: n }, (_, i) => `command ${phase} ${i}`),
  `phase-end ${phase} SUCCEEDED`,
];

/** A buildspec whose `failIn` phase fails on its first command, with optional on-failure. */
const failing = (failIn: string, onFailure?: string) =>
  `version: 0.2\nphases:\n` +
  ['install', 'pre_build', 'build', 'post_build']
    .map(
      (p) =>
        `  ${p}:\n${p === failIn && onFailure ? `    on-failure: ${onFailure}\n` : ''}    commands:\n      - ${p === failIn ? 'exit_code=3; (exit 3)' : `echo in-${p}`}\n`,
    )
    .join('');

for (const [label, shell] of SHELLS) {
  describe(`driver under ${label}`, () => {
    test('all phases pass → every phase reported in order, empty phases included, done 0', () => {
      const r = run(shell, 'version: 0.2\nphases:\n  build:\n    commands:\n      - echo hello\n      - echo world\n');
      assert.deepEqual(r.seq, [...ok('INSTALL', 0), ...ok('PRE_BUILD', 0), ...ok('BUILD', 2), ...ok('POST_BUILD', 0), 'done 0']);
      assert.deepEqual(r.out, ['hello', 'world']);
    });

    const phaseFail = (phase: string) => [
      `phase-start ${phase}`,
      `command ${phase} 0`,
      `command-failed ${phase} 0 3`,
      `phase-end ${phase} FAILED`,
    ];
    const cases: [string, string | undefined, string[]][] = [
      ['install', undefined, [...phaseFail('INSTALL'), 'done 1']],
      ['install', 'ABORT', [...phaseFail('INSTALL'), 'done 1']],
      ['install', 'CONTINUE', [...phaseFail('INSTALL'), ...ok('PRE_BUILD', 1), ...ok('BUILD', 1), ...ok('POST_BUILD', 1), 'done 1']],
      ['pre_build', undefined, [...ok('INSTALL', 1), ...phaseFail('PRE_BUILD'), 'done 1']],
      ['pre_build', 'CONTINUE', [...ok('INSTALL', 1), ...phaseFail('PRE_BUILD'), ...ok('BUILD', 1), ...ok('POST_BUILD', 1), 'done 1']],
      ['build', undefined, [...ok('INSTALL', 1), ...ok('PRE_BUILD', 1), ...phaseFail('BUILD'), ...ok('POST_BUILD', 1), 'done 1']],
      ['build', 'CONTINUE', [...ok('INSTALL', 1), ...ok('PRE_BUILD', 1), ...phaseFail('BUILD'), ...ok('POST_BUILD', 1), 'done 1']],
      ['build', 'ABORT', [...ok('INSTALL', 1), ...ok('PRE_BUILD', 1), ...phaseFail('BUILD'), 'done 1']],
      ['post_build', undefined, [...ok('INSTALL', 1), ...ok('PRE_BUILD', 1), ...ok('BUILD', 1), ...phaseFail('POST_BUILD'), 'done 1']],
      ['post_build', 'ABORT', [...ok('INSTALL', 1), ...ok('PRE_BUILD', 1), ...ok('BUILD', 1), ...phaseFail('POST_BUILD'), 'done 1']],
    ];
    for (const [phase, onFailure, expected] of cases) {
      test(`failure in ${phase.toUpperCase()} with on-failure ${onFailure ?? '(default)'} → documented transition`, () => {
        assert.deepEqual(run(shell, failing(phase, onFailure)).seq, expected);
      });
    }

    test('a failing command skips the rest of its phase, finally still runs and sees CODEBUILD_BUILD_SUCCEEDING=0; later phases see 0 too', () => {
      const r = run(
        shell,
        `version: 0.2
phases:
  build:
    commands:
      - echo one
      - "false"
      - echo skipped
    finally:
      - echo "finally $CODEBUILD_BUILD_SUCCEEDING"
      - echo again
  post_build:
    commands:
      - echo "post $CODEBUILD_BUILD_SUCCEEDING"
`,
      );
      assert.deepEqual(r.seq, [
        ...ok('INSTALL', 0),
        ...ok('PRE_BUILD', 0),
        'phase-start BUILD',
        'command BUILD 0',
        'command BUILD 1',
        'command-failed BUILD 1 1',
        'command BUILD f0',
        'command BUILD f1',
        'phase-end BUILD FAILED',
        ...ok('POST_BUILD', 1),
        'done 1',
      ]);
      assert.deepEqual(r.out, ['one', 'finally 0', 'again', 'post 0']);
    });

    test('a failing finally command fails a phase whose commands passed', () => {
      const r = run(
        shell,
        'version: 0.2\nphases:\n  pre_build:\n    commands:\n      - echo a\n    finally:\n      - exit_code=5; (exit 5)\n      - echo b\n',
      );
      assert.deepEqual(r.seq.slice(2, 9), [
        'phase-start PRE_BUILD',
        'command PRE_BUILD 0',
        'command PRE_BUILD f0',
        'command-failed PRE_BUILD f0 5',
        'command PRE_BUILD f1',
        'phase-end PRE_BUILD FAILED',
        'done 1',
      ]);
    });

    test('version 0.2: export and cd persist across commands and phases', () => {
      const r = run(
        shell,
        `version: 0.2
phases:
  install:
    commands:
      - export GREETING=hi
      - mkdir -p deep/er && cd deep
  pre_build:
    commands:
      - cd er
      - LOCAL=unexported
  build:
    commands:
      - echo "$GREETING $LOCAL $(basename "$PWD")"
`,
      );
      assert.deepEqual(r.out, ['hi unexported er']);
      assert.equal(r.seq.at(-1), 'done 0');
    });

    test('version 0.1: every command runs in its own shell (no cd/variable carry-over)', () => {
      const r = run(
        shell,
        'version: 0.1\nphases:\n  build:\n    commands:\n      - export X=1; mkdir -p d; cd d\n      - echo "x=${X:-unset} $(basename "$PWD")"\n',
      );
      assert.match(r.out[0]!, /^x=unset cbdrv-/);
    });

    test('exported-variables: base64 values after POST_BUILD, empty when unset, AWS_* never exported', () => {
      const r = run(
        shell,
        `version: 0.2
env:
  exported-variables:
    - IMAGE_TAG
    - FROM_ENV
    - NEVER_SET
    - AWS_REGION
phases:
  build:
    commands:
      - export IMAGE_TAG="v1 é \\"q\\" $(echo x)"
`,
        { FROM_ENV: 'project-level', AWS_REGION: 'us-east-1' },
      );
      assert.deepEqual(r.seq.slice(-4), [
        'exported IMAGE_TAG=v1 é "q" x',
        'exported FROM_ENV=project-level',
        'exported NEVER_SET=',
        'done 0',
      ]);
    });

    test('quotes, $vars, backslashes, heredocs and block scalars run as written', () => {
      const r = run(
        shell,
        `version: 0.2
env:
  variables:
    NAME: world
phases:
  build:
    commands:
      - echo 'single $NAME' "double $NAME" \\$escaped
      - "echo \\"colon: ok\\" 'it''s' \`echo tick\`"
      - |
        cat <<EOF
        heredoc $NAME
        EOF
      - |
        if [ -n "$NAME" ]; then
          printf '%s\\n' "multi-line $NAME"
        fi
      - printf 'a\\\\b\\n'
`,
        { NAME: 'world' },
      );
      assert.deepEqual(r.out, ['single $NAME double world $escaped', 'colon: ok its tick', 'heredoc world', 'multi-line world', 'a\\b']);
      assert.equal(r.seq.at(-1), 'done 0');
    });

    test('a command reading stdin reads nothing, and does not eat the script fed on stdin', () => {
      const r = run(
        shell,
        'version: 0.2\nphases:\n  build:\n    commands:\n      - cat; echo "after-cat"\n      - read line || echo "eof"\n      - echo last\n',
        {},
        true,
      );
      assert.deepEqual(r.out, ['after-cat', 'eof', 'last']);
      assert.deepEqual(r.seq.slice(-2), ['phase-end POST_BUILD SUCCEEDED', 'done 0']);
    });

    test('exit in a command fails only that command: output so far kept, state from before it kept, the build goes on', () => {
      const r = run(
        shell,
        `version: 0.2
env:
  exported-variables: [V, W]
phases:
  build:
    commands:
      - export V=set; f() { echo "f sees $V"; }; printf partial
      - export W=lost; echo before; exit 7
      - echo never
    finally:
      - echo "finally V=$V W=\${W:-unset}"
  post_build:
    commands:
      - f; exit
      - echo never either
`,
      );
      assert.deepEqual(r.out, ['partial', 'before', 'finally V=set W=unset', 'f sees set']);
      assert.deepEqual(r.seq, [
        ...ok('INSTALL', 0),
        ...ok('PRE_BUILD', 0),
        'phase-start BUILD',
        'command BUILD 0',
        'command BUILD 1',
        'command-failed BUILD 1 7',
        'command BUILD f0',
        'phase-end BUILD FAILED',
        'phase-start POST_BUILD',
        'command POST_BUILD 0',
        // `exit` after a command that succeeded: the status is 0, which the driver counts as 1
        'command-failed POST_BUILD 0 1',
        'phase-end POST_BUILD FAILED',
        'exported V=set',
        'exported W=',
        'done 1',
      ]);
      assert.equal(r.status, 0);
    });

    // lib.sh exits; the commands that source it do not say so (the driver cannot tell from their text)
    const LIB = `printf 'echo sourced; V=from-lib; ex''it 4\\n' > lib.sh`;
    test('an exit the command text does not show (a sourced script): the EXIT trap reports it and the build goes on', () => {
      const r = run(
        shell,
        `version: 0.2
phases:
  pre_build:
    commands:
      - ${LIB}
      - export V=before
  build:
    commands:
      - . ./lib.sh
      - echo never
    finally:
      - echo "finally V=$V"
  post_build:
    commands:
      - echo "post V=$V succeeding=$CODEBUILD_BUILD_SUCCEEDING"
`,
      );
      assert.deepEqual(r.seq.slice(-9), [
        'phase-start BUILD',
        'command BUILD 0',
        'command-failed BUILD 0 4',
        'command BUILD f0',
        'phase-end BUILD FAILED',
        ...ok('POST_BUILD', 1),
        'done 1',
      ]);
      // the state is as the exit left it
      assert.deepEqual(r.out, ['sourced', 'finally V=from-lib', 'post V=from-lib succeeding=0']);
    });

    test("a hidden exit after a command whose text says exit (in that command's subshell) also goes on", () => {
      const r = run(
        shell,
        `version: 0.2
phases:
  pre_build:
    commands:
      - ${LIB}
      - echo "the word exit, but no exit"
  build:
    commands:
      - . ./lib.sh
  post_build:
    commands:
      - echo post
`,
      );
      assert.deepEqual(r.seq.slice(-7), [
        'command BUILD 0',
        'command-failed BUILD 0 4',
        'phase-end BUILD FAILED',
        ...ok('POST_BUILD', 1),
        'done 1',
      ]);
      assert.deepEqual(r.out, ['the word exit, but no exit', 'sourced', 'post']);
    });

    test('a second hidden exit ends the shell: no done marker (the runner reports the shell died)', () => {
      const r = run(
        shell,
        `version: 0.2\nphases:\n  pre_build:\n    commands:\n      - ${LIB}\n  build:\n    commands:\n      - . ./lib.sh\n  post_build:\n    commands:\n      - . ./lib.sh\n      - echo never\n`,
      );
      assert.deepEqual(r.seq.slice(-6), [
        'phase-start BUILD',
        'command BUILD 0',
        'command-failed BUILD 0 4',
        'phase-end BUILD FAILED',
        'phase-start POST_BUILD',
        'command POST_BUILD 0',
      ]);
      assert.ok(!r.seq.some((m) => m.startsWith('done')), r.seq.join('\n'));
      assert.ok(!r.out.includes('never'));
    });

    test('exit after set -e, and a background job started by a command that says exit does not hold the build', () => {
      const t0 = Date.now();
      const r = run(
        shell,
        'version: 0.2\nphases:\n  install:\n    commands:\n      - set -e\n      - sleep 2 >/dev/null 2>&1 & echo "bg, no exit"\n  build:\n    commands:\n      - echo a; exit 2\n  post_build:\n    commands:\n      - "false"\n      - echo never\n',
      );
      assert.ok(Date.now() - t0 < 1500, `took ${Date.now() - t0} ms`);
      assert.ok(r.seq.includes('command-failed BUILD 0 2'), r.seq.join('\n'));
      assert.ok(r.seq.includes('command-failed POST_BUILD 0 1'), r.seq.join('\n'));
      assert.deepEqual(r.out, ['bg, no exit', 'a']);
      assert.equal(r.seq.at(-1), 'done 1');
    });

    test('exit in a PRE_BUILD with on-failure CONTINUE: BUILD and POST_BUILD still run', () => {
      const r = run(
        shell,
        'version: 0.2\nphases:\n  pre_build:\n    on-failure: CONTINUE\n    commands:\n      - exit 1\n  build:\n    commands:\n      - echo built\n  post_build:\n    commands:\n      - echo "post $CODEBUILD_BUILD_SUCCEEDING"\n',
      );
      assert.deepEqual(r.seq, [
        ...ok('INSTALL', 0),
        'phase-start PRE_BUILD',
        'command PRE_BUILD 0',
        'command-failed PRE_BUILD 0 1',
        'phase-end PRE_BUILD FAILED',
        ...ok('BUILD', 1),
        ...ok('POST_BUILD', 1),
        'done 1',
      ]);
      assert.deepEqual(r.out, ['built', 'post 0']);
    });

    test('exit in a phase that aborts (PRE_BUILD by default) ends the build after its finally', () => {
      const r = run(
        shell,
        'version: 0.2\nphases:\n  pre_build:\n    commands:\n      - exit 4\n    finally:\n      - echo cleanup\n  build:\n    commands:\n      - echo never\n',
      );
      assert.deepEqual(r.seq.slice(-6), [
        'phase-start PRE_BUILD',
        'command PRE_BUILD 0',
        'command-failed PRE_BUILD 0 4',
        'command PRE_BUILD f0',
        'phase-end PRE_BUILD FAILED',
        'done 1',
      ]);
      assert.deepEqual(r.out, ['cleanup']);
    });

    test('exit in a version 0.1 command fails that command only', () => {
      const r = run(
        shell,
        'version: 0.1\nphases:\n  build:\n    commands:\n      - exit 3\n  post_build:\n    commands:\n      - echo post\n',
      );
      assert.deepEqual(r.seq.slice(-8), [
        'phase-start BUILD',
        'command BUILD 0',
        'command-failed BUILD 0 3',
        'phase-end BUILD FAILED',
        ...ok('POST_BUILD', 1),
        'done 1',
      ]);
    });

    test('the script fed on stdin (sh -s) survives commands that exit', () => {
      const r = run(
        shell,
        'version: 0.2\nphases:\n  build:\n    on-failure: CONTINUE\n    commands:\n      - exit 2\n  post_build:\n    commands:\n      - echo post\n',
        {},
        true,
      );
      assert.deepEqual(r.out, ['post']);
      assert.equal(r.seq.at(-1), 'done 1');
    });

    test('on-failure RETRY-2: a phase that fails once runs again from its first command, finally each time, and succeeds', () => {
      const r = run(
        shell,
        `version: 0.2
phases:
  pre_build:
    on-failure: RETRY-2
    commands:
      - echo "attempt $CODEBUILD_BUILD_SUCCEEDING"
      - if [ -f tried ]; then echo second; else touch tried; exit 1; fi
    finally:
      - echo cleanup
  build:
    commands:
      - echo "build $CODEBUILD_BUILD_SUCCEEDING"
`,
      );
      assert.deepEqual(r.seq, [
        ...ok('INSTALL', 0),
        'phase-start PRE_BUILD',
        'command PRE_BUILD 0',
        'command PRE_BUILD 1',
        'command-failed PRE_BUILD 1 1',
        'command PRE_BUILD f0',
        'phase-retry PRE_BUILD 1',
        'command PRE_BUILD 0',
        'command PRE_BUILD 1',
        'command PRE_BUILD f0',
        'phase-end PRE_BUILD SUCCEEDED',
        ...ok('BUILD', 1),
        ...ok('POST_BUILD', 0),
        'done 0',
      ]);
      assert.deepEqual(r.out, ['attempt 1', 'cleanup', 'attempt 1', 'second', 'cleanup', 'build 1']);
    });

    test('on-failure RETRY-2 that keeps failing: 3 attempts, then the default transition (PRE_BUILD aborts)', () => {
      const r = run(
        shell,
        'version: 0.2\nphases:\n  pre_build:\n    on-failure: RETRY-2\n    commands:\n      - echo try >> tries; false\n  build:\n    commands:\n      - echo never\n',
      );
      const attempt = ['command PRE_BUILD 0', 'command-failed PRE_BUILD 0 1'];
      assert.deepEqual(r.seq, [
        ...ok('INSTALL', 0),
        'phase-start PRE_BUILD',
        ...attempt,
        'phase-retry PRE_BUILD 1',
        ...attempt,
        'phase-retry PRE_BUILD 2',
        ...attempt,
        'phase-end PRE_BUILD FAILED',
        'done 1',
      ]);
    });

    test('on-failure RETRY (3 retries), RETRY-0, and a retried BUILD going on to POST_BUILD', () => {
      const always = (onFailure: string) =>
        run(
          shell,
          `version: 0.2\nphases:\n  build:\n    on-failure: ${onFailure}\n    commands:\n      - exit 5\n  post_build:\n    commands:\n      - echo post\n`,
        );
      const retry = always('RETRY');
      assert.deepEqual(
        retry.seq.filter((m) => m.startsWith('phase-retry')),
        ['phase-retry BUILD 1', 'phase-retry BUILD 2', 'phase-retry BUILD 3'],
      );
      assert.equal(retry.seq.filter((m) => m === 'command-failed BUILD 0 5').length, 4);
      assert.deepEqual(retry.seq.slice(-5), ['phase-end BUILD FAILED', ...ok('POST_BUILD', 1), 'done 1']);
      assert.deepEqual(retry.out, ['post']);
      const none = always('RETRY-0');
      assert.equal(none.seq.filter((m) => m.startsWith('phase-retry')).length, 0);
      assert.ok(none.seq.includes('phase-end BUILD FAILED'));
    });

    test('on-failure RETRY-<regex> and RETRY-<count>-<regex>: a retry only when the error message matches', () => {
      const spec = (onFailure: string) =>
        `version: 0.2\nphases:\n  build:\n    on-failure: ${JSON.stringify(onFailure)}\n    commands:\n      - echo x; (exit 3)\n`;
      const retries = (onFailure: string) => run(shell, spec(onFailure)).seq.filter((m) => m.startsWith('phase-retry')).length;
      // the message is "Error while executing command: echo x; (exit 3). Reason: exit status 3"
      assert.equal(retries('RETRY-exit status 3$'), 3);
      assert.equal(retries('RETRY-1-exit status 3$'), 1);
      assert.equal(retries('RETRY-2-command. echo x'), 2);
      assert.equal(retries('RETRY-2-exit status 4'), 0);
      assert.equal(retries('RETRY-(?i)REASON: EXIT'), 3);
    });

    test('a shell syntax error fails only its command; the build goes on to POST_BUILD', () => {
      const r = run(
        shell,
        'version: 0.2\nphases:\n  build:\n    commands:\n      - "if true; then"\n  post_build:\n    commands:\n      - echo post\n',
      );
      assert.deepEqual(r.seq.slice(-7, -1), [
        'command BUILD 0',
        'command-failed BUILD 0 2',
        'phase-end BUILD FAILED',
        'phase-start POST_BUILD',
        'command POST_BUILD 0',
        'phase-end POST_BUILD SUCCEEDED',
      ]);
      assert.deepEqual(r.out, ['post']);
      assert.equal(r.seq.at(-1), 'done 1');
    });

    test('a command changing IFS does not garble the markers', () => {
      const r = run(shell, 'version: 0.2\nphases:\n  build:\n    commands:\n      - IFS=,\n      - echo ok\n');
      assert.deepEqual(r.seq.slice(-2), ['phase-end POST_BUILD SUCCEEDED', 'done 0']);
    });

    test('set -e and set -u in a command do not break the driver; the failure is still reported', () => {
      const r = run(
        shell,
        'version: 0.2\nphases:\n  install:\n    commands:\n      - set -eu\n  build:\n    commands:\n      - "false"\n      - echo skipped\n  post_build:\n    commands:\n      - echo post\n',
      );
      assert.ok(r.seq.includes('command-failed BUILD 0 1'), r.seq.join('\n'));
      assert.equal(r.seq.at(-1), 'done 1');
    });
  });
}

describe('parseMarker', () => {
  test('recognizes every marker kind and rejects other nonces and malformed lines', () => {
    const t = `::opsbox:${NONCE}::`;
    assert.deepEqual(parseMarker(`${t} phase-start PRE_BUILD`, NONCE), { kind: 'phase-start', phase: 'PRE_BUILD' });
    assert.deepEqual(parseMarker(`${t} command BUILD 12`, NONCE), { kind: 'command', phase: 'BUILD', index: 12, finally: false });
    assert.deepEqual(parseMarker(`${t} command-failed BUILD f1 127`, NONCE), {
      kind: 'command-failed',
      phase: 'BUILD',
      index: 1,
      finally: true,
      exitCode: 127,
    });
    assert.deepEqual(parseMarker(`${t} phase-end INSTALL FAILED`, NONCE), { kind: 'phase-end', phase: 'INSTALL', status: 'FAILED' });
    assert.deepEqual(parseMarker(`${t} exported TAG ${Buffer.from('v 1').toString('base64')}`, NONCE), {
      kind: 'exported',
      name: 'TAG',
      value: 'v 1',
    });
    assert.deepEqual(parseMarker(`${t} exported TAG `, NONCE), { kind: 'exported', name: 'TAG', value: '' });
    assert.deepEqual(parseMarker(`${t} done 1`, NONCE), { kind: 'done', failed: true });
    assert.deepEqual(parseMarker(`no newline yet${t} done 0`, NONCE), { kind: 'done', failed: false, before: 'no newline yet' });
    for (const bad of [
      '::opsbox:other:: done 0',
      `${t} phase-start TEST`,
      `${t} command BUILD x`,
      `${t} done 2`,
      `${t} whatever`,
      'plain output',
    ])
      assert.equal(parseMarker(bad, NONCE), undefined, bad);
  });

  test('generateDriver refuses a nonce that could break the script', () => {
    assert.throws(() => generateDriver(parseBuildspec('version: 0.2\nphases: {}\n'), { nonce: "a' b" }));
  });

  test('commandFailureContext: AWS COMMAND_EXECUTION_ERROR wording', () => {
    assert.deepEqual(commandFailureContext('npm test', 1), {
      statusCode: 'COMMAND_EXECUTION_ERROR',
      message: 'Error while executing command: npm test. Reason: exit status 1',
    });
  });
});
