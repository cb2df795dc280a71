import type { FastifyRequest } from 'fastify';

import { AppError } from '../../http/errors.js';
import type { SessionPrincipal } from './session.service.js';

/** The signed-in principal of a session route; the authorization hook has set it. */
export function principalOf(request: FastifyRequest): SessionPrincipal {
  if (!request.principal) throw new AppError('unauthorized');
  return request.principal;
}

/** Routes a signed-in user reaches before changing a one-time password or enrolling MFA. */
export const SIGNED_IN_ANY_STATE = {
  security: { auth: 'session', allowPasswordChange: true, allowMfaEnrollment: true },
} as const;
