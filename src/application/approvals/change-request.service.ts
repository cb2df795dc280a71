import type { Database, Queryable } from '../../data/database/database.js';
import { inTenant } from '../../data/database/tenant-scope.js';
import { AppError } from '../../http/errors.js';
import type { Actor, RequestContext } from '../../http/request-context.js';
import { buildAuditRecord, type AuditEvent } from '../../monitoring/audit/audit-entry.js';
import { appendAuditRecords } from '../../monitoring/audit/audit.repository.js';
import {
  findOrganization,
  updateOrganization,
} from '../../tenancy/organizations/organization.repository.js';
import { findProject, updateProject } from '../../tenancy/projects/project.repository.js';
import type { ProjectSettings, UpdateProjectInput } from '../../tenancy/projects/project.schema.js';
import { findMembershipRole } from '../../tenancy/users/user.repository.js';
import { hasActiveBreakGlass } from '../access/break-glass.service.js';
import { roleGrants } from '../authorization/permissions.js';
import {
  closeChangeRequest,
  insertChangeRequest,
  lockChangeRequest,
  type ChangeRequest,
} from './change-request.repository.js';
import { looseningChanges, organizationLoosening } from './policy-loosening.js';

/** The actor, request and organization of a change. */
export interface ChangeScope {
  actor: Actor;
  context: RequestContext;
  orgId: string;
}

type UserScope = ChangeScope & { actor: Actor & { type: 'user' } };

async function audit(tx: Queryable, scope: ChangeScope, request: ChangeRequest, event: AuditEvent) {
  await appendAuditRecords(tx, [
    buildAuditRecord(scope.actor, scope.context, {
      orgId: scope.orgId,
      resourceType: 'change_request',
      resourceId: request.id,
      complianceRelevant: true,
      ...event,
    }),
  ]);
}

/**
 * Returns whether a change with these loosening parts waits for approval, for callers that
 * found four-eyes on. An owner under break-glass access applies it directly. An API key cannot
 * ask for approval, because a change request belongs to a person, so it gets 403 instead.
 */
async function needsApproval(db: Database, scope: ChangeScope, loosening: string[]) {
  if (loosening.length === 0) return false;
  if (scope.actor.type !== 'user') {
    throw new AppError(
      'forbidden',
      'With four-eyes on, changes that loosen policy need a signed-in admin, not an API key',
    );
  }
  return !(await hasActiveBreakGlass(db, scope.orgId, scope.actor.id));
}

async function fourEyesOn(db: Database, orgId: string): Promise<boolean> {
  const org = await inTenant(db, orgId, (tx) => findOrganization(tx, orgId));
  return org?.fourEyes === true;
}

async function createRequest(
  db: Database,
  scope: ChangeScope,
  build: (tx: Queryable) => Promise<{ resourceId: string; loosening: string[] } | null>,
  change: { resourceType: 'project' | 'organization'; changes: Record<string, unknown> },
): Promise<ChangeRequest | null> {
  return inTenant(db, scope.orgId, async (tx) => {
    // Judged again under the row lock, so the stored base is the state that was judged.
    const judged = await build(tx);
    if (!judged || judged.loosening.length === 0 || scope.actor.type !== 'user') return null;
    const request = await insertChangeRequest(tx, {
      orgId: scope.orgId,
      resourceType: change.resourceType,
      resourceId: judged.resourceId,
      changes: change.changes,
      loosening: judged.loosening,
      requestedBy: scope.actor.id,
    });
    await audit(tx, scope, request, {
      action: 'change_request.create',
      newValues: { resourceType: request.resourceType, changes: request.changes },
      metadata: { loosening: request.loosening },
    });
    return request;
  });
}

/**
 * Routes a project change: returns a pending change request when the organization uses
 * four-eyes and the change loosens the project's policy, or null when the caller should apply
 * it directly (tightening and neutral changes always apply directly).
 * NOTE: a change judged not loosening is applied by the caller in its own transaction, so a
 * concurrent change that lands in between is not taken into account for that judgement.
 */
export async function submitProjectChange(
  db: Database,
  scope: ChangeScope,
  projectId: string,
  input: UpdateProjectInput,
): Promise<ChangeRequest | null> {
  if (!input.settings || !(await fourEyesOn(db, scope.orgId))) return null;
  const judge = async (tx: Queryable, lock: boolean) => {
    if (lock) {
      await tx.query('SELECT 1 FROM projects WHERE org_id = $1 AND id = $2 FOR UPDATE', [
        scope.orgId,
        projectId,
      ]);
    }
    const project = await findProject(tx, scope.orgId, projectId);
    if (!project) return null;
    const after = { ...project.settings, ...input.settings };
    return { resourceId: project.id, loosening: looseningChanges(project.settings, after) };
  };
  const first = await inTenant(db, scope.orgId, (tx) => judge(tx, false));
  if (!first || !(await needsApproval(db, scope, first.loosening))) return null;
  return createRequest(db, scope, (tx) => judge(tx, true), {
    resourceType: 'project',
    changes: { ...input },
  });
}

/**
 * Rejects a new project whose policy is looser than the empty one (no model, no auto-approved
 * tool) while the organization uses four-eyes, because creating it would put that policy in
 * force without a second admin. The project can be created without it and its policy then
 * changed through a change request. An owner under break-glass access is not held back.
 */
