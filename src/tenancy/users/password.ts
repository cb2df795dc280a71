import { randomInt } from 'node:crypto';

import { hash, verify, type Options } from '@node-rs/argon2';

/**
 * argon2id parameters: 19 MiB of memory, 2 passes, 1 lane, the minimum OWASP recommends.
 * They are stored in each PHC string, so raising them later still verifies old hashes.
 */
export const ARGON2_OPTIONS: Options = {
  // Algorithm.Argon2id; the package exports the enum as an ambient const enum.
  algorithm: 2,
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
};

/** Hashes a password with argon2id into a PHC string. */
export function hashPassword(password: string): Promise<string> {
  return hash(password, ARGON2_OPTIONS);
}

// Verifying against this hash costs as much as a real check, so that a login for an unknown
// email takes as long as one for a known email and timing does not reveal which emails exist.
let dummyHash: Promise<string> | undefined;

/** Checks a password against a PHC string; with `null` it burns the same time and fails. */
export async function verifyPassword(phc: string | null, password: string): Promise<boolean> {
  if (phc === null) {
    dummyHash ??= hashPassword('mindweave-dummy-password-for-timing');
    await verify(await dummyHash, password).catch(() => false);
    return false;
  }
  return verify(phc, password).catch(() => false);
}

const LOWER = 'abcdefghijkmnopqrstuvwxyz';
const UPPER = 'ABCDEFGHJKLMNPQRSTUVWXYZ';
const DIGITS = '23456789';
const SYMBOLS = '!#%+-=?@^_';

/**
 * Generates a 24-character password from a cryptographic random source that satisfies the
 * password policy; look-alike characters (0, O, 1, l, I) are left out so it can be typed.
 */
export function generatePassword(length = 24): string {
  const all = LOWER + UPPER + DIGITS + SYMBOLS;
  const pick = (alphabet: string) => alphabet.charAt(randomInt(alphabet.length));
  const chars = [pick(LOWER), pick(UPPER), pick(DIGITS), pick(SYMBOLS)];
  while (chars.length < length) chars.push(pick(all));
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j] as string, chars[i] as string];
  }
  return chars.join('');
}
