/**
 * Buildspec parsing: YAML text → typed Buildspec, or a BuildspecError carrying the phase context
 * AWS CodeBuild reports for a bad buildspec (statusCode YAML_FILE_ERROR, DOWNLOAD_SOURCE phase).
 *
 * Like CodeBuild's agent (Go, YAML 1.1), scalars read into string fields keep their source text:
 * `X: 0.10` gives "0.10", `X: yes` gives "yes". Unknown top-level keys are ignored (Go struct
 * decoding); keys inside phases and unknown phase names are errors. Reference: "Build
 * specification reference for CodeBuild" (docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html).
 */
import { createRequire } from 'node:module';
import type * as Yaml from 'yaml';
import type { LineCounter, Node, Pair, YAMLMap } from 'yaml';

/** The YAML library, loaded at the first buildspec rather than at opsbox's start (it costs ~25 ms). */
let yamlLib: typeof Yaml | undefined;
const yaml = () => (yamlLib ??= createRequire(import.meta.url)('yaml') as typeof Yaml);
const isMap = (n: unknown): n is YAMLMap => yaml().isMap(n);
const isPair = (n: unknown): n is Pair => yaml().isPair(n);
const isScalar = (n: unknown): n is Yaml.Scalar => yaml().isScalar(n);
const isSeq = (n: unknown): n is Yaml.YAMLSeq => yaml().isSeq(n);

export type PhaseName = 'install' | 'pre_build' | 'build' | 'post_build';
export const PHASE_NAMES: readonly PhaseName[] = ['install', 'pre_build', 'build', 'post_build'];

export interface PhaseSpec {
  runtimeVersions?: Record<string, string>;
  commands: string[];
  finally: string[];
  /** Explicit `on-failure`, else the documented default transition: INSTALL/PRE_BUILD stop the build (ABORT), BUILD/POST_BUILD go on (CONTINUE). */
  onFailure: 'ABORT' | 'CONTINUE' | 'RETRY';
  /** True when the buildspec set `on-failure` itself. */
  onFailureExplicit?: boolean;
  /**
   * For `RETRY`, `RETRY-<count>`, `RETRY-<regex>` and `RETRY-<count>-<regex>`: how many more times
   * the phase runs after a failed attempt (3 unless given, 0–100), and the regular expression the
   * failure's error message must match for a retry (`.*` unless given).
   */
  retry?: { count: number; pattern: string };
  runAs?: string;
}

export interface ArtifactsSpec {
  files: string[];
  name?: string;
  baseDirectory?: string;
  discardPaths?: boolean;
  excludePaths?: string[];
  enableSymlinks?: boolean;
  s3Prefix?: string;
}

export interface ReportSpec {
  files: string[];
  baseDirectory?: string;
  discardPaths?: boolean;
  /** Upper-cased; JUNITXML when not given (the value is case-insensitive in AWS). */
  fileFormat: string;
}

export interface Buildspec {
  version: '0.1' | '0.2';
  runAs?: string;
  env?: {
    shell?: string;
    variables?: Record<string, string>;
    parameterStore?: Record<string, string>;
    secretsManager?: Record<string, string>;
    exportedVariables?: string[];
    gitCredentialHelper?: boolean;
  };
  phases: Partial<Record<PhaseName, PhaseSpec>>;
  artifacts?: ArtifactsSpec;
  secondaryArtifacts?: Record<string, ArtifactsSpec>;
  reports?: Record<string, ReportSpec>;
  cache?: { paths: string[] };
}

/**
 * A buildspec AWS would refuse. `statusCode` and `message` are the PhaseContext AWS records
 * (BatchGetBuilds phases[].contexts[]); the build log line reads
 * "Phase context status code: YAML_FILE_ERROR Message: <message>".
 */
export class BuildspecError extends Error {
  readonly statusCode = 'YAML_FILE_ERROR';
  constructor(message: string) {
    super(message);
    this.name = 'BuildspecError';
  }
  /** The console/CLI rendering: "YAML_FILE_ERROR: <message>". */
  get display(): string {
    return `${this.statusCode}: ${this.message}`;
  }
}

