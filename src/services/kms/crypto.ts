/**
 * KMS's cryptography, on node:crypto: key material for each key spec, the symmetric ciphertext
 * blob, RSA encryption, signatures and HMACs. No store, no requests: unit-tested alone.
 *
 * A symmetric ciphertext blob is opsbox's own format (AWS's is opaque too): a version byte, the
 * 36-character key id, the key material version (rotation keeps every version able to decrypt),
 * a 12-byte IV, the 16-byte GCM tag and the AES-256-GCM ciphertext. The header and the canonical
 * encryption context are the AAD, so a changed key id, version or context fails authentication.
 */
import {
  constants,
  createCipheriv,
  createDecipheriv,
  createHmac,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  privateDecrypt,
  privateEncrypt,
  publicDecrypt,
  publicEncrypt,
  randomBytes,
  sign,
  timingSafeEqual,
  verify,
  type KeyObject,
} from 'node:crypto';

export const KEY_SPECS = {
  SYMMETRIC_DEFAULT: { kind: 'symmetric', usages: ['ENCRYPT_DECRYPT'] },
  RSA_2048: { kind: 'rsa', bits: 2048, usages: ['ENCRYPT_DECRYPT', 'SIGN_VERIFY'] },
  RSA_3072: { kind: 'rsa', bits: 3072, usages: ['ENCRYPT_DECRYPT', 'SIGN_VERIFY'] },
  RSA_4096: { kind: 'rsa', bits: 4096, usages: ['ENCRYPT_DECRYPT', 'SIGN_VERIFY'] },
  ECC_NIST_P256: { kind: 'ec', curve: 'prime256v1', hash: 'sha256', usages: ['SIGN_VERIFY'] },
  ECC_NIST_P384: { kind: 'ec', curve: 'secp384r1', hash: 'sha384', usages: ['SIGN_VERIFY'] },
  ECC_NIST_P521: { kind: 'ec', curve: 'secp521r1', hash: 'sha512', usages: ['SIGN_VERIFY'] },
  ECC_SECG_P256K1: { kind: 'ec', curve: 'secp256k1', hash: 'sha256', usages: ['SIGN_VERIFY'] },
  HMAC_224: { kind: 'hmac', bytes: 28, hash: 'sha224', usages: ['GENERATE_VERIFY_MAC'] },
  HMAC_256: { kind: 'hmac', bytes: 32, hash: 'sha256', usages: ['GENERATE_VERIFY_MAC'] },
  HMAC_384: { kind: 'hmac', bytes: 48, hash: 'sha384', usages: ['GENERATE_VERIFY_MAC'] },
  HMAC_512: { kind: 'hmac', bytes: 64, hash: 'sha512', usages: ['GENERATE_VERIFY_MAC'] },
} as const;

export type KeySpec = keyof typeof KEY_SPECS;
export const isKeySpec = (s: string): s is KeySpec => Object.hasOwn(KEY_SPECS, s);

/** New key material: 32 random bytes, an HMAC key, or a PKCS#8 DER private key. */
export function generateMaterial(spec: KeySpec): Buffer {
  const s = KEY_SPECS[spec];
  switch (s.kind) {
    case 'symmetric':
      return randomBytes(32);
    case 'hmac':
      return randomBytes(s.bytes);
    case 'rsa':
      return generateKeyPairSync('rsa', { modulusLength: s.bits }).privateKey.export({ format: 'der', type: 'pkcs8' });
    case 'ec':
      return generateKeyPairSync('ec', { namedCurve: s.curve }).privateKey.export({ format: 'der', type: 'pkcs8' });
  }
}

const privateKeyOf = (material: Buffer) => createPrivateKey({ key: material, format: 'der', type: 'pkcs8' });

/** The DER SubjectPublicKeyInfo of an asymmetric key, as GetPublicKey answers it. */
export const publicKeyDer = (material: Buffer) => createPublicKey(privateKeyOf(material)).export({ format: 'der', type: 'spki' });

// ---- symmetric ciphertext blobs ----

const FORMAT = 1;
const KEY_ID_LENGTH = 36;
const HEADER = 1 + KEY_ID_LENGTH + 4;
const IV = 12;
const TAG = 16;

