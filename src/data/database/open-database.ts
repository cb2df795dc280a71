import { join } from 'node:path';

import type { Config } from '../../config/config.schema.js';
import { acquireDataDirLock, type DataDirLock } from './data-dir-lock.js';
import type { Database } from './database.js';
import { openEmbeddedDatabase } from './embedded-database.js';
import { migrate, type MigrationProgress } from './migrate.js';
import { openPostgresDatabase } from './postgres-database.js';

/** The role the server runs as after migrating; created by the migrations. */
export const APPLICATION_ROLE = 'mindweave_app';

/**
 * Returns the password of `config.DATABASE_URL` as it is when a connection opens. The server
 * replaces `DATABASE_URL` in its config when SIGHUP reloads a rotated DATABASE_URL_FILE, so new
 * connections use the new password.
 */
function livePassword(config: Pick<Config, 'DATABASE_URL'>): () => string | undefined {
  return () => {
    if (config.DATABASE_URL === undefined) return undefined;
    const password = new URL(config.DATABASE_URL).password;
    return password === '' ? undefined : decodeURIComponent(password);
  };
}

/**
 * Opens the configured database: a PostgreSQL server when `DATABASE_URL` is set, otherwise
 * embedded PostgreSQL in `<data dir>/postgres`, guarded by the data folder lock so that a
 * second process gets a clear error instead of opening the same files.
 */
export async function openDatabase(
  config: Pick<Config, 'DATABASE_URL' | 'MINDWEAVE_DATA_DIR'>,
  command: string,
): Promise<Database> {
  if (config.DATABASE_URL) {
    return openPostgresDatabase(config.DATABASE_URL, { password: livePassword(config) });
  }
  return openEmbedded(config.MINDWEAVE_DATA_DIR, command);
}

/**
 * Opens the database, applies pending migrations with the connecting user's rights, then
 * continues as the application role, which may only insert into and read the audit log.
 */
export async function openMigratedDatabase(
  config: Pick<Config, 'DATABASE_URL' | 'MINDWEAVE_DATA_DIR'>,
  command: string,
  onProgress?: MigrationProgress,
): Promise<Database> {
  if (config.DATABASE_URL) {
    // Two connections: one holds the migration lock while the other applies the migrations.
    const owner = await openPostgresDatabase(config.DATABASE_URL, { poolSize: 2 });
    try {
      await migrate(owner, onProgress);
    } finally {
      await owner.close();
    }
    return openPostgresDatabase(config.DATABASE_URL, {
      role: APPLICATION_ROLE,
      password: livePassword(config),
    });
  }
  const db = await openEmbedded(config.MINDWEAVE_DATA_DIR, command);
  try {
    await migrate(db, onProgress);
    // PGlite has a single session, so one SET ROLE applies to every later query.
    await db.query(`SET ROLE ${APPLICATION_ROLE}`);
    return db;
  } catch (error) {
    await db.close();
    throw error;
  }
}

async function openEmbedded(dataDir: string, command: string): Promise<Database> {
  const lock: DataDirLock = acquireDataDirLock(dataDir, command);
  try {
    const db = await openEmbeddedDatabase(join(dataDir, 'postgres'));
    return {
      ...db,
      async close() {
        try {
          await db.close();
        } finally {
          lock.release();
        }
      },
    };
  } catch (error) {
    lock.release();
    throw error;
  }
}
