/**
 * Lambda aliases, resource policies and function URLs against a real opsbox process, with SDK v3,
 * the aws CLI and plain HTTP: invoking through an alias (name, ARN, name:alias), weighted routing
 * measured over many invocations, the policy document GetPolicy returns, function URLs answering
 * through the /_lambda-url/ path and the <url-id>.lambda-url.<region>.localhost Host, the 2.0 event
 * the function sees and how its results map back, AWS_IAM URLs (signed, and verified in strict
 * mode), and the APIs' errors.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import {
  AddPermissionCommand,
  CreateAliasCommand,
  CreateFunctionCommand,
  CreateFunctionUrlConfigCommand,
  DeleteAliasCommand,
  DeleteFunctionCommand,
  DeleteFunctionUrlConfigCommand,
  GetAliasCommand,
  GetFunctionConfigurationCommand,
  GetFunctionUrlConfigCommand,
  GetPolicyCommand,
  InvokeCommand,
  LambdaClient,
  ListAliasesCommand,
  ListFunctionUrlConfigsCommand,
  PublishVersionCommand,
  RemovePermissionCommand,
  UpdateAliasCommand,
  UpdateFunctionConfigurationCommand,
  UpdateFunctionUrlConfigCommand,
} from '@aws-sdk/client-lambda';
import { SignatureV4 } from '@smithy/signature-v4';
import { awsCli, clientConfig, failure, startOpsbox, unique, type RunningOpsbox } from '../helpers/opsbox.js';
import { json, ROLE, zip } from '../helpers/lambda.js';
import { Sha256 } from '../helpers/sha256.js';

const ACCOUNT = '000000000000';
const fnArn = (name: string, q?: string) => `arn:aws:lambda:us-east-1:${ACCOUNT}:function:${name}${q ? `:${q}` : ''}`;

/** What the URL function answers per path: JSON, a string, a custom response, binary, an error, its version, the event. */
const URL_HANDLER = `export const handler = async (event, context) => {
  switch (event.rawPath) {
    case '/json': return { hello: 'world' };
    case '/text': return 'plain string';
    case '/number': return 42;
    case '/custom':
      return { statusCode: 201, headers: { 'Content-Type': 'text/plain', 'X-Custom': 'yes' }, body: 'created', cookies: ['a=1', 'b=2; Path=/'] };
    case '/binary':
      return { statusCode: 200, headers: { 'content-type': 'application/octet-stream' }, body: Buffer.from([0, 1, 2, 255]).toString('base64'), isBase64Encoded: true };
    case '/fail': throw new Error('boom');
    case '/version': return { version: process.env.AWS_LAMBDA_FUNCTION_VERSION, arn: context.invokedFunctionArn };
    default: return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(event) };
  }
};`;

const VERSION_HANDLER = `export const handler = async (event, context) => ({ version: process.env.AWS_LAMBDA_FUNCTION_VERSION, arn: context.invokedFunctionArn });`;

/** A request to 127.0.0.1 with a Host header of our choosing (fetch does not let a Host header through). */
function hostRequest(
  port: number,
  host: string,
  path: string,
  opts: { method?: string; headers?: Record<string, string>; body?: Buffer } = {},
) {
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: { ...opts.headers, host } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** SigV4 headers for a request to a function URL, as the SDKs sign for service lambda. */
async function signedHeaders(url: string, method: string, secret = 'test', body?: string): Promise<Record<string, string>> {
  const u = new URL(url);
  const signer = new SignatureV4({
    service: 'lambda',
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: secret },
    sha256: Sha256 as any,
  });
  const signed = await signer.sign({
    method,
    protocol: 'http:',
    hostname: u.hostname,
    port: Number(u.port),
    path: u.pathname,
    query: Object.fromEntries(u.searchParams),
    headers: { host: u.host, ...(body ? { 'content-type': 'application/json' } : {}) },
    body,
  });
  return Object.fromEntries(Object.entries(signed.headers as Record<string, string>).filter(([k]) => k !== 'host'));
}

