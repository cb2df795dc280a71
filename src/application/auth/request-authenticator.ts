import type { FastifyRequest } from 'fastify';

import { AppError } from '../../http/errors.js';
import type { SessionService, SessionPrincipal } from './session.service.js';
import { CSRF_HEADER, sessionCookieToken } from './session-cookie.js';
import { csrfTokenMatches } from './session-token.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

function bearerToken(header: string): string | null {
  const match = /^Bearer ([^\s]+)$/i.exec(header);
  return match?.[1] ?? null;
}

/**
 * Authenticates an admin request by its session, or returns null. A request with an
 * Authorization header is judged by that header alone and needs no CSRF token, because a
 * browser never adds the header to a cross-site request by itself. A request authenticated by
 * the session cookie must send the session's CSRF token in `x-csrf-token` on every method but
 * GET, HEAD and OPTIONS, or it is rejected with `csrf_token_invalid`.
 */
export async function authenticateRequest(
  sessions: SessionService,
  request: FastifyRequest,
): Promise<SessionPrincipal | null> {
  const authorization = request.headers.authorization;
  if (typeof authorization === 'string') {
    const token = bearerToken(authorization);
    if (!token) return null;
    const found = await sessions.authenticate(token);
    if (!found) return null;
    const { csrfTokenHash: _omitted, ...principal } = found;
    return principal;
  }

  const token = sessionCookieToken(request);
  if (!token) return null;
  const found = await sessions.authenticate(token);
  if (!found) return null;
  if (!SAFE_METHODS.has(request.method)) {
    const presented = request.headers[CSRF_HEADER];
    if (typeof presented !== 'string' || !csrfTokenMatches(presented, found.csrfTokenHash)) {
      throw new AppError('csrf_token_invalid');
    }
  }
  const { csrfTokenHash: _omitted, ...principal } = found;
  return principal;
}
