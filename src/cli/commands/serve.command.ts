import type { Command } from 'commander';

import { startServer } from '../../server/start-server.js';
import { cliConfig, cliLogger } from '../cli-context.js';

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('start the HTTP server (gateway, admin API, health checks)')
    .action(async () => {
      const config = cliConfig();
      const logger = cliLogger(config);
      const server = await startServer(config, logger);
      logger.info({ url: server.url }, 'mindweave listening');

      const shutdown = (signal: NodeJS.Signals) => {
        logger.info({ signal }, 'shutting down: draining in-flight requests');
        const force = setTimeout(() => {
          logger.error(
            { graceMs: config.SHUTDOWN_GRACE_MS },
            'shutdown grace period over; exiting',
          );
          process.exit(1);
        }, config.SHUTDOWN_GRACE_MS);
        force.unref();
        server.stop().then(
          () => {
            logger.info('shutdown complete');
            process.exit(0);
          },
          (error: unknown) => {
            logger.error({ err: error }, 'shutdown failed');
            process.exit(1);
          },
        );
      };
      process.once('SIGTERM', shutdown);
      process.once('SIGINT', shutdown);
    });
}
