import type { Logger } from 'pino';

import { DecryptionError } from '../crypto/errors.js';
import type { Database } from '../database/database.js';
import { inTenant } from '../database/tenant-scope.js';
import { LEGACY_TOTP_PREFIX, type LegacyTotpOpener } from './totp-secret-cipher.js';
import type { UserFieldProtection } from './user-field-protection.js';

/** Options of {@link encryptPlaintextPersonalData}. */
export interface PlaintextMigrationOptions {
  /** Opens TOTP secrets sealed by the older local key file. */
  legacyTotp: () => Promise<LegacyTotpOpener>;
  logger: Logger;
  /** Rows read per query. Defaults to 100. */
  batchSize?: number;
  /** Called after each row is migrated, so a test can stop the run part-way. */
  afterRow?: (migrated: number) => void;
}

/** Counts of one migration run. */
export interface PlaintextMigrationResult {
  users: number;
  invitations: number;
  totpSecrets: number;
  /** Invitations whose email index moved from the platform key to their organization's key. */
  invitationIndexes?: number;
}

/**
 * Encrypts what was stored before the key hierarchy covered it: user emails and names still in
 * plaintext columns, and TOTP secrets sealed by the older local key file. Each row is rewritten
 * by one UPDATE that applies only if the row still has the plaintext that was read, so the run
 * is idempotent and resumable: rows already encrypted are no longer selected, and a run that
 * stops at any point is finished by the next one. Every query runs outside a transaction,
 * because encryption may read the key store.
 */
export async function encryptPlaintextPersonalData(
  db: Database,
  protection: UserFieldProtection,
  options: PlaintextMigrationOptions,
): Promise<PlaintextMigrationResult> {
  const batchSize = Math.max(1, Math.min(options.batchSize ?? 100, 10_000));
  const result: PlaintextMigrationResult = { users: 0, invitations: 0, totpSecrets: 0 };
  const afterRow = () =>
    options.afterRow?.(result.users + result.invitations + result.totpSecrets);

  let afterId = '';
  for (;;) {
    const batch = await db.query<{ id: string; email: string | null; name: string | null }>(
      `SELECT id, email, name FROM users
        WHERE (email IS NOT NULL OR name IS NOT NULL) AND id::text > $1
        ORDER BY id::text LIMIT $2`,
      [afterId, batchSize],
    );
    for (const row of batch.rows) {
      afterId = row.id;
      if (await encryptUserRow(db, protection, row)) result.users += 1;
      afterRow();
    }
    if (batch.rows.length > 0) {
      options.logger.info({ users: result.users }, 'encrypted plaintext user fields');
    }
    if (batch.rows.length < batchSize) break;
  }

  // Row-level security shows one organization's invitations at a time.
  for (const orgId of await organizationIds(db)) {
    for (;;) {
      const batch = await inTenant(db, orgId, (tx) =>
        tx.query<{ id: string; email: string }>(
          `SELECT id, email FROM user_invitations
            WHERE org_id = $1 AND email IS NOT NULL ORDER BY id LIMIT $2`,
          [orgId, batchSize],
        ),
      );
      for (const row of batch.rows) {
        const encrypted = await protection.encryptInvitationEmail(row.id, row.email);
        const index = await protection.invitationIndexForWrite(orgId, row.email);
        await inTenant(db, orgId, (tx) =>
          tx.query(
            `UPDATE user_invitations
                SET email_encrypted = $3, email_index = $4, email_index_scope = 'organization',
                    email = NULL
              WHERE org_id = $1 AND id = $2 AND email = $5`,
            [orgId, row.id, encrypted, index, row.email],
          ),
        );
        result.invitations += 1;
        afterRow();
      }
      if (batch.rows.length > 0) {
        options.logger.info({ orgId, invitations: result.invitations }, 'encrypted invitation emails');
      }
      if (batch.rows.length < batchSize) break;
    }
  }

  result.invitationIndexes = await reindexPlatformInvitationIndexes(db, protection, options);

  for (;;) {
    const batch = await db.query<{ userId: string; sealed: string }>(
      `SELECT user_id AS "userId", secret_sealed AS sealed FROM user_totp_factors
        WHERE starts_with(secret_sealed, $1) ORDER BY user_id LIMIT $2`,
      [LEGACY_TOTP_PREFIX, batchSize],
    );
    if (batch.rows.length === 0) break;
    const legacy = await options.legacyTotp();
    for (const row of batch.rows) {
      const secret = legacy.open(row.userId, row.sealed);
      let encrypted: string;
      try {
        encrypted = await protection.encryptTotpSecret(row.userId, secret);
      } finally {
        secret.fill(0);
      }
      // A concurrent re-enrollment replaces the value; the next batch no longer selects it.
      await db.query(
        'UPDATE user_totp_factors SET secret_sealed = $2 WHERE user_id = $1 AND secret_sealed = $3',
        [row.userId, encrypted, row.sealed],
      );
      result.totpSecrets += 1;
      afterRow();
    }
    options.logger.info({ totpSecrets: result.totpSecrets }, 'encrypted TOTP secrets under the key hierarchy');
  }
  return result;
}

/**
 * Recomputes the email index of every invitation still indexed under the platform key (written
 * before indexes were bound to the organization) under its organization's data key. Each row is
 * one UPDATE that applies only while the row still has the index that was read, and rewritten
 * rows are no longer selected, so the step is resumable. A row whose email does not decrypt
 * keeps its old index, which no lookup computes any more, and is logged by id.
 */
