import type { Command } from 'commander';
import { pino } from 'pino';

import { createLogger } from '../../monitoring/logging/logger.js';
import { startServer } from '../../server/start-server.js';
import { cliConfig } from '../cli-context.js';

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('start the HTTP server (gateway, admin API, health checks)')
    .action(async () => {
      const config = cliConfig();
      // Asynchronous writes keep stdout off the request path; lines written while a write is
      // in flight are sent together. The shutdown paths below flush before exiting.
      const destination = pino.destination({ dest: 1, sync: false });
      const logger = createLogger(config.LOG_LEVEL, destination);
      const exit = (code: number) => {
        try {
          destination.flushSync();
        } catch {
          // Nothing was written yet, so there is nothing to flush.
        }
        process.exit(code);
      };
      const server = await startServer(config, logger);
      logger.info({ url: server.url }, 'mindweave listening');

      const shutdown = (signal: NodeJS.Signals) => {
        logger.info({ signal }, 'shutting down: draining in-flight requests');
        const force = setTimeout(() => {
          logger.error(
            { graceMs: config.SHUTDOWN_GRACE_MS },
            'shutdown grace period over; exiting',
          );
          exit(1);
        }, config.SHUTDOWN_GRACE_MS);
        force.unref();
        server.stop().then(
          () => {
            logger.info('shutdown complete');
            exit(0);
          },
          (error: unknown) => {
            logger.error({ err: error }, 'shutdown failed');
            exit(1);
          },
        );
      };
      // Container platforms update mounted secret files in place, and SIGHUP applies them.
      process.on('SIGHUP', () => {
        logger.info({ signal: 'SIGHUP' }, 'reloading secret settings from their files');
        server.reloadSecrets(process.env);
      });
      // A signal that arrives during the drain is logged and ignored, because exiting then would
      // lose the records of calls that already got a response. The grace period bounds the wait.
      let stopping = false;
      const onSignal = (signal: NodeJS.Signals) => {
        if (stopping) {
          logger.warn({ signal }, 'already shutting down; the signal is ignored');
          return;
        }
        stopping = true;
        shutdown(signal);
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
    });
}
