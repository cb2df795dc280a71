import { createHash, randomInt } from 'node:crypto';

/** Codes issued per enrollment; each works once. */
export const RECOVERY_CODE_COUNT = 10;

// 31 symbols without look-alikes (0/O, 1/I/L), so 16 characters carry about 79 random bits.
const ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';
const GROUPS = 4;
const GROUP_LENGTH = 4;

/** Generates one recovery code such as `k7qm-x2ht-9bnc-wd4e`. */
export function generateRecoveryCode(): string {
  const groups: string[] = [];
  for (let g = 0; g < GROUPS; g++) {
    let group = '';
    for (let i = 0; i < GROUP_LENGTH; i++) group += ALPHABET.charAt(randomInt(ALPHABET.length));
    groups.push(group);
  }
  return groups.join('-');
}

/** Normalizes a typed recovery code: lower case, spaces and hyphens removed. */
export function normalizeRecoveryCode(code: string): string | null {
  const normalized = code.toLowerCase().replace(/[\s-]/g, '');
  if (normalized.length !== GROUPS * GROUP_LENGTH) return null;
  for (const char of normalized) if (!ALPHABET.includes(char)) return null;
  return normalized;
}

/**
 * Hashes a normalized recovery code with SHA-256. The code carries about 79 random bits, so a fast
 * hash is enough, as for API keys and session tokens.
 */
export function hashRecoveryCode(normalized: string): Buffer {
  return createHash('sha256').update(`mindweave-recovery-code:${normalized}`, 'utf8').digest();
}
