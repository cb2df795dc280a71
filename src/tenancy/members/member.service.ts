import { revokeUserSessions } from '../../application/auth/session.repository.js';
import type { Permission } from '../../application/authorization/permissions.js';
import type { Database, Queryable } from '../../data/database/database.js';
import { inTenant } from '../../data/database/tenant-scope.js';
import { AppError } from '../../http/errors.js';
import { buildAuditRecord } from '../../monitoring/audit/audit-entry.js';
import { appendAuditRecords } from '../../monitoring/audit/audit.repository.js';
import type { Scope } from '../projects/project.service.js';
import type { OrgRole } from '../users/user.schema.js';
import {
  countOwners,
  deleteMembership,
  findMemberForUpdate,
  loadMemberFieldKeys,
  updateMemberRole,
  type Member,
} from './member.repository.js';
import { assertCanHandleRole } from './role-grant.js';

/** A change of organization membership: who acts, with which permissions, on which member. */
export interface MemberChange {
  scope: Scope;
  held: ReadonlySet<Permission>;
  userId: string;
}

/** Loads the member and checks the caller may handle their current role. */
async function lockTarget(tx: Queryable, change: MemberChange): Promise<Member> {
  const member = await findMemberForUpdate(tx, change.scope.orgId, change.userId);
  if (!member) throw new AppError('not_found');
  assertCanHandleRole(change.held, { scope: 'organization', role: member.role });
  return member;
}

// An organization without an owner could never grant the owner role again.
async function assertOwnerRemains(tx: Queryable, orgId: string, member: Member): Promise<void> {
  if (member.role !== 'owner' || (await countOwners(tx, orgId)) > 1) return;
  throw new AppError(
    'conflict',
    'An organization keeps at least one owner: make another member owner first',
  );
}

/**
 * Changes a member's organization role. The caller must hold every permission of both the old
 * and the new role, so only owners grant or remove the owner role, and the last owner cannot
 * step down. Ownership moves by making another member owner, who can then demote the first.
 * The member's sessions are revoked, so the new role starts with a new session id and a
 * session planted before the change never gains its rights. A caller who changes their own
 * role keeps the session they act with.
 */
export async function changeMemberRole(
  db: Database,
  change: MemberChange,
  role: OrgRole,
): Promise<Member> {
  const { scope } = change;
  await loadMemberFieldKeys(db, scope.orgId);
  return inTenant(db, scope.orgId, async (tx) => {
    const before = await lockTarget(tx, change);
    assertCanHandleRole(change.held, { scope: 'organization', role });
    if (before.role === role) return before;
    if (role !== 'owner') await assertOwnerRemains(tx, scope.orgId, before);
    await updateMemberRole(tx, scope.orgId, before.userId, role);
    const ownSession =
      scope.actor.type === 'user' && scope.actor.id === before.userId
        ? scope.actor.sessionId
        : undefined;
    const sessionsRevoked = await revokeUserSessions(tx, before.userId, ownSession ?? undefined);
    await appendAuditRecords(tx, [
      buildAuditRecord(scope.actor, scope.context, {
        action: 'member.role_change',
        orgId: scope.orgId,
        resourceType: 'user',
        resourceId: before.userId,
        oldValues: { role: before.role },
        newValues: { role },
        metadata: { sessionsRevoked },
        complianceRelevant: true,
      }),
    ]);
    return { ...before, role };
  });
}

/** Removes a member from the organization and from its projects, under the same rules. */
export async function removeMember(db: Database, change: MemberChange): Promise<void> {
  const { scope } = change;
  await loadMemberFieldKeys(db, scope.orgId);
  await inTenant(db, scope.orgId, async (tx) => {
    const before = await lockTarget(tx, change);
    await assertOwnerRemains(tx, scope.orgId, before);
    await deleteMembership(tx, scope.orgId, before.userId);
    await appendAuditRecords(tx, [
      buildAuditRecord(scope.actor, scope.context, {
        action: 'member.remove',
        orgId: scope.orgId,
        resourceType: 'user',
        resourceId: before.userId,
        oldValues: { role: before.role },
        complianceRelevant: true,
      }),
    ]);
  });
}
