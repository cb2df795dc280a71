import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';

import type { Config } from '../../config/config.schema.js';
import type { Database } from '../../data/database/database.js';
import type { SecurityEventSink } from '../../monitoring/security-events/security-event.js';
import { accessSettingsFromConfig } from './access-settings.js';
import { accessRoutes } from './access.routes.js';
import { AccessGrantSweeper } from './grant-sweeper.js';
import { registerGrantUseAudit } from './grant-use.hook.js';

/**
 * Registers just-in-time and break-glass access on the root app: the routes, the audit of
 * each elevated request (a hook that must come after the authorization hook) and the sweep
 * that records expired grants, which stops when the app closes.
 */
export async function registerAccessControl(
  app: FastifyInstance,
  deps: {
    config: Config;
    db: Database;
    logger: Logger;
    securityEvents?: SecurityEventSink | null;
  },
): Promise<void> {
  const settings = accessSettingsFromConfig(deps.config);
  registerGrantUseAudit(app, deps.db);
  await app.register(accessRoutes, {
    db: deps.db,
    settings,
    securityEvents: deps.securityEvents ?? null,
  });
  const sweeper = new AccessGrantSweeper(deps.db, deps.logger, settings.sweepIntervalMs);
  sweeper.start();
  app.addHook('onClose', () => sweeper.stop());
}
