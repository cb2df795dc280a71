import type { FastifyInstance } from 'fastify';

import type { Database } from '../../data/database/database.js';
import { sessionActor } from '../../http/actor.js';
import { AppError } from '../../http/errors.js';
import { requestContext } from '../../http/request-context.hook.js';
import { buildAuditRecord } from '../../monitoring/audit/audit-entry.js';
import { appendAuditRecords } from '../../monitoring/audit/audit.repository.js';
import { roleGrants } from '../authorization/permissions.js';

/**
 * Registers the hook that audits each use of an elevated grant. It runs after authorization,
 * so only requests the grant let through are recorded: a just-in-time grant counts as used
 * when the membership role alone would not grant the route's permission, and every request
 * under break-glass access counts. An elevated request whose use cannot be recorded is
 * rejected rather than run unaudited.
 */
export function registerGrantUseAudit(app: FastifyInstance, db: Database): void {
  app.decorateRequest('accessGrant', null);

  app.addHook('preHandler', async (request) => {
    const grant = request.accessGrant;
    if (!grant || !request.principal) return;
    const security = request.routeOptions.config.security;
    const required = security?.auth === 'session' ? security.permission : undefined;
    const needed = !required || !roleGrants(grant.membershipRole, required);
    if (grant.kind === 'jit' && !needed) return;

    const record = buildAuditRecord(sessionActor(request), requestContext(request), {
      action: grant.kind === 'jit' ? 'access.jit_used' : 'access.break_glass_used',
      orgId: grant.orgId,
      resourceType: 'access_grant',
      resourceId: grant.grantId,
      metadata: {
        method: request.method,
        route: request.routeOptions.url ?? null,
        permission: required ?? null,
        role: grant.role,
        membershipRole: grant.membershipRole,
      },
      sensitivity: grant.kind === 'jit' ? 'sensitive' : 'critical',
    });
    try {
      await db.transaction((tx) => appendAuditRecords(tx, [record]));
    } catch (error) {
      request.log.error({ err: error, grantId: grant.grantId }, 'failed to audit grant use');
      throw new AppError(
        'service_unavailable',
        'Elevated access cannot be recorded in the audit log right now; try again shortly',
      );
    }
  });
}