/** Encryption context as bytes: keys sorted, so the same pairs in any order give the same AAD. */
export function contextBytes(context: Record<string, string> | undefined): Buffer {
  const entries = Object.entries(context ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Buffer.from(JSON.stringify(entries), 'utf8');
}

export function sealSymmetric(keyId: string, version: number, material: Buffer, plaintext: Buffer, context?: Record<string, string>) {
  const header = Buffer.alloc(HEADER);
  header[0] = FORMAT;
  header.write(keyId.padEnd(KEY_ID_LENGTH, ' '), 1, 'latin1');
  header.writeUInt32BE(version, 1 + KEY_ID_LENGTH);
  const iv = randomBytes(IV);
  const cipher = createCipheriv('aes-256-gcm', material, iv);
  cipher.setAAD(Buffer.concat([header, contextBytes(context)]));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([header, iv, cipher.getAuthTag(), body]);
}

/** The key id and material version a blob names, or undefined when it is not one of opsbox's symmetric blobs. */
export function readBlobHeader(blob: Buffer): { keyId: string; version: number } | undefined {
  if (blob.length < HEADER + IV + TAG || blob[0] !== FORMAT) return undefined;
  return { keyId: blob.toString('latin1', 1, 1 + KEY_ID_LENGTH).trimEnd(), version: blob.readUInt32BE(1 + KEY_ID_LENGTH) };
}

/** The plaintext, or undefined when the blob, key or context do not match. */
export function openSymmetric(blob: Buffer, material: Buffer, context?: Record<string, string>): Buffer | undefined {
  try {
    const header = blob.subarray(0, HEADER);
    const decipher = createDecipheriv('aes-256-gcm', material, blob.subarray(HEADER, HEADER + IV));
    decipher.setAAD(Buffer.concat([header, contextBytes(context)]));
    decipher.setAuthTag(blob.subarray(HEADER + IV, HEADER + IV + TAG));
    return Buffer.concat([decipher.update(blob.subarray(HEADER + IV + TAG)), decipher.final()]);
  } catch {
    return undefined;
  }
}

// ---- RSA encryption ----

export const RSA_ENCRYPTION = { RSAES_OAEP_SHA_1: 'sha1', RSAES_OAEP_SHA_256: 'sha256' } as const;
export type RsaEncryption = keyof typeof RSA_ENCRYPTION;

/** The largest plaintext RSA-OAEP takes for a modulus of `bits` (AWS's limits: 214/190 bytes for RSA_2048). */
export const rsaMaxPlaintext = (bits: number, alg: RsaEncryption) => bits / 8 - 2 * (alg === 'RSAES_OAEP_SHA_1' ? 20 : 32) - 2;

export function rsaEncrypt(material: Buffer, alg: RsaEncryption, plaintext: Buffer) {
  return publicEncrypt(
    { key: createPublicKey(privateKeyOf(material)), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: RSA_ENCRYPTION[alg] },
    plaintext,
  );
}

export function rsaDecrypt(material: Buffer, alg: RsaEncryption, ciphertext: Buffer): Buffer | undefined {
  try {
    return privateDecrypt(
      { key: privateKeyOf(material), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: RSA_ENCRYPTION[alg] },
      ciphertext,
    );
  } catch {
    return undefined;
  }
}

// ---- signatures ----

export const SIGNING = {
  RSASSA_PSS_SHA_256: { kind: 'rsa', hash: 'sha256', pss: true },
  RSASSA_PSS_SHA_384: { kind: 'rsa', hash: 'sha384', pss: true },
  RSASSA_PSS_SHA_512: { kind: 'rsa', hash: 'sha512', pss: true },
  RSASSA_PKCS1_V1_5_SHA_256: { kind: 'rsa', hash: 'sha256', pss: false },
  RSASSA_PKCS1_V1_5_SHA_384: { kind: 'rsa', hash: 'sha384', pss: false },
  RSASSA_PKCS1_V1_5_SHA_512: { kind: 'rsa', hash: 'sha512', pss: false },
  ECDSA_SHA_256: { kind: 'ec', hash: 'sha256', pss: false },
  ECDSA_SHA_384: { kind: 'ec', hash: 'sha384', pss: false },
  ECDSA_SHA_512: { kind: 'ec', hash: 'sha512', pss: false },
} as const;
export type SigningAlgorithm = keyof typeof SIGNING;

/** The signing algorithms a key spec supports, in AWS's order. */
export function signingAlgorithmsFor(spec: KeySpec): SigningAlgorithm[] {
  const s = KEY_SPECS[spec];
  if (s.kind === 'rsa') return (Object.keys(SIGNING) as SigningAlgorithm[]).filter((a) => SIGNING[a].kind === 'rsa');
  if (s.kind === 'ec') return [`ECDSA_${s.hash.replace('sha', 'SHA_')}` as SigningAlgorithm];
  return [];
}

/** DER DigestInfo prefixes (RFC 8017 §9.2) for signing a digest the caller computed with PKCS#1 v1.5. */
const DIGEST_INFO: Record<string, string> = {
  sha256: '3031300d060960864801650304020105000420',
  sha384: '3041300d060960864801650304020205000430',
  sha512: '3051300d060960864801650304020305000440',
};

const DIGEST_BYTES: Record<string, number> = { sha256: 32, sha384: 48, sha512: 64 };

export type MessageType = 'RAW' | 'DIGEST';

/** Whether a message of this type and length is one the algorithm signs; a DIGEST must be exactly the hash's length. */
export const digestLengthOk = (alg: SigningAlgorithm, type: MessageType, message: Buffer) =>
  type === 'RAW' || message.length === DIGEST_BYTES[SIGNING[alg].hash];

/** Whether opsbox can sign this combination (a precomputed digest needs PKCS#1 v1.5: node:crypto only hashes for PSS and ECDSA). */
export const canSign = (alg: SigningAlgorithm, type: MessageType) => type === 'RAW' || (SIGNING[alg].kind === 'rsa' && !SIGNING[alg].pss);

const rsaOptions = (key: KeyObject, alg: SigningAlgorithm) =>
  SIGNING[alg].pss
    ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: DIGEST_BYTES[SIGNING[alg].hash] }
    : { key, padding: constants.RSA_PKCS1_PADDING };

