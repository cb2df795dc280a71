import type { Database, Queryable } from './database.js';

/** The session setting that row-level security policies read to find the current tenant. */
export const TENANT_SETTING = 'mindweave.org_id';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function checkOrgId(orgId: string): void {
  // The policies cast the setting to uuid, so any other value would fail every query. Failing
  // here names the cause instead.
  if (!UUID.test(orgId)) throw new Error(`invalid organization id for a tenant scope: ${orgId}`);
}

/**
 * Runs `work` in one transaction scoped to the organization `orgId`: row-level security lets
 * it see and write only that organization's rows. The setting is local to the transaction, so
 * a pooled connection never carries one tenant's scope into another request. On PostgreSQL the
 * scope is set in the same round trip as BEGIN.
 */
export async function inTenant<T>(
  db: Database,
  orgId: string,
  work: (tx: Queryable) => Promise<T>,
): Promise<T> {
  checkOrgId(orgId);
  return db.transaction(work, { localSettings: { [TENANT_SETTING]: orgId } });
}

/**
 * Switches an open transaction to the organization `orgId` until it ends or switches again,
 * for the few writers that handle rows of several organizations in one transaction: the
 * first-run bootstrap and the batched gateway call records. Everything else uses
 * {@link inTenant}.
 */
export async function enterTenant(tx: Queryable, orgId: string): Promise<void> {
  checkOrgId(orgId);
  await tx.query('SELECT set_config($1, $2, true)', [TENANT_SETTING, orgId]);
}
