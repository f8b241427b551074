/**
 * Two real instrumented services calling each other over HTTP, and the service graph opsbox draws
 * from what they send: "web" uses the X-Ray SDK (aws-xray-sdk-core: UDP to the daemon port, the
 * X-Amzn-Trace-Id header on its captured HTTP call), "orders" uses the OpenTelemetry SDK (OTLP/HTTP
 * protobuf to /v1/traces) continuing the trace from that header, and calls DynamoDB (an inferred
 * node). A second OpenTelemetry exporter sends OTLP/JSON.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';
import { context, trace, SpanKind, SpanStatusCode, TraceFlags, type SpanContext } from '@opentelemetry/api';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { NodeTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import AWSXRay from 'aws-xray-sdk-core';
import { GetServiceGraphCommand, GetTraceSummariesCommand, XRayClient } from '@aws-sdk/client-xray';
import { clientConfig, startOpsbox, unique, type RunningOpsbox } from '../helpers/opsbox.js';
import { freeDaemonPort } from '../helpers/xray.js';

let box: RunningOpsbox;
let xray: XRayClient;
let daemonPort: number;

before(async () => {
  daemonPort = await freeDaemonPort();
  box = await startOpsbox({ env: { OPSBOX_XRAY_DAEMON_PORT: String(daemonPort) } });
  xray = new XRayClient(clientConfig(box.url));
  AWSXRay.setDaemonAddress(`127.0.0.1:${daemonPort}`);
  AWSXRay.enableManualMode();
  AWSXRay.setContextMissingStrategy('IGNORE_ERROR');
  AWSXRay.setLogger({ error() {}, warn() {}, info() {}, debug() {} });
});

after(async () => {
  xray?.destroy();
  await box?.dispose();
});

const window = () => ({ StartTime: new Date(Date.now() - 600_000), EndTime: new Date(Date.now() + 60_000) });

function provider(service: string, exporter: ProtoExporter | JsonExporter) {
  return new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': service }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
}

/** The remote parent an X-Amzn-Trace-Id header names, as the AWS X-Ray propagator reads it. */
function parentOf(header: string): SpanContext {
  const f = Object.fromEntries(header.split(';').map((p) => p.split('=')));
  return {
    traceId: f.Root.replace(/^1-/, '').replace('-', ''),
    spanId: f.Parent,
    traceFlags: f.Sampled === '1' ? TraceFlags.SAMPLED : TraceFlags.NONE,
    isRemote: true,
  };
}

async function until<T>(fn: () => Promise<T | undefined>, what: string): Promise<T> {
  for (let i = 0; i < 100; i++) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

test('an X-Ray SDK service calling an OpenTelemetry service: one trace, the right nodes and edges', async () => {
  const web = unique('web');
  const orders = unique('orders');
  const table = unique('orders-table');
  const otel = provider(orders, new ProtoExporter({ url: `${box.url}/v1/traces` }));
  const tracer = otel.getTracer('orders');

  // orders: an HTTP server continuing the caller's trace, calling DynamoDB inside
  const server = http.createServer((req, res) => {
    const parent = trace.setSpanContext(context.active(), parentOf(String(req.headers['x-amzn-trace-id'])));
    const span = tracer.startSpan(
      'POST /orders',
      {
        kind: SpanKind.SERVER,
        attributes: {
          'http.request.method': 'POST',
          'url.path': '/orders',
          'server.address': 'orders.local',
          'http.response.status_code': 201,
        },
      },
      parent,
    );
    const ddb = tracer.startSpan(
      'DynamoDB.PutItem',
      {
        kind: SpanKind.CLIENT,
        attributes: { 'rpc.system': 'aws-api', 'rpc.service': 'DynamoDB', 'rpc.method': 'PutItem', 'aws.dynamodb.table_names': [table] },
      },
      trace.setSpan(parent, span),
    );
    setTimeout(() => {
      ddb.end();
      span.end();
      res.writeHead(201).end('{}');
    }, 20);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', () => ok()));
  const port = (server.address() as { port: number }).port;

  // web: an X-Ray SDK segment whose captured HTTP call carries the trace header to orders
  const captured = AWSXRay.captureHTTPs(http, false);
  let traceId = '';
  try {
    const seg = new AWSXRay.Segment(web);
    traceId = seg.trace_id;
    await new Promise<void>((ok, fail) => {
      const req = captured.request(
        { host: '127.0.0.1', port, path: '/orders', method: 'POST', XRaySegment: seg } as http.RequestOptions,
        (res) => {
          res.resume();
          res.on('end', () => ok());
        },
      );
      req.on('error', fail);
      req.end();
    });
    seg.addIncomingRequestData(
      new AWSXRay.middleware.IncomingRequestData({ method: 'GET', url: '/checkout', headers: { host: 'web.local' } } as any),
    );
    (seg as any).http.close({ statusCode: 200 });
    seg.close();
    await otel.forceFlush();
  } finally {
    server.close();
    await otel.shutdown();
  }

  const graph = await until(async () => {
    const g = await xray.send(new GetServiceGraphCommand(window()));
    const names = new Set(g.Services!.map((s) => s.Name));
    return names.has(web) && names.has(orders) && names.has(table) ? g : undefined;
  }, 'both services in the graph');
  const node = (n: string) => graph.Services!.find((s) => s.Name === n)!;
  const edgeTo = (from: string, to: string) => node(from).Edges!.find((e) => e.ReferenceId === node(to).ReferenceId);
  assert.equal(node(web).Root, true);
  assert.equal(node(orders).Root, false, 'orders continues the trace web started');
  assert.equal(edgeTo(web, orders)?.SummaryStatistics?.TotalCount, 1);
  assert.equal(edgeTo(orders, table)?.SummaryStatistics?.TotalCount, 1);
  assert.equal(node(table).Type, 'AWS::DynamoDB::Table');
  // no inferred node for the call orders answered itself
  assert.equal(graph.Services!.filter((s) => s.Name === '127.0.0.1').length, 0);
  const sums = await xray.send(new GetTraceSummariesCommand({ ...window(), FilterExpression: `edge("${web}", "${orders}")` }));
  assert.deepEqual(
    sums.TraceSummaries!.map((s) => s.Id),
    [traceId],
  );
});

test('OTLP/JSON spans: errors, attributes as annotations, W3C ids as X-Ray ids', async () => {
  const svc = unique('json');
  const otel = provider(svc, new JsonExporter({ url: `${box.url}/v1/traces` }));
  const tracer = otel.getTracer('t');
  const span = tracer.startSpan('GET /fail', {
    kind: SpanKind.SERVER,
    attributes: {
      'http.request.method': 'GET',
      'url.full': 'http://json.local/fail',
      'http.response.status_code': 503,
      tenant: 'acme',
      'aws.xray.annotations': ['tenant'],
    },
  });
  span.recordException(new Error('backend down'));
  span.setStatus({ code: SpanStatusCode.ERROR });
  const hex = span.spanContext().traceId;
  span.end();
  await otel.forceFlush();
  await otel.shutdown();
  const id = `1-${hex.slice(0, 8)}-${hex.slice(8)}`;
  const found = await until(async () => {
    const out = await xray.send(
      new GetTraceSummariesCommand({
        ...window(),
        FilterExpression: `service("${svc}") AND fault AND http.status = 503 AND annotation.tenant = "acme"`,
      }),
    );
    return out.TraceSummaries!.length ? out.TraceSummaries! : undefined;
  }, 'the JSON span');
  assert.equal(found[0].Id, id);
  assert.equal(found[0].Http!.HttpURL, 'http://json.local/fail');
});
