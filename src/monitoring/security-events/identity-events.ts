import type { RequestContext } from '../../http/request-context.js';
import { maskPersonalData } from './sample-masking.js';
import type { SecurityEventInput } from './security-event.js';

/** Builds the event of a failed sign-in; `userId` is null when the e-mail matched no user. */
export function loginFailedEvent(
  context: RequestContext,
  userId: string | null,
  reason: string,
): SecurityEventInput {
  return {
    kind: 'login_failed',
    severity: 'low',
    source: 'auth',
    clientIp: context.ip,
    ruleIds: [`login:${reason}`],
    requestId: context.requestId,
    details: { reason, userId },
  };
}

/** Builds the event of a lockout of an account or a client address. */
export function accountLockedEvent(
  context: RequestContext,
  userId: string | null,
  lockout: { scope: 'account' | 'ip'; lockedForSeconds: number; lockouts: number },
): SecurityEventInput {
  return {
    kind: 'account_locked',
    severity: 'medium',
    source: 'auth',
    clientIp: context.ip,
    ruleIds: [`lockout:${lockout.scope}`],
    requestId: context.requestId,
    details: { userId, ...lockout },
  };
}

/**
 * Builds the event of emergency access that bypassed the usual approval, in the organization
 * `orgId`. The reason
 * is free text, so personal data and credentials in it are masked.
 */
export function breakGlassEvent(
  context: RequestContext,
  access: { orgId: string; userId: string; reason: string; expiresAt: Date },
): SecurityEventInput {
  return {
    kind: 'break_glass',
    severity: 'high',
    source: 'access',
    clientIp: context.ip,
    requestId: context.requestId,
    orgId: access.orgId,
    details: {
      userId: access.userId,
      reason: maskPersonalData(access.reason).slice(0, 500),
      expiresAt: access.expiresAt.toISOString(),
    },
  };
}
