/**
 * KMS against a real opsbox process with SDK v3 and the aws CLI: symmetric round trips bound to
 * their encryption context, tampering refused, aliases and the AWS managed keys, data keys, RSA
 * encryption, signatures checked with node:crypto, HMACs, rotation, disable/deletion states,
 * grants, tags, and key material surviving kill -9.
 */
import assert from 'node:assert/strict';
import { createPublicKey, createVerify, verify as cryptoVerify } from 'node:crypto';
import { writeFileSync, readFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  CancelKeyDeletionCommand,
  CreateAliasCommand,
  CreateGrantCommand,
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  EnableKeyCommand,
  EnableKeyRotationCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GenerateDataKeyPairCommand,
  GenerateMacCommand,
  GenerateRandomCommand,
  GetKeyPolicyCommand,
  GetKeyRotationStatusCommand,
  GetPublicKeyCommand,
  KMSClient,
  ListAliasesCommand,
  ListGrantsCommand,
  ListKeyRotationsCommand,
  ListKeysCommand,
  ListResourceTagsCommand,
  ReEncryptCommand,
  RetireGrantCommand,
  RotateKeyOnDemandCommand,
  ScheduleKeyDeletionCommand,
  SignCommand,
  TagResourceCommand,
  UpdateAliasCommand,
  VerifyCommand,
  VerifyMacCommand,
} from '@aws-sdk/client-kms';
import { awsCli, clientConfig, failure, startOpsbox, unique, type RunningOpsbox } from '../helpers/opsbox.js';

