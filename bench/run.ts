/**
 * `npm run bench`: cold start, STS GetCallerIdentity latency/throughput, S3 put/get throughput and
 * memory, CloudWatch Logs ingest — against opsbox, moto_server and a bare Node server, all child
 * processes on 127.0.0.1. Prints a table and writes bench/results/latest.json. A target that fails
 * a scenario gets "n/a (reason)" and the run goes on. Whole run: about 2–3 minutes.
 *
 *   node dist/bench/run.js [--only cold,sts,ssm,secretsmanager,ecr,s3,logs,cloudwatch,codecommit-api,lambda,codedeploy,xray,events,codecommit,codebuild,codepipeline] [--targets opsbox,moto,bare] [--quick] [--profile sts|putmetricdata|ssm|secretsmanager]
 *
 * --profile sts|putmetricdata|ssm|secretsmanager: instead of the benchmark, CPU-profile opsbox under 32-connection
 * GetCallerIdentity (GetParameter, GetSecretValue) load or 1,000-entry PutMetricData calls, and print the hottest functions (see bench/profile.ts).
 */
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cloudwatchScenario } from './cloudwatch.js';
import { codebuildScenario } from './codebuild.js';
import { codecommitScenario } from './codecommit.js';
import { codecommitApiScenario } from './codecommitApi.js';
import { codepipelineScenario } from './codepipeline.js';
import { coldStartScenario } from './coldStart.js';
import { eventsScenario } from './events.js';
import { lambdaScenario } from './lambda.js';
import { logsScenario } from './logs.js';
import { profileOpsbox } from './profile.js';
import { machine, na, renderTable, val, writeJson, type Row } from './report.js';
import { s3Scenario } from './s3.js';
import { oneCall, stsScenario } from './sts.js';
import { callScenario } from './callScenario.js';
import { codedeployScenario } from './codedeploy.js';
import { ecrScenario } from './ecr.js';
import { getParameterCall, getSecretValueCall } from './secrets.js';
import { startBare, startMoto, startOpsbox, type Target, type TargetName } from './targets.js';
import { xrayScenario } from './xray.js';

const PROFILED_CALLS = [getParameterCall, getSecretValueCall];
const RESULTS = fileURLToPath(new URL('../../bench/results/latest.json', import.meta.url));
const WATCHDOG_MS = 15 * 60_000;

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    targets: { type: 'string' },
    quick: { type: 'boolean' },
    profile: { type: 'string' },
  },
});
const only = new Set(
  (
    values.only ??
    'cold,sts,ssm,secretsmanager,s3,logs,cloudwatch,codecommit-api,ecr,lambda,codedeploy,xray,events,codecommit,codebuild,codepipeline'
  ).split(','),
);
const wanted = new Set((values.targets ?? 'opsbox,moto,bare').split(',') as TargetName[]);
const quick = !!values.quick;

