import { KeyUsageLogger, kmsContext } from '../crypto/key-usage-logger.js';
import type { KeyRecord } from '../crypto/key-types.js';
import type { Database, Queryable } from '../database/database.js';
import { DatabaseKeyStore } from '../key-store/database-key-store.js';
import { DatabaseKeyUsageSink } from '../key-store/database-key-usage-sink.js';
import type { KmsProvider } from './kms-provider.js';
import { KmsError } from './kms-provider.js';

/** Stored purpose key versions that are still wrapped under one master key. */
export interface MasterKeyReferences {
  masterKeyId: string;
  /** Provider name recorded when the versions were wrapped, such as `local-file`. */
  provider: string;
  purposeKeyVersions: number;
}

/** Options of {@link rewrapPurposeKeysUnderMaster}. */
export interface MasterRewrapOptions {
  /** Provider that decrypts under the old master keys and encrypts under `targetMasterKeyId`. */
  kms: KmsProvider;
  targetMasterKeyId: string;
  /** Recorded in the key usage log. */
  actor: string;
  /**
   * Called after each version is re-wrapped and saved, with the counts so far. An error it
   * throws stops the run, and the versions saved before stay re-wrapped.
   */
  onRewrapped?: (record: KeyRecord, progress: MasterRewrapResult) => void | Promise<void>;
}

/** Counts of one {@link rewrapPurposeKeysUnderMaster} run. */
export interface MasterRewrapResult {
  targetMasterKeyId: string;
  /** Purpose key versions found under another master key. */
  examined: number;
  rewrapped: number;
  /** Versions that another process re-wrapped or destroyed meanwhile. */
  skipped: number;
}

/** Counts the purpose key versions that are not destroyed, per master key that wraps them. */
export async function listMasterKeyReferences(db: Queryable): Promise<MasterKeyReferences[]> {
  const result = await db.query<{ masterKeyId: string; provider: string; total: number | string }>(
    `SELECT parent_master_key_id AS "masterKeyId", parent_provider AS provider,
            count(*) AS total
       FROM encryption_key_versions
      WHERE parent_kind = 'kms' AND wrapped_key IS NOT NULL AND state <> 'destroyed'
      GROUP BY parent_master_key_id, parent_provider
      ORDER BY parent_master_key_id, parent_provider`,
  );
  return result.rows.map((row) => ({
    masterKeyId: row.masterKeyId,
    provider: row.provider,
    purposeKeyVersions: Number(row.total),
  }));
}

/**
 * Checks that `kms` has every master key that a stored purpose key version is wrapped under,
 * so a server fails at start rather than at the first decryption.
 *
 * @throws KmsError naming the first master key that no configured provider holds.
 */
export async function assertMasterKeysHeld(db: Queryable, kms: KmsProvider): Promise<void> {
  for (const reference of await listMasterKeyReferences(db)) {
    try {
      await kms.describe(reference.masterKeyId);
    } catch (error) {
      if (!(error instanceof KmsError)) throw error;
      throw new KmsError(
        `${reference.purposeKeyVersions} purpose key versions are wrapped under master key ` +
          `${JSON.stringify(reference.masterKeyId)} of provider ${reference.provider}, which no ` +
          `configured KMS provider holds. Configure that provider (KMS_PROVIDER, or ` +
          `KMS_DECRYPT_ONLY during a migration) or restore its key file.`,
      );
    }
  }
}

async function listVersionsUnderOtherMasters(
  db: Queryable,
  targetMasterKeyId: string,
): Promise<{ keyId: string; version: number }[]> {
  const result = await db.query<{ keyId: string; version: number }>(
    `SELECT key_id AS "keyId", version FROM encryption_key_versions
      WHERE parent_kind = 'kms' AND parent_master_key_id <> $1
        AND wrapped_key IS NOT NULL AND state <> 'destroyed'
      ORDER BY key_id, version`,
    [targetMasterKeyId],
  );
  return result.rows;
}

/**
 * Re-wraps every purpose key version that is wrapped under a master key other than
 * `targetMasterKeyId`: decrypts it under its recorded master key and encrypts the same key under
 * the target with the same KMS context, so nothing wrapped under the purpose key changes. Each
 * version is saved in one conditional UPDATE that matches the old master key and blob, so a
 * version is always readable under exactly one of the two keys. A run stopped at any point can
 * be run again, and a second run finds nothing to do. Every decrypt and encrypt writes an
 * `unwrap` or `wrap` record to the key usage log.
 *
 * NOTE: a running server keeps the purpose key records it read for up to its cache TTL, so it
 * may decrypt under the old master key for that long after the run.
 *
 * @throws DecryptionError when a stored version does not decrypt under its master key, after
 * logging the failed unwrap.
 * @throws KmsError when a master key is not held by `kms`, or the target cannot encrypt.
 */
export async function rewrapPurposeKeysUnderMaster(
  db: Database,
  options: MasterRewrapOptions,
): Promise<MasterRewrapResult> {
  const store = new DatabaseKeyStore(db);
  const logger = new KeyUsageLogger(new DatabaseKeyUsageSink(db), () => new Date());
  const { kms, targetMasterKeyId, actor } = options;
  // Fails before anything changes when the target master key is unknown or disabled.
  const target = await kms.describe(targetMasterKeyId);
  if (!target.enabled) {
    throw new KmsError(`master key ${JSON.stringify(targetMasterKeyId)} is disabled`);
  }
  const result: MasterRewrapResult = { targetMasterKeyId, examined: 0, rewrapped: 0, skipped: 0 };
  for (const ref of await listVersionsUnderOtherMasters(db, targetMasterKeyId)) {
    result.examined += 1;
    const record = await store.getKey(ref.keyId, ref.version);
    if (
      record?.parent.kind !== 'kms' ||
      record.wrappedKey === undefined ||
      record.state === 'destroyed' ||
      record.parent.masterKeyId === targetMasterKeyId
    ) {
      result.skipped += 1;
      continue;
    }
    const previous = record.parent;
    const context = kmsContext(record);
    let plaintext: Buffer;
    try {
      plaintext = await kms.decrypt(previous.masterKeyId, record.wrappedKey, context);
    } catch (error) {
      await logger.write('unwrap', record, actor, { ...context, masterKeyId: previous.masterKeyId }, error);
      throw error;
    }
    let wrapped: Buffer;
    try {
      await logger.write('unwrap', record, actor, { ...context, masterKeyId: previous.masterKeyId });
      wrapped = await kms.encrypt(targetMasterKeyId, plaintext, context);
    } finally {
      plaintext.fill(0);
    }
    const updated = await db.query(
      `UPDATE encryption_key_versions
          SET parent_provider = $3, parent_master_key_id = $4, wrapped_key = $5
        WHERE key_id = $1 AND version = $2 AND parent_kind = 'kms'
          AND parent_master_key_id = $6 AND wrapped_key = $7 AND state <> 'destroyed'`,
      [
        record.keyId,
        record.version,
        target.provider,
        targetMasterKeyId,
        wrapped,
        previous.masterKeyId,
        record.wrappedKey,
      ],
    );
    if (updated.rowCount !== 1) {
      result.skipped += 1;
      continue;
    }
    const rewrapped: KeyRecord = {
      ...record,
      parent: { kind: 'kms', provider: target.provider, masterKeyId: targetMasterKeyId },
      wrappedKey: wrapped,
    };
    await logger.write('wrap', rewrapped, actor, { ...context, masterKeyId: targetMasterKeyId });
    result.rewrapped += 1;
    await options.onRewrapped?.(rewrapped, { ...result });
  }
  return result;
}
