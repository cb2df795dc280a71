import { join } from 'node:path';

import type { Config } from '../../config/config.schema.js';
import { acquireDataDirLock, type DataDirLock } from './data-dir-lock.js';
import type { Database } from './database.js';
import { openEmbeddedDatabase } from './embedded-database.js';
import { openPostgresDatabase } from './postgres-database.js';

/**
 * Opens the configured database: a PostgreSQL server when `DATABASE_URL` is set, otherwise
 * embedded PostgreSQL in `<data dir>/postgres`, guarded by the data folder lock so that a
 * second process gets a clear error instead of opening the same files.
 */
export async function openDatabase(
  config: Pick<Config, 'DATABASE_URL' | 'MINDWEAVE_DATA_DIR'>,
  command: string,
): Promise<Database> {
  if (config.DATABASE_URL) return openPostgresDatabase(config.DATABASE_URL);

  const lock: DataDirLock = acquireDataDirLock(config.MINDWEAVE_DATA_DIR, command);
  try {
    const db = await openEmbeddedDatabase(join(config.MINDWEAVE_DATA_DIR, 'postgres'));
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
