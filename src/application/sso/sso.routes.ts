import type { FastifyPluginAsync, FastifyRequest } from 'fastify';

import { sessionActor } from '../../http/actor.js';
import { AppError } from '../../http/errors.js';
import { orgPath } from '../../http/params.js';
import { requestContext } from '../../http/request-context.hook.js';
import { parseOrThrow } from '../../http/validation.js';
import { deliverSession } from '../auth/session-response.js';
import {
  callbackQuerySchema,
  putSsoConfigSchema,
  ssoSlugParamsSchema,
  startQuerySchema,
} from './sso.schema.js';
import {
  clearBindingCookie,
  newBinding,
  readBindingCookie,
  setBindingCookie,
} from './sso-binding-cookie.js';
import type { SsoConfigScope, SsoConfigService } from './sso-config.service.js';
import type { SsoLoginService } from './sso-login.service.js';

const CONFIG_PATH = '/api/v1/organizations/:orgId/sso';

// The provider settings decide who may sign in and with which role, so reading them is as
// privileged as changing them.
const CONFIG_SECURITY = {
  security: { auth: 'session', permission: 'organization.update' },
} as const;

const PUBLIC = { security: { auth: 'public' } } as const;

function slugOf(params: unknown): string {
  const parsed = ssoSlugParamsSchema.safeParse(params);
  if (!parsed.success)
    throw new AppError('not_found', 'No single sign-on is configured for this name');
  return parsed.data.orgSlug;
}

function configScope(request: FastifyRequest, orgId: string): SsoConfigScope {
  if (!request.orgRole) throw new AppError('forbidden');
  return {
    actor: sessionActor(request),
    context: requestContext(request),
    orgId,
    role: request.orgRole,
  };
}

/**
 * OpenID Connect single sign-on: the admin routes that set, read and delete an organization's
 * identity provider, and the public start and callback routes of the sign-in.
 */
export const ssoRoutes: FastifyPluginAsync<{
  configs: SsoConfigService;
  login: SsoLoginService;
}> = async (app, { configs, login }) => {
  app.get(CONFIG_PATH, { config: CONFIG_SECURITY }, async (request) => {
    const { orgId } = orgPath(request.params);
    return configs.get(orgId);
  });

  app.put(CONFIG_PATH, { config: CONFIG_SECURITY }, async (request, reply) => {
    const { orgId } = orgPath(request.params);
    const input = parseOrThrow(putSsoConfigSchema, request.body);
    const result = await configs.put(configScope(request, orgId), input);
    return reply
      .header('cache-control', 'no-store')
      .code(result.created ? 201 : 200)
      .send(result.config);
  });

  app.delete(CONFIG_PATH, { config: CONFIG_SECURITY }, async (request, reply) => {
    const { orgId } = orgPath(request.params);
    await configs.delete(configScope(request, orgId));
    return reply.code(204).send();
  });

  app.get('/api/v1/auth/sso/:orgSlug/start', { config: PUBLIC }, async (request, reply) => {
    const slug = slugOf(request.params);
    const { sessionType } = parseOrThrow(startQuerySchema, request.query);
    const binding = newBinding();
    const url = await login.start(slug, sessionType, binding.hash);
    setBindingCookie(request, reply, binding.value);
    return reply.header('cache-control', 'no-store').redirect(url.href, 302);
  });

  app.get('/api/v1/auth/sso/:orgSlug/callback', { config: PUBLIC }, async (request, reply) => {
    const slug = slugOf(request.params);
    const params = parseOrThrow(callbackQuerySchema, request.query);
    const binding = readBindingCookie(request);
    clearBindingCookie(request, reply);
    void reply.header('cache-control', 'no-store');
    const outcome = await login.callback(slug, params, binding, requestContext(request));
    if (outcome.kind === 'mfa_required') {
      return {
        mfaRequired: true,
        challengeToken: outcome.challengeToken,
        challengeExpiresAt: outcome.expiresAt.toISOString(),
      };
    }
    return {
      ...deliverSession(request, reply, outcome.opened, login.sessionMaxAgeMs),
      mustChangePassword: false,
      mfaEnrollmentRequired: outcome.mfaEnrollmentRequired,
    };
  });
};
