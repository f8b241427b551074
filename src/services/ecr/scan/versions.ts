/**
 * Version orderings of the ecosystems the scanner reads: dpkg's (Debian, Ubuntu), apk's (Alpine),
 * SemVer 2.0 (npm, and OSV's SEMVER ranges) and PEP 440 (PyPI). Each returns <0, 0 or >0. Pure:
 * unit-tested alone.
 */

// ---- dpkg (deb-version(7), lib/dpkg/version.c) ----

/** dpkg's character weight: '~' before everything (even the end), letters before non-letters. */
function order(c: string): number {
  if (c === '') return 0;
  if (c >= '0' && c <= '9') return 0;
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return c.charCodeAt(0);
  if (c === '~') return -1;
  return c.charCodeAt(0) + 256;
}

const isDigit = (c: string) => c >= '0' && c <= '9' && c !== '';

/** dpkg's verrevcmp: alternating non-digit runs (by `order`) and digit runs (numerically). */
function verrevcmp(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    let firstDiff = 0;
    while ((i < a.length && !isDigit(a[i])) || (j < b.length && !isDigit(b[j]))) {
      const ac = order(a[i] ?? '');
      const bc = order(b[j] ?? '');
      if (ac !== bc) return ac - bc;
      i++;
      j++;
    }
    while (a[i] === '0') i++;
    while (b[j] === '0') j++;
    while (isDigit(a[i] ?? '') && isDigit(b[j] ?? '')) {
      if (!firstDiff) firstDiff = a.charCodeAt(i) - b.charCodeAt(j);
      i++;
      j++;
    }
    if (isDigit(a[i] ?? '')) return 1;
    if (isDigit(b[j] ?? '')) return -1;
    if (firstDiff) return firstDiff;
  }
  return 0;
}

export interface DebVersion {
  epoch: number;
  upstream: string;
  revision: string;
}

/** [epoch:]upstream[-revision]: the epoch before the first ':', the revision after the last '-'. */
export function parseDebVersion(v: string): DebVersion {
  v = v.trim();
  let epoch = 0;
  const colon = v.indexOf(':');
  if (colon >= 0 && /^\d+$/.test(v.slice(0, colon))) {
    epoch = Number(v.slice(0, colon));
    v = v.slice(colon + 1);
  }
  const dash = v.lastIndexOf('-');
  return dash >= 0 ? { epoch, upstream: v.slice(0, dash), revision: v.slice(dash + 1) } : { epoch, upstream: v, revision: '' };
}

export function compareDpkg(a: string, b: string): number {
  const x = parseDebVersion(a);
  const y = parseDebVersion(b);
  if (x.epoch !== y.epoch) return x.epoch - y.epoch;
  return Math.sign(verrevcmp(x.upstream, y.upstream)) || Math.sign(verrevcmp(x.revision, y.revision));
}

// ---- apk (apk-tools' version.c) ----

const APK_PRE = ['alpha', 'beta', 'pre', 'rc'];
const APK_POST = ['cvs', 'svn', 'git', 'hg', 'p'];
const APK = /^(\d+(?:\.\d+)*)([a-z]?)((?:_(?:alpha|beta|pre|rc|cvs|svn|git|hg|p)\d*)*)(?:~([0-9a-f]+))?(?:-r(\d+))?$/;

/** A suffix's rank: pre-releases below none (0), post-releases above. */
const suffixRank = (s: string) => (APK_PRE.includes(s) ? APK_PRE.indexOf(s) - APK_PRE.length : APK_POST.indexOf(s) + 1);

/** Compares dotted numbers the Gentoo/apk way: a part with a leading zero is a decimal fraction. */
function compareParts(a: string[], b: string[]): number {
  for (let k = 0; k < Math.max(a.length, b.length); k++) {
    const x = a[k];
    const y = b[k];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    if (k > 0 && (x.startsWith('0') || y.startsWith('0'))) {
      const xs = x.replace(/0+$/, '');
      const ys = y.replace(/0+$/, '');
      if (xs !== ys) return xs < ys ? -1 : 1;
      continue;
    }
    const d = Number(x) - Number(y);
    if (d) return Math.sign(d);
  }
  return 0;
}

export function compareApk(a: string, b: string): number {
  const x = APK.exec(a.trim());
  const y = APK.exec(b.trim());
  if (!x || !y) return compareDpkg(a, b); // not apk grammar: the closest general ordering
  const parts = compareParts(x[1].split('.'), y[1].split('.'));
  if (parts) return parts;
  if (x[2] !== y[2]) return x[2] < y[2] ? -1 : 1;
  const sx = [...x[3].matchAll(/_([a-z]+)(\d*)/g)];
  const sy = [...y[3].matchAll(/_([a-z]+)(\d*)/g)];
  for (let k = 0; k < Math.max(sx.length, sy.length); k++) {
    const rx = sx[k] ? suffixRank(sx[k][1]) : 0;
    const ry = sy[k] ? suffixRank(sy[k][1]) : 0;
    if (rx !== ry) return Math.sign(rx - ry);
    const nx = Number(sx[k]?.[2] || 0);
    const ny = Number(sy[k]?.[2] || 0);
    if (nx !== ny) return Math.sign(nx - ny);
  }
  const hx = x[4] ?? '';
  const hy = y[4] ?? '';
  if (hx !== hy) return hx < hy ? -1 : 1;
  return Math.sign(Number(x[5] ?? 0) - Number(y[5] ?? 0));
}

