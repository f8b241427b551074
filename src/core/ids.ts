import { randomBytes, randomUUID } from 'node:crypto';

export const requestId = () => randomUUID();
export const uuid = () => randomUUID();

const UPPER_ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export function randomString(length: number, alphabet = UPPER_ALNUM): string {
  const bytes = randomBytes(length);
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[bytes[i] % alphabet.length];
  return out;
}

/** IAM-style unique ids: a 4-letter prefix (AROA, AIDA, ANPA, AIPA, AKIA, ASIA) and 16 more characters. */
export const iamId = (prefix: string) => prefix + randomString(16);
export const secretKey = () => randomString(40, BASE62 + '/+');
export const hexId = (bytes: number) => randomBytes(bytes).toString('hex');
