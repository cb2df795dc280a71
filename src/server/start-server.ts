import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';

import type { Config } from '../config/config.schema.js';
import type { Database } from '../data/database/database.js';
import { migrate } from '../data/database/migrate.js';
import { openDatabase } from '../data/database/open-database.js';
import { createUpstreamClient } from '../gateway/upstream/upstream-client.js';
import { createUsageRecorder, type UsageRecorder } from '../gateway/usage/usage-recorder.js';
import { buildApp } from './build-app.js';

/** A listening server and the way to stop it. */
export interface RunningServer {
  app: FastifyInstance;
  db: Database;
  usage: UsageRecorder;
  url: string;
  /** Stops accepting connections, lets in-flight requests finish, then closes storage. */
  stop(): Promise<void>;
}

/** Opens storage, applies migrations and starts listening on the configured address. */
export async function startServer(config: Config, logger: Logger): Promise<RunningServer> {
  const db = await openDatabase(config, 'mindweave serve');
  try {
    const applied = await migrate(db, (migration, index, total) =>
      logger.info(
        { version: migration.version, name: migration.name, step: `${index + 1}/${total}` },
        'applying migration',
      ),
    );
    logger.info({ database: db.kind, applied: applied.length }, 'database ready');
  } catch (error) {
    await db.close();
    throw error;
  }

  const upstream = createUpstreamClient({ timeoutMs: config.UPSTREAM_TIMEOUT_MS });
  const usage = createUsageRecorder(db, logger);
  const app = await buildApp({ config, db, logger, upstream, usage });
  try {
    await app.listen({ host: config.HOST, port: config.PORT });
  } catch (error) {
    await app.close();
    await usage.close();
    await db.close();
    throw error;
  }

  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  const host = config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST;

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await app.close();
      await usage.close();
      await upstream.close();
      await db.close();
    })());

  return { app, db, usage, url: `http://${host}:${port}`, stop };
}
