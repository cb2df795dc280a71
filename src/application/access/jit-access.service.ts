import type { Database, Queryable } from '../../data/database/database.js';
import { inTenant } from '../../data/database/tenant-scope.js';
import { AppError } from '../../http/errors.js';
import { buildAuditRecord, type AuditEvent } from '../../monitoring/audit/audit-entry.js';
import { appendAuditRecords } from '../../monitoring/audit/audit.repository.js';
import { findMembershipRole } from '../../tenancy/users/user.repository.js';
import { roleGrants } from '../authorization/permissions.js';
import {
  approveAccessRequest,
  closeAccessRequest,
  insertAccessRequest,
  lockAccessGrant,
  revokeAccessGrant,
  type AccessGrant,
} from './access-grant.repository.js';
import type { AccessScope } from './access-scope.js';
import type { AccessRequestInput } from './access.schema.js';
import type { AccessSettings } from './access-settings.js';
import { roleAbove, roleAtLeast } from './role-rank.js';

// PostgreSQL's SQLSTATE for a unique constraint violation.
const UNIQUE_VIOLATION = '23505';

async function audit(tx: Queryable, scope: AccessScope, grant: AccessGrant, event: AuditEvent) {
  await appendAuditRecords(tx, [
    buildAuditRecord(scope.actor, scope.context, {
      orgId: scope.orgId,
      resourceType: 'access_grant',
      resourceId: grant.id,
      sensitivity: 'sensitive',
      complianceRelevant: true,
      ...event,
    }),
  ]);
}

/** The caller's own membership role, never raised by a grant. */
async function membershipRoleOf(tx: Queryable, scope: AccessScope) {
  const role = await findMembershipRole(tx, scope.orgId, scope.actor.id);
  if (!role) throw new AppError('not_found');
  return role;
}

/** Opens a request for a role above the caller's own, for a stated reason and duration. */
export async function requestAccess(
  db: Database,
  settings: AccessSettings,
  scope: AccessScope,
  input: AccessRequestInput,
): Promise<AccessGrant> {
  if (input.durationMinutes > settings.maxJitMinutes) {
    throw new AppError('validation_failed', undefined, [
      {
        field: 'durationMinutes',
        message: `Duration must be at most ${settings.maxJitMinutes} minutes`,
      },
    ]);
  }
  return inTenant(db, scope.orgId, async (tx) => {
    const current = await membershipRoleOf(tx, scope);
    if (!roleAbove(input.role, current)) {
      throw new AppError('validation_failed', undefined, [
        { field: 'role', message: `Request a role above your own role ${current}` },
      ]);
    }
    const grant = await insertAccessRequest(tx, {
      orgId: scope.orgId,
      userId: scope.actor.id,
      role: input.role,
      reason: input.reason,
      durationMinutes: input.durationMinutes,
    }).catch((error: unknown) => {
      if ((error as { code?: unknown } | null)?.code !== UNIQUE_VIOLATION) throw error;
      throw new AppError(
        'conflict',
        'You already have an open access request in this organization; cancel it first',
      );
    });
    await audit(tx, scope, grant, {
      action: 'access.jit_requested',
      newValues: { role: grant.role, reason: grant.reason, durationMinutes: input.durationMinutes },
      metadata: { membershipRole: current },
    });
    return grant;
  });
}

async function lockPendingRequest(tx: Queryable, scope: AccessScope, grantId: string) {
  const grant = await lockAccessGrant(tx, scope.orgId, grantId);
  if (!grant || grant.kind !== 'jit') throw new AppError('not_found');
  return grant;
}

function assertPending(grant: AccessGrant): void {
  if (grant.status !== 'pending') {
    throw new AppError('conflict', `The request is already ${grant.status}`);
  }
  if (grant.overdue) {
    throw new AppError('conflict', 'The request waited more than 24 hours and has lapsed');
  }
}

/**
 * Approves or denies someone else's pending request. The decider's own membership role (not a
 * role raised by a grant, so grants cannot be chained) must grant `access.approve` and be the
 * requested role or higher. An approved grant applies at once.
 */
export async function decideAccessRequest(
  db: Database,
  scope: AccessScope,
  grantId: string,
  decision: { approve: boolean; note: string | null },
): Promise<AccessGrant> {
  return inTenant(db, scope.orgId, async (tx) => {
    const grant = await lockPendingRequest(tx, scope, grantId);
    if (grant.userId === scope.actor.id) throw new AppError('self_approval_forbidden');
    assertPending(grant);
    const deciderRole = await membershipRoleOf(tx, scope);
    if (!roleGrants(deciderRole, 'access.approve') || !roleAtLeast(deciderRole, grant.role)) {
      throw new AppError(
        'forbidden',
        `Deciding a request for ${grant.role} needs your own role to be ${grant.role} or higher`,
      );
    }
    const change = { orgId: scope.orgId, id: grant.id, note: decision.note };
    const decided = decision.approve
      ? await approveAccessRequest(tx, { ...change, approverId: scope.actor.id })
      : await closeAccessRequest(tx, { ...change, status: 'denied', deciderId: scope.actor.id });
    await audit(tx, scope, decided, {
      action: decision.approve ? 'access.jit_approved' : 'access.jit_denied',
      newValues: {
        role: decided.role,
        userId: decided.userId,
        expiresAt: decided.expiresAt?.toISOString() ?? null,
        note: decided.decisionNote,
      },
    });
    return decided;
  });
}

/** Withdraws the caller's own pending request. */
export async function cancelAccessRequest(
  db: Database,
  scope: AccessScope,
  grantId: string,
): Promise<AccessGrant> {
  return inTenant(db, scope.orgId, async (tx) => {
    const grant = await lockPendingRequest(tx, scope, grantId);
    if (grant.userId !== scope.actor.id) {
      throw new AppError('forbidden', 'Only the requester can cancel a request; deny it instead');
    }
    if (grant.status !== 'pending') {
      throw new AppError('conflict', `The request is already ${grant.status}`);
    }
    const cancelled = await closeAccessRequest(tx, {
      orgId: scope.orgId,
      id: grant.id,
      status: 'cancelled',
      deciderId: null,
      note: null,
    });
    await audit(tx, scope, cancelled, { action: 'access.jit_cancelled' });
    return cancelled;
  });
}

/**
 * Ends an active just-in-time or break-glass grant before it expires. The grantee may always
 * end their own grant; anyone else needs `access.revoke` and, by membership, the granted role
 * or higher.
 */
export async function revokeAccess(
  db: Database,
  scope: AccessScope,
  grantId: string,
): Promise<AccessGrant> {
  return inTenant(db, scope.orgId, async (tx) => {
    const grant = await lockAccessGrant(tx, scope.orgId, grantId);
    if (!grant) throw new AppError('not_found');
    if (grant.userId !== scope.actor.id) {
      const role = await membershipRoleOf(tx, scope);
      if (!roleGrants(role, 'access.revoke') || !roleAtLeast(role, grant.role)) {
        throw new AppError(
          'forbidden',
          `Revoking a ${grant.role} grant needs your own role to be ${grant.role} or higher`,
        );
      }
    }
    if (!grant.active) throw new AppError('conflict', 'The grant is not active');
    const revoked = await revokeAccessGrant(tx, {
      orgId: scope.orgId,
      id: grant.id,
      revokedBy: scope.actor.id,
    });
    await audit(tx, scope, revoked, {
      action: grant.kind === 'jit' ? 'access.jit_revoked' : 'access.break_glass_revoked',
      newValues: { role: revoked.role, userId: revoked.userId },
    });
    return revoked;
  });
}
