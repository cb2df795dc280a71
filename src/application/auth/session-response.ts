import type { FastifyReply, FastifyRequest } from 'fastify';

import type { OpenedSession } from './session.service.js';
import { setSessionCookie } from './session-cookie.js';

/**
 * Delivers a new session: a cookie session sets the cookie and returns its CSRF token, and a
 * bearer session returns the token. Either way the body carries the session id and expiry.
 */
export function deliverSession(
  request: FastifyRequest,
  reply: FastifyReply,
  opened: OpenedSession,
  maxAgeMs: number,
): Record<string, unknown> {
  const common = {
    sessionId: opened.session.id,
    sessionType: opened.session.sessionType,
    expiresAt: opened.session.expiresAt.toISOString(),
  };
  if (opened.session.sessionType === 'cookie') {
    setSessionCookie(request, reply, opened.token, maxAgeMs);
    return { ...common, csrfToken: opened.csrfToken };
  }
  return { ...common, token: opened.token };
}
