/**
 * The vulnerability feed: OSV advisories (https://ossf.github.io/osv-schema/) read from the
 * directory OPSBOX_VULN_DB — every *.json file under it, each one advisory or an array of them —
 * indexed by ecosystem and package name, and matched against an image's packages: `versions`
 * listed exactly, or ECOSYSTEM/SEMVER ranges of introduced/fixed/last_affected/limit events
 * evaluated with the ecosystem's own version ordering (dpkg's, apk's, PEP 440, SemVer). A
 * `Debian:12`, `Alpine:v3.19` or `Ubuntu:22.04:LTS` advisory applies to that release only when the
 * image's os-release names one. Severity becomes ECR's CRITICAL … INFORMATIONAL, or UNDEFINED: the
 * database's own word first (database_specific / ecosystem_specific severity, GHSA's MODERATE …),
 * else the CVSS v3 (or v2) base score computed from the vector. CVSS v4 vectors are not scored.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { normalizePypiName, type Ecosystem, type OsRelease, type Package } from './inventory.js';
import { comparatorFor, compareSemver } from './versions.js';

export type Severity = 'CRITICAL' | 'HIGH' | 'MEDIUM' | 'LOW' | 'INFORMATIONAL' | 'UNDEFINED';
/** Most severe first. */
export const SEVERITIES: Severity[] = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'INFORMATIONAL', 'UNDEFINED'];

interface OsvEvent {
  introduced?: string;
  fixed?: string;
  last_affected?: string;
  limit?: string;
}

interface OsvSeverity {
  type?: string;
  score?: string;
}

export interface OsvAffected {
  package?: { ecosystem?: string; name?: string; purl?: string };
  severity?: OsvSeverity[];
  ranges?: { type?: string; events?: OsvEvent[] }[];
  versions?: string[];
  ecosystem_specific?: Record<string, unknown>;
  database_specific?: Record<string, unknown>;
}

export interface OsvAdvisory {
  id: string;
  summary?: string;
  details?: string;
  aliases?: string[];
  modified?: string;
  withdrawn?: string;
  severity?: OsvSeverity[];
  affected?: OsvAffected[];
  references?: { type?: string; url?: string }[];
  database_specific?: Record<string, unknown>;
}

export interface VulnDb {
  /** How many advisories were loaded. */
  advisories: number;
  /** The newest `modified` among them (ms), else the newest file's mtime. */
  updatedAt?: number;
  /** Files that were not OSV JSON. */
  errors: string[];
  byPackage: Map<string, { advisory: OsvAdvisory; affected: OsvAffected }[]>;
}

export interface Finding {
  name: string;
  description?: string;
  uri: string;
  severity: Severity;
  attributes: { key: string; value: string }[];
}

const indexKey = (ecosystem: string, name: string) => {
  const base = ecosystem.split(':')[0];
  return `${base}\0${base === 'PyPI' ? normalizePypiName(name) : name}`;
};

const isAdvisory = (d: unknown): d is OsvAdvisory =>
  typeof d === 'object' && d !== null && typeof (d as OsvAdvisory).id === 'string' && Array.isArray((d as OsvAdvisory).affected);

/** Indexes parsed advisories (withdrawn ones are left out). */
export function buildVulnDb(docs: unknown[], errors: string[] = [], fallbackUpdatedAt?: number): VulnDb {
  const byPackage: VulnDb['byPackage'] = new Map();
  let advisories = 0;
  let updatedAt: number | undefined;
  for (const doc of docs) {
    if (!isAdvisory(doc) || doc.withdrawn) continue;
    advisories++;
    const modified = doc.modified ? Date.parse(doc.modified) : NaN;
    if (!Number.isNaN(modified)) updatedAt = Math.max(updatedAt ?? 0, modified);
    for (const affected of doc.affected ?? []) {
      const eco = affected?.package?.ecosystem;
      const name = affected?.package?.name;
      if (typeof eco !== 'string' || typeof name !== 'string') continue;
      const key = indexKey(eco, name);
      let list = byPackage.get(key);
      if (!list) byPackage.set(key, (list = []));
      list.push({ advisory: doc, affected });
    }
  }
  return { advisories, updatedAt: updatedAt ?? fallbackUpdatedAt, errors, byPackage };
}

