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

/** IAM unique ids (AROA…, AIDA…, ANPA…, AIPA…): 21 characters. */
export const iamId = (prefix: string) => prefix + randomString(17);
/** Access key ids (AKIA… for IAM users, ASIA… for STS): 20 characters. */
export const accessKeyId = (prefix: 'AKIA' | 'ASIA') => prefix + randomString(16);
export const secretKey = () => randomString(40, BASE62 + '/+');
export const hexId = (bytes: number) => randomBytes(bytes).toString('hex');
