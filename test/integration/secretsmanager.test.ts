/**
 * Secrets Manager against a real opsbox process with SDK v3 and the aws CLI: the walkthrough, a
 * rotation done by hand with staging labels, idempotent retries, binary secrets, KMS keys, filters
 * and paging, the deletion window, random passwords, AWS's errors, and kill -9.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { randomUUID } from 'node:crypto';
import {
  BatchGetSecretValueCommand,
  CancelRotateSecretCommand,
  CreateSecretCommand,
  DeleteResourcePolicyCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetRandomPasswordCommand,
  GetResourcePolicyCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  ListSecretVersionIdsCommand,
  PutResourcePolicyCommand,
  PutSecretValueCommand,
  RestoreSecretCommand,
  RotateSecretCommand,
  SecretsManagerClient,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateSecretCommand,
  UpdateSecretVersionStageCommand,
  ValidateResourcePolicyCommand,
} from '@aws-sdk/client-secrets-manager';
import { CreateKeyCommand, DisableKeyCommand, EnableKeyCommand, KMSClient, ListAliasesCommand } from '@aws-sdk/client-kms';
import { awsCli, clientConfig, failure, startOpsbox, unique, type RunningOpsbox } from '../helpers/opsbox.js';

const DAY = 86_400_000;
const ARN = /^arn:aws:secretsmanager:us-east-1:000000000000:secret:(.+)-[A-Za-z0-9]{6}$/;

describe('secretsmanager', () => {
  let box: RunningOpsbox;
  let sm: SecretsManagerClient;
  let kms: KMSClient;
  const dirs: string[] = [];
  before(async () => {
    box = await startOpsbox();
    sm = new SecretsManagerClient(clientConfig(box.url));
    kms = new KMSClient(clientConfig(box.url));
  });
  after(async () => {
    sm?.destroy();
    kms?.destroy();
    await box?.dispose();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  const cli = async (args: string[]) => {
    const r = await awsCli(box.url, ['secretsmanager', ...args]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout ? JSON.parse(r.stdout) : undefined;
  };
  const create = (input: ConstructorParameters<typeof CreateSecretCommand>[0]) => sm.send(new CreateSecretCommand(input));
  const value = (SecretId: string, extra: { VersionId?: string; VersionStage?: string } = {}) =>
    sm.send(new GetSecretValueCommand({ SecretId, ...extra }));
  const stagesOf = async (SecretId: string) => (await sm.send(new DescribeSecretCommand({ SecretId }))).VersionIdsToStages ?? {};

  test('walkthrough with the aws CLI: create, get-secret-value --version-stage AWSCURRENT, describe; name, ARN and partial ARN', async () => {
    const name = `shop/${unique('api-key')}`;
    const created = await cli(['create-secret', '--name', name, '--secret-string', '{"key":"abc"}', '--description', 'the shop key']);
    assert.equal(created.Name, name);
    assert.equal(ARN.exec(created.ARN)?.[1], name);
    const got = await cli(['get-secret-value', '--secret-id', name, '--version-stage', 'AWSCURRENT']);
    assert.equal(got.SecretString, '{"key":"abc"}');
    assert.equal(got.VersionId, created.VersionId);
    assert.deepEqual(got.VersionStages, ['AWSCURRENT']);
    assert.equal(got.ARN, created.ARN);

    const described = await cli(['describe-secret', '--secret-id', created.ARN]);
    assert.equal(described.Description, 'the shop key');
    assert.deepEqual(described.VersionIdsToStages, { [created.VersionId]: ['AWSCURRENT'] });
    assert.equal(described.KmsKeyId, undefined, 'the AWS managed key is not shown');
    assert.equal(described.RotationEnabled, undefined, 'never configured for rotation');
    assert.ok(described.CreatedDate && described.LastChangedDate && described.LastAccessedDate);

    // the partial ARN (without the random suffix) names it too; another account's ARN does not
    const partial = created.ARN.slice(0, -7);
    assert.equal((await value(partial)).SecretString, '{"key":"abc"}');
    const foreign = await failure(value(created.ARN.replace('000000000000', '111111111111')));
    assert.equal(foreign.name, 'ResourceNotFoundException');

    // the value is sealed under the AWS managed key, made on first use
    const aliases = (await kms.send(new ListAliasesCommand({}))).Aliases!.map((a) => a.AliasName);
    assert.ok(aliases.includes('alias/aws/secretsmanager'));
  });

  test('a rotation by hand: AWSPENDING, then AWSCURRENT moves and the old version becomes AWSPREVIOUS', async () => {
    const name = unique('db-password');
    const v1 = (await create({ Name: name, SecretString: 'one' })).VersionId!;
    const token = randomUUID();
    const put = await sm.send(
      new PutSecretValueCommand({ SecretId: name, SecretString: 'two', ClientRequestToken: token, VersionStages: ['AWSPENDING'] }),
    );
    assert.equal(put.VersionId, token);
    assert.deepEqual(put.VersionStages, ['AWSPENDING']);
    assert.equal((await value(name)).SecretString, 'one', 'AWSCURRENT has not moved');
    assert.equal((await value(name, { VersionStage: 'AWSPENDING' })).SecretString, 'two');

    // AWSCURRENT is attached elsewhere: RemoveFromVersionId is required, and must name its holder
    const missing = await failure(
      sm.send(new UpdateSecretVersionStageCommand({ SecretId: name, VersionStage: 'AWSCURRENT', MoveToVersionId: token })),
    );
    assert.equal(missing.name, 'InvalidParameterException');
    assert.equal(
      missing.message,
      `The parameter RemoveFromVersionId can't be empty. Staging label AWSCURRENT is currently attached to version ${v1}, so you must explicitly reference that version in RemoveFromVersionId.`,
    );
    const wrong = await failure(
      sm.send(
        new UpdateSecretVersionStageCommand({
          SecretId: name,
          VersionStage: 'AWSCURRENT',
          MoveToVersionId: token,
          RemoveFromVersionId: token,
        }),
      ),
    );
    assert.equal(wrong.name, 'InvalidParameterException');

    await sm.send(
      new UpdateSecretVersionStageCommand({ SecretId: name, VersionStage: 'AWSCURRENT', MoveToVersionId: token, RemoveFromVersionId: v1 }),
    );
    assert.deepEqual(await stagesOf(name), { [v1]: ['AWSPREVIOUS'], [token]: ['AWSPENDING', 'AWSCURRENT'] });
    assert.equal((await value(name)).SecretString, 'two');
    assert.equal((await value(name, { VersionStage: 'AWSPREVIOUS' })).SecretString, 'one');

    // finishing: AWSPENDING comes off; a plain PutSecretValue then moves AWSCURRENT again
    await sm.send(new UpdateSecretVersionStageCommand({ SecretId: name, VersionStage: 'AWSPENDING', RemoveFromVersionId: token }));
    const v3 = (await sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: 'three' }))).VersionId!;
    assert.deepEqual(await stagesOf(name), { [token]: ['AWSPREVIOUS'], [v3]: ['AWSCURRENT'] });

    // v1 has no label left: deprecated, listed only on request
    const listed = (await sm.send(new ListSecretVersionIdsCommand({ SecretId: name }))).Versions!;
    assert.deepEqual(
      listed.map((v) => v.VersionId),
      [v3, token],
    );
    assert.deepEqual(listed[0].KmsKeyIds, ['DefaultEncryptionKey']);
    const all = (await sm.send(new ListSecretVersionIdsCommand({ SecretId: name, IncludeDeprecated: true }))).Versions!;
    assert.deepEqual(
      all.map((v) => [v.VersionId, v.VersionStages]),
      [
        [v3, ['AWSCURRENT']],
        [token, ['AWSPREVIOUS']],
        [v1, undefined],
      ],
    );
    // a deprecated version still answers by id; one page at a time with NextToken
    assert.equal((await value(name, { VersionId: v1 })).SecretString, 'one');
    const page = await sm.send(new ListSecretVersionIdsCommand({ SecretId: name, IncludeDeprecated: true, MaxResults: 2 }));
    assert.equal(page.Versions!.length, 2);
    const rest = await sm.send(new ListSecretVersionIdsCommand({ SecretId: name, IncludeDeprecated: true, NextToken: page.NextToken }));
    assert.deepEqual(
      rest.Versions!.map((v) => v.VersionId),
      [v1],
    );

    // VersionId and VersionStage must agree
    const mismatch = await failure(value(name, { VersionId: v3, VersionStage: 'AWSPREVIOUS' }));
    assert.equal(mismatch.name, 'InvalidRequestException');
    assert.equal(mismatch.message, 'You provided a VersionStage that is not associated to the provided VersionId.');
  });

  test('ClientRequestToken: the same token and value answer again; the same token with another value is refused', async () => {
    const name = unique('idem');
    const token = randomUUID();
    const first = await create({ Name: name, SecretString: 's', ClientRequestToken: token });
    const again = await create({ Name: name, SecretString: 's', ClientRequestToken: token });
    assert.deepEqual([again.ARN, again.VersionId], [first.ARN, token]);
    const other = await failure(create({ Name: name, SecretString: 'different', ClientRequestToken: token }));
    assert.equal(other.name, 'ResourceExistsException');
    assert.equal(
      other.message,
      `You can't use ClientRequestToken ${token} because that value is already in use for a version of secret ${first.ARN}.`,
    );
    const exists = await failure(create({ Name: name, SecretString: 's' }));
    assert.equal(exists.name, 'ResourceExistsException');
    assert.equal(exists.message, `The operation failed because the secret ${name} already exists.`);

    const t2 = randomUUID();
    const p1 = await sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: 'v2', ClientRequestToken: t2 }));
    const p2 = await sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: 'v2', ClientRequestToken: t2 }));
    assert.deepEqual(p2, { ...p1, $metadata: p2.$metadata });
    assert.deepEqual(p2.VersionStages, ['AWSCURRENT']);
    assert.equal(Object.keys(await stagesOf(name)).length, 2, 'the retry made no version');
    const changed = await failure(sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: 'v3', ClientRequestToken: t2 })));
    assert.equal(changed.name, 'ResourceExistsException');
  });

  test('binary secrets with the SDK and with fileb:// in the CLI', async () => {
    const bytes = Buffer.from([0, 1, 2, 250, 255, 10, 13]);
    const name = unique('bin');
    await create({ Name: name, SecretBinary: bytes });
    const got = await value(name);
    assert.equal(got.SecretString, undefined);
    assert.deepEqual(Buffer.from(got.SecretBinary!), bytes);

    const dir = mkdtempSync(join(tmpdir(), 'sm-cli-'));
    dirs.push(dir);
    const big = Buffer.alloc(60_000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) % 256;
    writeFileSync(join(dir, 'blob.bin'), big);
    const cliName = unique('bin-cli');
    await cli(['create-secret', '--name', cliName, '--secret-binary', `fileb://${join(dir, 'blob.bin')}`]);
    const out = await cli(['get-secret-value', '--secret-id', cliName]);
    assert.deepEqual(Buffer.from(out.SecretBinary, 'base64'), big, 'a value beyond the 4 KiB KMS Encrypt limit round-trips');
    const raw = await awsCli(box.url, [
      'secretsmanager',
      'get-secret-value',
      '--secret-id',
      cliName,
      '--query',
      'SecretBinary',
      '--output',
      'text',
    ]);
    writeFileSync(join(dir, 'out.b64'), raw.stdout.trim());
    assert.deepEqual(Buffer.from(readFileSync(join(dir, 'out.b64'), 'utf8'), 'base64'), big);
  });

  test('UpdateSecret: description, a new value, a customer KMS key; a disabled key refuses to decrypt', async () => {
    const name = unique('upd');
    const v1 = (await create({ Name: name, SecretString: 'a' })).VersionId!;
    const desc = await sm.send(new UpdateSecretCommand({ SecretId: name, Description: 'only metadata' }));
    assert.equal(desc.VersionId, undefined);
    const v2 = (await sm.send(new UpdateSecretCommand({ SecretId: name, SecretString: 'b' }))).VersionId!;
    assert.deepEqual(await stagesOf(name), { [v1]: ['AWSPREVIOUS'], [v2]: ['AWSCURRENT'] });

    const key = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    await sm.send(new UpdateSecretCommand({ SecretId: name, KmsKeyId: key.Arn }));
    const d = await sm.send(new DescribeSecretCommand({ SecretId: name }));
    assert.equal(d.KmsKeyId, key.Arn);
    assert.equal(d.Description, 'only metadata');
    const versions = (await sm.send(new ListSecretVersionIdsCommand({ SecretId: name }))).Versions!;
    assert.deepEqual(
      versions.map((v) => v.KmsKeyIds),
      [[key.Arn], [key.Arn]],
      'the labelled versions are re-encrypted under the new key',
    );
    assert.equal((await value(name)).SecretString, 'b');
    assert.equal((await value(name, { VersionStage: 'AWSPREVIOUS' })).SecretString, 'a');

    await kms.send(new DisableKeyCommand({ KeyId: key.KeyId }));
    const disabled = await failure(value(name));
    assert.equal(disabled.name, 'DecryptionFailure');
    const cantEncrypt = await failure(sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: 'c' })));
    assert.equal(cantEncrypt.name, 'EncryptionFailure');
    await kms.send(new EnableKeyCommand({ KeyId: key.KeyId }));
    assert.equal((await value(name)).SecretString, 'b');

    const badKey = await failure(create({ Name: unique('badkey'), SecretString: 'x', KmsKeyId: 'alias/does-not-exist' }));
    assert.equal(badKey.name, 'EncryptionFailure');
  });

  test('ListSecrets: filters (prefix, negation, tags, description, all), sort order, paging; the CLI pages too', async () => {
    const p = unique('flt');
    const names = [`${p}/prod/MyDatabase`, `${p}/prod/cache`, `${p}/dev/MyDatabase`];
    await create({ Name: names[0], SecretString: 'x', Description: 'Production database', Tags: [{ Key: 'env', Value: 'prod' }] });
    await create({
      Name: names[1],
      SecretString: 'x',
      Tags: [
        { Key: 'env', Value: 'prod' },
        { Key: 'team', Value: 'web' },
      ],
    });
    await create({ Name: names[2], SecretString: 'x', Description: 'dev database', Tags: [{ Key: 'env', Value: 'dev' }] });
    const list = async (Filters: { Key: any; Values: string[] }[], extra: object = {}) =>
      ((await sm.send(new ListSecretsCommand({ Filters: [{ Key: 'name', Values: [p] }, ...Filters], ...extra }))).SecretList ?? []).map(
        (s) => s.Name,
      );

    assert.deepEqual(await list([]), names);
    assert.deepEqual(await list([{ Key: 'name', Values: [`${p}/prod`] }]), names.slice(0, 2));
    assert.deepEqual(await list([{ Key: 'name', Values: [`!${p}/prod`] }]), [names[2]]);
    assert.deepEqual(await list([{ Key: 'name', Values: [`${p}/PROD`] }]), [], 'name is case-sensitive');
    assert.deepEqual(await list([{ Key: 'tag-key', Values: ['te'] }]), [names[1]]);
    assert.deepEqual(await list([{ Key: 'tag-value', Values: ['prod'] }]), names.slice(0, 2));
    assert.deepEqual(await list([{ Key: 'tag-value', Values: ['!prod'] }]), [names[2]]);
    assert.deepEqual(await list([{ Key: 'description', Values: ['production'] }]), [names[0]], 'description ignores case');
    assert.deepEqual(await list([{ Key: 'all', Values: ['database'] }]), [names[0], names[2]]);
    assert.deepEqual(await list([{ Key: 'all', Values: ['web'] }]), [names[1]]);
    assert.deepEqual(await list([], { SortOrder: 'desc' }), [...names].reverse());
    assert.deepEqual(await list([], { SortBy: 'name' }), [...names].sort());

    const first = await sm.send(new ListSecretsCommand({ Filters: [{ Key: 'name', Values: [p] }], MaxResults: 2 }));
    assert.equal(first.SecretList!.length, 2);
    assert.ok(first.NextToken);
    const second = await sm.send(
      new ListSecretsCommand({ Filters: [{ Key: 'name', Values: [p] }], MaxResults: 2, NextToken: first.NextToken }),
    );
    assert.deepEqual(
      second.SecretList!.map((s) => s.Name),
      [names[2]],
    );
    assert.equal(second.NextToken, undefined);
    const entry = first.SecretList![1];
    assert.deepEqual(entry.Tags, [
      { Key: 'env', Value: 'prod' },
      { Key: 'team', Value: 'web' },
    ]);
    assert.ok(entry.SecretVersionsToStages);

    const bad = await failure(sm.send(new ListSecretsCommand({ NextToken: 'nonsense' })));
    assert.equal(bad.name, 'InvalidNextTokenException');
    const tooMany = await failure(sm.send(new ListSecretsCommand({ MaxResults: 101 })));
    assert.equal(tooMany.name, 'ValidationException');

    const paged = await cli(['list-secrets', '--filters', `Key=name,Values=${p}`, '--page-size', '1']);
    assert.deepEqual(
      paged.SecretList.map((s: { Name: string }) => s.Name),
      names,
    );

    const batch = await sm.send(new BatchGetSecretValueCommand({ Filters: [{ Key: 'name', Values: [`${p}/prod`] }] }));
    assert.deepEqual(
      batch.SecretValues!.map((v) => [v.Name, v.SecretString]),
      [
        [names[0], 'x'],
        [names[1], 'x'],
      ],
    );
  });

  test('deletion: a recovery window, refused operations, restore; forced deletion; the two options together', async () => {
    const name = unique('del');
    const { ARN: arn } = await create({ Name: name, SecretString: 'keep me' });
    const t0 = Date.now();
    const del = await sm.send(new DeleteSecretCommand({ SecretId: name }));
    assert.ok(Math.abs(del.DeletionDate!.getTime() - (t0 + 30 * DAY)) < 60_000, 'the default window is 30 days');
    const d = await sm.send(new DescribeSecretCommand({ SecretId: name }));
    assert.equal(d.DeletedDate?.getTime(), del.DeletionDate!.getTime());

    const get = await failure(value(name));
    assert.equal(get.name, 'InvalidRequestException');
    assert.equal(get.message, "You can't perform this operation on the secret because it was marked for deletion.");
    assert.equal(
      (await failure(sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: 'x' })))).name,
      'InvalidRequestException',
    );
    const again = await failure(sm.send(new DeleteSecretCommand({ SecretId: name })));
    assert.equal(again.message, "You tried to perform the operation on a secret that's currently marked deleted.");
    const recreate = await failure(create({ Name: name, SecretString: 'x' }));
    assert.equal(recreate.name, 'InvalidRequestException');
    assert.equal(recreate.message, "You can't create this secret because a secret with this name is already scheduled for deletion.");

    const listed = async (IncludePlannedDeletion?: boolean) =>
      (
        (await sm.send(new ListSecretsCommand({ Filters: [{ Key: 'name', Values: [name] }], IncludePlannedDeletion }))).SecretList ?? []
      ).map((s) => s.ARN);
    assert.deepEqual(await listed(), []);
    assert.deepEqual(await listed(true), [arn]);
    const batch = await sm.send(new BatchGetSecretValueCommand({ SecretIdList: [name, unique('nope')] }));
    assert.deepEqual(
      batch.Errors!.map((e) => e.ErrorCode),
      ['InvalidRequestException', 'ResourceNotFoundException'],
    );

    await sm.send(new RestoreSecretCommand({ SecretId: arn }));
    assert.equal((await value(name)).SecretString, 'keep me');
    assert.equal((await sm.send(new DescribeSecretCommand({ SecretId: name }))).DeletedDate, undefined);

    const week = await sm.send(new DeleteSecretCommand({ SecretId: name, RecoveryWindowInDays: 7 }));
    assert.ok(Math.abs(week.DeletionDate!.getTime() - (Date.now() + 7 * DAY)) < 60_000);
    const forced = await sm.send(new DeleteSecretCommand({ SecretId: name, ForceDeleteWithoutRecovery: true }));
    assert.equal(forced.ARN, arn);
    assert.equal((await failure(sm.send(new DescribeSecretCommand({ SecretId: name })))).name, 'ResourceNotFoundException');
    // the name is free again, with a new ARN and no tags
    const reborn = await create({ Name: name, SecretString: 'new' });
    assert.notEqual(reborn.ARN, arn);

    const both = await failure(
      sm.send(new DeleteSecretCommand({ SecretId: name, RecoveryWindowInDays: 10, ForceDeleteWithoutRecovery: true })),
    );
    assert.equal(both.name, 'InvalidParameterException');
    assert.equal(both.message, "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.");
    const short = await failure(sm.send(new DeleteSecretCommand({ SecretId: name, RecoveryWindowInDays: 3 })));
    assert.equal(short.name, 'InvalidParameterException');
    assert.equal(short.message, 'The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).');
    // forcing the deletion of a secret that is not there is not an error
    const ghost = unique('ghost');
    assert.equal((await sm.send(new DeleteSecretCommand({ SecretId: ghost, ForceDeleteWithoutRecovery: true }))).Name, ghost);
    assert.equal((await failure(sm.send(new DeleteSecretCommand({ SecretId: ghost })))).name, 'ResourceNotFoundException');

    const viaCli = unique('del-cli');
    await cli(['create-secret', '--name', viaCli, '--secret-string', 'x']);
    const out = await cli(['delete-secret', '--secret-id', viaCli, '--force-delete-without-recovery']);
    assert.equal(out.Name, viaCli);
  });

  test('GetRandomPassword: length, exclusions, every included type, the space', async () => {
    const pw = async (input: ConstructorParameters<typeof GetRandomPasswordCommand>[0] = {}) =>
      (await sm.send(new GetRandomPasswordCommand(input))).RandomPassword!;
    const def = await pw();
    assert.equal(def.length, 32);
    assert.match(def, /[a-z]/);
    assert.match(def, /[A-Z]/);
    assert.match(def, /[0-9]/);
    assert.match(def, /[^A-Za-z0-9]/);
    assert.match(await pw({ PasswordLength: 64, ExcludePunctuation: true }), /^[A-Za-z0-9]{64}$/);
    assert.match(await pw({ PasswordLength: 50, ExcludeNumbers: true, ExcludeUppercase: true, ExcludePunctuation: true }), /^[a-z]{50}$/);
    assert.match(await pw({ PasswordLength: 200, ExcludeCharacters: 'abcdefABCDEF0123!@#' }), /^[^abcdefABCDEF0123!@#]{200}$/);
    assert.match(await pw({ PasswordLength: 4, ExcludeLowercase: true, ExcludeUppercase: true, ExcludePunctuation: true }), /^\d{4}$/);
    assert.equal((await pw({ PasswordLength: 4096 })).length, 4096);
    const spaced = await pw({
      PasswordLength: 500,
      IncludeSpace: true,
      ExcludeNumbers: true,
      ExcludeLowercase: true,
      ExcludePunctuation: true,
    });
    assert.match(spaced, /^[A-Z ]{500}$/);
    assert.match(spaced, / /);

    const short = await failure(sm.send(new GetRandomPasswordCommand({ PasswordLength: 3 })));
    assert.equal(short.name, 'InvalidParameterException');
    assert.equal(short.message, 'Password length is too short based on the required types.');
    assert.equal((await pw({ PasswordLength: 3, RequireEachIncludedType: false })).length, 3);
    const long = await failure(sm.send(new GetRandomPasswordCommand({ PasswordLength: 4097 })));
    assert.equal(long.name, 'ValidationException');
    assert.equal(
      long.message,
      "1 validation error detected: Value '4097' at 'passwordLength' failed to satisfy constraint: Member must have value less than or equal to 4096",
    );
    const cliPw = await cli(['get-random-password', '--password-length', '12', '--exclude-punctuation']);
    assert.match(cliPw.RandomPassword, /^[A-Za-z0-9]{12}$/);
  });

  test('errors as AWS words them', async () => {
    const missing = await failure(value(unique('nothing')));
    assert.equal(missing.name, 'ResourceNotFoundException');
    assert.equal(missing.message, "Secrets Manager can't find the specified secret.");
    assert.equal(missing.status, 400);

    const name = unique('errs');
    await create({ Name: name, SecretString: 'x' });
    const stage = await failure(value(name, { VersionStage: 'NOPE' }));
    assert.equal(stage.name, 'ResourceNotFoundException');
    assert.equal(stage.message, "Secrets Manager can't find the specified secret value for staging label: NOPE");
    const vid = randomUUID();
    const version = await failure(value(name, { VersionId: vid }));
    assert.equal(version.message, `Secrets Manager can't find the specified secret value for VersionId: ${vid}`);

    // a secret without a value yet has no AWSCURRENT
    const empty = unique('empty');
    const made = await create({ Name: empty, Description: 'no value yet' });
    assert.equal(made.VersionId, undefined);
    assert.equal(
      (await failure(value(empty))).message,
      "Secrets Manager can't find the specified secret value for staging label: AWSCURRENT",
    );
    const first = await sm.send(new PutSecretValueCommand({ SecretId: empty, SecretString: 'v', VersionStages: ['MINE'] }));
    assert.deepEqual(first.VersionStages, ['MINE', 'AWSCURRENT'], 'the first value is AWSCURRENT whatever else it is labelled');

    const badName = await failure(create({ Name: 'has space', SecretString: 'x' }));
    assert.equal(badName.name, 'ValidationException');
    assert.equal(
      badName.message,
      'Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!',
    );
    const both = await failure(create({ Name: unique('both'), SecretString: 'x', SecretBinary: Buffer.from('y') }));
    assert.equal(both.name, 'InvalidParameterException');
    assert.equal(both.message, "You can't specify both a binary secret value and a string secret value in the same secret.");
    const none = await failure(sm.send(new PutSecretValueCommand({ SecretId: name })));
    assert.equal(none.name, 'InvalidRequestException');
    assert.equal(none.message, 'You must provide either SecretString or SecretBinary.');
    const shortToken = await failure(
      sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: 'y', ClientRequestToken: 'short' })),
    );
    assert.equal(shortToken.name, 'ValidationException');

    const batchBoth = await failure(
      sm.send(new BatchGetSecretValueCommand({ SecretIdList: [name], Filters: [{ Key: 'name', Values: ['x'] }] })),
    );
    assert.equal(batchBoth.name, 'InvalidParameterException');
    const batch = await sm.send(new BatchGetSecretValueCommand({ SecretIdList: [name, 'not-there'] }));
    assert.deepEqual(
      batch.SecretValues!.map((v) => v.SecretString),
      ['x'],
    );
    assert.deepEqual(batch.Errors, [
      { SecretId: 'not-there', ErrorCode: 'ResourceNotFoundException', Message: "Secrets Manager can't find the specified secret." },
    ]);

    // rotation needs a Lambda function: none is configured, and there is no function to find
    const noFn = await failure(sm.send(new RotateSecretCommand({ SecretId: name })));
    assert.equal(noFn.name, 'InvalidRequestException');
    assert.equal(noFn.message, 'No Lambda rotation function ARN is associated with this secret.');
    const fn = 'arn:aws:lambda:us-east-1:000000000000:function:rotate-me';
    const gone = await failure(
      sm.send(new RotateSecretCommand({ SecretId: name, RotationLambdaARN: fn, RotationRules: { AutomaticallyAfterDays: 30 } })),
    );
    assert.equal(gone.name, 'ResourceNotFoundException');
    assert.equal(gone.message, `Resource not found for ARN '${fn}'.`);
    const d = await sm.send(new DescribeSecretCommand({ SecretId: name }));
    assert.equal(d.RotationEnabled, undefined, 'a refused rotation configures nothing');
    assert.equal(d.RotationLambdaARN, undefined);
    assert.deepEqual(Object.values(await stagesOf(name)), [['AWSCURRENT']], 'and adds no AWSPENDING version');
    const cancel = await failure(sm.send(new CancelRotateSecretCommand({ SecretId: name })));
    assert.equal(cancel.name, 'InvalidRequestException');
    const cliRotate = await awsCli(box.url, ['secretsmanager', 'rotate-secret', '--secret-id', name, '--rotation-lambda-arn', fn]);
    assert.notEqual(cliRotate.code, 0);
    assert.match(cliRotate.stderr, /ResourceNotFoundException/);
  });

  test('resource policies and tags', async () => {
    const name = unique('pol');
    const { ARN: arn } = await create({ Name: name, SecretString: 'x', Tags: [{ Key: 'a', Value: '1' }] });
    assert.equal((await sm.send(new GetResourcePolicyCommand({ SecretId: name }))).ResourcePolicy, undefined);
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::000000000000:root' }, Action: 'secretsmanager:GetSecretValue', Resource: '*' },
      ],
    });
    await sm.send(new PutResourcePolicyCommand({ SecretId: name, ResourcePolicy: policy }));
    assert.equal((await sm.send(new GetResourcePolicyCommand({ SecretId: arn }))).ResourcePolicy, policy);
    const malformed = await failure(sm.send(new PutResourcePolicyCommand({ SecretId: name, ResourcePolicy: '{not json' })));
    assert.equal(malformed.name, 'MalformedPolicyDocumentException');
    const open = JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: '*', Action: 'secretsmanager:*', Resource: '*' }] });
    const blocked = await failure(sm.send(new PutResourcePolicyCommand({ SecretId: name, ResourcePolicy: open, BlockPublicPolicy: true })));
    assert.equal(blocked.name, 'PublicPolicyException');
    const validated = await sm.send(new ValidateResourcePolicyCommand({ ResourcePolicy: open }));
    assert.equal(validated.PolicyValidationPassed, false);
    assert.equal(
      (await sm.send(new ValidateResourcePolicyCommand({ SecretId: name, ResourcePolicy: policy }))).PolicyValidationPassed,
      true,
    );
    await sm.send(new DeleteResourcePolicyCommand({ SecretId: name }));
    assert.equal((await sm.send(new GetResourcePolicyCommand({ SecretId: name }))).ResourcePolicy, undefined);

    await sm.send(
      new TagResourceCommand({
        SecretId: name,
        Tags: [
          { Key: 'b', Value: '2' },
          { Key: 'a', Value: 'one' },
        ],
      }),
    );
    await sm.send(new UntagResourceCommand({ SecretId: arn, TagKeys: ['b', 'absent'] }));
    assert.deepEqual((await sm.send(new DescribeSecretCommand({ SecretId: name }))).Tags, [{ Key: 'a', Value: 'one' }]);
    const reserved = await failure(sm.send(new TagResourceCommand({ SecretId: name, Tags: [{ Key: 'aws:x', Value: 'y' }] })));
    assert.equal(reserved.name, 'InvalidParameterException');
    await cli(['tag-resource', '--secret-id', name, '--tags', 'Key=c,Value=3']);
    assert.deepEqual((await cli(['describe-secret', '--secret-id', name])).Tags, [
      { Key: 'a', Value: 'one' },
      { Key: 'c', Value: '3' },
    ]);
  });

  test('kill -9 and restart keep secrets, versions, labels, deletion schedules and tags', async () => {
    const name = unique('durable');
    const { ARN: arn, VersionId: v1 } = await create({ Name: name, SecretString: 'first', Tags: [{ Key: 'k', Value: 'v' }] });
    const v2 = (await sm.send(new PutSecretValueCommand({ SecretId: name, SecretBinary: Buffer.from([9, 8, 7]) }))).VersionId!;
    const doomed = unique('doomed');
    await create({ Name: doomed, SecretString: 'x' });
    const del = await sm.send(new DeleteSecretCommand({ SecretId: doomed, RecoveryWindowInDays: 7 }));

    await box.kill9();
    box = await startOpsbox({ dataDir: box.dataDir });
    dirs.push(box.dataDir);
    sm.destroy();
    kms.destroy();
    sm = new SecretsManagerClient(clientConfig(box.url));
    kms = new KMSClient(clientConfig(box.url));

    const d = await sm.send(new DescribeSecretCommand({ SecretId: name }));
    assert.equal(d.ARN, arn);
    assert.deepEqual(d.VersionIdsToStages, { [v1!]: ['AWSPREVIOUS'], [v2]: ['AWSCURRENT'] });
    assert.deepEqual(d.Tags, [{ Key: 'k', Value: 'v' }]);
    assert.deepEqual(Buffer.from((await value(name)).SecretBinary!), Buffer.from([9, 8, 7]));
    assert.equal((await value(name, { VersionStage: 'AWSPREVIOUS' })).SecretString, 'first');
    const gone = await sm.send(new DescribeSecretCommand({ SecretId: doomed }));
    assert.equal(gone.DeletedDate?.getTime(), del.DeletionDate!.getTime());
  });
});
