/**
 * Every wire protocol, both directions, against real client code: an SDK v3 client serializes the
 * request, the gateway parses it into typed input (checked by a probe handler), the probe's output
 * is serialized by opsbox and deserialized by the same client.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { CloudWatchClient, GetMetricDataCommand, PutMetricDataCommand, ListMetricsCommand } from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient, GetLogEventsCommand, PutLogEventsCommand, DescribeLogGroupsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { CreateFunctionCommand, GetFunctionCommand, InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  CompleteMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import type { Readable } from 'node:stream';
import { Readable as NodeReadable } from 'node:stream';
import { AwsError } from '../../src/core/errors.js';
import type { ServiceSpec } from '../../src/gateway/service.js';
import { cloudwatch } from '../../src/services/cloudwatch/index.js';
import { logs } from '../../src/services/logs/index.js';
import { s3 } from '../../src/services/s3/index.js';
import { sts } from '../../src/services/sts/index.js';
import { InProcessOpsbox, probeSpec, sdkConfig } from '../helpers/inProcess.js';

const lambda: ServiceSpec = {
  name: 'lambda',
  model: 'lambda-2015-03-31',
  signingName: 'lambda',
  protocols: ['rest-json'],
  create: () => ({ handlers: {} }),
};

let seen: Record<string, any> = {};
let reply: any = {};
const probe = (name: string) => (input: any) => {
  seen[name] = input;
  if (reply instanceof Error) throw reply;
  return typeof reply === 'function' ? reply(input) : reply;
};
const probes = (...ops: string[]) => Object.fromEntries(ops.map((o) => [o, probe(o)]));

const gw = new InProcessOpsbox([
  probeSpec(sts, probes('AssumeRole', 'GetCallerIdentity')),
  probeSpec(logs, probes('PutLogEvents', 'GetLogEvents')),
  probeSpec(cloudwatch, probes('PutMetricData', 'GetMetricData')),
  probeSpec(s3, probes('PutObject', 'GetObject', 'ListObjectsV2', 'CompleteMultipartUpload', 'DeleteObjects')),
  probeSpec(lambda, probes('GetFunction', 'CreateFunction', 'Invoke')),
]);
after(() => gw.close());

const expectReject = async (p: Promise<unknown>, name: string, status: number, message?: RegExp) => {
  await assert.rejects(p, (e: any) => {
    assert.equal(e.name, name, `error name: ${e.name} ${e.message}`);
    assert.equal(e.$metadata?.httpStatusCode, status);
    if (message) assert.match(e.message, message);
    return true;
  });
};

describe('awsQuery (STS via SDK v3)', () => {
  const client = new STSClient(sdkConfig(gw));

  test('AssumeRole: lists of structures, integers and strings arrive typed; Date output round-trips', async () => {
    const expiration = new Date('2026-11-26T10:00:00Z');
    reply = {
      Credentials: { AccessKeyId: 'ASIA1', SecretAccessKey: 's', SessionToken: 't', Expiration: expiration },
      AssumedRoleUser: { AssumedRoleId: 'AROA:x', Arn: 'arn:aws:sts::1:assumed-role/r/x' },
      PackedPolicySize: 7,
    };
    const out = await client.send(
      new AssumeRoleCommand({
        RoleArn: 'arn:aws:iam::123456789012:role/deploy',
        RoleSessionName: 'ci',
        DurationSeconds: 1800,
        Tags: [
          { Key: 'team', Value: 'a+b=c/d @e' },
          { Key: 'env', Value: 'prod' },
        ],
        PolicyArns: [{ arn: 'arn:aws:iam::aws:policy/ReadOnlyAccess' }],
        TransitiveTagKeys: ['team'],
        Policy: '{"Sid":"a&b<c>"}',
      }),
    );
    assert.deepEqual(seen.AssumeRole, {
      RoleArn: 'arn:aws:iam::123456789012:role/deploy',
      RoleSessionName: 'ci',
      DurationSeconds: 1800,
      Tags: [
        { Key: 'team', Value: 'a+b=c/d @e' },
        { Key: 'env', Value: 'prod' },
      ],
      PolicyArns: [{ arn: 'arn:aws:iam::aws:policy/ReadOnlyAccess' }],
      TransitiveTagKeys: ['team'],
      Policy: '{"Sid":"a&b<c>"}',
    });
    assert.equal(out.Credentials?.Expiration?.getTime(), expiration.getTime());
    assert.equal(out.AssumedRoleUser?.AssumedRoleId, 'AROA:x');
    assert.equal(out.PackedPolicySize, 7);
    assert.ok(out.$metadata.requestId);
  });

  test('AwsError from a handler → <ErrorResponse> with code, message and status', async () => {
    reply = new AwsError('RegionDisabledException', 'STS is not activated in this region', 403);
    await expectReject(client.send(new GetCallerIdentityCommand({})), 'RegionDisabledException', 403, /not activated/);
  });

  test('missing required member → ValidationError naming the field', async () => {
    reply = {};
    await expectReject(
      client.send(new AssumeRoleCommand({ RoleSessionName: 'xy' } as any)),
      'ValidationError',
      400,
      /^1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null$/,
    );
  });

  test('out-of-range value → ValidationError from the service patch', async () => {
    await expectReject(
      client.send(new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::123456789012:role/deploy', RoleSessionName: 'x', DurationSeconds: 60 })),
      'ValidationError',
      400,
      /2 validation errors detected: .*Value 'x' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2; Value '60' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900/,
    );
  });

  test('unknown Action → InvalidAction; unexpected exception → 500 InternalFailure and the next request works', async () => {
    const res = await gw.send({
      method: 'POST',
      url: '/',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: 'AWS4-HMAC-SHA256 Credential=test/20261126/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=00',
      },
      body: Buffer.from('Action=Nope&Version=2011-06-15'),
    });
    assert.equal(res.statusCode, 400);
    assert.match(
      res.body().toString(),
      /<Code>InvalidAction<\/Code><Message>The action Nope is not valid for this web service.<\/Message>/,
    );
    assert.ok(res.headers['x-amzn-requestid']);
    reply = () => {
      throw new TypeError('boom');
    };
    await expectReject(client.send(new GetCallerIdentityCommand({})), 'InternalFailure', 500);
    reply = { Account: '000000000000', Arn: 'arn:aws:iam::000000000000:root', UserId: '000000000000' };
    assert.equal((await client.send(new GetCallerIdentityCommand({}))).Account, '000000000000');
  });
});

describe('awsJson 1.1 (CloudWatch Logs via SDK v3)', () => {
  const client = new CloudWatchLogsClient(sdkConfig(gw));

  test('PutLogEvents: nested list of structures with longs; nested output structure', async () => {
    reply = { nextSequenceToken: '49', rejectedLogEventsInfo: { tooNewLogEventStartIndex: 1 } };
    const out = await client.send(
      new PutLogEventsCommand({
        logGroupName: 'g',
        logStreamName: 's',
        logEvents: [
          { timestamp: 1764100000000, message: 'hello "json" ü' },
          { timestamp: 1764100000001, message: 'b' },
        ],
      }),
    );
    assert.deepEqual(seen.PutLogEvents, {
      logGroupName: 'g',
      logStreamName: 's',
      logEvents: [
        { timestamp: 1764100000000, message: 'hello "json" ü' },
        { timestamp: 1764100000001, message: 'b' },
      ],
    });
    assert.equal(out.nextSequenceToken, '49');
    assert.equal(out.rejectedLogEventsInfo?.tooNewLogEventStartIndex, 1);
  });

  test('GetLogEvents: booleans in, lists out', async () => {
    reply = { events: [{ timestamp: 1, message: 'm', ingestionTime: 2 }], nextForwardToken: 'f/1', nextBackwardToken: 'b/1' };
    const out = await client.send(new GetLogEventsCommand({ logGroupName: 'g', logStreamName: 's', startFromHead: true, limit: 5 }));
    assert.equal(seen.GetLogEvents.startFromHead, true);
    assert.equal(seen.GetLogEvents.limit, 5);
    assert.deepEqual(out.events, [{ timestamp: 1, message: 'm', ingestionTime: 2 }]);
  });

  test('error → __type and message; the SDK names the exception', async () => {
    reply = new AwsError('ResourceNotFoundException', 'The specified log group does not exist.');
    await expectReject(
      client.send(new GetLogEventsCommand({ logGroupName: 'g', logStreamName: 's' })),
      'ResourceNotFoundException',
      400,
      /log group does not exist/,
    );
  });

  test('operation without a handler → NotImplemented, uniformly', async () => {
    await expectReject(client.send(new DescribeLogGroupsCommand({})), 'NotImplemented', 501, /DescribeLogGroups of service logs/);
  });

  test('malformed JSON and wrong member types → SerializationException naming the field', async () => {
    const headers = { 'x-amz-target': 'Logs_20140328.PutLogEvents', 'content-type': 'application/x-amz-json-1.1' };
    let res = await gw.send({ method: 'POST', url: '/', headers, body: Buffer.from('{"logGroupName":') });
    assert.equal(res.statusCode, 400);
    assert.equal(JSON.parse(res.body().toString()).__type, 'SerializationException');
    res = await gw.send({
      method: 'POST',
      url: '/',
      headers,
      body: Buffer.from('{"logGroupName":"g","logStreamName":"s","logEvents":[{"timestamp":"soon","message":"m"}]}'),
    });
    const err = JSON.parse(res.body().toString());
    assert.equal(err.__type, 'SerializationException');
    assert.match(err.message, /logEvents\.1\.timestamp/);
    res = await gw.send({
      method: 'POST',
      url: '/',
      headers: { ...headers, 'x-amz-target': 'Logs_20140328.Nope' },
      body: Buffer.from('{}'),
    });
    assert.equal(JSON.parse(res.body().toString()).__type, 'UnknownOperationException');
  });
});

describe('awsJson 1.0 with awsQueryCompatible (CloudWatch via SDK v3)', () => {
  const client = new CloudWatchClient(sdkConfig(gw));

  test('PutMetricData: timestamps, doubles, lists of doubles, nested dimensions', async () => {
    reply = {};
    const ts = new Date('2026-11-26T01:02:03.500Z');
    await client.send(
      new PutMetricDataCommand({
        Namespace: 'Shop',
        MetricData: [
          {
            MetricName: 'Latency',
            Timestamp: ts,
            Unit: 'Milliseconds',
            Dimensions: [{ Name: 'Service', Value: 'api' }],
            Values: [1.5, 2],
            Counts: [3, 1],
            StorageResolution: 1,
          },
        ],
      }),
    );
    const d = seen.PutMetricData.MetricData[0];
    assert.equal(d.Timestamp.getTime(), ts.getTime());
    assert.deepEqual(d.Values, [1.5, 2]);
    assert.deepEqual(d.Dimensions, [{ Name: 'Service', Value: 'api' }]);
  });

  test('GetMetricData: lists of timestamps come back as Dates', async () => {
    const t1 = new Date('2026-11-26T00:00:00Z');
    reply = { MetricDataResults: [{ Id: 'm1', Label: 'Latency', Timestamps: [t1], Values: [42.5], StatusCode: 'Complete' }] };
    const out = await client.send(
      new GetMetricDataCommand({ MetricDataQueries: [{ Id: 'm1', Expression: 'SUM(METRICS())' }], StartTime: t1, EndTime: new Date() }),
    );
    assert.equal(out.MetricDataResults?.[0].Timestamps?.[0].getTime(), t1.getTime());
    assert.deepEqual(out.MetricDataResults?.[0].Values, [42.5]);
  });

  test('errors carry x-amzn-query-error so the SDK reports the query code', async () => {
    reply = new AwsError('InvalidParameterValue', 'The value abc for parameter Namespace is not valid.');
    await expectReject(
      client.send(new PutMetricDataCommand({ Namespace: 'abc', MetricData: [{ MetricName: 'x', Value: 1 }] })),
      'InvalidParameterValueException',
      400,
      /Namespace/,
    );
    await expectReject(client.send(new ListMetricsCommand({})), 'NotImplemented', 501);
  });
});

describe('rest-xml (S3 via SDK v3)', () => {
  const pathStyle = new S3Client({ ...sdkConfig(gw), forcePathStyle: true });
  const virtualHost = new S3Client(sdkConfig(gw));

  for (const [style, client] of [
    ['path-style', pathStyle],
    ['virtual-host', virtualHost],
  ] as const) {
    test(`PutObject (${style}): labels, metadata headers, streamed body; ETag header back`, async () => {
      reply = async (input: any) => {
        let body = '';
        for await (const c of input.Body as Readable) body += c;
        input.Body = body;
        return { ETag: '"abc"', VersionId: 'v1' };
      };
      const out = await client.send(
        new PutObjectCommand({ Bucket: 'site', Key: 'a b/ü+c.txt', Body: 'hello', ContentType: 'text/plain', Metadata: { owner: 'me' } }),
      );
      assert.equal(seen.PutObject.Bucket, 'site');
      assert.equal(seen.PutObject.Key, 'a b/ü+c.txt');
      assert.equal(seen.PutObject.Body, 'hello');
      assert.equal(seen.PutObject.ContentType, 'text/plain');
      assert.deepEqual(seen.PutObject.Metadata, { owner: 'me' });
      assert.equal(out.ETag, '"abc"');
      assert.equal(out.VersionId, 'v1');
    });
  }

  test('ListObjectsV2: query bindings in; flattened lists and timestamps out', async () => {
    const lm = new Date('2026-11-25T12:00:00Z');
    reply = {
      Name: 'site',
      Prefix: 'p/',
      KeyCount: 2,
      MaxKeys: 2,
      IsTruncated: true,
      NextContinuationToken: 'tok',
      Contents: [
        { Key: 'p/a', Size: 3, LastModified: lm, ETag: '"e"', StorageClass: 'STANDARD' },
        { Key: 'p/b&c', Size: 0, LastModified: lm },
      ],
      CommonPrefixes: [{ Prefix: 'p/d/' }],
    };
    const out = await pathStyle.send(
      new ListObjectsV2Command({ Bucket: 'site', Prefix: 'p/', Delimiter: '/', MaxKeys: 2, ContinuationToken: 'x', StartAfter: 'p/0' }),
    );
    assert.deepEqual(seen.ListObjectsV2, {
      Bucket: 'site',
      Prefix: 'p/',
      Delimiter: '/',
      MaxKeys: 2,
      ContinuationToken: 'x',
      StartAfter: 'p/0',
    });
    assert.equal(out.Contents?.length, 2);
    assert.equal(out.Contents?.[1].Key, 'p/b&c');
    assert.equal(out.Contents?.[0].LastModified?.getTime(), lm.getTime());
    assert.deepEqual(out.CommonPrefixes, [{ Prefix: 'p/d/' }]);
    assert.equal(out.IsTruncated, true);
  });

  test('CompleteMultipartUpload and DeleteObjects: XML payloads parsed by shape', async () => {
    reply = { Location: 'l', Bucket: 'site', Key: 'k', ETag: '"x-2"' };
    const out = await pathStyle.send(
      new CompleteMultipartUploadCommand({
        Bucket: 'site',
        Key: 'k',
        UploadId: 'u1',
        MultipartUpload: {
          Parts: [
            { PartNumber: 1, ETag: '"a"' },
            { PartNumber: 2, ETag: '"b"' },
          ],
        },
      }),
    );
    assert.deepEqual(seen.CompleteMultipartUpload.MultipartUpload, {
      Parts: [
        { PartNumber: 1, ETag: '"a"' },
        { PartNumber: 2, ETag: '"b"' },
      ],
    });
    assert.equal(seen.CompleteMultipartUpload.UploadId, 'u1');
    assert.equal(out.ETag, '"x-2"');
    reply = { Deleted: [{ Key: 'a' }], Errors: [{ Key: 'b', Code: 'AccessDenied', Message: 'no' }] };
    const del = await pathStyle.send(
      new DeleteObjectsCommand({ Bucket: 'site', Delete: { Objects: [{ Key: 'a' }, { Key: 'b', VersionId: 'v' }], Quiet: false } }),
    );
    assert.deepEqual(seen.DeleteObjects.Delete, { Objects: [{ Key: 'a' }, { Key: 'b', VersionId: 'v' }], Quiet: false });
    assert.deepEqual(del.Errors, [{ Key: 'b', Code: 'AccessDenied', Message: 'no' }]);
  });

  test('GetObject: streamed body, typed headers and metadata out; S3 error document', async () => {
    reply = {
      Body: NodeReadable.from([Buffer.from('chunk1'), Buffer.from('chunk2')]),
      ContentLength: 12,
      ContentType: 'text/plain',
      LastModified: new Date('2026-11-25T12:00:00Z'),
      Metadata: { owner: 'me' },
      ETag: '"e"',
    };
    const out = await pathStyle.send(new GetObjectCommand({ Bucket: 'site', Key: 'k', Range: 'bytes=0-5' }));
    assert.equal(seen.GetObject.Range, 'bytes=0-5');
    assert.equal(await out.Body!.transformToString(), 'chunk1chunk2');
    assert.equal(out.ContentLength, 12);
    assert.equal(out.LastModified?.toISOString(), '2026-11-25T12:00:00.000Z');
    assert.deepEqual(out.Metadata, { owner: 'me' });
    reply = new AwsError('NoSuchKey', 'The specified key does not exist.', 404, { Key: 'k' });
    await expectReject(pathStyle.send(new GetObjectCommand({ Bucket: 'site', Key: 'k' })), 'NoSuchKey', 404, /key does not exist/);
  });
});

describe('rest-json (Lambda via SDK v3)', () => {
  const client = new LambdaClient(sdkConfig(gw));

  test('GetFunction: URI label and query string in; nested structure and map out', async () => {
    reply = { Configuration: { FunctionName: 'fn', Timeout: 30, Environment: { Variables: { A: '1' } } }, Tags: { team: 'a' } };
    const out = await client.send(new GetFunctionCommand({ FunctionName: 'fn', Qualifier: '$LATEST' }));
    assert.deepEqual(seen.GetFunction, { FunctionName: 'fn', Qualifier: '$LATEST' });
    assert.equal(out.Configuration?.Timeout, 30);
    assert.deepEqual(out.Tags, { team: 'a' });
    assert.deepEqual(out.Configuration?.Environment?.Variables, { A: '1' });
  });

  test('CreateFunction: JSON body with a blob member arrives as bytes', async () => {
    reply = { FunctionName: 'fn' };
    await client.send(
      new CreateFunctionCommand({
        FunctionName: 'fn',
        Role: 'arn:aws:iam::000000000000:role/r',
        Runtime: 'nodejs20.x',
        Handler: 'i.h',
        Code: { ZipFile: new Uint8Array([80, 75, 3, 4]) },
      }),
    );
    assert.deepEqual([...seen.CreateFunction.Code.ZipFile], [80, 75, 3, 4]);
  });

  test('Invoke: blob payload and header in; statusCode member and payload out', async () => {
    reply = { StatusCode: 202, Payload: Buffer.from('{"ok":true}'), ExecutedVersion: '$LATEST' };
    const out = await client.send(new InvokeCommand({ FunctionName: 'fn', InvocationType: 'Event', Payload: Buffer.from('{"a":1}') }));
    assert.equal(seen.Invoke.InvocationType, 'Event');
    assert.equal(Buffer.from(seen.Invoke.Payload).toString(), '{"a":1}');
    assert.equal(out.StatusCode, 202);
    assert.equal(Buffer.from(out.Payload!).toString(), '{"ok":true}');
    assert.equal(out.ExecutedVersion, '$LATEST');
  });

  test('error → x-amzn-ErrorType', async () => {
    reply = new AwsError('ResourceNotFoundException', 'Function not found: arn:aws:lambda:us-east-1:000000000000:function:fn', 404);
    await expectReject(client.send(new GetFunctionCommand({ FunctionName: 'fn' })), 'ResourceNotFoundException', 404, /Function not found/);
  });
});
