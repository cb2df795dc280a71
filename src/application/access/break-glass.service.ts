import type { Database } from '../../data/database/database.js';
import { inTenant } from '../../data/database/tenant-scope.js';
import { AppError } from '../../http/errors.js';
import { buildAuditRecord } from '../../monitoring/audit/audit-entry.js';
import { appendAuditRecords } from '../../monitoring/audit/audit.repository.js';
import { findMembershipRole } from '../../tenancy/users/user.repository.js';
import {
  insertBreakGlassGrant,
  listActiveGrants,
  type AccessGrant,
} from './access-grant.repository.js';
import type { AccessScope } from './access-scope.js';
import type { BreakGlassInput } from './access.schema.js';
import type { AccessSettings } from './access-settings.js';

/**
 * Activates break-glass access for an owner: active at once, without a second person, for at
 * most BREAK_GLASS_DURATION_MINUTES. While it lasts, the owner's policy changes skip four-eyes
 * approval, and every request the owner makes in the organization is audited. The caller
 * raises the security alert after this returns.
 */
export async function activateBreakGlass(
  db: Database,
  settings: AccessSettings,
  scope: AccessScope,
  input: BreakGlassInput,
): Promise<AccessGrant> {
  const minutes = input.durationMinutes ?? settings.breakGlassMinutes;
  if (minutes > settings.breakGlassMinutes) {
    throw new AppError('validation_failed', undefined, [
      {
        field: 'durationMinutes',
        message: `Duration must be at most ${settings.breakGlassMinutes} minutes`,
      },
    ]);
  }
  return inTenant(db, scope.orgId, async (tx) => {
    // Checked on the membership itself: no grant can make anyone an owner.
    const role = await findMembershipRole(tx, scope.orgId, scope.actor.id);
    if (role !== 'owner') throw new AppError('forbidden', 'Only an owner can break the glass');
    const active = await listActiveGrants(tx, scope.orgId, scope.actor.id);
    const current = active.find((grant) => grant.kind === 'break_glass');
    if (current) {
      throw new AppError(
        'conflict',
        `Break-glass access is already active until ${current.expiresAt?.toISOString()}`,
      );
    }
    const grant = await insertBreakGlassGrant(tx, {
      orgId: scope.orgId,
      userId: scope.actor.id,
      role,
      reason: input.reason,
      durationMinutes: minutes,
    });
    await appendAuditRecords(tx, [
      buildAuditRecord(scope.actor, scope.context, {
        action: 'access.break_glass',
        orgId: scope.orgId,
        resourceType: 'access_grant',
        resourceId: grant.id,
        newValues: {
          reason: grant.reason,
          durationMinutes: minutes,
          expiresAt: grant.expiresAt?.toISOString() ?? null,
        },
        sensitivity: 'critical',
        complianceRelevant: true,
      }),
    ]);
    return grant;
  });
}

/** Whether the user has active break-glass access in the organization. */
export async function hasActiveBreakGlass(
  db: Database,
  orgId: string,
  userId: string,
): Promise<boolean> {
  const active = await inTenant(db, orgId, (tx) => listActiveGrants(tx, orgId, userId));
  return active.some((grant) => grant.kind === 'break_glass');
}
