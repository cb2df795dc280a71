import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { api, expectAdminError } from '../admin/admin-api.js';
import { enrollTotpForTest } from '../support/admin-session.js';
import { signedInMember, type Member } from '../application/access/access-fixture.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

describe('just-in-time grant to a role that needs a second factor', () => {
  let t: TestServer;
  let admin: Member;
  let member: Member;
  let orgPath: string;

  beforeAll(async () => {
    t = await startTestServer();
    admin = await signedInMember(t, 'admin');
    member = await signedInMember(t, 'member');
    orgPath = `/api/v1/organizations/${t.boot.orgId}`;
    // Requested and approved directly: `approvedGrant` would enroll the member first.
    const requests = `${orgPath}/access-requests`;
    const created = await api(t, 'POST', requests, {
      token: member.token,
      body: { role: 'admin', reason: 'Rotate the leaked provider key', durationMinutes: 60 },
    });
    expect(created.status).toBe(201);
    const approved = await api(t, 'POST', `${requests}/${created.body.id as string}/approve`, {
      token: admin.token,
    });
    expect(approved.status).toBe(200);
  }, 60_000);

  afterAll(async () => {
    await t?.stop();
  });

  it('needs the member to enroll first', async () => {
    const members = await api(t, 'GET', `${orgPath}/members`, { token: member.token });
    expectAdminError(members, 403, 'mfa_enrollment_required');
    const created = await api(t, 'POST', `${orgPath}/projects`, {
      token: member.token,
      body: { name: 'Raised', slug: 'raised' },
    });
    expectAdminError(created, 403, 'mfa_enrollment_required');
  });

  it('applies once the member enrolls', async () => {
    const token = await enrollTotpForTest(t, member.token, member.email);
    const members = await api(t, 'GET', `${orgPath}/members`, { token });
    expect(members.status).toBe(200);
  });
});
