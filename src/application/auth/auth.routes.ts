import type { FastifyPluginAsync } from 'fastify';

import { requestContext } from '../../http/request-context.hook.js';
import { parseOrThrow } from '../../http/validation.js';
import { listOrganizationsOfUser } from '../../tenancy/organizations/organization.repository.js';
import { createMailTransport } from '../mail/create-mail-transport.js';
import { MailOutbox } from '../mail/mail-outbox.js';
import { mfaRoutes } from '../mfa/mfa.routes.js';
import { loginSchema, passwordChangeSchema, sessionIdParamsSchema } from './auth.schema.js';
import type { IdentityServices } from './identity.js';
import { invitationRoutes } from './invitation.routes.js';
import { login, LoginLockedError } from './login.service.js';
import { changePassword } from './password-change.service.js';
import { passwordResetRoutes } from './password-reset.routes.js';
import { clearSessionCookie } from './session-cookie.js';
import { deliverSession } from './session-response.js';
import { principalOf, SIGNED_IN_ANY_STATE } from './route-principal.js';
import { listOwnSessions, revokeAllSessions, revokeOneSession } from './sessions.service.js';

/**
 * Sign-in, sign-out, password change, the current user and session management, under
 * `/api/v1/auth`; the MFA routes are registered from here too.
 */
export const authRoutes: FastifyPluginAsync<{ identity: IdentityServices }> = async (
  app,
  { identity },
) => {
  const { db, sessions } = identity;

  app.post(
    '/api/v1/auth/login',
    { config: { security: { auth: 'public' } } },
    async (request, reply) => {
      const input = parseOrThrow(loginSchema, request.body);
      let outcome;
      try {
        outcome = await login(identity, requestContext(request), input);
      } catch (error) {
        if (error instanceof LoginLockedError) {
          void reply.header('retry-after', String(error.retryAfterSeconds));
        }
        throw error;
      }
      if (outcome.kind === 'mfa_required') {
        return {
          mfaRequired: true,
          challengeToken: outcome.challengeToken,
          challengeExpiresAt: outcome.expiresAt.toISOString(),
        };
      }
      return {
        ...deliverSession(request, reply, outcome.opened, sessions.absoluteMs),
        mustChangePassword: outcome.user.mustChangePassword,
        mfaEnrollmentRequired: outcome.mfaEnrollmentRequired,
      };
    },
  );

  app.post('/api/v1/auth/logout', { config: SIGNED_IN_ANY_STATE }, async (request, reply) => {
    await sessions.logout(requestContext(request), principalOf(request));
    clearSessionCookie(request, reply);
    return reply.code(204).send();
  });

  app.post('/api/v1/auth/password', { config: SIGNED_IN_ANY_STATE }, async (request, reply) => {
    const input = parseOrThrow(passwordChangeSchema, request.body);
    await changePassword(identity, requestContext(request), principalOf(request), input);
    return reply.code(204).send();
  });

  app.get('/api/v1/auth/me', { config: SIGNED_IN_ANY_STATE }, async (request) => {
    const { user, session, mfaEnrollmentRequired } = principalOf(request);
    const organizations = await listOrganizationsOfUser(db, user.id);
    return {
      user: { id: user.id, email: user.email, name: user.name },
      mustChangePassword: user.mustChangePassword,
      mfaEnrollmentRequired,
      session: {
        id: session.id,
        sessionType: session.sessionType,
        expiresAt: session.expiresAt.toISOString(),
      },
      organizations: organizations.map((org) => ({ id: org.id, name: org.name, role: org.role })),
    };
  });

  app.get('/api/v1/auth/sessions', { config: SIGNED_IN_ANY_STATE }, async (request) => {
    return { sessions: await listOwnSessions(sessions, principalOf(request)) };
  });

  app.delete(
    '/api/v1/auth/sessions/:id',
    { config: SIGNED_IN_ANY_STATE },
    async (request, reply) => {
      const { id } = parseOrThrow(sessionIdParamsSchema, request.params);
      const principal = principalOf(request);
      await revokeOneSession(db, requestContext(request), principal, id);
      if (id === principal.session.id) clearSessionCookie(request, reply);
      return reply.code(204).send();
    },
  );

  app.post(
    '/api/v1/auth/sessions/revoke-all',
    { config: SIGNED_IN_ANY_STATE },
    async (request, reply) => {
      await revokeAllSessions(db, requestContext(request), principalOf(request));
      clearSessionCookie(request, reply);
      return reply.code(204).send();
    },
  );

  await app.register(mfaRoutes, { identity });

  const transport = createMailTransport(identity.mail, app.log, () => identity.mail.smtp);
  const outbox = new MailOutbox(transport, app.log);
  app.addHook('onClose', () => outbox.close());
  await app.register(passwordResetRoutes, { identity, outbox });
  await app.register(invitationRoutes, { identity, outbox });
};
