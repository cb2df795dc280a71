import type { Logger } from 'pino';

import { DecryptionError, KeyStateError } from '../crypto/errors.js';
import type { KeyVersionRef } from '../crypto/key-types.js';
import type { Database } from '../database/database.js';
import { inTenant } from '../database/tenant-scope.js';
import {
  isUnderKey,
  USER_FIELD_COLUMNS,
  type UserField,
  type UserFieldProtection,
} from './user-field-protection.js';

/** Options of {@link reencryptUserFields}. */
export interface UserFieldReencryptionOptions {
  /** Rows read per query. Defaults to 100. */
  batchSize?: number;
  logger?: Logger;
  /** Called after each examined row with the count so far, so a test can stop the run there. */
  afterRow?: (examined: number) => void;
}

/** Counts of one re-encryption run over users, invitations and TOTP factors. */
export interface UserFieldReencryptionResult {
  examined: number;
  /** Rows rewritten under the active key version. */
  reencrypted: number;
  /** Rows already under the active version. */
  current: number;
  /** Rows changed by a concurrent write between read and update, left as that write stored them. */
  skippedConcurrent: number;
  /**
   * Rows left unchanged because a stored value does not decrypt (altered, or its key was
   * destroyed) or the user's key has no active version (the user's erasure is scheduled).
   */
  unreadable: number;
}

type RowOutcome = 'reencrypted' | 'current' | 'skippedConcurrent' | 'unreadable';

interface UserRow {
  id: string;
  emailEncrypted: string | null;
  emailIndex: string | null;
  nameEncrypted: string | null;
  phoneEncrypted: string | null;
}

const USER_CIPHERTEXTS = [
  ['email', 'emailEncrypted'],
  ['name', 'nameEncrypted'],
  ['phone', 'phoneEncrypted'],
] as const satisfies readonly (readonly [UserField, keyof UserRow])[];

/**
 * Moves each user's email, name, phone and TOTP secret to the active version of that user's own
 * data key, from the platform key (values written before per-user keys) or from an older version
 * of the user's key (after a rotation). Recomputes the user email index under the
 * active platform key version, re-encrypts invitation emails under it, and recomputes invitation
 * indexes under the active version of their organization's key. Older versions can be scheduled
 * for deletion afterwards.
 *
 * The run is resumable because its progress is stored in the rows themselves: the key version
 * inside each ciphertext, and an index computed under the active version. A run stopped at any
 * point, even by SIGKILL, is finished by running it again, which skips rows already current.
 * Each row is one UPDATE that applies only when the row still has the values that were read,
 * so a row is never half rewritten and a concurrent change is never overwritten. Plaintext
 * rows are left to the start migration. A row that does not decrypt, or whose user's key has no
 * active version, is counted as unreadable, logged by id, and left as it is.
 */
export async function reencryptUserFields(
  db: Database,
  protection: UserFieldProtection,
  options: UserFieldReencryptionOptions = {},
): Promise<UserFieldReencryptionResult> {
  const batchSize = Math.max(1, Math.min(options.batchSize ?? 100, 10_000));
  const result: UserFieldReencryptionResult = {
    examined: 0,
    reencrypted: 0,
    current: 0,
    skippedConcurrent: 0,
    unreadable: 0,
  };
  const count = (outcome: RowOutcome) => {
    result.examined += 1;
    result[outcome] += 1;
    options.afterRow?.(result.examined);
  };

  let afterId = '';
  for (;;) {
    const batch = await db.query<UserRow>(
      `SELECT id, email_encrypted AS "emailEncrypted", email_index AS "emailIndex",
              name_encrypted AS "nameEncrypted", phone_encrypted AS "phoneEncrypted"
         FROM users WHERE email_encrypted IS NOT NULL AND id::text > $1
        ORDER BY id::text LIMIT $2`,
      [afterId, batchSize],
    );
    for (const row of batch.rows) {
      afterId = row.id;
      count(await reencryptUserRow(db, protection, row));
    }
    options.logger?.info({ ...result, table: 'users' }, 're-encryption progress');
    if (batch.rows.length < batchSize) break;
  }

  // Row-level security shows one organization's invitations at a time.
  const orgIds = await db.query<{ id: string }>('SELECT id FROM tenancy_organization_ids() AS id');
  for (const { id: orgId } of orgIds.rows) {
    afterId = '';
    for (;;) {
      const batch = await inTenant(db, orgId, (tx) =>
        tx.query<InvitationRow>(
          `SELECT id, email_encrypted AS "emailEncrypted", email_index AS "emailIndex",
                  email_index_scope AS "indexScope"
             FROM user_invitations
            WHERE org_id = $1 AND email_encrypted IS NOT NULL AND id::text > $2
            ORDER BY id::text LIMIT $3`,
          [orgId, afterId, batchSize],
        ),
      );
      for (const row of batch.rows) {
        afterId = row.id;
        count(await reencryptInvitationRow(db, protection, orgId, row));
      }
      options.logger?.info({ ...result, table: 'user_invitations', orgId }, 're-encryption progress');
      if (batch.rows.length < batchSize) break;
    }
  }

  afterId = '';
  for (;;) {
    const batch = await db.query<{ userId: string; sealed: string }>(
      `SELECT user_id AS "userId", secret_sealed AS sealed FROM user_totp_factors
        WHERE starts_with(secret_sealed, 'mw1.') AND user_id::text > $1
        ORDER BY user_id::text LIMIT $2`,
      [afterId, batchSize],
    );
    for (const row of batch.rows) {
      afterId = row.userId;
      count(await reencryptTotpRow(db, protection, row));
    }
    options.logger?.info({ ...result, table: 'user_totp_factors' }, 're-encryption progress');
    if (batch.rows.length < batchSize) break;
  }
  return result;
}

