import type { Queryable } from '../../data/database/database.js';
import type { OrgRole } from '../../tenancy/users/user.schema.js';

/** An invitation as admins see it; the token hash never leaves this module. */
export interface Invitation {
  id: string;
  orgId: string;
  email: string;
  role: OrgRole;
  invitedBy: string;
  createdAt: Date;
  expiresAt: Date;
  acceptedAt: Date | null;
  revokedAt: Date | null;
}

const COLUMNS = `id, org_id AS "orgId", email, role, invited_by AS "invitedBy",
  created_at AS "createdAt", expires_at AS "expiresAt", accepted_at AS "acceptedAt",
  revoked_at AS "revokedAt"`;

// Every query names org_id as well, on top of the row-level security policy of the table.

/** Revokes the open invitation of `email` in the organization, if any; returns its id. */
export async function revokeOpenInvitationOf(
  tx: Queryable,
  orgId: string,
  email: string,
): Promise<string | null> {
  const result = await tx.query<{ id: string }>(
    `UPDATE user_invitations SET revoked_at = now()
      WHERE org_id = $1 AND email = $2 AND accepted_at IS NULL AND revoked_at IS NULL
      RETURNING id`,
    [orgId, email],
  );
  return result.rows[0]?.id ?? null;
}

export async function insertInvitation(
  tx: Queryable,
  invitation: {
    orgId: string;
    email: string;
    role: OrgRole;
    tokenHash: Buffer;
    invitedBy: string;
    expiresAt: Date;
  },
): Promise<Invitation> {
  const result = await tx.query<Invitation>(
    `INSERT INTO user_invitations (org_id, email, role, token_hash, invited_by, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${COLUMNS}`,
    [
      invitation.orgId,
      invitation.email,
      invitation.role,
      invitation.tokenHash,
      invitation.invitedBy,
      invitation.expiresAt,
    ],
  );
  return result.rows[0] as Invitation;
}

/** Invitations that are neither accepted, revoked nor expired, newest first. */
export async function listOpenInvitations(tx: Queryable, orgId: string): Promise<Invitation[]> {
  const result = await tx.query<Invitation>(
    `SELECT ${COLUMNS} FROM user_invitations
      WHERE org_id = $1 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > now()
      ORDER BY created_at DESC LIMIT 1000`,
    [orgId],
  );
  return result.rows;
}

/** Revokes an open invitation by id; null when there is none. */
export async function revokeInvitation(
  tx: Queryable,
  orgId: string,
  id: string,
): Promise<Invitation | null> {
  const result = await tx.query<Invitation>(
    `UPDATE user_invitations SET revoked_at = now()
      WHERE org_id = $1 AND id = $2 AND accepted_at IS NULL AND revoked_at IS NULL
      RETURNING ${COLUMNS}`,
    [orgId, id],
  );
  return result.rows[0] ?? null;
}

/**
 * Returns the organization of the invitation with this token hash, through the database
 * function that may read past row-level security; null when no invitation has it.
 */
export async function findInvitationOrg(db: Queryable, tokenHash: Buffer): Promise<string | null> {
  const result = await db.query<{ orgId: string | null }>(
    'SELECT user_invitation_org($1) AS "orgId"',
    [tokenHash],
  );
  return result.rows[0]?.orgId ?? null;
}

/** Finds and locks an open, unexpired invitation by token hash. */
export async function lockOpenInvitation(
  tx: Queryable,
  orgId: string,
  tokenHash: Buffer,
): Promise<Invitation | null> {
  const result = await tx.query<Invitation>(
    `SELECT ${COLUMNS} FROM user_invitations
      WHERE org_id = $1 AND token_hash = $2 AND accepted_at IS NULL AND revoked_at IS NULL
        AND expires_at > now()
      FOR UPDATE`,
    [orgId, tokenHash],
  );
  return result.rows[0] ?? null;
}

export async function markInvitationAccepted(
  tx: Queryable,
  orgId: string,
  id: string,
  userId: string,
): Promise<void> {
  await tx.query(
    `UPDATE user_invitations SET accepted_at = now(), accepted_by = $3
      WHERE org_id = $1 AND id = $2`,
    [orgId, id, userId],
  );
}