const t0 = performance.now();
const log = (s: string) => process.stderr.write(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${s}\n`);

const watchdog = setTimeout(() => {
  log(`watchdog: the run exceeded ${WATCHDOG_MS / 60_000} minutes, giving up`);
  process.exit(1); // the exit hook in targets.ts kills the servers
}, WATCHDOG_MS);
watchdog.unref();
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));

async function start(name: TargetName, launch: () => Promise<Target>): Promise<Target | Error> {
  try {
    const t = await launch();
    log(`started ${name} on port ${t.port} (pid ${t.pid}) in ${t.startMs.toFixed(0)} ms`);
    return t;
  } catch (e) {
    log(`could not start ${name}: ${(e as Error).message}`);
    return e as Error;
  }
}

async function main() {
  if (values.profile !== undefined)
    return profileOpsbox(
      quick ? 3000 : 8000,
      log,
      values.profile === 'putmetricdata' ? 'putmetricdata' : (PROFILED_CALLS.find((c) => c.name === values.profile) ?? 'sts'),
    );
  const rows: Row[] = [];
  const details: Record<string, unknown> = {};
  const startedAt = new Date();
  const loadAtStart = loadavg();

  if (only.has('cold')) {
    const r = await coldStartScenario(quick ? 2 : 5, log);
    rows.push(...r.rows);
    details.coldStart = r.details;
  }

  const targets: Partial<Record<TargetName, Target | Error>> = {};
  if (wanted.has('opsbox')) targets.opsbox = await start('opsbox', () => startOpsbox());
  if (wanted.has('moto')) targets.moto = await start('moto', startMoto);
  if (wanted.has('bare')) targets.bare = await start('bare', startBare);
  const stop = async (name: TargetName) => {
    const t = targets[name];
    if (t && !(t instanceof Error)) await t.stop();
    delete targets[name];
  };

  try {
    // moto's cold start: a single spawn (it takes seconds), plus its first call
    const coldRows = rows.filter((r) => r.section.startsWith('Cold start'));
    if (coldRows.length && targets.moto) {
      const m = targets.moto;
      coldRows[0].cells.moto = m instanceof Error ? na(m) : val(m.startMs);
      if (!(m instanceof Error)) coldRows[1].cells.moto = await oneCall(m).then(val, na);
    }

    if (only.has('sts')) {
      const r = await stsScenario(
        targets,
        quick ? { warmupMs: 300, durationMs: 1500, rounds: 1 } : { warmupMs: 1000, durationMs: 2000, rounds: 3 },
        log,
      );
      rows.push(...r.rows);
      details.sts = r.details;
    }
    // the targets that serve AWS APIs, leaving out the ones not asked for (--targets)
    const data = Object.fromEntries(Object.entries({ opsbox: targets.opsbox, moto: targets.moto }).filter(([, t]) => t !== undefined));
    for (const [key, call] of [
      ['ssm', getParameterCall],
      ['secretsmanager', getSecretValueCall],
    ] as const) {
      if (!only.has(key)) continue;
      const r = await callScenario(
        call,
        data,
        quick ? { warmupMs: 300, durationMs: 1500, rounds: 1 } : { warmupMs: 1000, durationMs: 2000, rounds: 3 },
        log,
      );
      rows.push(...r.rows);
      details[key] = r.details;
    }
    if (only.has('s3')) {
      const r = await s3Scenario(
        data,
        quick
          ? { smallCount: 20, bigRounds: 1, bigSize: 100 * 2 ** 20, bigBudgetMs: 20_000 }
          : { smallCount: 100, bigRounds: 3, bigSize: 100 * 2 ** 20, bigBudgetMs: 60_000 },
        log,
      );
      rows.push(...r.rows);
      details.s3 = r.details;
    }
    if (only.has('logs')) {
      const r = await logsScenario(
        data,
        quick
          ? { batches: 20, batchSize: 1000, rounds: 1, budgetMs: 15_000 }
          : { batches: 100, batchSize: 1000, rounds: 3, budgetMs: 20_000 },
        log,
      );
      rows.push(...r.rows);
      details.logs = r.details;
    }
    if (only.has('cloudwatch')) {
      // the bare server's column: how fast a node:http server takes the same bodies in, and nothing more
      const r = await cloudwatchScenario(
        { ...data, bare: targets.bare },
        quick
          ? { warmupMs: 300, batches: 50, rounds: 1, budgetMs: 10_000, queries: 10, alarms: 10_000, ticks: 3, churnEvery: 100 }
          : { warmupMs: 1500, batches: 500, rounds: 3, budgetMs: 20_000, queries: 30, alarms: 10_000, ticks: 5, churnEvery: 100 },
        log,
      );
      rows.push(...r.rows);
      details.cloudwatch = r.details;
    }
    if (only.has('codecommit-api')) {
      // moto is still up: the scenario asks it whether it serves GetFile at all
      const r = await codecommitApiScenario(
        { ...data, bare: targets.bare },
        quick
          ? { files: 200, connections: 32, calls: 1000, warmup: 500, rounds: 1, putsPerConnection: 5, sharedCommits: 64 }
          : { files: 200, connections: 32, calls: 5000, warmup: 2000, rounds: 3, putsPerConnection: 20, sharedCommits: 256 },
        log,
      );
      rows.push(...r.rows);
      details.codecommitApi = r.details;
    }
    if (only.has('ecr')) {
      const r = await ecrScenario(targets.opsbox, { layers: 4, layerBytes: 50 * 2 ** 20, rounds: quick ? 1 : 3 }, log);
      rows.push(...r.rows);
      details.ecr = r.details;
    }
    if (only.has('lambda')) {
      // the bare server's column: an HTTP round trip (warm) and a node process start (cold)
      const r = await lambdaScenario(
        { ...data, bare: targets.bare },
        quick
          ? { coldFunctions: 3, warmupMs: 500, durationMs: 1500, rounds: 1 }
          : { coldFunctions: 7, warmupMs: 1500, durationMs: 2000, rounds: 3 },
        log,
      );
      rows.push(...r.rows);
      details.lambda = r.details;
    }
    await stop('bare');
    // moto may still be chewing on the seeding call it timed out on: stop it before the in-process scenarios
    await stop('moto');
    if (only.has('codedeploy')) {
      const r = await codedeployScenario({ invocations: quick ? 2_000 : 10_000 }, log);
      rows.push(...r.rows);
      details.codedeploy = r.details;
    }
    if (only.has('xray')) {
      const r = await xrayScenario(
        quick
          ? { otlpSpans: 20_000, udpSpans: 10_000, segments: 100_000, events: 500_000 }
          : { otlpSpans: 100_000, udpSpans: 50_000, segments: 1_000_000, events: 10_000_000 },
        log,
      );
      rows.push(...r.rows);
      details.xray = r.details;
    }
    if (only.has('events')) {
      const r = await eventsScenario(
        data,
        quick ? { rules: 1000, events: 20_000, rounds: 1 } : { rules: 1000, events: 50_000, rounds: 3 },
        log,
      );
      rows.push(...r.rows);
      details.events = r.details;
    }
    if (only.has('codecommit')) {
      const r = await codecommitScenario(
        data,
        quick ? { files: 5000, commits: 500, rounds: 1, eventPushes: 5 } : { files: 5000, commits: 500, rounds: 3, eventPushes: 10 },
        log,
      );
      rows.push(...r.rows);
      details.codecommit = r.details;
    }
    if (only.has('codebuild')) {
      const r = await codebuildScenario({ rounds: quick ? 3 : 7 }, log);
      rows.push(...r.rows);
      details.codebuild = r.details;
    }
    if (only.has('codepipeline')) {
      const r = await codepipelineScenario(data, { rounds: quick ? 3 : 7 }, log);
      rows.push(...r.rows);
      details.codepipeline = r.details;
    }
  } finally {
    for (const name of Object.keys(targets) as TargetName[]) await stop(name);
  }

  const m = machine();
  console.log(
    `\nopsbox bench · ${startedAt.toISOString().slice(0, 10)} · node ${m.node} · ${m.cpus} CPUs (${m.cpuModel}) · ${m.memGiB} GiB · load average at start ${loadAtStart.map((x) => x.toFixed(2)).join(' ')}${quick ? ' · --quick' : ''}\n`,
  );
  console.log(renderTable(rows));
  console.log(
    `\n"opsbox vs moto": how many times better opsbox is (>1 is better); "of limit": opsbox as a share of a bare node:http server.`,
  );
  console.log(`The load generator runs in this process and shares the ${m.cpus} CPUs with the server under test.`);
  writeJson(RESULTS, {
    date: startedAt.toISOString(),
    quick,
    loadAverageAtStart: loadAtStart,
    machine: m,
    durationSeconds: (performance.now() - t0) / 1000,
    rows,
    details,
  });
  log(`wrote ${RESULTS}`);
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