describe('lambda aliases, permissions and function URLs', () => {
  let box: RunningOpsbox;
  let lambda: LambdaClient;
  before(async () => {
    box = await startOpsbox();
    lambda = new LambdaClient(clientConfig(box.url));
  });
  after(async () => {
    lambda?.destroy();
    await box?.dispose();
  });

  async function create(handler = VERSION_HANDLER, name = unique('fn')) {
    await lambda.send(
      new CreateFunctionCommand({
        FunctionName: name,
        Runtime: 'nodejs20.x',
        Handler: 'index.handler',
        Role: ROLE,
        Code: { ZipFile: await zip({ 'index.mjs': handler }) },
      }),
    );
    return name;
  }

  /** A function with published versions 1 and 2. */
  async function withTwoVersions(handler = VERSION_HANDLER) {
    const name = await create(handler);
    assert.equal((await lambda.send(new PublishVersionCommand({ FunctionName: name }))).Version, '1');
    await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: name, Description: 'second' }));
    assert.equal((await lambda.send(new PublishVersionCommand({ FunctionName: name }))).Version, '2');
    return name;
  }

  const invoke = (FunctionName: string, Qualifier?: string) =>
    lambda.send(new InvokeCommand({ FunctionName, Qualifier, Payload: Buffer.from('{}') }));

  test('aliases: create, invoke by name, ARN and name:alias, update with RevisionId, list with filter and paging, delete', async () => {
    const name = await withTwoVersions();
    const live = await lambda.send(new CreateAliasCommand({ FunctionName: name, Name: 'live', FunctionVersion: '1', Description: 'prod' }));
    assert.equal(live.$metadata.httpStatusCode, 201);
    assert.equal(live.AliasArn, fnArn(name, 'live'));
    assert.deepEqual([live.Name, live.FunctionVersion, live.Description, live.RoutingConfig], ['live', '1', 'prod', undefined]);
    assert.match(live.RevisionId!, /^[0-9a-f-]{36}$/);

    for (const [fn, q] of [
      [name, 'live'],
      [fnArn(name, 'live'), undefined],
      [`${name}:live`, undefined],
    ] as const) {
      const r = await invoke(fn, q);
      assert.equal(r.ExecutedVersion, '1', `${fn} ${q}`);
      assert.deepEqual(
        json(r.Payload),
        { version: '1', arn: fnArn(name, 'live') },
        'the function sees the alias ARN it was invoked through',
      );
    }
    const direct = await invoke(name, '1');
    assert.deepEqual(
      json(direct.Payload),
      { version: '1', arn: fnArn(name, '1') },
      'the warm environment reports the ARN of each invocation',
    );
    assert.equal((await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: name, Qualifier: 'live' }))).Version, '1');

    const stale = await failure(
      lambda.send(new UpdateAliasCommand({ FunctionName: name, Name: 'live', FunctionVersion: '2', RevisionId: 'nope' })),
    );
    assert.deepEqual([stale.name, stale.status], ['PreconditionFailedException', 412]);
    const moved = await lambda.send(
      new UpdateAliasCommand({ FunctionName: name, Name: 'live', FunctionVersion: '2', RevisionId: live.RevisionId }),
    );
    assert.deepEqual([moved.FunctionVersion, moved.Description], ['2', 'prod']);
    assert.notEqual(moved.RevisionId, live.RevisionId);
    assert.equal((await invoke(name, 'live')).ExecutedVersion, '2');
    assert.deepEqual(await lambda.send(new GetAliasCommand({ FunctionName: name, Name: 'live' })).then((a) => a.FunctionVersion), '2');

    await lambda.send(new CreateAliasCommand({ FunctionName: name, Name: 'beta', FunctionVersion: '2' }));
    await lambda.send(new CreateAliasCommand({ FunctionName: name, Name: 'edge', FunctionVersion: '$LATEST' }));
    assert.equal((await invoke(name, 'edge')).ExecutedVersion, '$LATEST');
    const all = await lambda.send(new ListAliasesCommand({ FunctionName: name }));
    assert.deepEqual(
      all.Aliases!.map((a) => a.Name),
      ['beta', 'edge', 'live'],
    );
    const onTwo = await lambda.send(new ListAliasesCommand({ FunctionName: name, FunctionVersion: '2' }));
    assert.deepEqual(
      onTwo.Aliases!.map((a) => a.Name),
      ['beta', 'live'],
    );
    const names: string[] = [];
    let marker: string | undefined;
    do {
      const page = await lambda.send(new ListAliasesCommand({ FunctionName: name, MaxItems: 1, Marker: marker }));
      assert.equal(page.Aliases!.length, 1);
      names.push(page.Aliases![0].Name!);
      marker = page.NextMarker;
    } while (marker);
    assert.deepEqual(names, ['beta', 'edge', 'live']);

    const cli = await awsCli(box.url, ['lambda', 'list-aliases', '--function-name', name, '--function-version', '$LATEST']);
    assert.equal(cli.code, 0, cli.stderr);
    assert.deepEqual(
      JSON.parse(cli.stdout).Aliases.map((a: { AliasArn: string }) => a.AliasArn),
      [fnArn(name, 'edge')],
    );

    await lambda.send(new DeleteAliasCommand({ FunctionName: name, Name: 'beta' }));
    const gone = await failure(lambda.send(new GetAliasCommand({ FunctionName: name, Name: 'beta' })));
    assert.deepEqual(gone, { name: 'ResourceNotFoundException', message: `Cannot find alias arn: ${fnArn(name, 'beta')}`, status: 404 });
    await lambda.send(new DeleteAliasCommand({ FunctionName: name, Name: 'beta' }));

    // deleting the function deletes its aliases: a function made again under the name has none
    await lambda.send(new DeleteFunctionCommand({ FunctionName: name }));
    await create(VERSION_HANDLER, name);
    assert.deepEqual((await lambda.send(new ListAliasesCommand({ FunctionName: name }))).Aliases, []);
    const noAlias = await failure(invoke(name, 'live'));
    assert.deepEqual(noAlias, { name: 'ResourceNotFoundException', message: `Function not found: ${fnArn(name, 'live')}`, status: 404 });
  });

  test('alias errors are AWS’s', async () => {
    const name = await withTwoVersions();
    const cases: [Partial<ConstructorParameters<typeof CreateAliasCommand>[0]>, string, string | RegExp, number][] = [
      [{ FunctionVersion: '9' }, 'ResourceNotFoundException', `Function not found: ${fnArn(name, '9')}`, 404],
      [
        { FunctionVersion: '1', RoutingConfig: { AdditionalVersionWeights: { '2': 0.1, '3': 0.1 } } },
        'InvalidParameterValueException',
        'Number of items in AdditionalVersionWeights cannot be greater than 1',
        400,
      ],
      [
        { FunctionVersion: '1', RoutingConfig: { AdditionalVersionWeights: { '1': 0.5 } } },
        'InvalidParameterValueException',
        'Invalid function version 1. Function version 1 is already included in routing configuration.',
        400,
      ],
      [
        { FunctionVersion: '$LATEST', RoutingConfig: { AdditionalVersionWeights: { '1': 0.5 } } },
        'InvalidParameterValueException',
        '$LATEST is not supported for an alias pointing to more than 1 version',
        400,
      ],
      [
        { FunctionVersion: '1', RoutingConfig: { AdditionalVersionWeights: { '7': 0.5 } } },
        'ResourceNotFoundException',
        `Function not found: ${fnArn(name, '7')}`,
        404,
      ],
      [
        { FunctionVersion: '1', RoutingConfig: { AdditionalVersionWeights: { $LATEST: 0.5 } } },
        'ValidationException',
        /additionalVersionWeights/i,
        400,
      ],
      [
        { FunctionVersion: '1', RoutingConfig: { AdditionalVersionWeights: { '2': 1.5 } } },
        'ValidationException',
        /additionalVersionWeights/i,
        400,
      ],
    ];
    for (const [input, code, message, status] of cases) {
      const e = await failure(lambda.send(new CreateAliasCommand({ FunctionName: name, Name: 'a', FunctionVersion: '1', ...input })));
      assert.equal(e.name, code, JSON.stringify(input));
      if (typeof message === 'string') assert.equal(e.message, message);
      else assert.match(e.message, message);
      assert.equal(e.status, status);
    }
    await lambda.send(new CreateAliasCommand({ FunctionName: name, Name: 'a', FunctionVersion: '1' }));
    const dup = await failure(lambda.send(new CreateAliasCommand({ FunctionName: name, Name: 'a', FunctionVersion: '2' })));
    assert.deepEqual(dup, { name: 'ResourceConflictException', message: `Alias already exists: ${fnArn(name, 'a')}`, status: 409 });
    const updMissing = await failure(lambda.send(new UpdateAliasCommand({ FunctionName: name, Name: 'zz', FunctionVersion: '1' })));
    assert.deepEqual(updMissing, { name: 'ResourceNotFoundException', message: `Alias not found: ${fnArn(name, 'zz')}`, status: 404 });
    // UpdateAlias re-checks the kept routing against a new FunctionVersion
    await lambda.send(new UpdateAliasCommand({ FunctionName: name, Name: 'a', RoutingConfig: { AdditionalVersionWeights: { '2': 0.5 } } }));
    const clash = await failure(lambda.send(new UpdateAliasCommand({ FunctionName: name, Name: 'a', FunctionVersion: '2' })));
    assert.equal(clash.name, 'InvalidParameterValueException');
    const noFn = await failure(lambda.send(new CreateAliasCommand({ FunctionName: unique('none'), Name: 'a', FunctionVersion: '1' })));
    assert.deepEqual([noFn.name, noFn.status], ['ResourceNotFoundException', 404]);
    const cli = await awsCli(box.url, ['lambda', 'get-alias', '--function-name', name, '--name', 'missing']);
    assert.notEqual(cli.code, 0);
    assert.match(cli.stderr, /ResourceNotFoundException.*Cannot find alias arn/);
  });

  test('weighted routing really splits invocations: 0.1 to version 2 over 250 invocations', async () => {
    const name = await withTwoVersions();
    const canary = await lambda.send(
      new CreateAliasCommand({
        FunctionName: name,
        Name: 'canary',
        FunctionVersion: '1',
        RoutingConfig: { AdditionalVersionWeights: { '2': 0.1 } },
      }),
    );
    assert.deepEqual(canary.RoutingConfig, { AdditionalVersionWeights: { '2': 0.1 } });
    const runs = 250;
    const counts: Record<string, number> = {};
    for (let i = 0; i < runs; i++) {
      const r = await invoke(name, 'canary');
      const out = json(r.Payload);
      assert.equal(out.version, r.ExecutedVersion, 'ExecutedVersion names the version that ran');
      assert.equal(out.arn, fnArn(name, 'canary'));
      counts[r.ExecutedVersion!] = (counts[r.ExecutedVersion!] ?? 0) + 1;
    }
    const share = (counts['2'] ?? 0) / runs;
    assert.deepEqual(Object.keys(counts).sort(), ['1', '2']);
    assert.ok(share >= 0.04 && share <= 0.18, `version 2 ran ${share * 100}% of the time`);

    // weight 0 sends nothing to the extra version; removing the routing config leaves one version
    await lambda.send(
      new UpdateAliasCommand({ FunctionName: name, Name: 'canary', RoutingConfig: { AdditionalVersionWeights: { '2': 0 } } }),
    );
    for (let i = 0; i < 20; i++) assert.equal((await invoke(name, 'canary')).ExecutedVersion, '1');
    const cleared = await lambda.send(new UpdateAliasCommand({ FunctionName: name, Name: 'canary', RoutingConfig: {} }));
    assert.equal(cleared.RoutingConfig, undefined);
  });

  test('permissions: AddPermission, GetPolicy’s document, per-qualifier policies, RemovePermission, errors', async () => {
    const name = await withTwoVersions();
    await lambda.send(new CreateAliasCommand({ FunctionName: name, Name: 'live', FunctionVersion: '1' }));
    const none = await failure(lambda.send(new GetPolicyCommand({ FunctionName: name })));
    assert.deepEqual(none, { name: 'ResourceNotFoundException', message: 'The resource you requested does not exist.', status: 404 });

    const added = await lambda.send(
      new AddPermissionCommand({
        FunctionName: name,
        StatementId: 's3-invoke',
        Action: 'lambda:InvokeFunction',
        Principal: 's3.amazonaws.com',
        SourceArn: 'arn:aws:s3:::shop-uploads',
        SourceAccount: '123456789012',
      }),
    );
    assert.equal(added.$metadata.httpStatusCode, 201);
    const s3Statement = {
      Sid: 's3-invoke',
      Effect: 'Allow',
      Principal: { Service: 's3.amazonaws.com' },
      Action: 'lambda:InvokeFunction',
      Resource: fnArn(name),
      Condition: { StringEquals: { 'AWS:SourceAccount': '123456789012' }, ArnLike: { 'AWS:SourceArn': 'arn:aws:s3:::shop-uploads' } },
    };
    assert.deepEqual(JSON.parse(added.Statement!), s3Statement);

    const cli = await awsCli(box.url, [
      'lambda',
      'add-permission',
      '--function-name',
      name,
      '--statement-id',
      'other-account',
      '--action',
      'lambda:InvokeFunction',
      '--principal',
      '111122223333',
    ]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.deepEqual(JSON.parse(JSON.parse(cli.stdout).Statement).Principal, { AWS: 'arn:aws:iam::111122223333:root' });
    await lambda.send(
      new AddPermissionCommand({
        FunctionName: name,
        StatementId: 'url',
        Action: 'lambda:InvokeFunctionUrl',
        Principal: '*',
        FunctionUrlAuthType: 'NONE',
      }),
    );

    const dup = await failure(
      lambda.send(
        new AddPermissionCommand({
          FunctionName: name,
          StatementId: 's3-invoke',
          Action: 'lambda:InvokeFunction',
          Principal: 'sns.amazonaws.com',
        }),
      ),
    );
    assert.deepEqual(dup, {
      name: 'ResourceConflictException',
      message: 'The statement id (s3-invoke) provided already exists. Please provide a new statement id, or remove the existing statement.',
      status: 409,
    });

    const policy = await lambda.send(new GetPolicyCommand({ FunctionName: name }));
    const doc = JSON.parse(policy.Policy!);
    assert.deepEqual([doc.Version, doc.Id], ['2012-10-17', 'default']);
    assert.deepEqual(doc.Statement[0], s3Statement);
    assert.deepEqual(doc.Statement[2], {
      Sid: 'url',
      Effect: 'Allow',
      Principal: '*',
      Action: 'lambda:InvokeFunctionUrl',
      Resource: fnArn(name),
      Condition: { StringEquals: { 'lambda:FunctionUrlAuthType': 'NONE' } },
    });
    assert.equal(doc.Statement.length, 3);
    assert.match(policy.RevisionId!, /^[0-9a-f-]{36}$/);

    // a qualified policy is its own document; the same statement id may be used there
    await lambda.send(
      new AddPermissionCommand({
        FunctionName: name,
        Qualifier: 'live',
        StatementId: 's3-invoke',
        Action: 'lambda:InvokeFunction',
        Principal: 'events.amazonaws.com',
        SourceArn: 'arn:aws:events:us-east-1:000000000000:rule/nightly',
      }),
    );
    const aliasPolicy = JSON.parse((await lambda.send(new GetPolicyCommand({ FunctionName: name, Qualifier: 'live' }))).Policy!);
    assert.deepEqual(
      aliasPolicy.Statement.map((s: { Resource: string; Principal: unknown }) => [s.Resource, s.Principal]),
      [[fnArn(name, 'live'), { Service: 'events.amazonaws.com' }]],
    );
    const v2 = await failure(lambda.send(new GetPolicyCommand({ FunctionName: name, Qualifier: '2' })));
    assert.equal(v2.name, 'ResourceNotFoundException');

    const latest = await failure(
      lambda.send(
        new AddPermissionCommand({
          FunctionName: name,
          Qualifier: '$LATEST',
          StatementId: 'x',
          Action: 'lambda:InvokeFunction',
          Principal: '*',
        }),
      ),
    );
    assert.deepEqual(latest, {
      name: 'InvalidParameterValueException',
      message: 'We currently do not support adding policies for $LATEST.',
      status: 400,
    });
    const stale = await failure(
      lambda.send(
        new AddPermissionCommand({
          FunctionName: name,
          StatementId: 'x',
          Action: 'lambda:InvokeFunction',
          Principal: '*',
          RevisionId: 'old',
        }),
      ),
    );
    assert.deepEqual([stale.name, stale.status], ['PreconditionFailedException', 412]);
    const badAction = await failure(
      lambda.send(new AddPermissionCommand({ FunctionName: name, StatementId: 'x', Action: 's3:GetObject', Principal: '*' })),
    );
    assert.deepEqual([badAction.name, badAction.status], ['ValidationException', 400]);
    const noFn = await failure(lambda.send(new GetPolicyCommand({ FunctionName: unique('none') })));
    assert.equal(noFn.name, 'ResourceNotFoundException');

    const missingSid = await failure(lambda.send(new RemovePermissionCommand({ FunctionName: name, StatementId: 'nope' })));
    assert.deepEqual(missingSid, {
      name: 'ResourceNotFoundException',
      message: 'Statement nope is not found in resource policy.',
      status: 404,
    });
    for (const sid of ['s3-invoke', 'other-account', 'url'])
      await lambda.send(new RemovePermissionCommand({ FunctionName: name, StatementId: sid }));
    const empty = await failure(lambda.send(new GetPolicyCommand({ FunctionName: name })));
    assert.equal(empty.message, 'The resource you requested does not exist.');
    const noPolicy = await failure(lambda.send(new RemovePermissionCommand({ FunctionName: name, StatementId: 'url' })));
    assert.deepEqual(noPolicy, {
      name: 'ResourceNotFoundException',
      message: 'No policy is associated with the given resource.',
      status: 404,
    });
    const cliGet = await awsCli(box.url, ['lambda', 'get-policy', '--function-name', name, '--qualifier', 'live']);
    assert.equal(cliGet.code, 0, cliGet.stderr);
    assert.equal(JSON.parse(JSON.parse(cliGet.stdout).Policy).Statement[0].Sid, 's3-invoke');

    // deleting the alias deletes its policy
    await lambda.send(new DeleteAliasCommand({ FunctionName: name, Name: 'live' }));
    await lambda.send(new CreateAliasCommand({ FunctionName: name, Name: 'live', FunctionVersion: '1' }));
    assert.equal(
      (await failure(lambda.send(new GetPolicyCommand({ FunctionName: name, Qualifier: 'live' })))).name,
      'ResourceNotFoundException',
    );
  });

  test('function URLs: the path form and the Host form, the 2.0 event, JSON, text, custom, binary and failed results, CORS', async () => {
    const name = await create(URL_HANDLER);
    const created = await lambda.send(
      new CreateFunctionUrlConfigCommand({
        FunctionName: name,
        AuthType: 'NONE',
        Cors: { AllowOrigins: ['https://shop.example'], AllowMethods: ['GET', 'POST'], AllowHeaders: ['content-type'], MaxAge: 300 },
      }),
    );
    assert.equal(created.$metadata.httpStatusCode, 201);
    const m = /^http:\/\/([a-z0-9]{32})\.lambda-url\.us-east-1\.localhost:(\d+)\/$/.exec(created.FunctionUrl!);
    assert.ok(m, created.FunctionUrl);
    assert.equal(Number(m[2]), box.port);
    const id = m[1];
    assert.deepEqual([created.FunctionArn, created.AuthType, created.InvokeMode], [fnArn(name), 'NONE', 'BUFFERED']);
    const base = `${box.url}/_lambda-url/${id}`;

    const echo = await fetch(`${base}/echo/items?a=1&a=2&b=x`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: 'c1=v1; c2=v2', 'user-agent': 'shop-test/1.0', 'x-trace': 't1' },
      body: '{"order":7}',
    });
    assert.equal(echo.status, 200);
    const event = await echo.json();
    assert.equal(event.version, '2.0');
    assert.equal(event.routeKey, '$default');
    assert.equal(event.rawPath, '/echo/items');
    assert.equal(event.rawQueryString, 'a=1&a=2&b=x');
    assert.deepEqual(event.queryStringParameters, { a: '1,2', b: 'x' });
    assert.deepEqual(event.cookies, ['c1=v1', 'c2=v2']);
    assert.equal(event.headers['content-type'], 'application/json');
    assert.equal(event.headers['x-trace'], 't1');
    assert.equal(event.headers.cookie, undefined);
    assert.equal(event.body, '{"order":7}');
    assert.equal(event.isBase64Encoded, false);
    const rc = event.requestContext;
    assert.deepEqual(rc.http.method, 'POST');
    assert.equal(rc.http.path, '/echo/items');
    assert.equal(rc.http.sourceIp, '127.0.0.1');
    assert.equal(rc.http.userAgent, 'shop-test/1.0');
    assert.equal(rc.domainName, `${id}.lambda-url.us-east-1.localhost`);
    assert.equal(rc.accountId, ACCOUNT);
    assert.equal(rc.routeKey, '$default');
    assert.match(rc.requestId, /^[0-9a-f-]{36}$/);
    assert.ok(Math.abs(rc.timeEpoch - Date.now()) < 60_000);

    const binary = await fetch(`${base}/echo`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body: Buffer.from([0, 159, 255]),
    });
    const binEvent = await binary.json();
    assert.deepEqual([binEvent.body, binEvent.isBase64Encoded], [Buffer.from([0, 159, 255]).toString('base64'), true]);
    const get = await (await fetch(`${base}/`)).json();
    assert.deepEqual([get.rawPath, get.rawQueryString, get.body, get.queryStringParameters], ['/', '', undefined, undefined]);

    const j = await fetch(`${base}/json`);
    assert.deepEqual([j.status, j.headers.get('content-type'), await j.json()], [200, 'application/json', { hello: 'world' }]);
    const t = await fetch(`${base}/text`);
    assert.deepEqual([t.status, t.headers.get('content-type'), await t.text()], [200, 'application/json', '"plain string"']);
    assert.equal(await (await fetch(`${base}/number`)).text(), '42');
    const c = await fetch(`${base}/custom`);
    assert.deepEqual(
      [c.status, c.headers.get('content-type'), c.headers.get('x-custom'), await c.text()],
      [201, 'text/plain', 'yes', 'created'],
    );
    assert.deepEqual(c.headers.getSetCookie(), ['a=1', 'b=2; Path=/']);
    const b = await fetch(`${base}/binary`);
    assert.deepEqual([...new Uint8Array(await b.arrayBuffer())], [0, 1, 2, 255]);
    const f = await fetch(`${base}/fail`);
    assert.deepEqual([f.status, await f.json()], [502, { Message: 'Internal Server Error' }]);

    // the Host form: <url-id>.lambda-url.<region>.localhost
    const host = `${id}.lambda-url.us-east-1.localhost:${box.port}`;
    const viaHost = await hostRequest(box.port, host, '/json?x=1');
    assert.deepEqual([viaHost.status, JSON.parse(viaHost.body.toString())], [200, { hello: 'world' }]);
    const hostEvent = JSON.parse(
      (
        await hostRequest(box.port, host, '/deep/path?q=1', {
          method: 'POST',
          body: Buffer.from('hi'),
          headers: { 'content-type': 'text/plain' },
        })
      ).body.toString(),
    );
    assert.deepEqual(
      [hostEvent.rawPath, hostEvent.rawQueryString, hostEvent.body, hostEvent.headers.host],
      ['/deep/path', 'q=1', 'hi', host],
    );
    const wrongRegion = await hostRequest(box.port, `${id}.lambda-url.eu-west-1.localhost:${box.port}`, '/json');
    assert.equal(wrongRegion.status, 404);
    const unknown = await hostRequest(box.port, `${'0'.repeat(32)}.lambda-url.us-east-1.localhost:${box.port}`, '/json');
    assert.equal(unknown.status, 404);

    // CORS: a preflight is answered by the URL, responses carry the allowed origin
    const pre = await fetch(`${base}/json`, {
      method: 'OPTIONS',
      headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST' },
    });
    assert.equal(pre.status, 200);
    assert.equal(pre.headers.get('access-control-allow-origin'), 'https://shop.example');
    assert.equal(pre.headers.get('access-control-allow-methods'), 'GET,POST');
    assert.equal(pre.headers.get('access-control-max-age'), '300');
    const withOrigin = await fetch(`${base}/json`, { headers: { origin: 'https://shop.example' } });
    assert.equal(withOrigin.headers.get('access-control-allow-origin'), 'https://shop.example');
    const otherOrigin = await fetch(`${base}/json`, { headers: { origin: 'https://evil.example' } });
    assert.equal(otherOrigin.headers.get('access-control-allow-origin'), null);
  });

  test('function URL configs: alias URLs, AWS_IAM, update, list, delete, errors; the aws CLI', async () => {
    const name = await withTwoVersions(URL_HANDLER);
    await lambda.send(new CreateAliasCommand({ FunctionName: name, Name: 'live', FunctionVersion: '2' }));
    const unqualified = await lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: name, AuthType: 'NONE' }));
    const cli = await awsCli(box.url, [
      'lambda',
      'create-function-url-config',
      '--function-name',
      name,
      '--qualifier',
      'live',
      '--auth-type',
      'NONE',
    ]);
    assert.equal(cli.code, 0, cli.stderr);
    const aliasUrl = JSON.parse(cli.stdout);
    assert.equal(aliasUrl.FunctionArn, fnArn(name, 'live'));
    const aliasBase = `${box.url}/_lambda-url/${/\/\/([a-z0-9]+)\./.exec(aliasUrl.FunctionUrl)![1]}`;
    assert.deepEqual(await (await fetch(`${aliasBase}/version`)).json(), { version: '2', arn: fnArn(name, 'live') });
    const plainBase = `${box.url}/_lambda-url/${/\/\/([a-z0-9]+)\./.exec(unqualified.FunctionUrl!)![1]}`;
    assert.deepEqual(await (await fetch(`${plainBase}/version`)).json(), { version: '$LATEST', arn: fnArn(name) });

    const listed = await lambda.send(new ListFunctionUrlConfigsCommand({ FunctionName: name }));
    assert.deepEqual(listed.FunctionUrlConfigs!.map((u) => u.FunctionArn).sort(), [fnArn(name), fnArn(name, 'live')]);
    const got = await lambda.send(new GetFunctionUrlConfigCommand({ FunctionName: name, Qualifier: 'live' }));
    assert.deepEqual([got.FunctionUrl, got.AuthType], [aliasUrl.FunctionUrl, 'NONE']);

    // AWS_IAM: unsigned requests are refused, signed ones run (the default auth mode checks presence only)
    const updated = await lambda.send(
      new UpdateFunctionUrlConfigCommand({ FunctionName: name, AuthType: 'AWS_IAM', Cors: { AllowOrigins: ['*'] } }),
    );
    assert.deepEqual([updated.AuthType, updated.Cors, updated.FunctionUrl], ['AWS_IAM', { AllowOrigins: ['*'] }, unqualified.FunctionUrl]);
    assert.ok(updated.LastModifiedTime! >= updated.CreationTime!);
    const unsigned = await fetch(`${plainBase}/json`);
    assert.deepEqual([unsigned.status, await unsigned.json()], [403, { Message: 'Forbidden' }]);
    const signedRes = await fetch(`${plainBase}/echo`, { headers: await signedHeaders(`${plainBase}/echo`, 'GET') });
    assert.equal(signedRes.status, 200);
    assert.equal((await signedRes.json()).requestContext.authorizer.iam.accessKey, 'test');

    const errors: [() => Promise<unknown>, string, string | undefined, number][] = [
      [
        () => lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: name, AuthType: 'NONE' })),
        'ResourceConflictException',
        `Failed to create function url config for [functionArn = ${fnArn(name)}]. Error message:  FunctionUrlConfig exists for this Lambda function`,
        409,
      ],
      [
        () => lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: name, Qualifier: '1', AuthType: 'NONE' })),
        'ValidationException',
        undefined,
        400,
      ],
      [
        () => lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: name, Qualifier: 'nope', AuthType: 'NONE' })),
        'ResourceNotFoundException',
        'Function does not exist',
        404,
      ],
      [
        () => lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: name, AuthType: 'OPEN' as 'NONE' })),
        'ValidationException',
        undefined,
        400,
      ],
      [
        () => lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: unique('none'), AuthType: 'NONE' })),
        'ResourceNotFoundException',
        'Function does not exist',
        404,
      ],
      [
        () => lambda.send(new GetFunctionUrlConfigCommand({ FunctionName: unique('none') })),
        'ResourceNotFoundException',
        'The resource you requested does not exist.',
        404,
      ],
    ];
    for (const [p, code, message, status] of errors) {
      const e = await failure(p());
      assert.equal(e.name, code, e.message);
      if (message) assert.equal(e.message, message);
      assert.equal(e.status, status);
    }

    await lambda.send(new DeleteFunctionUrlConfigCommand({ FunctionName: name }));
    const deleted = await failure(lambda.send(new GetFunctionUrlConfigCommand({ FunctionName: name })));
    assert.deepEqual(deleted, { name: 'ResourceNotFoundException', message: 'The resource you requested does not exist.', status: 404 });
    assert.equal((await fetch(`${plainBase}/json`)).status, 404);
    const again = await failure(lambda.send(new DeleteFunctionUrlConfigCommand({ FunctionName: name })));
    assert.equal(again.name, 'ResourceNotFoundException');

    const cliGet = await awsCli(box.url, ['lambda', 'get-function-url-config', '--function-name', name, '--qualifier', 'live']);
    assert.equal(cliGet.code, 0, cliGet.stderr);
    assert.equal(JSON.parse(cliGet.stdout).FunctionUrl, aliasUrl.FunctionUrl);
    // deleting the alias deletes its URL
    await lambda.send(new DeleteAliasCommand({ FunctionName: name, Name: 'live' }));
    assert.equal((await fetch(`${aliasBase}/json`)).status, 404);
    assert.deepEqual((await lambda.send(new ListFunctionUrlConfigsCommand({ FunctionName: name }))).FunctionUrlConfigs, []);
  });
});

