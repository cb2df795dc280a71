import { createHash, randomBytes } from 'node:crypto';

/** Prefix of password reset tokens, so a leaked one is recognizable in a secret scan. */
export const RESET_TOKEN_PREFIX = 'mw_reset_';
const RESET_PATTERN = /^mw_reset_[A-Za-z0-9_-]{43}$/;

/** Prefix of invitation tokens. */
export const INVITATION_TOKEN_PREFIX = 'mw_invite_';
const INVITATION_PATTERN = /^mw_invite_[A-Za-z0-9_-]{43}$/;

/** A token sent by mail: 256 random bits, and its SHA-256, the only form that is stored. */
export interface MailedToken {
  token: string;
  hash: Buffer;
}

function generate(prefix: string): MailedToken {
  const token = prefix + randomBytes(32).toString('base64url');
  return { token, hash: sha256(token) };
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

export function generateResetToken(): MailedToken {
  return generate(RESET_TOKEN_PREFIX);
}

/** Hashes a presented reset token; null when it does not have the shape of one. */
export function hashResetToken(token: string): Buffer | null {
  return RESET_PATTERN.test(token) ? sha256(token) : null;
}

export function generateInvitationToken(): MailedToken {
  return generate(INVITATION_TOKEN_PREFIX);
}

/** Hashes a presented invitation token; null when it does not have the shape of one. */
export function hashInvitationToken(token: string): Buffer | null {
  return INVITATION_PATTERN.test(token) ? sha256(token) : null;
}
