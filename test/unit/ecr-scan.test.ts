import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { compareApk, compareDpkg, comparePep440, compareSemver } from '../../src/services/ecr/scan/versions.js';
import {
  normalizePath,
  parseApkInstalled,
  parseDpkgStatus,
  parseOsRelease,
  parsePackageLock,
  parseRequirements,
  readInventory,
} from '../../src/services/ecr/scan/inventory.js';
import {
  buildVulnDb,
  cvss2BaseScore,
  cvss3BaseScore,
  ecosystemCovers,
  inRange,
  isAffected,
  matchPackages,
  severityCounts,
  severityOf,
} from '../../src/services/ecr/scan/osv.js';
import { readTar } from '../../src/services/ecr/scan/tar.js';
import { tar, type TarInput } from '../helpers/oci.js';

/** Asserts a < b < c … under cmp, and the reverse, and each equal to itself. */
function ascending(cmp: (a: string, b: string) => number, ...vs: string[]) {
  for (let i = 0; i < vs.length; i++) {
    assert.equal(cmp(vs[i], vs[i]), 0, `${vs[i]} = ${vs[i]}`);
    for (let j = i + 1; j < vs.length; j++) {
      assert.ok(cmp(vs[i], vs[j]) < 0, `${vs[i]} < ${vs[j]}`);
      assert.ok(cmp(vs[j], vs[i]) > 0, `${vs[j]} > ${vs[i]}`);
    }
  }
}

describe('dpkg version comparison', () => {
  test('orders like dpkg --compare-versions', () => {
    ascending(compareDpkg, '1.0~~', '1.0~~a', '1.0~', '1.0', '1.0-1', '1.0a', '1.0+', '1.0.1', '1.2', '1.10', '1:0.1', '2:0');
    ascending(compareDpkg, '2.36.1-8', '2.36.1-8+deb11u1', '2.36.1-8+deb11u2', '2.36.1-9');
    ascending(compareDpkg, '3.0.2-0ubuntu1.9', '3.0.2-0ubuntu1.10', '3.0.2-0ubuntu1.12');
    ascending(compareDpkg, '7.88.1-10+deb12u5', '7.88.1-10+deb12u6', '8.0.0~rc1-1', '8.0.0-1');
    ascending(compareDpkg, '1.1.1n-0+deb11u3', '1.1.1n-0+deb11u4', '1.1.1w-0+deb11u1');
  });
  test('epochs, leading zeros and missing revisions', () => {
    assert.equal(compareDpkg('0:1.0', '1.0'), 0);
    assert.equal(compareDpkg('1.01', '1.1'), 0);
    assert.equal(compareDpkg('1.0-0', '1.0'), 0);
    assert.ok(compareDpkg('1:1.0', '9.9') > 0);
    assert.ok(compareDpkg('1.0-1-1', '1.0-1') > 0); // upstream "1.0-1" with revision 1
    assert.ok(compareDpkg('2.0~beta1', '2.0~alpha2') > 0);
  });
});

describe('other version orderings', () => {
  test('apk', () => {
    ascending(compareApk, '1.2.3_alpha1', '1.2.3_rc1', '1.2.3', '1.2.3-r1', '1.2.3_p1', '1.2.3a', '1.2.4', '1.10');
    ascending(compareApk, '3.1.4-r5', '3.1.5-r0', '3.1.5-r10');
    assert.equal(compareApk('1.2-r0', '1.2'), 0);
  });
  test('semver', () => {
    ascending(compareSemver, '1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0');
    ascending(compareSemver, '4.17.20', '4.17.21', 'v5.0.0');
    assert.equal(compareSemver('1.2.3+build5', '1.2.3'), 0);
  });
  test('PEP 440', () => {
    ascending(comparePep440, '1.0.dev1', '1.0a1', '1.0b2', '1.0rc1', '1.0', '1.0.post1', '1.1', '1!0.1');
    ascending(comparePep440, '2.0.0a1.dev1', '2.0.0a1', '2.0.0');
    assert.equal(comparePep440('2.0', '2.0.0'), 0);
    assert.equal(comparePep440('1.0-1', '1.0.post1'), 0);
    assert.equal(comparePep440('1.0RC1', '1.0rc1'), 0);
  });
});

