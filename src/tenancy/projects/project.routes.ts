import type { FastifyPluginAsync } from 'fastify';

import type { Database } from '../../data/database/database.js';
import {
  assertNewProjectPolicyAllowed,
  submitProjectChange,
} from '../../application/approvals/change-request.service.js';
import { pendingApprovalView } from '../../application/approvals/change-request.view.js';
import { inTenant } from '../../data/database/tenant-scope.js';
import { requestActor } from '../../http/actor.js';
import { AppError } from '../../http/errors.js';
import { orgPath, projectPath } from '../../http/params.js';
import { requestContext } from '../../http/request-context.hook.js';
import { parseOrThrow } from '../../http/validation.js';
import { findProject, listProjects, type Project } from './project.repository.js';
import { createProjectSchema, updateProjectSchema } from './project.schema.js';
import { changeProject, createProject } from './project.service.js';

const view = (project: Project) => ({
  id: project.id,
  orgId: project.orgId,
  name: project.name,
  slug: project.slug,
  settings: {
    allowedModels: project.settings.allowedModels ?? [],
    mcpAutoApprove: project.settings.mcpAutoApprove ?? false,
  },
  status: project.status,
  createdAt: project.createdAt.toISOString(),
  updatedAt: project.updatedAt.toISOString(),
});

const BASE = '/api/v1/organizations/:orgId/projects';

/** Projects of an organization and their gateway policy. */
export const projectRoutes: FastifyPluginAsync<{ db: Database }> = async (app, { db }) => {
  const scope = (request: Parameters<typeof requestActor>[0], orgId: string) => ({
    actor: requestActor(request),
    context: requestContext(request),
    orgId,
  });

  app.get(
    BASE,
    { config: { security: { auth: 'session', permission: 'project.read' } } },
    async (request) => {
      const { orgId } = orgPath(request.params);
      const projects = await inTenant(db, orgId, (tx) => listProjects(tx, orgId));
      return { data: projects.map(view) };
    },
  );

  app.post(
    BASE,
    { config: { security: { auth: 'session', permission: 'project.create' } } },
    async (request, reply) => {
      const { orgId } = orgPath(request.params);
      const input = parseOrThrow(createProjectSchema, request.body);
      await assertNewProjectPolicyAllowed(db, scope(request, orgId), input.settings);
      const project = await createProject(db, scope(request, orgId), input);
      return reply.code(201).send(view(project));
    },
  );

  app.get(
    `${BASE}/:projectId`,
    { config: { security: { auth: 'session', permission: 'project.read', resource: 'project' } } },
    async (request) => {
      const { orgId, projectId } = projectPath(request.params);
      const project = await inTenant(db, orgId, (tx) => findProject(tx, orgId, projectId));
      if (!project) throw new AppError('not_found');
      return view(project);
    },
  );

  app.patch(
    `${BASE}/:projectId`,
    {
      config: { security: { auth: 'session', permission: 'project.update', resource: 'project' } },
    },
    async (request, reply) => {
      const { orgId, projectId } = projectPath(request.params);
      const input = parseOrThrow(updateProjectSchema, request.body);
      // With four-eyes on, a change that loosens the policy waits for a second admin.
      const pending = await submitProjectChange(db, scope(request, orgId), projectId, input);
      if (pending) return reply.code(202).send(pendingApprovalView(pending));
      return view(await changeProject(db, scope(request, orgId), projectId, input));
    },
  );

  app.delete(
    `${BASE}/:projectId`,
    {
      config: { security: { auth: 'session', permission: 'project.update', resource: 'project' } },
    },
    async (request) => {
      const { orgId, projectId } = projectPath(request.params);
      return view(
        await changeProject(db, scope(request, orgId), projectId, { status: 'archived' }),
      );
    },
  );
};
