import type { Queryable } from '../../data/database/database.js';
import type { ProviderName } from './provider-key.schema.js';

/** Stored metadata of an organization's provider key, without the key itself. */
export interface ProviderKeySummary {
  id: string;
  orgId: string;
  provider: ProviderName;
  lastFour: string;
  createdAt: Date;
  updatedAt: Date;
}

/** A stored provider key row with its ciphertext. */
export interface ProviderKeyRow extends ProviderKeySummary {
  encryptedKey: string;
}

const SUMMARY_COLUMNS = `id, org_id AS "orgId", provider, last_four AS "lastFour",
  created_at AS "createdAt", updated_at AS "updatedAt"`;

export async function findProviderKey(
  db: Queryable,
  orgId: string,
  provider: ProviderName,
): Promise<ProviderKeyRow | undefined> {
  const result = await db.query<ProviderKeyRow>(
    `SELECT ${SUMMARY_COLUMNS}, encrypted_key AS "encryptedKey"
       FROM organization_provider_keys WHERE org_id = $1 AND provider = $2`,
    [orgId, provider],
  );
  return result.rows[0];
}

export async function listProviderKeys(
  db: Queryable,
  orgId: string,
): Promise<ProviderKeySummary[]> {
  const result = await db.query<ProviderKeySummary>(
    `SELECT ${SUMMARY_COLUMNS} FROM organization_provider_keys WHERE org_id = $1
      ORDER BY provider`,
    [orgId],
  );
  return result.rows;
}

/**
 * Inserts the key, or replaces the ciphertext of the existing row when it has the same id.
 * Returns undefined when the (organization, provider) row exists under another id, which
 * happens when a concurrent request created it first. The ciphertext is bound to the row id, so
 * the caller must then encrypt again for that row.
 */
export async function upsertProviderKey(
  db: Queryable,
  row: Pick<ProviderKeyRow, 'id' | 'orgId' | 'provider' | 'encryptedKey' | 'lastFour'>,
): Promise<(ProviderKeySummary & { created: boolean }) | undefined> {
  // `xmax = 0` is true only for a freshly inserted row, which distinguishes a create from a replace.
  const result = await db.query<ProviderKeySummary & { created: boolean }>(
    `INSERT INTO organization_provider_keys (id, org_id, provider, encrypted_key, last_four)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (org_id, provider) DO UPDATE
        SET encrypted_key = EXCLUDED.encrypted_key, last_four = EXCLUDED.last_four,
            updated_at = now()
      WHERE organization_provider_keys.id = EXCLUDED.id
     RETURNING ${SUMMARY_COLUMNS}, (xmax = 0) AS created`,
    [row.id, row.orgId, row.provider, row.encryptedKey, row.lastFour],
  );
  return result.rows[0];
}

export async function deleteProviderKey(
  db: Queryable,
  orgId: string,
  provider: ProviderName,
): Promise<ProviderKeySummary | undefined> {
  const result = await db.query<ProviderKeySummary>(
    `DELETE FROM organization_provider_keys WHERE org_id = $1 AND provider = $2
     RETURNING ${SUMMARY_COLUMNS}`,
    [orgId, provider],
  );
  return result.rows[0];
}
