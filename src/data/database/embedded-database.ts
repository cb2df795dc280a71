import { mkdir } from 'node:fs/promises';

import { PGlite } from '@electric-sql/pglite';

import type { Database, Queryable, QueryResult } from './database.js';

/** Adapts a PGlite connection or transaction to {@link Queryable}. */
function queryable(target: Pick<PGlite, 'query'>): Queryable {
  return {
    async query<R>(text: string, params?: unknown[]): Promise<QueryResult<R>> {
      const result = await target.query<R>(text, params);
      return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
    },
  };
}

/** Wraps a PGlite instance as a {@link Database}. */
function wrap(db: PGlite): Database {
  return {
    kind: 'embedded',
    ...queryable(db),
    // PGlite runs a standalone query only when no transaction is open, so another request's
    // query never runs inside this one and never sees its local settings.
    transaction: (work, options) =>
      db.transaction(async (tx) => {
        for (const [name, value] of Object.entries(options?.localSettings ?? {})) {
          await tx.query('SELECT set_config($1, $2, true)', [name, value]);
        }
        return work(queryable(tx));
      }),
    async execScript(sql) {
      await db.transaction(async (tx) => {
        await tx.exec(sql);
      });
    },
    // One process owns the data folder, so the folder lock already serialises migrations.
    withExclusiveLock: (work) => work(),
    close: () => db.close(),
  };
}

/**
 * Opens embedded PostgreSQL persisted in `directory`. PGlite has one connection, so
 * statements from concurrent requests queue, and the caller must hold the data folder lock
 * so that no second process opens the same files.
 */
export async function openEmbeddedDatabase(directory: string): Promise<Database> {
  await mkdir(directory, { recursive: true, mode: 0o700 });
  return wrap(await PGlite.create(directory));
}

/** Opens an in-memory embedded database, for tests and throwaway runs. */
export async function openMemoryDatabase(): Promise<Database> {
  return wrap(await PGlite.create());
}
