import type { Database, Queryable } from './database.js';

/** The session setting that row-level security policies read to find the current tenant. */
export const TENANT_SETTING = 'mindweave.org_id';

/**
 * Runs `work` in one transaction scoped to the organization `orgId`: row-level security lets
 * it see and write only that organization's rows. The setting is local to the transaction, so
 * a pooled connection never carries one tenant's scope into another request.
 */
export async function inTenant<T>(
  db: Database,
  orgId: string,
  work: (tx: Queryable) => Promise<T>,
): Promise<T> {
  return db.transaction(async (tx) => {
    await tx.query('SELECT set_config($1, $2, true)', [TENANT_SETTING, orgId]);
    return work(tx);
  });
}
