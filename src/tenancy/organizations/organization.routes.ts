import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';

import type { Database } from '../../data/database/database.js';
import { submitOrganizationChange } from '../../application/approvals/change-request.service.js';
import { pendingApprovalView } from '../../application/approvals/change-request.view.js';
import { inTenant } from '../../data/database/tenant-scope.js';
import { requestActor, sessionActor } from '../../http/actor.js';
import { AppError } from '../../http/errors.js';
import { orgPath } from '../../http/params.js';
import { requestContext } from '../../http/request-context.hook.js';
import { hasNoNulCharacter, parseOrThrow } from '../../http/validation.js';
import { buildAuditRecord } from '../../monitoring/audit/audit-entry.js';
import { appendAuditRecords } from '../../monitoring/audit/audit.repository.js';
import {
  findOrganization,
  listOrganizationsOfUser,
  updateOrganization,
  type Organization,
} from './organization.repository.js';

const updateOrganizationSchema = z
  .strictObject({
    name: z
      .string()
      .trim()
      .min(1)
      .max(100)
      .refine(hasNoNulCharacter, 'Name must not contain NUL characters')
      .optional(),
    requireMfa: z.boolean().optional(),
    fourEyes: z.boolean().optional(),
  })
  .refine(
    (value) =>
      value.name !== undefined || value.requireMfa !== undefined || value.fourEyes !== undefined,
    { message: 'Provide name, requireMfa or fourEyes', path: ['name'] },
  );

const view = (org: Organization) => ({
  id: org.id,
  name: org.name,
  status: org.status,
  requireMfa: org.requireMfa,
  fourEyes: org.fourEyes,
  createdAt: org.createdAt.toISOString(),
  updatedAt: org.updatedAt.toISOString(),
});

/** Organizations the caller belongs to, under `/api/v1/organizations`. */
export const organizationRoutes: FastifyPluginAsync<{ db: Database }> = async (app, { db }) => {
  app.get(
    '/api/v1/organizations',
    { config: { security: { auth: 'session' } } },
    async (request) => {
      const orgs = await listOrganizationsOfUser(db, sessionActor(request).id);
      return { data: orgs.map((org) => ({ ...view(org), role: org.role })) };
    },
  );

  app.get(
    '/api/v1/organizations/:orgId',
    { config: { security: { auth: 'session', permission: 'organization.read' } } },
    async (request) => {
      const { orgId } = orgPath(request.params);
      const org = await inTenant(db, orgId, (tx) => findOrganization(tx, orgId));
      if (!org) throw new AppError('not_found');
      return view(org);
    },
  );

  app.patch(
    '/api/v1/organizations/:orgId',
    { config: { security: { auth: 'session', permission: 'organization.update' } } },
    async (request, reply) => {
      const { orgId } = orgPath(request.params);
      const input = parseOrThrow(updateOrganizationSchema, request.body);
      // With four-eyes on, turning four-eyes or required MFA off waits for a second admin.
      const pending = await submitOrganizationChange(
        db,
        { actor: requestActor(request), context: requestContext(request), orgId },
        input,
      );
      if (pending) return reply.code(202).send(pendingApprovalView(pending));
      return inTenant(db, orgId, async (tx) => {
        const before = await findOrganization(tx, orgId);
        const after = await updateOrganization(tx, orgId, input);
        if (!before || !after) throw new AppError('not_found');
        await appendAuditRecords(tx, [
          buildAuditRecord(requestActor(request), requestContext(request), {
            action: 'organization.update',
            orgId,
            resourceType: 'organization',
            resourceId: orgId,
            oldValues: {
              name: before.name,
              requireMfa: before.requireMfa,
              fourEyes: before.fourEyes,
            },
            newValues: { name: after.name, requireMfa: after.requireMfa, fourEyes: after.fourEyes },
          }),
        ]);
        return view(after);
      });
    },
  );
};
