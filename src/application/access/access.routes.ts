import type { FastifyPluginAsync, FastifyRequest } from 'fastify';

import type { Database } from '../../data/database/database.js';
import { inTenant } from '../../data/database/tenant-scope.js';
import { sessionActor } from '../../http/actor.js';
import { AppError } from '../../http/errors.js';
import { orgPath } from '../../http/params.js';
import { requestContext } from '../../http/request-context.hook.js';
import { parseOrThrow } from '../../http/validation.js';
import type { SecurityEventSink } from '../../monitoring/security-events/security-event.js';
import { roleGrants } from '../authorization/permissions.js';
import { listAccessGrants } from './access-grant.repository.js';
import { accessGrantView } from './access-grant.view.js';
import type { AccessScope } from './access-scope.js';
import type { AccessSettings } from './access-settings.js';
import {
  accessDecisionSchema,
  accessRequestSchema,
  breakGlassSchema,
  grantPathSchema,
} from './access.schema.js';
import { raiseBreakGlassAlert } from './break-glass-alert.js';
import { activateBreakGlass } from './break-glass.service.js';
import {
  cancelAccessRequest,
  decideAccessRequest,
  requestAccess,
  revokeAccess,
} from './jit-access.service.js';

export interface AccessRouteOptions {
  db: Database;
  settings: AccessSettings;
  securityEvents: SecurityEventSink | null;
}

const BASE = '/api/v1/organizations/:orgId/access-requests';

function grantPath(params: unknown) {
  const parsed = grantPathSchema.safeParse(params);
  if (!parsed.success) throw new AppError('not_found');
  return parsed.data;
}

function scopeOf(request: FastifyRequest, orgId: string): AccessScope {
  return { actor: sessionActor(request), context: requestContext(request), orgId };
}

/** Just-in-time access requests, their decisions and revocation, and break-glass access. */
export const accessRoutes: FastifyPluginAsync<AccessRouteOptions> = async (app, options) => {
  const { db, settings } = options;
  const session = (permission: 'access.request' | 'access.approve' | 'access.break_glass') =>
    ({
      config: { security: { auth: 'session', permission } },
    }) as const;

  app.get(BASE, session('access.request'), async (request) => {
    const { orgId } = orgPath(request.params);
    const actor = sessionActor(request);
    // Holders of access.read see every request of the organization, others their own.
    const everyone = request.orgRole !== null && roleGrants(request.orgRole, 'access.read');
    const grants = await inTenant(db, orgId, (tx) =>
      listAccessGrants(tx, orgId, everyone ? null : actor.id),
    );
    return { data: grants.map(accessGrantView) };
  });

  app.post(BASE, session('access.request'), async (request, reply) => {
    const { orgId } = orgPath(request.params);
    const input = parseOrThrow(accessRequestSchema, request.body);
    const grant = await requestAccess(db, settings, scopeOf(request, orgId), input);
    return reply.code(201).send(accessGrantView(grant));
  });

  for (const [action, approve] of [
    ['approve', true],
    ['deny', false],
  ] as const) {
    app.post(`${BASE}/:grantId/${action}`, session('access.approve'), async (request) => {
      const { orgId, grantId } = grantPath(request.params);
      const input = parseOrThrow(accessDecisionSchema, request.body ?? {});
      const grant = await decideAccessRequest(db, scopeOf(request, orgId), grantId, {
        approve,
        note: input.note ?? null,
      });
      return accessGrantView(grant);
    });
  }

  app.post(`${BASE}/:grantId/cancel`, session('access.request'), async (request) => {
    const { orgId, grantId } = grantPath(request.params);
    return accessGrantView(await cancelAccessRequest(db, scopeOf(request, orgId), grantId));
  });

  app.post(`${BASE}/:grantId/revoke`, session('access.request'), async (request) => {
    const { orgId, grantId } = grantPath(request.params);
    return accessGrantView(await revokeAccess(db, scopeOf(request, orgId), grantId));
  });

  app.post(
    '/api/v1/organizations/:orgId/break-glass',
    session('access.break_glass'),
    async (request, reply) => {
      const { orgId } = orgPath(request.params);
      const input = parseOrThrow(breakGlassSchema, request.body);
      const scope = scopeOf(request, orgId);
      const grant = await activateBreakGlass(db, settings, scope, input);
      raiseBreakGlassAlert(request.log, options.securityEvents, grant, scope.context);
      return reply.code(201).send(accessGrantView(grant));
    },
  );
};
