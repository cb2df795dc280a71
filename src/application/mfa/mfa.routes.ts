import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';

import { requestContext } from '../../http/request-context.hook.js';
import { parseOrThrow } from '../../http/validation.js';
import type { IdentityServices } from '../auth/identity.js';
import { LoginLockedError } from '../auth/login.service.js';
import { principalOf, SIGNED_IN_ANY_STATE } from '../auth/route-principal.js';
import { deliverSession } from '../auth/session-response.js';
import {
  beginTotpEnrollment,
  completeMfaChallenge,
  confirmTotpEnrollment,
  mfaOverview,
  removeTotp,
} from './mfa.service.js';

const emptyBodySchema = z.strictObject({}).optional();

const confirmSchema = z.strictObject({
  code: z.string().regex(/^\d{6}$/, 'Code must be the 6 digits the authenticator app shows'),
});

const removeSchema = z.strictObject({
  currentPassword: z.string().min(1).max(256),
});

const challengeSchema = z.strictObject({
  challengeToken: z.string().min(1).max(100),
  // A 6-digit TOTP code or a recovery code such as `k7qm-x2ht-9bnc-wd4e`.
  code: z.string().min(6).max(64),
});

// Enrollment routes need the one-time password changed first, but not a second factor.
const ENROLLMENT = {
  security: { auth: 'session', allowMfaEnrollment: true },
} as const;

/** TOTP enrollment and removal, and the second step of an MFA sign-in. */
export const mfaRoutes: FastifyPluginAsync<{ identity: IdentityServices }> = async (
  app,
  { identity },
) => {
  app.get('/api/v1/auth/mfa', { config: SIGNED_IN_ANY_STATE }, async (request) => {
    return mfaOverview(identity, principalOf(request).user.id);
  });

  app.post('/api/v1/auth/mfa/totp', { config: ENROLLMENT }, async (request, reply) => {
    parseOrThrow(emptyBodySchema, request.body);
    const enrollment = await beginTotpEnrollment(identity, principalOf(request));
    return reply.code(201).send(enrollment);
  });

  app.post('/api/v1/auth/mfa/totp/confirm', { config: ENROLLMENT }, async (request, reply) => {
    const input = parseOrThrow(confirmSchema, request.body);
    const { recoveryCodes, opened } = await confirmTotpEnrollment(
      identity,
      requestContext(request),
      principalOf(request),
      input.code,
    );
    return {
      ...deliverSession(request, reply, opened, identity.sessions.absoluteMs),
      recoveryCodes,
    };
  });

  app.delete('/api/v1/auth/mfa/totp', { config: ENROLLMENT }, async (request, reply) => {
    const input = parseOrThrow(removeSchema, request.body);
    await removeTotp(
      identity,
      requestContext(request),
      principalOf(request),
      input.currentPassword,
    );
    return reply.code(204).send();
  });

  app.post(
    '/api/v1/auth/mfa/challenge',
    { config: { security: { auth: 'public' } } },
    async (request, reply) => {
      const input = parseOrThrow(challengeSchema, request.body);
      let result;
      try {
        result = await completeMfaChallenge(identity, requestContext(request), input);
      } catch (error) {
        if (error instanceof LoginLockedError) {
          void reply.header('retry-after', String(error.retryAfterSeconds));
        }
        throw error;
      }
      return {
        ...deliverSession(request, reply, result.opened, identity.sessions.absoluteMs),
        mustChangePassword: result.user.mustChangePassword,
        mfaEnrollmentRequired: result.mfaEnrollmentRequired,
      };
    },
  );
};
