import type { FastifyPluginAsync } from 'fastify';

import type { Database } from '../../data/database/database.js';
import { AppError } from '../../http/errors.js';
import { requestContext } from '../../http/request-context.hook.js';
import { parseOrThrow } from '../../http/validation.js';
import { listOrganizationsOfUser } from '../../tenancy/organizations/organization.repository.js';
import { loginSchema, passwordChangeSchema } from './auth.schema.js';
import { changePassword } from './password-change.service.js';
import { login, logout, type SessionPrincipal } from './session.service.js';

function principalOf(request: { principal: SessionPrincipal | null }): SessionPrincipal {
  if (!request.principal) throw new AppError('unauthorized');
  return request.principal;
}

/** Sign-in, sign-out, password change and the current user, under `/api/v1/auth`. */
export const authRoutes: FastifyPluginAsync<{ db: Database }> = async (app, { db }) => {
  app.post('/api/v1/auth/login', { config: { security: { auth: 'public' } } }, async (request) => {
    const input = parseOrThrow(loginSchema, request.body);
    const result = await login(db, requestContext(request), input.email, input.password);
    if (!result.ok) throw new AppError('unauthorized', 'Invalid email or password');
    return {
      token: result.token,
      expiresAt: result.session.expiresAt.toISOString(),
      mustChangePassword: result.user.mustChangePassword,
    };
  });

  const sessionOnly = { security: { auth: 'session', allowPasswordChange: true } } as const;

  app.post('/api/v1/auth/logout', { config: sessionOnly }, async (request, reply) => {
    await logout(db, requestContext(request), principalOf(request));
    return reply.code(204).send();
  });

  app.post('/api/v1/auth/password', { config: sessionOnly }, async (request, reply) => {
    const input = parseOrThrow(passwordChangeSchema, request.body);
    await changePassword(db, requestContext(request), principalOf(request), input);
    return reply.code(204).send();
  });

  app.get('/api/v1/auth/me', { config: sessionOnly }, async (request) => {
    const { user, session } = principalOf(request);
    const organizations = await listOrganizationsOfUser(db, user.id);
    return {
      user: { id: user.id, email: user.email, name: user.name },
      mustChangePassword: user.mustChangePassword,
      session: { id: session.id, expiresAt: session.expiresAt.toISOString() },
      organizations: organizations.map((org) => ({ id: org.id, name: org.name, role: org.role })),
    };
  });
};