describe('function URLs with AWS_IAM under OPSBOX_AUTH=strict', () => {
  let box: RunningOpsbox;
  let lambda: LambdaClient;
  before(async () => {
    box = await startOpsbox({ env: { OPSBOX_AUTH: 'strict' } });
    lambda = new LambdaClient(clientConfig(box.url));
  });
  after(async () => {
    lambda?.destroy();
    await box?.dispose();
  });

  test('only a valid signature invokes: unsigned → 403, wrong secret → 403 SignatureDoesNotMatch, signed → 200 with the caller', async () => {
    const name = unique('iam');
    await lambda.send(
      new CreateFunctionCommand({
        FunctionName: name,
        Runtime: 'nodejs20.x',
        Handler: 'index.handler',
        Role: ROLE,
        Code: { ZipFile: await zip({ 'index.mjs': URL_HANDLER }) },
      }),
    );
    const url = await lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: name, AuthType: 'AWS_IAM' }));
    const id = /\/\/([a-z0-9]+)\./.exec(url.FunctionUrl!)![1];
    const target = `${box.url}/_lambda-url/${id}/echo?k=v`;

    const unsigned = await fetch(target);
    assert.deepEqual([unsigned.status, await unsigned.json()], [403, { Message: 'Forbidden' }]);
    const forged = await fetch(target, { headers: await signedHeaders(target, 'GET', 'wrong-secret') });
    assert.equal(forged.status, 403);
    assert.match((await forged.json()).Message, /signature we calculated does not match/);

    const body = '{"n":1}';
    const ok = await fetch(target, { method: 'POST', body, headers: { ...(await signedHeaders(target, 'POST', 'test', body)) } });
    assert.equal(ok.status, 200);
    const event = await ok.json();
    assert.equal(event.body, body);
    assert.deepEqual(
      [event.requestContext.authorizer.iam.accessKey, event.requestContext.authorizer.iam.userArn],
      ['test', `arn:aws:iam::${ACCOUNT}:root`],
    );
    const tampered = await fetch(target, { method: 'POST', body: '{"n":2}', headers: await signedHeaders(target, 'POST', 'test', body) });
    assert.equal(tampered.status, 403, 'the signature covers the body');

    // a NONE URL stays open in strict mode
    await lambda.send(new UpdateFunctionUrlConfigCommand({ FunctionName: name, AuthType: 'NONE' }));
    assert.equal((await fetch(`${box.url}/_lambda-url/${id}/json`)).status, 200);
  });
});