describe('package databases', () => {
  test('dpkg status: installed packages, source packages, continuation lines', () => {
    const status = [
      'Package: libssl3',
      'Status: install ok installed',
      'Priority: optional',
      'Version: 3.0.11-1~deb12u1',
      'Source: openssl',
      'Description: Secure Sockets Layer toolkit',
      ' This package is part of the OpenSSL project.',
      ' .',
      ' Package: fake-from-description',
      '',
      'Package: removed-one',
      'Status: deinstall ok config-files',
      'Version: 1.0',
      '',
      'Package: libc6',
      'Status: install ok installed',
      'Version: 2.36-9+deb12u3',
      'Source: glibc (2.36-9+deb12u3)',
      '',
      'Package: tzdata',
      'Status: install ok installed',
      'Version: 2024a-0+deb12u1',
      '',
      'Package: binnmu',
      'Status: install ok installed',
      'Version: 1.2-3+b1',
      'Source: binnmu (1.2-3)',
    ].join('\n');
    assert.deepEqual(parseDpkgStatus(status), [
      { name: 'libssl3', version: '3.0.11-1~deb12u1', source: { name: 'openssl', version: '3.0.11-1~deb12u1' } },
      { name: 'libc6', version: '2.36-9+deb12u3', source: { name: 'glibc', version: '2.36-9+deb12u3' } },
      { name: 'tzdata', version: '2024a-0+deb12u1' },
      { name: 'binnmu', version: '1.2-3+b1', source: { name: 'binnmu', version: '1.2-3' } },
    ]);
    // status.d files (distroless) have no Status field
    assert.deepEqual(parseDpkgStatus('Package: base-files\r\nVersion: 12.4+deb12u5\r\n'), [
      { name: 'base-files', version: '12.4+deb12u5' },
    ]);
  });

  test('apk installed', () => {
    const db = [
      'C:Q1abc=',
      'P:musl',
      'V:1.2.4-r2',
      'A:x86_64',
      'o:musl',
      'F:lib',
      'R:libc.musl-x86_64.so.1',
      '',
      'P:libcrypto3',
      'V:3.1.4-r5',
      'o:openssl',
      '',
      'P:incomplete',
      '',
    ].join('\n');
    assert.deepEqual(parseApkInstalled(db), [
      { name: 'musl', version: '1.2.4-r2' },
      { name: 'libcrypto3', version: '3.1.4-r5', source: { name: 'openssl', version: '3.1.4-r5' } },
    ]);
  });

  test('package-lock.json v3 and v1', () => {
    const v3 = JSON.stringify({
      name: 'app',
      lockfileVersion: 3,
      packages: {
        '': { name: 'app', version: '1.0.0' },
        'node_modules/lodash': { version: '4.17.20' },
        'node_modules/@scope/pkg': { version: '2.0.0' },
        'node_modules/a/node_modules/lodash': { version: '4.17.21' },
        'node_modules/aliased': { name: 'real-name', version: '1.1.0' },
        'node_modules/local': { resolved: 'packages/local', link: true },
        'node_modules/fromgit': { version: 'git+https://example.com/x.git#abc' },
        'packages/local': { name: 'local', version: '0.0.1' },
      },
    });
    assert.deepEqual(parsePackageLock(v3), [
      { name: 'lodash', version: '4.17.20' },
      { name: '@scope/pkg', version: '2.0.0' },
      { name: 'lodash', version: '4.17.21' },
      { name: 'real-name', version: '1.1.0' },
    ]);
    const v1 = JSON.stringify({
      lockfileVersion: 1,
      dependencies: {
        minimist: { version: '1.2.5' },
        mkdirp: { version: '0.5.1', dependencies: { minimist: { version: '0.0.8' } } },
        alias: { version: 'npm:left-pad@1.3.0' },
      },
    });
    assert.deepEqual(parsePackageLock(v1), [
      { name: 'minimist', version: '1.2.5' },
      { name: 'mkdirp', version: '0.5.1' },
      { name: 'minimist', version: '0.0.8' },
      { name: 'left-pad', version: '1.3.0' },
    ]);
    assert.throws(() => parsePackageLock('{not json'));
  });

  test('requirements.txt: exact pins only', () => {
    const req = [
      '# comment',
      'Django==3.2.1',
      'requests[socks] == 2.25.0  # pinned',
      'urllib3==1.26.4 ; python_version >= "3.6"',
      'PyYAML==5.3.1 \\',
      '    --hash=sha256:abc',
      'flask>=2.0',
      'numpy~=1.21',
      'six',
      'zope.interface===5.4.0',
      'Pillow==8.*',
      '-r other.txt',
      '-e git+https://example.com/x.git#egg=x',
      'https://example.com/pkg.whl',
    ].join('\n');
    assert.deepEqual(parseRequirements(req), [
      { name: 'django', version: '3.2.1' },
      { name: 'requests', version: '2.25.0' },
      { name: 'urllib3', version: '1.26.4' },
      { name: 'pyyaml', version: '5.3.1' },
      { name: 'zope-interface', version: '5.4.0' },
    ]);
  });

  test('os-release', () => {
    assert.deepEqual(parseOsRelease('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'), {
      id: 'debian',
      versionId: '12',
      prettyName: 'Debian GNU/Linux 12 (bookworm)',
    });
    assert.equal(parseOsRelease('NAME=x\n'), undefined);
  });

  test('tar paths', () => {
    assert.equal(normalizePath('./var/lib/dpkg/status'), 'var/lib/dpkg/status');
    assert.equal(normalizePath('/app/../app/./package-lock.json'), 'app/package-lock.json');
    assert.equal(normalizePath('usr/'), 'usr');
  });
});

