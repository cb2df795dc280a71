import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';

import { requestContext } from '../../http/request-context.hook.js';
import { parseOrThrow } from '../../http/validation.js';
import {
  emailSchema,
  ORG_ROLES,
  personNameSchema,
  phoneSchema,
} from '../../tenancy/users/user.schema.js';
import type { MailOutbox } from '../mail/mail-outbox.js';
import type { IdentityServices } from './identity.js';
import {
  acceptInvitation,
  cancelInvitation,
  createInvitation,
  invitationView,
  listInvitations,
} from './invitation.service.js';
import { principalOf } from './route-principal.js';

const orgParamsSchema = z.strictObject({ orgId: z.uuid() });
const invitationParamsSchema = z.strictObject({ orgId: z.uuid(), invitationId: z.uuid() });

const inviteSchema = z.strictObject({
  email: emailSchema,
  role: z.enum(ORG_ROLES, { error: `Role must be one of ${ORG_ROLES.join(', ')}` }),
});

const acceptSchema = z.strictObject({
  token: z.string().min(1).max(100),
  // Required for a new account, ignored when the email already has one.
  name: personNameSchema.optional(),
  // Stored encrypted with a new account, ignored when the email already has one.
  phone: phoneSchema.optional(),
  // The policy applies to new accounts only, so it is checked by the service.
  password: z.string().min(1).max(256),
});

const MANAGE = { security: { auth: 'session', permission: 'member.manage' } } as const;

/**
 * Invite-only registration: members with `member.manage` invite an email with a role, and the
 * invitee accepts with the mailed token under `/api/v1/auth`, where the sign-in rate limit
 * applies.
 */
export const invitationRoutes: FastifyPluginAsync<{
  identity: IdentityServices;
  outbox: MailOutbox;
}> = async (app, { identity, outbox }) => {
  app.post(
    '/api/v1/organizations/:orgId/invitations',
    { config: MANAGE },
    async (request, reply) => {
      const { orgId } = parseOrThrow(orgParamsSchema, request.params);
      const input = parseOrThrow(inviteSchema, request.body);
      const invitation = await createInvitation(
        identity,
        outbox,
        requestContext(request),
        principalOf(request),
        orgId,
        input,
      );
      return reply.code(201).send(invitationView(invitation));
    },
  );

  app.get('/api/v1/organizations/:orgId/invitations', { config: MANAGE }, async (request) => {
    const { orgId } = parseOrThrow(orgParamsSchema, request.params);
    const invitations = await listInvitations(identity, orgId);
    return { data: invitations.map(invitationView) };
  });

  app.delete(
    '/api/v1/organizations/:orgId/invitations/:invitationId',
    { config: MANAGE },
    async (request, reply) => {
      const { orgId, invitationId } = parseOrThrow(invitationParamsSchema, request.params);
      await cancelInvitation(
        identity,
        requestContext(request),
        principalOf(request),
        orgId,
        invitationId,
      );
      return reply.code(204).send();
    },
  );

  app.post(
    '/api/v1/auth/invitations/accept',
    { config: { security: { auth: 'public' } } },
    async (request, reply) => {
      const input = parseOrThrow(acceptSchema, request.body);
      const accepted = await acceptInvitation(identity, requestContext(request), input);
      return reply.code(201).send(accepted);
    },
  );
};
