/**
 * GetRandomPassword: AWS's character classes (lowercase, uppercase, digits, and the 32 ASCII
 * punctuation characters !"#$%&'()*+,-./:;<=>?@[\]^_`{|}~), the space only on request, every
 * character drawn with node:crypto's randomInt. With RequireEachIncludedType (the default) the
 * password holds at least one character of each class still in play after the exclusions; the
 * space is not a class that is required. No store, no context: unit-tested alone.
 */
import { randomInt } from 'node:crypto';

export const LOWERCASE = 'abcdefghijklmnopqrstuvwxyz';
export const UPPERCASE = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
export const DIGITS = '0123456789';
export const PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';

export interface PasswordOptions {
  PasswordLength?: number;
  ExcludeCharacters?: string;
  ExcludeNumbers?: boolean;
  ExcludePunctuation?: boolean;
  ExcludeUppercase?: boolean;
  ExcludeLowercase?: boolean;
  IncludeSpace?: boolean;
  RequireEachIncludedType?: boolean;
}

/** Why a password cannot be made; the handler words it as AWS does. */
export type PasswordProblem = 'noCharacters' | 'tooShort';

export class PasswordError extends Error {
  constructor(readonly problem: PasswordProblem) {
    super(problem);
  }
}

/** The character classes the options leave, each without the excluded characters; empty ones dropped. */
export function characterClasses(o: PasswordOptions): { required: string[]; optional: string } {
  const excluded = new Set(o.ExcludeCharacters ?? '');
  const keep = (chars: string) => [...chars].filter((c) => !excluded.has(c)).join('');
  const required = [
    o.ExcludeLowercase ? '' : keep(LOWERCASE),
    o.ExcludeUppercase ? '' : keep(UPPERCASE),
    o.ExcludeNumbers ? '' : keep(DIGITS),
    o.ExcludePunctuation ? '' : keep(PUNCTUATION),
  ].filter((c) => c.length > 0);
  return { required, optional: o.IncludeSpace ? keep(' ') : '' };
}

export function randomPassword(o: PasswordOptions = {}): string {
  const length = o.PasswordLength ?? 32;
  const { required, optional } = characterClasses(o);
  const pool = required.join('') + optional;
  if (pool.length === 0) throw new PasswordError('noCharacters');
  const requireEach = o.RequireEachIncludedType ?? true;
  if (requireEach && length < required.length) throw new PasswordError('tooShort');

  const out = Array.from({ length }, () => pool[randomInt(pool.length)]);
  if (requireEach) {
    // one character of each class at distinct random positions (the first steps of a Fisher–Yates shuffle)
    const positions = Array.from({ length }, (_, i) => i);
    required.forEach((chars, i) => {
      const j = i + randomInt(length - i);
      [positions[i], positions[j]] = [positions[j], positions[i]];
      out[positions[i]] = chars[randomInt(chars.length)];
    });
  }
  return out.join('');
}
