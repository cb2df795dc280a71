import type { FastifyRequest } from 'fastify';

import { isSessionTokenShape } from '../../application/auth/session-token.js';
import { sessionCookieToken } from '../../application/auth/session-cookie.js';
import { presentedApiKey } from '../../gateway/auth/presented-api-key.js';
import { isApiKeyShape } from '../../tenancy/api-keys/api-key-secret.js';
import { isAutomationUserAgent } from './bot-signatures.js';
import { CHALLENGE_ROUTES } from './challenge.routes.js';

/** Rule that makes a request need a pass. */
export type ChallengeTrigger = 'tor:exit' | 'bot:user-agent';

// Reachable without a pass: the challenge itself, and the probes of load balancers.
const OPEN_ROUTES = new Set<string>([
  CHALLENGE_ROUTES.issue,
  CHALLENGE_ROUTES.verify,
  '/healthz',
  '/readyz',
]);

/** Returns true when the request carries an API key or a session token, by shape only. */
function carriesCredential(request: FastifyRequest): boolean {
  const presented = presentedApiKey(request.headers);
  if (presented && (isApiKeyShape(presented) || isSessionTokenShape(presented))) return true;
  const cookie = sessionCookieToken(request);
  return cookie !== null && isSessionTokenShape(cookie);
}

/**
 * Returns true for a request that proves nothing about its sender: one to a public route, to
 * no route, or without an API key or session token. The credential is checked by shape only,
 * because authentication runs later. A forged credential therefore skips the challenge but
 * then gets 401, and public routes such as sign-in never skip it.
 */
export function isAnonymous(request: FastifyRequest): boolean {
  const security = request.routeOptions.config?.security;
  if (!security || security.auth === 'public') return true;
  return !carriesCredential(request);
}

function isAdminPath(request: FastifyRequest): boolean {
  const path = request.routeOptions.url ?? request.url.split('?')[0] ?? '';
  return path === '/api/v1' || path.startsWith('/api/v1/');
}

/**
 * Returns why the request must carry a pass, or null. Only anonymous requests are challenged:
 * from a Tor exit relay on any route, and from an automation User-Agent on admin routes. The
 * challenge routes and health probes are never challenged.
 */
export function challengeTrigger(
  request: FastifyRequest,
  fromChallengedTorExit: boolean,
  challengeBots: boolean,
): ChallengeTrigger | null {
  const route = request.routeOptions.url;
  if (route !== undefined && OPEN_ROUTES.has(route)) return null;
  if (!isAnonymous(request)) return null;
  if (fromChallengedTorExit) return 'tor:exit';
  const userAgent = request.headers['user-agent'];
  if (challengeBots && isAdminPath(request) && isAutomationUserAgent(userAgent)) {
    return 'bot:user-agent';
  }
  return null;
}
