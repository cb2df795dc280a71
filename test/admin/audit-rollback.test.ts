import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { completeMfaSignIn } from '../support/admin-session.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { api, expectAdminError, login, OWNER_PASSWORD, ownerSession } from './admin-api.js';

// Every admin change whose audit entry this file makes the database reject.
const BLOCKED_ACTIONS = [
  'organization.update',
  'project.create',
  'project.update',
  'project.archive',
  'api_key.created',
  'api_key.revoked',
  'user.password_changed',
  'user.logout',
  'user.login',
];

let t: TestServer;
let token: string;

/** Runs DDL as the database owner; the server itself runs as the application role. */
async function asOwner(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: t.config.DATABASE_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  t = await startTestServer();
  token = await ownerSession(t);
  // NOT VALID keeps the rows bootstrap wrote; every new row must pass the check.
  const list = BLOCKED_ACTIONS.map((action) => `'${action}'`).join(', ');
  await asOwner(
    `ALTER TABLE audit_logs ADD CONSTRAINT test_reject_admin_audit
       CHECK (action NOT IN (${list})) NOT VALID`,
  );
});

afterAll(async () => {
  await t.stop();
});

const orgPath = () => `/api/v1/organizations/${t.boot.orgId}`;
const projectPath = () => `${orgPath()}/projects/${t.boot.projectId}`;

async function count(sql: string, params: unknown[] = []): Promise<number> {
  const result = await t.owner.query<{ n: number }>(sql, params);
  return result.rows[0]?.n ?? -1;
}

describe('audit insert failure', () => {
  it('organization rename is rolled back', async () => {
    const response = await api(t, 'PATCH', orgPath(), { token, body: { name: 'Renamed' } });
    expectAdminError(response, 500, 'internal_error');
    const org = await api(t, 'GET', orgPath(), { token });
    expect(org.body.name).toBe('Acme');
  });

  it('project create is rolled back', async () => {
    const response = await api(t, 'POST', `${orgPath()}/projects`, {
      token,
      body: { name: 'Ghost', slug: 'ghost' },
    });
    expectAdminError(response, 500, 'internal_error');
    expect(await count(`SELECT count(*)::int AS n FROM projects WHERE slug = 'ghost'`)).toBe(0);
  });

  it('project update and archive are rolled back', async () => {
    const patch = await api(t, 'PATCH', projectPath(), {
      token,
      body: { name: 'Changed', settings: { allowedModels: [] } },
    });
    expectAdminError(patch, 500, 'internal_error');
    const archive = await api(t, 'DELETE', projectPath(), { token });
    expectAdminError(archive, 500, 'internal_error');
    const project = await api(t, 'GET', projectPath(), { token });
    expect(project.body).toMatchObject({
      name: 'demo',
      status: 'active',
      settings: { allowedModels: ['claude-sonnet-4-5', 'gpt-4o-mini'] },
    });
  });

  it('key create is rolled back', async () => {
    const before = await count('SELECT count(*)::int AS n FROM api_keys');
    const response = await api(t, 'POST', `${projectPath()}/api-keys`, {
      token,
      body: { name: 'ghost' },
    });
    expectAdminError(response, 500, 'internal_error');
    expect(JSON.stringify(response.body)).not.toContain('mw_live_');
    expect(await count('SELECT count(*)::int AS n FROM api_keys')).toBe(before);
  });

  it('key revoke is rolled back', async () => {
    const response = await api(t, 'DELETE', `${projectPath()}/api-keys/${t.boot.apiKeyId}`, {
      token,
    });
    expectAdminError(response, 500, 'internal_error');
    const models = await fetch(`${t.url}/v1/models`, { headers: { 'x-api-key': t.boot.apiKey } });
    expect(models.status).toBe(200);
    expect(
      await count('SELECT count(*)::int AS n FROM api_keys WHERE revoked_at IS NOT NULL'),
    ).toBe(0);
  });

  it('password change is rolled back', async () => {
    const passwordHash = async () => {
      const result = await t.server.db.query<{ password_hash: string }>(
        'SELECT password_hash FROM users WHERE id = $1',
        [t.boot.adminUserId],
      );
      return result.rows[0]?.password_hash;
    };
    const before = await passwordHash();
    const response = await api(t, 'POST', '/api/v1/auth/password', {
      token,
      body: { currentPassword: OWNER_PASSWORD, newPassword: 'Another-Passw0rd!' },
    });
    expectAdminError(response, 500, 'internal_error');
    expect(await passwordHash()).toBe(before);
    const me = await api(t, 'GET', '/api/v1/auth/me', { token });
    expect(me.status).toBe(200);
  });

  it('logout is rolled back', async () => {
    const response = await api(t, 'POST', '/api/v1/auth/logout', { token });
    expectAdminError(response, 500, 'internal_error');
    const me = await api(t, 'GET', '/api/v1/auth/me', { token });
    expect(me.status).toBe(200);
  });

  it('sign-in opens no session', async () => {
    const before = await count('SELECT count(*)::int AS n FROM admin_sessions');
    const password = await api(t, 'POST', '/api/v1/auth/login', {
      body: { email: t.boot.adminEmail, password: OWNER_PASSWORD },
    });
    // The owner uses TOTP, so the session would open at the MFA step.
    expect(password.body.mfaRequired).toBe(true);
    const challenge = await completeMfaSignIn(
      t,
      t.boot.adminEmail,
      password.body.challengeToken as string,
    );
    expect(challenge.status).toBe(500);
    const body = (await challenge.json()) as Record<string, unknown>;
    expect(body.code).toBe('internal_error');
    expect(body.token).toBeUndefined();
    expect(await count('SELECT count(*)::int AS n FROM admin_sessions')).toBe(before);
  });

  it('server keeps serving after the failures', async () => {
    await asOwner('ALTER TABLE audit_logs DROP CONSTRAINT test_reject_admin_audit');
    const fresh = await login(t, t.boot.adminEmail, OWNER_PASSWORD);
    const response = await api(t, 'POST', `${orgPath()}/projects`, {
      token: fresh,
      body: { name: 'Ghost', slug: 'ghost' },
    });
    expect(response.status).toBe(201);
  });

  it('audit chain stays gap-free', async () => {
    const chain = await t.owner.query<{ entries: number; last: number; next: number }>(
      `SELECT count(*)::int AS entries, max(seq)::int AS last,
              (SELECT next_seq::int FROM audit_log_heads WHERE log_id = 'main') AS next
         FROM audit_logs WHERE log_id = 'main'`,
    );
    const row = chain.rows[0];
    expect(row?.entries).toBe(row?.last);
    expect(row?.next).toBe((row?.last ?? 0) + 1);
  });
});
