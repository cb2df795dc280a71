import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { api, auditRows, insertMember, login, ownerSession } from '../../admin/admin-api.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';

const PASSWORD = 'Session-Passw0rd!';

let t: TestServer;
let ownerToken: string;
let orgPath: string;

beforeAll(async () => {
  t = await startTestServer();
  ownerToken = await ownerSession(t);
  orgPath = `/api/v1/organizations/${t.boot.orgId}`;
}, 60_000);

afterAll(async () => {
  await t.stop();
});

const me = (token: string) => api(t, 'GET', '/api/v1/auth/me', { token });

describe('role change', () => {
  it('revokes the member sessions', async () => {
    const id = await insertMember(t.owner, t.boot.orgId, 'viewer', 'promoted@acme.test', PASSWORD);
    const before = await login(t, 'promoted@acme.test', PASSWORD);
    expect((await me(before)).status).toBe(200);

    const change = await api(t, 'PATCH', `${orgPath}/members/${id}`, {
      token: ownerToken,
      body: { role: 'auditor' },
    });
    expect(change.status).toBe(200);

    expect((await me(before)).status).toBe(401);
    const after = await login(t, 'promoted@acme.test', PASSWORD);
    expect(after).not.toBe(before);
    expect((await me(after)).status).toBe(200);

    const [entry] = (await auditRows(t.owner, 'member.role_change')).filter(
      (row) => row.resource_id === id,
    );
    expect(entry?.metadata).toEqual({ sessionsRevoked: 1 });
  });

  it('keeps the sessions of other members', async () => {
    const id = await insertMember(t.owner, t.boot.orgId, 'viewer', 'bystander@acme.test', PASSWORD);
    const other = await insertMember(
      t.owner,
      t.boot.orgId,
      'viewer',
      'changed@acme.test',
      PASSWORD,
    );
    const bystander = await login(t, 'bystander@acme.test', PASSWORD);
    const change = await api(t, 'PATCH', `${orgPath}/members/${other}`, {
      token: ownerToken,
      body: { role: 'member' },
    });
    expect(change.status).toBe(200);
    expect((await me(bystander)).status).toBe(200);
    expect((await me(ownerToken)).status).toBe(200);
    expect(id).not.toBe(other);
  });
});
