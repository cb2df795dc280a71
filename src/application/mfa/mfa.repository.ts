import type { Queryable } from '../../data/database/database.js';
import type { SessionType } from '../auth/session.repository.js';

/** A user's TOTP factor; `secretSealed` is opened only by `TotpSecretCipher`. */
export interface TotpFactor {
  userId: string;
  secretSealed: string;
  confirmedAt: Date | null;
  lastUsedStep: string | null;
}

/** Whether a user has a confirmed factor, and whether a role or an organization requires one. */
export interface MfaStatus {
  enrolled: boolean;
  required: boolean;
}

export interface MfaChallenge {
  id: string;
  userId: string;
  sessionType: SessionType;
  attempts: number;
}

/** Roles that must use a second factor in every organization. */
export const MFA_REQUIRED_ROLES = ['owner', 'admin', 'security_admin'] as const;

export async function findMfaStatus(db: Queryable, userId: string): Promise<MfaStatus> {
  const result = await db.query<MfaStatus>(
    `SELECT
       (EXISTS (SELECT 1 FROM user_totp_factors
                 WHERE user_id = $1 AND confirmed_at IS NOT NULL)
        OR EXISTS (SELECT 1 FROM user_webauthn_credentials WHERE user_id = $1)) AS enrolled,
       EXISTS (SELECT 1 FROM tenancy_user_organizations($1) u
                WHERE u.role = ANY($2::text[]) OR (u.organization).require_mfa) AS required`,
    [userId, MFA_REQUIRED_ROLES],
  );
  return result.rows[0] ?? { enrolled: false, required: false };
}

export async function findTotpFactor(db: Queryable, userId: string): Promise<TotpFactor | null> {
  const result = await db.query<TotpFactor>(
    `SELECT user_id AS "userId", secret_sealed AS "secretSealed", confirmed_at AS "confirmedAt",
            last_used_step::text AS "lastUsedStep"
       FROM user_totp_factors WHERE user_id = $1`,
    [userId],
  );
  return result.rows[0] ?? null;
}

/** Stores a new unconfirmed factor, replacing an earlier unconfirmed one; false if confirmed. */
export async function upsertPendingTotpFactor(
  db: Queryable,
  userId: string,
  secretSealed: string,
): Promise<boolean> {
  const result = await db.query(
    `INSERT INTO user_totp_factors (user_id, secret_sealed) VALUES ($1, $2)
     ON CONFLICT (user_id) DO UPDATE
       SET secret_sealed = EXCLUDED.secret_sealed, last_used_step = NULL, created_at = now()
       WHERE user_totp_factors.confirmed_at IS NULL`,
    [userId, secretSealed],
  );
  return result.rowCount > 0;
}

/**
 * Records `step` as used when it is later than every step used before. Concurrent requests
 * with codes of the same step update at most one row, so each step is accepted once.
 */
export async function claimTotpStep(db: Queryable, userId: string, step: bigint): Promise<boolean> {
  const result = await db.query(
    `UPDATE user_totp_factors SET last_used_step = $2
      WHERE user_id = $1 AND (last_used_step IS NULL OR last_used_step < $2)`,
    [userId, step.toString()],
  );
  return result.rowCount > 0;
}

export async function confirmTotpFactor(db: Queryable, userId: string): Promise<boolean> {
  const result = await db.query(
    `UPDATE user_totp_factors SET confirmed_at = now()
      WHERE user_id = $1 AND confirmed_at IS NULL`,
    [userId],
  );
  return result.rowCount > 0;
}

export async function deleteMfaFactors(db: Queryable, userId: string): Promise<boolean> {
  await db.query('DELETE FROM user_recovery_codes WHERE user_id = $1', [userId]);
  const result = await db.query('DELETE FROM user_totp_factors WHERE user_id = $1', [userId]);
  return result.rowCount > 0;
}

export async function replaceRecoveryCodes(
  db: Queryable,
  userId: string,
  hashes: Buffer[],
): Promise<void> {
  await db.query('DELETE FROM user_recovery_codes WHERE user_id = $1', [userId]);
  for (const hash of hashes) {
    await db.query('INSERT INTO user_recovery_codes (user_id, code_hash) VALUES ($1, $2)', [
      userId,
      hash,
    ]);
  }
}

/** Marks an unused recovery code as used; false when it is unknown or already used. */
export async function useRecoveryCode(
  db: Queryable,
  userId: string,
  hash: Buffer,
): Promise<boolean> {
  const result = await db.query(
    `UPDATE user_recovery_codes SET used_at = now()
      WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL`,
    [userId, hash],
  );
  return result.rowCount > 0;
}

export async function countUnusedRecoveryCodes(db: Queryable, userId: string): Promise<number> {
  const result = await db.query<{ count: number }>(
    'SELECT count(*)::int AS count FROM user_recovery_codes WHERE user_id = $1 AND used_at IS NULL',
    [userId],
  );
  return result.rows[0]?.count ?? 0;
}

export async function insertMfaChallenge(
  db: Queryable,
  challenge: { hash: Buffer; userId: string; sessionType: SessionType; expiresAt: Date },
): Promise<void> {
  await db.query(
    `INSERT INTO mfa_challenges (token_hash, user_id, session_type, expires_at)
     VALUES ($1, $2, $3, $4)`,
    [challenge.hash, challenge.userId, challenge.sessionType, challenge.expiresAt],
  );
}

/** Finds an open challenge: not consumed, not expired, and with attempts left. */
export async function findOpenMfaChallenge(
  db: Queryable,
  hash: Buffer,
  maxAttempts: number,
): Promise<MfaChallenge | null> {
  const result = await db.query<MfaChallenge>(
    `SELECT id, user_id AS "userId", session_type AS "sessionType", attempts
       FROM mfa_challenges
      WHERE token_hash = $1 AND consumed_at IS NULL AND expires_at > now() AND attempts < $2`,
    [hash, maxAttempts],
  );
  return result.rows[0] ?? null;
}

export async function countMfaChallengeAttempt(db: Queryable, id: string): Promise<void> {
  await db.query('UPDATE mfa_challenges SET attempts = attempts + 1 WHERE id = $1', [id]);
}

/** Marks a challenge as used; false when another request consumed it first. */
export async function consumeMfaChallenge(db: Queryable, id: string): Promise<boolean> {
  const result = await db.query(
    'UPDATE mfa_challenges SET consumed_at = now() WHERE id = $1 AND consumed_at IS NULL',
    [id],
  );
  return result.rowCount > 0;
}