describe('tar reader', () => {
  const entries = async (archive: Buffer, chunk = 7) => {
    const out: { path: string; type: string; data?: string }[] = [];
    async function* chunks() {
      for (let i = 0; i < archive.length; i += chunk) yield archive.subarray(i, i + chunk);
    }
    await readTar(
      chunks(),
      (h) => {
        out.push({ path: h.path, type: h.type });
        return h.path.endsWith('.txt') ? 1024 : 0;
      },
      (h, data) => (out[out.length - 1].data = data.toString()),
    );
    return out;
  };

  test('reads headers and wanted contents across tiny chunks; pax long names', async () => {
    const long = `a/${'x'.repeat(150)}/b.txt`;
    const archive = tar([
      { path: 'dir/' },
      { path: 'dir/one.txt', data: 'hello' },
      { path: 'dir/skip.bin', data: Buffer.alloc(2000, 1) },
      { path: long, data: 'long name' },
      { path: 'dir/link', type: '2', linkname: 'one.txt' },
      { path: 'dir/empty.txt', data: '' },
    ]);
    assert.deepEqual(await entries(archive), [
      { path: 'dir/', type: '5' },
      { path: 'dir/one.txt', type: '0', data: 'hello' },
      { path: 'dir/skip.bin', type: '0' },
      { path: long, type: '0', data: 'long name' },
      { path: 'dir/link', type: '2' },
      { path: 'dir/empty.txt', type: '0', data: '' },
    ]);
  });

  test('a file larger than wanted is skipped, and a bad header fails', async () => {
    const got = await entries(
      tar([
        { path: 'big.txt', data: 'y'.repeat(5000) },
        { path: 'after.txt', data: 'ok' },
      ]),
      1000,
    );
    assert.deepEqual(got, [
      { path: 'big.txt', type: '0' },
      { path: 'after.txt', type: '0', data: 'ok' },
    ]);
    await assert.rejects(entries(Buffer.alloc(512, 7)), /not a tar archive/);
    const truncated = tar([{ path: 'a.txt', data: 'z'.repeat(3000) }]).subarray(0, 1500);
    await assert.rejects(entries(truncated), /unexpected end/);
  });
});

