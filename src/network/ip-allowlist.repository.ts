import type { Queryable } from '../data/database/database.js';

/** The surfaces an allowlist guards: the admin API, or the gateway through API keys. */
export const ALLOWLIST_SURFACES = ['admin', 'api_key'] as const;
export type AllowlistSurface = (typeof ALLOWLIST_SURFACES)[number];

/** One allowed range of an organization's allowlist. */
export interface AllowlistEntry {
  id: string;
  surface: AllowlistSurface;
  cidr: string;
  description: string | null;
  createdAt: Date;
}

const COLUMNS = `id, surface, cidr::text AS cidr, description, created_at AS "createdAt"`;

/** The entries of one organization, optionally of one surface; run inside `inTenant`. */
export async function listAllowlistEntries(
  tx: Queryable,
  orgId: string,
  surface?: AllowlistSurface,
): Promise<AllowlistEntry[]> {
  const result = await tx.query<AllowlistEntry>(
    `SELECT ${COLUMNS} FROM ip_allowlist_entries
      WHERE org_id = $1 AND ($2::text IS NULL OR surface = $2)
      ORDER BY surface, cidr`,
    [orgId, surface ?? null],
  );
  return result.rows;
}

/** Replaces the whole list of one surface; run inside `inTenant`. */
export async function replaceAllowlistEntries(
  tx: Queryable,
  change: {
    orgId: string;
    surface: AllowlistSurface;
    entries: { cidr: string; description: string | null }[];
    createdBy: string;
  },
): Promise<AllowlistEntry[]> {
  await tx.query('DELETE FROM ip_allowlist_entries WHERE org_id = $1 AND surface = $2', [
    change.orgId,
    change.surface,
  ]);
  for (const entry of change.entries) {
    await tx.query(
      `INSERT INTO ip_allowlist_entries (org_id, surface, cidr, description, created_by)
       VALUES ($1, $2, $3::cidr, $4, $5)`,
      [change.orgId, change.surface, entry.cidr, entry.description, change.createdBy],
    );
  }
  return listAllowlistEntries(tx, change.orgId, change.surface);
}
