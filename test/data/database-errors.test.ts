import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { isDatabaseUnavailable, rejectsRows } from '../../src/data/database/database-errors.js';
import {
  ADMIN_DATABASE_URL,
  createTestDatabase,
  type TestDatabase,
} from '../support/test-database.js';

let database: TestDatabase;
let client: pg.Client;

beforeAll(async () => {
  database = await createTestDatabase();
  client = new pg.Client({ connectionString: database.url });
  await client.connect();
  await client.query('CREATE TABLE parent (id int PRIMARY KEY)');
  await client.query('CREATE TABLE child (id int PRIMARY KEY, parent int REFERENCES parent (id))');
});

afterAll(async () => {
  await client.end();
  await database.drop();
});

/** Returns the error that `work` rejects with. */
async function failureOf(work: () => Promise<unknown>): Promise<unknown> {
  try {
    await work();
  } catch (error) {
    return error;
  }
  throw new Error('expected the work to fail');
}

async function connectionFailure(url: string): Promise<unknown> {
  const other = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  return failureOf(() => other.connect());
}

describe('database errors from a real server', () => {
  it('count a refused connection as unavailable', async () => {
    const error = await connectionFailure('postgres://postgres@127.0.0.1:1/none');
    expect(isDatabaseUnavailable(error)).toBe(true);
    expect(rejectsRows(error)).toBe(false);
  });

  it('count a missing database as unavailable', async () => {
    const url = new URL(database.url);
    url.pathname = '/mw_test_no_such_database';
    expect(isDatabaseUnavailable(await connectionFailure(url.toString()))).toBe(true);
  });

  it('count a connection ended by the server as unavailable', async () => {
    const victim = new pg.Client({ connectionString: database.url });
    await victim.connect();
    victim.on('error', () => undefined);
    const { rows } = await victim.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    await client.query('SELECT pg_terminate_backend($1)', [rows[0]?.pid]);
    const error = await failureOf(() => victim.query('SELECT 1'));
    expect(isDatabaseUnavailable(error)).toBe(true);
    await victim.end().catch(() => undefined);
  });

  it('count a database closed to connections as unavailable', async () => {
    // A database cannot close itself, so the change runs from the maintenance database.
    const name = new URL(database.url).pathname.slice(1);
    const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
    await admin.connect();
    await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
    try {
      expect(isDatabaseUnavailable(await connectionFailure(database.url))).toBe(true);
    } finally {
      await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
      await admin.end();
    }
  });

  it('tell rows the database rejects from statement errors', async () => {
    const foreignKey = await failureOf(() => client.query('INSERT INTO child VALUES (1, 99)'));
    const badValue = await failureOf(() => client.query("SELECT 'x'::int"));
    const syntax = await failureOf(() => client.query('SELEC 1'));
    const missing = await failureOf(() => client.query('SELECT * FROM no_such_table'));
    expect([foreignKey, badValue].map(rejectsRows)).toEqual([true, true]);
    expect([syntax, missing].map(rejectsRows)).toEqual([false, false]);
    expect([foreignKey, badValue, syntax, missing].map(isDatabaseUnavailable)).toEqual([
      false,
      false,
      false,
      false,
    ]);
  });

  it('ignore values that are not errors', () => {
    for (const value of [null, undefined, 'ECONNREFUSED', 42, { code: 55000 }]) {
      expect(isDatabaseUnavailable(value)).toBe(false);
      expect(rejectsRows(value)).toBe(false);
    }
  });
});
