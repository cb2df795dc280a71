import type { Queryable } from '../../data/database/database.js';

/**
 * Creates the monthly audit partitions for this month and the next two, so that entries
 * never fall into the default partition. Safe to call from several processes at once.
 */
export async function ensureAuditPartitions(db: Queryable, now = new Date()): Promise<void> {
  for (let offset = 0; offset <= 2; offset++) {
    const month = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset, 1));
    try {
      await db.query('SELECT audit_ensure_partition($1)', [month]);
    } catch (error) {
      // Two processes creating the same partition at once: one wins, the other sees it exist.
      if ((error as { code?: string }).code !== '42P07') throw error;
    }
  }
}
