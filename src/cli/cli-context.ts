import type { Logger } from 'pino';

import type { Config } from '../config/config.schema.js';
import { loadConfig } from '../config/load-config.js';
import type { Database } from '../data/database/database.js';
import { migrate } from '../data/database/migrate.js';
import { openDatabase, openMigratedDatabase } from '../data/database/open-database.js';
import { ensureAuditPartitions } from '../monitoring/audit/audit-partitions.js';
import { createLogger } from '../monitoring/logging/logger.js';

/** Raised for a wrong command-line usage; printed without a stack trace, exit code 1. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export function cliConfig(): Config {
  return loadConfig(process.env);
}

export function cliLogger(config: Config): Logger {
  return createLogger(config.LOG_LEVEL);
}

/**
 * Opens the database for a one-off command, brings its schema up to date, runs `work` and
 * closes it again, so the embedded database's folder lock is held only while the command runs.
 */
export async function withDatabase<T>(
  command: string,
  work: (db: Database, config: Config) => Promise<T>,
): Promise<T> {
  const config = cliConfig();
  const db = await openMigratedDatabase(config, command, (migration, index, total) =>
    process.stderr.write(
      `applying migration ${migration.version} ${migration.name} (${index + 1}/${total})\n`,
    ),
  );
  try {
    // CLI commands write audit entries too, possibly long after the last server start.
    await ensureAuditPartitions(db);
    return await work(db, config);
  } finally {
    await db.close();
  }
}

/**
 * Like {@link withDatabase}, but keeps the connecting user's own rights instead of switching
 * to the application role: for the one maintenance path that removes audit partitions.
 */
export async function withOwnerDatabase<T>(
  command: string,
  work: (db: Database, config: Config) => Promise<T>,
): Promise<T> {
  const config = cliConfig();
  const db = await openDatabase(config, command);
  try {
    await migrate(db);
    return await work(db, config);
  } finally {
    await db.close();
  }
}

/** Prints `value` as one line of JSON on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}