describe('kms', () => {
  let box: RunningOpsbox;
  let kms: KMSClient;
  before(async () => {
    box = await startOpsbox();
    kms = new KMSClient(clientConfig(box.url));
  });
  after(async () => {
    kms?.destroy();
    await box?.dispose();
  });

  const newKey = async (input: ConstructorParameters<typeof CreateKeyCommand>[0] = {}) =>
    (await kms.send(new CreateKeyCommand(input))).KeyMetadata!;

  test('symmetric: encrypt/decrypt round trip bound to the encryption context; tampering and the wrong key refused', async () => {
    const key = await newKey({ Description: 'shop', Tags: [{ TagKey: 'team', TagValue: 'ops' }] });
    assert.equal(key.KeySpec, 'SYMMETRIC_DEFAULT');
    assert.equal(key.KeyState, 'Enabled');
    assert.deepEqual(key.EncryptionAlgorithms, ['SYMMETRIC_DEFAULT']);
    const context = { purpose: 'test', order: '42' };
    const enc = await kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('hello kms'), EncryptionContext: context }));
    assert.equal(enc.KeyId, key.Arn);
    // no KeyId needed: the blob names its key; context keys in another order are the same context
    const dec = await kms.send(
      new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { order: '42', purpose: 'test' } }),
    );
    assert.equal(Buffer.from(dec.Plaintext!).toString(), 'hello kms');
    assert.equal(dec.KeyId, key.Arn);

    const wrongContext = await failure(
      kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { purpose: 'other' } })),
    );
    assert.equal(wrongContext.name, 'InvalidCiphertextException');
    assert.equal((await failure(kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob })))).name, 'InvalidCiphertextException');
    const tampered = Buffer.from(enc.CiphertextBlob!);
    tampered[tampered.length - 1] ^= 1;
    assert.equal(
      (await failure(kms.send(new DecryptCommand({ CiphertextBlob: tampered, EncryptionContext: context })))).name,
      'InvalidCiphertextException',
    );
    assert.equal(
      (await failure(kms.send(new DecryptCommand({ CiphertextBlob: Buffer.from('not a blob at all') })))).name,
      'InvalidCiphertextException',
    );

    const other = await newKey();
    const wrongKey = await failure(
      kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: context, KeyId: other.KeyId })),
    );
    assert.equal(wrongKey.name, 'IncorrectKeyException');

    const re = await kms.send(
      new ReEncryptCommand({ CiphertextBlob: enc.CiphertextBlob, SourceEncryptionContext: context, DestinationKeyId: other.Arn }),
    );
    assert.equal(re.SourceKeyId, key.Arn);
    assert.equal(re.KeyId, other.Arn);
    const back = await kms.send(new DecryptCommand({ CiphertextBlob: re.CiphertextBlob }));
    assert.equal(Buffer.from(back.Plaintext!).toString(), 'hello kms');

    const tags = await kms.send(new ListResourceTagsCommand({ KeyId: key.KeyId }));
    assert.deepEqual(tags.Tags, [{ TagKey: 'team', TagValue: 'ops' }]);
    const policy = JSON.parse((await kms.send(new GetKeyPolicyCommand({ KeyId: key.KeyId, PolicyName: 'default' }))).Policy!);
    assert.equal(policy.Statement[0].Principal.AWS, 'arn:aws:iam::000000000000:root');
  });

  test('errors: unknown keys, alias-only names, bad identifiers', async () => {
    const missing = await failure(kms.send(new DescribeKeyCommand({ KeyId: '11111111-2222-3333-4444-555555555555' })));
    assert.equal(missing.name, 'NotFoundException');
    assert.equal(missing.message, "Key 'arn:aws:kms:us-east-1:000000000000:key/11111111-2222-3333-4444-555555555555' does not exist");
    const alias = await failure(kms.send(new EncryptCommand({ KeyId: 'alias/nope', Plaintext: Buffer.from('x') })));
    assert.deepEqual(
      [alias.name, alias.message],
      ['NotFoundException', 'Alias arn:aws:kms:us-east-1:000000000000:alias/nope is not found.'],
    );
    assert.equal((await failure(kms.send(new EnableKeyCommand({ KeyId: 'not-a-key' })))).message, 'Invalid keyId not-a-key');
    const tooBig = await failure(kms.send(new EncryptCommand({ KeyId: (await newKey()).KeyId, Plaintext: Buffer.alloc(4097) })));
    assert.equal(tooBig.name, 'ValidationException');
    assert.match(tooBig.message, /plaintext/i);
  });

  test('aliases, and the AWS managed key alias/aws/ssm made on first use', async () => {
    const a = await newKey();
    const b = await newKey();
    const name = `alias/${unique('shop')}`;
    await kms.send(new CreateAliasCommand({ AliasName: name, TargetKeyId: a.KeyId }));
    const dup = await failure(kms.send(new CreateAliasCommand({ AliasName: name, TargetKeyId: b.KeyId })));
    assert.equal(dup.name, 'AlreadyExistsException');
    assert.equal(
      (await failure(kms.send(new CreateAliasCommand({ AliasName: 'alias/aws/mine', TargetKeyId: a.KeyId })))).name,
      'NotAuthorizedException',
    );
    const byAlias = await kms.send(new EncryptCommand({ KeyId: name, Plaintext: Buffer.from('x') }));
    assert.equal(byAlias.KeyId, a.Arn);
    await kms.send(new UpdateAliasCommand({ AliasName: name, TargetKeyId: b.KeyId }));
    assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: name }))).KeyMetadata!.KeyId, b.KeyId);
    // a blob made under the alias's old key still decrypts with that key
    assert.equal(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: byAlias.CiphertextBlob }))).Plaintext!).toString(), 'x');

    const managed = (await kms.send(new DescribeKeyCommand({ KeyId: 'alias/aws/ssm' }))).KeyMetadata!;
    assert.equal(managed.KeyManager, 'AWS');
    assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: 'alias/aws/ssm' }))).KeyMetadata!.KeyId, managed.KeyId, 'made once');
    assert.equal((await failure(kms.send(new DisableKeyCommand({ KeyId: managed.KeyId })))).name, 'UnsupportedOperationException');
    const listed = (await kms.send(new ListAliasesCommand({}))).Aliases!.map((x) => x.AliasName);
    assert.ok(listed.includes(name) && listed.includes('alias/aws/ssm'));
  });

  test('data keys and key pairs; GenerateRandom', async () => {
    const key = await newKey();
    const dk = await kms.send(new GenerateDataKeyCommand({ KeyId: key.KeyId, KeySpec: 'AES_256' }));
    assert.equal(dk.Plaintext!.length, 32);
    const opened = await kms.send(new DecryptCommand({ CiphertextBlob: dk.CiphertextBlob }));
    assert.deepEqual(Buffer.from(opened.Plaintext!), Buffer.from(dk.Plaintext!));
    assert.equal((await failure(kms.send(new GenerateDataKeyCommand({ KeyId: key.KeyId })))).name, 'ValidationException');
    const pair = await kms.send(new GenerateDataKeyPairCommand({ KeyId: key.KeyId, KeyPairSpec: 'ECC_NIST_P256' }));
    assert.equal(createPublicKey({ key: Buffer.from(pair.PublicKey!), format: 'der', type: 'spki' }).asymmetricKeyType, 'ec');
    const priv = await kms.send(new DecryptCommand({ CiphertextBlob: pair.PrivateKeyCiphertextBlob }));
    assert.deepEqual(Buffer.from(priv.Plaintext!), Buffer.from(pair.PrivateKeyPlaintext!));
    assert.equal((await kms.send(new GenerateRandomCommand({ NumberOfBytes: 64 }))).Plaintext!.length, 64);
  });

  test('asymmetric: RSA encryption, RSA and ECDSA signatures a standard verifier accepts', async () => {
    const rsa = await newKey({ KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT' });
    const enc = await kms.send(
      new EncryptCommand({ KeyId: rsa.KeyId, Plaintext: Buffer.from('secret'), EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }),
    );
    const noKey = await failure(
      kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' })),
    );
    assert.equal(noKey.name, 'ValidationException');
    const dec = await kms.send(
      new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, KeyId: rsa.KeyId, EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }),
    );
    assert.equal(Buffer.from(dec.Plaintext!).toString(), 'secret');

    const ec = await newKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
    assert.deepEqual(ec.SigningAlgorithms, ['ECDSA_SHA_256']);
    const message = Buffer.from('release 1.2.3');
    const sig = await kms.send(new SignCommand({ KeyId: ec.KeyId, Message: message, SigningAlgorithm: 'ECDSA_SHA_256' }));
    const pub = (await kms.send(new GetPublicKeyCommand({ KeyId: ec.KeyId }))).PublicKey!;
    const pubKey = createPublicKey({ key: Buffer.from(pub), format: 'der', type: 'spki' });
    assert.ok(cryptoVerify('sha256', message, pubKey, Buffer.from(sig.Signature!)));
    assert.equal(
      (
        await kms.send(
          new VerifyCommand({ KeyId: ec.KeyId, Message: message, Signature: sig.Signature, SigningAlgorithm: 'ECDSA_SHA_256' }),
        )
      ).SignatureValid,
      true,
    );
    const bad = await failure(
      kms.send(
        new VerifyCommand({ KeyId: ec.KeyId, Message: Buffer.from('other'), Signature: sig.Signature, SigningAlgorithm: 'ECDSA_SHA_256' }),
      ),
    );
    assert.equal(bad.name, 'KMSInvalidSignatureException');
    assert.equal((await failure(kms.send(new EncryptCommand({ KeyId: ec.KeyId, Plaintext: message })))).name, 'InvalidKeyUsageException');
    const eccEncrypt = await failure(kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'ENCRYPT_DECRYPT' })));
    assert.equal(eccEncrypt.name, 'ValidationException');

    const signer = await newKey({ KeySpec: 'RSA_3072', KeyUsage: 'SIGN_VERIFY' });
    const pkcs = await kms.send(new SignCommand({ KeyId: signer.KeyId, Message: message, SigningAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_256' }));
    const signerPub = createPublicKey({
      key: Buffer.from((await kms.send(new GetPublicKeyCommand({ KeyId: signer.KeyId }))).PublicKey!),
      format: 'der',
      type: 'spki',
    });
    assert.ok(createVerify('sha256').update(message).verify(signerPub, Buffer.from(pkcs.Signature!)));
    // a digest the caller computed signs to the same verifiable signature
    const digest = (await import('node:crypto')).createHash('sha256').update(message).digest();
    const pre = await kms.send(
      new SignCommand({ KeyId: signer.KeyId, Message: digest, MessageType: 'DIGEST', SigningAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_256' }),
    );
    assert.ok(createVerify('sha256').update(message).verify(signerPub, Buffer.from(pre.Signature!)));
  });

  test('HMAC keys', async () => {
    const key = await newKey({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' });
    const m = await kms.send(new GenerateMacCommand({ KeyId: key.KeyId, Message: Buffer.from('m'), MacAlgorithm: 'HMAC_SHA_256' }));
    assert.equal(m.Mac!.length, 32);
    const ok = await kms.send(
      new VerifyMacCommand({ KeyId: key.KeyId, Message: Buffer.from('m'), Mac: m.Mac, MacAlgorithm: 'HMAC_SHA_256' }),
    );
    assert.equal(ok.MacValid, true);
    const bad = await failure(
      kms.send(new VerifyMacCommand({ KeyId: key.KeyId, Message: Buffer.from('n'), Mac: m.Mac, MacAlgorithm: 'HMAC_SHA_256' })),
    );
    assert.equal(bad.name, 'KMSInvalidMacException');
    const wrongAlg = await failure(
      kms.send(new GenerateMacCommand({ KeyId: key.KeyId, Message: Buffer.from('m'), MacAlgorithm: 'HMAC_SHA_512' })),
    );
    assert.equal(wrongAlg.name, 'InvalidKeyUsageException');
  });

  test('rotation keeps old ciphertexts readable; disabled and pending-deletion keys refuse use', async () => {
    const key = await newKey();
    const before = await kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('v1') }));
    await kms.send(new EnableKeyRotationCommand({ KeyId: key.KeyId, RotationPeriodInDays: 90 }));
    const status = await kms.send(new GetKeyRotationStatusCommand({ KeyId: key.KeyId }));
    assert.equal(status.KeyRotationEnabled, true);
    assert.equal(status.RotationPeriodInDays, 90);
    await kms.send(new RotateKeyOnDemandCommand({ KeyId: key.KeyId }));
    const rotations = await kms.send(new ListKeyRotationsCommand({ KeyId: key.KeyId }));
    assert.deepEqual(
      rotations.Rotations!.map((r) => r.RotationType),
      ['ON_DEMAND'],
    );
    const afterRotation = await kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('v2') }));
    for (const [blob, text] of [
      [before.CiphertextBlob, 'v1'],
      [afterRotation.CiphertextBlob, 'v2'],
    ] as const)
      assert.equal(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!).toString(), text);

    await kms.send(new DisableKeyCommand({ KeyId: key.KeyId }));
    const disabled = await failure(kms.send(new DecryptCommand({ CiphertextBlob: before.CiphertextBlob })));
    assert.deepEqual([disabled.name, disabled.message], ['DisabledException', `${key.Arn} is disabled.`]);
    await kms.send(new EnableKeyCommand({ KeyId: key.KeyId }));

    const sched = await kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.KeyId, PendingWindowInDays: 7 }));
    assert.equal(sched.KeyState, 'PendingDeletion');
    assert.ok(sched.DeletionDate!.getTime() > Date.now() + 6 * 86_400_000);
    const pending = await failure(kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('x') })));
    assert.equal(pending.name, 'KMSInvalidStateException');
    assert.equal(
      (await failure(kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.KeyId, PendingWindowInDays: 3 })))).name,
      'ValidationException',
    );
    await kms.send(new CancelKeyDeletionCommand({ KeyId: key.KeyId }));
    assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: key.KeyId }))).KeyMetadata!.KeyState, 'Disabled');
  });

  test('grants: create (idempotent by name), list, retire', async () => {
    const key = await newKey();
    const input = {
      KeyId: key.KeyId,
      GranteePrincipal: 'arn:aws:iam::000000000000:role/app',
      Operations: ['Decrypt' as const],
      Name: 'app',
    };
    const g = await kms.send(new CreateGrantCommand(input));
    assert.equal((await kms.send(new CreateGrantCommand(input))).GrantId, g.GrantId);
    const listed = await kms.send(new ListGrantsCommand({ KeyId: key.KeyId }));
    assert.deepEqual(
      listed.Grants!.map((x) => [x.GrantId, x.Operations]),
      [[g.GrantId, ['Decrypt']]],
    );
    const badOp = await failure(kms.send(new CreateGrantCommand({ ...input, Name: 'x', Operations: ['Sign'] })));
    assert.equal(badOp.name, 'ValidationException');
    await kms.send(new RetireGrantCommand({ GrantToken: g.GrantToken }));
    assert.deepEqual((await kms.send(new ListGrantsCommand({ KeyId: key.KeyId }))).Grants, []);
  });

  test('aws CLI: create-key, encrypt fileb://, decrypt, list-keys paging', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kms-cli-'));
    writeFileSync(join(dir, 'data.bin'), Buffer.from([0, 1, 2, 250, 255]));
    const created = await awsCli(box.url, ['kms', 'create-key', '--description', 'cli']);
    assert.equal(created.code, 0, created.stderr);
    const keyId = JSON.parse(created.stdout).KeyMetadata.KeyId;
    const alias = `alias/${unique('cli')}`;
    assert.equal((await awsCli(box.url, ['kms', 'create-alias', '--alias-name', alias, '--target-key-id', keyId])).code, 0);
    const enc = await awsCli(box.url, [
      'kms',
      'encrypt',
      '--key-id',
      alias,
      '--plaintext',
      `fileb://${join(dir, 'data.bin')}`,
      '--query',
      'CiphertextBlob',
      '--output',
      'text',
    ]);
    assert.equal(enc.code, 0, enc.stderr);
    writeFileSync(join(dir, 'blob'), Buffer.from(enc.stdout.trim(), 'base64'));
    const dec = await awsCli(box.url, [
      'kms',
      'decrypt',
      '--ciphertext-blob',
      `fileb://${join(dir, 'blob')}`,
      '--query',
      'Plaintext',
      '--output',
      'text',
    ]);
    assert.equal(dec.code, 0, dec.stderr);
    assert.deepEqual(Buffer.from(dec.stdout.trim(), 'base64'), readFileSync(join(dir, 'data.bin')));
    const missing = await awsCli(box.url, ['kms', 'describe-key', '--key-id', 'alias/none']);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /NotFoundException/);
    // the CLI pages ListKeys with Marker until Truncated is false
    const all = await awsCli(box.url, ['kms', 'list-keys', '--page-size', '2']);
    assert.equal(all.code, 0, all.stderr);
    const keys = (await kms.send(new ListKeysCommand({ Limit: 1000 }))).Keys!;
    assert.equal(JSON.parse(all.stdout).Keys.length, keys.length);
  });

  test('tags on keys; key material survives kill -9', async () => {
    const key = await newKey();
    await kms.send(new TagResourceCommand({ KeyId: key.KeyId, Tags: [{ TagKey: 'env', TagValue: 'dev' }] }));
    const reserved = await failure(kms.send(new TagResourceCommand({ KeyId: key.KeyId, Tags: [{ TagKey: 'aws:x', TagValue: 'y' }] })));
    assert.equal(reserved.name, 'TagException');
    const enc = await kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('durable'), EncryptionContext: { a: 'b' } }));
    await box.kill9();
    box = await startOpsbox({ dataDir: box.dataDir });
    kms.destroy();
    kms = new KMSClient(clientConfig(box.url));
    const dec = await kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { a: 'b' } }));
    assert.equal(Buffer.from(dec.Plaintext!).toString(), 'durable');
    assert.deepEqual((await kms.send(new ListResourceTagsCommand({ KeyId: key.KeyId }))).Tags, [{ TagKey: 'env', TagValue: 'dev' }]);
  });
});
