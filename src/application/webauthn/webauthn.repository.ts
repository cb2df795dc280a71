import type { Queryable } from '../../data/database/database.js';

/** Transports a browser may report for a credential, as WebAuthn Level 3 names them. */
export const WEBAUTHN_TRANSPORTS = [
  'ble',
  'cable',
  'hybrid',
  'internal',
  'nfc',
  'smart-card',
  'usb',
] as const;
export type WebAuthnTransport = (typeof WEBAUTHN_TRANSPORTS)[number];

/** A registered credential without its public key, as the user's list shows it. */
export interface WebAuthnCredentialSummary {
  id: string;
  name: string;
  transports: WebAuthnTransport[];
  deviceType: 'singleDevice' | 'multiDevice';
  backedUp: boolean;
  createdAt: Date;
  lastUsedAt: Date | null;
}

/** A registered credential with what verification needs. */
export interface WebAuthnCredentialRecord extends WebAuthnCredentialSummary {
  userId: string;
  credentialId: string;
  publicKey: Buffer;
  /** The signature counter; JavaScript numbers hold it exactly, as it is 32 bits. */
  counter: number;
}

export type WebAuthnChallengePurpose = 'registration' | 'authentication';

const SUMMARY_COLUMNS = `id, name, transports, device_type AS "deviceType",
  backed_up AS "backedUp", created_at AS "createdAt", last_used_at AS "lastUsedAt"`;
const RECORD_COLUMNS = `${SUMMARY_COLUMNS}, user_id AS "userId",
  credential_id AS "credentialId", public_key AS "publicKey", counter::float8 AS counter`;

export async function listCredentials(
  db: Queryable,
  userId: string,
): Promise<WebAuthnCredentialRecord[]> {
  const result = await db.query<WebAuthnCredentialRecord>(
    `SELECT ${RECORD_COLUMNS} FROM user_webauthn_credentials WHERE user_id = $1
      ORDER BY created_at, id`,
    [userId],
  );
  return result.rows;
}

export async function findCredentialByCredentialId(
  db: Queryable,
  credentialId: string,
): Promise<WebAuthnCredentialRecord | null> {
  const result = await db.query<WebAuthnCredentialRecord>(
    `SELECT ${RECORD_COLUMNS} FROM user_webauthn_credentials WHERE credential_id = $1`,
    [credentialId],
  );
  return result.rows[0] ?? null;
}

/** Stores a verified credential; null when its credential id is already registered. */
export async function insertCredential(
  db: Queryable,
  credential: Pick<
    WebAuthnCredentialRecord,
    | 'userId'
    | 'credentialId'
    | 'publicKey'
    | 'counter'
    | 'transports'
    | 'name'
    | 'deviceType'
    | 'backedUp'
  >,
): Promise<WebAuthnCredentialSummary | null> {
  const result = await db.query<WebAuthnCredentialSummary>(
    `INSERT INTO user_webauthn_credentials
       (user_id, credential_id, public_key, counter, transports, name, device_type, backed_up)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (credential_id) DO NOTHING
     RETURNING ${SUMMARY_COLUMNS}`,
    [
      credential.userId,
      credential.credentialId,
      credential.publicKey,
      credential.counter,
      credential.transports,
      credential.name,
      credential.deviceType,
      credential.backedUp,
    ],
  );
  return result.rows[0] ?? null;
}

/**
 * Stores the counter of a verified assertion. The update matches only while the stored counter
 * is still the one the assertion was checked against, so two concurrent sign-ins with one
 * assertion (or with two assertions of equal counter) store at most one.
 */
export async function advanceCounter(
  db: Queryable,
  id: string,
  expected: number,
  next: number,
): Promise<boolean> {
  const result = await db.query(
    `UPDATE user_webauthn_credentials SET counter = $3, last_used_at = now()
      WHERE id = $1 AND counter = $2`,
    [id, expected, next],
  );
  return result.rowCount > 0;
}

export async function deleteCredential(
  db: Queryable,
  userId: string,
  id: string,
): Promise<WebAuthnCredentialSummary | null> {
  const result = await db.query<WebAuthnCredentialSummary>(
    `DELETE FROM user_webauthn_credentials WHERE user_id = $1 AND id = $2
     RETURNING ${SUMMARY_COLUMNS}`,
    [userId, id],
  );
  return result.rows[0] ?? null;
}

export async function insertChallenge(
  db: Queryable,
  challenge: {
    userId: string;
    purpose: WebAuthnChallengePurpose;
    challenge: string;
    sessionId: string | null;
    mfaChallengeId: string | null;
    expiresAt: Date;
  },
): Promise<void> {
  // Expired challenges of the user are dropped on the way, so the table stays small.
  await db.query('DELETE FROM webauthn_challenges WHERE user_id = $1 AND expires_at < now()', [
    challenge.userId,
  ]);
  await db.query(
    `INSERT INTO webauthn_challenges
       (user_id, purpose, challenge, session_id, mfa_challenge_id, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6)`,
    [
      challenge.userId,
      challenge.purpose,
      challenge.challenge,
      challenge.sessionId,
      challenge.mfaChallengeId,
      challenge.expiresAt,
    ],
  );
}

/**
 * Marks every open challenge of `owner` as used and returns the newest unexpired one, or null
 * when there is none. Each challenge is returned at most once, and a later request for options
 * voids the earlier ones, so a signed response verifies at most once.
 */
export async function consumeChallenge(
  db: Queryable,
  purpose: WebAuthnChallengePurpose,
  owner: { sessionId: string } | { mfaChallengeId: string },
): Promise<string | null> {
  const column = 'sessionId' in owner ? 'session_id' : 'mfa_challenge_id';
  const ownerId = 'sessionId' in owner ? owner.sessionId : owner.mfaChallengeId;
  const result = await db.query<{ challenge: string; createdAt: Date; live: boolean }>(
    `UPDATE webauthn_challenges SET consumed_at = now()
      WHERE purpose = $1 AND ${column} = $2 AND consumed_at IS NULL
     RETURNING challenge, created_at AS "createdAt", expires_at > now() AS live`,
    [purpose, ownerId],
  );
  const live = result.rows.filter((row) => row.live);
  live.sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
  return live[0]?.challenge ?? null;
}
