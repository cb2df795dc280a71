import type { Database, Queryable } from '../../data/database/database.js';
import { AUDIT_COLUMNS, chainRecords, type AuditChainer } from './audit-chain.js';
import type { AuditRecord } from './audit-entry.js';
import { addSealingKeys } from './audit-record-sealing.js';
import { auditAppended } from './audit-events.js';

export { AUDIT_COLUMNS } from './audit-chain.js';

/** The log every entry goes to; the schema allows more logs later. */
export const MAIN_LOG = 'main';

/** The head of a log, read under its row lock. */
interface LockedHead {
  nextSeq: number;
  lastHash: string | null;
  lastTimestamp: string | null;
  frontier: string[];
}

/** Formats a time as stored: UTC with microseconds, `YYYY-MM-DDTHH:MM:SS.ffffffZ`. */
export function storedTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '000Z');
}

function isDatabase(target: Queryable): target is Database {
  return typeof (target as Partial<Database>).transaction === 'function';
}

async function lockHead(tx: Queryable, logId: string): Promise<LockedHead> {
  const result = await tx.query<LockedHead>(
    `SELECT next_seq AS "nextSeq", last_hash AS "lastHash", frontier,
            to_char(last_timestamp AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
              AS "lastTimestamp"
       FROM audit_log_heads WHERE log_id = $1 FOR UPDATE`,
    [logId],
  );
  const head = result.rows[0];
  if (!head) throw new Error(`audit log ${logId} has no head row`);
  return head;
}

/**
 * Appends records to the audit log inside the caller's transaction, so that the change and
 * its audit entries commit or fail together. The log head's row lock is held until that
 * transaction ends: concurrent writers, in this process or others, queue on it and each gets
 * the next gap-free sequence numbers and the hash of the entry before. Time never runs
 * backwards along the chain, even when server clocks disagree. `chain` seals and hashes the
 * records under that lock; the default does it in this thread, and an `AuditChainWorker` does it
 * in a worker thread. Given the database instead of a transaction, it opens one of its own.
 */
export async function appendAuditRecords(
  tx: Queryable,
  records: AuditRecord[],
  logId = MAIN_LOG,
  chain: AuditChainer = chainRecords,
): Promise<void> {
  if (records.length === 0) return;
  // The head's row lock lasts only until its transaction ends, and on the pool every statement
  // is a transaction of its own, so concurrent appends would read the same head and fail.
  if (isDatabase(tx)) {
    return tx.transaction((inner) => appendAuditRecords(inner, records, logId, chain));
  }
  // Keys are read (or created) before the head is locked, so the lock is held for less time.
  const keys = new Map<string, Uint8Array | null>();
  for (const record of records) await addSealingKeys(tx, record, keys);

  const head = await lockHead(tx, logId);
  const lastMs = head.lastTimestamp ? Date.parse(head.lastTimestamp) : 0;
  const timestamp = storedTimestamp(Math.max(Date.now(), lastMs));
  const chained = await chain({
    logId,
    nextSeq: head.nextSeq,
    previousHash: head.lastHash,
    frontier: head.frontier,
    timestamp,
    records,
    keys,
  });

  // NULL::audit_logs gives every column its declared type. The column list leaves out `id`, so
  // the insert fills it from its default. The entries and the head's move are one statement, so
  // one round trip: PostgreSQL runs a data-modifying WITH part to completion even though the
  // UPDATE does not read it, and a failure in either fails both.
  const columns = AUDIT_COLUMNS.map((column) => `"${column}"`).join(', ');
  const moved = await tx.query(
    `WITH appended AS (
       INSERT INTO audit_logs (${columns})
       SELECT ${columns} FROM json_populate_recordset(NULL::audit_logs, $1::json)
     )
     UPDATE audit_log_heads SET next_seq = $3, last_hash = $4, last_timestamp = $5, frontier = $6
      WHERE log_id = $2`,
    [
      chained.rowsJson,
      logId,
      head.nextSeq + records.length,
      chained.lastHash,
      timestamp,
      chained.frontier,
    ],
  );
  if (moved.rowCount !== 1) throw new Error(`audit log ${logId} head did not move`);
  auditAppended(logId, head.nextSeq + records.length - 1);
}
