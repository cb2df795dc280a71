import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';

import type { Database, Queryable } from '../../data/database/database.js';
import { inTenant } from '../../data/database/tenant-scope.js';
import { requestActor } from '../../http/actor.js';
import { AppError } from '../../http/errors.js';
import { orgPath } from '../../http/params.js';
import { requestContext } from '../../http/request-context.hook.js';
import { parseOrThrow } from '../../http/validation.js';
import { buildAuditRecord } from '../../monitoring/audit/audit-entry.js';
import { appendAuditRecords } from '../../monitoring/audit/audit.repository.js';
import { findOrganization, type Organization } from './organization.repository.js';

const statusSchema = z.strictObject({ status: z.enum(['active', 'disabled']) });

async function setOrganizationStatus(
  db: Queryable,
  orgId: string,
  status: Organization['status'],
): Promise<void> {
  await db.query('UPDATE organizations SET status = $2, updated_at = now() WHERE id = $1', [
    orgId,
    status,
  ]);
}

/**
 * Disables or enables an organization. While it is disabled, every admin request and API key
 * of the organization is refused, except this route for a signed-in owner or admin.
 */
export const organizationStatusRoutes: FastifyPluginAsync<{ db: Database }> = async (
  app,
  { db },
) => {
  app.put(
    '/api/v1/organizations/:orgId/status',
    { config: { security: { auth: 'session', permission: 'organization.disable' } } },
    async (request) => {
      const { orgId } = orgPath(request.params);
      const { status } = parseOrThrow(statusSchema, request.body);
      return inTenant(db, orgId, async (tx) => {
        const before = await findOrganization(tx, orgId);
        if (!before) throw new AppError('not_found');
        if (before.status !== status) {
          await setOrganizationStatus(tx, orgId, status);
          await appendAuditRecords(tx, [
            buildAuditRecord(requestActor(request), requestContext(request), {
              action: status === 'disabled' ? 'organization.disable' : 'organization.enable',
              orgId,
              resourceType: 'organization',
              resourceId: orgId,
              oldValues: { status: before.status },
              newValues: { status },
              complianceRelevant: true,
            }),
          ]);
        }
        return { id: orgId, status };
      });
    },
  );
};
