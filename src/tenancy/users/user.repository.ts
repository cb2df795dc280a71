import type { Queryable } from '../../data/database/database.js';
import type { OrgRole } from './user.schema.js';

export interface User {
  id: string;
  email: string;
  name: string;
  status: 'active' | 'disabled';
  mustChangePassword: boolean;
  createdAt: Date;
}

/** A user row including the password hash; never leaves the authentication code. */
export interface UserCredentials extends User {
  passwordHash: string | null;
}

const COLUMNS = `id, email, name, status, must_change_password AS "mustChangePassword",
  created_at AS "createdAt"`;

export async function insertUser(
  db: Queryable,
  user: { email: string; name: string; passwordHash: string; mustChangePassword: boolean },
): Promise<User> {
  const result = await db.query<User>(
    `INSERT INTO users (email, name, password_hash, must_change_password)
     VALUES ($1, $2, $3, $4) RETURNING ${COLUMNS}`,
    [user.email, user.name, user.passwordHash, user.mustChangePassword],
  );
  return result.rows[0] as User;
}

export async function findUserCredentialsByEmail(
  db: Queryable,
  email: string,
): Promise<UserCredentials | null> {
  const result = await db.query<UserCredentials>(
    `SELECT ${COLUMNS}, password_hash AS "passwordHash" FROM users WHERE email = $1`,
    [email],
  );
  return result.rows[0] ?? null;
}

export async function findUserCredentialsById(
  db: Queryable,
  id: string,
): Promise<UserCredentials | null> {
  const result = await db.query<UserCredentials>(
    `SELECT ${COLUMNS}, password_hash AS "passwordHash" FROM users WHERE id = $1`,
    [id],
  );
  return result.rows[0] ?? null;
}

export async function updatePasswordHash(
  db: Queryable,
  userId: string,
  passwordHash: string,
): Promise<void> {
  await db.query(
    `UPDATE users SET password_hash = $2, must_change_password = false, updated_at = now()
     WHERE id = $1`,
    [userId, passwordHash],
  );
}

export async function insertMembership(
  db: Queryable,
  membership: { orgId: string; userId: string; role: OrgRole },
): Promise<void> {
  await db.query('INSERT INTO memberships (org_id, user_id, role) VALUES ($1, $2, $3)', [
    membership.orgId,
    membership.userId,
    membership.role,
  ]);
}

/** The user's role in an organization, or null when the user is not a member. */
export async function findMembershipRole(
  db: Queryable,
  orgId: string,
  userId: string,
): Promise<OrgRole | null> {
  const result = await db.query<{ role: OrgRole }>(
    'SELECT role FROM memberships WHERE org_id = $1 AND user_id = $2',
    [orgId, userId],
  );
  return result.rows[0]?.role ?? null;
}

/**
 * Whether any owner or admin exists yet; the first-run bootstrap refuses to run if so. It looks
 * across organizations, through the SECURITY DEFINER function `tenancy_admin_exists`.
 */
export async function adminExists(db: Queryable): Promise<boolean> {
  const result = await db.query<{ exists: boolean }>('SELECT tenancy_admin_exists() AS exists');
  return result.rows[0]?.exists === true;
}
