import Anthropic from '@anthropic-ai/sdk';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer } from '../support/test-server.js';

// Reproduces two defects found by the review of the gateway under a database outage. Both
// tests fail on the commit they were written against, and are expected to pass once fixed.

let t: TestServer;
let superuser: pg.Client;

beforeAll(async () => {
  t = await startTestServer();
  superuser = new pg.Client({ connectionString: t.config.DATABASE_URL });
  await superuser.connect();
});

afterAll(async () => {
  await superuser.end();
  await t.stop();
});

const call = () =>
  new Anthropic({ apiKey: t.boot.apiKey, baseURL: t.url, maxRetries: 0 }).messages
    .create({
      model: 'claude-sonnet-4-5',
      max_tokens: 5,
      messages: [{ role: 'user', content: 'hi' }],
    })
    .then(
      () => 200,
      (error: unknown) => (error as InstanceType<typeof Anthropic.APIError>).status,
    );

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const databaseName = () => new URL(t.config.DATABASE_URL ?? '').pathname.slice(1);

/** Runs `sql` on the server's `postgres` database, since a database cannot alter itself. */
async function onMaintenanceDatabase(sql: string, params: unknown[] = []): Promise<void> {
  const url = new URL(t.config.DATABASE_URL ?? '');
  url.pathname = '/postgres';
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    await client.query(sql, params);
  } finally {
    await client.end();
  }
}

/** Blocks new connections to the test database and ends every open one but the test's own. */
async function cutDatabase(): Promise<void> {
  await onMaintenanceDatabase(`ALTER DATABASE "${databaseName()}" ALLOW_CONNECTIONS false`);
  await superuser.query(
    `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
      WHERE datname = $1 AND pid <> pg_backend_pid()`,
    [databaseName()],
  );
}

async function restoreDatabase(): Promise<void> {
  await onMaintenanceDatabase(`ALTER DATABASE "${databaseName()}" ALLOW_CONNECTIONS true`);
}

describe('gateway during a database outage', () => {
  it('recovers once records can be written', async () => {
    await superuser.query('REVOKE INSERT ON audit_logs FROM mindweave_app');
    try {
      expect(await call()).toBe(200);
      // Five failed writes, 50 ms apart, make the recorder drop the call's record.
      await sleep(1_000);
      expect(t.server.usage.healthy()).toBe(false);
    } finally {
      await superuser.query('GRANT INSERT ON audit_logs TO mindweave_app');
    }
    await sleep(2_000);
    // The queue is empty by now, so no write runs that could succeed. The recorder then stays
    // unhealthy and every call gets 503 until the server restarts.
    expect(t.server.usage.healthy()).toBe(true);
    expect(await call()).toBe(200);
  });

  it('returns 503, not 500, while unreachable', async () => {
    // The key grant is cached for about a second, so after that the lookup needs the database.
    await cutDatabase();
    let status: number | undefined;
    try {
      await sleep(1_500);
      status = await call();
    } finally {
      await restoreDatabase();
    }
    expect(status).toBe(503);
  });
});
