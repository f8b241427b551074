/**
 * The cryptographic operations: Encrypt, Decrypt, ReEncrypt, GenerateDataKey (with and without
 * plaintext, and key pairs), GenerateRandom, Sign, Verify, GetPublicKey, GenerateMac, VerifyMac.
 * Each resolves the key, checks its state and usage as AWS does, then calls crypto.ts.
 */
import { randomBytes } from 'node:crypto';
import { AwsError } from '../../core/errors.js';
import type { RequestContext } from '../../gateway/context.js';
import type { KmsHandlers } from './api.generated.js';
import {
  canSign,
  digestLengthOk,
  generateMaterial,
  KEY_SPECS,
  mac,
  macAlgorithmFor,
  macMatches,
  openSymmetric,
  publicKeyDer,
  readBlobHeader,
  RSA_ENCRYPTION,
  rsaDecrypt,
  rsaEncrypt,
  rsaMaxPlaintext,
  sealSymmetric,
  signingAlgorithmsFor,
  signMessage,
  verifySignature,
  type KeySpec,
  type MacAlgorithm,
  type MessageType,
  type RsaEncryption,
  type SigningAlgorithm,
} from './crypto.js';
import { encryptionAlgorithmsFor, requireEnabled, validation, type ResolveKey } from './keys.js';
import { keyArn, type KeyRow, type KmsStore } from './store.js';

type Context = Record<string, string> | undefined;

const invalidCiphertext = () => new AwsError('InvalidCiphertextException', '', 400);
const invalidKeyUsage = (message: string) => new AwsError('InvalidKeyUsageException', message, 400);
const incorrectKey = () =>
  new AwsError('IncorrectKeyException', 'The key ID in the request does not identify a CMK that can perform this operation.', 400);
const dryRun = () => new AwsError('DryRunOperationException', 'The request would have succeeded, but the DryRun option is set.', 412);

const arnOf = (k: KeyRow) => keyArn(k, k.key_id);

const DATA_KEY_BYTES: Record<string, number> = { AES_256: 32, AES_128: 16 };
const KEY_PAIR_SPECS = ['RSA_2048', 'RSA_3072', 'RSA_4096', 'ECC_NIST_P256', 'ECC_NIST_P384', 'ECC_NIST_P521', 'ECC_SECG_P256K1'];

