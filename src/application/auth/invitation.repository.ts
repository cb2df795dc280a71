import { randomUUID } from 'node:crypto';

import { DecryptionError } from '../../data/crypto/errors.js';
import type { Queryable } from '../../data/database/database.js';
import {
  currentUserFieldProtection,
  requireUserFieldProtection,
} from '../../data/personal-data/user-field-registry.js';
import type { OrgRole } from '../../tenancy/users/user.schema.js';

/** An invitation as admins see it; the token hash never leaves this module. */
export interface Invitation {
  id: string;
  orgId: string;
  /** The invitee's email, or null when its stored value does not decrypt (it was altered). */
  email: string | null;
  role: OrgRole;
  invitedBy: string;
  createdAt: Date;
  expiresAt: Date;
  acceptedAt: Date | null;
  revokedAt: Date | null;
}

// `email` is plaintext only in rows written before encryption and not yet encrypted at start.
const COLUMNS = `id, org_id AS "orgId", email, email_encrypted AS "emailEncrypted", role,
  invited_by AS "invitedBy", created_at AS "createdAt", expires_at AS "expiresAt",
  accepted_at AS "acceptedAt", revoked_at AS "revokedAt"`;

type InvitationRow = Omit<Invitation, 'email'> & {
  email: string | null;
  emailEncrypted: string | null;
};

/**
 * Decrypts the invitee's email, or sets it to null and logs the row id when the stored value
 * does not decrypt. Inside a transaction on embedded PostgreSQL, the caller loads the user
 * field keys (`loadUserFieldKeys`) before the transaction opens.
 */
async function toInvitation(row: InvitationRow): Promise<Invitation> {
  const { emailEncrypted, email, ...rest } = row;
  if (emailEncrypted !== null) {
    const protection = requireUserFieldProtection();
    try {
      return { ...rest, email: await protection.decryptInvitationEmail(row.id, emailEncrypted) };
    } catch (error) {
      if (!(error instanceof DecryptionError)) throw error;
      protection.reportUnreadable({
        table: 'user_invitations',
        column: 'email_encrypted',
        rowId: row.id,
      });
      return { ...rest, email: null };
    }
  }
  if (email === null) {
    // The user_invitations_email_present constraint rules this out.
    throw new Error(`invitation ${row.id} has neither a plaintext nor an encrypted email`);
  }
  return { ...rest, email };
}

/** An invitee's email with its blind indexes, computed before the transaction that uses them. */
export interface InvitationEmailLookup {
  email: string;
  indexes: string[];
}

/**
 * Computes the blind indexes of an invitee's email in one organization, one per decryptable
 * version of the organization's data key.
 */
export async function prepareInvitationLookup(
  orgId: string,
  email: string,
): Promise<InvitationEmailLookup> {
  const protection = currentUserFieldProtection();
  return {
    email,
    indexes: protection === null ? [] : await protection.invitationIndexesForLookup(orgId, email),
  };
}

/** A new invitation's id and encrypted email, computed before the transaction that inserts it. */
export interface PreparedInvitationEmail {
  id: string;
  email: string;
  emailEncrypted: string;
  /** Blind index under the inviting organization's data key. */
  emailIndex: string;
}

/** @throws Error when the server has no key hierarchy open. */
export async function prepareInvitationEmail(
  orgId: string,
  email: string,
): Promise<PreparedInvitationEmail> {
  const protection = requireUserFieldProtection();
  const id = randomUUID();
  return {
    id,
    email,
    emailEncrypted: await protection.encryptInvitationEmail(id, email),
    emailIndex: await protection.invitationIndexForWrite(orgId, email),
  };
}

// Every query names org_id as well, on top of the row-level security policy of the table.

/** Revokes the open invitation of an email in the organization, if any; returns its id. */
export async function revokeOpenInvitationOf(
  tx: Queryable,
  orgId: string,
  lookup: InvitationEmailLookup,
): Promise<string | null> {
  // At most one invitation per email is open, so the first index match is that invitation.
  const result = await tx.query<{ id: string }>(
    `UPDATE user_invitations SET revoked_at = now()
      WHERE org_id = $1 AND (email_index = ANY($2::text[]) OR email = $3)
        AND accepted_at IS NULL AND revoked_at IS NULL
      RETURNING id`,
    [orgId, lookup.indexes, lookup.email],
  );
  return result.rows[0]?.id ?? null;
}

export async function insertInvitation(
  tx: Queryable,
  invitation: {
    orgId: string;
    email: PreparedInvitationEmail;
    role: OrgRole;
    tokenHash: Buffer;
    invitedBy: string;
    expiresAt: Date;
  },
): Promise<Invitation> {
  const result = await tx.query<InvitationRow>(
    `INSERT INTO user_invitations (id, org_id, email_encrypted, email_index, email_index_scope,
                                   role, token_hash, invited_by, expires_at)
     VALUES ($1, $2, $3, $4, 'organization', $5, $6, $7, $8) RETURNING ${COLUMNS}`,
    [
      invitation.email.id,
      invitation.orgId,
      invitation.email.emailEncrypted,
      invitation.email.emailIndex,
      invitation.role,
      invitation.tokenHash,
      invitation.invitedBy,
      invitation.expiresAt,
    ],
  );
  const { emailEncrypted: _stored, ...row } = result.rows[0] as InvitationRow;
  return { ...row, email: invitation.email.email };
}

/** Invitations that are neither accepted, revoked nor expired, newest first. */
export async function listOpenInvitations(tx: Queryable, orgId: string): Promise<Invitation[]> {
  const result = await tx.query<InvitationRow>(
    `SELECT ${COLUMNS} FROM user_invitations
      WHERE org_id = $1 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > now()
      ORDER BY created_at DESC LIMIT 1000`,
    [orgId],
  );
  const invitations: Invitation[] = [];
  for (const row of result.rows) invitations.push(await toInvitation(row));
  return invitations;
}

/** Revokes an open invitation by id; null when there is none. */
export async function revokeInvitation(
  tx: Queryable,
  orgId: string,
  id: string,
): Promise<Invitation | null> {
  const result = await tx.query<InvitationRow>(
    `UPDATE user_invitations SET revoked_at = now()
      WHERE org_id = $1 AND id = $2 AND accepted_at IS NULL AND revoked_at IS NULL
      RETURNING ${COLUMNS}`,
    [orgId, id],
  );
  const row = result.rows[0];
  return row === undefined ? null : toInvitation(row);
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
  const result = await tx.query<InvitationRow>(
    `SELECT ${COLUMNS} FROM user_invitations
      WHERE org_id = $1 AND token_hash = $2 AND accepted_at IS NULL AND revoked_at IS NULL
        AND expires_at > now()
      FOR UPDATE`,
    [orgId, tokenHash],
  );
  const row = result.rows[0];
  return row === undefined ? null : toInvitation(row);
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
