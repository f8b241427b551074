/**
 * rpc-v2-cbor against botocore's own serializer and parser (the code the aws CLI v1 and boto3 run
 * for CloudWatch): botocore builds the request bytes, opsbox parses them; opsbox serializes the
 * response, botocore parses it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { AwsError } from '../../src/core/errors.js';
import { cloudwatch } from '../../src/services/cloudwatch/index.js';
import { sts } from '../../src/services/sts/index.js';
import { InProcessOpsbox, probeSpec } from '../helpers/inProcess.js';

const SCRIPT = fileURLToPath(new URL('../../../test/fixtures/botocore_cbor.py', import.meta.url));
const botocore = (mode: string, op: string, stdin?: string) =>
  JSON.parse(execFileSync('python3', [SCRIPT, mode, op], { input: stdin, encoding: 'utf8' }));

let seen: any;
let reply: any;
const gw = new InProcessOpsbox([
  probeSpec(cloudwatch, {
    PutMetricData: (i: any) => void (seen = i),
    GetMetricWidgetImage: () => ({ MetricWidgetImage: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 255]) }),
    GetMetricData: (i: any) => {
      seen = i;
      if (reply instanceof Error) throw reply;
      return reply;
    },
  }),
  sts,
]);
after(() => gw.close());

async function call(op: string) {
  const req = botocore('serialize', op);
  const res = await gw.send({ method: req.method, url: req.url, headers: req.headers, body: Buffer.from(req.body_b64, 'base64') });
  return {
    res,
    parsed: botocore(
      'parse',
      op,
      JSON.stringify({ status: res.statusCode, headers: res.headers, body_b64: res.body().toString('base64') }),
    ),
  };
}

test('botocore PutMetricData over CBOR: tag-1 timestamps, float lists and nested structures arrive typed', async () => {
  const { res } = await call('PutMetricData');
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['smithy-protocol'], 'rpc-v2-cbor');
  const d = seen.MetricData[0];
  // botocore encodes tag 1 as whole seconds (it drops the .5 s), so that is what arrives
  assert.equal(d.Timestamp.toISOString(), '2026-11-26T01:02:03.000Z');
  assert.deepEqual(d.Values, [1.5, 2]);
  assert.deepEqual(d.Counts, [3, 1]);
  assert.deepEqual(d.Dimensions, [{ Name: 'Service', Value: 'api' }]);
  assert.equal(d.StorageResolution, 1);
});

test('botocore GetMetricData over CBOR: Date lists and doubles come back as botocore expects', async () => {
  reply = {
    MetricDataResults: [
      {
        Id: 'm1',
        Label: 'Latency',
        Timestamps: [new Date('2026-11-25T12:00:00Z'), new Date('2026-11-25T12:01:00Z')],
        Values: [42.5, 7],
        StatusCode: 'Complete',
      },
    ],
    Messages: [],
  };
  const { parsed } = await call('GetMetricData');
  assert.equal(seen.MaxDatapoints, 100);
  assert.equal(seen.StartTime.toISOString(), '2026-11-25T00:00:00.000Z');
  const r = parsed.MetricDataResults[0];
  assert.deepEqual(r.Values, [42.5, 7]);
  assert.deepEqual(
    r.Timestamps.map((t: string) => new Date(t).toISOString()),
    ['2026-11-25T12:00:00.000Z', '2026-11-25T12:01:00.000Z'],
  );
  assert.equal(r.StatusCode, 'Complete');
});

test('botocore GetMetricWidgetImage over CBOR: a blob member travels as a byte string', async () => {
  const { parsed } = await call('GetMetricWidgetImage');
  assert.deepEqual([...Buffer.from(parsed.MetricWidgetImage, 'base64')], [0x89, 0x50, 0x4e, 0x47, 0, 255]);
});

test('CBOR errors: botocore reads the query-compatible code and message', async () => {
  reply = new AwsError('InvalidParameterCombination', 'StartTime must be before EndTime', 400);
  const { res, parsed } = await call('GetMetricData');
  assert.equal(res.statusCode, 400);
  assert.equal(parsed.Error.Code, 'InvalidParameterCombination');
  assert.equal(parsed.Error.Message, 'StartTime must be before EndTime');
  const unimplemented = await call('ListMetrics');
  assert.equal(unimplemented.res.statusCode, 501);
  assert.equal(unimplemented.parsed.Error.Code, 'NotImplemented');
});

test('any served service answers rpc-v2-cbor at /service/<Smithy name>/operation/<Op>', async () => {
  const res = await gw.send({
    method: 'POST',
    url: '/service/AWSSecurityTokenServiceV20110615/operation/GetCallerIdentity',
    headers: { 'smithy-protocol': 'rpc-v2-cbor', 'content-type': 'application/cbor', accept: 'application/cbor' },
    body: Buffer.alloc(0),
  });
  assert.equal(res.statusCode, 200);
  const { decode } = await import('cbor2');
  assert.deepEqual(decode(res.body()), { UserId: '000000000000', Account: '000000000000', Arn: 'arn:aws:iam::000000000000:root' });
});
