import { parseOptions } from '@node-rs/argon2';

import { ARGON2_OPTIONS } from '../../tenancy/users/password.js';

// Algorithm.Argon2id and Version.V0x13; the package exports both enums as ambient const enums.
const ARGON2ID = 2;
const VERSION_0X13 = 1;
const MIN_SALT_BYTES = 16;
const MIN_OUTPUT_BYTES = 32;

/**
 * Checks whether a stored PHC string was made with weaker settings than today's: another
 * algorithm or version, less memory, fewer passes, or a shorter salt or output. A string that
 * does not parse also needs a new hash, once the password behind it has been verified.
 */
export function needsRehash(phc: string): boolean {
  let stored;
  try {
    stored = parseOptions(phc);
  } catch {
    return true;
  }
  return (
    Number(stored.algorithm) !== ARGON2ID ||
    Number(stored.version) !== VERSION_0X13 ||
    stored.memoryCost < (ARGON2_OPTIONS.memoryCost ?? 0) ||
    stored.timeCost < (ARGON2_OPTIONS.timeCost ?? 0) ||
    stored.parallelism < (ARGON2_OPTIONS.parallelism ?? 0) ||
    stored.saltLen < MIN_SALT_BYTES ||
    stored.outputLen < MIN_OUTPUT_BYTES
  );
}
