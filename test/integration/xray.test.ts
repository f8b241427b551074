/**
 * X-Ray against a real opsbox, driven by SDK v3, the aws CLI and raw daemon datagrams: segment
 * ingest and AWS's refusals, in-progress segments, trace summaries under filter expressions,
 * BatchGetTraces, the service graph and its time series, groups, sampling rules, durability.
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { after, before, describe, test } from 'node:test';
import {
  BatchGetTracesCommand,
  CreateGroupCommand,
  CreateSamplingRuleCommand,
  DeleteGroupCommand,
  GetGroupsCommand,
  GetSamplingRulesCommand,
  GetSamplingTargetsCommand,
  GetServiceGraphCommand,
  GetTimeSeriesServiceStatisticsCommand,
  GetTraceGraphCommand,
  GetTraceSummariesCommand,
  ListTagsForResourceCommand,
  PutTraceSegmentsCommand,
  XRayClient,
} from '@aws-sdk/client-xray';
import { awsCli, clientConfig, failure, startOpsbox, unique, type RunningOpsbox } from '../helpers/opsbox.js';
import { daemonPacket, freeDaemonPort, segmentId, traceId } from '../helpers/xray.js';

let box: RunningOpsbox;
let xray: XRayClient;
let daemonPort: number;

before(async () => {
  daemonPort = await freeDaemonPort();
  box = await startOpsbox({ env: { OPSBOX_XRAY_DAEMON_PORT: String(daemonPort) } });
  xray = new XRayClient(clientConfig(box.url));
});

after(async () => {
  xray?.destroy();
  await box?.dispose();
});

const now = () => Date.now() / 1000;
const window = () => ({ StartTime: new Date((now() - 600) * 1000), EndTime: new Date((now() + 60) * 1000) });

/**
 * A two-service trace: `front` (root, GET /checkout → status) calls `back` over HTTP (its segment's
 * parent is front's remote subsegment), and back calls DynamoDB (an inferred node).
 */
function twoServiceTrace(
  front: string,
  back: string,
  opts: { status?: number; backFault?: boolean; rt?: number; annotation?: string } = {},
) {
  const t = now() - 5;
  const id = traceId(Math.floor(t));
  const frontId = segmentId();
  const callId = segmentId();
  const backId = segmentId();
  const rt = opts.rt ?? 0.2;
  const frontDoc = {
    trace_id: id,
    id: frontId,
    name: front,
    start_time: t,
    end_time: t + rt,
    origin: 'AWS::EC2::Instance',
    http: { request: { method: 'GET', url: `http://${front}.example/checkout` }, response: { status: opts.status ?? 200 } },
    annotations: opts.annotation ? { customer: opts.annotation } : undefined,
    // the SDKs flag 4xx as error and 5xx as fault; X-Ray reads the flags
    error: ((opts.status ?? 200) >= 400 && (opts.status ?? 200) < 500) || undefined,
    fault: (opts.status ?? 200) >= 500 || undefined,
    subsegments: [
      {
        id: callId,
        name: back,
        namespace: 'remote',
        start_time: t + 0.01,
        end_time: t + rt - 0.01,
        http: { request: { method: 'POST', url: `http://${back}.example/pay` }, response: { status: opts.backFault ? 500 : 200 } },
      },
    ],
  };
  const backDoc = {
    trace_id: id,
    id: backId,
    parent_id: callId,
    name: back,
    start_time: t + 0.02,
    end_time: t + rt - 0.02,
    http: { request: { method: 'POST', url: `http://${back}.example/pay` }, response: { status: opts.backFault ? 500 : 200 } },
    fault: opts.backFault || undefined,
    subsegments: [
      {
        id: segmentId(),
        name: 'DynamoDB',
        namespace: 'aws',
        start_time: t + 0.03,
        end_time: t + 0.05,
        aws: { operation: 'PutItem', table_name: `${back}-orders` },
      },
    ],
  };
  return { id, docs: [frontDoc, backDoc] };
}

async function put(docs: object[]) {
  return xray.send(new PutTraceSegmentsCommand({ TraceSegmentDocuments: docs.map((d) => JSON.stringify(d)) }));
}

