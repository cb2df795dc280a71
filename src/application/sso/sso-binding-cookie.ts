import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

import type { FastifyReply, FastifyRequest } from 'fastify';

import { overTls } from '../auth/session-cookie.js';

/**
 * The cookie that binds an SSO sign-in to the browser that started it. Over TLS the `__Host-`
 * prefix keeps other hosts from setting it. SameSite=Lax, because the provider sends the browser
 * back with a cross-site top-level GET, which Strict cookies do not accompany.
 */
const SECURE_NAME = '__Host-mw_sso';
const PLAIN_NAME = 'mw_sso';

/** Lifetime of a started sign-in and of its binding cookie. */
export const SSO_LOGIN_TTL_MS = 10 * 60 * 1000;

function cookieName(request: FastifyRequest): string {
  return overTls(request) ? SECURE_NAME : PLAIN_NAME;
}

function writeCookie(request: FastifyRequest, reply: FastifyReply, value: string, maxAge: number) {
  const attributes = [
    `${cookieName(request)}=${value}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Lax',
    `Max-Age=${maxAge}`,
  ];
  if (overTls(request)) attributes.push('Secure');
  void reply.header('set-cookie', attributes.join('; '));
}

export function hashBinding(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** A new random binding value and its SHA-256, which is all the server stores. */
export function newBinding(): { value: string; hash: Buffer } {
  const value = randomBytes(32).toString('base64url');
  return { value, hash: hashBinding(value) };
}

export function setBindingCookie(request: FastifyRequest, reply: FastifyReply, value: string) {
  writeCookie(request, reply, value, Math.floor(SSO_LOGIN_TTL_MS / 1000));
}

export function clearBindingCookie(request: FastifyRequest, reply: FastifyReply): void {
  writeCookie(request, reply, '', 0);
}

/** Reads the binding cookie; null when it is absent, malformed, or set twice. */
export function readBindingCookie(request: FastifyRequest): string | null {
  const header = request.headers.cookie;
  if (typeof header !== 'string' || header.length > 8192) return null;
  const name = cookieName(request);
  let found: string | null = null;
  for (const part of header.split(';')) {
    const separator = part.indexOf('=');
    if (separator < 0 || part.slice(0, separator).trim() !== name) continue;
    if (found !== null) return null;
    found = part.slice(separator + 1).trim();
  }
  return found !== null && /^[A-Za-z0-9_-]{43}$/.test(found) ? found : null;
}

/** Compares the presented cookie with the stored hash in constant time. */
export function bindingMatches(presented: string | null, storedHash: Buffer): boolean {
  if (presented === null) return false;
  const hash = hashBinding(presented);
  return hash.length === storedHash.length && timingSafeEqual(hash, storedHash);
}
