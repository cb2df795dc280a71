import type { Queryable } from '../../data/database/database.js';
import type { EventScope } from './security-event.repository.js';

/**
 * Decides which events the organization `orgId` may read. Every organization reads the events
 * recorded for it. Events without an organization (perimeter blocks, failed sign-ins, bursts)
 * carry client IPs and request samples of every tenant, so only the operator's organization
 * reads them. That is the organization named by SECURITY_EVENTS_OPERATOR_ORG_ID, or, when
 * that is unset, the only organization while exactly one exists. With several organizations
 * and no operator organization configured, no organization reads them over the API, and
 * operators use `mindweave waf report` instead.
 */
export async function eventScopeFor(
  db: Queryable,
  orgId: string,
  operatorOrgId: string | undefined,
): Promise<EventScope> {
  if (operatorOrgId !== undefined) {
    return { orgId, includeUnscoped: operatorOrgId === orgId };
  }
  const { rows } = await db.query<{ id: string | null }>(
    'SELECT security_events_sole_organization() AS id',
  );
  return { orgId, includeUnscoped: rows[0]?.id === orgId };
}