async function summaries(filter: string) {
  const out = await xray.send(new GetTraceSummariesCommand({ ...window(), FilterExpression: filter }));
  return (out.TraceSummaries ?? []).map((s) => s.Id!).sort();
}

describe('PutTraceSegments', () => {
  test('stores good documents and reports each refused one with its error code', async () => {
    const good = twoServiceTrace(unique('svc'), unique('svc'));
    const out = await xray.send(
      new PutTraceSegmentsCommand({
        TraceSegmentDocuments: [
          ...good.docs.map((d) => JSON.stringify(d)),
          '{not json',
          JSON.stringify({ name: 'x', trace_id: traceId(), start_time: now(), end_time: now() }),
          JSON.stringify({ id: segmentId(), name: 'x', trace_id: 'nope', start_time: now(), end_time: now() }),
          JSON.stringify({ id: 'c0ffee0000000001', name: 'x', trace_id: traceId(), start_time: now() }),
        ],
      }),
    );
    const codes = out.UnprocessedTraceSegments!.map((u) => u.ErrorCode);
    assert.deepEqual(codes, ['JSONFormatError', 'MissingParam', 'InvalidTraceId', 'MissingParam']);
    assert.equal(out.UnprocessedTraceSegments![3].Id, 'c0ffee0000000001');
    const traces = await xray.send(new BatchGetTracesCommand({ TraceIds: [good.id, traceId()] }));
    assert.equal(traces.Traces!.length, 1);
    assert.equal(traces.UnprocessedTraceIds!.length, 1);
    const docs = traces.Traces![0].Segments!.map((s) => JSON.parse(s.Document!));
    // the two segments as sent, and the inferred DynamoDB table node X-Ray adds for the unanswered call
    assert.equal(docs.length, 3);
    const inferred = docs.find((d) => d.inferred);
    assert.equal(inferred.origin, 'AWS::DynamoDB::Table');
  });

  test('an in-progress segment is partial until its completed document replaces it', async () => {
    const t = now() - 2;
    const id = traceId(Math.floor(t));
    const seg = { trace_id: id, id: segmentId(), name: unique('slow'), start_time: t };
    await put([{ ...seg, in_progress: true }]);
    let s = await xray.send(new GetTraceSummariesCommand({ ...window(), FilterExpression: `service("${seg.name}")` }));
    assert.equal(s.TraceSummaries![0].IsPartial, true);
    await put([{ ...seg, end_time: t + 1.5 }]);
    s = await xray.send(new GetTraceSummariesCommand({ ...window(), FilterExpression: `service("${seg.name}")` }));
    assert.equal(s.TraceSummaries![0].IsPartial, false);
    assert.equal(s.TraceSummaries![0].ResponseTime, 1.5);
  });

  test('independent subsegments join their segment in BatchGetTraces', async () => {
    const t = now() - 3;
    const id = traceId(Math.floor(t));
    const segId = segmentId();
    const name = unique('loose');
    await put([
      { trace_id: id, id: segmentId(), parent_id: segId, type: 'subsegment', name: 'work', start_time: t + 0.1, end_time: t + 0.2 },
      { trace_id: id, id: segId, name, start_time: t, end_time: t + 0.5 },
    ]);
    const out = await xray.send(new BatchGetTracesCommand({ TraceIds: [id] }));
    const docs = out.Traces![0].Segments!.map((s) => JSON.parse(s.Document!));
    assert.equal(docs.length, 1);
    assert.equal(docs[0].subsegments[0].name, 'work');
  });
});

