/**
 * The build driver: one POSIX sh script (dash, bash, busybox sh) that runs a buildspec's phases
 * INSTALL → PRE_BUILD → BUILD → POST_BUILD with CodeBuild's semantics, and the marker lines the
 * runner reads from its stdout to follow along.
 *
 * - version 0.2: every command is `eval`ed in a shell that carries the state of the commands before
 *   it, so cd/export/functions persist across commands and phases; 0.1: each command runs in its own
 *   subshell. Commands come in single-quoted, so quotes, $vars, heredocs and multi-line block scalars
 *   run exactly as written; stdin is /dev/null.
 * - A failing command skips the rest of its phase's commands; the phase's `finally` commands still
 *   run; the phase fails if any of them failed. ("Build specification reference": phases/*\/finally.)
 * - After a failed phase: INSTALL/PRE_BUILD end the build, BUILD goes on to POST_BUILD ("Build
 *   phase transitions"); an explicit on-failure ABORT ends it, CONTINUE goes to the next phase.
 *   CODEBUILD_BUILD_SUCCEEDING becomes 0 from the first failure on.
 * - on-failure RETRY[-<count>][-<regex>]: a failed phase runs again from its first command, up to
 *   <count> more times (3 unless given), when the error message of its first failure ("Error while
 *   executing command: X. Reason: exit status N", the phase context AWS records) matches <regex>
 *   (`.*` unless given). Once the retries are spent, the phase's default transition applies.
 *   Each retry is a `phase-retry` marker; the phase keeps one record, the last attempt's.
 * - A command that calls `exit` fails that command only, as on AWS; the build goes on (0.1: the
 *   command has its own subshell anyway). 0.2: a command whose text says `exit` runs in a subshell
 *   that, should the command return, runs the rest of the build itself; should it exit instead, the
 *   shell it was forked from, which holds the state from before the command, reports the command
 *   failed and carries on. An `exit` the text does not show (in a function or a sourced script)
 *   is caught by the EXIT trap, which reports the command failed and runs the rest of the build,
 *   with the state as the exit left it. That works once per shell: a second such exit ends the
 *   shell, and the runner reports its death. The driver keeps fds 8 and 9 for itself.
 */
import type { Buildspec, PhaseName } from './buildspec.js';
import { PHASE_NAMES, retryRegExp } from './buildspec.js';

export type Phase = 'INSTALL' | 'PRE_BUILD' | 'BUILD' | 'POST_BUILD';
export const DRIVER_PHASES: readonly Phase[] = ['INSTALL', 'PRE_BUILD', 'BUILD', 'POST_BUILD'];

export type Marker =
  | { kind: 'phase-start'; phase: Phase; before?: string }
  /** `index` counts within `commands`, or within `finally` when `finally` is true (written f<index>). */
  | { kind: 'command'; phase: Phase; index: number; finally: boolean; before?: string }
  | { kind: 'command-failed'; phase: Phase; index: number; finally: boolean; exitCode: number; before?: string }
  /** A failed attempt of an on-failure RETRY phase; `retry` (from 1) is the attempt that starts now, less one. */
  | { kind: 'phase-retry'; phase: Phase; retry: number; before?: string }
  | { kind: 'phase-end'; phase: Phase; status: 'SUCCEEDED' | 'FAILED'; before?: string }
  /** `value` is decoded; '' when the variable was unset. */
  | { kind: 'exported'; name: string; value: string; before?: string }
  | { kind: 'done'; failed: boolean; before?: string };

export const phaseKey = (phase: Phase): PhaseName => phase.toLowerCase() as PhaseName;

/** The command text a command/command-failed marker points at. */
export function commandOf(spec: Buildspec, phase: Phase, index: number, isFinally: boolean): string | undefined {
  const p = spec.phases[phaseKey(phase)];
  return (isFinally ? p?.finally : p?.commands)?.[index];
}

/**
 * The PhaseContext AWS records for a failed command; the log says
 * "Phase context status code: COMMAND_EXECUTION_ERROR Message: Error while executing command: X. Reason: exit status N".
 */
export function commandFailureContext(command: string, exitCode: number): { statusCode: string; message: string } {
  return { statusCode: 'COMMAND_EXECUTION_ERROR', message: `Error while executing command: ${command}. Reason: exit status ${exitCode}` };
}

