import { createHash, randomBytes } from 'node:crypto';

export const SESSION_TOKEN_PREFIX = 'mw_sess_';
const TOKEN_PATTERN = /^mw_sess_[A-Za-z0-9_-]{43}$/;

/** Generates a session token of 256 random bits; only its SHA-256 is stored. */
export function generateSessionToken(): { token: string; hash: Buffer } {
  const token = SESSION_TOKEN_PREFIX + randomBytes(32).toString('base64url');
  return { token, hash: hashSessionToken(token) };
}

export function hashSessionToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

export function isSessionTokenShape(value: string): boolean {
  return TOKEN_PATTERN.test(value);
}