describe('GetTraceSummaries filter expressions', () => {
  const front = unique('front');
  const back = unique('back');
  const ids: Record<string, string> = {};

  before(async () => {
    const ok = twoServiceTrace(front, back, { rt: 0.1, annotation: 'gold' });
    const slow = twoServiceTrace(front, back, { rt: 1.2, annotation: 'silver' });
    const faulty = twoServiceTrace(front, back, { status: 502, backFault: true, rt: 0.3 });
    const notFound = twoServiceTrace(front, back, { status: 404, rt: 0.05 });
    await put([...ok.docs, ...slow.docs, ...faulty.docs, ...notFound.docs]);
    Object.assign(ids, { ok: ok.id, slow: slow.id, faulty: faulty.id, notFound: notFound.id });
  });

  const expect = async (filter: string, names: string[]) =>
    assert.deepEqual(await summaries(filter), names.map((n) => ids[n]).sort(), filter);

  test('service() and responsetime', () => expect(`service("${front}") AND responsetime > 1`, ['slow']));
  test('http.status and OR', () => expect(`service("${front}") AND (http.status = 404 OR http.status >= 500)`, ['faulty', 'notFound']));
  test('fault, error and NOT', () => expect(`service("${front}") AND !fault AND NOT error`, ['ok', 'slow']));
  test('annotation value and presence', async () => {
    await expect(`annotation.customer = "gold"`, ['ok']);
    await expect(`service("${front}") AND annotation.customer`, ['ok', 'slow']);
  });
  test('service(){…} tests the calls into that service', () => expect(`service("${back}") { fault }`, ['faulty']));
  test('edge(){…} tests the calls across that edge', () => expect(`edge("${front}", "${back}") { responsetime > 1 }`, ['slow']));
  test('http.url string operators', () =>
    expect(`service("${front}") AND http.url CONTAINS "/checkout" AND http.url BEGINSWITH "http://${front}"`, [
      'faulty',
      'notFound',
      'ok',
      'slow',
    ]));
  test('a group named in the expression', async () => {
    const g = unique('grp');
    await xray.send(new CreateGroupCommand({ GroupName: g, FilterExpression: `service("${front}") AND responsetime < 0.08` }));
    await expect(`group.name = "${g}"`, ['notFound']);
  });
  test('a malformed expression is InvalidRequestException naming the position', async () => {
    const f = await failure(xray.send(new GetTraceSummariesCommand({ ...window(), FilterExpression: 'responsetime >' })));
    assert.equal(f.name, 'InvalidRequestException');
    assert.match(f.message, /position 14/);
  });
});

describe('GetServiceGraph', () => {
  test('nodes, edges and statistics from segments and remote/aws subsegments', async () => {
    const front = unique('front');
    const back = unique('back');
    await put([...twoServiceTrace(front, back).docs, ...twoServiceTrace(front, back, { status: 503, backFault: true }).docs]);
    const g = await xray.send(new GetServiceGraphCommand(window()));
    const services = g.Services!;
    const byName = (n: string) => services.find((s) => s.Name === n)!;
    const f = byName(front);
    const b = byName(back);
    const table = byName(`${back}-orders`);
    assert.equal(f.Root, true);
    assert.equal(f.Type, 'AWS::EC2::Instance');
    assert.equal(f.State, 'active');
    assert.equal(table.Type, 'AWS::DynamoDB::Table');
    assert.equal(table.State, 'unknown');
    assert.equal(f.SummaryStatistics!.TotalCount, 2);
    assert.equal(f.SummaryStatistics!.FaultStatistics!.TotalCount, 1);
    // front → back, with back's outcomes; back → its table
    const edge = f.Edges!.find((e) => e.ReferenceId === b.ReferenceId)!;
    assert.equal(edge.SummaryStatistics!.TotalCount, 2);
    assert.equal(edge.SummaryStatistics!.OkCount, 1);
    assert.equal(edge.SummaryStatistics!.FaultStatistics!.TotalCount, 1);
    assert.ok(edge.ResponseTimeHistogram!.length >= 1);
    assert.ok(b.Edges!.some((e) => e.ReferenceId === table.ReferenceId));
    // the client calls the root service
    const client = services.find((s) => s.Type === 'client')!;
    assert.ok(client.Edges!.some((e) => e.ReferenceId === f.ReferenceId));
    assert.equal(b.Root, false);
  });

  test('a group narrows the graph to its traces', async () => {
    const a = unique('front');
    const other = unique('front');
    await put([...twoServiceTrace(a, unique('back')).docs, ...twoServiceTrace(other, unique('back')).docs]);
    const g = unique('grp');
    await xray.send(new CreateGroupCommand({ GroupName: g, FilterExpression: `service("${a}")` }));
    const out = await xray.send(new GetServiceGraphCommand({ ...window(), GroupName: g }));
    const names = out.Services!.map((s) => s.Name);
    assert.ok(names.includes(a));
    assert.ok(!names.includes(other));
  });

  test('GetTimeSeriesServiceStatistics counts one service per period', async () => {
    const front = unique('front');
    await put([...twoServiceTrace(front, unique('back')).docs, ...twoServiceTrace(front, unique('back'), { status: 500 }).docs]);
    const out = await xray.send(
      new GetTimeSeriesServiceStatisticsCommand({ ...window(), EntitySelectorExpression: `service("${front}")`, Period: 60 }),
    );
    const total = out.TimeSeriesServiceStatistics!.reduce((n, p) => n + p.ServiceSummaryStatistics!.TotalCount!, 0);
    const faults = out.TimeSeriesServiceStatistics!.reduce((n, p) => n + p.ServiceSummaryStatistics!.FaultStatistics!.TotalCount!, 0);
    assert.equal(total, 2);
    assert.equal(faults, 1);
  });

  test('GetTraceGraph draws one trace', async () => {
    const front = unique('front');
    const t = twoServiceTrace(front, unique('back'));
    await put(t.docs);
    const out = await xray.send(new GetTraceGraphCommand({ TraceIds: [t.id] }));
    assert.equal(out.Services!.filter((s) => s.Type !== 'client').length, 3);
  });
});

