import { randomUUID } from 'node:crypto';

import type { Queryable } from '../../data/database/database.js';
import type { OrgRole } from '../users/user.schema.js';

export interface Organization {
  id: string;
  name: string;
  status: 'active' | 'disabled';
  /** Whether every member must enroll a second factor, not only the privileged roles. */
  requireMfa: boolean;
  /** Whether policy changes that loosen it wait for a second admin's approval. */
  fourEyes: boolean;
  createdAt: Date;
  updatedAt: Date;
}

const COLUMNS = `id, name, status, require_mfa AS "requireMfa", four_eyes AS "fourEyes",
  created_at AS "createdAt", updated_at AS "updatedAt"`;

const SELECT = `SELECT ${COLUMNS} FROM organizations`;

/**
 * Inserts an organization. The id is chosen before the insert, because the application role may
 * write an organization's row only inside that organization's tenant scope.
 */
export async function insertOrganization(
  db: Queryable,
  name: string,
  id: string = randomUUID(),
): Promise<Organization> {
  const result = await db.query<Organization>(
    `INSERT INTO organizations (id, name) VALUES ($1, $2)
     RETURNING ${COLUMNS}`,
    [id, name],
  );
  return result.rows[0] as Organization;
}

export async function findOrganization(db: Queryable, id: string): Promise<Organization | null> {
  const result = await db.query<Organization>(`${SELECT} WHERE id = $1`, [id]);
  return result.rows[0] ?? null;
}

/** Changes the given fields of an organization; unchanged fields keep their values. */
export async function updateOrganization(
  db: Queryable,
  id: string,
  changes: { name?: string; requireMfa?: boolean; fourEyes?: boolean },
): Promise<Organization | null> {
  const result = await db.query<Organization>(
    `UPDATE organizations
        SET name = COALESCE($2, name), require_mfa = COALESCE($3, require_mfa),
            four_eyes = COALESCE($4, four_eyes), updated_at = now()
      WHERE id = $1
      RETURNING ${COLUMNS}`,
    [id, changes.name ?? null, changes.requireMfa ?? null, changes.fourEyes ?? null],
  );
  return result.rows[0] ?? null;
}

/**
 * Organizations a user belongs to, with the user's role in each. They span tenants, so they come
 * from the SECURITY DEFINER function `tenancy_user_organizations`, which returns only these.
 */
export async function listOrganizationsOfUser(
  db: Queryable,
  userId: string,
): Promise<(Organization & { role: OrgRole })[]> {
  const result = await db.query<Organization & { role: OrgRole }>(
    `SELECT ${COLUMNS}, u.role
       FROM tenancy_user_organizations($1) u
      CROSS JOIN LATERAL (SELECT (u.organization).*) o
      ORDER BY o.created_at, o.id`,
    [userId],
  );
  return result.rows;
}
