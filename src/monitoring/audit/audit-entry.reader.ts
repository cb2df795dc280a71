import type { Queryable } from '../../data/database/database.js';
import type { StoredAuditEntry } from './chain-verifier.js';

/** SELECT list that reads an entry back exactly as it was hashed. */
export const STORED_ENTRY_COLUMNS = `seq::text AS seq, log_id AS "logId",
  to_char(timestamp AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS timestamp,
  actor_type AS "actorType", actor_id::text AS "actorId", actor_email AS "actorEmail",
  actor_ip AS "actorIp", actor_user_agent AS "actorUserAgent", org_id::text AS "orgId",
  project_id::text AS "projectId", request_id::text AS "requestId",
  session_id::text AS "sessionId", action, resource_type AS "resourceType",
  resource_id::text AS "resourceId", old_values AS "oldValues", new_values AS "newValues",
  metadata, sensitivity, compliance_relevant AS "complianceRelevant",
  previous_hash AS "previousHash", entry_hash AS "entryHash"`;

/**
 * Streams a log's entries in sequence order, `batchSize` rows per query, from the entry after
 * `afterSeq`. Rows with the same seq come out together, ordered by time.
 */
export async function* readStoredEntries(
  db: Queryable,
  logId: string,
  options: { afterSeq?: number; batchSize?: number } = {},
): AsyncGenerator<StoredAuditEntry> {
  const batchSize = options.batchSize ?? 5000;
  let afterSeq = options.afterSeq ?? 0;
  let afterTime = '-infinity';
  for (;;) {
    const { rows } = await db.query<StoredAuditEntry & { rawTime: string }>(
      `SELECT ${STORED_ENTRY_COLUMNS}, timestamp::text AS "rawTime" FROM audit_logs
        WHERE log_id = $1 AND (seq, timestamp) > ($2::bigint, $3::timestamptz)
        ORDER BY audit_logs.seq, audit_logs.timestamp LIMIT $4`,
      [logId, afterSeq, afterTime, batchSize],
    );
    for (const row of rows) {
      const { rawTime: _rawTime, ...entry } = row;
      yield entry;
    }
    if (rows.length < batchSize) return;
    const last = rows[rows.length - 1] as StoredAuditEntry & { rawTime: string };
    afterSeq = Number(last.seq);
    afterTime = last.rawTime;
  }
}

/** The stored entry at one sequence number (the first by time when duplicated). */
export async function readEntriesAtSeq(
  db: Queryable,
  logId: string,
  seq: number,
): Promise<StoredAuditEntry[]> {
  const { rows } = await db.query<StoredAuditEntry>(
    `SELECT ${STORED_ENTRY_COLUMNS} FROM audit_logs WHERE log_id = $1 AND seq = $2
      ORDER BY audit_logs.timestamp`,
    [logId, seq],
  );
  return rows;
}
