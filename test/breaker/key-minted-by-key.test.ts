import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { api, detailFields, expectAdminError, ownerSession } from '../admin/admin-api.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

describe('keys minted by an admin key', () => {
  let t: TestServer;
  let owner: string;
  let keysPath: string;
  let parent: { id: string; key: string; expiresAt: string };

  const asKey = (method: string, path: string, body: unknown) =>
    api(t, method, path, { headers: { 'x-api-key': parent.key }, body });

  beforeAll(async () => {
    t = await startTestServer();
    owner = await ownerSession(t);
    keysPath = `/api/v1/organizations/${t.boot.orgId}/projects/${t.boot.projectId}/api-keys`;
    const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
    const created = await api(t, 'POST', keysPath, {
      token: owner,
      body: { name: 'automation', scopes: ['admin'], expiresAt },
    });
    expect(created.status).toBe(201);
    parent = { id: created.body.id as string, key: created.body.key as string, expiresAt };
  }, 60_000);

  afterAll(async () => {
    await t?.stop();
  });

  it('gets no scope the key lacks', async () => {
    const child = await asKey('POST', keysPath, {
      name: 'child',
      scopes: ['gateway'],
      expiresAt: parent.expiresAt,
    });
    expectAdminError(child, 403, 'forbidden');
  });

  it('expires no later than the key', async () => {
    const lasting = await asKey('POST', keysPath, { name: 'child', scopes: ['admin'] });
    expectAdminError(lasting, 400, 'validation_failed');
    expect(detailFields(lasting)).toEqual(['expiresAt']);
    const later = new Date(Date.parse(parent.expiresAt) + 60_000).toISOString();
    const longer = await asKey('POST', keysPath, {
      name: 'child',
      scopes: ['admin'],
      expiresAt: later,
    });
    expectAdminError(longer, 400, 'validation_failed');
  });

  it('rotation cannot extend the key', async () => {
    const rotated = await asKey('POST', `${keysPath}/${parent.id}/rotate`, {
      expiresAt: '2099-01-01T00:00:00Z',
    });
    expectAdminError(rotated, 400, 'validation_failed');
  });

  it('rotation cannot take a gateway key', async () => {
    const rotated = await asKey('POST', `${keysPath}/${t.boot.apiKeyId}/rotate`, {
      expiresAt: parent.expiresAt,
    });
    expectAdminError(rotated, 403, 'forbidden');
  });

  // NOTE: keys record their creator but not the key that minted them, so a minted key lives
  // on after the minting key is revoked, until the expiry it inherited.
  it.todo('revoking the minting key revokes the keys it minted');

  it('mints within its own bounds', async () => {
    const child = await asKey('POST', keysPath, {
      name: 'child',
      scopes: ['admin'],
      expiresAt: parent.expiresAt,
    });
    expect(child.status).toBe(201);
  });
});
