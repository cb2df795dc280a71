import type { FastifyInstance } from 'fastify';
import { z } from 'zod';

import type { Database } from '../../data/database/database.js';
import { AppError } from '../../http/errors.js';
import { findMembershipRole } from '../../tenancy/users/user.repository.js';
import type { OrgRole } from '../../tenancy/users/user.schema.js';
import { authenticateRequest } from '../auth/request-authenticator.js';
import type { SessionPrincipal, SessionService } from '../auth/session.service.js';
import { roleGrants } from './permissions.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The signed-in admin, set for routes whose security is `session`. */
    principal: SessionPrincipal | null;
    /** The admin's role in the organization named by `:orgId`, when the route has one. */
    orgRole: OrgRole | null;
  }
}

const orgParamsSchema = z.object({ orgId: z.uuid() });

/**
 * Registers the hook that enforces every route's declared security contract. A route that
 * declares none is rejected, so a forgotten declaration fails closed. API-key routes are
 * authenticated by the gateway itself, which answers in each provider's error shape.
 */
export function registerAuthorization(
  app: FastifyInstance,
  db: Database,
  sessions: SessionService,
): void {
  app.decorateRequest('principal', null);
  app.decorateRequest('orgRole', null);

  app.addHook('preHandler', async (request) => {
    // An unknown route has no contract to enforce, so the not-found handler returns 404.
    if (request.is404) return;
    const security = request.routeOptions.config.security;
    if (!security) {
      request.log.error({ route: request.routeOptions.url }, 'route declares no security');
      throw new AppError('forbidden');
    }
    if (security.auth !== 'session') return;

    const principal = await authenticateRequest(sessions, request);
    if (!principal) throw new AppError('unauthorized');
    request.principal = principal;

    if (principal.user.mustChangePassword && !security.allowPasswordChange) {
      throw new AppError('password_change_required');
    }
    if (principal.mfaEnrollmentRequired && !security.allowMfaEnrollment) {
      throw new AppError('mfa_enrollment_required');
    }
    if (!security.permission) return;

    // Org-scoped routes: a caller who is not a member learns nothing, not even that the
    // organization exists, so both an unknown id and a foreign organization answer 404.
    const params = orgParamsSchema.safeParse(request.params);
    if (!params.success) throw new AppError('not_found');
    const role = await findMembershipRole(db, params.data.orgId, principal.user.id);
    if (!role) throw new AppError('not_found');
    if (!roleGrants(role, security.permission)) {
      throw new AppError('forbidden', `Your role does not grant ${security.permission}`);
    }
    request.orgRole = role;
  });
}
