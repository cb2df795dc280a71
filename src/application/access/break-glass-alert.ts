import type { FastifyBaseLogger } from 'fastify';

import type { SecurityEventSink } from '../../monitoring/security-events/security-event.js';
import type { AccessGrant } from './access-grant.repository.js';

/**
 * Raises the critical alert of a break-glass activation: a `break_glass` security event when
 * the server records security events, and always an error-level log line with an `alert`
 * field, which log-based alerting can match on.
 */
export function raiseBreakGlassAlert(
  logger: FastifyBaseLogger,
  securityEvents: SecurityEventSink | null,
  grant: AccessGrant,
  request: { requestId: string | null; ip: string | null },
): void {
  securityEvents?.record({
    kind: 'break_glass',
    severity: 'critical',
    source: 'auth',
    clientIp: request.ip,
    requestId: request.requestId,
    orgId: grant.orgId,
    details: {
      grantId: grant.id,
      userId: grant.userId,
      expiresAt: grant.expiresAt?.toISOString() ?? null,
      durationMinutes: grant.durationMinutes,
    },
  });
  logger.error(
    {
      alert: 'break_glass',
      orgId: grant.orgId,
      userId: grant.userId,
      grantId: grant.id,
      expiresAt: grant.expiresAt?.toISOString() ?? null,
    },
    'break-glass access activated',
  );
}
