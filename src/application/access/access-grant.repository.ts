import type { Queryable } from '../../data/database/database.js';
import type { OrgRole } from '../../tenancy/users/user.schema.js';

export type GrantKind = 'jit' | 'break_glass';
export type GrantStatus = 'pending' | 'approved' | 'denied' | 'cancelled' | 'lapsed';

/** A just-in-time request or grant, or a break-glass grant. */
export interface AccessGrant {
  id: string;
  orgId: string;
  userId: string;
  kind: GrantKind;
  role: OrgRole;
  reason: string;
  durationMinutes: number;
  status: GrantStatus;
  decidedBy: string | null;
  decidedAt: Date | null;
  decisionNote: string | null;
  expiresAt: Date | null;
  revokedAt: Date | null;
  revokedBy: string | null;
  expiredAt: Date | null;
  createdAt: Date;
  /** Computed by the database: approved, not revoked and expires_at > now(). */
  active: boolean;
  /** Computed by the database: a pending request older than 24 hours can no longer be approved. */
  overdue: boolean;
}

/** How long a request can wait for a decision before it lapses. */
export const PENDING_LIFETIME = '24 hours';

const COLUMNS = `id, org_id AS "orgId", user_id AS "userId", kind, role, reason,
  duration_minutes AS "durationMinutes", status, decided_by AS "decidedBy",
  decided_at AS "decidedAt", decision_note AS "decisionNote", expires_at AS "expiresAt",
  revoked_at AS "revokedAt", revoked_by AS "revokedBy", expired_at AS "expiredAt",
  created_at AS "createdAt",
  (status = 'approved' AND revoked_at IS NULL AND expires_at > now()) AS active,
  (status = 'pending' AND created_at <= now() - interval '${PENDING_LIFETIME}') AS overdue`;

// Every function runs inside `inTenant`, and still names the organization in its query.

export async function insertAccessRequest(
  tx: Queryable,
  request: {
    orgId: string;
    userId: string;
    role: OrgRole;
    reason: string;
    durationMinutes: number;
  },
): Promise<AccessGrant> {
  const result = await tx.query<AccessGrant>(
    `INSERT INTO access_grants (org_id, user_id, kind, role, reason, duration_minutes, status)
     VALUES ($1, $2, 'jit', $3, $4, $5, 'pending') RETURNING ${COLUMNS}`,
    [request.orgId, request.userId, request.role, request.reason, request.durationMinutes],
  );
  return result.rows[0] as AccessGrant;
}

/** Inserts a break-glass grant that is active from now for `durationMinutes`. */
export async function insertBreakGlassGrant(
  tx: Queryable,
  grant: { orgId: string; userId: string; role: OrgRole; reason: string; durationMinutes: number },
): Promise<AccessGrant> {
  const result = await tx.query<AccessGrant>(
    `INSERT INTO access_grants
       (org_id, user_id, kind, role, reason, duration_minutes, status, decided_at, expires_at)
     VALUES ($1, $2, 'break_glass', $3, $4, $5, 'approved', now(),
             now() + make_interval(mins => $5::integer))
     RETURNING ${COLUMNS}`,
    [grant.orgId, grant.userId, grant.role, grant.reason, grant.durationMinutes],
  );
  return result.rows[0] as AccessGrant;
}

/** Finds a grant of the organization and locks it until the transaction ends. */
export async function lockAccessGrant(
  tx: Queryable,
  orgId: string,
  id: string,
): Promise<AccessGrant | null> {
  const result = await tx.query<AccessGrant>(
    `SELECT ${COLUMNS} FROM access_grants WHERE org_id = $1 AND id = $2 FOR UPDATE`,
    [orgId, id],
  );
  return result.rows[0] ?? null;
}

/** Requests and grants of the organization, or of one user, newest first. */
export async function listAccessGrants(
  tx: Queryable,
  orgId: string,
  userId: string | null,
): Promise<AccessGrant[]> {
  const result = await tx.query<AccessGrant>(
    `SELECT ${COLUMNS} FROM access_grants
      WHERE org_id = $1 AND ($2::uuid IS NULL OR user_id = $2)
      ORDER BY created_at DESC LIMIT 500`,
    [orgId, userId],
  );
  return result.rows;
}

/** Lists the user's grants that apply now. */
export async function listActiveGrants(
  tx: Queryable,
  orgId: string,
  userId: string,
): Promise<AccessGrant[]> {
  const result = await tx.query<AccessGrant>(
    `SELECT ${COLUMNS} FROM access_grants
      WHERE org_id = $1 AND user_id = $2 AND status = 'approved' AND revoked_at IS NULL
        AND expires_at > now()`,
    [orgId, userId],
  );
  return result.rows;
}

/** Approves a pending request: the grant applies from now for its duration. */
export async function approveAccessRequest(
  tx: Queryable,
  change: { orgId: string; id: string; approverId: string; note: string | null },
): Promise<AccessGrant> {
  const result = await tx.query<AccessGrant>(
    `UPDATE access_grants
        SET status = 'approved', decided_by = $3, decided_at = now(), decision_note = $4,
            expires_at = now() + make_interval(mins => duration_minutes)
      WHERE org_id = $1 AND id = $2 AND status = 'pending'
      RETURNING ${COLUMNS}`,
    [change.orgId, change.id, change.approverId, change.note],
  );
  return result.rows[0] as AccessGrant;
}

/** Closes a pending request as denied (by an approver) or cancelled (by its requester). */
export async function closeAccessRequest(
  tx: Queryable,
  change: {
    orgId: string;
    id: string;
    status: 'denied' | 'cancelled';
    deciderId: string | null;
    note: string | null;
  },
): Promise<AccessGrant> {
  const result = await tx.query<AccessGrant>(
    `UPDATE access_grants
        SET status = $3, decided_by = $4, decided_at = now(), decision_note = $5
      WHERE org_id = $1 AND id = $2 AND status = 'pending'
      RETURNING ${COLUMNS}`,
    [change.orgId, change.id, change.status, change.deciderId, change.note],
  );
  return result.rows[0] as AccessGrant;
}

/** Ends an active grant now. */
export async function revokeAccessGrant(
  tx: Queryable,
  change: { orgId: string; id: string; revokedBy: string },
): Promise<AccessGrant> {
  const result = await tx.query<AccessGrant>(
    `UPDATE access_grants SET revoked_at = now(), revoked_by = $3
      WHERE org_id = $1 AND id = $2 AND status = 'approved' AND revoked_at IS NULL
      RETURNING ${COLUMNS}`,
    [change.orgId, change.id, change.revokedBy],
  );
  return result.rows[0] as AccessGrant;
}
