import type { Logger } from 'pino';

import { DecryptionError, KeyStateError } from '../../data/crypto/errors.js';
import type { FieldCipher } from '../../data/crypto/field-cipher.js';
import type { KeyHierarchy } from '../../data/crypto/key-hierarchy.js';
import type { Database } from '../../data/database/database.js';
import { isUnderKey, PLATFORM_KEY_TENANT } from '../../data/personal-data/user-field-protection.js';
import { sessionClientLocation, type SessionClientColumn } from './session-client.js';

/** Options of {@link reencryptSessionClients}. */
export interface SessionClientReencryptionOptions {
  /** User or component recorded in the key usage log. */
  actor: string;
  /** Rows read per query. Defaults to 100. */
  batchSize?: number;
  logger?: Logger;
}

/** Counts of one re-encryption run over session client columns. */
export interface SessionClientReencryptionResult {
  examined: number;
  /** Sessions rewritten under the active platform key version. */
  reencrypted: number;
  /** Sessions already under the active version. */
  current: number;
  /** Sessions changed by a concurrent write between read and update, left as it stored them. */
  skippedConcurrent: number;
  /** Sessions left unchanged because a value does not decrypt (altered, or its key destroyed). */
  unreadable: number;
}

interface SessionRow {
  id: string;
  ip: string | null;
  userAgent: string | null;
}

type RowOutcome = Exclude<keyof SessionClientReencryptionResult, 'examined'>;

/**
 * Moves the encrypted client address and user agent of every admin session to the active
 * platform data key version, so older versions can be scheduled for deletion afterwards.
 *
 * The progress is the key version inside each ciphertext, so a run stopped at any point is
 * finished by running it again. Each session is one UPDATE that applies only when the row still
 * has the values that were read. A session whose values do not decrypt is counted as unreadable,
 * logged by id and left unchanged.
 */
export async function reencryptSessionClients(
  db: Database,
  cipher: FieldCipher,
  hierarchy: KeyHierarchy,
  options: SessionClientReencryptionOptions,
): Promise<SessionClientReencryptionResult> {
  const batchSize = Math.max(1, Math.min(options.batchSize ?? 100, 10_000));
  const result: SessionClientReencryptionResult = {
    examined: 0,
    reencrypted: 0,
    current: 0,
    skippedConcurrent: 0,
    unreadable: 0,
  };
  let afterId = '';
  for (;;) {
    const batch = await db.query<SessionRow>(
      `SELECT id, ip_encrypted AS ip, user_agent_encrypted AS "userAgent" FROM admin_sessions
        WHERE (ip_encrypted IS NOT NULL OR user_agent_encrypted IS NOT NULL) AND id::text > $1
        ORDER BY id::text LIMIT $2`,
      [afterId, batchSize],
    );
    for (const row of batch.rows) {
      afterId = row.id;
      result.examined += 1;
      result[await reencryptSessionRow(db, cipher, hierarchy, row, options)] += 1;
    }
    if (batch.rows.length < batchSize) break;
  }
  options.logger?.info({ ...result, table: 'admin_sessions' }, 're-encryption progress');
  return result;
}

async function reencryptSessionRow(
  db: Database,
  cipher: FieldCipher,
  hierarchy: KeyHierarchy,
  row: SessionRow,
  options: SessionClientReencryptionOptions,
): Promise<RowOutcome> {
  let ip: string | null;
  let userAgent: string | null;
  try {
    const active = await hierarchy.activeDataKey(
      { kind: 'tenant', tenant: PLATFORM_KEY_TENANT },
      options.actor,
    );
    const moved = (value: string | null) => value === null || isUnderKey(value, active);
    if (moved(row.ip) && moved(row.userAgent)) return 'current';
    ip = await reencryptValue(cipher, row.id, 'ip_encrypted', row.ip, options.actor);
    userAgent = await reencryptValue(
      cipher,
      row.id,
      'user_agent_encrypted',
      row.userAgent,
      options.actor,
    );
  } catch (error) {
    if (!(error instanceof DecryptionError || error instanceof KeyStateError)) throw error;
    options.logger?.error(
      { table: 'admin_sessions', sessionId: row.id, reason: error.name },
      'session client not re-encrypted: it does not decrypt or the platform key has no active version',
    );
    return 'unreadable';
  }
  const update = await db.query(
    `UPDATE admin_sessions SET ip_encrypted = $2, user_agent_encrypted = $3
      WHERE id = $1 AND ip_encrypted IS NOT DISTINCT FROM $4
        AND user_agent_encrypted IS NOT DISTINCT FROM $5`,
    [row.id, ip, userAgent, row.ip, row.userAgent],
  );
  return update.rowCount === 1 ? 'reencrypted' : 'skippedConcurrent';
}

async function reencryptValue(
  cipher: FieldCipher,
  sessionId: string,
  column: SessionClientColumn,
  ciphertext: string | null,
  actor: string,
): Promise<string | null> {
  if (ciphertext === null) return null;
  const location = sessionClientLocation(sessionId, column);
  const plaintext = await cipher.decrypt(location, ciphertext, { actor });
  try {
    return await cipher.encrypt(location, plaintext, { actor });
  } finally {
    plaintext.fill(0);
  }
}
