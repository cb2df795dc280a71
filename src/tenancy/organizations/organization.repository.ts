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

export async function insertOrganization(db: Queryable, name: string): Promise<Organization> {
  const result = await db.query<Organization>(
    `INSERT INTO organizations (name) VALUES ($1)
     RETURNING ${COLUMNS}`,
    [name],
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

/** Organizations a user belongs to, with the user's role in each. */
export async function listOrganizationsOfUser(
  db: Queryable,
  userId: string,
): Promise<(Organization & { role: OrgRole })[]> {
  const result = await db.query<Organization & { role: OrgRole }>(
    `SELECT o.id, o.name, o.status, o.require_mfa AS "requireMfa", o.created_at AS "createdAt",
            o.updated_at AS "updatedAt", m.role
       FROM organizations o JOIN memberships m ON m.org_id = o.id
      WHERE m.user_id = $1
      ORDER BY o.created_at`,
    [userId],
  );
  return result.rows;
}
