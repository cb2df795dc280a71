import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer } from '../support/test-server.js';
import { api, auditRows, detailFields, expectAdminError, ownerSession } from './admin-api.js';

let t: TestServer;
let token: string;

beforeAll(async () => {
  t = await startTestServer();
  token = await ownerSession(t);
});

afterAll(async () => {
  await t.stop();
});

const keysPath = (projectId = t.boot.projectId) =>
  `/api/v1/organizations/${t.boot.orgId}/projects/${projectId}/api-keys`;

/** Sends one Anthropic Messages call with `key` and returns the HTTP status. */
async function gatewayStatus(key: string): Promise<number> {
  const response = await fetch(`${t.url}/v1/messages`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-api-key': key,
      'anthropic-version': '2023-06-01',
    },
    body: JSON.stringify({
      model: 'claude-sonnet-4-5',
      max_tokens: 5,
      messages: [{ role: 'user', content: 'hi' }],
    }),
  });
  await response.arrayBuffer();
  return response.status;
}

/** Polls until the gateway returns `status` for `key`, and returns the milliseconds it took. */
async function waitForGatewayStatus(key: string, status: number, limitMs: number) {
  const started = Date.now();
  while (Date.now() - started < limitMs) {
    if ((await gatewayStatus(key)) === status) return Date.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`gateway did not return ${status} within ${limitMs} ms`);
}

async function createKey(body: unknown, projectId?: string) {
  return api(t, 'POST', keysPath(projectId), { token, body });
}

