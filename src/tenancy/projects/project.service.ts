import type { Database } from '../../data/database/database.js';
import { inTenant } from '../../data/database/tenant-scope.js';
import { AppError } from '../../http/errors.js';
import type { Actor, RequestContext } from '../../http/request-context.js';
import { buildAuditRecord } from '../../monitoring/audit/audit-entry.js';
import { appendAuditRecords } from '../../monitoring/audit/audit.repository.js';
import {
  findProject,
  findProjectBySlug,
  insertProject,
  updateProject,
  type Project,
} from './project.repository.js';
import type { CreateProjectInput, UpdateProjectInput } from './project.schema.js';

// PostgreSQL's SQLSTATE for a unique constraint violation.
const UNIQUE_VIOLATION = '23505';

function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === UNIQUE_VIOLATION;
}

/** Who acts and where: the actor, the request and the organization. */
export interface Scope {
  actor: Actor;
  context: RequestContext;
  orgId: string;
}

/** Creates a project and its audit entry in one transaction; a taken slug is a conflict. */
export async function createProject(
  db: Database,
  scope: Scope,
  input: CreateProjectInput,
): Promise<Project> {
  return inTenant(db, scope.orgId, async (tx) => {
    const slugConflict = () =>
      new AppError('conflict', `A project with slug "${input.slug}" already exists`);
    if (await findProjectBySlug(tx, scope.orgId, input.slug)) throw slugConflict();
    // A concurrent request can insert the same slug between the check and the insert. The
    // unique index then rejects this insert, and that is the same conflict.
    const project = await insertProject(tx, {
      orgId: scope.orgId,
      name: input.name,
      slug: input.slug,
      settings: input.settings ?? {},
    }).catch((error: unknown) => {
      throw isUniqueViolation(error) ? slugConflict() : error;
    });
    await appendAuditRecords(tx, [
      buildAuditRecord(scope.actor, scope.context, {
        action: 'project.create',
        orgId: scope.orgId,
        projectId: project.id,
        resourceType: 'project',
        resourceId: project.id,
        newValues: { name: project.name, slug: project.slug, settings: project.settings },
      }),
    ]);
    return project;
  });
}

/** Changes a project's name or policy settings; settings replace the stored ones per key. */
export async function changeProject(
  db: Database,
  scope: Scope,
  projectId: string,
  input: UpdateProjectInput & { status?: Project['status'] },
): Promise<Project> {
  return inTenant(db, scope.orgId, async (tx) => {
    const before = await findProject(tx, scope.orgId, projectId);
    if (!before) throw new AppError('not_found');
    const after = await updateProject(tx, {
      id: before.id,
      orgId: before.orgId,
      name: input.name ?? before.name,
      settings: { ...before.settings, ...input.settings },
      status: input.status ?? before.status,
    });
    const action = input.status === 'archived' ? 'project.archive' : 'project.update';
    await appendAuditRecords(tx, [
      buildAuditRecord(scope.actor, scope.context, {
        action,
        orgId: scope.orgId,
        projectId,
        resourceType: 'project',
        resourceId: projectId,
        oldValues: { name: before.name, settings: before.settings, status: before.status },
        newValues: { name: after.name, settings: after.settings, status: after.status },
      }),
    ]);
    return after;
  });
}
