import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';

import { requestContext } from '../../http/request-context.hook.js';
import { parseOrThrow } from '../../http/validation.js';
import { emailSchema } from '../../tenancy/users/user.schema.js';
import type { MailOutbox } from '../mail/mail-outbox.js';
import { newPasswordSchema } from './auth.schema.js';
import type { IdentityServices } from './identity.js';
import { completePasswordReset, requestPasswordReset } from './password-reset.service.js';

const resetRequestSchema = z.strictObject({ email: emailSchema });

const resetConfirmSchema = z.strictObject({
  token: z.string().min(1).max(100),
  newPassword: newPasswordSchema,
});

const PUBLIC = { security: { auth: 'public' } } as const;

/**
 * Password reset by mail, under `/api/v1/auth` so the sign-in rate limit applies. The request
 * returns 202 with the same body for every email, so it does not reveal which accounts exist.
 */
export const passwordResetRoutes: FastifyPluginAsync<{
  identity: IdentityServices;
  outbox: MailOutbox;
}> = async (app, { identity, outbox }) => {
  app.post('/api/v1/auth/password/reset', { config: PUBLIC }, async (request, reply) => {
    const input = parseOrThrow(resetRequestSchema, request.body);
    await requestPasswordReset(identity, outbox, requestContext(request), input.email);
    return reply.code(202).send({
      message: 'If the email belongs to an account, a reset token was sent to it',
    });
  });

  app.post('/api/v1/auth/password/reset/confirm', { config: PUBLIC }, async (request, reply) => {
    const input = parseOrThrow(resetConfirmSchema, request.body);
    await completePasswordReset(identity, requestContext(request), input);
    return reply.code(204).send();
  });
};