export function operationHandlers(store: KmsStore, resolve: ResolveKey): KmsHandlers {
  /** An enabled key whose usage is `usage`, by any identifier including aliases. */
  function keyFor(ctx: RequestContext, keyId: string, usage: string, operation: string): KeyRow {
    const k = requireEnabled(resolve(ctx, keyId, { aliases: true }));
    if (k.usage !== usage) throw invalidKeyUsage(`${arnOf(k)} key usage is ${k.usage} which is not valid for ${operation}.`);
    return k;
  }

  function encryptWith(k: KeyRow, plaintext: Buffer, context: Context, algorithm: string | undefined) {
    const alg = algorithm ?? 'SYMMETRIC_DEFAULT';
    if (!encryptionAlgorithmsFor(k)!.includes(alg)) throw invalidKeyUsage(`Algorithm ${alg} is incompatible with key spec ${k.spec}.`);
    if (KEY_SPECS[k.spec].kind === 'symmetric') {
      const m = store.latestMaterial(k);
      return { blob: sealSymmetric(k.key_id, m.version, m.material, plaintext, context), algorithm: alg };
    }
    if (context && Object.keys(context).length) throw validation('EncryptionContext is not supported with asymmetric KMS keys.');
    const rsa = alg as RsaEncryption;
    const bits = (KEY_SPECS[k.spec] as { bits: number }).bits;
    if (plaintext.length > rsaMaxPlaintext(bits, rsa))
      throw validation(`Plaintext is too long for ${alg} with a ${k.spec} key: at most ${rsaMaxPlaintext(bits, rsa)} bytes.`);
    return { blob: rsaEncrypt(store.latestMaterial(k).material, rsa, plaintext), algorithm: alg };
  }

  /** Decrypts a blob: with the key the blob names (symmetric), or with the key the caller names (RSA, which needs KeyId). */
  function decrypt(ctx: RequestContext, blob: Buffer, context: Context, keyId: string | undefined, algorithm: string | undefined) {
    const alg = algorithm ?? 'SYMMETRIC_DEFAULT';
    if (alg === 'SYMMETRIC_DEFAULT') {
      const header = readBlobHeader(blob);
      if (!header) throw invalidCiphertext();
      const k = store.findKey(ctx, header.keyId, ctx.clock.now());
      if (!k) throw invalidCiphertext();
      if (keyId !== undefined && resolve(ctx, keyId, { aliases: true }).key_id !== k.key_id) throw incorrectKey();
      requireEnabled(k);
      if (k.usage !== 'ENCRYPT_DECRYPT') throw invalidKeyUsage(`${arnOf(k)} key usage is ${k.usage} which is not valid for Decrypt.`);
      const material = store.material(k, header.version);
      const plaintext = material && openSymmetric(blob, material.material, context);
      if (!plaintext) throw invalidCiphertext();
      return { k, plaintext, algorithm: alg };
    }
    if (!(alg in RSA_ENCRYPTION)) throw validation(`Unknown encryption algorithm ${alg}.`);
    if (keyId === undefined) throw validation('KeyId is required to decrypt with an asymmetric KMS key.');
    const k = keyFor(ctx, keyId, 'ENCRYPT_DECRYPT', 'Decrypt');
    if (KEY_SPECS[k.spec].kind !== 'rsa') throw invalidKeyUsage(`Algorithm ${alg} is incompatible with key spec ${k.spec}.`);
    const plaintext = rsaDecrypt(store.latestMaterial(k).material, alg as RsaEncryption, blob);
    if (!plaintext) throw invalidCiphertext();
    return { k, plaintext, algorithm: alg };
  }

  function dataKeyBytes(input: { KeySpec?: string; NumberOfBytes?: number }) {
    if (input.KeySpec !== undefined && input.NumberOfBytes !== undefined)
      throw validation('KeySpec and NumberOfBytes are mutually exclusive. Specify only one of them.');
    if (input.KeySpec !== undefined) return DATA_KEY_BYTES[input.KeySpec];
    if (input.NumberOfBytes !== undefined) return input.NumberOfBytes;
    throw validation('Please specify either number of bytes or key spec.');
  }

  function symmetricKeyFor(ctx: RequestContext, keyId: string, operation: string) {
    const k = keyFor(ctx, keyId, 'ENCRYPT_DECRYPT', operation);
    if (KEY_SPECS[k.spec].kind !== 'symmetric') throw invalidKeyUsage(`${arnOf(k)} key spec ${k.spec} is not valid for ${operation}.`);
    return k;
  }

  function dataKeyPair(
    input: { KeyId: string; KeyPairSpec: string; EncryptionContext?: Context; DryRun?: boolean },
    ctx: RequestContext,
    operation: string,
  ) {
    const k = symmetricKeyFor(ctx, input.KeyId, operation);
    // the model's enum (checked by the gateway) also has SM2 (China regions only) and ECC_NIST_EDWARDS25519
    if (!KEY_PAIR_SPECS.includes(input.KeyPairSpec))
      throw new AwsError('UnsupportedOperationException', `KeyPairSpec ${input.KeyPairSpec} is not supported by opsbox.`, 400);
    if (input.DryRun) throw dryRun();
    const privateKey = generateMaterial(input.KeyPairSpec as KeySpec);
    return {
      k,
      privateKey,
      publicKey: publicKeyDer(privateKey),
      sealed: encryptWith(k, privateKey, input.EncryptionContext, undefined).blob,
    };
  }

  function signingKey(ctx: RequestContext, keyId: string, algorithm: string, operation: string) {
    const k = keyFor(ctx, keyId, 'SIGN_VERIFY', operation);
    if (!(signingAlgorithmsFor(k.spec) as string[]).includes(algorithm))
      throw invalidKeyUsage(`Algorithm ${algorithm} is incompatible with key spec ${k.spec}.`);
    return k;
  }

  function checkMessage(alg: SigningAlgorithm, type: MessageType, message: Buffer) {
    if (!digestLengthOk(alg, type, message)) throw validation(`Digest is invalid length for algorithm ${alg}.`);
    if (!canSign(alg, type))
      throw validation(`opsbox cannot use MessageType DIGEST with ${alg} yet; send the message with MessageType RAW.`);
  }

  function macKey(ctx: RequestContext, keyId: string, algorithm: string, operation: string) {
    const k = keyFor(ctx, keyId, 'GENERATE_VERIFY_MAC', operation);
    if (macAlgorithmFor(k.spec) !== algorithm) throw invalidKeyUsage(`Algorithm ${algorithm} is incompatible with key spec ${k.spec}.`);
    return k;
  }

  return {
    Encrypt(input, ctx) {
      const k = keyFor(ctx, input.KeyId, 'ENCRYPT_DECRYPT', 'Encrypt');
      const { blob, algorithm } = encryptWith(k, input.Plaintext, input.EncryptionContext, input.EncryptionAlgorithm);
      if (input.DryRun) throw dryRun();
      return { CiphertextBlob: blob, KeyId: arnOf(k), EncryptionAlgorithm: algorithm };
    },

    Decrypt(input, ctx) {
      if (input.Recipient) throw validation('opsbox does not support Recipient (Nitro Enclaves attestation) in Decrypt.');
      if (input.CiphertextBlob === undefined) throw validation('CiphertextBlob is required.');
      const { k, plaintext, algorithm } = decrypt(
        ctx,
        input.CiphertextBlob,
        input.EncryptionContext,
        input.KeyId,
        input.EncryptionAlgorithm,
      );
      if (input.DryRun) throw dryRun();
      return { KeyId: arnOf(k), Plaintext: plaintext, EncryptionAlgorithm: algorithm };
    },

    ReEncrypt(input, ctx) {
      if (input.CiphertextBlob === undefined) throw validation('CiphertextBlob is required.');
      const source = decrypt(ctx, input.CiphertextBlob, input.SourceEncryptionContext, input.SourceKeyId, input.SourceEncryptionAlgorithm);
      const dest = keyFor(ctx, input.DestinationKeyId, 'ENCRYPT_DECRYPT', 'ReEncrypt');
      const out = encryptWith(dest, source.plaintext, input.DestinationEncryptionContext, input.DestinationEncryptionAlgorithm);
      if (input.DryRun) throw dryRun();
      return {
        CiphertextBlob: out.blob,
        SourceKeyId: arnOf(source.k),
        KeyId: arnOf(dest),
        SourceEncryptionAlgorithm: source.algorithm,
        DestinationEncryptionAlgorithm: out.algorithm,
      };
    },

    GenerateDataKey(input, ctx) {
      const k = symmetricKeyFor(ctx, input.KeyId, 'GenerateDataKey');
      const plaintext = randomBytes(dataKeyBytes(input));
      if (input.Recipient) throw validation('opsbox does not support Recipient (Nitro Enclaves attestation) in GenerateDataKey.');
      if (input.DryRun) throw dryRun();
      return { CiphertextBlob: encryptWith(k, plaintext, input.EncryptionContext, undefined).blob, Plaintext: plaintext, KeyId: arnOf(k) };
    },

    GenerateDataKeyWithoutPlaintext(input, ctx) {
      const k = symmetricKeyFor(ctx, input.KeyId, 'GenerateDataKeyWithoutPlaintext');
      const plaintext = randomBytes(dataKeyBytes(input));
      if (input.DryRun) throw dryRun();
      return { CiphertextBlob: encryptWith(k, plaintext, input.EncryptionContext, undefined).blob, KeyId: arnOf(k) };
    },

    GenerateDataKeyPair(input, ctx) {
      if (input.Recipient) throw validation('opsbox does not support Recipient (Nitro Enclaves attestation) in GenerateDataKeyPair.');
      const p = dataKeyPair(input, ctx, 'GenerateDataKeyPair');
      return {
        PrivateKeyCiphertextBlob: p.sealed,
        PrivateKeyPlaintext: p.privateKey,
        PublicKey: p.publicKey,
        KeyId: arnOf(p.k),
        KeyPairSpec: input.KeyPairSpec,
      };
    },

    GenerateDataKeyPairWithoutPlaintext(input, ctx) {
      const p = dataKeyPair(input, ctx, 'GenerateDataKeyPairWithoutPlaintext');
      return { PrivateKeyCiphertextBlob: p.sealed, PublicKey: p.publicKey, KeyId: arnOf(p.k), KeyPairSpec: input.KeyPairSpec };
    },

    GenerateRandom(input) {
      if (input.CustomKeyStoreId)
        throw new AwsError('CustomKeyStoreNotFoundException', `Custom key store ${input.CustomKeyStoreId} does not exist.`, 400);
      if (input.NumberOfBytes === undefined) throw validation('NumberOfBytes is required.');
      return { Plaintext: randomBytes(input.NumberOfBytes) };
    },

    GetPublicKey(input, ctx) {
      const k = requireEnabled(resolve(ctx, input.KeyId, { aliases: true }));
      if (KEY_SPECS[k.spec].kind === 'symmetric' || KEY_SPECS[k.spec].kind === 'hmac')
        throw new AwsError('UnsupportedOperationException', `${arnOf(k)} key type is not asymmetric and has no public key.`, 400);
      return {
        KeyId: arnOf(k),
        PublicKey: publicKeyDer(store.latestMaterial(k).material),
        CustomerMasterKeySpec: k.spec,
        KeySpec: k.spec,
        KeyUsage: k.usage,
        EncryptionAlgorithms: encryptionAlgorithmsFor(k),
        SigningAlgorithms: k.usage === 'SIGN_VERIFY' ? signingAlgorithmsFor(k.spec) : undefined,
      };
    },

    Sign(input, ctx) {
      const k = signingKey(ctx, input.KeyId, input.SigningAlgorithm, 'Sign');
      const type = (input.MessageType ?? 'RAW') as MessageType;
      const alg = input.SigningAlgorithm as SigningAlgorithm;
      checkMessage(alg, type, input.Message);
      if (input.DryRun) throw dryRun();
      return { KeyId: arnOf(k), Signature: signMessage(store.latestMaterial(k).material, alg, type, input.Message), SigningAlgorithm: alg };
    },

    Verify(input, ctx) {
      const k = signingKey(ctx, input.KeyId, input.SigningAlgorithm, 'Verify');
      const type = (input.MessageType ?? 'RAW') as MessageType;
      const alg = input.SigningAlgorithm as SigningAlgorithm;
      checkMessage(alg, type, input.Message);
      if (!verifySignature(store.latestMaterial(k).material, alg, type, input.Message, input.Signature))
        throw new AwsError('KMSInvalidSignatureException', '', 400);
      if (input.DryRun) throw dryRun();
      return { KeyId: arnOf(k), SignatureValid: true, SigningAlgorithm: alg };
    },

    GenerateMac(input, ctx) {
      const k = macKey(ctx, input.KeyId, input.MacAlgorithm, 'GenerateMac');
      if (input.DryRun) throw dryRun();
      const alg = input.MacAlgorithm as MacAlgorithm;
      return { Mac: mac(store.latestMaterial(k).material, alg, input.Message), MacAlgorithm: alg, KeyId: arnOf(k) };
    },

    VerifyMac(input, ctx) {
      const k = macKey(ctx, input.KeyId, input.MacAlgorithm, 'VerifyMac');
      const alg = input.MacAlgorithm as MacAlgorithm;
      if (!macMatches(store.latestMaterial(k).material, alg, input.Message, input.Mac))
        throw new AwsError('KMSInvalidMacException', '', 400);
      if (input.DryRun) throw dryRun();
      return { KeyId: arnOf(k), MacValid: true, MacAlgorithm: alg };
    },
  };
}
