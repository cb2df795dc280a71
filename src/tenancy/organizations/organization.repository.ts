import type { Queryable } from '../../data/database/database.js';
import type { OrgRole } from '../users/user.schema.js';

export interface Organization {
  id: string;
  name: string;
  status: 'active' | 'disabled';
  createdAt: Date;
  updatedAt: Date;
}

const SELECT = `SELECT id, name, status, created_at AS "createdAt", updated_at AS "updatedAt"
  FROM organizations`;

export async function insertOrganization(db: Queryable, name: string): Promise<Organization> {
  const result = await db.query<Organization>(
    `INSERT INTO organizations (name) VALUES ($1)
     RETURNING id, name, status, created_at AS "createdAt", updated_at AS "updatedAt"`,
    [name],
  );
  return result.rows[0] as Organization;
}

export async function findOrganization(db: Queryable, id: string): Promise<Organization | null> {
  const result = await db.query<Organization>(`${SELECT} WHERE id = $1`, [id]);
  return result.rows[0] ?? null;
}

export async function renameOrganization(
  db: Queryable,
  id: string,
  name: string,
): Promise<Organization | null> {
  const result = await db.query<Organization>(
    `UPDATE organizations SET name = $2, updated_at = now() WHERE id = $1
     RETURNING id, name, status, created_at AS "createdAt", updated_at AS "updatedAt"`,
    [id, name],
  );
  return result.rows[0] ?? null;
}

/** Organizations a user belongs to, with the user's role in each. */
export async function listOrganizationsOfUser(
  db: Queryable,
  userId: string,
): Promise<(Organization & { role: OrgRole })[]> {
  const result = await db.query<Organization & { role: OrgRole }>(
    `SELECT o.id, o.name, o.status, o.created_at AS "createdAt", o.updated_at AS "updatedAt",
            m.role
       FROM organizations o JOIN memberships m ON m.org_id = o.id
      WHERE m.user_id = $1
      ORDER BY o.created_at`,
    [userId],
  );
  return result.rows;
}
