import type { FastifyRequest } from 'fastify';

import type { Queryable } from '../../data/database/database.js';
import type { OrgRole } from '../../tenancy/users/user.schema.js';
import type { GrantKind } from './access-grant.repository.js';
import { roleAbove } from './role-rank.js';

/** The grant a request was authorized with, for the audit entry that records its use. */
export interface GrantInUse {
  grantId: string;
  kind: GrantKind;
  orgId: string;
  /** The role the grant gives. */
  role: OrgRole;
  /** The role the user holds without the grant. */
  membershipRole: OrgRole;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The just-in-time or break-glass grant in effect for this request, if any. */
    accessGrant: GrantInUse | null;
  }
}

interface MembershipWithGrant {
  membershipRole: OrgRole;
  grantId: string | null;
  kind: GrantKind | null;
  grantRole: OrgRole | null;
}

function pickGrant(rows: MembershipWithGrant[], membershipRole: OrgRole, orgId: string) {
  let chosen: GrantInUse | null = null;
  for (const row of rows) {
    if (!row.grantId || !row.kind || !row.grantRole) continue;
    const candidate = {
      grantId: row.grantId,
      kind: row.kind,
      orgId,
      role: row.grantRole,
      membershipRole,
    };
    const best = chosen?.role ?? membershipRole;
    // A break-glass grant is recorded even though it adds no role to an owner, so every
    // request made under it is audited as its use.
    if (roleAbove(candidate.role, best) || (candidate.kind === 'break_glass' && !chosen)) {
      chosen = candidate;
    }
  }
  return chosen;
}

/**
 * Returns the user's role in the organization: the membership role, raised by an approved,
 * unexpired and unrevoked just-in-time grant. Grants are read from the database on every call
 * (`expires_at > now()`), so expiry and revocation take effect on every server at once.
 * `tx` must be in the organization's tenant scope (`inTenant`). Returns null when the user is
 * not a member, because a grant never applies without a membership. Grants raise only the
 * user's own session: an API key acting for its creator gets the membership role.
 * Records the grant that raised the role, or an active break-glass grant, on the request.
 */
export async function resolveEffectiveRole(
  tx: Queryable,
  request: FastifyRequest,
  orgId: string,
  userId: string,
): Promise<OrgRole | null> {
  const result = await tx.query<MembershipWithGrant>(
    `SELECT m.role AS "membershipRole", g.id AS "grantId", g.kind, g.role AS "grantRole"
       FROM memberships m
       LEFT JOIN access_grants g
         ON g.org_id = m.org_id AND g.user_id = m.user_id AND g.status = 'approved'
        AND g.revoked_at IS NULL AND g.expires_at > now()
      WHERE m.org_id = $1 AND m.user_id = $2`,
    [orgId, userId],
  );
  const membershipRole = result.rows[0]?.membershipRole;
  if (!membershipRole) return null;
  if (request.principal?.user.id !== userId) return membershipRole;
  const grant = pickGrant(result.rows, membershipRole, orgId);
  request.accessGrant = grant;
  return grant && roleAbove(grant.role, membershipRole) ? grant.role : membershipRole;
}