/** Reads every *.json under `dir` (recursively). */
export async function loadVulnDb(dir: string): Promise<VulnDb> {
  const names = (await readdir(dir, { recursive: true })).filter((n) => n.endsWith('.json')).sort();
  const docs: unknown[] = [];
  const errors: string[] = [];
  let newest: number | undefined;
  for (const name of names) {
    const path = join(dir, name);
    try {
      const st = await stat(path);
      if (!st.isFile()) continue;
      newest = Math.max(newest ?? 0, st.mtimeMs);
      const doc: unknown = JSON.parse(await readFile(path, 'utf8'));
      if (Array.isArray(doc)) docs.push(...(doc as unknown[]));
      else docs.push(doc);
    } catch (err) {
      errors.push(`${name}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return buildVulnDb(docs, errors, newest === undefined ? undefined : Math.floor(newest));
}

/**
 * The feed in a directory, loaded on first use and again when the directory tree changes (a file
 * added, removed or renamed changes its folder's mtime; a file rewritten in place is seen after a restart).
 */
export class VulnFeed {
  private cached?: { signature: string; db: VulnDb };
  private loading?: Promise<VulnDb>;

  constructor(readonly dir: string | undefined) {}

  private async signature(): Promise<string> {
    const dir = this.dir!;
    const parts = [String((await stat(dir)).mtimeMs)];
    for (const e of await readdir(dir, { recursive: true, withFileTypes: true }))
      if (e.isDirectory()) parts.push(`${e.name}:${(await stat(join(e.parentPath ?? dir, e.name))).mtimeMs}`);
    return parts.join('|');
  }

  /** undefined when no feed is configured; throws when the directory cannot be read. */
  async get(): Promise<VulnDb | undefined> {
    if (!this.dir) return undefined;
    const signature = await this.signature();
    if (this.cached?.signature === signature) return this.cached.db;
    this.loading ??= loadVulnDb(this.dir).finally(() => (this.loading = undefined));
    const db = await this.loading;
    this.cached = { signature, db };
    return db;
  }
}

/** Whether `version` falls in one of the affected entry's `versions` or ranges. */
export function isAffected(affected: OsvAffected, version: string, ecosystem: string): boolean {
  const cmp = comparatorFor(ecosystem);
  if (Array.isArray(affected.versions) && affected.versions.some((v) => v === version || (typeof v === 'string' && cmp(v, version) === 0)))
    return true;
  for (const range of affected.ranges ?? []) {
    if (range?.type !== 'ECOSYSTEM' && range?.type !== 'SEMVER') continue; // GIT ranges name commits, not versions
    if (inRange(range.events ?? [], version, range.type === 'SEMVER' ? compareSemver : cmp)) return true;
  }
  return false;
}

const eventVersion = (e: OsvEvent) => e.introduced ?? e.fixed ?? e.last_affected ?? e.limit ?? '';

/** OSV's evaluation: walk the events in version order ("0" first); introduced opens, fixed and last_affected close; limit caps. */
export function inRange(events: OsvEvent[], version: string, cmp: (a: string, b: string) => number): boolean {
  const valid = events.filter((e) => e && typeof e === 'object' && typeof eventVersion(e) === 'string' && eventVersion(e) !== '');
  const sorted = valid
    .filter((e) => e.limit === undefined)
    .sort((a, b) => {
      if (a.introduced === '0') return b.introduced === '0' ? 0 : -1;
      if (b.introduced === '0') return 1;
      return cmp(eventVersion(a), eventVersion(b));
    });
  let affected = false;
  for (const e of sorted) {
    if (e.introduced !== undefined) {
      if (e.introduced === '0' || cmp(version, e.introduced) >= 0) affected = true;
    } else if (e.fixed !== undefined) {
      if (cmp(version, e.fixed) >= 0) affected = false;
    } else if (e.last_affected !== undefined) {
      if (cmp(version, e.last_affected) > 0) affected = false;
    }
  }
  const limits = valid.filter((e) => e.limit !== undefined).map((e) => e.limit!);
  if (affected && limits.length > 0 && !limits.some((l) => l === '*' || cmp(version, l) < 0)) return false;
  return affected;
}

/** Whether an advisory's ecosystem (`Debian:12`, `Alpine:v3.19`, `Ubuntu:22.04:LTS`, `npm`) covers a package of `ecosystem` in an image of `os`. */
export function ecosystemCovers(advisoryEcosystem: string, ecosystem: Ecosystem, os: OsRelease | undefined): boolean {
  const parts = advisoryEcosystem.split(':');
  if (parts[0] !== ecosystem) return false;
  if (parts.length === 1 || !os?.versionId || (ecosystem !== 'Debian' && ecosystem !== 'Ubuntu' && ecosystem !== 'Alpine')) return true;
  const release = os.versionId;
  const majorMinor = release.split('.').slice(0, 2).join('.');
  return parts.slice(1).some((p) => {
    const r = p.replace(/^v/, '');
    return r === release || r === majorMinor;
  });
}

const TEXT_SEVERITY: Record<string, Severity> = {
  critical: 'CRITICAL',
  high: 'HIGH',
  important: 'HIGH',
  moderate: 'MEDIUM',
  medium: 'MEDIUM',
  low: 'LOW',
  negligible: 'INFORMATIONAL',
  unimportant: 'INFORMATIONAL',
  informational: 'INFORMATIONAL',
  info: 'INFORMATIONAL',
  none: 'INFORMATIONAL',
};

const rating = (score: number): Severity =>
  score >= 9 ? 'CRITICAL' : score >= 7 ? 'HIGH' : score >= 4 ? 'MEDIUM' : score > 0 ? 'LOW' : 'INFORMATIONAL';

/** CVSS v3.0/v3.1 base score of a vector (CVSS:3.x/AV:…/AC:…/PR:…/UI:…/S:…/C:…/I:…/A:…), or undefined if it is not one. */
export function cvss3BaseScore(vector: string): number | undefined {
  const m = Object.fromEntries(
    vector
      .split('/')
      .slice(1)
      .map((p) => p.split(':') as [string, string]),
  );
  if (!/^CVSS:3\.[01]$/.test(vector.split('/')[0])) return undefined;
  const changed = m.S === 'C';
  const AV = { N: 0.85, A: 0.62, L: 0.55, P: 0.2 }[m.AV as string];
  const AC = { L: 0.77, H: 0.44 }[m.AC as string];
  const PR = (changed ? { N: 0.85, L: 0.68, H: 0.5 } : { N: 0.85, L: 0.62, H: 0.27 })[m.PR as string];
  const UI = { N: 0.85, R: 0.62 }[m.UI as string];
  const cia = (x: string) => ({ H: 0.56, L: 0.22, N: 0 })[x];
  const [C, I, A] = [cia(m.C), cia(m.I), cia(m.A)];
  if ([AV, AC, PR, UI, C, I, A].some((x) => x === undefined) || (m.S !== 'U' && m.S !== 'C')) return undefined;
  const iss = 1 - (1 - C!) * (1 - I!) * (1 - A!);
  const impact = changed ? 7.52 * (iss - 0.029) - 3.25 * Math.pow(iss - 0.02, 15) : 6.42 * iss;
  const exploitability = 8.22 * AV! * AC! * PR! * UI!;
  if (impact <= 0) return 0;
  return roundUp(Math.min((changed ? 1.08 : 1) * (impact + exploitability), 10));
}

/** CVSS v3.1's Roundup: the smallest one-decimal number not below x (robust to floating point). */
function roundUp(x: number): number {
  const i = Math.round(x * 100000);
  return i % 10000 === 0 ? i / 100000 : (Math.floor(i / 10000) + 1) / 10;
}

/** CVSS v2 base score (AV:N/AC:L/Au:N/C:P/I:P/A:P), or undefined. */
export function cvss2BaseScore(vector: string): number | undefined {
  const m = Object.fromEntries(
    vector
      .replace(/^\(|\)$/g, '')
      .split('/')
      .map((p) => p.split(':') as [string, string]),
  );
  const AV = { L: 0.395, A: 0.646, N: 1 }[m.AV as string];
  const AC = { H: 0.35, M: 0.61, L: 0.71 }[m.AC as string];
  const Au = { M: 0.45, S: 0.56, N: 0.704 }[m.Au as string];
  const cia = (x: string) => ({ N: 0, P: 0.275, C: 0.66 })[x];
  const [C, I, A] = [cia(m.C), cia(m.I), cia(m.A)];
  if ([AV, AC, Au, C, I, A].some((x) => x === undefined)) return undefined;
  const impact = 10.41 * (1 - (1 - C!) * (1 - I!) * (1 - A!));
  const exploitability = 20 * AV! * AC! * Au!;
  const f = impact === 0 ? 0 : 1.176;
  return Math.round((0.6 * impact + 0.4 * exploitability - 1.5) * f * 10) / 10;
}

export interface SeverityInfo {
  severity: Severity;
  cvss3?: { vector: string; score: number };
  cvss2?: { vector: string; score: number };
}

/** An advisory's severity for one affected package (see the file comment for the order). */
export function severityOf(advisory: OsvAdvisory, affected: OsvAffected): SeverityInfo {
  const vectors = [...(affected.severity ?? []), ...(advisory.severity ?? [])].filter((s) => s && typeof s.score === 'string');
  const scored = (type: string, score: (v: string) => number | undefined) => {
    for (const s of vectors)
      if (s.type === type) {
        const n = score(s.score!);
        if (n !== undefined) return { vector: s.score!, score: n };
      }
    return undefined;
  };
  const cvss3 = scored('CVSS_V3', cvss3BaseScore);
  const cvss2 = scored('CVSS_V2', cvss2BaseScore);
  const words = [
    affected.ecosystem_specific?.severity,
    affected.database_specific?.severity,
    advisory.database_specific?.severity,
    affected.ecosystem_specific?.urgency,
    ...vectors.filter((s) => s.type === 'Ubuntu').map((s) => s.score),
  ];
  let severity: Severity | undefined;
  for (const w of words) if (typeof w === 'string' && (severity = TEXT_SEVERITY[w.trim().toLowerCase()])) break;
  severity ??= cvss3 ? rating(cvss3.score) : cvss2 ? (cvss2.score >= 7 ? 'HIGH' : cvss2.score >= 4 ? 'MEDIUM' : 'LOW') : 'UNDEFINED';
  return { severity, cvss3, cvss2 };
}

/** The name ECR shows: the advisory's CVE id (its own or its first CVE alias), else its id. */
const findingName = (a: OsvAdvisory) =>
  a.id.startsWith('CVE-') ? a.id : (a.aliases?.find((x) => typeof x === 'string' && /^CVE-\d+-\d+$/.test(x)) ?? a.id);

const findingUri = (a: OsvAdvisory) => {
  const refs = (a.references ?? []).filter((r) => r && typeof r.url === 'string');
  return (refs.find((r) => r.type === 'ADVISORY') ?? refs[0])?.url ?? `https://osv.dev/vulnerability/${encodeURIComponent(a.id)}`;
};

const clip = (s: string, n: number) => (s.length > n ? s.slice(0, n) : s);

/** The findings for an image's packages, most severe first; one per advisory name and installed package. */
export function matchPackages(db: VulnDb, packages: Package[], os: OsRelease | undefined): Finding[] {
  const found = new Map<string, Finding & { rank: number }>();
  for (const pkg of packages) {
    const names = [{ name: pkg.name, version: pkg.version }];
    if (pkg.source) names.push(pkg.source);
    for (const probe of names) {
      for (const { advisory, affected } of db.byPackage.get(indexKey(pkg.ecosystem, probe.name)) ?? []) {
        if (!ecosystemCovers(affected.package!.ecosystem!, pkg.ecosystem, os)) continue;
        if (!isAffected(affected, probe.version, pkg.ecosystem)) continue;
        const name = findingName(advisory);
        const key = `${name}\0${pkg.ecosystem}\0${pkg.name}\0${pkg.version}`;
        const sev = severityOf(advisory, affected);
        const previous = found.get(key);
        if (previous && previous.rank <= SEVERITIES.indexOf(sev.severity)) continue;
        const attributes = [
          { key: 'package_version', value: clip(pkg.version, 256) },
          { key: 'package_name', value: clip(pkg.name, 256) },
        ];
        if (sev.cvss2)
          attributes.push({ key: 'CVSS2_VECTOR', value: sev.cvss2.vector }, { key: 'CVSS2_SCORE', value: String(sev.cvss2.score) });
        if (sev.cvss3)
          attributes.push({ key: 'CVSS3_VECTOR', value: sev.cvss3.vector }, { key: 'CVSS3_SCORE', value: String(sev.cvss3.score) });
        const description = advisory.summary ?? advisory.details;
        found.set(key, {
          name,
          ...(description ? { description } : {}),
          uri: findingUri(advisory),
          severity: sev.severity,
          attributes,
          rank: SEVERITIES.indexOf(sev.severity),
        });
      }
    }
  }
  return [...found.values()]
    .sort(
      (a, b) =>
        a.rank - b.rank ||
        (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) ||
        (a.attributes[1].value < b.attributes[1].value ? -1 : a.attributes[1].value > b.attributes[1].value ? 1 : 0),
    )
    .map(({ rank: _rank, ...f }) => f);
}

/** ECR's findingSeverityCounts: only the severities that occur. */
export function severityCounts(findings: Finding[]): Partial<Record<Severity, number>> {
  const counts: Partial<Record<Severity, number>> = {};
  for (const f of findings) counts[f.severity] = (counts[f.severity] ?? 0) + 1;
  return counts;
}
