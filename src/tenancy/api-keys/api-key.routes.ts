import type { FastifyPluginAsync, FastifyRequest } from 'fastify';

import type { Permission } from '../../application/authorization/permissions.js';
import type { Database } from '../../data/database/database.js';
import { inTenant } from '../../data/database/tenant-scope.js';
import { requestActor } from '../../http/actor.js';
import { AppError } from '../../http/errors.js';
import { keyPath, projectPath } from '../../http/params.js';
import { requestContext } from '../../http/request-context.hook.js';
import { parseOrThrow } from '../../http/validation.js';
import type { KeyGrantor } from './api-key-grant.js';
import { rotateApiKey } from './api-key-rotation.service.js';
import { listApiKeys } from './api-key.repository.js';
import { createApiKeySchema, rotateApiKeySchema } from './api-key.schema.js';
import { createApiKey, revokeKey } from './api-key.service.js';
import { apiKeyView } from './api-key.view.js';

const BASE = '/api/v1/organizations/:orgId/projects/:projectId/api-keys';

const projectRoute = (permission: Permission) => ({
  config: { security: { auth: 'session', permission, resource: 'project' } } as const,
});

/**
 * Returns the grantor of a key minted in this request: the caller's permissions on the project,
 * the user whose rights bound the key (the signed-in user, or the admin key's creator) and, when
 * an admin key mints, that key.
 */
function grantorOf(request: FastifyRequest): KeyGrantor {
  if (!request.access) throw new AppError('forbidden');
  const creatorId = request.principal?.user.id ?? request.adminApiKey?.activeCreatorId ?? null;
  const key = request.principal ? null : request.adminApiKey;
  const mintingKey = key ? { scopes: key.scopes, expiresAt: key.expiresAt } : null;
  return { held: request.access.permissions, creatorId, mintingKey };
}

/** API keys of a project: list, create and rotate (the secret is shown once), and revoke. */
export const apiKeyRoutes: FastifyPluginAsync<{ db: Database }> = async (app, { db }) => {
  const scope = (request: FastifyRequest, orgId: string) => ({
    actor: requestActor(request),
    context: requestContext(request),
    orgId,
  });

  app.get(BASE, projectRoute('api_key.read'), async (request) => {
    const { orgId, projectId } = projectPath(request.params);
    const keys = await inTenant(db, orgId, (tx) => listApiKeys(tx, orgId, projectId));
    return { data: keys.map((key) => apiKeyView(key)) };
  });

  app.post(BASE, projectRoute('api_key.create'), async (request, reply) => {
    const { orgId, projectId } = projectPath(request.params);
    const input = parseOrThrow(createApiKeySchema, request.body);
    const created = await createApiKey(
      db,
      scope(request, orgId),
      projectId,
      input,
      grantorOf(request),
    );
    reply.header('cache-control', 'no-store');
    return reply.code(201).send({ ...apiKeyView(created.key), key: created.secret });
  });

  app.post(`${BASE}/:keyId/rotate`, projectRoute('api_key.create'), async (request, reply) => {
    const { orgId, projectId, keyId } = keyPath(request.params);
    const input = parseOrThrow(rotateApiKeySchema, request.body ?? {});
    const rotated = await rotateApiKey(
      db,
      scope(request, orgId),
      { projectId, keyId },
      input,
      grantorOf(request),
    );
    reply.header('cache-control', 'no-store');
    return reply.code(201).send({
      ...apiKeyView(rotated.key),
      key: rotated.secret,
      previous: apiKeyView(rotated.previous),
    });
  });

  app.delete(`${BASE}/:keyId`, projectRoute('api_key.revoke'), async (request) => {
    const { orgId, projectId, keyId } = keyPath(request.params);
    return apiKeyView(await revokeKey(db, scope(request, orgId), projectId, keyId));
  });
};
