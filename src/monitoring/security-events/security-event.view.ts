import type { SecurityEvent } from './security-event.js';

/** Returns the JSON form of an event in API responses. */
export function securityEventView(event: SecurityEvent) {
  return {
    id: event.id,
    occurredAt: event.occurredAt.toISOString(),
    kind: event.kind,
    severity: event.severity,
    source: event.source,
    clientIp: event.clientIp,
    ruleIds: event.ruleIds,
    location: event.location,
    sample: event.sample,
    requestId: event.requestId,
    orgId: event.orgId,
    details: event.details,
  };
}