async function reindexPlatformInvitationIndexes(
  db: Database,
  protection: UserFieldProtection,
  options: PlaintextMigrationOptions,
): Promise<number> {
  const batchSize = Math.max(1, Math.min(options.batchSize ?? 100, 10_000));
  let reindexed = 0;
  for (const orgId of await organizationIds(db)) {
    let afterId = '';
    for (;;) {
      const batch = await inTenant(db, orgId, (tx) =>
        tx.query<{ id: string; emailEncrypted: string; emailIndex: string }>(
          `SELECT id, email_encrypted AS "emailEncrypted", email_index AS "emailIndex"
             FROM user_invitations
            WHERE org_id = $1 AND email_index_scope = 'platform' AND email_encrypted IS NOT NULL
              AND id::text > $2
            ORDER BY id::text LIMIT $3`,
          [orgId, afterId, batchSize],
        ),
      );
      for (const row of batch.rows) {
        afterId = row.id;
        let email: string;
        try {
          email = await protection.decryptInvitationEmail(row.id, row.emailEncrypted);
        } catch (error) {
          if (!(error instanceof DecryptionError)) throw error;
          protection.reportUnreadable({
            table: 'user_invitations',
            column: 'email_encrypted',
            rowId: row.id,
          });
          continue;
        }
        const index = await protection.invitationIndexForWrite(orgId, email);
        const update = await inTenant(db, orgId, (tx) =>
          tx.query(
            `UPDATE user_invitations SET email_index = $3, email_index_scope = 'organization'
              WHERE org_id = $1 AND id = $2 AND email_index_scope = 'platform'
                AND email_index = $4`,
            [orgId, row.id, index, row.emailIndex],
          ),
        );
        reindexed += update.rowCount;
      }
      if (batch.rows.length > 0) {
        options.logger.info(
          { orgId, invitationIndexes: reindexed },
          'moved invitation email indexes to the organization key',
        );
      }
      if (batch.rows.length < batchSize) break;
    }
  }
  return reindexed;
}

async function encryptUserRow(
  db: Database,
  protection: UserFieldProtection,
  row: { id: string; email: string | null; name: string | null },
): Promise<boolean> {
  const email = row.email === null ? null : await protection.encrypt(row.id, 'email', row.email);
  const emailIndex = row.email === null ? null : await protection.emailIndexForWrite(row.email);
  const name = row.name === null ? null : await protection.encrypt(row.id, 'name', row.name);
  const update = await db.query(
    `UPDATE users
        SET email_encrypted = coalesce($2, email_encrypted),
            email_index = coalesce($3, email_index),
            name_encrypted = coalesce($4, name_encrypted),
            email = NULL, name = NULL, updated_at = now()
      WHERE id = $1 AND email IS NOT DISTINCT FROM $5 AND name IS NOT DISTINCT FROM $6`,
    [row.id, email, emailIndex, name, row.email, row.name],
  );
  return update.rowCount === 1;
}

async function organizationIds(db: Database): Promise<string[]> {
  const result = await db.query<{ id: string }>('SELECT id FROM tenancy_organization_ids() AS id');
  return result.rows.map((row) => row.id);
}

/** Plaintext left behind, as counted by {@link countPlaintextPersonalData}. */
export type PlaintextCounts = PlaintextMigrationResult;

/**
 * Counts users with a plaintext email or name, invitations with a plaintext email, and TOTP
 * secrets sealed by the older key file.
 */
export async function countPlaintextPersonalData(db: Database): Promise<PlaintextCounts> {
  const result = await db.query<Omit<PlaintextCounts, 'invitations'>>(
    `SELECT (SELECT count(*)::int FROM users WHERE email IS NOT NULL OR name IS NOT NULL) AS users,
            (SELECT count(*)::int FROM user_totp_factors WHERE starts_with(secret_sealed, $1))
              AS "totpSecrets"`,
    [LEGACY_TOTP_PREFIX],
  );
  let invitations = 0;
  for (const orgId of await organizationIds(db)) {
    const counted = await inTenant(db, orgId, (tx) =>
      tx.query<{ count: number }>(
        'SELECT count(*)::int AS count FROM user_invitations WHERE org_id = $1 AND email IS NOT NULL',
        [orgId],
      ),
    );
    invitations += counted.rows[0]?.count ?? 0;
  }
  const counts = result.rows[0] ?? { users: 0, totpSecrets: 0 };
  return { ...counts, invitations };
}

/**
 * Runs {@link encryptPlaintextPersonalData} and then checks that no plaintext is left.
 *
 * @throws Error naming the counts when rows still hold plaintext, for example because another
 * process wrote them during the run. Starting again finishes them.
 */
export async function migratePlaintextPersonalData(
  db: Database,
  protection: UserFieldProtection,
  options: PlaintextMigrationOptions,
): Promise<PlaintextMigrationResult> {
  const result = await encryptPlaintextPersonalData(db, protection, options);
  const left = await countPlaintextPersonalData(db);
  if (left.users > 0 || left.invitations > 0 || left.totpSecrets > 0) {
    throw new Error(
      `plaintext left after encryption at start: ${left.users} users with a plaintext email ` +
        `or name, ${left.invitations} invitations with a plaintext email, ${left.totpSecrets} ` +
        'TOTP secrets sealed by the old key file. Start again to retry.',
    );
  }
  return result;
}
