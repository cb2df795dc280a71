import Anthropic from '@anthropic-ai/sdk';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer } from '../support/test-server.js';

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

describe('gateway when the audit log cannot be written', () => {
  it('refuses calls with 503 until recording recovers', async () => {
    await superuser.query('REVOKE INSERT ON audit_logs FROM mindweave_app');
    try {
      expect(await call()).toBe(200);
      await t.server.usage.flush();
      expect(t.server.usage.healthy()).toBe(false);
      expect(await call()).toBe(503);
    } finally {
      await superuser.query('GRANT INSERT ON audit_logs TO mindweave_app');
    }
    await t.server.usage.flush();
    expect(t.server.usage.healthy()).toBe(true);
    expect(await call()).toBe(200);

    await t.server.usage.flush();
    const { rows } = await superuser.query<{ count: string }>(
      "SELECT count(*) AS count FROM audit_logs WHERE action = 'gateway.request'",
    );
    // The call made before the failure was kept and written once recording recovered.
    expect(Number(rows[0]?.count)).toBe(2);
  });
});
