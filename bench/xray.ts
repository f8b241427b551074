/**
 * X-Ray and Logs Insights, against an opsbox of its own (daemon on a free port):
 *   - span ingest over OTLP/HTTP (JSON bodies of 1,000 spans, 4 in flight) and over the daemon's
 *     UDP port (one segment a datagram, as the SDKs send), in spans/s until acknowledged / visible;
 *   - GetServiceGraph over the last hour with `segments` stored (traces of 10 spans), median of 5;
 *   - a Logs Insights `filter … | stats count(*) by bin(5m)` over `events` events, beside the same
 *     aggregation done by SQLite itself over the same rows (json_extract, GROUP BY) for reference.
 */
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { join } from 'node:path';
import {
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  CreateLogStreamCommand,
  GetQueryResultsCommand,
  PutLogEventsCommand,
  StartQueryCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import { GetServiceGraphCommand, XRayClient } from '@aws-sdk/client-xray';
import { na, rowsOf, val, type Row } from './report.js';
import { freePort, startOpsbox } from './targets.js';

export interface XrayPlan {
  otlpSpans: number;
  udpSpans: number;
  segments: number;
  events: number;
}

const hex = (n: number) => randomBytes(n).toString('hex');

/** An OTLP/JSON request of `spans` spans: traces of ten, a server span and nine client spans under it. */
function otlpBody(spans: number, service: string, t0: number) {
  const list = [];
  let traceId = '';
  let root = '';
  for (let i = 0; i < spans; i++) {
    const server = i % 10 === 0;
    const id = hex(8);
    if (server) {
      traceId = hex(16);
      root = id;
    }
    const start = BigInt(Math.floor((t0 + i) * 1e6));
    list.push({
      traceId,
      spanId: id,
      parentSpanId: server ? undefined : root,
      name: server ? 'GET /' : 'SELECT',
      kind: server ? 2 : 3,
      startTimeUnixNano: String(start),
      endTimeUnixNano: String(start + 5_000_000n),
      attributes: [
        server ? { key: 'http.request.method', value: { stringValue: 'GET' } } : { key: 'db.system', value: { stringValue: 'postgresql' } },
      ],
    });
  }
  return JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
        scopeSpans: [{ scope: { name: 'bench' }, spans: list }],
      },
    ],
  });
}

