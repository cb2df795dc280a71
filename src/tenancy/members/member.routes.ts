import type { FastifyPluginAsync, FastifyRequest } from 'fastify';

import type { Permission } from '../../application/authorization/permissions.js';
import type { Database } from '../../data/database/database.js';
import { inTenant } from '../../data/database/tenant-scope.js';
import { requestActor } from '../../http/actor.js';
import { AppError } from '../../http/errors.js';
import { orgPath, projectPath } from '../../http/params.js';
import { requestContext } from '../../http/request-context.hook.js';
import { parseOrThrow } from '../../http/validation.js';
import {
  listMembers,
  listProjectMembers,
  loadMemberFieldKeys,
  type Member,
} from './member.repository.js';
import {
  changeMemberRoleSchema,
  memberPath,
  projectMemberPath,
  setProjectMemberSchema,
} from './member.schema.js';
import { changeMemberRole, removeMember } from './member.service.js';
import { removeProjectMember, setProjectMember } from './project-member.service.js';

const MEMBERS = '/api/v1/organizations/:orgId/members';
const PROJECT_MEMBERS = '/api/v1/organizations/:orgId/projects/:projectId/members';

const orgRoute = (permission: Permission) => ({
  config: { security: { auth: 'session', permission } } as const,
});
const projectRoute = (permission: Permission) => ({
  config: { security: { auth: 'session', permission, resource: 'project' } } as const,
});

const memberView = (member: Member) => ({
  userId: member.userId,
  email: member.email,
  name: member.name,
  role: member.role,
  createdAt: member.createdAt.toISOString(),
});

/** The caller's permissions where the route acts; the authorization hook has set them. */
function heldPermissions(request: FastifyRequest): ReadonlySet<Permission> {
  if (!request.access) throw new AppError('forbidden');
  return request.access.permissions;
}

/** Members of an organization and of its projects, with their roles. */
export const memberRoutes: FastifyPluginAsync<{ db: Database }> = async (app, { db }) => {
  const scope = (request: FastifyRequest, orgId: string) => ({
    actor: requestActor(request),
    context: requestContext(request),
    orgId,
  });

  app.get(MEMBERS, orgRoute('member.read'), async (request) => {
    const { orgId } = orgPath(request.params);
    await loadMemberFieldKeys(db, orgId);
    const members = await inTenant(db, orgId, (tx) => listMembers(tx, orgId));
    return { data: members.map(memberView) };
  });

  app.patch(`${MEMBERS}/:userId`, orgRoute('member.manage'), async (request) => {
    const { orgId, userId } = memberPath(request.params);
    const { role } = parseOrThrow(changeMemberRoleSchema, request.body);
    const change = { scope: scope(request, orgId), held: heldPermissions(request), userId };
    return memberView(await changeMemberRole(db, change, role));
  });

  app.delete(`${MEMBERS}/:userId`, orgRoute('member.manage'), async (request, reply) => {
    const { orgId, userId } = memberPath(request.params);
    await removeMember(db, {
      scope: scope(request, orgId),
      held: heldPermissions(request),
      userId,
    });
    return reply.code(204).send();
  });

  app.get(PROJECT_MEMBERS, projectRoute('project_member.read'), async (request) => {
    const { orgId, projectId } = projectPath(request.params);
    await loadMemberFieldKeys(db, orgId);
    const members = await inTenant(db, orgId, (tx) => listProjectMembers(tx, orgId, projectId));
    return {
      data: members.map((member) => ({
        userId: member.userId,
        email: member.email,
        name: member.name,
        role: member.role,
        createdAt: member.createdAt.toISOString(),
        updatedAt: member.updatedAt.toISOString(),
      })),
    };
  });

  app.put(`${PROJECT_MEMBERS}/:userId`, projectRoute('project_member.manage'), async (request) => {
    const { orgId, projectId, userId } = projectMemberPath(request.params);
    const { role } = parseOrThrow(setProjectMemberSchema, request.body);
    const change = {
      scope: scope(request, orgId),
      held: heldPermissions(request),
      projectId,
      userId,
    };
    return setProjectMember(db, change, role);
  });

  app.delete(
    `${PROJECT_MEMBERS}/:userId`,
    projectRoute('project_member.manage'),
    async (request, reply) => {
      const { orgId, projectId, userId } = projectMemberPath(request.params);
      const change = {
        scope: scope(request, orgId),
        held: heldPermissions(request),
        projectId,
        userId,
      };
      await removeProjectMember(db, change);
      return reply.code(204).send();
    },
  );
};
