import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { base32Decode, totp } from '../../src/application/mfa/totp.js';
import { parseCiphertext } from '../../src/data/crypto/ciphertext-format.js';
import {
  api,
  expectAdminError,
  insertForeignOrganization,
  insertMember,
  login,
} from '../admin/admin-api.js';
import { ownerSession } from '../support/admin-session.js';
import { createLogger } from '../../src/monitoring/logging/logger.js';
import { startServer, type RunningServer } from '../../src/server/start-server.js';
import { PROVIDER_KEYS, startTestServer, type TestServer } from '../support/test-server.js';

const ORG_ANTHROPIC_KEY = 'sk-ant-org-stored-key-AAAA1111zzzz';
const ORG_ANTHROPIC_KEY_2 = 'sk-ant-org-replacement-BBBB2222yyyy';
const ORG_OPENAI_KEY = 'sk-org-openai-stored-CCCC3333xxxx';
const MEMBER_PASSWORD = 'Member-Passw0rd!2026';

let t: TestServer;
let db: pg.Client;
let owner: string;
let anthropic: Anthropic;
let openai: OpenAI;

/** Signs a user in and enrolls TOTP when the role requires a second factor. */
async function sessionWithMfa(email: string, password: string): Promise<string> {
  const token = await login(t, email, password);
  const enroll = await api(t, 'POST', '/api/v1/auth/mfa/totp', { token, body: {} });
  if (enroll.status !== 201) return token;
  const secret = enroll.body.secret as string;
  const code = totp(base32Decode(secret), Date.now() / 1000);
  const confirm = await api(t, 'POST', '/api/v1/auth/mfa/totp/confirm', { token, body: { code } });
  expect(confirm.status).toBe(200);
  return confirm.body.token as string;
}

function keysPath(provider?: string): string {
  const base = `/api/v1/organizations/${t.boot.orgId}/provider-keys`;
  return provider === undefined ? base : `${base}/${provider}`;
}

async function askAnthropic(): Promise<string | undefined> {
  const before = t.fake.received.length;
  await anthropic.messages.create({
    model: 'claude-sonnet-4-5',
    max_tokens: 10,
    messages: [{ role: 'user', content: 'Say hello' }],
  });
  const header = t.fake.received[before]?.headers['x-api-key'];
  return typeof header === 'string' ? header : undefined;
}

async function askOpenai(): Promise<string | undefined> {
  const before = t.fake.received.length;
  await openai.chat.completions.create({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'Say hello' }],
  });
  return t.fake.received[before]?.headers.authorization;
}

/** Returns every row of every table in the public schema, each rendered as text. */
async function databaseDump(): Promise<string> {
  const tables = await db.query<{ name: string }>(
    `SELECT quote_ident(table_name) AS name FROM information_schema.tables
      WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`,
  );
  const parts: string[] = [];
  for (const table of tables.rows) {
    const rows = await db.query<{ row: string }>(`SELECT t::text AS row FROM ${table.name} t`);
    parts.push(...rows.rows.map((row) => row.row));
  }
  return parts.join('\n');
}

beforeAll(async () => {
  t = await startTestServer();
  db = new pg.Client({ connectionString: t.config.DATABASE_URL });
  await db.connect();
  owner = await ownerSession(t);
  anthropic = new Anthropic({ apiKey: t.boot.apiKey, baseURL: t.url, maxRetries: 0 });
  openai = new OpenAI({ apiKey: t.boot.apiKey, baseURL: `${t.url}/v1`, maxRetries: 0 });
});

afterAll(async () => {
  await db?.end();
  await t?.stop();
});

