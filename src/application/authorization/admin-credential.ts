import type { FastifyRequest } from 'fastify';

import type { Database } from '../../data/database/database.js';
import { presentedApiKey } from '../../gateway/auth/presented-api-key.js';
import { hashApiKey, isApiKeyShape } from '../../tenancy/api-keys/api-key-secret.js';
import { findApiKeyGrant, type ApiKeyGrant } from '../../tenancy/api-keys/api-key.repository.js';
import { authenticateRequest } from '../auth/request-authenticator.js';
import type { SessionPrincipal, SessionService } from '../auth/session.service.js';

/** The credential of an admin request: a user's session, or an API key of an organization. */
export type AdminCredential =
  { type: 'session'; principal: SessionPrincipal } | { type: 'api_key'; key: ApiKeyGrant };

/** Returns the API key an admin request presents, if it presents one rather than a session. */
function adminApiKeyOf(request: FastifyRequest): string | undefined {
  const presented = presentedApiKey(request.headers);
  if (presented === undefined) return undefined;
  // A bearer value that is not shaped like an API key is a session token.
  if (request.headers['x-api-key'] === undefined && !isApiKeyShape(presented)) return undefined;
  return presented;
}

/** Returns the presented key's record, or null when it is unknown, revoked, expired or archived. */
async function usableKey(db: Database, presented: string): Promise<ApiKeyGrant | null> {
  if (!isApiKeyShape(presented)) return null;
  const grant = await findApiKeyGrant(db, hashApiKey(presented));
  if (!grant || grant.revokedAt || grant.projectStatus !== 'active') return null;
  if (grant.expiresAt && grant.expiresAt.getTime() <= Date.now()) return null;
  return grant;
}

/**
 * Authenticates an admin request by an API key (`x-api-key`, or a bearer value shaped like a
 * key) or else by its session, and returns null when neither is valid. Keys are read from the
 * database on every admin request, so a revoked key stops at once on every server.
 */
export async function authenticateAdmin(
  db: Database,
  sessions: SessionService,
  request: FastifyRequest,
): Promise<AdminCredential | null> {
  const presented = adminApiKeyOf(request);
  if (presented !== undefined) {
    const key = await usableKey(db, presented);
    return key ? { type: 'api_key', key } : null;
  }
  const principal = await authenticateRequest(sessions, request);
  return principal ? { type: 'session', principal } : null;
}
