import type { KeyUsageRecord, KeyUsageSink } from '../crypto/key-usage-log.js';
import type { Queryable } from '../database/database.js';

/** Maximum stored lengths of actor and error name. Longer values are truncated to fit the table's checks. */
const MAX_ACTOR_LENGTH = 200;
const MAX_ERROR_NAME_LENGTH = 100;

/**
 * {@link KeyUsageSink} that appends each record to the `key_usage_log` table. The application
 * role may only insert and read there, and a trigger rejects UPDATE, DELETE and TRUNCATE. A
 * failed insert rejects `write`, so the key operation that produced the record fails too.
 */
export class DatabaseKeyUsageSink implements KeyUsageSink {
  readonly #db: Queryable;

  constructor(db: Queryable) {
    this.#db = db;
  }

  async write(record: KeyUsageRecord): Promise<void> {
    await this.#db.query(
      `INSERT INTO key_usage_log (time, operation, key_id, version, purpose, tenant, actor,
         encryption_context, outcome, error_name)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [
        record.time,
        record.operation,
        record.keyId,
        record.version,
        record.purpose,
        record.tenant ?? null,
        record.actor.slice(0, MAX_ACTOR_LENGTH),
        JSON.stringify(record.encryptionContext),
        record.outcome,
        record.errorName?.slice(0, MAX_ERROR_NAME_LENGTH) ?? null,
      ],
    );
  }
}

/** One row of the key usage log as read back. */
export interface StoredKeyUsageRecord extends KeyUsageRecord {
  id: number;
}

/** Returns the newest key usage records, newest first, optionally for one key id. */
export async function listKeyUsage(
  db: Queryable,
  options: { keyId?: string; limit?: number } = {},
): Promise<StoredKeyUsageRecord[]> {
  const limit = Math.min(Math.max(options.limit ?? 100, 1), 10_000);
  const result = await db.query<{
    id: number | string;
    time: Date;
    operation: KeyUsageRecord['operation'];
    keyId: string;
    version: number;
    purpose: KeyUsageRecord['purpose'];
    tenant: string | null;
    actor: string;
    encryptionContext: Record<string, string> | string;
    outcome: KeyUsageRecord['outcome'];
    errorName: string | null;
  }>(
    `SELECT id, time, operation, key_id AS "keyId", version, purpose, tenant, actor,
            encryption_context AS "encryptionContext", outcome, error_name AS "errorName"
       FROM key_usage_log
      WHERE ($1::text IS NULL OR key_id = $1)
      ORDER BY id DESC LIMIT $2`,
    [options.keyId ?? null, limit],
  );
  return result.rows.map((row) => ({
    id: Number(row.id),
    time: new Date(row.time),
    operation: row.operation,
    keyId: row.keyId,
    version: row.version,
    purpose: row.purpose,
    tenant: row.tenant ?? undefined,
    actor: row.actor,
    encryptionContext:
      typeof row.encryptionContext === 'string'
        ? (JSON.parse(row.encryptionContext) as Record<string, string>)
        : row.encryptionContext,
    outcome: row.outcome,
    ...(row.errorName === null ? {} : { errorName: row.errorName }),
  }));
}
