import type { Queryable } from '../../data/database/database.js';

/**
 * Creates the monthly audit partitions for this month and the next two, so that entries
 * never fall into the default partition. Safe to call from several processes at once.
 * Returns the months (YYYY-MM) whose partition cannot be created because the default
 * partition already contains entries of that month.
 */
export async function ensureAuditPartitions(db: Queryable, now = new Date()): Promise<string[]> {
  const blocked: string[] = [];
  for (let offset = 0; offset <= 2; offset++) {
    const month = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset, 1));
    try {
      await db.query('SELECT audit_ensure_partition($1)', [month]);
    } catch (error) {
      const code = (error as { code?: string }).code;
      // Two processes creating the same partition at once: one wins, and the other finds it exists.
      if (code === '42P07') continue;
      // 23514: entries of that month already sit in the default partition, which keeps
      // taking them. The month is reported rather than stopping the caller.
      if (code === '23514') {
        blocked.push(month.toISOString().slice(0, 7));
        continue;
      }
      throw error;
    }
  }
  return blocked;
}
