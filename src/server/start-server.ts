import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';

import type { Config } from '../config/config.schema.js';
import type { Database } from '../data/database/database.js';
import { openMigratedDatabase } from '../data/database/open-database.js';
import {
  openDataProtection,
  startKeyMaintenance,
  type DataProtection,
} from '../data/key-store/data-protection.js';
import {
  startPersonalDataKeyWrapping,
  stopPersonalDataKeyWrapping,
} from '../data/personal-data/personal-data-key-migration.js';
import type { SubjectKeyWrapping } from '../data/personal-data/personal-data-sealer.js';
import { startUserFieldProtection } from '../data/personal-data/user-field-startup.js';
import { uninstallUserFieldProtection } from '../data/personal-data/user-field-registry.js';
import type { UserFieldProtection } from '../data/personal-data/user-field-protection.js';
import { createRedisConnection } from '../data/redis/redis-client.js';
import { createUpstreamClient } from '../gateway/upstream/upstream-client.js';
import { createUsageRecorder, type UsageRecorder } from '../gateway/usage/usage-recorder.js';
import { AuditCheckpointer } from '../monitoring/audit/audit-checkpointer.js';
import { ensureAuditPartitions } from '../monitoring/audit/audit-partitions.js';
import { MAIN_LOG } from '../monitoring/audit/audit.repository.js';
import { loadAuditSigningKey } from '../monitoring/audit/audit-signing.js';
import {
  createSecurityEvents,
  type SecurityEvents,
} from '../monitoring/security-events/security-events.service.js';
import { createRateLimiter } from '../perimeter/rate-limit/create-rate-limiter.js';
import { assertServerLimits } from '../perimeter/request-limits/http-server.js';
import { assertTransportSecurity, loadTlsOptions } from '../perimeter/tls/tls-options.js';
import { legacyTotpOpener, totpKeyPath } from '../application/auth/identity.js';
import { buildApp } from './build-app.js';
import { auditKeyDestroyed, auditSubjectErased } from './key-deletion-audit.js';
import { auditScheduledRotation } from './key-rotation-audit.js';
import { reloadSecretFiles, type SecretReloadResult } from './secret-reload.js';

// How long start waits for Redis before it listens anyway; limits then follow their failure mode.
const REDIS_START_WAIT_MS = 2000;

// Partitions are created three months ahead; a daily check keeps that horizon.
const PARTITION_CHECK_MS = 24 * 60 * 60 * 1000;

/** A listening server and the way to stop it. */
export interface RunningServer {
  app: FastifyInstance;
  db: Database;
  usage: UsageRecorder;
  checkpointer: AuditCheckpointer;
  securityEvents: SecurityEvents;
  url: string;
  /**
   * Reads the `<NAME>_FILE` secrets of `env` again and applies the changed ones: provider keys
   * and SMTP settings from the next call, the database password for new connections.
   */
  reloadSecrets(env?: NodeJS.ProcessEnv): SecretReloadResult;
  /** Stops accepting connections, lets in-flight requests finish, then closes storage. */
  stop(): Promise<void>;
}