describe('image inventory', () => {
  const layer = (entries: TarInput[], gz = true) => {
    const t = tar(entries);
    const blob = gz ? gzipSync(t) : t;
    return () =>
      (async function* () {
        for (let i = 0; i < blob.length; i += 100) yield blob.subarray(i, i + 100);
      })();
  };
  const dpkg = (...pkgs: [string, string][]) =>
    pkgs.map(([n, v]) => `Package: ${n}\nStatus: install ok installed\nVersion: ${v}\n`).join('\n');
  const lock = (deps: Record<string, string>) =>
    JSON.stringify({
      lockfileVersion: 3,
      packages: Object.fromEntries(Object.entries(deps).map(([n, v]) => [`node_modules/${n}`, { version: v }])),
    });

  test('merges layers: later files replace, whiteouts and opaque dirs hide', async () => {
    const inv = await readInventory([
      layer([
        { path: './etc/os-release', data: 'ID=debian\nVERSION_ID="12"\n' },
        { path: './var/lib/dpkg/status', data: dpkg(['bash', '5.2.15-2+b2'], ['openssl', '3.0.11-1~deb12u1']) },
        { path: './app/package-lock.json', data: lock({ lodash: '4.17.20' }) },
        { path: './old/package-lock.json', data: lock({ gone: '1.0.0' }) },
        { path: './opq/requirements.txt', data: 'hidden==1.0\n' },
        { path: './srv/requirements.txt', data: 'Django==3.2.1\n' },
      ]),
      layer(
        [
          { path: 'var/lib/dpkg/status', data: dpkg(['bash', '5.2.15-2+b2'], ['openssl', '3.0.13-1~deb12u1']) },
          { path: 'old/.wh.package-lock.json', data: '' },
          { path: 'opq/.wh..wh..opq', data: '' },
          { path: 'opq/requirements.txt', data: 'visible==2.0\n' },
        ],
        false,
      ),
      layer([{ path: 'srv', type: '2', linkname: '/elsewhere' }]),
    ]);
    assert.deepEqual(inv.os, { id: 'debian', versionId: '12', prettyName: undefined });
    assert.deepEqual(
      inv.packages.map((p) => `${p.ecosystem} ${p.name} ${p.version} ${p.path}`),
      [
        'npm lodash 4.17.20 app/package-lock.json',
        'PyPI visible 2.0 opq/requirements.txt',
        'Debian bash 5.2.15-2+b2 var/lib/dpkg/status',
        'Debian openssl 3.0.13-1~deb12u1 var/lib/dpkg/status',
      ],
    );
    assert.deepEqual(inv.skipped, []);
  });

  test('alpine, symlinked os-release, distroless status.d, broken lock files', async () => {
    const inv = await readInventory([
      layer([
        { path: 'usr/lib/os-release', data: 'ID=alpine\nVERSION_ID=3.19.1\n' },
        { path: 'etc/os-release', type: '2', linkname: '../usr/lib/os-release' },
        { path: 'lib/apk/db/installed', data: 'P:busybox\nV:1.36.1-r15\n\nP:libcrypto3\nV:3.1.4-r5\no:openssl\n' },
        { path: 'x/package-lock.json', data: '{broken' },
      ]),
    ]);
    assert.equal(inv.os?.id, 'alpine');
    assert.deepEqual(
      inv.packages.map((p) => `${p.ecosystem} ${p.name} ${p.version} ${p.source?.name ?? ''}`),
      ['Alpine busybox 1.36.1-r15 ', 'Alpine libcrypto3 3.1.4-r5 openssl'],
    );
    assert.equal(inv.skipped.length, 1);
    assert.match(inv.skipped[0], /^x\/package-lock\.json/);
    const distroless = await readInventory([
      layer([
        { path: 'var/lib/dpkg/status.d/base', data: 'Package: base-files\nVersion: 12.4\n' },
        { path: 'var/lib/dpkg/status.d/base.md5sums', data: 'abc  etc/x\n' },
      ]),
    ]);
    assert.deepEqual(
      distroless.packages.map((p) => p.name),
      ['base-files'],
    );
  });

  test('an empty layer and a non-tar layer', async () => {
    assert.deepEqual((await readInventory([() => (async function* () {})()])).packages, []);
    await assert.rejects(
      readInventory([
        () =>
          (async function* () {
            yield gzipSync(Buffer.alloc(600, 9));
          })(),
      ]),
      /not a tar archive/,
    );
  });
});