describe('API keys', () => {
  let keyId: string;
  let secret: string;

  it('create shows the key once', async () => {
    const response = await createKey({ name: 'ci' });
    expect(response.status).toBe(201);
    expect(response.headers.get('cache-control')).toBe('no-store');
    secret = response.body.key as string;
    keyId = response.body.id as string;
    expect(secret).toMatch(/^mw_live_[A-Za-z0-9_-]{43}$/);
    expect(response.body.maskedKey).toBe(`mw_live_…${secret.slice(-4)}`);
    expect(response.body.status).toBe('active');
    expect(await gatewayStatus(secret)).toBe(200);
  });

  it('list shows only the masked key', async () => {
    const response = await api(t, 'GET', keysPath(), { token });
    expect(response.status).toBe(200);
    const text = JSON.stringify(response.body);
    expect(text).not.toContain(secret);
    expect(text).not.toContain(t.boot.apiKey);
    const listed = (response.body.data as Record<string, unknown>[]).find(
      (key) => key.id === keyId,
    );
    expect(listed).toBeDefined();
    expect(listed?.key).toBeUndefined();
    expect(listed?.maskedKey).toBe(`mw_live_…${secret.slice(-4)}`);
  });

  it('create audits only the masked key', async () => {
    const rows = await auditRows(t.owner, 'api_key.created');
    const row = rows.find((entry) => entry.resource_id === keyId);
    expect(row?.project_id).toBe(t.boot.projectId);
    expect(row?.actor_id).toBe(t.boot.adminUserId);
    expect(JSON.stringify(rows)).not.toContain(secret);
  });

  it('invalid names and expiry give field details', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{}, 'name'],
      [{ name: '' }, 'name'],
      [{ name: 'x'.repeat(101) }, 'name'],
      [{ name: 'nul\u0000byte' }, 'name'],
      [{ name: 'ok', expiresAt: '2020-01-01T00:00:00Z' }, 'expiresAt'],
      [{ name: 'ok', expiresAt: 'tomorrow' }, 'expiresAt'],
      [{ name: 'ok', expiresAt: 1_900_000_000 }, 'expiresAt'],
    ];
    for (const [body, field] of cases) {
      const response = await createKey(body);
      expectAdminError(response, 400, 'validation_failed');
      expect(detailFields(response)).toContain(field);
    }
    const extra = await createKey({ name: 'ok', projectId: t.boot.projectId });
    expectAdminError(extra, 400, 'validation_failed');
  });

  it('revoked key gets 401 within a second', async () => {
    const response = await api(t, 'DELETE', `${keysPath()}/${keyId}`, { token });
    expect(response.status).toBe(200);
    expect(response.body.status).toBe('revoked');
    const elapsed = await waitForGatewayStatus(secret, 401, 2000);
    expect(elapsed).toBeLessThanOrEqual(1100);
  });

  it('revoke is audited once', async () => {
    const again = await api(t, 'DELETE', `${keysPath()}/${keyId}`, { token });
    expect(again.status).toBe(200);
    const rows = await auditRows(t.owner, 'api_key.revoked');
    expect(rows.map((row) => row.resource_id)).toEqual([keyId]);
  });

  it('unknown key id gives 404', async () => {
    const missing = '00000000-0000-4000-8000-000000000000';
    const response = await api(t, 'DELETE', `${keysPath()}/${missing}`, { token });
    expectAdminError(response, 404, 'not_found');
  });

  it('key of another project is not found', async () => {
    const project = await api(t, 'POST', `/api/v1/organizations/${t.boot.orgId}/projects`, {
      token,
      body: { name: 'Other', slug: 'other' },
    });
    const response = await api(t, 'DELETE', `${keysPath(project.body.id as string)}/${keyId}`, {
      token,
    });
    expectAdminError(response, 404, 'not_found');
  });

  it('expired key is rejected', async () => {
    const soon = new Date(Date.now() + 1500).toISOString();
    const response = await createKey({ name: 'short-lived', expiresAt: soon });
    expect(response.status).toBe(201);
    const key = response.body.key as string;
    expect(await gatewayStatus(key)).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 1600));
    expect(await gatewayStatus(key)).toBe(401);
    const listed = await api(t, 'GET', keysPath(), { token });
    const view = (listed.body.data as { id: string; status: string }[]).find(
      (entry) => entry.id === response.body.id,
    );
    expect(view?.status).toBe('expired');
  });

  it('archived project keys are rejected', async () => {
    const project = await api(t, 'POST', `/api/v1/organizations/${t.boot.orgId}/projects`, {
      token,
      body: { name: 'Doomed', slug: 'doomed', settings: { allowedModels: ['claude-sonnet-4-5'] } },
    });
    const projectId = project.body.id as string;
    const created = await createKey({ name: 'doomed' }, projectId);
    const key = created.body.key as string;
    expect(await gatewayStatus(key)).toBe(200);

    const archive = await api(
      t,
      'DELETE',
      `/api/v1/organizations/${t.boot.orgId}/projects/${projectId}`,
      {
        token,
      },
    );
    expect(archive.status).toBe(200);
    await waitForGatewayStatus(key, 401, 2000);

    const rejected = await createKey({ name: 'late' }, projectId);
    expectAdminError(rejected, 409, 'conflict');
  });

  it('disabled organization keys get 403', async () => {
    expect(await gatewayStatus(t.boot.apiKey)).toBe(200);
    const statusPath = `/api/v1/organizations/${t.boot.orgId}/status`;
    const disable = await api(t, 'PUT', statusPath, { token, body: { status: 'disabled' } });
    expect(disable.status).toBe(200);
    try {
      await waitForGatewayStatus(t.boot.apiKey, 403, 2000);
      const listed = await api(t, 'GET', keysPath(), { token });
      expectAdminError(listed, 403, 'organization_disabled');
    } finally {
      const enable = await api(t, 'PUT', statusPath, { token, body: { status: 'active' } });
      expect(enable.status).toBe(200);
    }
    await waitForGatewayStatus(t.boot.apiKey, 200, 2000);
    const audit = await auditRows(t.owner, 'organization.disable');
    expect(audit.map((row) => row.resource_id)).toEqual([t.boot.orgId]);
  });

  it('gateway error body hides the reason', async () => {
    const response = await fetch(`${t.url}/v1/models`, { headers: { 'x-api-key': secret } });
    expect(response.status).toBe(401);
    const body = (await response.json()) as { error: { message: string } };
    expect(body.error.message).toBe('Invalid API key');
  });
});
