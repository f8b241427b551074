/**
 * What an image has installed, read from its layers. Each layer (gzip or plain tar; zstd where the
 * Node runtime has it) streams through the tar reader bottom to top; only the files the scanner
 * reads are kept, parsed, as they pass: the dpkg database (var/lib/dpkg/status and distroless'
 * var/lib/dpkg/status.d/*), apk's lib/apk/db/installed, os-release, and anywhere in the filesystem
 * package-lock.json (npm) and requirements*.txt pins (PyPI). Whiteouts (.wh.<name>, opaque
 * .wh..wh..opq) and upper layers' replacements of a path hide what lower layers had there.
 */
import { Readable, type Transform } from 'node:stream';
import * as zlib from 'node:zlib';
import { readTar, type TarHeader } from './tar.js';
import { isSemver } from './versions.js';

export type Ecosystem = 'Debian' | 'Ubuntu' | 'Alpine' | 'npm' | 'PyPI';

export interface Package {
  ecosystem: Ecosystem;
  name: string;
  version: string;
  /** The source package (dpkg's Source, apk's origin) when it differs: distro advisories name these. */
  source?: { name: string; version: string };
  /** Where in the image the package was found. */
  path: string;
}

export interface OsRelease {
  id: string;
  versionId?: string;
  prettyName?: string;
}

export interface Inventory {
  os?: OsRelease;
  packages: Package[];
  /** Files that could not be read (a broken lock file), said in the scan's description. */
  skipped: string[];
}

// ---- parsers (pure) ----

export interface OsPackage {
  name: string;
  version: string;
  source?: { name: string; version: string };
}

const lines = (text: string) => text.replace(/\r\n?/g, '\n').split('\n');

/** Paragraphs of `Field: value` lines (continuation lines, indented, are left out). */
function paragraphs(text: string): Record<string, string>[] {
  const out: Record<string, string>[] = [];
  let cur: Record<string, string> = {};
  let any = false;
  for (const line of lines(text)) {
    if (line.trim() === '') {
      if (any) out.push(cur);
      cur = {};
      any = false;
      continue;
    }
    if (line[0] === ' ' || line[0] === '\t') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    cur[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    any = true;
  }
  if (any) out.push(cur);
  return out;
}

/** dpkg's status states whose files are on disk (not-installed and config-files are not). */
const DPKG_PRESENT = new Set(['installed', 'half-installed', 'unpacked', 'half-configured', 'triggers-awaited', 'triggers-pending']);

/**
 * var/lib/dpkg/status (or a status.d file): the packages present. `Source: name (version)` names
 * the source package; without a version it is the binary's.
 */
export function parseDpkgStatus(text: string): OsPackage[] {
  const out: OsPackage[] = [];
  for (const p of paragraphs(text)) {
    if (!p.package || !p.version) continue;
    if (p.status !== undefined) {
      const state = p.status.split(/\s+/)[2];
      if (!DPKG_PRESENT.has(state ?? '')) continue;
    }
    const pkg: OsPackage = { name: p.package, version: p.version };
    const src = p.source && /^(\S+)(?:\s+\(([^)]+)\))?$/.exec(p.source);
    if (src && (src[1] !== p.package || (src[2] && src[2] !== p.version)))
      pkg.source = { name: src[1], version: src[2]?.trim() ?? p.version };
    out.push(pkg);
  }
  return out;
}

/** lib/apk/db/installed: `P:` name, `V:` version, `o:` origin, one blank-line-separated record a package. */
export function parseApkInstalled(text: string): OsPackage[] {
  const out: OsPackage[] = [];
  let cur: Record<string, string> = {};
  const flush = () => {
    if (cur.P && cur.V) {
      const pkg: OsPackage = { name: cur.P, version: cur.V };
      if (cur.o && cur.o !== cur.P) pkg.source = { name: cur.o, version: cur.V };
      out.push(pkg);
    }
    cur = {};
  };
  for (const line of lines(text)) {
    if (line === '') flush();
    else if (line[1] === ':' && cur[line[0]] === undefined) cur[line[0]] = line.slice(2);
  }
  flush();
  return out;
}

