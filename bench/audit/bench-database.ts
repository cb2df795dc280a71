import { randomBytes } from 'node:crypto';
import { cpus, loadavg, totalmem } from 'node:os';

import pg from 'pg';

import { migrate } from '../../src/data/database/migrate.js';
import { openPostgresDatabase } from '../../src/data/database/postgres-database.js';

/** Server URL with the right to create databases. The local PostgreSQL trusts local connections. */
export const ADMIN_DATABASE_URL =
  process.env.BENCH_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** A migrated benchmark database that `drop()` removes. */
export interface BenchDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

async function runAdminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * Creates `mw_bench_<random>` and applies the migrations as the connecting superuser, the way the
 * audit test fixture does.
 */
async function createBenchDatabase(): Promise<BenchDatabase> {
  const name = `mw_bench_${randomBytes(6).toString('hex')}`;
  await runAdminQuery(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN_DATABASE_URL);
  url.pathname = `/${name}`;
  const database: BenchDatabase = {
    name,
    url: url.toString(),
    drop: () => runAdminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
  try {
    const owner = await openPostgresDatabase(database.url, { poolSize: 2 });
    try {
      await migrate(owner);
    } finally {
      await owner.close();
    }
  } catch (error) {
    await database.drop();
    throw error;
  }
  return database;
}

/**
 * Runs `work` on a fresh migrated database and drops the database afterwards, also when `work`
 * throws or the process gets SIGINT or SIGTERM.
 */
export async function withBenchDatabase<T>(work: (database: BenchDatabase) => Promise<T>) {
  const database = await createBenchDatabase();
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`${signal} received, dropping database ${database.name}`);
    void database
      .drop()
      .catch((error: unknown) => console.error(`failed to drop ${database.name}:`, error))
      .finally(() => process.exit(1));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await work(database);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await database.drop();
  }
}

/** Returns the machine and server facts that a benchmark record needs. */
export async function describeEnvironment(url: string): Promise<Record<string, string>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const setting = async (name: string) =>
      (await client.query<{ value: string }>('SELECT current_setting($1) AS value', [name])).rows[0]
        ?.value ?? 'unknown';
    return {
      cpu: `${cpus().length} x ${cpus()[0]?.model ?? 'unknown'}`,
      memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
      'load average (1, 5, 15 min)': loadavg()
        .map((load) => load.toFixed(2))
        .join(' '),
      node: process.version,
      postgres: await setting('server_version'),
      synchronous_commit: await setting('synchronous_commit'),
      fsync: await setting('fsync'),
      autovacuum: await setting('autovacuum'),
      shared_buffers: await setting('shared_buffers'),
    };
  } finally {
    await client.end();
  }
}
