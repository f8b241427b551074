/**
 * Secret values under KMS, as Secrets Manager does it: envelope encryption. Each version gets its
 * own data key from KMS GenerateDataKey (called in-process, bound to the encryption context
 * {SecretARN, SecretVersionId}); the value is sealed with it (AES-256-GCM) and only the KMS
 * ciphertext of the key is kept. Reading calls KMS Decrypt with the same context. A value up to
 * 64 KiB fits, where KMS Encrypt alone stops at 4 KiB.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { AwsError } from '../../core/errors.js';
import type { ServiceCalls } from '../../core/services.js';
import type { Scope } from '../../core/arn.js';
import type { SecretRow, VersionRow } from './store.js';

export const DEFAULT_KEY = 'alias/aws/secretsmanager';

export interface SecretValue {
  kind: 'string' | 'binary';
  bytes: Buffer;
}

export interface Sealed {
  data_key: Buffer;
  ciphertext: Buffer;
}

const encryptionFailure = () =>
  new AwsError(
    'EncryptionFailure',
    "Secrets Manager can't encrypt the protected secret text using the provided KMS key. Check that the KMS key is available, enabled, and not in an invalid state.",
    400,
  );
const decryptionFailure = () =>
  new AwsError('DecryptionFailure', "Secrets Manager can't decrypt the protected secret text using the provided KMS key.", 400);

/** The value a request carries: SecretString or SecretBinary (never both; the caller checked). */
export function valueOf(input: { SecretString?: string; SecretBinary?: Buffer }): SecretValue | undefined {
  if (input.SecretString !== undefined) return { kind: 'string', bytes: Buffer.from(input.SecretString, 'utf8') };
  if (input.SecretBinary !== undefined) return { kind: 'binary', bytes: Buffer.from(input.SecretBinary) };
  return undefined;
}

export const sameValue = (a: SecretValue, b: SecretValue) => a.kind === b.kind && a.bytes.equals(b.bytes);

export function valueCrypto(services: ServiceCalls) {
  const scopeOf = (s: SecretRow): Scope => ({ account: s.account, region: s.region });
  const context = (s: SecretRow, versionId: string) => ({ SecretARN: s.arn, SecretVersionId: versionId });

  return {
    /** Seals `value` for version `versionId` of `s` under `kmsKeyId` (the secret's key when not given). */
    async seal(s: SecretRow, versionId: string, value: SecretValue, kmsKeyId = s.kms_key_id): Promise<Sealed> {
      let out: { CiphertextBlob: Buffer; Plaintext: Buffer };
      try {
        out = await services.call(
          'kms',
          'GenerateDataKey',
          {
            KeyId: kmsKeyId ?? DEFAULT_KEY,
            KeySpec: 'AES_256',
            EncryptionContext: context(s, versionId),
          },
          scopeOf(s),
        );
      } catch (err) {
        if (err instanceof AwsError) throw encryptionFailure();
        throw err;
      }
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', out.Plaintext, iv);
      cipher.setAAD(Buffer.from(value.kind));
      const body = Buffer.concat([cipher.update(value.bytes), cipher.final()]);
      out.Plaintext.fill(0);
      return { data_key: Buffer.from(out.CiphertextBlob), ciphertext: Buffer.concat([iv, cipher.getAuthTag(), body]) };
    },

    /** The value of a version that has one. */
    async open(s: SecretRow, v: VersionRow): Promise<SecretValue> {
      if (!v.kind || !v.data_key || !v.ciphertext) throw new Error(`version ${v.version_id} has no value`);
      let key: Buffer;
      try {
        const out = await services.call<{ Plaintext: Buffer }>(
          'kms',
          'Decrypt',
          { CiphertextBlob: v.data_key, EncryptionContext: context(s, v.version_id) },
          scopeOf(s),
        );
        key = out.Plaintext;
      } catch (err) {
        if (err instanceof AwsError) throw decryptionFailure();
        throw err;
      }
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, v.ciphertext.subarray(0, 12));
        decipher.setAAD(Buffer.from(v.kind));
        decipher.setAuthTag(v.ciphertext.subarray(12, 28));
        return { kind: v.kind, bytes: Buffer.concat([decipher.update(v.ciphertext.subarray(28)), decipher.final()]) };
      } catch {
        throw decryptionFailure();
      } finally {
        key.fill(0);
      }
    },
  };
}

export type ValueCrypto = ReturnType<typeof valueCrypto>;
