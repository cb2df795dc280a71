import type { Queryable } from '../../data/database/database.js';
import type { OrgRole } from '../../tenancy/users/user.schema.js';
import { insertPreparedUser, type PreparedUser } from '../../tenancy/users/user.repository.js';

/** Returns the user linked to the provider's subject in the organization, or null. */
export async function findLinkedUserId(
  tx: Queryable,
  link: { orgId: string; issuer: string; subject: string },
): Promise<string | null> {
  const result = await tx.query<{ userId: string }>(
    `SELECT user_id AS "userId" FROM user_sso_identities
      WHERE org_id = $1 AND issuer = $2 AND subject = $3`,
    [link.orgId, link.issuer, link.subject],
  );
  return result.rows[0]?.userId ?? null;
}

/**
 * Links the provider's subject to the user, or records the sign-in of an existing link.
 * Returns false when the subject is linked to another user, or the user to another subject of
 * this organization. ON CONFLICT DO NOTHING covers both unique keys without raising, so the
 * caller's transaction stays usable.
 */
export async function linkIdentity(
  tx: Queryable,
  link: { orgId: string; issuer: string; subject: string; userId: string },
): Promise<boolean> {
  const params = [link.orgId, link.issuer, link.subject, link.userId];
  const inserted = await tx.query(
    `INSERT INTO user_sso_identities (org_id, issuer, subject, user_id)
     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
    params,
  );
  if (inserted.rowCount > 0) return true;
  const touched = await tx.query(
    `UPDATE user_sso_identities SET last_login_at = now()
      WHERE org_id = $1 AND issuer = $2 AND subject = $3 AND user_id = $4`,
    params,
  );
  return touched.rowCount > 0;
}

/** Creates a user who signs in only through single sign-on: the account has no password. */
export async function insertSsoUser(tx: Queryable, user: PreparedUser): Promise<string> {
  const created = await insertPreparedUser(tx, user, {
    passwordHash: null,
    mustChangePassword: false,
  });
  return created.id;
}

export async function updateMembershipRole(
  tx: Queryable,
  membership: { orgId: string; userId: string; role: OrgRole },
): Promise<void> {
  await tx.query('UPDATE memberships SET role = $3 WHERE org_id = $1 AND user_id = $2', [
    membership.orgId,
    membership.userId,
    membership.role,
  ]);
}
