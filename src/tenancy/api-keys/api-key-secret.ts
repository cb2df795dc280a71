import { createHash, randomBytes } from 'node:crypto';

/** Readable prefix of every MindWeave API key, so secret scanners and people can spot one. */
export const API_KEY_PREFIX = 'mw_live_';

/** 32 random bytes in base64url are 43 characters. */
const SECRET_LENGTH = 43;
const KEY_PATTERN = /^mw_live_[A-Za-z0-9_-]{43}$/;

/** A newly generated key: the full secret is returned to its creator once and never stored. */
export interface GeneratedApiKey {
  secret: string;
  hash: Buffer;
  prefix: string;
  lastFour: string;
}

/** Generates a key from 32 random bytes (256 bits). */
export function generateApiKey(): GeneratedApiKey {
  const secret = API_KEY_PREFIX + randomBytes(32).toString('base64url');
  return { secret, hash: hashApiKey(secret), prefix: API_KEY_PREFIX, lastFour: secret.slice(-4) };
}

/** SHA-256 of the full key, the only form in which a key is stored. */
export function hashApiKey(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

/** Whether `value` has the shape of a MindWeave API key; checked before any database lookup. */
export function isApiKeyShape(value: string): boolean {
  return value.length === API_KEY_PREFIX.length + SECRET_LENGTH && KEY_PATTERN.test(value);
}

/** The only form in which a key appears in logs, audit entries and errors: `mw_live_…abcd`. */
export function maskApiKey(prefix: string, lastFour: string): string {
  return `${prefix}…${lastFour}`;
}