describe('OSV matching', () => {
  test('range evaluation', () => {
    const cmp = compareDpkg;
    assert.equal(inRange([{ introduced: '0' }, { fixed: '1.2-1' }], '1.1-1', cmp), true);
    assert.equal(inRange([{ introduced: '0' }, { fixed: '1.2-1' }], '1.2-1', cmp), false);
    assert.equal(inRange([{ introduced: '0' }, { fixed: '1.2-1' }], '1.2~rc1-1', cmp), true);
    assert.equal(inRange([{ introduced: '1.0' }], '0.9', cmp), false);
    assert.equal(inRange([{ introduced: '1.0' }], '5.0', cmp), true);
    // two affected windows, in any order
    const windows = [{ fixed: '2.5' }, { introduced: '2.0' }, { fixed: '1.5' }, { introduced: '1.0' }];
    assert.deepEqual(
      ['0.5', '1.0', '1.4', '1.5', '1.9', '2.0', '2.4', '2.5', '3'].map((v) => inRange(windows, v, compareSemver)),
      [false, true, true, false, false, true, true, false, false],
    );
    assert.equal(inRange([{ introduced: '0' }, { last_affected: '1.4' }], '1.4', compareSemver), true);
    assert.equal(inRange([{ introduced: '0' }, { last_affected: '1.4' }], '1.4.1', compareSemver), false);
    assert.equal(inRange([{ introduced: '0' }, { limit: '2.0' }], '1.9', compareSemver), true);
    assert.equal(inRange([{ introduced: '0' }, { limit: '2.0' }], '2.1', compareSemver), false);
  });

  test('affected versions, ecosystems and releases', () => {
    const aff = { package: { ecosystem: 'PyPI', name: 'Django' }, versions: ['3.2.1'], ranges: [] };
    assert.equal(isAffected(aff, '3.2.1', 'PyPI'), true);
    assert.equal(isAffected(aff, '3.2.1.0', 'PyPI'), true);
    assert.equal(isAffected(aff, '3.2.2', 'PyPI'), false);
    assert.equal(isAffected({ ranges: [{ type: 'GIT', events: [{ introduced: '0' }] }] }, '1', 'npm'), false);
    assert.equal(ecosystemCovers('Debian:12', 'Debian', { id: 'debian', versionId: '12' }), true);
    assert.equal(ecosystemCovers('Debian:11', 'Debian', { id: 'debian', versionId: '12' }), false);
    assert.equal(ecosystemCovers('Debian', 'Debian', { id: 'debian', versionId: '12' }), true);
    assert.equal(ecosystemCovers('Debian:11', 'Debian', undefined), true);
    assert.equal(ecosystemCovers('Alpine:v3.19', 'Alpine', { id: 'alpine', versionId: '3.19.1' }), true);
    assert.equal(ecosystemCovers('Alpine:v3.18', 'Alpine', { id: 'alpine', versionId: '3.19.1' }), false);
    assert.equal(ecosystemCovers('Ubuntu:22.04:LTS', 'Ubuntu', { id: 'ubuntu', versionId: '22.04' }), true);
    assert.equal(ecosystemCovers('Debian:12', 'Ubuntu', { id: 'ubuntu', versionId: '12' }), false);
  });

  test('CVSS scores and severities', () => {
    assert.equal(cvss3BaseScore('CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H'), 9.8);
    assert.equal(cvss3BaseScore('CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N'), 6.1);
    assert.equal(cvss3BaseScore('CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N'), 5.5);
    assert.equal(cvss3BaseScore('CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H'), 10);
    assert.equal(cvss3BaseScore('CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N'), 0);
    assert.equal(cvss3BaseScore('CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N'), undefined);
    assert.equal(cvss2BaseScore('AV:N/AC:L/Au:N/C:P/I:P/A:P'), 7.5);
    assert.equal(cvss2BaseScore('AV:N/AC:M/Au:N/C:N/I:P/A:N'), 4.3);
    const adv = (extra: object) => ({ id: 'X', affected: [], ...extra });
    assert.equal(
      severityOf(adv({ severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }] }), {}).severity,
      'CRITICAL',
    );
    assert.equal(
      severityOf(adv({ severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N' }] }), {}).severity,
      'MEDIUM',
    );
    assert.equal(severityOf(adv({ database_specific: { severity: 'MODERATE' } }), {}).severity, 'MEDIUM');
    assert.equal(severityOf(adv({}), { ecosystem_specific: { severity: 'unimportant' } }).severity, 'INFORMATIONAL');
    assert.equal(severityOf(adv({ severity: [{ type: 'CVSS_V2', score: 'AV:N/AC:L/Au:N/C:P/I:P/A:P' }] }), {}).severity, 'HIGH');
    assert.equal(severityOf(adv({ severity: [{ type: 'CVSS_V4', score: 'CVSS:4.0/AV:N' }] }), {}).severity, 'UNDEFINED');
    assert.equal(severityOf(adv({}), {}).severity, 'UNDEFINED');
  });

  test('matches packages by ecosystem, name (or source package) and version', () => {
    const db = buildVulnDb([
      {
        id: 'DSA-0001-1',
        aliases: ['CVE-2024-0001'],
        modified: '2024-03-01T00:00:00Z',
        summary: 'openssl: bad things',
        references: [
          { type: 'WEB', url: 'https://example.com/web' },
          { type: 'ADVISORY', url: 'https://security-tracker.debian.org/tracker/CVE-2024-0001' },
        ],
        affected: [
          {
            package: { ecosystem: 'Debian:12', name: 'openssl' },
            ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '3.0.13-1~deb12u1' }] }],
          },
        ],
        database_specific: { severity: 'high' },
      },
      {
        id: 'GHSA-xxxx-yyyy-zzzz',
        modified: '2024-05-01T00:00:00Z',
        details: 'Prototype pollution in lodash',
        severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }],
        affected: [
          {
            package: { ecosystem: 'npm', name: 'lodash' },
            ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '4.17.21' }] }],
          },
        ],
      },
      {
        id: 'WITHDRAWN-1',
        withdrawn: '2024-01-01T00:00:00Z',
        affected: [{ package: { ecosystem: 'npm', name: 'lodash' }, versions: ['4.17.20'] }],
      },
      {
        id: 'PYSEC-1',
        affected: [
          {
            package: { ecosystem: 'PyPI', name: 'Django' },
            ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '3.2' }, { fixed: '3.2.2' }] }],
          },
        ],
      },
      { not: 'an advisory' },
    ]);
    assert.equal(db.advisories, 3);
    assert.equal(db.updatedAt, Date.parse('2024-05-01T00:00:00Z'));
    const os = { id: 'debian', versionId: '12' };
    const findings = matchPackages(
      db,
      [
        {
          ecosystem: 'Debian',
          name: 'libssl3',
          version: '3.0.11-1~deb12u1',
          source: { name: 'openssl', version: '3.0.11-1~deb12u1' },
          path: 'var/lib/dpkg/status',
        },
        { ecosystem: 'Debian', name: 'openssl', version: '3.0.13-1~deb12u1', path: 'var/lib/dpkg/status' },
        { ecosystem: 'npm', name: 'lodash', version: '4.17.20', path: 'app/package-lock.json' },
        { ecosystem: 'npm', name: 'lodash', version: '4.17.21', path: 'app/package-lock.json' },
        { ecosystem: 'PyPI', name: 'django', version: '3.2.1', path: 'requirements.txt' },
        { ecosystem: 'Alpine', name: 'openssl', version: '1', path: 'lib/apk/db/installed' },
      ],
      os,
    );
    assert.deepEqual(findings, [
      {
        name: 'GHSA-xxxx-yyyy-zzzz',
        description: 'Prototype pollution in lodash',
        uri: 'https://osv.dev/vulnerability/GHSA-xxxx-yyyy-zzzz',
        severity: 'CRITICAL',
        attributes: [
          { key: 'package_version', value: '4.17.20' },
          { key: 'package_name', value: 'lodash' },
          { key: 'CVSS3_VECTOR', value: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' },
          { key: 'CVSS3_SCORE', value: '9.8' },
        ],
      },
      {
        name: 'CVE-2024-0001',
        description: 'openssl: bad things',
        uri: 'https://security-tracker.debian.org/tracker/CVE-2024-0001',
        severity: 'HIGH',
        attributes: [
          { key: 'package_version', value: '3.0.11-1~deb12u1' },
          { key: 'package_name', value: 'libssl3' },
        ],
      },
      {
        name: 'PYSEC-1',
        uri: 'https://osv.dev/vulnerability/PYSEC-1',
        severity: 'UNDEFINED',
        attributes: [
          { key: 'package_version', value: '3.2.1' },
          { key: 'package_name', value: 'django' },
        ],
      },
    ]);
    assert.deepEqual(severityCounts(findings), { CRITICAL: 1, HIGH: 1, UNDEFINED: 1 });
    // the Debian 12 advisory does not apply to a Debian 11 image
    assert.equal(
      matchPackages(db, [{ ecosystem: 'Debian', name: 'openssl', version: '1.1.1n-0+deb11u4', path: 's' }], {
        id: 'debian',
        versionId: '11',
      }).length,
      0,
    );
  });
});