export interface LangPackage {
  name: string;
  version: string;
}

/** npm's lock file, lockfileVersion 1 (nested `dependencies`) or 2/3 (`packages` by install path). The root project is left out. */
export function parsePackageLock(text: string): LangPackage[] {
  const doc = JSON.parse(text) as {
    packages?: Record<string, { name?: string; version?: string; link?: boolean }>;
    dependencies?: Record<string, LockV1Dep>;
  };
  const seen = new Map<string, LangPackage>();
  const add = (name: string, version: string | undefined) => {
    if (!name || typeof version !== 'string') return;
    const alias = /^npm:(.+)@([^@]+)$/.exec(version);
    if (alias) [name, version] = [alias[1], alias[2]];
    if (!isSemver(version)) return; // file:, git and tarball URLs: no registry version to match
    seen.set(`${name}@${version}`, { name, version });
  };
  if (doc.packages && typeof doc.packages === 'object') {
    for (const [path, entry] of Object.entries(doc.packages)) {
      if (path === '' || !entry || typeof entry !== 'object' || entry.link) continue;
      const at = path.lastIndexOf('node_modules/');
      if (at < 0) continue; // a workspace's own folder
      add(typeof entry.name === 'string' ? entry.name : path.slice(at + 'node_modules/'.length), entry.version);
    }
  } else if (doc.dependencies && typeof doc.dependencies === 'object') {
    const walk = (deps: Record<string, LockV1Dep>) => {
      for (const [name, dep] of Object.entries(deps)) {
        if (!dep || typeof dep !== 'object') continue;
        add(name, dep.version);
        if (dep.dependencies && typeof dep.dependencies === 'object') walk(dep.dependencies);
      }
    };
    walk(doc.dependencies);
  }
  return [...seen.values()];
}

interface LockV1Dep {
  version?: string;
  dependencies?: Record<string, LockV1Dep>;
}

/** PEP 503's normalized project name: PyPI advisories and pins compare by it. */
export const normalizePypiName = (name: string) => name.toLowerCase().replace(/[-_.]+/g, '-');

/** The exact pins (`name==version`, `name[extra]===version`) of a pip requirements file; ranges, URLs and options are left out. */
export function parseRequirements(text: string): LangPackage[] {
  const out = new Map<string, LangPackage>();
  const joined = text.replace(/\r\n?/g, '\n').replace(/\\\n/g, ' ');
  for (const raw of joined.split('\n')) {
    const line = raw.replace(/(^|\s)#.*$/, '').trim();
    if (!line || line.startsWith('-')) continue;
    const m = /^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[[^\]]*\])?\s*===?\s*([A-Za-z0-9!+._-]+)\s*(;.*|--.*)?$/.exec(line);
    if (!m || m[2].includes('*')) continue;
    const name = normalizePypiName(m[1]);
    out.set(`${name}@${m[2]}`, { name, version: m[2] });
  }
  return [...out.values()];
}