// ---- SemVer 2.0 (loosely: a leading 'v', missing minor/patch read as 0) ----

const SEMVER = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/;

export const isSemver = (v: string) => SEMVER.test(v.trim());

export function compareSemver(a: string, b: string): number {
  const x = SEMVER.exec(a.trim());
  const y = SEMVER.exec(b.trim());
  if (!x || !y) return compareDpkg(a, b);
  for (let k = 1; k <= 3; k++) {
    const d = Number(x[k] ?? 0) - Number(y[k] ?? 0);
    if (d) return Math.sign(d);
  }
  const px = x[4];
  const py = y[4];
  if (px === undefined || py === undefined) return px === py ? 0 : px === undefined ? 1 : -1;
  const ix = px.split('.');
  const iy = py.split('.');
  for (let k = 0; k < Math.max(ix.length, iy.length); k++) {
    if (ix[k] === undefined) return -1;
    if (iy[k] === undefined) return 1;
    const nx = /^\d+$/.test(ix[k]);
    const ny = /^\d+$/.test(iy[k]);
    if (nx && ny) {
      const d = Number(ix[k]) - Number(iy[k]);
      if (d) return Math.sign(d);
    } else if (nx !== ny) return nx ? -1 : 1;
    else if (ix[k] !== iy[k]) return ix[k] < iy[k] ? -1 : 1;
  }
  return 0;
}

// ---- PEP 440 ----

const PEP440 =
  /^v?(?:(\d+)!)?(\d+(?:\.\d+)*)(?:[-_.]?(a|b|c|rc|alpha|beta|pre|preview)[-_.]?(\d*))?(?:-(\d+)|[-_.]?(?:post|rev|r)[-_.]?(\d*))?(?:[-_.]?dev[-_.]?(\d*))?(?:\+([a-z0-9]+(?:[-_.][a-z0-9]+)*))?$/;

type Pep440Key = [number, number[], number[], number, number, string];

function pep440Key(v: string): Pep440Key | undefined {
  const m = PEP440.exec(v.trim().toLowerCase());
  if (!m) return undefined;
  const release = m[2].split('.').map(Number);
  while (release.length > 1 && release[release.length - 1] === 0) release.pop();
  const preLetter = m[3] === undefined ? undefined : (({ a: 0, alpha: 0, b: 1, beta: 1 } as Record<string, number>)[m[3]] ?? 2);
  // an optional group that took part holds '' (not undefined) when its number is left out
  const hasPost = m[5] !== undefined || m[6] !== undefined;
  const post = m[5] ?? m[6];
  const hasDev = m[7] !== undefined;
  const dev = m[7];
  // packaging's _cmpkey: a dev-only release sorts before its pre-releases, no pre-release after them
  const pre = preLetter !== undefined ? [preLetter, Number(m[4] || 0)] : !hasPost && hasDev ? [-Infinity] : [Infinity];
  return [Number(m[1] ?? 0), release, pre, hasPost ? Number(post || 0) : -Infinity, hasDev ? Number(dev || 0) : Infinity, m[8] ?? ''];
}

const compareNumbers = (a: number[], b: number[]) => {
  for (let k = 0; k < Math.max(a.length, b.length); k++) {
    const d = (a[k] ?? 0) - (b[k] ?? 0);
    if (d) return Math.sign(d);
  }
  return 0;
};

export function comparePep440(a: string, b: string): number {
  const x = pep440Key(a);
  const y = pep440Key(b);
  if (!x || !y) return compareDpkg(a, b);
  return (
    Math.sign(x[0] - y[0]) ||
    compareNumbers(x[1], y[1]) ||
    compareNumbers(x[2], y[2]) ||
    Math.sign(x[3] - y[3] || 0) ||
    Math.sign(x[4] - y[4] || 0) ||
    (x[5] === y[5] ? 0 : x[5] < y[5] ? -1 : 1)
  );
}

/** The ordering an OSV ecosystem's versions follow. */
export function comparatorFor(ecosystem: string): (a: string, b: string) => number {
  const base = ecosystem.split(':')[0];
  if (base === 'Debian' || base === 'Ubuntu') return compareDpkg;
  if (base === 'Alpine') return compareApk;
  if (base === 'PyPI') return comparePep440;
  return compareSemver;
}
