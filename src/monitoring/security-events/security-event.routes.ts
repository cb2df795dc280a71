import type { FastifyPluginAsync } from 'fastify';

import type { Database } from '../../data/database/database.js';
import { orgPath } from '../../http/params.js';
import { parseOrThrow } from '../../http/validation.js';
import { searchSecurityEvents } from './security-event.repository.js';
import { securityEventSearchSchema } from './security-event.schema.js';
import { eventScopeFor } from './security-event-visibility.js';
import { securityEventView } from './security-event.view.js';

export interface SecurityEventRouteOptions {
  db: Database;
  /** SECURITY_EVENTS_OPERATOR_ORG_ID: the organization that reads events of no organization. */
  operatorOrgId: string | undefined;
}

const date = (value: string | undefined) => (value === undefined ? undefined : new Date(value));

/** Reading the security events: blocked requests, bursts, failed sign-ins and lockouts. */
export const securityEventRoutes: FastifyPluginAsync<SecurityEventRouteOptions> = async (
  app,
  options,
) => {
  const { db } = options;
  const readEvents = {
    config: { security: { auth: 'session', permission: 'security_event.read' } },
  } as const;

  app.get('/api/v1/organizations/:orgId/security-events', readEvents, async (request) => {
    const { orgId } = orgPath(request.params);
    const query = parseOrThrow(securityEventSearchSchema, request.query);
    const scope = await eventScopeFor(db, orgId, options.operatorOrgId);
    const events = await searchSecurityEvents(
      db,
      {
        scope,
        since: date(query.since),
        until: date(query.until),
        kind: query.kind,
        clientIp: query.clientIp,
        ruleId: query.ruleId,
        beforeId: query.cursor,
      },
      query.limit + 1,
    );
    const page = events.slice(0, query.limit);
    const more = events.length > query.limit;
    return {
      data: page.map(securityEventView),
      nextCursor: more ? (page.at(-1)?.id ?? null) : null,
      includesUnscopedEvents: scope.includeUnscoped,
    };
  });
};
