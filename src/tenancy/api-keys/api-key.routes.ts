import type { FastifyPluginAsync, FastifyRequest } from 'fastify';

import type { Database } from '../../data/database/database.js';
import { sessionActor } from '../../http/actor.js';
import { AppError } from '../../http/errors.js';
import { keyPath, projectPath } from '../../http/params.js';
import { requestContext } from '../../http/request-context.hook.js';
import { parseOrThrow } from '../../http/validation.js';
import { findProject } from '../projects/project.repository.js';
import { listApiKeys } from './api-key.repository.js';
import { createApiKeySchema } from './api-key.schema.js';
import { createApiKey, revokeKey } from './api-key.service.js';
import { apiKeyView } from './api-key.view.js';

const BASE = '/api/v1/organizations/:orgId/projects/:projectId/api-keys';

/** API keys of a project: list, create (the secret is shown once) and revoke. */
export const apiKeyRoutes: FastifyPluginAsync<{ db: Database }> = async (app, { db }) => {
  const scope = (request: FastifyRequest, orgId: string) => ({
    actor: sessionActor(request),
    context: requestContext(request),
    orgId,
  });

  app.get(
    BASE,
    { config: { security: { auth: 'session', permission: 'api_key.read' } } },
    async (request) => {
      const { orgId, projectId } = projectPath(request.params);
      if (!(await findProject(db, orgId, projectId))) throw new AppError('not_found');
      const keys = await listApiKeys(db, orgId, projectId);
      return { data: keys.map((key) => apiKeyView(key)) };
    },
  );

  app.post(
    BASE,
    { config: { security: { auth: 'session', permission: 'api_key.create' } } },
    async (request, reply) => {
      const { orgId, projectId } = projectPath(request.params);
      const input = parseOrThrow(createApiKeySchema, request.body);
      const created = await createApiKey(db, scope(request, orgId), projectId, input);
      reply.header('cache-control', 'no-store');
      return reply.code(201).send({ ...apiKeyView(created.key), key: created.secret });
    },
  );

  app.delete(
    `${BASE}/:keyId`,
    { config: { security: { auth: 'session', permission: 'api_key.revoke' } } },
    async (request) => {
      const { orgId, projectId, keyId } = keyPath(request.params);
      return apiKeyView(await revokeKey(db, scope(request, orgId), projectId, keyId));
    },
  );
};
