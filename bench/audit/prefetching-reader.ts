import type { Queryable } from '../../src/data/database/database.js';
import { STORED_ENTRY_COLUMNS } from '../../src/monitoring/audit/audit-entry.reader.js';
import type { StoredAuditEntry } from '../../src/monitoring/audit/chain-verifier.js';

type Row = StoredAuditEntry & { rawTime: string };

function readPage(db: Queryable, logId: string, afterSeq: number, afterTime: string, size: number) {
  return db.query<Row>(
    `SELECT ${STORED_ENTRY_COLUMNS}, timestamp::text AS "rawTime" FROM audit_logs
      WHERE log_id = $1 AND (seq, timestamp) > ($2::bigint, $3::timestamptz)
      ORDER BY audit_logs.seq, audit_logs.timestamp LIMIT $4`,
    [logId, afterSeq, afterTime, size],
  );
}

/**
 * Streams a log's entries in the order and pages of `readStoredEntries`, but sends the query
 * for the next page before yielding the current one, so PostgreSQL produces page n + 1 while
 * the caller verifies page n. `db` must be a pool with at least two connections for the
 * queries to overlap. This is a benchmark experiment, not the reader the server uses.
 */
export async function* readStoredEntriesPrefetching(
  db: Queryable,
  logId: string,
  batchSize = 5000,
): AsyncGenerator<StoredAuditEntry> {
  let page = await readPage(db, logId, 0, '-infinity', batchSize);
  for (;;) {
    const last = page.rows.at(-1);
    const next =
      page.rows.length === batchSize && last !== undefined
        ? readPage(db, logId, Number(last.seq), last.rawTime, batchSize)
        : null;
    // Without a handler, a failed prefetch would be an unhandled rejection until awaited.
    next?.catch(() => undefined);
    for (const row of page.rows) {
      const { rawTime: _rawTime, ...entry } = row;
      yield entry;
    }
    if (next === null) return;
    page = await next;
  }
}
