import { readdir, readFile } from 'node:fs/promises';

import type { Database } from './database.js';

/** One numbered SQL file from the migrations folder. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Progress callback: called before each migration is applied. */
export type MigrationProgress = (migration: Migration, index: number, total: number) => void;

export const MIGRATIONS_DIR = new URL('../../../migrations/', import.meta.url);

const FILE_PATTERN = /^(\d{4})_([a-z0-9_]+)\.sql$/;

/**
 * Reads `NNNN_name.sql` files in version order and rejects duplicate versions. Gaps are allowed,
 * because teams reserve numbers for migrations that land in any order, so each migration must
 * not depend on one with a higher number.
 */
export async function loadMigrations(directory: URL = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(directory)).filter((file) => file.endsWith('.sql')).sort();
  const migrations: Migration[] = [];
  for (const file of files) {
    const match = FILE_PATTERN.exec(file);
    if (!match) throw new Error(`migration file name ${file} does not match NNNN_name.sql`);
    const version = Number(match[1]);
    const previous = migrations.at(-1)?.version ?? 0;
    if (version < 1 || version <= previous) {
      throw new Error(`migration ${file} repeats or reorders version ${version}: expected above ${previous}`);
    }
    const sql = await readFile(new URL(file, directory), 'utf8');
    migrations.push({ version, name: match[2] ?? file, sql });
  }
  return migrations;
}

/**
 * Applies every migration newer than the database's version, each in its own transaction
 * together with its row in `schema_migrations`. Several processes may call this at once:
 * the database lock makes them take turns, and the later ones find nothing left to do.
 * Returns the migrations applied by this call.
 */
export async function migrate(db: Database, onProgress?: MigrationProgress): Promise<Migration[]> {
  const migrations = await loadMigrations();
  return db.withExclusiveLock(async () => {
    await db.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const applied = await db.query<{ version: number }>('SELECT version FROM schema_migrations');
    const done = new Set(applied.rows.map((row) => row.version));
    const latest = Math.max(0, ...done);
    const newest = migrations.at(-1)?.version ?? 0;
    if (latest > newest) {
      throw new Error(
        `database schema version ${latest} is newer than this MindWeave build ` +
          `(${newest}); upgrade MindWeave before starting it on this database`,
      );
    }

    const pending = migrations.filter((migration) => !done.has(migration.version));
    for (const [index, migration] of pending.entries()) {
      onProgress?.(migration, index, pending.length);
      const record = `INSERT INTO schema_migrations (version, name) VALUES (${migration.version}, '${migration.name}');`;
      await db.execScript(`${migration.sql}\n;\n${record}`);
    }
    return pending;
  });
}