/** Opens storage, applies migrations and starts listening on the configured address. */
export async function startServer(config: Config, logger: Logger): Promise<RunningServer> {
  assertTransportSecurity(config);
  assertServerLimits(config);
  const tls = await loadTlsOptions(config);
  const signingKey = await loadAuditSigningKey(config);
  const db = await openMigratedDatabase(config, 'mindweave serve', (migration, index, total) =>
    logger.info(
      { version: migration.version, name: migration.name, step: `${index + 1}/${total}` },
      'applying migration',
    ),
  );
  logger.info({ database: db.kind }, 'database ready');
  const checkpointer = new AuditCheckpointer(db, signingKey, {
    logId: MAIN_LOG,
    everyEntries: config.AUDIT_CHECKPOINT_ENTRIES,
    intervalMs: config.AUDIT_CHECKPOINT_INTERVAL_MS,
    logger,
  });
  let dataProtection: DataProtection;
  let userFields: UserFieldProtection;
  let subjectKeys: SubjectKeyWrapping;
  try {
    const blocked = await ensureAuditPartitions(db);
    if (blocked.length > 0) {
      logger.warn(
        { months: blocked },
        'audit entries of these months are in the default partition',
      );
    }
    await checkpointer.sign();
    dataProtection = await openDataProtection(config, db, logger);
    const opened = dataProtection;
    userFields = await startUserFieldProtection(
      db,
      opened,
      logger,
      legacyTotpOpener(totpKeyPath(config)),
    ).catch(async (error: unknown) => {
      await opened.close();
      throw error;
    });
    const fields = userFields;
    subjectKeys = await startPersonalDataKeyWrapping(db, opened, logger).catch(
      async (error: unknown) => {
        uninstallUserFieldProtection(fields);
        await opened.close();
        throw error;
      },
    );
  } catch (error) {
    await db.close();
    throw error;
  }
  checkpointer.start();
  const partitionTimer = setInterval(() => {
    ensureAuditPartitions(db).catch((error: unknown) =>
      logger.error({ err: error }, 'failed to create audit partitions'),
    );
  }, PARTITION_CHECK_MS);
  partitionTimer.unref();
  const keyMaintenance = startKeyMaintenance(dataProtection.hierarchy, logger, {
    rotationDays: config.KEY_ROTATION_DAYS,
    onRotated: (ref) => auditScheduledRotation(db, dataProtection.hierarchy, ref),
    onDestroyed: (ref) => auditKeyDestroyed(db, dataProtection.hierarchy, ref),
    subjectErasure: { db, audit: auditSubjectErased },
  });

  const upstream = createUpstreamClient({ timeoutMs: config.UPSTREAM_TIMEOUT_MS });
  const usage = createUsageRecorder(db, logger);
  const redisConnection = config.REDIS_URL ? createRedisConnection(config.REDIS_URL, logger) : null;
  if (redisConnection && !(await redisConnection.waitUntilReady(REDIS_START_WAIT_MS))) {
    logger.warn(
      { waitedMs: REDIS_START_WAIT_MS, failureMode: config.RATE_LIMIT_REDIS_FAILURE },
      'redis not ready at start; rate limits follow RATE_LIMIT_REDIS_FAILURE until it is',
    );
  }
  const rateLimiter = createRateLimiter(config, logger, redisConnection?.client ?? null);
  const redis = redisConnection?.client ?? null;
  const securityEvents = createSecurityEvents({ config, db, logger, redis });
  // Releases everything opened above, in the order a stop needs: no request can reach the
  // stores once the app has closed, and after that no work can still need the KMS, such as an
  // HSM session. A failed start releases the same, so an embedding caller keeps no timer,
  // connection or data folder lock.
  const release = async (app?: FastifyInstance): Promise<void> => {
    clearInterval(partitionTimer);
    keyMaintenance.stop();
    if (app) await app.close();
    await securityEvents.close();
    await usage.close();
    await checkpointer.stop();
    await upstream.close();
    await rateLimiter.close();
    await redisConnection?.close();
    uninstallUserFieldProtection(userFields);
    stopPersonalDataKeyWrapping(subjectKeys);
    await dataProtection.close();
    await db.close();
  };
  let built: FastifyInstance | undefined;
  try {
    built = await buildApp({
      config,
      db,
      logger,
      upstream,
      usage,
      checkpointer,
      signingKey,
      redis,
      dataProtection,
      rateLimiter,
      tls,
      securityEvents,
    });
    await built.listen({ host: config.HOST, port: config.PORT });
  } catch (error) {
    await release(built);
    throw error;
  }
  const app = built;

  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  const host = config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST;

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      // server.close() ends only the connections idle at that moment. A keep-alive connection
      // whose response finishes later would hold close() open until its keep-alive timeout,
      // so a 1 ms timeout ends each one right after its last response.
      app.server.keepAliveTimeout = 1;
      await release(app);
    })());

  const url = `${tls ? 'https' : 'http'}://${host}:${port}`;
  const reloadSecrets = (env: NodeJS.ProcessEnv = process.env) =>
    reloadSecretFiles(config, env, logger);
  return { app, db, usage, checkpointer, securityEvents, url, reloadSecrets, stop };
}
