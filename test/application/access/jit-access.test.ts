import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { inTenant } from '../../../src/data/database/tenant-scope.js';
import { api, expectAdminError, ownerSession } from '../../admin/admin-api.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';
import {
  approvedGrant,
  auditEntries,
  createProject,
  eventually,
  setGrantExpiry,
  signedInMember,
  type Member,
} from './access-fixture.js';

describe('just-in-time access', () => {
  let t: TestServer;
  let base: string;
  let admin: Member;
  let securityAdmin: Member;

  beforeAll(async () => {
    t = await startTestServer({
      env: { ACCESS_SWEEP_INTERVAL_MS: '200', JIT_MAX_DURATION_HOURS: '2' },
    });
    base = `/api/v1/organizations/${t.boot.orgId}/access-requests`;
    await ownerSession(t);
    admin = await signedInMember(t, 'admin');
    securityAdmin = await signedInMember(t, 'security_admin');
  }, 60_000);

  afterAll(async () => {
    await t?.stop();
  });

  it('approved grant raises the role at once', async () => {
    const member = await signedInMember(t, 'member');
    expectAdminError(await createProject(t, member), 403, 'forbidden');
    const grantId = await approvedGrant(t, member, admin);

    const created = await createProject(t, member);
    expect(created.status).toBe(201);
    const uses = await auditEntries(t.server.db, t.boot.orgId, 'access.jit_used');
    const use = uses.find((entry) => entry.request_id === created.headers.get('x-request-id'));
    expect(use?.resource_id).toBe(grantId);
    expect(use?.actor_id).toBe(member.id);
    expect(use?.metadata?.permission).toBe('project.create');
  });

  it('requests and approvals are audited', async () => {
    const member = await signedInMember(t, 'member');
    const grantId = await approvedGrant(t, member, admin);
    const requested = await auditEntries(t.server.db, t.boot.orgId, 'access.jit_requested');
    const approved = await auditEntries(t.server.db, t.boot.orgId, 'access.jit_approved');
    expect(requested.some((e) => e.resource_id === grantId && e.actor_id === member.id)).toBe(true);
    expect(approved.some((e) => e.resource_id === grantId && e.actor_id === admin.id)).toBe(true);
  });

  it('approval by the requester is rejected', async () => {
    const created = await api(t, 'POST', base, {
      token: securityAdmin.token,
      body: { role: 'admin', reason: 'Investigate the key leak', durationMinutes: 30 },
    });
    expect(created.status).toBe(201);
    const grantId = created.body.id as string;
    const own = await api(t, 'POST', `${base}/${grantId}/approve`, {
      token: securityAdmin.token,
    });
    expectAdminError(own, 403, 'self_approval_forbidden');

    const list = await api(t, 'GET', base, { token: securityAdmin.token });
    const row = (list.body.data as { id: string; state: string }[]).find((g) => g.id === grantId);
    expect(row?.state).toBe('pending');
    const cancel = await api(t, 'POST', `${base}/${grantId}/cancel`, {
      token: securityAdmin.token,
    });
    expect(cancel.status).toBe(200);
    expect(cancel.body.state).toBe('cancelled');
  });

  it('approver below the requested role is rejected', async () => {
    const member = await signedInMember(t, 'member');
    const created = await api(t, 'POST', base, {
      token: member.token,
      body: { role: 'admin', reason: 'Rotate the leaked provider key', durationMinutes: 30 },
    });
    const denied = await api(t, 'POST', `${base}/${created.body.id as string}/approve`, {
      token: securityAdmin.token,
    });
    expectAdminError(denied, 403, 'forbidden');
    const byMember = await signedInMember(t, 'member');
    const memberTry = await api(t, 'POST', `${base}/${created.body.id as string}/approve`, {
      token: byMember.token,
    });
    expectAdminError(memberTry, 403, 'forbidden');
  });

  it('denied request grants nothing', async () => {
    const member = await signedInMember(t, 'member');
    const created = await api(t, 'POST', base, {
      token: member.token,
      body: { role: 'admin', reason: 'Rotate the leaked provider key', durationMinutes: 30 },
    });
    const denied = await api(t, 'POST', `${base}/${created.body.id as string}/deny`, {
      token: admin.token,
      body: { note: 'Not during the freeze' },
    });
    expect(denied.status).toBe(200);
    expect(denied.body.state).toBe('denied');
    expectAdminError(await createProject(t, member), 403, 'forbidden');
    const again = await api(t, 'POST', `${base}/${created.body.id as string}/approve`, {
      token: admin.token,
    });
    expectAdminError(again, 409, 'conflict');
  });

  it('rejects invalid requests', async () => {
    const member = await signedInMember(t, 'member');
    const cases: [unknown, string][] = [
      [{ role: 'admin', reason: 'Long enough reason', durationMinutes: 121 }, 'durationMinutes'],
      [{ role: 'admin', reason: 'Long enough reason', durationMinutes: 0 }, 'durationMinutes'],
      [{ role: 'owner', reason: 'Long enough reason', durationMinutes: 10 }, 'role'],
      [{ role: 'member', reason: 'Long enough reason', durationMinutes: 10 }, 'role'],
      [{ role: 'admin', reason: 'short', durationMinutes: 10 }, 'reason'],
      [{ role: 'admin', durationMinutes: 10 }, 'reason'],
      [{ role: 'admin', reason: 'Long enough reason', durationMinutes: 10, x: 1 }, 'x'],
    ];
    for (const [body, field] of cases) {
      const response = await api(t, 'POST', base, { token: member.token, body });
      expectAdminError(response, 400, 'validation_failed');
      const fields = (response.body.details as { field: string }[]).map((d) => d.field);
      expect(fields).toContain(field);
    }
  });

  it('one open request per member', async () => {
    const member = await signedInMember(t, 'member');
    const body = { role: 'admin', reason: 'Rotate the leaked provider key', durationMinutes: 30 };
    expect((await api(t, 'POST', base, { token: member.token, body })).status).toBe(201);
    expectAdminError(await api(t, 'POST', base, { token: member.token, body }), 409, 'conflict');
  });

  it('members see only their own requests', async () => {
    const member = await signedInMember(t, 'member');
    await api(t, 'POST', base, {
      token: member.token,
      body: { role: 'auditor', reason: 'Read the audit log for a review', durationMinutes: 30 },
    });
    const own = await api(t, 'GET', base, { token: member.token });
    const all = await api(t, 'GET', base, { token: admin.token });
    const ownRows = own.body.data as { userId: string }[];
    expect(ownRows.length).toBe(1);
    expect(ownRows.every((row) => row.userId === member.id)).toBe(true);
    expect((all.body.data as unknown[]).length).toBeGreaterThan(1);
  });

  it('revocation takes effect at once', async () => {
    const member = await signedInMember(t, 'member');
    const grantId = await approvedGrant(t, member, admin);
    expect((await createProject(t, member)).status).toBe(201);
    const revoked = await api(t, 'POST', `${base}/${grantId}/revoke`, { token: admin.token });
    expect(revoked.status).toBe(200);
    expect(revoked.body.state).toBe('revoked');
    expectAdminError(await createProject(t, member), 403, 'forbidden');
    const entries = await auditEntries(t.server.db, t.boot.orgId, 'access.jit_revoked');
    expect(entries.some((entry) => entry.resource_id === grantId)).toBe(true);
  });

  it('grantee may end their own grant', async () => {
    const member = await signedInMember(t, 'member');
    const grantId = await approvedGrant(t, member, admin, 'auditor');
    const revoked = await api(t, 'POST', `${base}/${grantId}/revoke`, { token: member.token });
    expect(revoked.status).toBe(200);
    const other = await signedInMember(t, 'member');
    const second = await approvedGrant(t, other, admin, 'auditor');
    const byStranger = await api(t, 'POST', `${base}/${second}/revoke`, { token: member.token });
    expectAdminError(byStranger, 403, 'forbidden');
  });

  it('grant expires on time without any request', async () => {
    const member = await signedInMember(t, 'member');
    const grantId = await approvedGrant(t, member, admin);
    expect((await createProject(t, member)).status).toBe(201);
    await setGrantExpiry(t.server.db, t.boot.orgId, grantId, 1);

    // No HTTP request is sent until the sweep has written the expiry to the audit log.
    const entry = await eventually(async () => {
      const entries = await auditEntries(t.server.db, t.boot.orgId, 'access.jit_expired');
      return entries.find((candidate) => candidate.resource_id === grantId);
    });
    expect(entry.actor_type).toBe('system');
    expect(entry.metadata?.userId).toBe(member.id);
    // The sweep never records an expiry before the grant's expiry time.
    const stamped = await inTenant(t.server.db, t.boot.orgId, (tx) =>
      tx.query<{ onTime: boolean }>(
        'SELECT expired_at >= expires_at AS "onTime" FROM access_grants WHERE id = $1',
        [grantId],
      ),
    );
    expect(stamped.rows[0]?.onTime).toBe(true);

    expectAdminError(await createProject(t, member), 403, 'forbidden');
    const list = await api(t, 'GET', base, { token: member.token });
    const row = (list.body.data as { id: string; state: string }[]).find((g) => g.id === grantId);
    expect(row?.state).toBe('expired');
  });
});
