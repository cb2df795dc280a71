import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { MAX_ROTATION_OVERLAP_SECONDS } from '../../src/tenancy/api-keys/api-key.schema.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { api, auditRows, detailFields, expectAdminError, ownerSession } from './admin-api.js';

let t: TestServer;
let token: string;

beforeAll(async () => {
  t = await startTestServer();
  token = await ownerSession(t);
}, 60_000);

afterAll(async () => {
  await t.stop();
});

const keysPath = () =>
  `/api/v1/organizations/${t.boot.orgId}/projects/${t.boot.projectId}/api-keys`;

async function createKey(body: Record<string, unknown>) {
  const response = await api(t, 'POST', keysPath(), { token, body });
  expect(response.status).toBe(201);
  return { id: response.body.id as string, secret: response.body.key as string };
}

const rotate = (keyId: string, body: unknown = {}) =>
  api(t, 'POST', `${keysPath()}/${keyId}/rotate`, { token, body });

async function modelsStatus(key: string): Promise<number> {
  const response = await fetch(`${t.url}/v1/models`, { headers: { 'x-api-key': key } });
  await response.arrayBuffer();
  return response.status;
}

/** Polls until `GET /v1/models` with `key` returns `status`; fails after two seconds. */
async function waitForStatus(key: string, status: number): Promise<void> {
  for (let attempt = 0; attempt < 40; attempt++) {
    if ((await modelsStatus(key)) === status) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`gateway did not return ${status}`);
}

describe('rotation', () => {
  it('returns the new key once', async () => {
    const old = await createKey({ name: 'rotating', requestLimit: 50, scopes: ['gateway'] });
    const started = Date.now();
    const response = await rotate(old.id, { overlapSeconds: 600 });
    expect(response.status).toBe(201);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const secret = response.body.key as string;
    expect(secret).toMatch(/^mw_live_[A-Za-z0-9_-]{43}$/);
    expect(secret).not.toBe(old.secret);
    expect(response.body.name).toBe('rotating');
    expect(response.body.scopes).toEqual(['gateway']);
    expect(response.body.requestLimit).toBe(50);

    const previous = response.body.previous as Record<string, unknown>;
    expect(previous.id).toBe(old.id);
    expect(previous.replacedBy).toBe(response.body.id);
    const endsAt = Date.parse(previous.expiresAt as string);
    expect(endsAt).toBeGreaterThanOrEqual(started + 600_000 - 1000);
    expect(endsAt).toBeLessThanOrEqual(Date.now() + 600_000);

    const listed = await api(t, 'GET', keysPath(), { token });
    expect(JSON.stringify(listed.body)).not.toContain(secret);
  });

  it('old key works during the overlap', async () => {
    const old = await createKey({ name: 'overlap' });
    const response = await rotate(old.id, { overlapSeconds: 3600 });
    expect(await modelsStatus(old.secret)).toBe(200);
    expect(await modelsStatus(response.body.key as string)).toBe(200);
  });

  it('zero overlap ends the old key', async () => {
    const old = await createKey({ name: 'immediate' });
    expect(await modelsStatus(old.secret)).toBe(200);
    const response = await rotate(old.id, { overlapSeconds: 0 });
    expect(response.status).toBe(201);
    await waitForStatus(old.secret, 401);
    expect(await modelsStatus(response.body.key as string)).toBe(200);
  });

  it('rotated or revoked key cannot rotate', async () => {
    const old = await createKey({ name: 'once' });
    expect((await rotate(old.id)).status).toBe(201);
    expectAdminError(await rotate(old.id), 409, 'conflict');

    const revoked = await createKey({ name: 'revoked' });
    await api(t, 'DELETE', `${keysPath()}/${revoked.id}`, { token });
    expectAdminError(await rotate(revoked.id), 409, 'conflict');
  });

  it('overlap is bounded', async () => {
    const key = await createKey({ name: 'bounded' });
    for (const overlapSeconds of [-1, MAX_ROTATION_OVERLAP_SECONDS + 1, 1.5, '60']) {
      const response = await rotate(key.id, { overlapSeconds });
      expectAdminError(response, 400, 'validation_failed');
      expect(detailFields(response)).toEqual(['overlapSeconds']);
    }
  });

  it('unknown key gives 404', async () => {
    const response = await rotate('00000000-0000-4000-8000-000000000000');
    expectAdminError(response, 404, 'not_found');
  });

  it('audit shows masked keys only', async () => {
    const old = await createKey({ name: 'audited' });
    const response = await rotate(old.id, { overlapSeconds: 60 });
    const rows = await auditRows(t.owner, 'api_key.rotated');
    const row = rows.find((entry) => entry.resource_id === old.id);
    expect(row).toBeDefined();
    const text = JSON.stringify(row);
    expect(text).not.toContain(old.secret);
    expect(text).not.toContain(response.body.key as string);
    expect(text).toContain(`mw_live_…${(response.body.key as string).slice(-4)}`);
  });
});