const PHASE_KEYS = new Set(['run-as', 'on-failure', 'runtime-versions', 'commands', 'finally']);
const ARTIFACT_KEYS = new Set([
  'files',
  'name',
  'discard-paths',
  'base-directory',
  'exclude-paths',
  'enable-symlinks',
  's3-prefix',
  'secondary-artifacts',
]);
const REPORT_KEYS = new Set(['files', 'base-directory', 'discard-paths', 'file-format']);
const ENV_KEYS = new Set(['shell', 'variables', 'parameter-store', 'secrets-manager', 'exported-variables', 'git-credential-helper']);
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function parseBuildspec(text: string): Buildspec {
  const lc = new (yaml().LineCounter)();
  const p = new Reader(text, lc);
  // Keys compare by their text: under YAML 1.1 `N:` and `OFF:` would both be the boolean false.
  const sameKey = (a: unknown, b: unknown) => isScalar(a) && isScalar(b) && p.str(a, 'key') === p.str(b, 'key');
  const doc = yaml().parseDocument(text, { lineCounter: lc, version: '1.1', prettyErrors: false, uniqueKeys: sameKey });
  if (doc.errors.length) throw new BuildspecError(p.yamlError(doc.errors[0]!));
  const root = doc.contents as Node | null;
  if (root == null || (isScalar(root) && (root.value == null || root.value === ''))) throw new BuildspecError('YAML file is empty');
  if (!isMap(root)) throw new BuildspecError(`Expected buildspec to be of map type: found ${p.kind(root)} instead at line ${p.line(root)}`);

  const top = p.entries(root);
  const versionNode = top.get('version');
  if (!versionNode || p.isNull(versionNode.value))
    throw new BuildspecError('missing version: the buildspec must declare version 0.2 (or 0.1)');
  const version = p.str(versionNode.value, 'version');
  if (version !== '0.1' && version !== '0.2')
    throw new BuildspecError(
      `invalid buildspec version ${version} at line ${p.line(versionNode.value)}: supported versions are 0.1 and 0.2`,
    );

  const spec: Buildspec = { version, phases: {} };
  const runAs = top.get('run-as');
  if (runAs && !p.isNull(runAs.value)) spec.runAs = p.str(runAs.value, 'run-as');

  const env = top.get('env');
  if (env && !p.isNull(env.value)) spec.env = readEnv(p, p.map(env.value, 'env'));

  const phases = top.get('phases');
  if (!phases || p.isNull(phases.value)) throw new BuildspecError('missing phases: the buildspec must declare at least one phase');
  for (const [name, pair] of p.entries(p.map(phases.value, 'phases'))) {
    if (!(PHASE_NAMES as readonly string[]).includes(name))
      throw new BuildspecError(
        `unknown phase name ${name} at line ${p.line(pair.key as Node)}: allowed phases are install, pre_build, build, post_build`,
      );
    spec.phases[name as PhaseName] = readPhase(p, name as PhaseName, pair.value as Node | null);
  }

  const artifacts = top.get('artifacts');
  if (artifacts && !p.isNull(artifacts.value)) {
    const m = p.map(artifacts.value, 'artifacts');
    spec.artifacts = readArtifacts(p, m, 'artifacts');
    const sec = p.entries(m).get('secondary-artifacts');
    if (sec && !p.isNull(sec.value)) {
      spec.secondaryArtifacts = {};
      for (const [id, pair] of p.entries(p.map(sec.value, 'secondary-artifacts')))
        spec.secondaryArtifacts[id] = readArtifacts(p, p.map(pair.value as Node, id), id);
    }
  }

  const reports = top.get('reports');
  if (reports && !p.isNull(reports.value)) {
    spec.reports = {};
    for (const [group, pair] of p.entries(p.map(reports.value, 'reports'))) {
      const m = p.map(pair.value as Node, group);
      const e = p.known(m, REPORT_KEYS, group);
      const files = e.get('files');
      if (!files || p.isNull(files.value)) throw new BuildspecError(`missing files in report group ${group} at line ${p.line(m)}`);
      const r: ReportSpec = { files: p.strList(files.value, 'Files'), fileFormat: 'JUNITXML' };
      const base = e.get('base-directory');
      if (base && !p.isNull(base.value)) r.baseDirectory = p.str(base.value, 'base-directory');
      const discard = e.get('discard-paths');
      if (discard && !p.isNull(discard.value)) r.discardPaths = p.bool(discard.value, 'discard-paths');
      const format = e.get('file-format');
      if (format && !p.isNull(format.value)) r.fileFormat = p.str(format.value, 'file-format').toUpperCase();
      spec.reports[group] = r;
    }
  }

  const cache = top.get('cache');
  if (cache && !p.isNull(cache.value)) {
    const paths = p.entries(p.map(cache.value, 'cache')).get('paths');
    spec.cache = { paths: paths && !p.isNull(paths.value) ? p.strList(paths.value, 'Paths') : [] };
  }
  return spec;
}

