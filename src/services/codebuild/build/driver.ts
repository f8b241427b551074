/**
 * The build driver: one POSIX sh script (dash, bash, busybox sh) that runs a buildspec's phases
 * INSTALL → PRE_BUILD → BUILD → POST_BUILD with CodeBuild's semantics, and the marker lines the
 * runner reads from its stdout to follow along.
 *
 * - version 0.2: every command is `eval`ed in the one shell, so cd/export persist across commands
 *   and phases; 0.1: each command runs in its own subshell. Commands come in single-quoted, so
 *   quotes, $vars, heredocs and multi-line block scalars run exactly as written; stdin is /dev/null.
 * - A failing command skips the rest of its phase's commands; the phase's `finally` commands still
 *   run; the phase fails if any of them failed. ("Build specification reference": phases/*\/finally.)
 * - After a failed phase: INSTALL/PRE_BUILD end the build, BUILD goes on to POST_BUILD ("Build
 *   phase transitions"); an explicit on-failure ABORT ends it, CONTINUE goes to the next phase.
 *   CODEBUILD_BUILD_SUCCEEDING becomes 0 from the first failure on.
 * - A command that calls `exit` kills the shell: an EXIT trap then reports that command and phase
 *   as failed and the build as done/failed, so the marker stream still ends cleanly.
 */
import type { Buildspec, PhaseName } from './buildspec.js';
import { PHASE_NAMES } from './buildspec.js';

export type Phase = 'INSTALL' | 'PRE_BUILD' | 'BUILD' | 'POST_BUILD';
export const DRIVER_PHASES: readonly Phase[] = ['INSTALL', 'PRE_BUILD', 'BUILD', 'POST_BUILD'];

export type Marker =
  | { kind: 'phase-start'; phase: Phase; before?: string }
  /** `index` counts within `commands`, or within `finally` when `finally` is true (written f<index>). */
  | { kind: 'command'; phase: Phase; index: number; finally: boolean; before?: string }
  | { kind: 'command-failed'; phase: Phase; index: number; finally: boolean; exitCode: number; before?: string }
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

/**
 * The driver script. The runner starts it once (`sh -s` with it on stdin, or `sh file`) with cwd =
 * the primary source directory and the build environment already set.
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
  w('CODEBUILD_BUILD_SUCCEEDING=1; export CODEBUILD_BUILD_SUCCEEDING');
  w('__opsbox_b64() { if command -v base64 >/dev/null 2>&1; then base64 | tr -d "\\n"; else busybox base64 | tr -d "\\n"; fi; }');
  // "Environment variables that start with AWS_" cannot be exported (env/exported-variables).
  const exported = (spec.env?.exportedVariables ?? []).filter((n) => NAME.test(n) && !n.startsWith('AWS_'));
  w('__opsbox_exports() {');
  for (const name of exported) w(`  __opsbox_m "exported ${name} $(printf '%s' "\${${name}:-}" | __opsbox_b64)"`);
  w('  :');
  w('}');
  // A command that exits kills the shell; report it as a failed command and a failed build.
  w('__opsbox_onexit() {');
  w('  __opsbox_rc=$1');
  w('  [ "$__opsbox_fin" = 1 ] && return 0');
  w('  [ "$__opsbox_rc" = 0 ] && __opsbox_rc=1');
  w('  if [ -n "$__opsbox_cur" ]; then __opsbox_m "command-failed $__opsbox_cur $__opsbox_rc"; fi');
  w('  if [ -n "$__opsbox_ph" ]; then __opsbox_m "phase-end $__opsbox_ph FAILED"; fi');
  w('  __opsbox_exports');
  w('  __opsbox_m "done 1"');
  w('}');
  w(`trap '__opsbox_onexit $?' EXIT`);
  // The build is failing from the first failed command on, so a phase's own finally block already sees 0.
  w('__opsbox_failing() { CODEBUILD_BUILD_SUCCEEDING=0; export CODEBUILD_BUILD_SUCCEEDING; }');

  const run = (phase: Phase, label: string, cmd: string) => {
    // `command eval`: a syntax error or a failing special builtin fails the command instead of killing the shell.
    const body = isolated ? `( command eval ${shQuote(cmd)} )` : `command eval ${shQuote(cmd)}`;
    w(`  __opsbox_cur='${phase} ${label}'; __opsbox_m 'command ${phase} ${label}'; __opsbox_rc=0`);
    w(`  ${body} </dev/null || __opsbox_rc=$?`);
    w(
      `  if [ "$__opsbox_rc" != 0 ]; then __opsbox_m "command-failed ${phase} ${label} $__opsbox_rc"; __opsbox_pf=1; __opsbox_failing; fi; __opsbox_cur=`,
    );
  };

  for (const name of PHASE_NAMES) {
    const phase = name.toUpperCase() as Phase;
    const p = spec.phases[name];
    w(`if [ "$__opsbox_stop" = 0 ]; then`);
    w(`  __opsbox_ph=${phase}; __opsbox_pf=0; __opsbox_m 'phase-start ${phase}'`);
    (p?.commands ?? []).forEach((cmd, i) => {
      w(`  if [ "$__opsbox_pf" = 0 ]; then`);
      run(phase, String(i), cmd);
      w('  fi');
    });
    (p?.finally ?? []).forEach((cmd, i) => run(phase, `f${i}`, cmd));
    w(`  if [ "$__opsbox_pf" = 0 ]; then __opsbox_m 'phase-end ${phase} SUCCEEDED'; else`);
    w(`    __opsbox_m 'phase-end ${phase} FAILED'; __opsbox_fail=1; __opsbox_failing`);
    const onFailure = p?.onFailure ?? (name === 'install' || name === 'pre_build' ? 'ABORT' : 'CONTINUE');
    if (onFailure === 'ABORT') w('    __opsbox_stop=1');
    w('  fi; __opsbox_ph=');
    w('fi');
  }
  w('__opsbox_exports');
  w('__opsbox_fin=1; __opsbox_m "done $__opsbox_fail"');
  w('exit 0');
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
