import type { Queryable } from '../../data/database/database.js';
import type { SessionType } from '../auth/session.repository.js';

/** A started SSO sign-in, as the callback needs it. */
export interface SsoLoginState {
  id: string;
  browserBindingHash: Buffer;
  codeVerifier: string;
  nonce: string;
  redirectUri: string;
  sessionType: SessionType;
}

export async function insertLoginState(
  tx: Queryable,
  state: Omit<SsoLoginState, 'id'> & { orgId: string; stateHash: Buffer; expiresAt: Date },
): Promise<void> {
  // Expired states of the organization are dropped on the way, so the table stays small.
  await tx.query('DELETE FROM sso_login_states WHERE org_id = $1 AND expires_at < now()', [
    state.orgId,
  ]);
  await tx.query(
    `INSERT INTO sso_login_states
       (org_id, state_hash, browser_binding_hash, code_verifier, nonce, redirect_uri,
        session_type, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [
      state.orgId,
      state.stateHash,
      state.browserBindingHash,
      state.codeVerifier,
      state.nonce,
      state.redirectUri,
      state.sessionType,
      state.expiresAt,
    ],
  );
}

/**
 * Marks the open sign-in of `stateHash` as used and returns it, or null when it is unknown,
 * expired or already used. Each state completes at most one callback.
 */
export async function consumeLoginState(
  tx: Queryable,
  orgId: string,
  stateHash: Buffer,
): Promise<SsoLoginState | null> {
  const result = await tx.query<SsoLoginState>(
    `UPDATE sso_login_states SET consumed_at = now()
      WHERE org_id = $1 AND state_hash = $2 AND consumed_at IS NULL AND expires_at > now()
     RETURNING id, browser_binding_hash AS "browserBindingHash", code_verifier AS "codeVerifier",
               nonce, redirect_uri AS "redirectUri", session_type AS "sessionType"`,
    [orgId, stateHash],
  );
  return result.rows[0] ?? null;
}