function readEnv(p: Reader, m: YAMLMap): NonNullable<Buildspec['env']> {
  const e = p.known(m, ENV_KEYS, 'env');
  const env: NonNullable<Buildspec['env']> = {};
  const shell = e.get('shell');
  if (shell && !p.isNull(shell.value)) env.shell = p.str(shell.value, 'shell');
  const dict = (key: string): Record<string, string> | undefined => {
    const pair = e.get(key);
    if (!pair || p.isNull(pair.value)) return undefined;
    const out: Record<string, string> = {};
    for (const [k, kv] of p.entries(p.map(pair.value, key))) out[k] = p.isNull(kv.value as Node) ? '' : p.str(kv.value as Node, k);
    return out;
  };
  const variables = dict('variables');
  if (variables) env.variables = variables;
  const ps = dict('parameter-store');
  if (ps) env.parameterStore = ps;
  const sm = dict('secrets-manager');
  if (sm) env.secretsManager = sm;
  const exp = e.get('exported-variables');
  if (exp && !p.isNull(exp.value)) {
    env.exportedVariables = p.strList(exp.value, 'ExportedVariables');
    for (const name of env.exportedVariables)
      if (!ENV_NAME.test(name))
        throw new BuildspecError(`invalid exported variable name ${JSON.stringify(name)} at line ${p.line(exp.value)}`);
  }
  const gch = e.get('git-credential-helper');
  if (gch && !p.isNull(gch.value)) env.gitCredentialHelper = p.bool(gch.value, 'git-credential-helper');
  return env;
}

function readPhase(p: Reader, name: PhaseName, node: Node | null): PhaseSpec {
  const defaultOnFailure = name === 'install' || name === 'pre_build' ? 'ABORT' : 'CONTINUE';
  const phase: PhaseSpec = { commands: [], finally: [], onFailure: defaultOnFailure };
  if (p.isNull(node)) return phase;
  const e = p.known(p.map(node!, name), PHASE_KEYS, name);
  const commands = e.get('commands');
  if (commands && !p.isNull(commands.value)) phase.commands = p.strList(commands.value, 'Commands');
  const fin = e.get('finally');
  if (fin && !p.isNull(fin.value)) phase.finally = p.strList(fin.value, 'Finally');
  const runAs = e.get('run-as');
  if (runAs && !p.isNull(runAs.value)) phase.runAs = p.str(runAs.value, 'run-as');
  const onFailure = e.get('on-failure');
  if (onFailure && !p.isNull(onFailure.value)) {
    const v = p.str(onFailure.value, 'on-failure');
    const line = p.line(onFailure.value);
    if (v === 'ABORT' || v === 'CONTINUE') phase.onFailure = v;
    else {
      phase.retry = parseRetry(v, line);
      phase.onFailure = 'RETRY';
    }
    phase.onFailureExplicit = true;
  }
  const rv = e.get('runtime-versions');
  if (rv && !p.isNull(rv.value)) {
    phase.runtimeVersions = {};
    for (const [k, kv] of p.entries(p.map(rv.value, 'runtime-versions'))) phase.runtimeVersions[k] = p.str(kv.value as Node, k);
  }
  return phase;
}

