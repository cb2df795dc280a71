import type { Logger } from 'pino';

import { parseCiphertext } from '../../data/crypto/ciphertext-format.js';
import { DecryptionError, KeyStateError } from '../../data/crypto/errors.js';
import type { FieldCipher } from '../../data/crypto/field-cipher.js';
import type { KeyHierarchy } from '../../data/crypto/key-hierarchy.js';
import type { Database } from '../../data/database/database.js';
import { inTenant } from '../../data/database/tenant-scope.js';
import { providerKeyLocation } from './provider-key.service.js';

/** Options of {@link reencryptProviderKeys}. */
export interface ReencryptionOptions {
  /** Organization whose keys are re-encrypted. All organizations when omitted. */
  orgId?: string;
  /** Rows read per query. Defaults to 100. */
  batchSize?: number;
  /** Maximum rows examined in this run. Unbounded when omitted. */
  maxRows?: number;
  /** User or component recorded in the key usage log. */
  actor: string;
  logger?: Logger;
}

/** Counts of one re-encryption run. */
export interface ReencryptionResult {
  /** Rows examined. */
  examined: number;
  /** Rows rewritten under the active data key version. */
  reencrypted: number;
  /** Rows already under the active version. */
  current: number;
  /** Rows changed by a concurrent write between read and update, left as that write stored them. */
  skippedConcurrent: number;
  /**
   * Rows left unchanged because they do not decrypt (altered, or their key version destroyed) or
   * because their organization's data key has no active version (scheduled for deletion).
   */
  unreadable: number;
  /** True when every row was examined, false when `maxRows` stopped the run early. */
  complete: boolean;
}

interface Row {
  id: string;
  orgId: string;
  encryptedKey: string;
}

/**
 * Re-encrypts stored provider keys under their organization's active data key version, so that
 * older versions can later be scheduled for deletion without losing the keys.
 *
 * The run is resumable: the progress is the key version inside each ciphertext, so a run that
 * stops at any point is finished by running it again, which skips rows already current. Rows are
 * read organization by organization, in id order, in batches. Each update only applies when the
 * row still contains the ciphertext that was read, so a concurrent `PUT` is never overwritten.
 *
 * A row that does not decrypt, or whose organization's data key has no active version (an erasure
 * in progress or done), is counted as unreadable, logged with its ids and left unchanged. One such
 * organization therefore does not stop the run for the others.
 */
export async function reencryptProviderKeys(
  db: Database,
  cipher: FieldCipher,
  hierarchy: KeyHierarchy,
  options: ReencryptionOptions,
): Promise<ReencryptionResult> {
  const batchSize = Math.max(1, Math.min(options.batchSize ?? 100, 10_000));
  const result: ReencryptionResult = {
    examined: 0,
    reencrypted: 0,
    current: 0,
    skippedConcurrent: 0,
    unreadable: 0,
    complete: false,
  };
  // Row-level security shows one organization's rows at a time, so the run goes organization
  // by organization; the list of all of them comes from a SECURITY DEFINER function.
  const orgIds =
    options.orgId === undefined
      ? (
          await db.query<{ id: string }>('SELECT id FROM tenancy_organization_ids() AS id')
        ).rows.map((row) => row.id)
      : [options.orgId];

  for (const orgId of orgIds) {
    let afterId = '';
    for (;;) {
      // Each query is its own short transaction: decryption and encryption between them write
      // the key usage log, and PGlite runs nothing else while a transaction is open.
      const batch = await inTenant(db, orgId, (tx) =>
        tx.query<Row>(
          `SELECT id, org_id AS "orgId", encrypted_key AS "encryptedKey"
             FROM organization_provider_keys
            WHERE org_id = $1 AND id::text > $2
            ORDER BY id::text
            LIMIT $3`,
          [orgId, afterId, batchSize],
        ),
      );
      for (const row of batch.rows) {
        if (options.maxRows !== undefined && result.examined >= options.maxRows) {
          return result;
        }
        result.examined += 1;
        afterId = row.id;
        await reencryptRow(db, cipher, hierarchy, row, options, result);
      }
      if (batch.rows.length < batchSize) break;
    }
  }
  result.complete = true;
  return result;
}

async function reencryptRow(
  db: Database,
  cipher: FieldCipher,
  hierarchy: KeyHierarchy,
  row: Row,
  options: ReencryptionOptions,
  result: ReencryptionResult,
): Promise<void> {
  let plaintext: Buffer;
  const location = providerKeyLocation(row.orgId, row.id);
  try {
    const active = await hierarchy.activeDataKey(
      { kind: 'tenant', tenant: row.orgId },
      options.actor,
    );
    const parsed = parseCiphertext(row.encryptedKey);
    if (parsed?.keyId === active.keyId && parsed.keyVersion === active.version) {
      result.current += 1;
      return;
    }
    plaintext = await cipher.decrypt(location, row.encryptedKey, { actor: options.actor });
  } catch (error) {
    if (!(error instanceof KeyStateError || error instanceof DecryptionError)) throw error;
    result.unreadable += 1;
    options.logger?.error(
      { orgId: row.orgId, providerKeyId: row.id, reason: error.name },
      'provider key not re-encrypted: it does not decrypt or its data key has no active version',
    );
    return;
  }
  let encrypted: string;
  try {
    encrypted = await cipher.encrypt(location, plaintext, { actor: options.actor });
  } finally {
    plaintext.fill(0);
  }
  const update = await inTenant(db, row.orgId, (tx) =>
    tx.query(
      `UPDATE organization_provider_keys SET encrypted_key = $3
        WHERE id = $1 AND org_id = $2 AND encrypted_key = $4`,
      [row.id, row.orgId, encrypted, row.encryptedKey],
    ),
  );
  if (update.rowCount === 1) {
    result.reencrypted += 1;
    return;
  }
  result.skippedConcurrent += 1;
  options.logger?.info(
    { orgId: row.orgId, providerKeyId: row.id },
    'provider key changed during re-encryption; kept the newer value',
  );
}