async function sendOtlp(url: string, total: number, service: string) {
  const bodies: string[] = [];
  const t0 = Date.now() - 30 * 60_000;
  for (let i = 0; i < total; i += 1000) bodies.push(otlpBody(Math.min(1000, total - i), service, t0 + i));
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < bodies.length) {
        const body = bodies[next++];
        const res = await fetch(`${url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        if (res.status !== 200) throw new Error(`OTLP ${res.status}: ${await res.text()}`);
        await res.arrayBuffer();
      }
    }),
  );
  return total / ((performance.now() - started) / 1000);
}

async function nodeTotal(xray: XRayClient, name: string) {
  const g = await xray.send(
    new GetServiceGraphCommand({ StartTime: new Date(Date.now() - 3_600_000), EndTime: new Date(Date.now() + 60_000) }),
  );
  return g.Services!.find((s) => s.Name === name)?.SummaryStatistics?.TotalCount ?? 0;
}

export async function xrayScenario(plan: XrayPlan, log: (s: string) => void): Promise<{ rows: Row[]; details: Record<string, unknown> }> {
  const mk = rowsOf('X-Ray and Logs Insights');
  const rows = {
    otlp: mk('span ingest, OTLP/HTTP JSON (1,000 spans a request, 4 in flight)', 'spans/s', 'higher', { op: '>=', value: 50_000 }),
    udp: mk('span ingest, daemon UDP (one segment a datagram), until visible', 'spans/s', 'higher', { op: '>=', value: 50_000 }),
    graph: mk(`GetServiceGraph, last hour, ${plan.segments.toLocaleString('en')} segments stored`, 'ms', 'lower', { op: '<=', value: 100 }),
    insights: mk(`Logs Insights filter | stats count(*) by bin(5m), ${plan.events.toLocaleString('en')} events`, 'ms', 'lower', {
      op: '<=',
      value: 1000,
    }),
    sqlite: mk('  the same aggregation by SQLite over the same rows (reference)', 'ms', 'lower'),
  };
  const all = Object.values(rows);
  const details: Record<string, unknown> = {};
  const daemonPort = await freePort();
  let box;
  try {
    box = await startOpsbox([], { OPSBOX_XRAY_DAEMON_PORT: String(daemonPort) });
  } catch (e) {
    all.forEach((r) => (r.cells.opsbox = na(e)));
    return { rows: all, details };
  }
  const url = `http://${box.host}:${box.port}`;
  const cfg = { endpoint: url, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1 };
  const xray = new XRayClient(cfg);
  const logs = new CloudWatchLogsClient(cfg);
  try {
    const otlpRate = await sendOtlp(url, plan.otlpSpans, 'bench-otlp');
    rows.otlp.cells.opsbox = val(otlpRate);
    log(`xray: OTLP ${plan.otlpSpans} spans at ${otlpRate.toFixed(0)} spans/s`);

    // UDP: one datagram per segment, then wait until the graph counts them
    const sock = createSocket('udp4');
    const now = Date.now() / 1000;
    const packets = Array.from({ length: plan.udpSpans }, (_, i) =>
      Buffer.from(
        `{"format": "json", "version": 1}\n${JSON.stringify({ trace_id: `1-${Math.floor(now).toString(16)}-${hex(12)}`, id: hex(8), name: 'bench-udp', start_time: now - 60 + i / 1e6, end_time: now - 59.99 + i / 1e6 })}`,
      ),
    );
    const t0 = performance.now();
    for (let i = 0; i < packets.length; i++) {
      sock.send(packets[i], daemonPort, '127.0.0.1');
      if (i % 500 === 499) await new Promise((r) => setImmediate(r));
    }
    let seen = 0;
    for (let i = 0; i < 600 && seen < plan.udpSpans; i++) {
      seen = await nodeTotal(xray, 'bench-udp');
      if (seen < plan.udpSpans) await new Promise((r) => setTimeout(r, 100));
    }
    sock.close();
    rows.udp.cells.opsbox = val(seen / ((performance.now() - t0) / 1000));
    details.udp = { sent: plan.udpSpans, stored: seen };
    log(`xray: UDP ${seen}/${plan.udpSpans} segments visible`);

    // the service graph over a store of `segments` segments
    const more = Math.max(plan.segments - plan.otlpSpans - plan.udpSpans, 0);
    if (more > 0) await sendOtlp(url, more, 'bench-graph');
    await nodeTotal(xray, 'bench-otlp'); // settles what the background has not yet
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const s = performance.now();
      await nodeTotal(xray, 'bench-otlp');
      times.push(performance.now() - s);
    }
    times.sort((a, b) => a - b);
    rows.graph.cells.opsbox = val(times[2]);
    details.graphMs = times;
    log(`xray: GetServiceGraph ${times.map((t) => t.toFixed(1)).join(', ')} ms`);

    // Logs Insights over `events` events
    const group = `/bench/insights-${Date.now().toString(36)}`;
    await logs.send(new CreateLogGroupCommand({ logGroupName: group }));
    await logs.send(new CreateLogStreamCommand({ logGroupName: group, logStreamName: 's' }));
    const base = Date.now() - 3 * 3_600_000;
    const span = 3 * 3_600_000 - 60_000;
    for (let i = 0; i < plan.events; i += 10_000) {
      const logEvents = [];
      for (let j = i; j < Math.min(i + 10_000, plan.events); j++)
        logEvents.push({
          timestamp: base + Math.floor((j * span) / plan.events),
          message: `{"status":${[200, 200, 200, 404, 500][j % 5]},"path":"/p${j % 7}","ms":${j % 997}}`,
        });
      await logs.send(new PutLogEventsCommand({ logGroupName: group, logStreamName: 's', logEvents }));
    }
    const q0 = performance.now();
    const { queryId } = await logs.send(
      new StartQueryCommand({
        logGroupName: group,
        startTime: Math.floor(base / 1000),
        endTime: Math.ceil(Date.now() / 1000),
        queryString: 'filter status >= 500 | stats count(*) as n by bin(5m)',
      }),
    );
    let out;
    do {
      await new Promise((r) => setTimeout(r, 20));
      out = await logs.send(new GetQueryResultsCommand({ queryId }));
    } while (out.status === 'Running' || out.status === 'Scheduled');
    rows.insights.cells.opsbox = val(performance.now() - q0);
    details.insights = { status: out.status, statistics: out.statistics, buckets: out.results?.length };
    log(`xray: Insights ${out.status} in ${(performance.now() - q0).toFixed(0)} ms over ${out.statistics?.recordsScanned} records`);

    // the reference: SQLite aggregating the same rows itself
    const health = (await (await fetch(`${url}/_opsbox/health`)).json()) as { dataDir: string };
    const db = new Database(join(health.dataDir, 'opsbox.db'), { readonly: true });
    const s0 = performance.now();
    db.prepare(
      `SELECT (ts / 300000) * 300000 AS b, COUNT(*) FROM logs_events WHERE group_id = (SELECT id FROM logs_groups WHERE name = ?)
       AND ts >= ? AND json_extract(message, '$.status') >= 500 GROUP BY b`,
    ).all(group, base);
    rows.sqlite.cells.opsbox = val(performance.now() - s0);
    db.close();
  } catch (e) {
    log(`xray: ${(e as Error).message}`);
    for (const r of all) r.cells.opsbox ??= na(e);
  } finally {
    xray.destroy();
    logs.destroy();
    await box.stop();
  }
  return { rows: all, details };
}
