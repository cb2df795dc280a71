import type { FastifyPluginAsync } from 'fastify';

import type { Database } from '../data/database/database.js';

/** `/healthz`: the process is up. `/readyz`: the database answers, so traffic can be sent. */
export const healthRoutes: FastifyPluginAsync<{ db: Database }> = async (app, { db }) => {
  app.get('/healthz', { config: { security: { auth: 'public' } } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { config: { security: { auth: 'public' } } }, async (request, reply) => {
    try {
      await db.query('SELECT 1');
      return { status: 'ready' };
    } catch (error) {
      request.log.warn({ err: error }, 'readiness check failed: database unreachable');
      return reply.code(503).send({ status: 'unavailable', reason: 'database unreachable' });
    }
  });
};
