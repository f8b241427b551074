/**
 * SSM Parameter Store against a real opsbox process with SDK v3 and the aws CLI: the walkthrough,
 * SecureString through KMS (with and without decryption, custom keys, KMS errors), versions,
 * history and labels with selectors, paging, filters, tiers and policies, tags, the public region
 * parameters, the "Parameter Store Change" event reaching an EventBridge rule, and parameters
 * surviving kill -9.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  AddTagsToResourceCommand,
  DeleteParameterCommand,
  DeleteParametersCommand,
  DescribeParametersCommand,
  GetParameterCommand,
  GetParameterHistoryCommand,
  GetParametersByPathCommand,
  GetParametersCommand,
  LabelParameterVersionCommand,
  ListTagsForResourceCommand,
  PutParameterCommand,
  RemoveTagsFromResourceCommand,
  SSMClient,
  UnlabelParameterVersionCommand,
  type ParameterStringFilter,
} from '@aws-sdk/client-ssm';
import { CreateKeyCommand, DecryptCommand, DisableKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { EventBridgeClient, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { ConfirmSubscriptionCommand, CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { awsCli, clientConfig, failure, startOpsbox, unique, type RunningOpsbox } from '../helpers/opsbox.js';
import { httpEndpoint } from '../helpers/sns.js';
import { until } from '../helpers/wait.js';

describe('ssm parameter store', () => {
  let box: RunningOpsbox;
  let ssm: SSMClient;
  let kms: KMSClient;
  before(async () => {
    box = await startOpsbox();
    ssm = new SSMClient(clientConfig(box.url));
    kms = new KMSClient(clientConfig(box.url));
  });
  after(async () => {
    ssm?.destroy();
    kms?.destroy();
    await box?.dispose();
  });

  const put = (input: ConstructorParameters<typeof PutParameterCommand>[0]) => ssm.send(new PutParameterCommand(input));
  const get = async (Name: string, WithDecryption?: boolean) =>
    (await ssm.send(new GetParameterCommand({ Name, WithDecryption }))).Parameter!;
  const cli = async (args: string[]) => {
    const r = await awsCli(box.url, ['ssm', ...args]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout || '{}');
  };

  test('walkthrough with the aws CLI: a String, a SecureString, get-parameters-by-path --recursive --with-decryption', async () => {
    const root = `/${unique('shop')}`;
    assert.deepEqual(await cli(['put-parameter', '--name', `${root}/db/host`, '--value', 'db.local', '--type', 'String']), {
      Version: 1,
      Tier: 'Standard',
    });
    await cli(['put-parameter', '--name', `${root}/db/password`, '--value', 'hunter2', '--type', 'SecureString']);
    await cli(['put-parameter', '--name', `${root}/feature-flags`, '--value', 'a,b,c', '--type', 'StringList']);
    const all = await cli(['get-parameters-by-path', '--path', root, '--recursive', '--with-decryption']);
    assert.deepEqual(
      all.Parameters.map((p: { Name: string; Value: string; Type: string }) => [p.Name, p.Type, p.Value]),
      [
        [`${root}/db/host`, 'String', 'db.local'],
        [`${root}/db/password`, 'SecureString', 'hunter2'],
        [`${root}/feature-flags`, 'StringList', 'a,b,c'],
      ],
    );
    assert.equal(all.Parameters[0].ARN, `arn:aws:ssm:us-east-1:000000000000:parameter${root}/db/host`);
    // one level only without --recursive
    const top = await cli(['get-parameters-by-path', '--path', root]);
    assert.deepEqual(
      top.Parameters.map((p: { Name: string }) => p.Name),
      [`${root}/feature-flags`],
    );
    // without decryption the SecureString comes back as its ciphertext
    const enc = await cli(['get-parameter', '--name', `${root}/db/password`]);
    assert.notEqual(enc.Parameter.Value, 'hunter2');
    assert.match(enc.Parameter.Value, /^[A-Za-z0-9+/]+=*$/);
    const missing = await awsCli(box.url, ['ssm', 'get-parameter', '--name', `${root}/nope`]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /ParameterNotFound/);
  });

  test('SecureString: KMS ciphertext bound to the parameter ARN, custom keys, KeyId in DescribeParameters, KMS errors as InvalidKeyId', async () => {
    const name = `/${unique('sec')}/token`;
    await put({ Name: name, Value: 'top-secret', Type: 'SecureString' });
    const raw = await get(name);
    assert.equal(raw.Type, 'SecureString');
    assert.notEqual(raw.Value, 'top-secret');
    assert.equal((await get(name, true)).Value, 'top-secret');
    // the stored value is a real KMS ciphertext under alias/aws/ssm, bound to { PARAMETER_ARN }
    const dec = await kms.send(
      new DecryptCommand({ CiphertextBlob: Buffer.from(raw.Value!, 'base64'), EncryptionContext: { PARAMETER_ARN: raw.ARN! } }),
    );
    assert.equal(Buffer.from(dec.Plaintext!).toString(), 'top-secret');
    assert.equal(
      (await failure(kms.send(new DecryptCommand({ CiphertextBlob: Buffer.from(raw.Value!, 'base64') })))).name,
      'InvalidCiphertextException',
    );

    const key = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    const custom = `/${unique('sec')}/custom`;
    await put({ Name: custom, Value: 'mine', Type: 'SecureString', KeyId: key.KeyId });
    const described = await ssm.send(new DescribeParametersCommand({ ParameterFilters: [{ Key: 'Name', Values: [name, custom] }] }));
    assert.deepEqual(
      described.Parameters!.map((p) => [p.Name, p.KeyId]).sort(),
      [
        [name, 'alias/aws/ssm'],
        [custom, key.KeyId],
      ].sort(),
    );
    // overwriting keeps the key; GetParameters decrypts too
    await put({ Name: custom, Value: 'mine-2', Overwrite: true });
    const both = await ssm.send(new GetParametersCommand({ Names: [custom, name], WithDecryption: true }));
    assert.deepEqual(
      both.Parameters!.map((p) => p.Value),
      ['mine-2', 'top-secret'],
    );
    const byKey = await ssm.send(new DescribeParametersCommand({ ParameterFilters: [{ Key: 'KeyId', Values: [key.KeyId!] }] }));
    assert.deepEqual(
      byKey.Parameters!.map((p) => p.Name),
      [custom],
    );

    await kms.send(new DisableKeyCommand({ KeyId: key.KeyId }));
    const disabled = await failure(get(custom, true));
    assert.equal(disabled.name, 'InvalidKeyId');
    assert.match(disabled.message, /is disabled\. \(Service: AWSKMS; Status Code: 400; Error Code: DisabledException/);
    assert.notEqual((await get(custom)).Value, 'mine-2', 'without decryption the ciphertext is still readable');

    const noKey = await failure(put({ Name: `/${unique('sec')}/x`, Value: 'v', Type: 'SecureString', KeyId: 'alias/does-not-exist' }));
    assert.equal(noKey.name, 'InvalidKeyId');
    assert.match(noKey.message, /Error Code: NotFoundException/);
    const keyOnString = await failure(put({ Name: `/${unique('sec')}/y`, Value: 'v', Type: 'String', KeyId: key.KeyId }));
    assert.equal(keyOnString.name, 'ValidationException');
  });

  test('versions, history and labels: name:2 and name:label selectors, labels move, InvalidLabels, limits', async () => {
    const name = `/${unique('hist')}/v`;
    for (const value of ['one', 'two', 'three']) await put({ Name: name, Value: value, Type: 'String', Overwrite: true });
    assert.equal((await get(name)).Version, 3);
    const two = await get(`${name}:2`);
    assert.deepEqual([two.Name, two.Value, two.Version, two.Selector], [name, 'two', 2, ':2']);

    const l1 = await ssm.send(
      new LabelParameterVersionCommand({ Name: name, ParameterVersion: 1, Labels: ['prod', '1bad', 'awsx', 'ok.l-1_'] }),
    );
    assert.deepEqual(l1.InvalidLabels, ['1bad', 'awsx']);
    assert.equal(l1.ParameterVersion, 1);
    assert.equal((await get(`${name}:prod`)).Value, 'one');
    // without ParameterVersion the label goes on the latest version; it moves off version 1
    const moved = await ssm.send(new LabelParameterVersionCommand({ Name: name, Labels: ['prod'] }));
    assert.equal(moved.ParameterVersion, 3);
    const prod = await get(`${name}:prod`);
    assert.deepEqual([prod.Value, prod.Version, prod.Selector], ['three', 3, ':prod']);

    const history = await ssm.send(new GetParameterHistoryCommand({ Name: name }));
    assert.deepEqual(
      history.Parameters!.map((h) => [h.Version, h.Value, h.Labels]),
      [
        [1, 'one', ['ok.l-1_']],
        [2, 'two', []],
        [3, 'three', ['prod']],
      ],
    );
    assert.equal(history.Parameters![0].LastModifiedUser, 'arn:aws:iam::000000000000:root');

    const noVersion = await failure(get(`${name}:9`));
    assert.deepEqual(
      [noVersion.name, noVersion.message],
      ['ParameterVersionNotFound', `Systems Manager could not find version 9 of ${name}. Verify the version and try again.`],
    );
    assert.equal((await failure(get(`${name}:nolabel`))).name, 'ParameterNotFound');
    assert.equal(
      (await failure(ssm.send(new LabelParameterVersionCommand({ Name: name, ParameterVersion: 7, Labels: ['x'] })))).name,
      'ParameterVersionNotFound',
    );
    assert.equal(
      (await failure(ssm.send(new LabelParameterVersionCommand({ Name: `${name}-missing`, Labels: ['x'] })))).name,
      'ParameterNotFound',
    );
    const ten = Array.from({ length: 9 }, (_, i) => `l${i}`);
    await ssm.send(new LabelParameterVersionCommand({ Name: name, ParameterVersion: 3, Labels: ten }));
    const tooMany = await failure(ssm.send(new LabelParameterVersionCommand({ Name: name, ParameterVersion: 3, Labels: ['eleventh'] })));
    assert.equal(tooMany.name, 'ParameterVersionLabelLimitExceeded');

    const un = await ssm.send(new UnlabelParameterVersionCommand({ Name: name, ParameterVersion: 3, Labels: ['l0', 'ok.l-1_', 'none'] }));
    assert.deepEqual(un.RemovedLabels, ['l0']);
    assert.deepEqual(un.InvalidLabels, ['ok.l-1_', 'none']);

    // GetParameters: selectors, duplicates once, missing names and versions in InvalidParameters
    const many = await ssm.send(new GetParametersCommand({ Names: [`${name}:1`, name, name, `${name}:8`, '/no/such'] }));
    assert.deepEqual(
      many.Parameters!.map((p) => [p.Version, p.Selector]),
      [
        [1, ':1'],
        [3, undefined],
      ],
    );
    assert.deepEqual(many.InvalidParameters, [`${name}:8`, '/no/such']);

    // GetParametersByPath with a Label filter returns the labelled version
    const byLabel = await ssm.send(
      new GetParametersByPathCommand({
        Path: name.slice(0, name.lastIndexOf('/')),
        ParameterFilters: [{ Key: 'Label', Values: ['ok.l-1_', 'l1'] }],
      }),
    );
    assert.deepEqual(
      byLabel.Parameters!.map((p) => [p.Name, p.Version]),
      [[name, 3]],
    );
  });

  test('100 versions: the oldest is dropped, unless it carries a label (ParameterMaxVersionLimitExceeded)', async () => {
    const name = unique('many');
    for (let i = 1; i <= 100; i++) await put({ Name: name, Value: `v${i}`, Type: 'String', Overwrite: true });
    await ssm.send(new LabelParameterVersionCommand({ Name: name, ParameterVersion: 1, Labels: ['keep'] }));
    const refused = await failure(put({ Name: name, Value: 'v101', Overwrite: true }));
    assert.equal(refused.name, 'ParameterMaxVersionLimitExceeded');
    assert.match(refused.message, /Version 1, the oldest version, can't be deleted because it has a label/);
    await ssm.send(new LabelParameterVersionCommand({ Name: name, ParameterVersion: 2, Labels: ['keep'] }));
    assert.equal((await put({ Name: name, Value: 'v101', Overwrite: true })).Version, 101);
    assert.equal((await failure(get(`${name}:1`))).name, 'ParameterVersionNotFound');
    assert.equal((await get(`${name}:keep`)).Version, 2);
    let count = 0;
    let NextToken: string | undefined;
    do {
      const page = await ssm.send(new GetParameterHistoryCommand({ Name: name, MaxResults: 50, NextToken }));
      count += page.Parameters!.length;
      NextToken = page.NextToken;
    } while (NextToken);
    assert.equal(count, 100);
  });

  test('paging: GetParametersByPath, DescribeParameters and GetParameterHistory; the CLI follows NextToken', async () => {
    const root = `/${unique('page')}`;
    for (let i = 0; i < 23; i++) await put({ Name: `${root}/p${String(i).padStart(2, '0')}`, Value: `${i}`, Type: 'String' });
    const seen: string[] = [];
    let NextToken: string | undefined;
    let pages = 0;
    do {
      const page = await ssm.send(new GetParametersByPathCommand({ Path: root, MaxResults: 10, NextToken }));
      seen.push(...page.Parameters!.map((p) => p.Value!));
      NextToken = page.NextToken;
      pages++;
    } while (NextToken);
    assert.equal(pages, 3);
    assert.deepEqual(
      seen,
      Array.from({ length: 23 }, (_, i) => `${i}`),
    );
    const filters: ParameterStringFilter[] = [{ Key: 'Path', Option: 'OneLevel', Values: [root] }];
    const first = await ssm.send(new DescribeParametersCommand({ ParameterFilters: filters, MaxResults: 20 }));
    assert.equal(first.Parameters!.length, 20);
    const second = await ssm.send(new DescribeParametersCommand({ ParameterFilters: filters, MaxResults: 20, NextToken: first.NextToken }));
    assert.equal(second.Parameters!.length, 3);
    assert.equal(second.NextToken, undefined);
    const cliAll = await cli(['get-parameters-by-path', '--path', root, '--page-size', '4']);
    assert.equal(cliAll.Parameters.length, 23);
    const cliDescribe = await cli([
      'describe-parameters',
      '--parameter-filters',
      `Key=Path,Option=Recursive,Values=${root}`,
      '--page-size',
      '7',
    ]);
    assert.equal(cliDescribe.Parameters.length, 23);

    const name = `${root}/p00`;
    for (let i = 0; i < 4; i++) await put({ Name: name, Value: `x${i}`, Overwrite: true });
    const h1 = await ssm.send(new GetParameterHistoryCommand({ Name: name, MaxResults: 2 }));
    const h2 = await ssm.send(new GetParameterHistoryCommand({ Name: name, MaxResults: 2, NextToken: h1.NextToken }));
    const h3 = await ssm.send(new GetParameterHistoryCommand({ Name: name, MaxResults: 2, NextToken: h2.NextToken }));
    assert.deepEqual(
      [...h1.Parameters!, ...h2.Parameters!, ...h3.Parameters!].map((h) => h.Version),
      [1, 2, 3, 4, 5],
    );
    assert.equal(h3.NextToken, undefined);

    const bad = await failure(ssm.send(new GetParametersByPathCommand({ Path: root, NextToken: 'garbage!' })));
    assert.equal(bad.name, 'InvalidNextToken');
    const tooBig = await failure(ssm.send(new GetParametersByPathCommand({ Path: root, MaxResults: 11 })));
    assert.equal(tooBig.name, 'ValidationException');
    const describeTooBig = await failure(ssm.send(new DescribeParametersCommand({ MaxResults: 51 })));
    assert.equal(describeTooBig.name, 'ValidationException');
  });

  test('DescribeParameters filters: Name, Type, Tier, DataType, tag:, Path; bad filters answered as AWS', async () => {
    const root = `/${unique('filt')}`;
    await put({ Name: `${root}/a/one`, Value: '1', Type: 'String', Tags: [{ Key: 'team', Value: 'blue' }], Description: 'first' });
    await put({ Name: `${root}/a/two`, Value: '2', Type: 'StringList', Tier: 'Advanced' });
    await put({ Name: `${root}/b/three`, Value: 'ami-0123456789abcdef0', Type: 'String', DataType: 'aws:ec2:image' });
    const names = async (ParameterFilters: ParameterStringFilter[]) =>
      (await ssm.send(new DescribeParametersCommand({ ParameterFilters, MaxResults: 50 }))).Parameters!.map((p) =>
        p.Name!.slice(root.length),
      );
    const under: ParameterStringFilter = { Key: 'Path', Option: 'Recursive', Values: [root] };
    assert.deepEqual(await names([under]), ['/a/one', '/a/two', '/b/three']);
    assert.deepEqual(await names([{ Key: 'Path', Values: [`${root}/a`] }]), ['/a/one', '/a/two']);
    assert.deepEqual(await names([{ Key: 'Path', Values: [root] }]), []);
    assert.deepEqual(await names([under, { Key: 'Type', Values: ['StringList'] }]), ['/a/two']);
    assert.deepEqual(await names([under, { Key: 'Tier', Values: ['Advanced'] }]), ['/a/two']);
    assert.deepEqual(await names([under, { Key: 'DataType', Values: ['aws:ec2:image'] }]), ['/b/three']);
    assert.deepEqual(await names([under, { Key: 'tag:team', Values: ['blue'] }]), ['/a/one']);
    assert.deepEqual(await names([under, { Key: 'tag:team' }]), ['/a/one']);
    assert.deepEqual(await names([{ Key: 'Name', Option: 'BeginsWith', Values: [`${root}/a/`] }]), ['/a/one', '/a/two']);
    assert.deepEqual(await names([under, { Key: 'Name', Option: 'Contains', Values: ['thr'] }]), ['/b/three']);
    assert.deepEqual(await names([{ Key: 'Name', Values: [`${root}/a/one`] }]), ['/a/one']);
    const legacy = await ssm.send(new DescribeParametersCommand({ Filters: [{ Key: 'Name', Values: [`${root}/b`] }] }));
    assert.deepEqual(
      legacy.Parameters!.map((p) => p.Name),
      [`${root}/b/three`],
    );
    const meta = (await ssm.send(new DescribeParametersCommand({ ParameterFilters: [{ Key: 'Name', Values: [`${root}/a/one`] }] })))
      .Parameters![0];
    assert.equal(meta.Description, 'first');
    assert.equal(meta.ARN, `arn:aws:ssm:us-east-1:000000000000:parameter${root}/a/one`);

    const label = await failure(ssm.send(new DescribeParametersCommand({ ParameterFilters: [{ Key: 'Label', Values: ['x'] }] })));
    assert.equal(label.name, 'InvalidFilterKey');
    const option = await failure(
      ssm.send(new DescribeParametersCommand({ ParameterFilters: [{ Key: 'Type', Option: 'Contains', Values: ['String'] }] })),
    );
    assert.deepEqual(
      [option.name, option.message],
      ['InvalidFilterOption', 'The following filter option is not valid: Contains. Valid options include: [BeginsWith, Equals].'],
    );
    const typeValue = await failure(ssm.send(new DescribeParametersCommand({ ParameterFilters: [{ Key: 'Type', Values: ['Nope'] }] })));
    assert.equal(typeValue.name, 'InvalidFilterOption');
    const both = await failure(
      ssm.send(
        new DescribeParametersCommand({ Filters: [{ Key: 'Name', Values: ['x'] }], ParameterFilters: [{ Key: 'Name', Values: ['x'] }] }),
      ),
    );
    assert.equal(both.name, 'ValidationException');
    const pathTier = await failure(
      ssm.send(new GetParametersByPathCommand({ Path: root, ParameterFilters: [{ Key: 'Tier', Values: ['Standard'] }] })),
    );
    assert.equal(pathTier.name, 'InvalidFilterKey');
    const badPath = await failure(ssm.send(new GetParametersByPathCommand({ Path: 'no-slash' })));
    assert.equal(badPath.name, 'ValidationException');
  });

  test('PutParameter errors: names, overwrite, patterns, tags with overwrite, tiers and sizes, policies', async () => {
    const name = `/${unique('err')}/p`;
    await put({ Name: name, Value: 'v', Type: 'String' });
    const dup = await failure(put({ Name: name, Value: 'w', Type: 'String' }));
    assert.deepEqual(
      [dup.name, dup.message],
      ['ParameterAlreadyExists', 'The parameter already exists. To overwrite this value, set the overwrite option in the request to true.'],
    );
    const cases: [string, string][] = [
      ['awsome', 'ValidationException'],
      ['SSM-thing', 'ValidationException'],
      ['/ssm/x/y', 'ValidationException'],
      ['/aws/x/y', 'AccessDeniedException'],
      ['a/b', 'ValidationException'],
      ['/has space/x', 'ValidationException'],
      ['/double//slash', 'ValidationException'],
      [`/${Array.from({ length: 16 }, (_, i) => `l${i}`).join('/')}`, 'HierarchyLevelLimitExceededException'],
    ];
    for (const [bad, code] of cases) assert.equal((await failure(put({ Name: bad, Value: 'v', Type: 'String' }))).name, code, bad);
    assert.equal(
      (await put({ Name: `/${Array.from({ length: 15 }, (_, i) => `l${i}`).join('/')}`, Value: 'v', Type: 'String' })).Version,
      1,
    );
    const reserved = await failure(put({ Name: 'awsome', Value: 'v', Type: 'String' }));
    assert.equal(reserved.message, 'Parameter name: can\'t be prefixed with "aws" or "ssm" (case-insensitive).');

    const noType = await failure(put({ Name: `/${unique('err')}/t`, Value: 'v' }));
    assert.deepEqual([noType.name, noType.message], ['ValidationException', 'A parameter type is required when you create a parameter.']);
    const badType = await failure(put({ Name: `/${unique('err')}/t`, Value: 'v', Type: 'Number' as 'String' }));
    assert.equal(badType.name, 'ValidationException');

    const patterned = `/${unique('err')}/port`;
    await put({ Name: patterned, Value: '8080', Type: 'String', AllowedPattern: '^\\d+$' });
    const mismatch = await failure(put({ Name: patterned, Value: 'http', Overwrite: true }));
    assert.deepEqual(
      [mismatch.name, mismatch.message],
      ['ParameterPatternMismatchException', 'Parameter value, cannot be validated against allowedPattern: ^\\d+$'],
    );
    assert.equal((await put({ Name: patterned, Value: '9090', Overwrite: true })).Version, 2, 'the pattern stays on overwrite');

    const tagsOverwrite = await failure(put({ Name: name, Value: 'x', Overwrite: true, Tags: [{ Key: 'a', Value: 'b' }] }));
    assert.equal(tagsOverwrite.name, 'ValidationException');
    assert.match(tagsOverwrite.message, /tags and overwrite can't be used together/);

    const big = 'x'.repeat(4097);
    const standard = await failure(put({ Name: `/${unique('err')}/big`, Value: big, Type: 'String' }));
    assert.equal(standard.name, 'ValidationException');
    assert.match(standard.message, /^Standard tier parameters support a maximum parameter value of 4096 characters/);
    const bigName = `/${unique('err')}/big`;
    const intelligent = await put({ Name: bigName, Value: big, Type: 'String', Tier: 'Intelligent-Tiering' });
    assert.deepEqual([intelligent.Version, intelligent.Tier], [1, 'Advanced']);
    assert.equal((await put({ Name: `${bigName}2`, Value: 'small', Type: 'String', Tier: 'Intelligent-Tiering' })).Tier, 'Standard');
    assert.equal((await failure(put({ Name: bigName, Value: 'x'.repeat(8193), Overwrite: true }))).name, 'ValidationException');
    const downgrade = await failure(put({ Name: bigName, Value: 'small', Overwrite: true, Tier: 'Standard' }));
    assert.match(downgrade.message, /can't downgrade a parameter from the advanced-parameter tier/);
    assert.equal(
      (await ssm.send(new DescribeParametersCommand({ ParameterFilters: [{ Key: 'Name', Values: [`${bigName}2`] }] }))).Parameters![0].Tier,
      'Standard',
    );

    // an 8 KB SecureString (advanced: envelope encryption) round-trips
    const secret = `/${unique('err')}/big-secret`;
    const value = 'é'.repeat(4000);
    assert.equal((await put({ Name: secret, Value: value, Type: 'SecureString', Tier: 'Advanced' })).Tier, 'Advanced');
    assert.equal((await get(secret, true)).Value, value);

    const policies = JSON.stringify([
      { Type: 'Expiration', Version: '1.0', Attributes: { Timestamp: '2030-12-02T21:34:33.000Z' } },
      { Type: 'NoChangeNotification', Version: '1.0', Attributes: { After: '20', Unit: 'Days' } },
    ]);
    const withPolicies = `/${unique('err')}/policy`;
    assert.equal(
      (await put({ Name: withPolicies, Value: 'v', Type: 'String', Policies: policies, Tier: 'Intelligent-Tiering' })).Tier,
      'Advanced',
    );
    const described = (await ssm.send(new DescribeParametersCommand({ ParameterFilters: [{ Key: 'Name', Values: [withPolicies] }] })))
      .Parameters![0];
    assert.deepEqual(
      described.Policies!.map((p) => [p.PolicyType, p.PolicyStatus, JSON.parse(p.PolicyText!).Attributes]),
      [
        ['Expiration', 'Pending', { Timestamp: '2030-12-02T21:34:33.000Z' }],
        ['NoChangeNotification', 'Pending', { After: '20', Unit: 'Days' }],
      ],
    );
    const standardPolicy = await failure(
      put({ Name: `/${unique('err')}/sp`, Value: 'v', Type: 'String', Policies: policies, Tier: 'Standard' }),
    );
    assert.equal(standardPolicy.name, 'ValidationException');
    const badPolicy = await failure(
      put({
        Name: `/${unique('err')}/bp`,
        Value: 'v',
        Type: 'String',
        Tier: 'Advanced',
        Policies: '[{"Type":"Explode","Version":"1.0","Attributes":{}}]',
      }),
    );
    assert.equal(badPolicy.name, 'InvalidPolicyTypeException');

    const notFound = await failure(ssm.send(new DeleteParameterCommand({ Name: `/${unique('err')}/gone` })));
    assert.equal(notFound.name, 'ParameterNotFound');
    assert.equal((await failure(ssm.send(new GetParameterHistoryCommand({ Name: '/nope/nope' })))).name, 'ParameterNotFound');
  });

  test('names as ARNs, single-level names with and without the slash, DeleteParameter(s)', async () => {
    const flat = unique('flat');
    await put({ Name: flat, Value: 'v', Type: 'String' });
    const arn = `arn:aws:ssm:us-east-1:000000000000:parameter/${flat}`;
    assert.equal((await get(flat)).ARN, arn);
    assert.equal((await get(`/${flat}`)).Value, 'v');
    assert.equal((await get(arn)).Name, flat);
    const nested = `/${unique('arn')}/x`;
    await put({ Name: `arn:aws:ssm:us-east-1:000000000000:parameter${nested}`, Value: 'by-arn', Type: 'String' });
    assert.equal((await get(nested)).Value, 'by-arn');
    assert.equal((await failure(get(`arn:aws:ssm:us-east-1:111111111111:parameter${nested}`))).name, 'ParameterNotFound');

    const del = await ssm.send(new DeleteParametersCommand({ Names: [flat, nested, '/never/was'] }));
    assert.deepEqual(del.DeletedParameters, [flat, nested]);
    assert.deepEqual(del.InvalidParameters, ['/never/was']);
    assert.equal((await failure(get(flat))).name, 'ParameterNotFound');
    // a deleted parameter made again starts at version 1 with no tags
    await put({ Name: flat, Value: 'again', Type: 'String' });
    assert.equal((await get(flat)).Version, 1);
    await ssm.send(new DeleteParameterCommand({ Name: flat }));
  });

  test('tags: AddTagsToResource, ListTagsForResource, RemoveTagsFromResource; unknown ids and too many tags', async () => {
    const name = `/${unique('tags')}/p`;
    await put({ Name: name, Value: 'v', Type: 'String', Tags: [{ Key: 'env', Value: 'dev' }] });
    await ssm.send(
      new AddTagsToResourceCommand({
        ResourceType: 'Parameter',
        ResourceId: name,
        Tags: [
          { Key: 'team', Value: 'ops' },
          { Key: 'env', Value: 'prod' },
        ],
      }),
    );
    const listed = await ssm.send(new ListTagsForResourceCommand({ ResourceType: 'Parameter', ResourceId: name }));
    assert.deepEqual(listed.TagList, [
      { Key: 'env', Value: 'prod' },
      { Key: 'team', Value: 'ops' },
    ]);
    await ssm.send(new RemoveTagsFromResourceCommand({ ResourceType: 'Parameter', ResourceId: name, TagKeys: ['env'] }));
    assert.deepEqual((await ssm.send(new ListTagsForResourceCommand({ ResourceType: 'Parameter', ResourceId: name }))).TagList, [
      { Key: 'team', Value: 'ops' },
    ]);
    const missing = await failure(ssm.send(new ListTagsForResourceCommand({ ResourceType: 'Parameter', ResourceId: '/no/such' })));
    assert.equal(missing.name, 'InvalidResourceId');
    const otherType = await failure(ssm.send(new ListTagsForResourceCommand({ ResourceType: 'Document', ResourceId: 'doc' })));
    assert.equal(otherType.name, 'InvalidResourceId');
    const badType = await failure(ssm.send(new ListTagsForResourceCommand({ ResourceType: 'Bucket' as 'Parameter', ResourceId: name })));
    assert.equal(badType.name, 'ValidationException');
    const tooMany = await failure(
      ssm.send(
        new AddTagsToResourceCommand({
          ResourceType: 'Parameter',
          ResourceId: name,
          Tags: Array.from({ length: 50 }, (_, i) => ({ Key: `k${i}`, Value: 'v' })),
        }),
      ),
    );
    assert.equal(tooMany.name, 'TooManyTagsError');
    const cliTags = await cli(['list-tags-for-resource', '--resource-type', 'Parameter', '--resource-id', name]);
    assert.deepEqual(cliTags.TagList, [{ Key: 'team', Value: 'ops' }]);
  });

  test('public parameters: the global-infrastructure region list, offline', async () => {
    const path = '/aws/service/global-infrastructure/regions';
    const regions: string[] = [];
    let NextToken: string | undefined;
    do {
      const page = await ssm.send(new GetParametersByPathCommand({ Path: path, NextToken }));
      for (const p of page.Parameters!) {
        assert.equal(p.Name, `${path}/${p.Value}`);
        regions.push(p.Value!);
      }
      NextToken = page.NextToken;
    } while (NextToken);
    for (const r of ['us-east-1', 'eu-west-1', 'ap-southeast-2', 'sa-east-1']) assert.ok(regions.includes(r), r);
    assert.ok(!regions.some((r) => r.startsWith('cn-') || r.startsWith('us-gov-')), 'commercial regions only');
    const one = await get(`${path}/eu-central-1`);
    assert.deepEqual([one.Value, one.Type, one.ARN], ['eu-central-1', 'String', `arn:aws:ssm:us-east-1::parameter${path}/eu-central-1`]);
    assert.equal((await failure(get(`${path}/xx-nowhere-1`))).name, 'ParameterNotFound');
    const cliRegions = await cli(['get-parameters-by-path', '--path', path, '--query', 'Parameters[].Value']);
    assert.equal(cliRegions.length, regions.length);
  });

  test('every change publishes "Parameter Store Change", which an EventBridge rule routes (to SNS over http here)', async () => {
    const ep = await httpEndpoint();
    const sns = new SNSClient(clientConfig(box.url));
    const events = new EventBridgeClient(clientConfig(box.url));
    try {
      const topicArn = (await sns.send(new CreateTopicCommand({ Name: unique('ssm-events') }))).TopicArn!;
      await sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'http', Endpoint: ep.url }));
      await until(() => ep.of('SubscriptionConfirmation').length === 1);
      await sns.send(
        new ConfirmSubscriptionCommand({ TopicArn: topicArn, Token: JSON.parse(ep.of('SubscriptionConfirmation')[0].body).Token }),
      );
      const root = `/${unique('evt')}`;
      const rule = unique('ssm-rule');
      await events.send(
        new PutRuleCommand({
          Name: rule,
          EventPattern: JSON.stringify({
            source: ['aws.ssm'],
            'detail-type': ['Parameter Store Change'],
            detail: { name: [{ prefix: root }] },
          }),
        }),
      );
      await events.send(new PutTargetsCommand({ Rule: rule, Targets: [{ Id: 'topic', Arn: topicArn }] }));

      const name = `${root}/flag`;
      await put({ Name: name, Value: 'on', Type: 'String', Description: 'a flag' });
      await put({ Name: name, Value: 'off', Overwrite: true });
      await ssm.send(new LabelParameterVersionCommand({ Name: name, Labels: ['live'] }));
      await ssm.send(new DeleteParameterCommand({ Name: name }));
      await until(() => ep.of('Notification').length === 4);
      const received = ep.of('Notification').map((n) => JSON.parse(JSON.parse(n.body).Message));
      assert.deepEqual(
        received.map((e) => [e.source, e['detail-type'], e.detail.operation, e.detail.name, e.detail.type]),
        ['Create', 'Update', 'LabelParameterVersion', 'Delete'].map((op) => ['aws.ssm', 'Parameter Store Change', op, name, 'String']),
      );
      assert.equal(received[0].detail.description, 'a flag');
      assert.deepEqual(received[0].resources, [`arn:aws:ssm:us-east-1:000000000000:parameter${name}`]);
    } finally {
      sns.destroy();
      events.destroy();
      await ep.close();
    }
  });

  test('parameters, versions, labels, tags and SecureStrings survive kill -9', async () => {
    const name = `/${unique('durable')}/secret`;
    await put({ Name: name, Value: 'first', Type: 'SecureString', Tags: [{ Key: 'keep', Value: 'me' }] });
    await put({ Name: name, Value: 'second', Overwrite: true });
    await ssm.send(new LabelParameterVersionCommand({ Name: name, ParameterVersion: 1, Labels: ['old'] }));
    await box.kill9();
    box = await startOpsbox({ dataDir: box.dataDir });
    ssm.destroy();
    kms.destroy();
    ssm = new SSMClient(clientConfig(box.url));
    kms = new KMSClient(clientConfig(box.url));
    assert.equal((await get(name, true)).Value, 'second');
    assert.equal((await get(`${name}:old`, true)).Value, 'first');
    assert.deepEqual((await ssm.send(new ListTagsForResourceCommand({ ResourceType: 'Parameter', ResourceId: name }))).TagList, [
      { Key: 'keep', Value: 'me' },
    ]);
    assert.equal((await put({ Name: name, Value: 'third', Overwrite: true })).Version, 3);
  });
});
