import type { FastifyPluginAsync, FastifyRequest } from 'fastify';

import { requestActor } from '../../http/actor.js';
import { orgPath } from '../../http/params.js';
import { requestContext } from '../../http/request-context.hook.js';
import { parseOrThrow } from '../../http/validation.js';
import { providerKeyPath, putProviderKeySchema } from './provider-key.schema.js';
import type { ProviderKeyScope, ProviderKeyService } from './provider-key.service.js';

const BASE = '/api/v1/organizations/:orgId/provider-keys';

/** Interval of the sweep that drops expired decrypted keys from the cache, in milliseconds. */
const PURGE_INTERVAL_MS = 60 * 1000;

/**
 * Provider API keys of an organization: list (last four characters only), store or replace, and
 * delete. The key itself is never returned.
 */
export const providerKeyRoutes: FastifyPluginAsync<{ service: ProviderKeyService }> = async (
  app,
  { service },
) => {
  // Cache lookups already drop expired keys, so the timer only matters while no call arrives.
  const purgeTimer = setInterval(() => service.purgeExpired(), PURGE_INTERVAL_MS);
  purgeTimer.unref();
  app.addHook('onClose', async () => {
    clearInterval(purgeTimer);
    service.clearCache();
  });

  const scope = (request: FastifyRequest, orgId: string): ProviderKeyScope => ({
    actor: requestActor(request),
    context: requestContext(request),
    orgId,
  });

  app.get(
    BASE,
    { config: { security: { auth: 'session', permission: 'provider_key.read' } } },
    async (request) => {
      const { orgId } = orgPath(request.params);
      return { data: await service.list(orgId) };
    },
  );

  app.put(
    `${BASE}/:provider`,
    { config: { security: { auth: 'session', permission: 'provider_key.update' } } },
    async (request, reply) => {
      const { orgId, provider } = providerKeyPath(request.params);
      const input = parseOrThrow(putProviderKeySchema, request.body);
      const result = await service.put(scope(request, orgId), provider, input.apiKey);
      reply.header('cache-control', 'no-store');
      return reply.code(result.created ? 201 : 200).send(result.key);
    },
  );

  app.delete(
    `${BASE}/:provider`,
    { config: { security: { auth: 'session', permission: 'provider_key.update' } } },
    async (request) => {
      const { orgId, provider } = providerKeyPath(request.params);
      return service.delete(scope(request, orgId), provider);
    },
  );
};
