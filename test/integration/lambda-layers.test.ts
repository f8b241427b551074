/**
 * Lambda layers against a real opsbox process with SDK v3 and the aws CLI: a Node layer module
 * imported by an ES module handler and required by a CommonJS one (and a file read through
 * OPSBOX_LAYER_ROOT), a Python layer module, two layers overriding a file in the order listed, a
 * custom runtime's bootstrap and tool shipped as a layer, layer version listing and deletion
 * (a function keeps running a deleted version), permissions across accounts, errors, kill -9.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  AddLayerVersionPermissionCommand,
  type Runtime,
  CreateFunctionCommand,
  DeleteLayerVersionCommand,
  GetFunctionConfigurationCommand,
  GetLayerVersionByArnCommand,
  GetLayerVersionCommand,
  GetLayerVersionPolicyCommand,
  InvokeCommand,
  LambdaClient,
  ListLayersCommand,
  ListLayerVersionsCommand,
  PublishLayerVersionCommand,
  RemoveLayerVersionPermissionCommand,
  UpdateFunctionConfigurationCommand,
} from '@aws-sdk/client-lambda';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { awsCli, clientConfig, failure, startOpsbox, unique, type RunningOpsbox } from '../helpers/opsbox.js';
import { json, ROLE, zip } from '../helpers/lambda.js';

describe('lambda layers', () => {
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

  async function publish(files: Record<string, string>, extra: Partial<ConstructorParameters<typeof PublishLayerVersionCommand>[0]> = {}) {
    return lambda.send(new PublishLayerVersionCommand({ LayerName: unique('layer'), Content: { ZipFile: await zip(files) }, ...extra }));
  }

  async function create(
    files: Record<string, string>,
    extra: Partial<ConstructorParameters<typeof CreateFunctionCommand>[0]> = {},
    modes: Record<string, number> = {},
  ) {
    const name = unique('fn');
    await lambda.send(
      new CreateFunctionCommand({
        FunctionName: name,
        Runtime: 'nodejs20.x',
        Handler: 'index.handler',
        Role: ROLE,
        Code: { ZipFile: await zip(files, modes) },
        ...extra,
      }),
    );
    return name;
  }

  const invoke = async (name: string, payload: unknown = {}) => {
    const r = await lambda.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from(JSON.stringify(payload)) }));
    assert.equal(r.FunctionError, undefined, Buffer.from(r.Payload ?? []).toString());
    return json(r.Payload);
  };

  test('a Node layer: imported by an ES module handler, required by a CommonJS one; /opt files through OPSBOX_LAYER_ROOT', async () => {
    const layer = await publish(
      {
        'nodejs/node_modules/greeter/package.json': JSON.stringify({ name: 'greeter', main: 'index.js' }),
        'nodejs/node_modules/greeter/index.js': `exports.greet = (n) => 'hello ' + n;
exports.sdk = typeof require('@aws-sdk/client-sts').STSClient;`,
        'nodejs/node20/node_modules/shout/package.json': JSON.stringify({ name: 'shout', type: 'module', exports: './index.js' }),
        'nodejs/node20/node_modules/shout/index.js': `export default (s) => s.toUpperCase() + '!';`,
        'config.json': JSON.stringify({ color: 'teal' }),
      },
      { Description: 'greetings', CompatibleRuntimes: ['nodejs20.x'], CompatibleArchitectures: ['x86_64'], LicenseInfo: 'MIT' },
    );
    assert.equal(layer.Version, 1);
    assert.match(layer.LayerArn!, /^arn:aws:lambda:us-east-1:000000000000:layer:layer-[\w-]+$/);
    assert.equal(layer.LayerVersionArn, `${layer.LayerArn}:1`);
    assert.deepEqual(
      [layer.Description, layer.CompatibleRuntimes, layer.CompatibleArchitectures, layer.LicenseInfo],
      ['greetings', ['nodejs20.x'], ['x86_64'], 'MIT'],
    );
    assert.ok(layer.Content!.CodeSize! > 0 && layer.Content!.CodeSha256 && layer.Content!.Location);
    assert.match(layer.CreatedDate!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$/);

    const esm = await create(
      {
        'index.mjs': `import { greet, sdk } from 'greeter';
import shout from 'shout';
import { readFileSync } from 'node:fs';
export const handler = async () => ({
  greet: greet('esm'), shout: shout('hey'), sdk,
  config: JSON.parse(readFileSync((process.env.OPSBOX_LAYER_ROOT ?? '/opt') + '/config.json', 'utf8')),
});`,
      },
      { Layers: [layer.LayerVersionArn!] },
    );
    assert.deepEqual(await invoke(esm), { greet: 'hello esm', shout: 'HEY!', sdk: 'function', config: { color: 'teal' } });
    const conf = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: esm }));
    assert.deepEqual(conf.Layers, [{ Arn: layer.LayerVersionArn, CodeSize: layer.Content!.CodeSize }]);

    const cjs = await create(
      { 'app.js': `const { greet } = require('greeter'); exports.handler = async () => ({ greet: greet('cjs') });` },
      { Handler: 'app.handler', Layers: [layer.LayerVersionArn!] },
    );
    assert.deepEqual(await invoke(cjs), { greet: 'hello cjs' });

    // without the layer the import fails as on Lambda
    await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: cjs, Layers: [] }));
    const bare = await lambda.send(new InvokeCommand({ FunctionName: cjs, Payload: Buffer.from('{}') }));
    assert.equal(bare.FunctionError, 'Unhandled');
    assert.match(json(bare.Payload).errorMessage, /Cannot find module 'greeter'/);
    assert.equal((await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: cjs }))).Layers, undefined);
  });

  test('a Python layer: modules in /opt/python and /opt/python/lib/python3.x/site-packages', async () => {
    const layer = await publish(
      {
        'python/shapes.py': 'def area(w, h):\n    return w * h\n',
        'python/lib/python3.11/site-packages/units/__init__.py': 'UNIT = "m2"\n',
      },
      { CompatibleRuntimes: ['python3.11', 'python3.12'] },
    );
    const fn = await create(
      {
        'lambda_function.py':
          'import shapes\nfrom units import UNIT\n\ndef lambda_handler(event, context):\n    return {"area": shapes.area(event["w"], event["h"]), "unit": UNIT}\n',
      },
      { Runtime: 'python3.11', Handler: 'lambda_function.lambda_handler', Layers: [layer.LayerVersionArn!] },
    );
    assert.deepEqual(await invoke(fn, { w: 3, h: 4 }), { area: 12, unit: 'm2' });
  });

  test('two layers overlay in the order listed (later wins); changing the order restarts the environment; a runtime shipped as a layer', async () => {
    const a = await publish({
      'nodejs/node_modules/which/index.js': `module.exports = 'A';`,
      'shared/a.txt': 'from A',
    });
    const b = await publish({
      'nodejs/node_modules/which/index.js': `module.exports = 'B';`,
      'shared/b.txt': 'from B',
    });
    const fn = await create(
      {
        'index.js': `const fs = require('node:fs');
exports.handler = async () => ({
  which: require('which'),
  files: fs.readdirSync(process.env.OPSBOX_LAYER_ROOT + '/shared').sort(),
});`,
      },
      { Layers: [a.LayerVersionArn!, b.LayerVersionArn!] },
    );
    assert.deepEqual(await invoke(fn), { which: 'B', files: ['a.txt', 'b.txt'] });
    await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: fn, Layers: [b.LayerVersionArn!, a.LayerVersionArn!] }));
    assert.deepEqual(await invoke(fn), { which: 'A', files: ['a.txt', 'b.txt'] });

    const runtime = await lambda.send(
      new PublishLayerVersionCommand({
        LayerName: unique('shell-runtime'),
        CompatibleRuntimes: ['provided.al2023'],
        Content: {
          ZipFile: await zip(
            {
              bootstrap: `#!/bin/sh
set -eu
API="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
while true; do
  HEADERS=$(mktemp)
  curl -sS -D "$HEADERS" "$API/invocation/next" >/dev/null
  ID=$(grep -i Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  curl -sS -X POST "$API/invocation/$ID/response" -d "{\\"tool\\":\\"$(layer-tool)\\",\\"handler\\":\\"$_HANDLER\\"}" >/dev/null
done
`,
              'bin/layer-tool': '#!/bin/sh\necho tool-from-layer\n',
            },
            { bootstrap: 0o755, 'bin/layer-tool': 0o755 },
          ),
        },
      }),
    );
    const custom = await create(
      { 'function.sh': 'unused' },
      { Runtime: 'provided.al2023', Handler: 'function.handler', Layers: [runtime.LayerVersionArn!] },
    );
    assert.deepEqual(await invoke(custom), { tool: 'tool-from-layer', handler: 'function.handler' });
  });

  test('versions, listing with filters, deletion (version numbers not reused; functions keep a deleted version), S3 content', async () => {
    const name = unique('versions');
    const v = [];
    for (const [i, runtimes] of [['nodejs20.x'], ['python3.12'], ['nodejs20.x', 'python3.12']].entries())
      v.push(
        await lambda.send(
          new PublishLayerVersionCommand({
            LayerName: name,
            CompatibleRuntimes: runtimes as Runtime[],
            Content: { ZipFile: await zip({ 'nodejs/node_modules/n/index.js': `module.exports = ${i + 1};` }) },
          }),
        ),
      );
    assert.deepEqual(
      v.map((x) => x.Version),
      [1, 2, 3],
    );
    const listed = await lambda.send(new ListLayerVersionsCommand({ LayerName: name }));
    assert.deepEqual(
      listed.LayerVersions!.map((x) => x.Version),
      [3, 2, 1],
    );
    const node = await lambda.send(new ListLayerVersionsCommand({ LayerName: name, CompatibleRuntime: 'nodejs20.x' }));
    assert.deepEqual(
      node.LayerVersions!.map((x) => x.Version),
      [3, 1],
    );
    const paged = await lambda.send(new ListLayerVersionsCommand({ LayerName: name, MaxItems: 2 }));
    assert.equal(paged.LayerVersions!.length, 2);
    const rest = await lambda.send(new ListLayerVersionsCommand({ LayerName: name, MaxItems: 2, Marker: paged.NextMarker }));
    assert.deepEqual(
      rest.LayerVersions!.map((x) => x.Version),
      [1],
    );
    assert.deepEqual((await lambda.send(new ListLayerVersionsCommand({ LayerName: unique('none') }))).LayerVersions, []);

    const fn = await create({ 'index.js': `exports.handler = async () => require('n');` }, { Layers: [v[0].LayerVersionArn!] });
    await lambda.send(new DeleteLayerVersionCommand({ LayerName: name, VersionNumber: 1 }));
    await lambda.send(new DeleteLayerVersionCommand({ LayerName: name, VersionNumber: 1 })); // idempotent
    const gone = await failure(lambda.send(new GetLayerVersionCommand({ LayerName: name, VersionNumber: 1 })));
    assert.deepEqual(
      [gone.name, gone.status, gone.message],
      ['ResourceNotFoundException', 404, 'The resource you requested does not exist.'],
    );
    assert.equal(await invoke(fn), 1, 'a function keeps running the layer version it was given');

    const all = (await lambda.send(new ListLayersCommand({}))).Layers!.find((l) => l.LayerName === name)!;
    assert.equal(all.LatestMatchingVersion!.Version, 3);
    assert.equal(all.LayerArn, v[0].LayerArn);
    await lambda.send(new DeleteLayerVersionCommand({ LayerName: v[0].LayerArn!, VersionNumber: 3 }));
    const py = (await lambda.send(new ListLayersCommand({ CompatibleRuntime: 'python3.12' }))).Layers!.find((l) => l.LayerName === name)!;
    assert.equal(py.LatestMatchingVersion!.Version, 2);
    const nodeOnly = (await lambda.send(new ListLayersCommand({ CompatibleRuntime: 'nodejs20.x' }))).Layers!;
    assert.ok(!nodeOnly.some((l) => l.LayerName === name), 'no version left for nodejs20.x');
    await lambda.send(new DeleteLayerVersionCommand({ LayerName: name, VersionNumber: 2 }));
    assert.ok(!(await lambda.send(new ListLayersCommand({}))).Layers!.some((l) => l.LayerName === name));

    // from S3, after every version was deleted: the next number
    const s3 = new S3Client({ ...clientConfig(box.url), forcePathStyle: true });
    const bucket = unique('layers').toLowerCase();
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: 'layer.zip',
        Body: await zip({ 'nodejs/node_modules/n/index.js': 'module.exports = 4;' }),
      }),
    );
    const fromS3 = await lambda.send(
      new PublishLayerVersionCommand({ LayerName: name, Content: { S3Bucket: bucket, S3Key: 'layer.zip' } }),
    );
    assert.equal(fromS3.Version, 4);
    const byArn = await lambda.send(new GetLayerVersionByArnCommand({ Arn: fromS3.LayerVersionArn! }));
    assert.deepEqual([byArn.Version, byArn.Content!.CodeSha256], [4, fromS3.Content!.CodeSha256]);
    await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: fn, Layers: [fromS3.LayerVersionArn!] }));
    assert.equal(await invoke(fn), 4);
    const noKey = await failure(
      lambda.send(new PublishLayerVersionCommand({ LayerName: name, Content: { S3Bucket: bucket, S3Key: 'missing.zip' } })),
    );
    assert.equal(noKey.name, 'InvalidParameterValueException');
    assert.match(noKey.message, /Error occurred while GetObject. S3 Error Code: NoSuchKey/);
    s3.destroy();
  });

  test('layer version permissions: stored policy, cross-account use', async () => {
    const layer = await publish({ 'nodejs/node_modules/shared/index.js': `module.exports = 'shared across accounts';` });
    const LayerName = layer.LayerArn!.split(':').pop()!;
    const other = new LambdaClient(clientConfig(box.url, { accessKeyId: '111111111111' }));
    const fnIn = async (client: LambdaClient, layers: string[]) => {
      const name = unique('xacct');
      await client.send(
        new CreateFunctionCommand({
          FunctionName: name,
          Runtime: 'nodejs20.x',
          Handler: 'index.handler',
          Role: 'arn:aws:iam::111111111111:role/fn',
          Code: { ZipFile: await zip({ 'index.js': `exports.handler = async () => require('shared');` }) },
          Layers: layers,
        }),
      );
      return name;
    };
    const denied = await failure(fnIn(other, [layer.LayerVersionArn!]));
    assert.deepEqual([denied.name, denied.status], ['AccessDeniedException', 403]);
    const noPolicy = await failure(lambda.send(new GetLayerVersionPolicyCommand({ LayerName, VersionNumber: 1 })));
    assert.deepEqual([noPolicy.name, noPolicy.message], ['ResourceNotFoundException', 'No policy is associated with the given resource.']);

    const added = await lambda.send(
      new AddLayerVersionPermissionCommand({
        LayerName,
        VersionNumber: 1,
        StatementId: 'xaccount',
        Action: 'lambda:GetLayerVersion',
        Principal: '111111111111',
      }),
    );
    assert.deepEqual(JSON.parse(added.Statement!), {
      Sid: 'xaccount',
      Effect: 'Allow',
      Principal: { AWS: 'arn:aws:iam::111111111111:root' },
      Action: 'lambda:GetLayerVersion',
      Resource: layer.LayerVersionArn,
    });
    const dup = await failure(
      lambda.send(
        new AddLayerVersionPermissionCommand({
          LayerName,
          VersionNumber: 1,
          StatementId: 'xaccount',
          Action: 'lambda:GetLayerVersion',
          Principal: '*',
        }),
      ),
    );
    assert.deepEqual([dup.name, dup.status], ['ResourceConflictException', 409]);
    const policy = await lambda.send(new GetLayerVersionPolicyCommand({ LayerName, VersionNumber: 1 }));
    assert.equal(policy.RevisionId, added.RevisionId);
    assert.deepEqual(JSON.parse(policy.Policy!).Statement, [JSON.parse(added.Statement!)]);

    const fn = await fnIn(other, [layer.LayerVersionArn!]);
    const r = await other.send(new InvokeCommand({ FunctionName: fn }));
    assert.equal(json(r.Payload), 'shared across accounts');
    assert.equal((await other.send(new GetLayerVersionByArnCommand({ Arn: layer.LayerVersionArn! }))).Version, 1);

    const stale = await failure(
      lambda.send(new RemoveLayerVersionPermissionCommand({ LayerName, VersionNumber: 1, StatementId: 'xaccount', RevisionId: 'stale' })),
    );
    assert.equal(stale.name, 'PreconditionFailedException');
    await lambda.send(new RemoveLayerVersionPermissionCommand({ LayerName, VersionNumber: 1, StatementId: 'xaccount' }));
    const missing = await failure(
      lambda.send(new RemoveLayerVersionPermissionCommand({ LayerName, VersionNumber: 1, StatementId: 'xaccount' })),
    );
    assert.deepEqual([missing.name, missing.message], ['ResourceNotFoundException', 'Statement xaccount is not found in resource policy.']);
    assert.equal(
      (await failure(other.send(new GetLayerVersionByArnCommand({ Arn: layer.LayerVersionArn! })))).name,
      'AccessDeniedException',
    );
    other.destroy();
  });

  test('errors as AWS answers them', async () => {
    const layer = await publish({ 'a.txt': 'a' });
    const missingArn = `${layer.LayerArn}:9`;
    const missing = await failure(create({ 'index.js': '' }, { Layers: [missingArn] }));
    assert.deepEqual(
      [missing.name, missing.status, missing.message],
      ['InvalidParameterValueException', 400, `Layer version ${missingArn} does not exist.`],
    );

    const six = await Promise.all(Array.from({ length: 6 }, () => publish({ 'a.txt': 'a' })));
    const tooMany = await failure(create({ 'index.js': '' }, { Layers: six.map((l) => l.LayerVersionArn!) }));
    assert.deepEqual([tooMany.name, tooMany.message], ['InvalidParameterValueException', 'Cannot reference more than 5 layers.']);

    const v2 = await lambda.send(
      new PublishLayerVersionCommand({ LayerName: layer.LayerArn!, Content: { ZipFile: await zip({ 'b.txt': 'b' }) } }),
    );
    assert.equal(v2.Version, 2, 'LayerName may be the layer ARN');
    const twice = await failure(create({ 'index.js': '' }, { Layers: [layer.LayerVersionArn!, v2.LayerVersionArn!] }));
    assert.equal(twice.name, 'InvalidParameterValueException');
    assert.match(twice.message, /^Two different versions of the same layer are not allowed to be referenced in the same function/);

    const fn = await create({ 'index.js': 'exports.handler = async () => 1;' });
    const onUpdate = await failure(lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: fn, Layers: [missingArn] })));
    assert.equal(onUpdate.message, `Layer version ${missingArn} does not exist.`);
    const badArn = await failure(create({ 'index.js': '' }, { Layers: ['not-an-arn'] }));
    assert.equal(badArn.name, 'ValidationException');

    const notZip = await failure(
      lambda.send(new PublishLayerVersionCommand({ LayerName: unique('bad'), Content: { ZipFile: Buffer.from('nope') } })),
    );
    assert.deepEqual(
      [notZip.name, notZip.message],
      ['InvalidParameterValueException', 'Could not unzip uploaded file. Please check your file, then try to upload again.'],
    );
    const noLayer = await failure(lambda.send(new GetLayerVersionCommand({ LayerName: unique('nolayer'), VersionNumber: 1 })));
    assert.deepEqual([noLayer.name, noLayer.status], ['ResourceNotFoundException', 404]);
    const badRuntime = await failure(
      lambda.send(
        new PublishLayerVersionCommand({
          LayerName: unique('rt'),
          CompatibleRuntimes: ['cobol' as Runtime],
          Content: { ZipFile: await zip({ a: 'b' }) },
        }),
      ),
    );
    assert.equal(badRuntime.name, 'ValidationException');
  });

  test('aws CLI: publish-layer-version, list-layers, get-layer-version, create-function --layers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'layers-cli-'));
    writeFileSync(join(dir, 'layer.zip'), await zip({ 'python/cli_helper.py': 'def hello():\n    return "hello from the cli layer"\n' }));
    writeFileSync(
      join(dir, 'fn.zip'),
      await zip({ 'app.py': 'import cli_helper\n\ndef handler(event, context):\n    return cli_helper.hello()\n' }),
    );
    const name = unique('cli-layer');
    const cli = (args: string[]) => awsCli(box.url, [...args, '--region', 'us-east-1']);
    const published = await cli([
      'lambda',
      'publish-layer-version',
      '--layer-name',
      name,
      '--zip-file',
      `fileb://${join(dir, 'layer.zip')}`,
      '--compatible-runtimes',
      'python3.11',
      '--description',
      'from the cli',
    ]);
    assert.equal(published.code, 0, published.stderr);
    const out = JSON.parse(published.stdout);
    assert.deepEqual([out.Version, out.Description, out.CompatibleRuntimes], [1, 'from the cli', ['python3.11']]);

    const listed = await cli(['lambda', 'list-layers', '--compatible-runtime', 'python3.11']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.ok(JSON.parse(listed.stdout).Layers.some((l: { LayerName: string }) => l.LayerName === name));
    const got = await cli(['lambda', 'get-layer-version', '--layer-name', name, '--version-number', '1']);
    assert.equal(JSON.parse(got.stdout).LayerVersionArn, out.LayerVersionArn);

    const fn = unique('cli-fn');
    const created = await cli([
      'lambda',
      'create-function',
      '--function-name',
      fn,
      '--runtime',
      'python3.11',
      '--handler',
      'app.handler',
      '--role',
      ROLE,
      '--zip-file',
      `fileb://${join(dir, 'fn.zip')}`,
      '--layers',
      out.LayerVersionArn,
    ]);
    assert.equal(created.code, 0, created.stderr);
    assert.deepEqual(JSON.parse(created.stdout).Layers, [{ Arn: out.LayerVersionArn, CodeSize: out.Content.CodeSize }]);
    assert.equal(await invoke(fn), 'hello from the cli layer');

    const deleted = await cli(['lambda', 'delete-layer-version', '--layer-name', name, '--version-number', '1']);
    assert.equal(deleted.code, 0, deleted.stderr);
    const versions = await cli(['lambda', 'list-layer-versions', '--layer-name', name]);
    assert.deepEqual(JSON.parse(versions.stdout).LayerVersions, []);
  });

  test('layers and the functions using them survive kill -9', async () => {
    const layer = await publish({ 'nodejs/node_modules/durable/index.js': `module.exports = 'still here';` });
    const fn = await create({ 'index.js': `exports.handler = async () => require('durable');` }, { Layers: [layer.LayerVersionArn!] });
    assert.equal(await invoke(fn), 'still here');
    await box.kill9();
    box = await startOpsbox({ dataDir: box.dataDir });
    lambda.destroy();
    lambda = new LambdaClient(clientConfig(box.url));
    const got = await lambda.send(new GetLayerVersionByArnCommand({ Arn: layer.LayerVersionArn! }));
    assert.equal(got.Content!.CodeSha256, layer.Content!.CodeSha256);
    assert.equal(await invoke(fn), 'still here');
    const next = await lambda.send(
      new PublishLayerVersionCommand({ LayerName: layer.LayerArn!, Content: { ZipFile: await zip({ 'a.txt': 'a' }) } }),
    );
    assert.equal(next.Version, 2);
  });
});
