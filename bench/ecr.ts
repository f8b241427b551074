/**
 * ECR's registry against the CNCF distribution registry (Debian's docker-registry, what most
 * self-hosted users run), both on loopback: skopeo pushes one image of about 200 MB in several
 * layers from an OCI layout on disk, then pulls it back into a fresh layout, a new repository and
 * new layers each round (skopeo would otherwise mount blobs it pushed before instead of uploading). Also opsbox's RSS growth during the transfers (the registry streams, so it stays small).
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { callOnce } from './callScenario.js';
import { percentile } from './load.js';
import { na, rowsOf, val, type Row } from './report.js';
import { jsonRequest } from './sigv4.js';
import { sampleRss, readMem, startRegistry, type Target } from './targets.js';

export interface EcrPlan {
  layers: number;
  layerBytes: number;
  rounds: number;
}

const median = (xs: number[]) => percentile(Float64Array.from(xs).sort(), 50);

function skopeo(args: string[]) {
  return new Promise<void>((resolve, reject) =>
    execFile('skopeo', args, { maxBuffer: 16 << 20, timeout: 600_000 }, (err, _out, stderr) =>
      err ? reject(new Error(`skopeo ${args[0]}: ${stderr.trim().split('\n').pop()}`)) : resolve(),
    ),
  );
}

/** An OCI image layout with `layers` layers of random (incompressible) bytes. */
function writeLayout(dir: string, plan: EcrPlan) {
  const blobs = join(dir, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const put = (bytes: Buffer) => {
    const hex = createHash('sha256').update(bytes).digest('hex');
    writeFileSync(join(blobs, hex), bytes);
    return { digest: `sha256:${hex}`, size: bytes.length };
  };
  const layers = Array.from({ length: plan.layers }, () => put(randomBytes(plan.layerBytes)));
  const config = put(
    Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) } })),
  );
  const manifest = put(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...l })),
      }),
    ),
  );
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          ...manifest,
          annotations: { 'org.opencontainers.image.ref.name': 'bench' },
        },
      ],
    }),
  );
}

export async function ecrScenario(opsbox: Target | Error | undefined, plan: EcrPlan, log: (s: string) => void) {
  const section = `ECR registry: skopeo push and pull of a ${Math.round((plan.layers * plan.layerBytes) / 2 ** 20)} MB image in ${plan.layers} layers`;
  const row = rowsOf(section);
  const mk = (label: string, unit: string, target?: Row['target']) => row(label, unit, 'lower', target);
  const rows = {
    push: mk('push, opsbox', 's'),
    pushPeer: mk('push, distribution registry', 's'),
    pushRatio: mk('push, opsbox ÷ distribution registry', '×', { op: '<=', value: 1.2 }),
    pull: mk('pull, opsbox', 's'),
    pullPeer: mk('pull, distribution registry', 's'),
    pullRatio: mk('pull, opsbox ÷ distribution registry', '×', { op: '<=', value: 1.2 }),
    rss: mk('opsbox RSS growth during push and pull', 'MB', { op: '<=', value: 50 }),
  };
  const all = Object.values(rows);
  const details: Record<string, number[]> = { push: [], pushPeer: [], pull: [], pullPeer: [], rssMb: [] };
  if (!opsbox || opsbox instanceof Error) {
    all.forEach((r) => (r.cells.opsbox = na(opsbox ?? 'opsbox not started')));
    return { rows: all, details };
  }
  const root = mkdtempSync(join(tmpdir(), 'opsbox-bench-ecr-'));
  let registry: Target | undefined;
  try {
    registry = await startRegistry(root);
    const token = JSON.parse(
      (
        await callOnce(
          opsbox,
          jsonRequest(opsbox, 'ecr', 'AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken', {}),
          (r) => r.status === 200,
        )
      ).body.toString(),
    ).authorizationData[0].authorizationToken as string;
    const creds = Buffer.from(token, 'base64').toString('utf8');
    const timed = async (fn: () => Promise<void>) => {
      const t0 = performance.now();
      await fn();
      return (performance.now() - t0) / 1000;
    };
    for (let round = 0; round < plan.rounds; round++) {
      // new layers every round: skopeo remembers where it pushed a blob and would mount it instead of uploading
      log(`ecr: round ${round + 1}/${plan.rounds}, writing a new image layout`);
      const layout = join(root, `layout-${round}`);
      rmSync(join(root, `layout-${round - 1}`), { recursive: true, force: true });
      writeLayout(layout, plan);
      const repo = `bench/img${round}-${Date.now().toString(36)}`;
      await callOnce(
        opsbox,
        jsonRequest(opsbox, 'ecr', 'AmazonEC2ContainerRegistry_V20150921.CreateRepository', { repositoryName: repo }),
        (r) => r.status === 200,
      );
      for (const [t, key, credArgs] of [
        [opsbox, 'push', ['--dest-creds', creds]],
        [registry, 'pushPeer', []],
      ] as const) {
        log(`ecr: round ${round + 1}/${plan.rounds}, push to ${t.name}`);
        const before = t.name === 'opsbox' ? readMem(t.pid)?.rssKb : undefined;
        const sampler = t.name === 'opsbox' ? sampleRss(t.pid, 50) : undefined;
        details[key].push(
          await timed(() =>
            skopeo(['copy', '-q', '--dest-tls-verify=false', ...credArgs, `oci:${layout}:bench`, `docker://${t.host}:${t.port}/${repo}:1`]),
          ),
        );
        const pullDir = join(root, `pull-${t.name}-${round}`);
        log(`ecr: round ${round + 1}/${plan.rounds}, pull from ${t.name}`);
        details[key === 'push' ? 'pull' : 'pullPeer'].push(
          await timed(() =>
            skopeo([
              'copy',
              '-q',
              '--src-tls-verify=false',
              ...(t.name === 'opsbox' ? ['--src-creds', creds] : []),
              `docker://${t.host}:${t.port}/${repo}:1`,
              `oci:${pullDir}:bench`,
            ]),
          ),
        );
        rmSync(pullDir, { recursive: true, force: true });
        if (sampler && before !== undefined) details.rssMb.push((sampler.stop().peakKb - before) / 1024);
      }
    }
    rows.push.cells.opsbox = val(median(details.push));
    rows.pushPeer.cells.opsbox = val(median(details.pushPeer));
    rows.pushRatio.cells.opsbox = val(median(details.push) / median(details.pushPeer));
    rows.pull.cells.opsbox = val(median(details.pull));
    rows.pullPeer.cells.opsbox = val(median(details.pullPeer));
    rows.pullRatio.cells.opsbox = val(median(details.pull) / median(details.pullPeer));
    rows.rss.cells.opsbox = val(Math.max(...details.rssMb));
  } catch (e) {
    for (const r of all) if (!r.cells.opsbox) r.cells.opsbox = na(e);
  } finally {
    await registry?.stop();
    rmSync(root, { recursive: true, force: true });
  }
  return { rows: all, details };
}