/** The retry counts the buildspec reference allows ("count must be between 0 and 100"). */
export const MAX_RETRY_COUNT = 100;
const DEFAULT_RETRY_COUNT = 3;

/**
 * `RETRY` | `RETRY-<count>` | `RETRY-<regex>` | `RETRY-<count>-<regex>`. After `RETRY-`, a run of
 * digits that ends the value or is followed by `-` is the count; whatever follows is the regex.
 */
function parseRetry(v: string, line: number): { count: number; pattern: string } {
  const bad = (why: string) => new BuildspecError(`invalid on-failure value ${v} at line ${line}: ${why}`);
  if (v === 'RETRY') return { count: DEFAULT_RETRY_COUNT, pattern: '.*' };
  if (!v.startsWith('RETRY-'))
    throw bad('allowed values are ABORT, CONTINUE, RETRY, RETRY-<count>, RETRY-<regex> and RETRY-<count>-<regex>');
  const rest = v.slice('RETRY-'.length);
  const m = /^(\d+)(?:-([\s\S]*))?$/.exec(rest);
  let count = DEFAULT_RETRY_COUNT;
  let pattern = rest;
  if (m) {
    count = Number(m[1]);
    pattern = m[2] ?? '.*';
    if (count > MAX_RETRY_COUNT) throw bad(`the retry count must be between 0 and ${MAX_RETRY_COUNT}`);
  }
  if (pattern === '') throw bad('the retry regex is empty');
  try {
    retryRegExp(pattern);
  } catch (err) {
    throw bad(`invalid retry regex ${pattern}: ${(err as Error).message.replace(/^Invalid regular expression: \/.*\/: /, '')}`);
  }
  return { count, pattern };
}

/**
 * The retry regex as a JavaScript RegExp. The agent is Go (RE2 syntax): the common Go-only form, a
 * leading flag group such as `(?i)`, becomes the RegExp's flags.
 */
export function retryRegExp(pattern: string): RegExp {
  const flags = /^\(\?([ims]+)\)/.exec(pattern);
  return flags ? new RegExp(pattern.slice(flags[0].length), [...new Set(flags[1])].join('')) : new RegExp(pattern);
}

function readArtifacts(p: Reader, m: YAMLMap, what: string): ArtifactsSpec {
  const e = p.known(m, ARTIFACT_KEYS, what);
  const files = e.get('files');
  // "The artifacts/files sequence is always required, even when there are only secondary artifacts defined."
  if (!files || p.isNull(files.value)) throw new BuildspecError(`missing files in ${what} at line ${p.line(m)}`);
  const a: ArtifactsSpec = { files: p.strList(files.value, 'Files') };
  const opt = (key: string) => {
    const pair = e.get(key);
    return pair && !p.isNull(pair.value) ? (pair.value as Node) : undefined;
  };
  let n: Node | undefined;
  if ((n = opt('name'))) a.name = p.str(n, 'name');
  if ((n = opt('base-directory'))) a.baseDirectory = p.str(n, 'base-directory');
  if ((n = opt('discard-paths'))) a.discardPaths = p.bool(n, 'discard-paths');
  if ((n = opt('exclude-paths'))) a.excludePaths = p.strList(n, 'ExcludePaths');
  if ((n = opt('enable-symlinks'))) a.enableSymlinks = p.bool(n, 'enable-symlinks');
  if ((n = opt('s3-prefix'))) a.s3Prefix = p.str(n, 's3-prefix');
  return a;
}

/** Typed accessors over the YAML AST that throw AWS-worded errors with line numbers. */
class Reader {
  constructor(
    private readonly text: string,
    private readonly lc: LineCounter,
  ) {}

  line(node: Node | null | undefined): number {
    const at = node?.range?.[0];
    return at == null ? 1 : this.lc.linePos(at).line;
  }