export async function assertNewProjectPolicyAllowed(
  db: Database,
  scope: ChangeScope,
  settings: ProjectSettings | undefined,
): Promise<void> {
  if (!settings || !(await fourEyesOn(db, scope.orgId))) return;
  const loosening = looseningChanges({}, settings);
  if (!(await needsApproval(db, scope, loosening))) return;
  throw new AppError(
    'forbidden',
    `With four-eyes on, a new project cannot start with a policy that needs approval ` +
      `(${loosening.join('; ')}): create it without these settings, then change them with ` +
      'PATCH, which another admin approves',
  );
}

/**
 * Routes an organization change: turning four-eyes or required MFA off loosens it, and with
 * four-eyes on waits for approval. Returns the pending request, or null to apply directly.
 */
export async function submitOrganizationChange(
  db: Database,
  scope: ChangeScope,
  input: { name?: string; requireMfa?: boolean; fourEyes?: boolean },
): Promise<ChangeRequest | null> {
  const judge = async (tx: Queryable) => {
    await tx.query('SELECT 1 FROM organizations WHERE id = $1 FOR UPDATE', [scope.orgId]);
    const org = await findOrganization(tx, scope.orgId);
    if (!org?.fourEyes) return null;
    return { resourceId: org.id, loosening: organizationLoosening(org, input) };
  };
  const first = await inTenant(db, scope.orgId, judge);
  if (!first || !(await needsApproval(db, scope, first.loosening))) return null;
  return createRequest(db, scope, judge, { resourceType: 'organization', changes: { ...input } });
}

async function applyChange(tx: Queryable, scope: UserScope, request: ChangeRequest) {
  const metadata = { changeRequestId: request.id, requestedBy: request.requestedBy };
  if (request.resourceType === 'organization') {
    const before = await findOrganization(tx, scope.orgId);
    const after = await updateOrganization(tx, scope.orgId, request.changes);
    if (!before || !after) throw new AppError('not_found');
    const fields = ({ name, requireMfa, fourEyes }: typeof before) => ({
      name,
      requireMfa,
      fourEyes,
    });
    return {
      action: 'organization.update',
      oldValues: fields(before),
      newValues: fields(after),
      metadata,
    };
  }
  const before = await findProject(tx, scope.orgId, request.resourceId);
  if (!before) throw new AppError('not_found');
  const changes = request.changes as UpdateProjectInput;
  const after = await updateProject(tx, {
    id: before.id,
    orgId: before.orgId,
    name: changes.name ?? before.name,
    settings: { ...before.settings, ...changes.settings },
    status: before.status,
  });
  return {
    action: 'project.update',
    projectId: before.id,
    oldValues: { name: before.name, settings: before.settings, status: before.status },
    newValues: { name: after.name, settings: after.settings, status: after.status },
    metadata,
  };
}

/**
 * Approves another admin's pending change and applies it in the same transaction. When the
 * resource has changed since the request, nothing is applied: the request is closed as stale
 * and the caller gets `change_request_stale`.
 */
export async function approveChangeRequest(
  db: Database,
  scope: UserScope,
  requestId: string,
): Promise<ChangeRequest> {
  const outcome = await inTenant(db, scope.orgId, async (tx) => {
    const locked = await lockChangeRequest(tx, scope.orgId, requestId);
    if (!locked) throw new AppError('not_found');
    const { request, unchanged } = locked;

    if (request.requestedBy === scope.actor.id) throw new AppError('self_approval_forbidden');
    // The approver's own membership role counts, not one raised by a just-in-time grant:
    // otherwise the requester could approve a member's elevation and have them approve back.
    const approverRole = await findMembershipRole(tx, scope.orgId, scope.actor.id);
    if (!approverRole || !roleGrants(approverRole, 'change_request.approve')) {
      throw new AppError(
        'forbidden',
        'Approving a change request needs a membership role that grants change_request.approve; ' +
          'a just-in-time grant does not count',
      );
    }
    if (request.status !== 'pending') {
      throw new AppError('conflict', `The change request is already ${request.status}`);
    }
    const close = (status: 'applied' | 'stale') =>
      closeChangeRequest(tx, {
        orgId: scope.orgId,
        id: request.id,
        status,
        decidedBy: scope.actor.id,
        note: null,
      });

    if (!unchanged) {
      const stale = await close('stale');
      await audit(tx, scope, stale, { action: 'change_request.stale' });
      return { stale: true, request: stale };
    }

    const applied = await applyChange(tx, scope, request);
    await appendAuditRecords(tx, [
      buildAuditRecord(scope.actor, scope.context, {
        orgId: scope.orgId,
        resourceType: request.resourceType,
        resourceId: request.resourceId,
        ...applied,
      }),
    ]);
    const approved = await close('applied');
    await audit(tx, scope, approved, { action: 'change_request.approve' });
    return { stale: false, request: approved };
  });
  // Thrown after the commit, so the request stays closed as stale.
  if (outcome.stale) throw new AppError('change_request_stale');
  return outcome.request;
}

/** Rejects a pending change; its requester may also withdraw it this way. */
export async function rejectChangeRequest(
  db: Database,
  scope: UserScope,
  requestId: string,
  note: string | null,
): Promise<ChangeRequest> {
  return inTenant(db, scope.orgId, async (tx) => {
    const locked = await lockChangeRequest(tx, scope.orgId, requestId);
    if (!locked) throw new AppError('not_found');
    if (locked.request.status !== 'pending') {
      throw new AppError('conflict', `The change request is already ${locked.request.status}`);
    }
    const rejected = await closeChangeRequest(tx, {
      orgId: scope.orgId,
      id: requestId,
      status: 'rejected',
      decidedBy: scope.actor.id,
      note,
    });
    await audit(tx, scope, rejected, { action: 'change_request.reject', metadata: { note } });
    return rejected;
  });
}
