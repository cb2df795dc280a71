import type { Permission } from '../../application/authorization/permissions.js';
import type { Database } from '../../data/database/database.js';
import { inTenant } from '../../data/database/tenant-scope.js';
import { AppError } from '../../http/errors.js';
import { buildAuditRecord } from '../../monitoring/audit/audit-entry.js';
import { appendAuditRecords } from '../../monitoring/audit/audit.repository.js';
import type { Scope } from '../projects/project.service.js';
import { findMembershipRole } from '../users/user.repository.js';
import type { ProjectRole } from '../users/user.schema.js';
import { deleteProjectMember, findProjectRole, upsertProjectMember } from './member.repository.js';
import { assertCanHandleRole } from './role-grant.js';

/** A change of project membership: who acts, with which permissions, on whom in which project. */
export interface ProjectMemberChange {
  scope: Scope;
  held: ReadonlySet<Permission>;
  projectId: string;
  userId: string;
}

/**
 * Gives a member of the organization a role in the project, or changes it. The caller must
 * hold every permission of the new role and of the role it replaces.
 */
export async function setProjectMember(
  db: Database,
  change: ProjectMemberChange,
  role: ProjectRole,
): Promise<{ userId: string; role: ProjectRole }> {
  const { scope, projectId, userId } = change;
  return inTenant(db, scope.orgId, async (tx) => {
    if (!(await findMembershipRole(tx, scope.orgId, userId))) throw new AppError('not_found');
    const before = await findProjectRole(tx, scope.orgId, projectId, userId);
    if (before) assertCanHandleRole(change.held, { scope: 'project', role: before });
    assertCanHandleRole(change.held, { scope: 'project', role });
    if (before === role) return { userId, role };
    await upsertProjectMember(tx, { orgId: scope.orgId, projectId, userId, role });
    await appendAuditRecords(tx, [
      buildAuditRecord(scope.actor, scope.context, {
        action: 'project_member.set',
        orgId: scope.orgId,
        projectId,
        resourceType: 'user',
        resourceId: userId,
        oldValues: { role: before },
        newValues: { role },
        complianceRelevant: true,
      }),
    ]);
    return { userId, role };
  });
}

/** Removes a member's project role; they keep their organization role. */
export async function removeProjectMember(db: Database, change: ProjectMemberChange) {
  const { scope, projectId, userId } = change;
  await inTenant(db, scope.orgId, async (tx) => {
    const before = await findProjectRole(tx, scope.orgId, projectId, userId);
    if (!before) throw new AppError('not_found');
    assertCanHandleRole(change.held, { scope: 'project', role: before });
    await deleteProjectMember(tx, scope.orgId, projectId, userId);
    await appendAuditRecords(tx, [
      buildAuditRecord(scope.actor, scope.context, {
        action: 'project_member.remove',
        orgId: scope.orgId,
        projectId,
        resourceType: 'user',
        resourceId: userId,
        oldValues: { role: before },
        complianceRelevant: true,
      }),
    ]);
  });
}
