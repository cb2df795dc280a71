import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { z } from 'zod';

import { AppError } from '../../http/errors.js';
import { requestContext } from '../../http/request-context.hook.js';
import { parseOrThrow } from '../../http/validation.js';
import { LoginLockedError } from '../auth/login.service.js';
import { principalOf, SIGNED_IN_ANY_STATE } from '../auth/route-principal.js';
import { deliverSession } from '../auth/session-response.js';
import {
  challengeOptionsSchema,
  challengeVerifySchema,
  credentialIdParamsSchema,
  registrationVerifySchema,
  removeCredentialSchema,
} from './webauthn.schema.js';
import { beginAssertion, completeAssertion } from './webauthn-authentication.service.js';
import {
  beginRegistration,
  finishRegistration,
  listOwnCredentials,
  removeCredential,
  type WebAuthnServices,
} from './webauthn-registration.service.js';

const BASE = '/api/v1/auth/mfa/webauthn';

const emptyBodySchema = z.strictObject({}).optional();

// Like TOTP enrollment, these need the one-time password changed first but no second factor.
const ENROLLMENT = {
  security: { auth: 'session', allowMfaEnrollment: true },
} as const;

const PUBLIC = { security: { auth: 'public' } } as const;

function credentialIdOf(params: unknown): string {
  const parsed = credentialIdParamsSchema.safeParse(params);
  if (!parsed.success) throw new AppError('not_found', 'No such WebAuthn credential');
  return parsed.data.id;
}

function withRetryAfter(reply: FastifyReply, error: unknown): never {
  if (error instanceof LoginLockedError) {
    void reply.header('retry-after', String(error.retryAfterSeconds));
  }
  throw error;
}

/**
 * WebAuthn (passkeys and security keys) as a second factor: registration, listing and removal
 * for the signed-in user, and the assertion that completes the MFA step of a sign-in.
 */
export const webAuthnRoutes: FastifyPluginAsync<{ services: WebAuthnServices }> = async (
  app,
  { services },
) => {
  app.get(`${BASE}/credentials`, { config: SIGNED_IN_ANY_STATE }, async (request) => {
    return { data: await listOwnCredentials(services, principalOf(request).user.id) };
  });

  app.post(`${BASE}/registration/options`, { config: ENROLLMENT }, async (request, reply) => {
    parseOrThrow(emptyBodySchema, request.body);
    const options = await beginRegistration(services, principalOf(request));
    return reply.header('cache-control', 'no-store').send(options);
  });

  app.post(`${BASE}/registration/verify`, { config: ENROLLMENT }, async (request, reply) => {
    const input = parseOrThrow(registrationVerifySchema, request.body);
    const { credential, opened } = await finishRegistration(
      services,
      requestContext(request),
      principalOf(request),
      input,
    );
    const session = deliverSession(request, reply, opened, services.identity.sessions.absoluteMs);
    return reply.code(201).send({ ...session, credential });
  });

  app.delete(`${BASE}/credentials/:id`, { config: ENROLLMENT }, async (request, reply) => {
    const id = credentialIdOf(request.params);
    const input = parseOrThrow(removeCredentialSchema, request.body);
    await removeCredential(services, requestContext(request), principalOf(request), {
      id,
      currentPassword: input.currentPassword,
    });
    return reply.code(204).send();
  });

  app.post(`${BASE}/authentication/options`, { config: PUBLIC }, async (request, reply) => {
    const input = parseOrThrow(challengeOptionsSchema, request.body);
    const options = await beginAssertion(services, input.challengeToken);
    return reply.header('cache-control', 'no-store').send(options);
  });

  app.post(`${BASE}/authentication/verify`, { config: PUBLIC }, async (request, reply) => {
    const input = parseOrThrow(challengeVerifySchema, request.body);
    const result = await completeAssertion(services, requestContext(request), input).catch(
      (error: unknown) => withRetryAfter(reply, error),
    );
    return {
      ...deliverSession(request, reply, result.opened, services.identity.sessions.absoluteMs),
      mustChangePassword: result.user.mustChangePassword,
      mfaEnrollmentRequired: result.mfaEnrollmentRequired,
    };
  });
};