export function signMessage(material: Buffer, alg: SigningAlgorithm, type: MessageType, message: Buffer): Buffer {
  const key = privateKeyOf(material);
  const a = SIGNING[alg];
  if (type === 'DIGEST') return privateEncrypt(rsaOptions(key, alg), Buffer.concat([Buffer.from(DIGEST_INFO[a.hash], 'hex'), message]));
  return sign(a.hash, message, a.kind === 'rsa' ? rsaOptions(key, alg) : { key, dsaEncoding: 'der' });
}

export function verifySignature(material: Buffer, alg: SigningAlgorithm, type: MessageType, message: Buffer, signature: Buffer): boolean {
  const key = createPublicKey(privateKeyOf(material));
  const a = SIGNING[alg];
  try {
    if (type === 'DIGEST') {
      const expected = Buffer.concat([Buffer.from(DIGEST_INFO[a.hash], 'hex'), message]);
      const got = publicDecrypt({ key, padding: constants.RSA_PKCS1_PADDING }, signature);
      return got.length === expected.length && timingSafeEqual(got, expected);
    }
    return verify(a.hash, message, a.kind === 'rsa' ? rsaOptions(key, alg) : { key, dsaEncoding: 'der' }, signature);
  } catch {
    return false;
  }
}

// ---- HMAC ----

export const MAC_ALGORITHMS = { HMAC_SHA_224: 'sha224', HMAC_SHA_256: 'sha256', HMAC_SHA_384: 'sha384', HMAC_SHA_512: 'sha512' } as const;
export type MacAlgorithm = keyof typeof MAC_ALGORITHMS;

/** The one MAC algorithm an HMAC key spec supports (HMAC_256 → HMAC_SHA_256). */
export const macAlgorithmFor = (spec: KeySpec) =>
  KEY_SPECS[spec].kind === 'hmac' ? (`HMAC_SHA_${spec.slice(5)}` as MacAlgorithm) : undefined;

export const mac = (material: Buffer, alg: MacAlgorithm, message: Buffer) =>
  createHmac(MAC_ALGORITHMS[alg], material).update(message).digest();

export function macMatches(material: Buffer, alg: MacAlgorithm, message: Buffer, given: Buffer) {
  const expected = mac(material, alg, message);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
