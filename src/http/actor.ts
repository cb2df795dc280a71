import type { FastifyRequest } from 'fastify';

import { AppError } from './errors.js';
import type { Actor } from './request-context.js';

/** The signed-in admin of a session route as an audit actor. */
export function sessionActor(request: FastifyRequest): Actor & { type: 'user' } {
  const principal = request.principal;
  if (!principal && request.adminApiKey) {
    throw new AppError('forbidden', 'This route needs a signed-in user; API keys are not accepted');
  }
  if (!principal) throw new AppError('unauthorized');
  return {
    type: 'user',
    id: principal.user.id,
    email: principal.user.email,
    sessionId: principal.session.id,
  };
}

/**
 * Returns the caller of an admin route as an audit actor: the signed-in user, or the API key
 * when the route accepts admin keys and the request used one.
 */
export function requestActor(request: FastifyRequest): Actor & { type: 'user' | 'api_key' } {
  const key = request.adminApiKey;
  if (!request.principal && key) {
    return { type: 'api_key', id: key.keyId, orgId: key.orgId, projectId: key.projectId };
  }
  return sessionActor(request);
}