describe('organization provider keys', () => {
  it('gateway uses the server key first', async () => {
    expect(await askAnthropic()).toBe(PROVIDER_KEYS.anthropic);
  });

  it('stores a key and returns its last four', async () => {
    const response = await api(t, 'PUT', keysPath('anthropic'), {
      token: owner,
      body: { apiKey: ORG_ANTHROPIC_KEY },
    });
    expect(response.status).toBe(201);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(Object.keys(response.body).sort()).toEqual([
      'createdAt',
      'lastFour',
      'provider',
      'updatedAt',
    ]);
    expect(response.body.provider).toBe('anthropic');
    expect(response.body.lastFour).toBe('zzzz');
  });

  it('lists keys without the key', async () => {
    const response = await api(t, 'GET', keysPath(), { token: owner });
    expect(response.status).toBe(200);
    const data = response.body.data as Record<string, unknown>[];
    expect(data).toHaveLength(1);
    expect(data[0]?.provider).toBe('anthropic');
    expect(data[0]?.lastFour).toBe('zzzz');
    expect(JSON.stringify(response.body)).not.toContain(ORG_ANTHROPIC_KEY);
  });

  it('sends the stored key upstream', async () => {
    expect(await askAnthropic()).toBe(ORG_ANTHROPIC_KEY);
  });

  it('falls back to the server key', async () => {
    expect(await askOpenai()).toBe(`Bearer ${PROVIDER_KEYS.openai}`);
  });

  it('uses a replaced key at once', async () => {
    const response = await api(t, 'PUT', keysPath('anthropic'), {
      token: owner,
      body: { apiKey: ORG_ANTHROPIC_KEY_2 },
    });
    expect(response.status).toBe(200);
    expect(response.body.lastFour).toBe('yyyy');
    expect(await askAnthropic()).toBe(ORG_ANTHROPIC_KEY_2);
  });

  it('stores the key encrypted for its row', async () => {
    const result = await db.query<{ id: string; encrypted_key: string; last_four: string }>(
      `SELECT id, encrypted_key, last_four FROM organization_provider_keys
        WHERE org_id = $1 AND provider = 'anthropic'`,
      [t.boot.orgId],
    );
    const row = result.rows[0];
    expect(row?.last_four).toBe('yyyy');
    expect(parseCiphertext(row?.encrypted_key ?? '')).toBeDefined();
    expect(row?.encrypted_key).not.toContain(ORG_ANTHROPIC_KEY_2);
  });

  it('rejects a ciphertext moved to another row', async () => {
    await api(t, 'PUT', keysPath('openai'), { token: owner, body: { apiKey: ORG_OPENAI_KEY } });
    expect(await askOpenai()).toBe(`Bearer ${ORG_OPENAI_KEY}`);
    // The Anthropic ciphertext copied into the OpenAI row must not decrypt, because the
    // associated data binds the row id. A second server starts with an empty key cache, so it
    // reads the copied ciphertext.
    await db.query(
      `UPDATE organization_provider_keys o SET encrypted_key = a.encrypted_key
         FROM organization_provider_keys a
        WHERE o.org_id = $1 AND o.provider = 'openai' AND a.org_id = $1 AND a.provider = 'anthropic'`,
      [t.boot.orgId],
    );
    const restarted = await startSecondServer();
    try {
      const client = new OpenAI({
        apiKey: t.boot.apiKey,
        baseURL: `${restarted}/v1`,
        maxRetries: 0,
      });
      const error = await client.chat.completions
        .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] })
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(OpenAI.APIError);
      expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(503);
    } finally {
      await stopSecondServer();
    }
    const deleted = await api(t, 'DELETE', keysPath('openai'), { token: owner });
    expect(deleted.status).toBe(200);
  });

  it('deletes a key and falls back', async () => {
    await api(t, 'PUT', keysPath('openai'), { token: owner, body: { apiKey: ORG_OPENAI_KEY } });
    const response = await api(t, 'DELETE', keysPath('openai'), { token: owner });
    expect(response.status).toBe(200);
    expect(response.body.lastFour).toBe('xxxx');
    expect(await askOpenai()).toBe(`Bearer ${PROVIDER_KEYS.openai}`);
    const again = await api(t, 'DELETE', keysPath('openai'), { token: owner });
    expectAdminError(again, 404, 'not_found');
  });

  it('validates the body strictly', async () => {
    const cases: unknown[] = [
      {},
      { apiKey: 'short' },
      { apiKey: 'x'.repeat(513) },
      { apiKey: 'has space inside key' },
      { apiKey: ORG_ANTHROPIC_KEY, extra: true },
      { apiKey: 12345678 },
    ];
    for (const body of cases) {
      const response = await api(t, 'PUT', keysPath('anthropic'), { token: owner, body });
      expectAdminError(response, 400, 'validation_failed');
      expect(JSON.stringify(response.body)).not.toContain(ORG_ANTHROPIC_KEY);
    }
  });

  it('rejects an unknown provider with 404', async () => {
    const response = await api(t, 'PUT', keysPath('mistral'), {
      token: owner,
      body: { apiKey: ORG_ANTHROPIC_KEY },
    });
    expectAdminError(response, 404, 'not_found');
  });

  it('rejects requests without a session', async () => {
    const response = await api(t, 'GET', keysPath());
    expectAdminError(response, 401, 'unauthorized');
  });

  it('hides the org from outsiders', async () => {
    const foreign = await insertForeignOrganization(
      dbQueryable(),
      'globex-owner@example.com',
      MEMBER_PASSWORD,
    );
    await insertMember(
      dbQueryable(),
      foreign.orgId,
      'member',
      'outsider@example.com',
      MEMBER_PASSWORD,
    );
    const token = await sessionWithMfa('outsider@example.com', MEMBER_PASSWORD);
    const list = await api(t, 'GET', keysPath(), { token });
    expectAdminError(list, 404, 'not_found');
    const put = await api(t, 'PUT', keysPath('anthropic'), {
      token,
      body: { apiKey: ORG_ANTHROPIC_KEY },
    });
    expectAdminError(put, 404, 'not_found');
  });

  it('applies role permissions', async () => {
    await insertMember(
      dbQueryable(),
      t.boot.orgId,
      'member',
      'member@example.com',
      MEMBER_PASSWORD,
    );
    await insertMember(
      dbQueryable(),
      t.boot.orgId,
      'security_admin',
      'secadmin@example.com',
      MEMBER_PASSWORD,
    );
    const member = await sessionWithMfa('member@example.com', MEMBER_PASSWORD);
    expectAdminError(await api(t, 'GET', keysPath(), { token: member }), 403, 'forbidden');

    const securityAdmin = await sessionWithMfa('secadmin@example.com', MEMBER_PASSWORD);
    expect((await api(t, 'GET', keysPath(), { token: securityAdmin })).status).toBe(200);
    const put = await api(t, 'PUT', keysPath('anthropic'), {
      token: securityAdmin,
      body: { apiKey: ORG_ANTHROPIC_KEY },
    });
    expectAdminError(put, 403, 'forbidden');
    const remove = await api(t, 'DELETE', keysPath('anthropic'), { token: securityAdmin });
    expectAdminError(remove, 403, 'forbidden');
  });

  it('audits changes with the last four', async () => {
    const result = await db.query<{ action: string; new_values: unknown; old_values: unknown }>(
      `SELECT action, new_values, old_values FROM audit_logs
        WHERE action LIKE 'provider_key.%' ORDER BY seq`,
    );
    const actions = result.rows.map((row) => row.action);
    expect(actions).toContain('provider_key.created');
    expect(actions).toContain('provider_key.updated');
    expect(actions).toContain('provider_key.deleted');
    const updated = result.rows.find((row) => row.action === 'provider_key.updated');
    expect(updated?.old_values).toEqual({ provider: 'anthropic', lastFour: 'zzzz' });
    expect(updated?.new_values).toEqual({ provider: 'anthropic', lastFour: 'yyyy' });
  });

  it('logs key usage for the organization', async () => {
    const result = await db.query<{ operation: string; actor: string }>(
      `SELECT operation, actor FROM key_usage_log WHERE tenant = $1 ORDER BY id`,
      [t.boot.orgId],
    );
    const operations = result.rows.map((row) => row.operation);
    expect(operations).toContain('generate');
    expect(operations).toContain('wrap');
  });

  it('keeps plaintext keys out of the database', async () => {
    const dump = await databaseDump();
    expect(dump).toContain('provider_key.created');
    for (const secret of [ORG_ANTHROPIC_KEY, ORG_ANTHROPIC_KEY_2, ORG_OPENAI_KEY]) {
      expect(dump).not.toContain(secret);
    }
  });

  it('keeps plaintext keys out of the logs', async () => {
    const logs = t.logLines.join('\n');
    expect(logs).toContain('/provider-keys');
    for (const secret of [ORG_ANTHROPIC_KEY, ORG_ANTHROPIC_KEY_2, ORG_OPENAI_KEY]) {
      expect(logs).not.toContain(secret);
    }
  });
});

function dbQueryable() {
  return {
    async query<R>(text: string, params?: unknown[]) {
      const result = await db.query(text, params);
      return { rows: result.rows as R[], rowCount: result.rowCount ?? 0 };
    },
  };
}

let second: RunningServer | undefined;

/** Starts another server on the same database and key folder, with an empty key cache. */
async function startSecondServer(): Promise<string> {
  second = await startServer({ ...t.config }, createLogger('silent'));
  return second.url;
}

async function stopSecondServer(): Promise<void> {
  await second?.stop();
  second = undefined;
}
