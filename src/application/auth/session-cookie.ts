import type { FastifyReply, FastifyRequest } from 'fastify';

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Browsers reach this server over TLS: its own, or that of a proxy in front
     * (TRUST_PROXY_TLS), which may forward plain HTTP without X-Forwarded-Proto.
     */
    servedOverTls: boolean;
  }
}

/**
 * Cookie names: over TLS the `__Host-` prefix makes browsers require Secure and Path=/ and
 * forbid a Domain attribute, so no other host can set or read it. Plain HTTP (a loopback or a
 * TLS-terminating proxy in front) cannot set Secure cookies, so it gets the plain name.
 */
export const SECURE_SESSION_COOKIE = '__Host-mw_session';
export const PLAIN_SESSION_COOKIE = 'mw_session';

/** The header a cookie session's state-changing requests carry their CSRF token in. */
export const CSRF_HEADER = 'x-csrf-token';

/** Returns whether the browser sent the request over TLS, to this server or to its proxy. */
export function overTls(request: FastifyRequest): boolean {
  return request.protocol === 'https' || request.server.servedOverTls === true;
}

/** Reads one cookie from the Cookie header; null when it is absent or appears twice. */
function readCookie(header: string, name: string): string | null {
  let found: string | null = null;
  for (const part of header.split(';')) {
    const separator = part.indexOf('=');
    if (separator < 0 || part.slice(0, separator).trim() !== name) continue;
    // Two cookies of one name mean one was planted (e.g. by a sibling subdomain): trust neither.
    if (found !== null) return null;
    found = part.slice(separator + 1).trim();
  }
  return found;
}

/** The session token of the request's session cookie, or null. */
export function sessionCookieToken(request: FastifyRequest): string | null {
  const header = request.headers.cookie;
  if (typeof header !== 'string' || header.length > 8192) return null;
  const name = overTls(request) ? SECURE_SESSION_COOKIE : PLAIN_SESSION_COOKIE;
  return readCookie(header, name);
}

/** Sets the session cookie: httpOnly, SameSite=Strict, Path=/, and Secure over TLS. */
export function setSessionCookie(
  request: FastifyRequest,
  reply: FastifyReply,
  token: string,
  maxAgeMs: number,
): void {
  const secure = overTls(request);
  const name = secure ? SECURE_SESSION_COOKIE : PLAIN_SESSION_COOKIE;
  const attributes = [
    `${name}=${token}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Strict',
    `Max-Age=${Math.floor(maxAgeMs / 1000)}`,
  ];
  if (secure) attributes.push('Secure');
  void reply.header('set-cookie', attributes.join('; '));
}

/** Expires the session cookie in the browser. */
export function clearSessionCookie(request: FastifyRequest, reply: FastifyReply): void {
  const secure = overTls(request);
  const name = secure ? SECURE_SESSION_COOKIE : PLAIN_SESSION_COOKIE;
  const attributes = [`${name}=`, 'Path=/', 'HttpOnly', 'SameSite=Strict', 'Max-Age=0'];
  if (secure) attributes.push('Secure');
  void reply.header('set-cookie', attributes.join('; '));
}
