import { createHmac, timingSafeEqual } from 'node:crypto';

/** Maximum accepted token length. Issued tokens have at most about 220 characters. */
export const MAX_TOKEN_LENGTH = 1024;

function mac(key: Buffer, body: string): string {
  return createHmac('sha256', key).update(body, 'utf8').digest('base64url');
}

/** Signs `payload` as `base64url(JSON).base64url(HMAC-SHA256(key, first part))`. */
export function signToken(key: Buffer, payload: object): string {
  const body = Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');
  return `${body}.${mac(key, body)}`;
}

/**
 * Returns the payload of a token signed with `key`, or null when the token is malformed or its
 * signature does not match. The signature text is compared, not its decoded bytes, because
 * Node's base64url decoder skips stray characters, and one signature must have one spelling.
 */
export function openToken(key: Buffer, token: string): unknown {
  if (token.length > MAX_TOKEN_LENGTH) return null;
  const dot = token.indexOf('.');
  if (dot <= 0 || dot !== token.lastIndexOf('.')) return null;
  const body = token.slice(0, dot);
  const presented = Buffer.from(token.slice(dot + 1), 'utf8');
  const expected = Buffer.from(mac(key, body), 'utf8');
  if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) return null;
  try {
    return JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as unknown;
  } catch {
    return null;
  }
}
