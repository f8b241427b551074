/**
 * SecureString values, encrypted through KMS in-process as Parameter Store does, bound to the
 * parameter by the encryption context { PARAMETER_ARN }: a standard parameter's value is one KMS
 * Encrypt (4 KB fits KMS's plaintext limit); an advanced one's (up to 8 KB) is envelope-encrypted,
 * a KMS data key wrapping AES-256-GCM, since AWS uses "a different form of encryption" for those.
 * Only the ciphertext is stored; without WithDecryption it is what callers get, in base64.
 * A KMS failure (no such key, key disabled or pending deletion) surfaces as SSM's InvalidKeyId
 * with KMS's own message and code inside, as AWS words it.
 */
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import type { Scope } from '../../core/arn.js';
import { AwsError } from '../../core/errors.js';
import type { ServiceCalls } from '../../core/services.js';
import type { Encryption } from './store.js';

export const DEFAULT_KEY = 'alias/aws/ssm';
const ENVELOPE_VERSION = 1;

export interface Sealed {
  value: string;
  encryption: Encryption;
}

function kmsError(err: unknown): never {
  if (err instanceof AwsError && err.sender)
    throw new AwsError(
      'InvalidKeyId',
      `${err.message} (Service: AWSKMS; Status Code: ${err.status}; Error Code: ${err.code}; Request ID: ${randomUUID()}; Proxy: null)`,
      400,
    );
  throw err;
}

export function secureValues(services: ServiceCalls) {
  const kms = async <O>(operation: string, input: object, scope: Scope): Promise<O> => {
    try {
      return await services.call<O>('kms', operation, input, { account: scope.account, region: scope.region });
    } catch (err) {
      kmsError(err);
    }
  };

  return {
    /** Encrypts `plaintext` for the parameter `arn` under `keyId` (an advanced parameter's in an envelope). */
    async seal(scope: Scope, arn: string, keyId: string, advanced: boolean, plaintext: string): Promise<Sealed> {
      const context = { PARAMETER_ARN: arn };
      if (!advanced) {
        const out = await kms<{ CiphertextBlob: Uint8Array }>(
          'Encrypt',
          { KeyId: keyId, Plaintext: Buffer.from(plaintext), EncryptionContext: context },
          scope,
        );
        return { value: Buffer.from(out.CiphertextBlob).toString('base64'), encryption: 'kms' };
      }
      const dk = await kms<{ CiphertextBlob: Uint8Array; Plaintext: Uint8Array }>(
        'GenerateDataKey',
        { KeyId: keyId, KeySpec: 'AES_256', EncryptionContext: context },
        scope,
      );
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', Buffer.from(dk.Plaintext), iv);
      cipher.setAAD(Buffer.from(arn));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      const wrapped = Buffer.from(dk.CiphertextBlob);
      const header = Buffer.alloc(3);
      header.writeUInt8(ENVELOPE_VERSION, 0);
      header.writeUInt16BE(wrapped.length, 1);
      return { value: Buffer.concat([header, wrapped, iv, cipher.getAuthTag(), body]).toString('base64'), encryption: 'envelope' };
    },

    /** The plaintext of a stored SecureString value. */
    async open(scope: Scope, arn: string, value: string, encryption: Encryption): Promise<string> {
      const context = { PARAMETER_ARN: arn };
      const blob = Buffer.from(value, 'base64');
      if (encryption === 'kms') {
        const out = await kms<{ Plaintext: Uint8Array }>('Decrypt', { CiphertextBlob: blob, EncryptionContext: context }, scope);
        return Buffer.from(out.Plaintext).toString('utf8');
      }
      if (encryption !== 'envelope') return value;
      const len = blob.readUInt16BE(1);
      const wrapped = blob.subarray(3, 3 + len);
      const iv = blob.subarray(3 + len, 15 + len);
      const tag = blob.subarray(15 + len, 31 + len);
      const body = blob.subarray(31 + len);
      const dk = await kms<{ Plaintext: Uint8Array }>('Decrypt', { CiphertextBlob: wrapped, EncryptionContext: context }, scope);
      const decipher = createDecipheriv('aes-256-gcm', Buffer.from(dk.Plaintext), iv);
      decipher.setAAD(Buffer.from(arn));
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
    },
  };
}

export type SecureValues = ReturnType<typeof secureValues>;