/** os-release(5): ID, VERSION_ID, PRETTY_NAME. */
export function parseOsRelease(text: string): OsRelease | undefined {
  const vars: Record<string, string> = {};
  for (const line of lines(text)) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (!m) continue;
    let v = m[2].trim();
    if ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'"))) v = v.slice(1, -1);
    vars[m[1]] = v.replace(/\\(["'$`\\])/g, '$1');
  }
  if (!vars.ID) return undefined;
  return { id: vars.ID.toLowerCase(), versionId: vars.VERSION_ID || undefined, prettyName: vars.PRETTY_NAME || undefined };
}

// ---- reading layers ----

type Kind = 'dpkg' | 'dpkg.d' | 'apk' | 'npm' | 'pypi' | 'os';

type Found =
  | { kind: 'dpkg' | 'dpkg.d' | 'apk'; packages: OsPackage[] }
  | { kind: 'npm' | 'pypi'; packages: LangPackage[] }
  | { kind: 'os'; os: OsRelease | undefined }
  | { kind: 'symlink'; target: string };

const OS_RELEASE = ['etc/os-release', 'usr/lib/os-release'];

/** The largest file the scanner reads (bigger ones are skipped, and said so). */
export const MAX_FILE = 64 * 1024 * 1024;

/** A tar path as a clean relative path: no leading "./" or "/", no trailing "/", no "." or ".." parts. */
export function normalizePath(p: string): string {
  const parts: string[] = [];
  for (const s of p.split('/')) {
    if (s === '' || s === '.') continue;
    if (s === '..') parts.pop();
    else parts.push(s);
  }
  return parts.join('/');
}

function classify(path: string): Kind | undefined {
  if (path === 'var/lib/dpkg/status') return 'dpkg';
  if (path.startsWith('var/lib/dpkg/status.d/') && !path.endsWith('.md5sums') && path.split('/').length === 5) return 'dpkg.d';
  if (path === 'lib/apk/db/installed') return 'apk';
  if (OS_RELEASE.includes(path)) return 'os';
  const base = path.slice(path.lastIndexOf('/') + 1);
  if (base === 'package-lock.json') return 'npm';
  if (/^requirements[\w.-]*\.txt$/.test(base)) return 'pypi';
  return undefined;
}

function parse(kind: Kind, data: Buffer): Found {
  const text = data.toString('utf8');
  switch (kind) {
    case 'dpkg':
    case 'dpkg.d':
      return { kind, packages: parseDpkgStatus(text) };
    case 'apk':
      return { kind, packages: parseApkInstalled(text) };
    case 'npm':
      return { kind, packages: parsePackageLock(text) };
    case 'pypi':
      return { kind, packages: parseRequirements(text) };
    case 'os':
      return { kind, os: parseOsRelease(text) };
  }
}

const zstdDecompress = (zlib as unknown as { createZstdDecompress?: () => Transform }).createZstdDecompress;

export class LayerFormatError extends Error {}

/** The tar stream inside a layer blob: gunzipped when it starts with gzip's magic, zstd's when the runtime has it. */
export async function* layerTar(raw: AsyncIterable<Buffer | Uint8Array>): AsyncGenerator<Buffer> {
  const it = (raw as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let size = 0;
  let ended = false;
  try {
    while (size < 4) {
      const r = await it.next();
      if (r.done) {
        ended = true;
        break;
      }
      head.push(Buffer.from(r.value));
      size += r.value.length;
    }
    const start = Buffer.concat(head);
    const rest = async function* () {
      if (start.length) yield start;
      while (!ended) {
        const r = await it.next();
        if (r.done) return;
        yield Buffer.from(r.value);
      }
    };
    let inflate: Transform | undefined;
    if (start[0] === 0x1f && start[1] === 0x8b) inflate = zlib.createGunzip();
    else if (start.length >= 4 && start.readUInt32LE(0) === 0xfd2fb528) {
      if (!zstdDecompress) throw new LayerFormatError('zstd-compressed layers need a Node.js runtime with zstd (22.15 or later)');
      inflate = zstdDecompress();
    }
    if (!inflate) return yield* rest();
    const src = Readable.from(rest());
    src.on('error', (e) => inflate.destroy(e));
    src.pipe(inflate);
    try {
      for await (const c of inflate) yield c as Buffer;
    } finally {
      src.destroy();
      inflate.destroy();
    }
  } finally {
    await it.return?.();
  }
}

/** Every path from `p` up to its top folder: "a/b/c" → ["a/b/c", "a/b", "a"]. */
function selfAndAncestors(p: string): string[] {
  const out = [p];
  for (let i = p.lastIndexOf('/'); i > 0; i = p.lastIndexOf('/', i - 1)) out.push(p.slice(0, i));
  return out;
}

/**
 * Reads the layers bottom to top (`layers[i]()` streams layer i's blob) and lists what the
 * merged filesystem has installed.
 */
export async function readInventory(layers: (() => AsyncIterable<Buffer | Uint8Array>)[], signal?: AbortSignal): Promise<Inventory> {
  const state = new Map<string, Found>();
  const skipped = new Set<string>();
  for (const layer of layers) {
    const watched = new Set<string>();
    for (const p of state.keys()) for (const a of selfAndAncestors(p)) watched.add(a);
    const added = new Map<string, Found>();
    const removed = new Set<string>();
    const opaque = new Set<string>();
    const hardlinks: [string, string][] = [];
    const onEntry = (h: TarHeader): number => {
      const path = normalizePath(h.path);
      if (!path) return 0;
      const slash = path.lastIndexOf('/');
      const dir = slash < 0 ? '' : path.slice(0, slash);
      const base = path.slice(slash + 1);
      if (base === '.wh..wh..opq') {
        opaque.add(dir);
        return 0;
      }
      if (base.startsWith('.wh.')) {
        removed.add(dir ? `${dir}/${base.slice(4)}` : base.slice(4));
        return 0;
      }
      // anything but a directory replaces what lower layers had at this path (a directory merges)
      if (h.type !== '5' && watched.has(path)) removed.add(path);
      added.delete(path);
      const kind = classify(path);
      if (!kind) return 0;
      if (h.type === '0') {
        if (h.size > MAX_FILE) skipped.add(`${path} (larger than ${MAX_FILE / 1024 / 1024} MiB)`);
        return MAX_FILE;
      }
      if (h.type === '1') hardlinks.push([path, normalizePath(h.linkname)]);
      if (h.type === '2' && kind === 'os') {
        const target = h.linkname.startsWith('/') ? h.linkname : `${dir}/${h.linkname}`;
        added.set(path, { kind: 'symlink', target: normalizePath(target) });
      }
      return 0;
    };
    const onContent = (h: TarHeader, data: Buffer) => {
      const path = normalizePath(h.path);
      try {
        added.set(path, parse(classify(path)!, data));
      } catch (err) {
        skipped.add(`${path} (${err instanceof Error ? err.message : String(err)})`);
      }
    };
    await readTar(layerTar(layer()), onEntry, onContent, signal);
    for (const p of [...state.keys()]) {
      const chain = selfAndAncestors(p);
      if (chain.some((a) => removed.has(a)) || chain.slice(1).some((a) => opaque.has(a)) || opaque.has('')) state.delete(p);
    }
    for (const [path, found] of added) state.set(path, found);
    for (const [path, target] of hardlinks) {
      const found = added.get(target) ?? state.get(target);
      if (found) state.set(path, found);
    }
  }
  return collect(state, [...skipped]);
}

function collect(state: Map<string, Found>, skipped: string[]): Inventory {
  let os: OsRelease | undefined;
  for (const path of OS_RELEASE) {
    let f = state.get(path);
    if (f?.kind === 'symlink') f = state.get(f.target);
    if (f?.kind === 'os' && f.os) {
      os = f.os;
      break;
    }
  }
  const dpkgEcosystem: Ecosystem = os?.id === 'ubuntu' ? 'Ubuntu' : 'Debian';
  const packages: Package[] = [];
  const seen = new Set<string>();
  const push = (p: Package) => {
    const key = `${p.ecosystem}\0${p.name}\0${p.version}`;
    if (seen.has(key)) return;
    seen.add(key);
    packages.push(p);
  };
  for (const [path, f] of [...state].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (f.kind === 'dpkg' || f.kind === 'dpkg.d' || f.kind === 'apk') {
      const ecosystem = f.kind === 'apk' ? 'Alpine' : dpkgEcosystem;
      for (const p of f.packages) push({ ecosystem, ...p, path });
    } else if (f.kind === 'npm' || f.kind === 'pypi') {
      const ecosystem = f.kind === 'npm' ? 'npm' : 'PyPI';
      for (const p of f.packages) push({ ecosystem, ...p, path });
    }
  }
  return { os, packages, skipped };
}
