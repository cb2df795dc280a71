import { pino, type Logger } from 'pino';

import type { Config } from '../config/config.schema.js';
import { loadConfig } from '../config/load-config.js';
import type { Database } from '../data/database/database.js';
import { migrate } from '../data/database/migrate.js';
import { openDatabase, openMigratedDatabase } from '../data/database/open-database.js';
import { openDataProtection } from '../data/key-store/data-protection.js';
import {
  startPersonalDataKeyWrapping,
  stopPersonalDataKeyWrapping,
} from '../data/personal-data/personal-data-key-migration.js';
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

/**
 * Runs `work` with the key hierarchy open and the personal data keys wrapped under the
 * compliance key, as a server does. Commands whose audit entries seal personal values, such as
 * an API key's name, need it once a server has wrapped those keys. Logs go to stderr, so stdout
 * keeps the command's output.
 */
export async function withSubjectKeys<T>(
  db: Database,
  config: Config,
  work: () => Promise<T>,
): Promise<T> {
  const logger = createLogger(config.LOG_LEVEL, pino.destination({ dest: 2, sync: true }));
  const protection = await openDataProtection(config, db, logger);
  try {
    const wrapping = await startPersonalDataKeyWrapping(db, protection, logger);
    try {
      return await work();
    } finally {
      stopPersonalDataKeyWrapping(wrapping);
    }
  } finally {
    await protection.close();
  }
}
