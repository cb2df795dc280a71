import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { api, expectAdminError, ownerSession } from '../admin/admin-api.js';
import {
  approvedGrant,
  signedInMember,
  type Member,
} from '../application/access/access-fixture.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

describe('change request approval with a raised role', () => {
  let t: TestServer;
  let owner: string;
  let admin: Member;
  let member: Member;
  let orgPath: string;
  let projectPath: string;

  beforeAll(async () => {
    t = await startTestServer();
    owner = await ownerSession(t);
    admin = await signedInMember(t, 'admin');
    member = await signedInMember(t, 'member');
    orgPath = `/api/v1/organizations/${t.boot.orgId}`;
    projectPath = `${orgPath}/projects/${t.boot.projectId}`;
    const on = await api(t, 'PATCH', orgPath, { token: owner, body: { fourEyes: true } });
    expect(on.status).toBe(200);
  }, 60_000);

  afterAll(async () => {
    await t?.stop();
  });

  it('member raised by the requester cannot approve', async () => {
    const pending = await api(t, 'PATCH', projectPath, {
      token: admin.token,
      body: { settings: { mcpAutoApprove: true } },
    });
    expect(pending.status).toBe(202);
    const requestId = (pending.body.changeRequest as { id: string }).id;

    // The requester approves the member's elevation, and the member approves the change back.
    await approvedGrant(t, member, admin, 'admin');
    const approved = await api(t, 'POST', `${orgPath}/change-requests/${requestId}/approve`, {
      token: member.token,
    });
    expectAdminError(approved, 403, 'forbidden');

    const project = await api(t, 'GET', projectPath, { token: owner });
    expect((project.body.settings as { mcpAutoApprove: unknown }).mcpAutoApprove).toBe(false);

    const byOwner = await api(t, 'POST', `${orgPath}/change-requests/${requestId}/approve`, {
      token: owner,
    });
    expect(byOwner.status).toBe(200);
  });
});

describe('session-only routes with an admin key', () => {
  let t: TestServer;
  let key: string;
  let orgPath: string;
  let projectPath: string;

  beforeAll(async () => {
    t = await startTestServer();
    const owner = await ownerSession(t);
    orgPath = `/api/v1/organizations/${t.boot.orgId}`;
    projectPath = `${orgPath}/projects/${t.boot.projectId}`;
    const created = await api(t, 'POST', `${projectPath}/api-keys`, {
      token: owner,
      body: { name: 'automation', scopes: ['admin'] },
    });
    expect(created.status).toBe(201);
    key = created.body.key as string;
  }, 60_000);

  afterAll(async () => {
    await t?.stop();
  });

  it('answer 403, not an invalid credential', async () => {
    const allowlist = await api(t, 'PUT', `${orgPath}/ip-allowlists/api_key`, {
      headers: { 'x-api-key': key },
      body: { entries: [] },
    });
    expectAdminError(allowlist, 403, 'forbidden');
    const approve = await api(
      t,
      'POST',
      `${projectPath}/tool-calls/00000000-0000-4000-8000-000000000000/approve`,
      { headers: { 'x-api-key': key } },
    );
    expectAdminError(approve, 403, 'forbidden');
  });
});
