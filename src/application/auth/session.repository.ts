import type { Queryable } from '../../data/database/database.js';

export interface SessionRecord {
  id: string;
  userId: string;
  createdAt: Date;
  lastSeenAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
}

const COLUMNS = `id, user_id AS "userId", created_at AS "createdAt", last_seen_at AS "lastSeenAt",
  expires_at AS "expiresAt", revoked_at AS "revokedAt"`;

export async function insertSession(
  db: Queryable,
  session: {
    hash: Buffer;
    userId: string;
    ip: string | null;
    userAgent: string | null;
    expiresAt: Date;
  },
): Promise<SessionRecord> {
  const result = await db.query<SessionRecord>(
    `INSERT INTO admin_sessions (token_hash, user_id, ip, user_agent, expires_at)
     VALUES ($1, $2, $3, $4, $5) RETURNING ${COLUMNS}`,
    [session.hash, session.userId, session.ip, session.userAgent, session.expiresAt],
  );
  return result.rows[0] as SessionRecord;
}

export async function findSessionByHash(
  db: Queryable,
  hash: Buffer,
): Promise<SessionRecord | null> {
  const result = await db.query<SessionRecord>(
    `SELECT ${COLUMNS} FROM admin_sessions WHERE token_hash = $1`,
    [hash],
  );
  return result.rows[0] ?? null;
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
