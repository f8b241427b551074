/**
 * The CodeBuild container backend driven directly against a real engine (podman's Docker Engine
 * API on a private socket, set up by scripts/container-setup.sh): output lines, env, cwd, mounts,
 * exit codes, abort, missing images, output floods, and no container left behind.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Docker from 'dockerode';
import {
  BUILD_ID_LABEL,
  MAX_LINE,
  createContainerBackend,
  lastContainerEngineError,
} from '../../src/services/codebuild/build/backends/container.js';
import { imageEnvVar, resolveImage } from '../../src/services/codebuild/build/backends/images.js';
import { ProvisioningError, type BuildExecution, type ExecutionBackend } from '../../src/services/codebuild/build/backends/types.js';
import { ensureContainerEngine, type ContainerEngine } from '../helpers/containers.js';
import { unique } from '../helpers/opsbox.js';

const engineOrSkip = await ensureContainerEngine();
const skip = 'skip' in engineOrSkip ? engineOrSkip.skip : false;

describe('CodeBuild container backend', { skip }, () => {
  const engine = engineOrSkip as ContainerEngine;
  const project = unique('cbct');
  let backend: ExecutionBackend;
  let docker: Docker;
  let workDir: string;
  let scriptsDir: string;

  before(async () => {
    const b = await createContainerBackend({ dockerHost: engine.dockerHost, imageMap: { 'aws/codebuild/standard:7.0': engine.image } });
    assert.ok(b, lastContainerEngineError());
    backend = b;
    docker = new Docker({ socketPath: new URL(engine.dockerHost).pathname });
    workDir = mkdtempSync(join(tmpdir(), 'cbct-src-'));
    scriptsDir = mkdtempSync(join(tmpdir(), 'cbct-scripts-'));
    writeFileSync(join(workDir, 'input.txt'), 'from the source\n');
    writeFileSync(
      join(scriptsDir, 'driver.sh'),
      'echo "driver in $(pwd)"\ncat input.txt\necho to-stderr >&2\necho "FOO=$FOO BAR=$BAR"\nprintf "ünïcödé ✓\\r\\n"\necho made > made.txt\nexit 7\n',
    );
  });

  after(async () => {
    await backend?.close();
    rmSync(workDir, { recursive: true, force: true });
    rmSync(scriptsDir, { recursive: true, force: true });
  });

  const exec = (over: Partial<BuildExecution> & { lines?: [string, string][] }): BuildExecution => {
    const lines = over.lines ?? [];
    return {
      buildId: `${project}:${unique('b')}`,
      image: engine.image,
      workDir,
      mounts: [],
      command: ['sh', '-c', 'true'],
      containerWorkDir: '/codebuild/output/src123/src',
      env: {},
      privileged: false,
      onOutput: (s, l) => lines.push([s, l]),
      signal: new AbortController().signal,
      ...over,
    };
  };

  const leftovers = async () =>
    (await docker.listContainers({ all: true, filters: { label: [BUILD_ID_LABEL] } })).filter((c) =>
      c.Labels[BUILD_ID_LABEL]?.startsWith(`${project}:`),
    );

  test('provision: a local image → a log line naming the image and the engine', async () => {
    const line = await backend.provision(engine.image, new AbortController().signal);
    assert.match(line, new RegExp(`image ${engine.image.replace(/[.:/]/g, '\\$&')} on Podman`));
  });

  test('provision: a curated name mapped to a local image → runs that image', async () => {
    const line = await backend.provision('aws/codebuild/standard:7.0', new AbortController().signal);
    assert.match(line, /for aws\/codebuild\/standard:7\.0/);
  });

  test("provision: a missing image → ProvisioningError with AWS's message and how to fix it locally", async () => {
    const missing = `localhost/${unique('opsbox-missing')}:1`;
    await assert.rejects(backend.provision(missing, new AbortController().signal), (e: unknown) => {
      assert.ok(e instanceof ProvisioningError);
      assert.equal(e.phaseStatus, 'CLIENT_ERROR');
      assert.equal(e.contextStatusCode, 'BUILD_CONTAINER_UNABLE_TO_PULL_IMAGE');
      assert.match(e.message, /^Unable to pull customer's container image\. CannotPullContainerError: Error response from daemon: /);
      assert.match(e.message, new RegExp(imageEnvVar(missing)));
      return true;
    });
  });

  test('provision: an unmapped curated image → ProvisioningError at once, saying to build/tag or map it', async () => {
    const t0 = Date.now();
    await assert.rejects(
      backend.provision('aws/codebuild/amazonlinux2-x86_64-standard:5.0', new AbortController().signal),
      (e: unknown) => {
        assert.ok(e instanceof ProvisioningError);
        assert.match(
          e.message,
          /pull access denied for aws\/codebuild\/amazonlinux2-x86_64-standard:5\.0, repository does not exist or may require 'docker login'/,
        );
        assert.match(e.message, /OPSBOX_CODEBUILD_IMAGE_AWS_CODEBUILD_AMAZONLINUX2_X86_64_STANDARD_5_0=/);
        assert.match(e.message, /aws-codebuild-docker-images/);
        return true;
      },
    );
    assert.ok(Date.now() - t0 < 1000);
  });

  test('run: stdout/stderr lines in order per stream, env and cwd right, mounts visible, workDir writable, exit code propagated', async () => {
    const lines: [string, string][] = [];
    const r = await backend.run(
      exec({
        lines,
        mounts: [{ host: scriptsDir, container: '/codebuild/opsbox' }],
        command: ['sh', '/codebuild/opsbox/driver.sh'],
        env: { FOO: 'foo value', BAR: 'a=b c' },
      }),
    );
    assert.deepEqual(r, { exitCode: 7 });
    assert.deepEqual(
      lines.filter(([s]) => s === 'stdout').map(([, l]) => l),
      ['driver in /codebuild/output/src123/src', 'from the source', 'FOO=foo value BAR=a=b c', 'ünïcödé ✓'],
    );
    assert.deepEqual(
      lines.filter(([s]) => s === 'stderr'),
      [['stderr', 'to-stderr']],
    );
    assert.equal(readFileSync(join(workDir, 'made.txt'), 'utf8'), 'made\n');
  });

  test('run: many interleaved lines on one stream keep their order; a last line without newline still arrives', async () => {
    const lines: [string, string][] = [];
    const r = await backend.run(
      exec({ lines, command: ['sh', '-c', 'i=0; while [ $i -lt 2000 ]; do echo "line $i"; i=$((i+1)); done; printf tail'] }),
    );
    assert.equal(r.exitCode, 0);
    const out = lines.map(([, l]) => l);
    assert.equal(out.length, 2001);
    assert.equal(out[1999], 'line 1999');
    assert.equal(out[2000], 'tail');
    assert.ok(out.slice(0, 2000).every((l, i) => l === `line ${i}`));
  });

  test('run: the build reaches a server on the host at 127.0.0.1 (host network), as a host build would', async () => {
    const server = createServer((_req, res) => res.end('hello from the host'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as AddressInfo).port;
      const lines: [string, string][] = [];
      const r = await backend.run(exec({ lines, command: ['wget', '-q', '-O', '-', `http://127.0.0.1:${port}/`] }));
      assert.deepEqual([r, lines], [{ exitCode: 0 }, [['stdout', 'hello from the host']]]);
    } finally {
      server.close();
    }
  });

  test('run: abort mid-run kills and removes the container within 2 s', async () => {
    const ac = new AbortController();
    const lines: [string, string][] = [];
    const e = exec({ lines, signal: ac.signal, command: ['sh', '-c', 'trap "" TERM; echo started; sleep 60; echo never'] });
    const running = backend.run(e);
    const t0 = Date.now();
    while (!lines.length && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(lines, [['stdout', 'started']]);
    const tAbort = Date.now();
    ac.abort();
    const r = await running;
    assert.deepEqual(r, { exitCode: null, signal: 'SIGKILL' });
    assert.ok(Date.now() - tAbort < 2000, `took ${Date.now() - tAbort} ms`);
    const mine = (await leftovers()).filter((c) => c.Labels[BUILD_ID_LABEL] === e.buildId);
    assert.deepEqual(mine, []);
  });

  test('run: an already aborted signal → nothing runs', async () => {
    const ac = new AbortController();
    ac.abort();
    assert.deepEqual(await backend.run(exec({ signal: ac.signal })), { exitCode: null, signal: 'SIGKILL' });
  });

  test('run: 50 MB of output streams through without piling up in memory; a long line arrives in 256 KiB pieces', async () => {
    let bytes = 0;
    let count = 0;
    let longest = 0;
    let peak = 0;
    const base = process.memoryUsage().rss;
    const r = await backend.run(
      exec({
        // 50 MB of 100-byte lines, then one 1 MiB line
        command: ['sh', '-c', 'yes "$(printf "%099d" 0)" | head -c 50000000; head -c 1048576 /dev/zero | tr "\\0" x; echo'],
        onOutput: (_s, l) => {
          bytes += l.length;
          count++;
          longest = Math.max(longest, l.length);
          if ((count & 1023) === 0) peak = Math.max(peak, process.memoryUsage().rss - base);
        },
      }),
    );
    assert.equal(r.exitCode, 0);
    assert.equal(bytes, 50_000_000 - 500_000 + 1_048_576);
    assert.equal(longest, MAX_LINE);
    assert.equal(count, 500_000 + 4);
    assert.ok(peak < 150 * 1024 * 1024, `rss grew by ${Math.round(peak / 1048576)} MiB`);
  });

  test('close(): stops and removes the builds still running', async () => {
    const other = (await createContainerBackend({ dockerHost: engine.dockerHost }))!;
    const lines: [string, string][] = [];
    const e = exec({ lines, command: ['sh', '-c', 'echo started; sleep 60'] });
    const running = other.run(e);
    const t0 = Date.now();
    while (!lines.length && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 20));
    await other.close();
    assert.deepEqual(await running, { exitCode: null, signal: 'SIGKILL' });
    assert.deepEqual(
      (await leftovers()).filter((c) => c.Labels[BUILD_ID_LABEL] === e.buildId),
      [],
    );
  });

  test('run: an image that is not there → ProvisioningError, nothing left behind', async () => {
    await assert.rejects(backend.run(exec({ image: `localhost/${unique('opsbox-missing')}:1` })), ProvisioningError);
  });

  test('createContainerBackend: no engine on the socket → undefined within ~1 s, with the reason', async () => {
    const t0 = Date.now();
    const sock = join(workDir, 'nothing.sock');
    assert.equal(await createContainerBackend({ dockerHost: `unix://${sock}` }), undefined);
    assert.ok(Date.now() - t0 < 1500);
    assert.match(lastContainerEngineError(), new RegExp(`unix://${sock}`));
  });

  test('no container is left behind by any of the runs above', async () => {
    assert.deepEqual(await leftovers(), []);
  });
});

describe('CodeBuild image map', () => {
  test('resolveImage: imageMap, then OPSBOX_CODEBUILD_IMAGE_<NAME>, then the OPSBOX_CODEBUILD_IMAGES file (exact before prefix), else the name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cbct-map-'));
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'images.json');
    writeFileSync(
      file,
      JSON.stringify({
        'aws/codebuild/standard:6.0': 'local/std6',
        'aws/codebuild/*': 'local/any',
        'aws/codebuild/amazonlinux*': 'local/al',
      }),
    );
    const env = { OPSBOX_CODEBUILD_IMAGES: file, OPSBOX_CODEBUILD_IMAGE_AWS_CODEBUILD_STANDARD_7_0: 'local/std7-env' };
    try {
      assert.equal(resolveImage('aws/codebuild/standard:7.0', { 'aws/codebuild/standard:7.0': 'local/opt' }, env), 'local/opt');
      assert.equal(resolveImage('aws/codebuild/standard:7.0', {}, env), 'local/std7-env');
      assert.equal(resolveImage('aws/codebuild/standard:6.0', {}, env), 'local/std6');
      assert.equal(resolveImage('aws/codebuild/amazonlinux2-x86_64-standard:5.0', {}, env), 'local/al');
      assert.equal(resolveImage('aws/codebuild/standard:5.0', {}, env), 'local/any');
      assert.equal(resolveImage('node:20', {}, env), 'node:20');
      assert.equal(resolveImage('aws/codebuild/standard:7.0', {}, {}), 'aws/codebuild/standard:7.0');
      assert.equal(
        imageEnvVar('aws/codebuild/amazonlinux2-aarch64-standard:3.0'),
        'OPSBOX_CODEBUILD_IMAGE_AWS_CODEBUILD_AMAZONLINUX2_AARCH64_STANDARD_3_0',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