/** Returns 'unreadable' when `work` fails because a value does not decrypt or a key is unusable. */
async function unlessUnreadable(
  protection: UserFieldProtection,
  location: { table: string; column: string; rowId: string },
  work: () => Promise<RowOutcome>,
): Promise<RowOutcome> {
  try {
    return await work();
  } catch (error) {
    if (!(error instanceof DecryptionError) && !(error instanceof KeyStateError)) throw error;
    protection.reportUnreadable(location);
    return 'unreadable';
  }
}

function reencryptUserRow(
  db: Database,
  protection: UserFieldProtection,
  row: UserRow,
): Promise<RowOutcome> {
  const location = { table: 'users', column: USER_FIELD_COLUMNS.email, rowId: row.id };
  return unlessUnreadable(protection, location, async () => {
    const active = await protection.activeUserKey(row.id);
    const plaintexts = new Map<UserField, string>();
    for (const [field, column] of USER_CIPHERTEXTS) {
      const value = row[column];
      if (value === null) continue;
      location.column = USER_FIELD_COLUMNS[field];
      plaintexts.set(field, await protection.decrypt(row.id, field, value));
    }
    const email = plaintexts.get('email');
    const index = email === undefined ? null : await protection.emailIndexForWrite(email);
    const stale = USER_CIPHERTEXTS.some(([, column]) => {
      const value = row[column];
      return value !== null && !isUnderKey(value, active);
    });
    if (!stale && index === row.emailIndex) return 'current';
    return updateUserRow(db, protection, row, plaintexts, index, active);
  });
}

async function updateUserRow(
  db: Database,
  protection: UserFieldProtection,
  row: UserRow,
  plaintexts: Map<UserField, string>,
  index: string | null,
  active: KeyVersionRef,
): Promise<RowOutcome> {
  const updated: Record<string, string | null> = {};
  for (const [field, column] of USER_CIPHERTEXTS) {
    const value = row[column];
    const plaintext = plaintexts.get(field);
    // A value already under the active version is kept, so its ciphertext does not change.
    updated[column] =
      value === null || plaintext === undefined || isUnderKey(value, active)
        ? value
        : await protection.encrypt(row.id, field, plaintext);
  }
  const update = await db.query(
    `UPDATE users
        SET email_encrypted = $2, email_index = $3, name_encrypted = $4, phone_encrypted = $5
      WHERE id = $1 AND email_encrypted IS NOT DISTINCT FROM $6
        AND email_index IS NOT DISTINCT FROM $7 AND name_encrypted IS NOT DISTINCT FROM $8
        AND phone_encrypted IS NOT DISTINCT FROM $9`,
    [
      row.id,
      updated.emailEncrypted,
      index,
      updated.nameEncrypted,
      updated.phoneEncrypted,
      row.emailEncrypted,
      row.emailIndex,
      row.nameEncrypted,
      row.phoneEncrypted,
    ],
  );
  return update.rowCount === 1 ? 'reencrypted' : 'skippedConcurrent';
}

interface InvitationRow {
  id: string;
  emailEncrypted: string;
  emailIndex: string;
  indexScope: 'platform' | 'organization';
}

function reencryptInvitationRow(
  db: Database,
  protection: UserFieldProtection,
  orgId: string,
  row: InvitationRow,
): Promise<RowOutcome> {
  const location = { table: 'user_invitations', column: 'email_encrypted', rowId: row.id };
  return unlessUnreadable(protection, location, async () => {
    const email = await protection.decryptInvitationEmail(row.id, row.emailEncrypted);
    const index = await protection.invitationIndexForWrite(orgId, email);
    const underActive = isUnderKey(row.emailEncrypted, await protection.activeKey());
    if (underActive && index === row.emailIndex && row.indexScope === 'organization') {
      return 'current';
    }
    const encrypted = underActive
      ? row.emailEncrypted
      : await protection.encryptInvitationEmail(row.id, email);
    const update = await inTenant(db, orgId, (tx) =>
      tx.query(
        `UPDATE user_invitations
            SET email_encrypted = $3, email_index = $4, email_index_scope = 'organization'
          WHERE org_id = $1 AND id = $2 AND email_encrypted = $5 AND email_index = $6`,
        [orgId, row.id, encrypted, index, row.emailEncrypted, row.emailIndex],
      ),
    );
    return update.rowCount === 1 ? 'reencrypted' : 'skippedConcurrent';
  });
}

function reencryptTotpRow(
  db: Database,
  protection: UserFieldProtection,
  row: { userId: string; sealed: string },
): Promise<RowOutcome> {
  const location = { table: 'user_totp_factors', column: 'secret_sealed', rowId: row.userId };
  return unlessUnreadable(protection, location, async () => {
    if (isUnderKey(row.sealed, await protection.activeUserKey(row.userId))) return 'current';
    const secret = await protection.decryptTotpSecret(row.userId, row.sealed);
    let encrypted: string;
    try {
      encrypted = await protection.encryptTotpSecret(row.userId, secret);
    } finally {
      secret.fill(0);
    }
    const update = await db.query(
      'UPDATE user_totp_factors SET secret_sealed = $2 WHERE user_id = $1 AND secret_sealed = $3',
      [row.userId, encrypted, row.sealed],
    );
    return update.rowCount === 1 ? 'reencrypted' : 'skippedConcurrent';
  });
}
