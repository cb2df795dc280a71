import type { FastifyRequest } from 'fastify';

import { AppError } from './errors.js';
import type { Actor } from './request-context.js';

/** The signed-in admin of a session route as an audit actor. */
export function sessionActor(request: FastifyRequest): Actor & { type: 'user' } {
  const principal = request.principal;
  if (!principal) throw new AppError('unauthorized');
  return {
    type: 'user',
    id: principal.user.id,
    email: principal.user.email,
    sessionId: principal.session.id,
  };
}
