import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { personalDataSealer } from '../../../src/data/personal-data/personal-data-sealer.js';
import { api, ownerSession } from '../../admin/admin-api.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer({ embedded: true });
}, 120_000);

afterAll(async () => {
  await t?.stop();
});

describe('subject keys on embedded PostgreSQL', () => {
  it('wraps and unwraps inside open transactions', async () => {
    // Creating the owner's subject key wraps it inside the sign-in's transaction.
    const token = await ownerSession(t);
    // With the cache empty, the failed sign-in's audit entry unwraps its subject key inside the
    // request's transaction. A key store read there would wait forever on embedded PostgreSQL.
    personalDataSealer.clearCache();
    const again = await api(t, 'POST', '/api/v1/auth/login', {
      body: { email: t.boot.adminEmail, password: 'wrong password for the audit entry' },
    });
    expect(again.status).toBe(401);
    personalDataSealer.clearCache();
    const listed = await api(t, 'GET', `/api/v1/organizations/${t.boot.orgId}/audit`, { token });
    expect(listed.status).toBe(200);
    // Bootstrap sealed this email under a key stored unwrapped, which the start wrapped.
    const entries = listed.body.data as { action: string; newValues: { email?: string } | null }[];
    const created = entries.find((entry) => entry.action === 'user.create');
    expect(created?.newValues?.email).toBe(t.boot.adminEmail);
  });
});
