import type { Database, Queryable } from '../../data/database/database.js';
import { currentUserFieldProtection } from '../../data/personal-data/user-field-registry.js';
import { inTenant } from '../../data/database/tenant-scope.js';
import {
  decryptReadableUserFields,
  storedCiphertexts,
  storedUserFieldColumns,
  type StoredUserFields,
} from '../users/user.repository.js';
import type { OrgRole, ProjectRole } from '../users/user.schema.js';

/**
 * A member of an organization with their role. `email` and `name` are null when the stored value
 * does not decrypt, because it was altered or the user's key was destroyed by an erasure.
 */
export interface Member {
  userId: string;
  email: string | null;
  name: string | null;
  role: OrgRole;
  createdAt: Date;
}

/** A member of an organization with their role in one project. */
export interface ProjectMember {
  userId: string;
  /** Null when the stored value does not decrypt, as in {@link Member}. */
  email: string | null;
  name: string | null;
  role: ProjectRole;
  createdAt: Date;
  updatedAt: Date;
}

const STORED_USER_FIELDS: (keyof StoredUserFields)[] = [
  'id',
  'email',
  'name',
  'emailEncrypted',
  'nameEncrypted',
  'phoneEncrypted',
];

/**
 * Replaces the stored personal columns of each row with the decrypted email and name, or null
 * for a value that does not decrypt, so one damaged row does not fail a whole listing. Inside a
 * transaction on embedded PostgreSQL, the caller loads the keys with
 * {@link loadMemberFieldKeys} before it opens.
 */
async function withUserFields<R extends StoredUserFields>(
  rows: R[],
): Promise<
  (Omit<R, keyof StoredUserFields> & {
    userId: string;
    email: string | null;
    name: string | null;
  })[]
> {
  const members = [];
  for (const row of rows) {
    const fields = await decryptReadableUserFields(row);
    const rest = { ...row } as Record<string, unknown>;
    for (const column of STORED_USER_FIELDS) delete rest[column];
    members.push({
      ...(rest as Omit<R, keyof StoredUserFields>),
      userId: row.id,
      email: fields.email,
      name: fields.name,
    });
  }
  return members;
}

/**
 * Loads the keys of the organization members' fields, and of the platform key, into the key
 * cache, so that reading members inside a transaction that follows reads nothing from the key
 * store. Embedded PostgreSQL runs no other query while a transaction is open.
 *
 * NOTE: the key cache keeps a bounded number of keys, so for an organization with more members
 * than that, some keys are read again inside the transaction.
 */
export async function loadMemberFieldKeys(db: Database, orgId: string): Promise<void> {
  const protection = currentUserFieldProtection();
  if (protection === null) return;
  await protection.loadKeys();
  const result = await inTenant(db, orgId, (tx) =>
    tx.query<StoredUserFields>(
      `SELECT ${storedUserFieldColumns('u')}
         FROM memberships m JOIN users u ON u.id = m.user_id
        WHERE m.org_id = $1`,
      [orgId],
    ),
  );
  await protection.loadKeysOf(result.rows.flatMap(storedCiphertexts));
}

export async function listMembers(db: Queryable, orgId: string): Promise<Member[]> {
  const result = await db.query<StoredUserFields & Pick<Member, 'role' | 'createdAt'>>(
    `SELECT ${storedUserFieldColumns('u')}, m.role, m.created_at AS "createdAt"
       FROM memberships m JOIN users u ON u.id = m.user_id
      WHERE m.org_id = $1
      ORDER BY m.created_at, m.user_id`,
    [orgId],
  );
  return withUserFields(result.rows);
}

/**
 * Finds one member and locks the organization's membership rows until the transaction ends,
 * so two concurrent changes cannot both remove the last owner.
 */
export async function findMemberForUpdate(
  db: Queryable,
  orgId: string,
  userId: string,
): Promise<Member | null> {
  await db.query('SELECT 1 FROM memberships WHERE org_id = $1 FOR UPDATE', [orgId]);
  const result = await db.query<StoredUserFields & Pick<Member, 'role' | 'createdAt'>>(
    `SELECT ${storedUserFieldColumns('u')}, m.role, m.created_at AS "createdAt"
       FROM memberships m JOIN users u ON u.id = m.user_id
      WHERE m.org_id = $1 AND m.user_id = $2`,
    [orgId, userId],
  );
  const [member] = await withUserFields(result.rows);
  return member ?? null;
}

export async function countOwners(db: Queryable, orgId: string): Promise<number> {
  const result = await db.query<{ owners: number }>(
    `SELECT count(*)::int AS owners FROM memberships WHERE org_id = $1 AND role = 'owner'`,
    [orgId],
  );
  return result.rows[0]?.owners ?? 0;
}

export async function updateMemberRole(
  db: Queryable,
  orgId: string,
  userId: string,
  role: OrgRole,
): Promise<void> {
  await db.query('UPDATE memberships SET role = $3 WHERE org_id = $1 AND user_id = $2', [
    orgId,
    userId,
    role,
  ]);
}

/** Removes a member; their project memberships go with it (ON DELETE CASCADE). */
export async function deleteMembership(db: Queryable, orgId: string, userId: string) {
  await db.query('DELETE FROM memberships WHERE org_id = $1 AND user_id = $2', [orgId, userId]);
}

/** Returns the user's role in one project of the organization, or null when there is none. */
export async function findProjectRole(
  db: Queryable,
  orgId: string,
  projectId: string,
  userId: string,
): Promise<ProjectRole | null> {
  const result = await db.query<{ role: ProjectRole }>(
    `SELECT role FROM project_memberships
      WHERE org_id = $1 AND project_id = $2 AND user_id = $3`,
    [orgId, projectId, userId],
  );
  return result.rows[0]?.role ?? null;
}

export async function listProjectMembers(
  db: Queryable,
  orgId: string,
  projectId: string,
): Promise<ProjectMember[]> {
  const result = await db.query<
    StoredUserFields & Pick<ProjectMember, 'role' | 'createdAt' | 'updatedAt'>
  >(
    `SELECT ${storedUserFieldColumns('u')}, pm.role, pm.created_at AS "createdAt",
            pm.updated_at AS "updatedAt"
       FROM project_memberships pm JOIN users u ON u.id = pm.user_id
      WHERE pm.org_id = $1 AND pm.project_id = $2
      ORDER BY pm.created_at, pm.user_id`,
    [orgId, projectId],
  );
  return withUserFields(result.rows);
}

/** Sets a member's project role, adding the project membership when there is none. */
export async function upsertProjectMember(
  db: Queryable,
  member: { orgId: string; projectId: string; userId: string; role: ProjectRole },
): Promise<void> {
  await db.query(
    `INSERT INTO project_memberships (org_id, project_id, user_id, role)
     VALUES ($1, $2, $3, $4)
     ON CONFLICT (project_id, user_id) DO UPDATE SET role = EXCLUDED.role, updated_at = now()`,
    [member.orgId, member.projectId, member.userId, member.role],
  );
}

export async function deleteProjectMember(
  db: Queryable,
  orgId: string,
  projectId: string,
  userId: string,
): Promise<void> {
  await db.query(
    'DELETE FROM project_memberships WHERE org_id = $1 AND project_id = $2 AND user_id = $3',
    [orgId, projectId, userId],
  );
}
