/** GetRandomPassword's generator alone: classes, exclusions, RequireEachIncludedType, the space, refusals. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  characterClasses,
  DIGITS,
  LOWERCASE,
  PasswordError,
  PUNCTUATION,
  randomPassword,
  UPPERCASE,
} from '../../src/services/secretsmanager/password.js';

const has = (pw: string, chars: string) => [...pw].some((c) => chars.includes(c));

test('the punctuation set is the 32 ASCII punctuation characters AWS documents', () => {
  assert.equal(PUNCTUATION, '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~');
  assert.equal(new Set(PUNCTUATION).size, 32);
  const ascii = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join('');
  assert.equal(
    LOWERCASE.length + UPPERCASE.length + DIGITS.length + PUNCTUATION.length,
    ascii.length - 1,
    'all printable ASCII but the space',
  );
});

test('defaults: 32 characters with every class, no space', () => {
  for (let i = 0; i < 200; i++) {
    const pw = randomPassword();
    assert.equal(pw.length, 32);
    for (const chars of [LOWERCASE, UPPERCASE, DIGITS, PUNCTUATION]) assert.ok(has(pw, chars), `${pw} lacks one of ${chars}`);
    assert.ok(!pw.includes(' '));
  }
});

test('RequireEachIncludedType holds even at the shortest length', () => {
  for (let i = 0; i < 500; i++) {
    const pw = randomPassword({ PasswordLength: 4 });
    for (const chars of [LOWERCASE, UPPERCASE, DIGITS, PUNCTUATION]) assert.ok(has(pw, chars), pw);
  }
  assert.throws(
    () => randomPassword({ PasswordLength: 3 }),
    (e: unknown) => e instanceof PasswordError && e.problem === 'tooShort',
  );
  assert.equal(randomPassword({ PasswordLength: 1, RequireEachIncludedType: false }).length, 1);
  // fewer classes make fewer required characters
  assert.match(
    randomPassword({ PasswordLength: 2, ExcludeNumbers: true, ExcludePunctuation: true }),
    /^(?=.*[a-z])(?=.*[A-Z])[A-Za-z]{2}$/,
  );
});

test('exclusions: whole classes and single characters; a class emptied by ExcludeCharacters is not required', () => {
  assert.match(randomPassword({ PasswordLength: 300, ExcludeLowercase: true }), /^[^a-z]{300}$/);
  assert.match(randomPassword({ PasswordLength: 300, ExcludeUppercase: true, ExcludeNumbers: true }), /^[^A-Z0-9]{300}$/);
  const pw = randomPassword({ PasswordLength: 500, ExcludeCharacters: '"\'\\/@ lI1O0' });
  assert.ok(![...pw].some((c) => '"\'\\/@ lI1O0'.includes(c)), pw);
  const noDigits = randomPassword({ PasswordLength: 8, ExcludeCharacters: DIGITS });
  assert.ok(!has(noDigits, DIGITS));
  assert.deepEqual(characterClasses({ ExcludeCharacters: DIGITS }).required.length, 3);
  assert.throws(
    () => randomPassword({ ExcludeLowercase: true, ExcludeUppercase: true, ExcludeNumbers: true, ExcludePunctuation: true }),
    (e: unknown) => e instanceof PasswordError && e.problem === 'noCharacters',
  );
  // only the space left: allowed, nothing is required of it
  assert.equal(
    randomPassword({
      PasswordLength: 5,
      IncludeSpace: true,
      ExcludeLowercase: true,
      ExcludeUppercase: true,
      ExcludeNumbers: true,
      ExcludePunctuation: true,
    }),
    '     ',
  );
});

test('IncludeSpace puts the space in the pool; every character is drawn from the pool', () => {
  const pw = randomPassword({ PasswordLength: 4096, IncludeSpace: true });
  assert.equal(pw.length, 4096);
  assert.ok(pw.includes(' '));
  assert.match(pw, /^[\x20-\x7e]+$/);
  // roughly uniform: each of the 95 characters turns up in a long password
  assert.equal(new Set(pw).size, 95);
});
