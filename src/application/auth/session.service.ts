import type { Database } from '../../data/database/database.js';
import type { RequestContext } from '../../http/request-context.js';
import { buildAuditRecord } from '../../monitoring/audit/audit-entry.js';
import { appendAuditRecords } from '../../monitoring/audit/audit.repository.js';
import { verifyPassword } from '../../tenancy/users/password.js';
import {
  findUserCredentialsByEmail,
  findUserCredentialsById,
  type User,
} from '../../tenancy/users/user.repository.js';
import {
  findSessionByHash,
  insertSession,
  revokeSession,
  touchSession,
  type SessionRecord,
} from './session.repository.js';
import { generateSessionToken, hashSessionToken, isSessionTokenShape } from './session-token.js';

/** Session lifetimes: 30 minutes without use, 12 hours at most. */
export const SESSION_IDLE_MS = 30 * 60 * 1000;
export const SESSION_ABSOLUTE_MS = 12 * 60 * 60 * 1000;

// Writing last_seen_at on every request would cost a write per admin call; a minute of
// slack on the idle timeout is the price of writing at most once a minute.
const TOUCH_INTERVAL_MS = 60 * 1000;

export type LoginResult =
  { ok: true; token: string; session: SessionRecord; user: User } | { ok: false };

/** An authenticated admin request. */
export interface SessionPrincipal {
  user: User;
  session: SessionRecord;
}

/**
 * Checks an email and password and opens a session. Unknown emails, disabled users and wrong
 * passwords all give the same failure after the same argon2id work, and each is audited.
 */
export async function login(
  db: Database,
  context: RequestContext,
  email: string,
  password: string,
): Promise<LoginResult> {
  const user = await findUserCredentialsByEmail(db, email);
  const passwordOk = await verifyPassword(user?.passwordHash ?? null, password);

  if (!user || !passwordOk || user.status !== 'active') {
    const actor = user
      ? { type: 'user' as const, id: user.id, email: user.email, sessionId: null }
      : { type: 'system' as const, id: null };
    const reason = !user ? 'unknown_email' : !passwordOk ? 'wrong_password' : 'user_disabled';
    await appendAuditRecords(db, [
      buildAuditRecord(actor, context, {
        action: 'user.login_failed',
        resourceType: 'user',
        resourceId: user?.id ?? null,
        metadata: { reason },
        sensitivity: 'sensitive',
        complianceRelevant: true,
      }),
    ]);
    return { ok: false };
  }

  const { token, hash } = generateSessionToken();
  const session = await db.transaction(async (tx) => {
    const created = await insertSession(tx, {
      hash,
      userId: user.id,
      ip: context.ip,
      userAgent: context.userAgent,
      expiresAt: new Date(Date.now() + SESSION_ABSOLUTE_MS),
    });
    const actor = { type: 'user' as const, id: user.id, email: user.email, sessionId: created.id };
    await appendAuditRecords(tx, [
      buildAuditRecord(actor, context, {
        action: 'user.login',
        resourceType: 'session',
        resourceId: created.id,
        sensitivity: 'sensitive',
        complianceRelevant: true,
      }),
    ]);
    return created;
  });
  const { passwordHash: _omitted, ...publicUser } = user;
  return { ok: true, token, session, user: publicUser };
}

/** Resolves a bearer token to its user, or null when it is unknown, revoked or expired. */
export async function authenticateSession(
  db: Database,
  token: string,
  now = Date.now(),
): Promise<SessionPrincipal | null> {
  if (!isSessionTokenShape(token)) return null;
  const session = await findSessionByHash(db, hashSessionToken(token));
  if (!session || session.revokedAt) return null;
  if (session.expiresAt.getTime() <= now) return null;
  if (session.lastSeenAt.getTime() + SESSION_IDLE_MS <= now) return null;

  const user = await findUserCredentialsById(db, session.userId);
  if (!user || user.status !== 'active') return null;

  if (now - session.lastSeenAt.getTime() > TOUCH_INTERVAL_MS) await touchSession(db, session.id);
  const { passwordHash: _omitted, ...publicUser } = user;
  return { user: publicUser, session };
}

/** Ends a session and records it. */
export async function logout(
  db: Database,
  context: RequestContext,
  principal: SessionPrincipal,
): Promise<void> {
  await db.transaction(async (tx) => {
    await revokeSession(tx, principal.session.id);
    const actor = {
      type: 'user' as const,
      id: principal.user.id,
      email: principal.user.email,
      sessionId: principal.session.id,
    };
    await appendAuditRecords(tx, [
      buildAuditRecord(actor, context, {
        action: 'user.logout',
        resourceType: 'session',
        resourceId: principal.session.id,
      }),
    ]);
  });
}
