/**
 * CodeBuild's own cost, on the host backend and the container backend: StartBuild → the first
 * buildspec command running (the timestamp of opsbox's "Running command" log line against the
 * client's clock before StartBuild), and the whole build of a no-op buildspec (StartBuild sent →
 * BatchGetBuilds reports it complete, polled every 5 ms). The physical limit for containers is a
 * bare `podman run --rm IMAGE true` (bench/podmanBare.ts) of the same image.
 */
import { BatchGetBuildsCommand, CodeBuildClient, CreateProjectCommand, StartBuildCommand } from '@aws-sdk/client-codebuild';
import { CloudWatchLogsClient, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { ensureContainerEngine } from '../test/helpers/containers.js';
import { bareContainerRun } from './podmanBare.js';
import { na, val, type Row } from './report.js';
import { startOpsbox, type Target } from './targets.js';

export interface CodebuildPlan {
  rounds: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.ceil(xs.length / 2) - 1];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const BUILDSPEC = 'version: 0.2\nphases:\n  build:\n    commands:\n      - "true"\n';

async function measure(target: Target, image: string, rounds: number) {
  const config = {
    endpoint: `http://${target.host}:${target.port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  };
  const cb = new CodeBuildClient(config);
  const logs = new CloudWatchLogsClient(config);
  const name = `bench-${Date.now().toString(36)}`;
  await cb.send(
    new CreateProjectCommand({
      name,
      source: { type: 'NO_SOURCE', buildspec: BUILDSPEC },
      artifacts: { type: 'NO_ARTIFACTS' },
      environment: { type: 'LINUX_CONTAINER', image, computeType: 'BUILD_GENERAL1_SMALL' },
      serviceRole: 'arn:aws:iam::000000000000:role/bench',
    }),
  );
  const firstCommand: number[] = [];
  const whole: number[] = [];
  const serverSide: number[] = [];
  for (let i = 0; i <= rounds; i++) {
    const t0 = Date.now();
    const p0 = performance.now();
    const id = (await cb.send(new StartBuildCommand({ projectName: name }))).build!.id!;
    let b;
    for (;;) {
      b = (await cb.send(new BatchGetBuildsCommand({ ids: [id] }))).builds![0];
      if (b.buildComplete) break;
      await sleep(5);
    }
    const total = performance.now() - p0;
    if (b.buildStatus !== 'SUCCEEDED') throw new Error(`bench build ${b.buildStatus}: ${JSON.stringify(b.phases?.map((p) => p.contexts))}`);
    const events = (
      await logs.send(new GetLogEventsCommand({ logGroupName: b.logs!.groupName, logStreamName: b.logs!.streamName, startFromHead: true }))
    ).events!;
    const running = events.find((e) => e.message!.includes('Running command'));
    if (i === 0) continue; // warm-up: first build pays for engine discovery and image lookup
    if (running) firstCommand.push(running.timestamp! - t0);
    whole.push(total);
    serverSide.push(b.endTime!.getTime() - b.startTime!.getTime());
  }
  return {
    firstCommandMs: median(firstCommand),
    buildMs: median(whole),
    serverMs: median(serverSide),
    samples: { firstCommand, whole, serverSide },
  };
}

export async function codebuildScenario(plan: CodebuildPlan, log: (s: string) => void): Promise<{ rows: Row[]; details: unknown }> {
  const section = 'CodeBuild';
  const rows: Row[] = [];
  const details: Record<string, unknown> = {};

  log('codebuild: host backend');
  const host = await startOpsbox([], { OPSBOX_CODEBUILD_BACKEND: 'host' });
  try {
    const h = await measure(host, 'opsbox/host', plan.rounds);
    details.host = h;
    rows.push({
      section,
      label: 'host: StartBuild → first command',
      unit: 'ms',
      better: 'lower',
      cells: { opsbox: val(h.firstCommandMs) },
    });
    rows.push({
      section,
      label: 'host: no-op build, StartBuild → complete',
      unit: 'ms',
      better: 'lower',
      target: { op: '<=', value: 150 },
      cells: { opsbox: val(h.buildMs) },
    });
  } catch (e) {
    rows.push({ section, label: 'host: no-op build, StartBuild → complete', unit: 'ms', better: 'lower', cells: { opsbox: na(e) } });
  } finally {
    await host.stop();
  }

  log('codebuild: container backend (podman)');
  const engine = await ensureContainerEngine().catch((e) => ({ skip: String(e) }));
  if ('skip' in engine) {
    rows.push({
      section,
      label: 'container: no-op build overhead over bare podman run',
      unit: 'ms',
      better: 'lower',
      cells: { opsbox: na(engine.skip) },
    });
    return { rows, details };
  }
  const boxed = await startOpsbox([], { OPSBOX_CODEBUILD_BACKEND: 'container', ...engine.env });
  try {
    const c = await measure(boxed, engine.image, plan.rounds);
    const bare: number[] = [];
    for (let i = 0; i <= plan.rounds; i++) {
      const ms = await bareContainerRun(engine.dockerHost, engine.image);
      if (i > 0) bare.push(ms);
    }
    const bareMs = median(bare);
    details.container = { ...c, bareMs, bare };
    rows.push({
      section,
      label: 'container: StartBuild → first command',
      unit: 'ms',
      better: 'lower',
      cells: { opsbox: val(c.firstCommandMs) },
    });
    rows.push({
      section,
      label: 'container: no-op build, StartBuild → complete',
      unit: 'ms',
      better: 'lower',
      cells: { opsbox: val(c.buildMs) },
    });
    rows.push({
      section,
      label: 'bare `podman run --rm IMAGE true` (physical limit)',
      unit: 'ms',
      better: 'lower',
      cells: { opsbox: val(bareMs) },
    });
    rows.push({
      section,
      label: 'container: build − bare podman run',
      unit: 'ms',
      better: 'lower',
      target: { op: '<=', value: 300 },
      cells: { opsbox: val(c.buildMs - bareMs) },
    });
    rows.push({
      section,
      label: 'container: build ÷ bare podman run',
      unit: '×',
      better: 'lower',
      cells: { opsbox: val(c.buildMs / bareMs) },
    });
  } catch (e) {
    rows.push({
      section,
      label: 'container: no-op build overhead over bare podman run',
      unit: 'ms',
      better: 'lower',
      cells: { opsbox: na(e) },
    });
  } finally {
    await boxed.stop();
  }
  return { rows, details };
}
