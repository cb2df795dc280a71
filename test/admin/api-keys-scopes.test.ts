import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer } from '../support/test-server.js';
import {
  api,
  auditRows,
  detailFields,
  expectAdminError,
  insertMember,
  login,
  ownerSession,
} from './admin-api.js';

const PASSWORD = 'Scoped-Passw0rd!';

let t: TestServer;
let token: string;
const secrets: string[] = [];

beforeAll(async () => {
  t = await startTestServer();
  token = await ownerSession(t);
}, 60_000);

afterAll(async () => {
  await t.stop();
});

const orgPath = () => `/api/v1/organizations/${t.boot.orgId}`;
const keysPath = () => `${orgPath()}/projects/${t.boot.projectId}/api-keys`;

/** Creates a key with `body` as the holder of `creatorToken` and returns its secret. */
async function mint(creatorToken: string, body: Record<string, unknown>): Promise<string> {
  const response = await api(t, 'POST', keysPath(), { token: creatorToken, body });
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  const secret = response.body.key as string;
  secrets.push(secret);
  return secret;
}

const withKey = (key: string) => ({ headers: { 'x-api-key': key } });

async function gatewayStatus(key: string, maxTokens = 5): Promise<number> {
  const response = await fetch(`${t.url}/v1/messages`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-api-key': key,
      'anthropic-version': '2023-06-01',
    },
    body: JSON.stringify({
      model: 'claude-sonnet-4-5',
      max_tokens: maxTokens,
      messages: [{ role: 'user', content: 'hi' }],
    }),
  });
  await response.arrayBuffer();
  return response.status;
}

describe('admin scopes', () => {
  it('admin key changes the organization', async () => {
    const key = await mint(token, { name: 'automation', scopes: ['admin'] });
    const created = await api(t, 'POST', `${orgPath()}/projects`, {
      ...withKey(key),
      body: { name: 'By Key', slug: 'by-key' },
    });
    expect(created.status).toBe(201);
    const rows = await auditRows(t.owner, 'project.create');
    const row = rows.find((entry) => entry.resource_id === created.body.id);
    expect(row?.actor_type).toBe('api_key');
  });

  it('bearer admin key works', async () => {
    const key = await mint(token, { name: 'bearer', scopes: ['admin_read'] });
    const response = await api(t, 'GET', `${orgPath()}/projects`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(response.status).toBe(200);
  });

  it('admin_read key only reads', async () => {
    const key = await mint(token, { name: 'reader', scopes: ['admin_read'] });
    expect((await api(t, 'GET', keysPath(), withKey(key))).status).toBe(200);
    const write = await api(t, 'POST', `${orgPath()}/projects`, {
      ...withKey(key),
      body: { name: 'Nope', slug: 'nope' },
    });
    expectAdminError(write, 403, 'forbidden');
    expect(write.body.error).toBe('This API key does not grant project.create');
  });

  it('admin key cannot disable the organization', async () => {
    const key = await mint(token, { name: 'no-disable', scopes: ['admin'] });
    const response = await api(t, 'PUT', `${orgPath()}/status`, {
      ...withKey(key),
      body: { status: 'disabled' },
    });
    expectAdminError(response, 403, 'forbidden');
  });

  it('admin-only key cannot call the gateway', async () => {
    const key = await mint(token, { name: 'admin-only', scopes: ['admin'] });
    expect(await gatewayStatus(key)).toBe(403);
    const both = await mint(token, { name: 'both', scopes: ['gateway', 'admin_read'] });
    expect(await gatewayStatus(both)).toBe(200);
  });

  it('key follows its creator', async () => {
    const adminId = await insertMember(t.owner, t.boot.orgId, 'admin', 'ops@acme.test', PASSWORD);
    const adminToken = await login(t, 'ops@acme.test', PASSWORD);
    const key = await mint(adminToken, { name: 'ops', scopes: ['admin'] });
    const create = (slug: string) =>
      api(t, 'POST', `${orgPath()}/projects`, { ...withKey(key), body: { name: slug, slug } });
    expect((await create('ops-one')).status).toBe(201);

    const demote = await api(t, 'PATCH', `${orgPath()}/members/${adminId}`, {
      token,
      body: { role: 'viewer' },
    });
    expect(demote.status).toBe(200);
    expectAdminError(await create('ops-two'), 403, 'forbidden');
    expect((await api(t, 'GET', `${orgPath()}/projects`, withKey(key))).status).toBe(200);

    const remove = await api(t, 'DELETE', `${orgPath()}/members/${adminId}`, { token });
    expect(remove.status).toBe(204);
    const read = await api(t, 'GET', `${orgPath()}/projects`, withKey(key));
    expectAdminError(read, 403, 'forbidden');
  });

  it('scopes are validated', async () => {
    const cases: [unknown, string][] = [
      [['root'], 'scopes.0'],
      [[], 'scopes'],
      [['gateway', 'gateway'], 'scopes'],
      ['admin', 'scopes'],
    ];
    for (const [scopes, field] of cases) {
      const response = await api(t, 'POST', keysPath(), { token, body: { name: 'x', scopes } });
      expectAdminError(response, 400, 'validation_failed');
      expect(detailFields(response)).toContain(field);
    }
  });
});

describe('per-key limits', () => {
  it('request limit applies', async () => {
    const key = await mint(token, { name: 'two-calls', requestLimit: 2 });
    expect(await gatewayStatus(key)).toBe(200);
    expect(await gatewayStatus(key)).toBe(200);
    expect(await gatewayStatus(key)).toBe(429);
  });

  it('token limit applies', async () => {
    const key = await mint(token, { name: 'few-tokens', tokenLimit: 3 });
    expect(await gatewayStatus(key, 5)).toBe(429);
  });

  it('limits are shown and validated', async () => {
    const listed = await api(t, 'GET', keysPath(), { token });
    const limited = (listed.body.data as { name: string; requestLimit: number | null }[]).find(
      (key) => key.name === 'two-calls',
    );
    expect(limited?.requestLimit).toBe(2);
    for (const requestLimit of [0, -1, 1.5, '10']) {
      const response = await api(t, 'POST', keysPath(), {
        token,
        body: { name: 'bad', requestLimit },
      });
      expectAdminError(response, 400, 'validation_failed');
      expect(detailFields(response)).toEqual(['requestLimit']);
    }
  });
});

describe('masking', () => {
  it('secrets stay out of logs and audit', async () => {
    expect(secrets.length).toBeGreaterThan(5);
    const logs = t.logLines.join('\n');
    const audit = await t.owner.query<{ entry: string }>(
      'SELECT row_to_json(a)::text AS entry FROM audit_logs a',
    );
    const stored = audit.rows.map((row) => row.entry).join('\n');
    for (const secret of secrets) {
      expect(logs).not.toContain(secret);
      expect(stored).not.toContain(secret);
      expect(stored).toContain(`mw_live_…${secret.slice(-4)}`);
    }
  });
});
