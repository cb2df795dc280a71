import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const SESSION_TOKEN_PREFIX = 'mw_sess_';
const TOKEN_PATTERN = /^mw_sess_[A-Za-z0-9_-]{43}$/;

export const MFA_CHALLENGE_PREFIX = 'mw_mfa_';
const CHALLENGE_PATTERN = /^mw_mfa_[A-Za-z0-9_-]{43}$/;

const CSRF_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** A random secret of 256 bits and its SHA-256, the only form that is stored. */
export interface GeneratedSecret {
  token: string;
  hash: Buffer;
}

function generate(prefix: string): GeneratedSecret {
  const token = prefix + randomBytes(32).toString('base64url');
  return { token, hash: sha256(token) };
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Generates a session token of 256 random bits; only its SHA-256 is stored. */
export function generateSessionToken(): GeneratedSecret {
  return generate(SESSION_TOKEN_PREFIX);
}

export function hashSessionToken(token: string): Buffer {
  return sha256(token);
}

export function isSessionTokenShape(value: string): boolean {
  return TOKEN_PATTERN.test(value);
}

/** Generates the CSRF token of a cookie session (256 random bits, no prefix). */
export function generateCsrfToken(): GeneratedSecret {
  return generate('');
}

/** Compares a presented CSRF token with the stored SHA-256 in constant time. */
export function csrfTokenMatches(presented: string, storedHash: Buffer | null): boolean {
  if (!storedHash || !CSRF_PATTERN.test(presented)) return false;
  const presentedHash = sha256(presented);
  return presentedHash.length === storedHash.length && timingSafeEqual(presentedHash, storedHash);
}

/** Generates the token of an MFA sign-in challenge; only its SHA-256 is stored. */
export function generateChallengeToken(): GeneratedSecret {
  return generate(MFA_CHALLENGE_PREFIX);
}

export function hashChallengeToken(token: string): Buffer | null {
  return CHALLENGE_PATTERN.test(token) ? sha256(token) : null;
}
