import type { Database } from '../../data/database/database.js';
import { AppError } from '../../http/errors.js';
import type { RequestContext } from '../../http/request-context.js';
import { buildAuditRecord } from '../../monitoring/audit/audit-entry.js';
import { appendAuditRecords } from '../../monitoring/audit/audit.repository.js';
import { revokeOwnSession, revokeUserSessions } from './session.repository.js';
import { userActor, type SessionPrincipal, type SessionService } from './session.service.js';

/**
 * Lists the signed-in user's open sessions and marks the current one. `ip` and `userAgent` are
 * null when the session recorded none or the stored value cannot be decrypted.
 */
export async function listOwnSessions(sessionService: SessionService, principal: SessionPrincipal) {
  const sessions = await sessionService.listOpen(principal.user.id);
  return sessions.map((session) => ({
    id: session.id,
    sessionType: session.sessionType,
    current: session.id === principal.session.id,
    mfaVerified: session.mfaVerified,
    ip: session.ip,
    userAgent: session.userAgent,
    createdAt: session.createdAt.toISOString(),
    lastSeenAt: session.lastSeenAt.toISOString(),
    expiresAt: session.expiresAt.toISOString(),
  }));
}

/** Revokes one of the user's own sessions; another user's session id raises `not_found`. */
export async function revokeOneSession(
  db: Database,
  context: RequestContext,
  principal: SessionPrincipal,
  sessionId: string,
): Promise<void> {
  await db.transaction(async (tx) => {
    if (!(await revokeOwnSession(tx, principal.user.id, sessionId))) {
      throw new AppError('not_found', 'No open session with that id');
    }
    await appendAuditRecords(tx, [
      buildAuditRecord(userActor(principal.user, principal.session.id), context, {
        action: 'session.revoked',
        resourceType: 'session',
        resourceId: sessionId,
        metadata: { scope: 'one', current: sessionId === principal.session.id },
        sensitivity: 'sensitive',
      }),
    ]);
  });
}

/** Revokes every session of the user, the current one included ("sign out everywhere"). */
export async function revokeAllSessions(
  db: Database,
  context: RequestContext,
  principal: SessionPrincipal,
): Promise<number> {
  return db.transaction(async (tx) => {
    const revoked = await revokeUserSessions(tx, principal.user.id);
    await appendAuditRecords(tx, [
      buildAuditRecord(userActor(principal.user, principal.session.id), context, {
        action: 'session.revoked',
        resourceType: 'user',
        resourceId: principal.user.id,
        metadata: { scope: 'all', count: revoked },
        sensitivity: 'sensitive',
      }),
    ]);
    return revoked;
  });
}
