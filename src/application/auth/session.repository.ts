import type { Queryable } from '../../data/database/database.js';
import type { EncryptedSessionClient, PreparedSession } from './session-client.js';

/** How a session's token travels: the Authorization header or an httpOnly cookie. */
export type SessionType = 'bearer' | 'cookie';

export interface SessionRecord {
  id: string;
  userId: string;
  sessionType: SessionType;
  mfaVerified: boolean;
  createdAt: Date;
  lastSeenAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
}

/** A session row with the CSRF token hash, which stays inside the authentication code. */
export interface SessionCredentials extends SessionRecord {
  csrfTokenHash: Buffer | null;
}

/** A session row with its encrypted client address and user agent. */
export interface SessionWithClient extends SessionRecord, EncryptedSessionClient {}

const COLUMNS = `id, user_id AS "userId", session_type AS "sessionType",
  mfa_verified AS "mfaVerified", created_at AS "createdAt", last_seen_at AS "lastSeenAt",
  expires_at AS "expiresAt", revoked_at AS "revokedAt"`;

const CLIENT_COLUMNS = `ip_encrypted AS "ipEncrypted", user_agent_encrypted AS "userAgentEncrypted"`;

/** Inserts a session under the id and with the client columns that `prepared` carries. */
export async function insertSession(
  db: Queryable,
  prepared: PreparedSession,
  session: {
    hash: Buffer;
    userId: string;
    sessionType: SessionType;
    csrfTokenHash: Buffer | null;
    mfaVerified: boolean;
    expiresAt: Date;
  },
): Promise<SessionRecord> {
  const result = await db.query<SessionRecord>(
    `INSERT INTO admin_sessions
       (id, token_hash, user_id, session_type, csrf_token_hash, mfa_verified, ip_encrypted,
        user_agent_encrypted, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ${COLUMNS}`,
    [
      prepared.id,
      session.hash,
      session.userId,
      session.sessionType,
      session.csrfTokenHash,
      session.mfaVerified,
      prepared.ipEncrypted,
      prepared.userAgentEncrypted,
      session.expiresAt,
    ],
  );
  return result.rows[0] as SessionRecord;
}

export async function findSessionByHash(
  db: Queryable,
  hash: Buffer,
): Promise<SessionCredentials | null> {
  const result = await db.query<SessionCredentials>(
    `SELECT ${COLUMNS}, csrf_token_hash AS "csrfTokenHash" FROM admin_sessions
      WHERE token_hash = $1`,
    [hash],
  );
  return result.rows[0] ?? null;
}

/** The user's sessions that are neither revoked nor past their expiry, newest first. */
export async function listOpenSessions(
  db: Queryable,
  userId: string,
): Promise<SessionWithClient[]> {
  const result = await db.query<SessionWithClient>(
    `SELECT ${COLUMNS}, ${CLIENT_COLUMNS} FROM admin_sessions
      WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now()
      ORDER BY created_at DESC LIMIT 200`,
    [userId],
  );
  return result.rows;
}

export async function touchSession(db: Queryable, id: string): Promise<void> {
  await db.query('UPDATE admin_sessions SET last_seen_at = now() WHERE id = $1', [id]);
}

export async function revokeSession(db: Queryable, id: string): Promise<void> {
  await db.query(
    'UPDATE admin_sessions SET revoked_at = COALESCE(revoked_at, now()) WHERE id = $1',
    [id],
  );
}

/** Revokes one open session of a user; false when the user has no such open session. */
export async function revokeOwnSession(
  db: Queryable,
  userId: string,
  id: string,
): Promise<boolean> {
  const result = await db.query(
    `UPDATE admin_sessions SET revoked_at = now()
      WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL`,
    [id, userId],
  );
  return result.rowCount > 0;
}

/** Revokes every open session of a user, e.g. after a password change. */
export async function revokeUserSessions(
  db: Queryable,
  userId: string,
  exceptId?: string,
): Promise<number> {
  const result = await db.query(
    `UPDATE admin_sessions SET revoked_at = now()
      WHERE user_id = $1 AND revoked_at IS NULL AND ($2::uuid IS NULL OR id <> $2)`,
    [userId, exceptId ?? null],
  );
  return result.rowCount;
}