  isNull(node: Node | null | undefined | unknown): boolean {
    return node == null || (isScalar(node) && node.value === null);
  }

  kind(node: Node): string {
    if (isMap(node)) return 'subkeys';
    if (isSeq(node)) return 'list';
    return 'string';
  }

  /** go-yaml's wording for the common syntax errors, with the line of the offending token. */
  yamlError(err: { code: string; message: string; pos: [number, number] }): string {
    const line = this.lc.linePos(err.pos[0]).line;
    switch (err.code) {
      case 'TAB_AS_INDENT':
        return `found character that cannot start any token at line ${line}`;
      case 'BLOCK_AS_IMPLICIT_KEY':
      case 'MULTILINE_IMPLICIT_KEY':
        return `mapping values are not allowed in this context at line ${line}`;
      case 'BAD_INDENT':
        return /Flow sequence/.test(err.message)
          ? `did not find expected ',' or ']' at line ${line}`
          : `did not find expected key at line ${line}`;
      case 'DUPLICATE_KEY':
        return `mapping key already defined at line ${line}`;
      default:
        return `${err.message.split('\n')[0]!.replace(/[.:]\s*$/, '')} at line ${line}`;
    }
  }

  entries(m: YAMLMap): Map<string, Pair<Node, Node | null>> {
    const out = new Map<string, Pair<Node, Node | null>>();
    for (const item of m.items) {
      if (!isPair(item)) continue;
      const key = item.key as Node | null;
      const name = isScalar(key) ? this.str(key, 'key') : String(key);
      out.set(name, item as Pair<Node, Node | null>);
    }
    return out;
  }

  /** Entries of a map whose keys must all be in `allowed`. */
  known(m: YAMLMap, allowed: Set<string>, what: string): Map<string, Pair<Node, Node | null>> {
    const e = this.entries(m);
    for (const [k, pair] of e) if (!allowed.has(k)) throw new BuildspecError(`unknown key ${k} in ${what} at line ${this.line(pair.key)}`);
    return e;
  }

  map(node: Node | null, what: string): YAMLMap {
    if (isMap(node)) return node;
    throw new BuildspecError(`Expected ${what} to be of map type: found ${this.kind(node!)} instead at line ${this.line(node)}`);
  }

  /** A scalar as the agent reads it into a string: quoted scalars by value, plain ones by source text. */
  str(node: Node | null, what: string): string {
    if (isScalar(node)) {
      if (node.value === null) return '';
      if (typeof node.value === 'string') return node.value;
      if (node.type === 'PLAIN' && node.range) return this.text.slice(node.range[0], node.range[1]).trim();
      return String(node.value);
    }
    const line = this.line(node);
    throw new BuildspecError(
      `Expected ${what} to be of string type: found ${this.kind(node!)} instead at line ${line}` +
        (isMap(node) ? `, value of the key tag on line ${Math.max(1, line - 1)} might be empty` : ''),
    );
  }

  bool(node: Node | null, what: string): boolean {
    if (isScalar(node) && typeof node.value === 'boolean') return node.value;
    const s = this.str(node, what).toLowerCase();
    if (['yes', 'true', 'on', 'y'].includes(s)) return true;
    if (['no', 'false', 'off', 'n'].includes(s)) return false;
    throw new BuildspecError(`Expected ${what} to be of bool type: found ${JSON.stringify(s)} instead at line ${this.line(node)}`);
  }

  /** A list of strings (a lone scalar counts as a one-item list); map items are AWS's classic "found subkeys" error. */
  strList(node: Node | null, what: string): string[] {
    if (isSeq(node)) {
      return node.items.map((item, i) => {
        const n = item as Node | null;
        if (this.isNull(n)) return '';
        return this.str(n, `${what}[${i}]`);
      });
    }
    if (isScalar(node)) return node.value === null ? [] : [this.str(node, what)];
    throw new BuildspecError(`Expected ${what} to be of list type: found ${this.kind(node!)} instead at line ${this.line(node)}`);
  }
}