/** Single-quotes `s` for sh: the only character that needs care is ' itself. NULs cannot pass through a shell word. */
export const shQuote = (s: string): string => `'${s.replace(/\0/g, '').replace(/'/g, `'\\''`)}'`;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** A command that may call `exit` itself (a false positive only costs a subshell). */
const EXIT_WORD = /(^|[^A-Za-z0-9_-])exit($|[^A-Za-z0-9_-])/;

const defaultTransition = (name: PhaseName): 'ABORT' | 'CONTINUE' => (name === 'install' || name === 'pre_build' ? 'ABORT' : 'CONTINUE');

/**
 * The exit statuses (1–255) for which a RETRY phase's regex matches the error message of `command`
 * failing: 'all' when every one does. The driver decides on a retry with a `case`, so it needs no
 * grep or regex engine of its own; JavaScript's RegExp stands in for the agent's Go regexp.
 */
function retryStatuses(pattern: string, command: string): string {
  const re = retryRegExp(pattern);
  const codes: number[] = [];
  for (let n = 1; n <= 255; n++) if (re.test(commandFailureContext(command, n).message)) codes.push(n);
  return codes.length === 255 ? 'all' : codes.join(' ');
}

/**
 * The driver script. The runner starts it once (`sh -s` with it on stdin, or `sh file`) with cwd =
 * the primary source directory and the build environment already set.
 *
 * The phases are a list of numbered steps run by `__opsbox_go` (phase start, each command, each
 * finally command, phase end); `__opsbox_pc` is the next step. The last line of the script calls
 * `__opsbox_go`, which always ends in `exit`, so nothing after it is ever read (it matters for `sh -s`).
 */
export function generateDriver(spec: Buildspec, opts: { nonce: string }): string {
  if (!/^[A-Za-z0-9_-]+$/.test(opts.nonce)) throw new Error('driver nonce must be [A-Za-z0-9_-]+');
  const tag = `::opsbox:${opts.nonce}::`;
  const isolated = spec.version === '0.1';
  const out: string[] = [];
  const w = (s: string) => out.push(s);

  w('# opsbox CodeBuild driver (generated)');
  // Markers go to stdout with printf (a builtin everywhere we run): nothing buffered, so output up to an `exit` is never lost.
  w(`__opsbox_m() { printf '%s\\n' "${tag} $1"; }`);
  w('__opsbox_fail=0; __opsbox_stop=0; __opsbox_pf=0; __opsbox_ph=; __opsbox_cur=; __opsbox_fin=0');
  w(
    '__opsbox_pc=0; __opsbox_try=0; __opsbox_rm=0; __opsbox_rx=; __opsbox_c=; __opsbox_rc=0; __opsbox_st=0; __opsbox_nest=0; __opsbox_past=',
  );
  w('CODEBUILD_BUILD_SUCCEEDING=1; export CODEBUILD_BUILD_SUCCEEDING');
  w('__opsbox_b64() { if command -v base64 >/dev/null 2>&1; then base64 | tr -d "\\n"; else busybox base64 | tr -d "\\n"; fi; }');
  // "Environment variables that start with AWS_" cannot be exported (env/exported-variables).
  const exported = (spec.env?.exportedVariables ?? []).filter((n) => NAME.test(n) && !n.startsWith('AWS_'));
  w('__opsbox_exports() {');
  for (const name of exported) w(`  __opsbox_m "exported ${name} $(printf '%s' "\${${name}:-}" | __opsbox_b64)"`);
  w('  :');
  w('}');
  // The build is failing from the first failed command on, so a phase's own finally block already sees 0.
  w('__opsbox_failing() { CODEBUILD_BUILD_SUCCEEDING=0; export CODEBUILD_BUILD_SUCCEEDING; }');
  // A failed command ($__opsbox_rc): the first failure of a phase attempt decides whether a RETRY phase runs again.
  w('__opsbox_failed() {');
  w('  __opsbox_m "command-failed $__opsbox_cur $__opsbox_rc"');
  w('  if [ "$__opsbox_pf" = 0 ]; then');
  w('    case " $__opsbox_rx " in *" all "* | *" $__opsbox_rc "*) __opsbox_rm=1 ;; *) __opsbox_rm=0 ;; esac');
  w('  fi');
  w('  __opsbox_pf=1; __opsbox_failing');
  w('}');
  // The shell is exiting before the build is done. In the subshell of a command whose text says
  // `exit` (__opsbox_nest=1, while that command runs), the exit status tells the shell it was forked
  // from. Otherwise a command exited this shell: it failed, and the build goes on from here.
  w('__opsbox_onexit() {');
  w('  __opsbox_rc=$1');
  w('  if [ "$__opsbox_fin" = 1 ]; then return 0; fi');
  w('  if [ "$__opsbox_nest" = 1 ]; then exit "$__opsbox_rc"; fi');
  w('  if [ "$__opsbox_rc" = 0 ]; then __opsbox_rc=1; fi');
  w('  if [ -n "$__opsbox_cur" ]; then __opsbox_failed; __opsbox_cur=; __opsbox_go; fi');
  w('  if [ -n "$__opsbox_ph" ]; then __opsbox_m "phase-end $__opsbox_ph FAILED"; fi');
  w('  __opsbox_exports');
  w('  __opsbox_fin=1; __opsbox_m "done 1"');
  w('}');
  w(`trap '__opsbox_onexit $?' EXIT`);
  // Command $__opsbox_c, reported as $__opsbox_cur. `command eval`: a syntax error or a failing
  // special builtin fails the command instead of killing the shell; `return N` in it is status N.
  w('__opsbox_eval() { command eval "$__opsbox_c"; }');
  w('__opsbox_run() {');
  w('  __opsbox_m "command $__opsbox_cur"; __opsbox_rc=0');
  w(`  ${isolated ? '( __opsbox_eval )' : '__opsbox_eval'} </dev/null || __opsbox_rc=$?`);
  w('  if [ "$__opsbox_rc" != 0 ]; then __opsbox_failed; fi; __opsbox_cur=');
  w('}');
  if (!isolated) {
    // A command whose text says `exit`: its subshell runs it, says so on fd 9 once it has returned
    // (the command itself does not get that fd 9), and then runs the rest of the build. Nothing on
    // fd 9 means the command made the subshell exit, with its status (`exit 0` counts as 1).
    w('__opsbox_nested() {');
    w('  __opsbox_m "command $__opsbox_cur"; __opsbox_rc=0; __opsbox_st=0; __opsbox_past=');
    w('  { __opsbox_past=$(');
    w('    (');
    w(`      __opsbox_nest=1; trap '__opsbox_onexit $?' EXIT`);
    w('      __opsbox_eval 9>/dev/null </dev/null || __opsbox_rc=$?');
    // (fds 8 and 9 to /dev/null rather than closed: dash loses track of an fd closed by exec and opened again)
    w('      __opsbox_nest=0; printf x >&9; exec 9>/dev/null');
    w('      if [ "$__opsbox_rc" != 0 ]; then __opsbox_failed; fi; __opsbox_cur=');
    w('      __opsbox_go');
    w('    ) 9>&1 1>&8 8>/dev/null');
    w('  ) || __opsbox_st=$?; } 8>&1');
    w('  if [ -n "$__opsbox_past" ]; then __opsbox_fin=1; exit 0; fi');
    w('  __opsbox_rc=$__opsbox_st; if [ "$__opsbox_rc" = 0 ]; then __opsbox_rc=1; fi');
    w('  __opsbox_failed; __opsbox_cur=');
    w('}');
  }

  // the steps; a phase after an aborting one ends the loop (`break`)
  const steps: string[][] = [];
  for (const name of PHASE_NAMES) {
    const phase = name.toUpperCase() as Phase;
    const p = spec.phases[name];
    const retry = p?.onFailure === 'RETRY' ? p.retry : undefined;
    const transition = p?.onFailure === 'ABORT' || p?.onFailure === 'CONTINUE' ? p.onFailure : defaultTransition(name);
    const first = steps.length + 1;
    steps.push([
      `if [ "$__opsbox_stop" = 0 ]; then __opsbox_ph=${phase}; __opsbox_pf=0; __opsbox_try=0; __opsbox_m 'phase-start ${phase}'`,
      'else break; fi',
    ]);
    const command = (label: string, cmd: string, guarded: boolean) => {
      const rx = retry ? `; __opsbox_rx='${retryStatuses(retry.pattern, cmd)}'` : '';
      const how = !isolated && EXIT_WORD.test(cmd) ? '__opsbox_nested' : '__opsbox_run';
      const run = `__opsbox_cur='${phase} ${label}'; __opsbox_c=${shQuote(cmd)}${rx}; ${how}`;
      steps.push(guarded ? [`if [ "$__opsbox_pf" = 0 ]; then`, `  ${run}`, 'fi'] : [run]);
    };
    (p?.commands ?? []).forEach((cmd, i) => command(String(i), cmd, true));
    (p?.finally ?? []).forEach((cmd, i) => command(`f${i}`, cmd, false));
    const end = [`if [ "$__opsbox_pf" = 0 ]; then __opsbox_m 'phase-end ${phase} SUCCEEDED'; __opsbox_ph=`];
    if (retry && retry.count > 0) {
      end.push(`elif [ "$__opsbox_rm" = 1 ] && [ "$__opsbox_try" -lt ${retry.count} ]; then`);
      end.push(
        `  __opsbox_try=$((__opsbox_try + 1)); __opsbox_m "phase-retry ${phase} $__opsbox_try"; __opsbox_pf=0; __opsbox_pc=${first}`,
      );
      // the failed attempt made the build fail so far; a new attempt starts from the build's state before it
      end.push('  if [ "$__opsbox_fail" = 0 ]; then CODEBUILD_BUILD_SUCCEEDING=1; export CODEBUILD_BUILD_SUCCEEDING; fi');
    }
    end.push(
      `else __opsbox_m 'phase-end ${phase} FAILED'; __opsbox_ph=; __opsbox_fail=1; __opsbox_failing${transition === 'ABORT' ? '; __opsbox_stop=1' : ''}`,
    );
    end.push('fi');
    steps.push(end);
  }
  w('__opsbox_go() {');
  w('  while :; do');
  w('    case $__opsbox_pc in');
  steps.forEach((lines, i) => {
    w(`      ${i}) __opsbox_pc=${i + 1}`);
    for (const line of lines) w(`        ${line}`);
    w('        ;;');
  });
  w('      *) break ;;');
  w('    esac');
  w('  done');
  w('  __opsbox_exports');
  w('  __opsbox_fin=1; __opsbox_m "done $__opsbox_fail"');
  w('  exit 0');
  w('}');
  w('__opsbox_go');
  return out.join('\n') + '\n';
}

/**
 * Recognizes a marker line (without its newline). A marker normally fills its line; when a command's
 * output did not end in a newline the marker follows that output on the same line, returned in `before`.
 */
export function parseMarker(line: string, nonce: string): Marker | undefined {
  const tag = `::opsbox:${nonce}:: `;
  const at = line.lastIndexOf(tag);
  if (at < 0) return undefined;
  const before = at > 0 ? line.slice(0, at) : undefined;
  const parts = line
    .slice(at + tag.length)
    .replace(/\r$/, '')
    .split(' ');
  const m = decode(parts);
  if (m && before !== undefined) m.before = before;
  return m;
}

const isPhase = (s: string | undefined): s is Phase => (DRIVER_PHASES as readonly string[]).includes(s ?? '');

function index(s: string | undefined): { index: number; finally: boolean } | undefined {
  const m = /^(f?)(\d+)$/.exec(s ?? '');
  return m ? { index: Number(m[2]), finally: m[1] === 'f' } : undefined;
}

function decode(parts: string[]): Marker | undefined {
  const [kind, a, b, c] = parts;
  switch (kind) {
    case 'phase-start':
      return parts.length === 2 && isPhase(a) ? { kind, phase: a } : undefined;
    case 'command': {
      const i = index(b);
      return parts.length === 3 && isPhase(a) && i ? { kind, phase: a, ...i } : undefined;
    }
    case 'command-failed': {
      const i = index(b);
      return parts.length === 4 && isPhase(a) && i && /^\d+$/.test(c ?? '') ? { kind, phase: a, ...i, exitCode: Number(c) } : undefined;
    }
    case 'phase-retry':
      return parts.length === 3 && isPhase(a) && /^\d+$/.test(b ?? '') ? { kind, phase: a, retry: Number(b) } : undefined;
    case 'phase-end':
      return parts.length === 3 && isPhase(a) && (b === 'SUCCEEDED' || b === 'FAILED') ? { kind, phase: a, status: b } : undefined;
    case 'exported':
      return (parts.length === 3 || parts.length === 2) && NAME.test(a ?? '')
        ? { kind, name: a!, value: Buffer.from(b ?? '', 'base64').toString('utf8') }
        : undefined;
    case 'done':
      return parts.length === 2 && (a === '0' || a === '1') ? { kind, failed: a === '1' } : undefined;
    default:
      return undefined;
  }
}