describe('the daemon protocol', () => {
  test('UDP datagrams with the header line become stored segments', async () => {
    const sock = createSocket('udp4');
    const name = unique('udp');
    const t = now() - 1;
    const id = traceId(Math.floor(t));
    await new Promise<void>((ok, fail) =>
      sock.send(daemonPacket({ trace_id: id, id: segmentId(), name, start_time: t, end_time: t + 0.25 }), daemonPort, '127.0.0.1', (e) =>
        e ? fail(e) : ok(),
      ),
    );
    // a datagram without the header is dropped, as the daemon drops it
    await new Promise<void>((ok) =>
      sock.send(
        Buffer.from(JSON.stringify({ trace_id: traceId(), id: segmentId(), name, start_time: t, end_time: t })),
        daemonPort,
        '127.0.0.1',
        () => ok(),
      ),
    );
    sock.close();
    let found: string[] = [];
    for (let i = 0; i < 50 && found.length === 0; i++) {
      found = await summaries(`service("${name}")`);
      if (!found.length) await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(found, [id]);
  });

  test('the TCP proxy answers GetSamplingRules as the SDKs call it', async () => {
    const res = await fetch(`http://127.0.0.1:${daemonPort}/GetSamplingRules`, { method: 'POST', body: '{}' });
    const body = (await res.json()) as any;
    const def = body.SamplingRuleRecords.find((r: any) => r.SamplingRule.RuleName === 'Default');
    assert.equal(def.SamplingRule.FixedRate, 0.05);
    assert.equal(typeof def.CreatedAt, 'number');
  });
});

describe('groups and sampling rules', () => {
  test('CreateGroup, GetGroups with Default, tags, DeleteGroup', async () => {
    const name = unique('grp');
    const g = await xray.send(new CreateGroupCommand({ GroupName: name, FilterExpression: 'fault', Tags: [{ Key: 'team', Value: 'a' }] }));
    assert.match(g.Group!.GroupARN!, new RegExp(`^arn:aws:xray:us-east-1:000000000000:group/${name}/`));
    const tags = await xray.send(new ListTagsForResourceCommand({ ResourceARN: g.Group!.GroupARN! }));
    assert.deepEqual(tags.Tags, [{ Key: 'team', Value: 'a' }]);
    const dup = await failure(xray.send(new CreateGroupCommand({ GroupName: name })));
    assert.equal(dup.name, 'InvalidRequestException');
    const bad = await failure(xray.send(new CreateGroupCommand({ GroupName: unique('grp'), FilterExpression: 'service(' })));
    assert.equal(bad.name, 'InvalidRequestException');
    const all = await xray.send(new GetGroupsCommand({}));
    assert.ok(all.Groups!.some((x) => x.GroupName === 'Default'));
    assert.ok(all.Groups!.some((x) => x.GroupName === name));
    await xray.send(new DeleteGroupCommand({ GroupName: name }));
    const gone = await xray.send(new GetGroupsCommand({}));
    assert.ok(!gone.Groups!.some((x) => x.GroupName === name));
  });

  test('sampling rules and targets sharing a reservoir between clients', async () => {
    const name = unique('rule').slice(0, 32);
    await xray.send(
      new CreateSamplingRuleCommand({
        SamplingRule: {
          RuleName: name,
          ResourceARN: '*',
          Priority: 1,
          FixedRate: 0.5,
          ReservoirSize: 3,
          ServiceName: 'checkout',
          ServiceType: '*',
          Host: '*',
          HTTPMethod: '*',
          URLPath: '/pay*',
          Version: 1,
        },
      }),
    );
    const rules = await xray.send(new GetSamplingRulesCommand({}));
    assert.equal(rules.SamplingRuleRecords![0].SamplingRule!.RuleName, name);
    const ts = new Date();
    const doc = (ClientID: string) => ({ RuleName: name, ClientID, Timestamp: ts, RequestCount: 10, SampledCount: 4, BorrowCount: 0 });
    await xray.send(new GetSamplingTargetsCommand({ SamplingStatisticsDocuments: [doc('a'.repeat(24))] }));
    const out = await xray.send(
      new GetSamplingTargetsCommand({
        SamplingStatisticsDocuments: [doc('a'.repeat(24)), doc('b'.repeat(24)), { ...doc('c'.repeat(24)), RuleName: 'nope' }],
      }),
    );
    const quotas = out.SamplingTargetDocuments!.map((d) => d.ReservoirQuota);
    assert.deepEqual(quotas, [2, 1]);
    assert.equal(out.SamplingTargetDocuments![0].FixedRate, 0.5);
    assert.equal(out.UnprocessedStatistics![0].RuleName, 'nope');
  });
});

describe('aws CLI and durability', () => {
  test('get-service-graph, get-trace-summaries and batch-get-traces through the CLI', async () => {
    const front = unique('front');
    const t = twoServiceTrace(front, unique('back'));
    await put(t.docs);
    const start = String(Math.floor(now() - 600));
    const end = String(Math.floor(now() + 60));
    const graph = await awsCli(box.url, ['xray', 'get-service-graph', '--start-time', start, '--end-time', end]);
    assert.equal(graph.code, 0, graph.stderr);
    assert.ok(JSON.parse(graph.stdout).Services.some((s: any) => s.Name === front));
    const sums = await awsCli(box.url, [
      'xray',
      'get-trace-summaries',
      '--start-time',
      start,
      '--end-time',
      end,
      '--filter-expression',
      `service("${front}") AND responsetime > 0.1`,
    ]);
    assert.equal(sums.code, 0, sums.stderr);
    assert.deepEqual(
      JSON.parse(sums.stdout).TraceSummaries.map((s: any) => s.Id),
      [t.id],
    );
    const got = await awsCli(box.url, ['xray', 'batch-get-traces', '--trace-ids', t.id]);
    assert.equal(got.code, 0, got.stderr);
    assert.equal(JSON.parse(got.stdout).Traces[0].Id, t.id);
  });

  test('acknowledged segments survive kill -9', async () => {
    const own = await startOpsbox();
    const client = new XRayClient(clientConfig(own.url));
    const t = twoServiceTrace(unique('front'), unique('back'));
    await client.send(new PutTraceSegmentsCommand({ TraceSegmentDocuments: t.docs.map((d) => JSON.stringify(d)) }));
    await own.kill9();
    const again = await startOpsbox({ dataDir: own.dataDir });
    const c2 = new XRayClient(clientConfig(again.url));
    try {
      const out = await c2.send(new BatchGetTracesCommand({ TraceIds: [t.id] }));
      assert.equal(out.Traces!.length, 1);
      assert.equal(out.Traces![0].Segments!.length, 3);
    } finally {
      client.destroy();
      c2.destroy();
      await again.dispose();
    }
  });
});
