import type { Queryable } from '../../data/database/database.js';

export async function insertResetToken(
  db: Queryable,
  token: { hash: Buffer; userId: string; expiresAt: Date },
): Promise<string> {
  const result = await db.query<{ id: string }>(
    `INSERT INTO password_reset_tokens (token_hash, user_id, expires_at)
     VALUES ($1, $2, $3) RETURNING id`,
    [token.hash, token.userId, token.expiresAt],
  );
  return (result.rows[0] as { id: string }).id;
}

/** Counts the reset tokens issued to a user since `since`, used or not. */
export async function countResetTokensSince(
  db: Queryable,
  userId: string,
  since: Date,
): Promise<number> {
  const result = await db.query<{ count: number }>(
    `SELECT count(*)::int AS count FROM password_reset_tokens
      WHERE user_id = $1 AND created_at > $2`,
    [userId, since],
  );
  return result.rows[0]?.count ?? 0;
}

/** Finds and locks an unused, unexpired token, so two requests cannot both use it. */
export async function lockOpenResetToken(
  db: Queryable,
  hash: Buffer,
): Promise<{ id: string; userId: string } | null> {
  const result = await db.query<{ id: string; userId: string }>(
    `SELECT id, user_id AS "userId" FROM password_reset_tokens
      WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()
      FOR UPDATE`,
    [hash],
  );
  return result.rows[0] ?? null;
}

/** Marks every unused token of the user as used; returns how many there were. */
export async function useResetTokensOfUser(db: Queryable, userId: string): Promise<number> {
  const result = await db.query(
    'UPDATE password_reset_tokens SET used_at = now() WHERE user_id = $1 AND used_at IS NULL',
    [userId],
  );
  return result.rowCount;
}
