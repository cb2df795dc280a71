import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { inTenant } from '../../../src/data/database/tenant-scope.js';
import { api, expectAdminError, ownerSession } from '../../admin/admin-api.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';
import { auditEntries, eventually, signedInMember, type Member } from '../access/access-fixture.js';

describe('four-eyes approval', () => {
  let t: TestServer;
  let owner: string;
  let admin: Member;
  let secondAdmin: Member;
  let orgPath: string;
  let projectPath: string;
  let changes: string;

  const settingsOf = async () => {
    const project = await api(t, 'GET', projectPath, { token: owner });
    return project.body.settings as { allowedModels: string[]; mcpAutoApprove: unknown };
  };

  beforeAll(async () => {
    t = await startTestServer();
    owner = await ownerSession(t);
    admin = await signedInMember(t, 'admin');
    secondAdmin = await signedInMember(t, 'admin');
    orgPath = `/api/v1/organizations/${t.boot.orgId}`;
    projectPath = `${orgPath}/projects/${t.boot.projectId}`;
    changes = `${orgPath}/change-requests`;
  }, 60_000);

  afterAll(async () => {
    await t?.stop();
  });

  it('loosening applies directly while four-eyes is off', async () => {
    const widened = await api(t, 'PATCH', projectPath, {
      token: admin.token,
      body: { settings: { allowedModels: ['claude-sonnet-4-5', 'gpt-4o-mini', 'gpt-4o'] } },
    });
    expect(widened.status).toBe(200);
    expect((await settingsOf()).allowedModels).toContain('gpt-4o');
  });

  it('owner turns four-eyes on', async () => {
    const on = await api(t, 'PATCH', orgPath, { token: owner, body: { fourEyes: true } });
    expect(on.status).toBe(200);
    expect(on.body.fourEyes).toBe(true);
  });

  it('loosening waits for a second admin', async () => {
    const pending = await api(t, 'PATCH', projectPath, {
      token: admin.token,
      body: { settings: { allowedModels: ['claude-sonnet-4-5', 'gpt-4o-mini', 'gpt-4o', 'o3'] } },
    });
    expect(pending.status).toBe(202);
    expect(pending.body.status).toBe('pending_approval');
    const request = pending.body.changeRequest as { id: string; loosening: string[] };
    expect(request.loosening).toEqual(['allowedModels gains o3']);
    expect((await settingsOf()).allowedModels).not.toContain('o3');

    const own = await api(t, 'POST', `${changes}/${request.id}/approve`, { token: admin.token });
    expectAdminError(own, 403, 'self_approval_forbidden');
    expect((await settingsOf()).allowedModels).not.toContain('o3');

    const approved = await api(t, 'POST', `${changes}/${request.id}/approve`, {
      token: secondAdmin.token,
    });
    expect(approved.status).toBe(200);
    expect(approved.body.status).toBe('applied');
    expect(approved.body.decidedBy).toBe(secondAdmin.id);
    expect((await settingsOf()).allowedModels).toContain('o3');

    const updates = await auditEntries(t.server.db, t.boot.orgId, 'project.update');
    const applied = updates.find((entry) => entry.metadata?.changeRequestId === request.id);
    expect(applied?.actor_id).toBe(secondAdmin.id);
    expect(applied?.metadata?.requestedBy).toBe(admin.id);

    const again = await api(t, 'POST', `${changes}/${request.id}/approve`, { token: owner });
    expectAdminError(again, 409, 'conflict');
  });

  it('tightening applies directly', async () => {
    const narrowed = await api(t, 'PATCH', projectPath, {
      token: admin.token,
      body: { settings: { allowedModels: ['claude-sonnet-4-5', 'gpt-4o-mini'] } },
    });
    expect(narrowed.status).toBe(200);
    expect((await settingsOf()).allowedModels).toEqual(['claude-sonnet-4-5', 'gpt-4o-mini']);
    const renamed = await api(t, 'PATCH', projectPath, {
      token: admin.token,
      body: { name: 'Demo renamed' },
    });
    expect(renamed.status).toBe(200);
  });

  it('auto-approve turned on waits', async () => {
    const pending = await api(t, 'PATCH', projectPath, {
      token: admin.token,
      body: { settings: { mcpAutoApprove: true } },
    });
    expect(pending.status).toBe(202);
    const id = (pending.body.changeRequest as { id: string }).id;
    const rejected = await api(t, 'POST', `${changes}/${id}/reject`, {
      token: secondAdmin.token,
      body: { note: 'Tools need review first' },
    });
    expect(rejected.status).toBe(200);
    expect(rejected.body.status).toBe('rejected');
    expect((await settingsOf()).mcpAutoApprove).toBe(false);
  });

  it('stale request is rejected', async () => {
    const pending = await api(t, 'PATCH', projectPath, {
      token: admin.token,
      body: { settings: { allowedModels: ['claude-sonnet-4-5', 'gpt-4o-mini', 'o3'] } },
    });
    expect(pending.status).toBe(202);
    const id = (pending.body.changeRequest as { id: string }).id;
    // A tightening change lands first, so the request no longer describes the project.
    const tightened = await api(t, 'PATCH', projectPath, {
      token: owner,
      body: { settings: { allowedModels: ['claude-sonnet-4-5'] } },
    });
    expect(tightened.status).toBe(200);

    const approve = await api(t, 'POST', `${changes}/${id}/approve`, { token: secondAdmin.token });
    expectAdminError(approve, 409, 'change_request_stale');
    expect((await settingsOf()).allowedModels).toEqual(['claude-sonnet-4-5']);
    const list = await api(t, 'GET', `${changes}?status=stale`, { token: owner });
    expect((list.body.data as { id: string }[]).map((row) => row.id)).toContain(id);
  });

  it('turning four-eyes off waits too', async () => {
    const pending = await api(t, 'PATCH', orgPath, {
      token: admin.token,
      body: { fourEyes: false },
    });
    expect(pending.status).toBe(202);
    const id = (pending.body.changeRequest as { id: string }).id;
    const org = await api(t, 'GET', orgPath, { token: owner });
    expect(org.body.fourEyes).toBe(true);
    const rejected = await api(t, 'POST', `${changes}/${id}/reject`, { token: admin.token });
    expect(rejected.status).toBe(200);
  });

  it('break-glass is for owners only', async () => {
    const body = { reason: 'Production outage, second admin unreachable' };
    const byAdmin = await api(t, 'POST', `${orgPath}/break-glass`, { token: admin.token, body });
    expectAdminError(byAdmin, 403, 'forbidden');
    const noReason = await api(t, 'POST', `${orgPath}/break-glass`, { token: owner, body: {} });
    expectAdminError(noReason, 400, 'validation_failed');
    const tooLong = await api(t, 'POST', `${orgPath}/break-glass`, {
      token: owner,
      body: { ...body, durationMinutes: 241 },
    });
    expectAdminError(tooLong, 400, 'validation_failed');
  });

  it('break-glass lets the owner skip four-eyes', async () => {
    const activated = await api(t, 'POST', `${orgPath}/break-glass`, {
      token: owner,
      body: { reason: 'Production outage, second admin unreachable', durationMinutes: 15 },
    });
    expect(activated.status).toBe(201);
    expect(activated.body.kind).toBe('break_glass');
    expect(activated.body.state).toBe('active');
    const grantId = activated.body.id as string;

    const audit = await auditEntries(t.server.db, t.boot.orgId, 'access.break_glass');
    expect(audit.find((entry) => entry.resource_id === grantId)?.sensitivity).toBe('critical');
    const alert = t.logLines.find((line) => line.includes('"alert":"break_glass"'));
    expect(alert).toContain(grantId);
    expect(alert).toContain('"level":50');
    // The security-events recorder writes in the background.
    const events = await eventually(async () => {
      const result = await t.server.db.query<{ severity: string }>(
        `SELECT severity FROM security_events
          WHERE kind = 'break_glass' AND details->>'grantId' = $1`,
        [grantId],
      );
      return result.rows.length > 0 ? result.rows : null;
    });
    expect(events.map((row) => row.severity)).toEqual(['critical']);

    const direct = await api(t, 'PATCH', projectPath, {
      token: owner,
      body: { settings: { allowedModels: ['claude-sonnet-4-5', 'gpt-4o'] } },
    });
    expect(direct.status).toBe(200);
    const uses = await auditEntries(t.server.db, t.boot.orgId, 'access.break_glass_used');
    const use = uses.find((entry) => entry.request_id === direct.headers.get('x-request-id'));
    expect(use?.resource_id).toBe(grantId);

    const twice = await api(t, 'POST', `${orgPath}/break-glass`, {
      token: owner,
      body: { reason: 'Production outage, second admin unreachable' },
    });
    expectAdminError(twice, 409, 'conflict');
    const ended = await api(t, 'POST', `${orgPath}/access-requests/${grantId}/revoke`, {
      token: owner,
    });
    expect(ended.status).toBe(200);

    const waits = await api(t, 'PATCH', projectPath, {
      token: owner,
      body: { settings: { allowedModels: ['claude-sonnet-4-5', 'gpt-4o', 'o3'] } },
    });
    expect(waits.status).toBe(202);
  });

  it('tables stay inside their organization', async () => {
    for (const table of ['change_requests', 'access_grants']) {
      const inside = await inTenant(t.server.db, t.boot.orgId, (tx) =>
        tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`),
      );
      expect(inside.rows[0]?.n, table).toBeGreaterThan(0);
      const unscoped = await t.server.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${table}`,
      );
      expect(unscoped.rows[0]?.n, table).toBe(0);
      const otherOrg = await inTenant(t.server.db, '00000000-0000-4000-8000-000000000001', (tx) =>
        tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`),
      );
      expect(otherOrg.rows[0]?.n, table).toBe(0);
    }
  });

  it('second admin turns four-eyes off', async () => {
    const pending = await api(t, 'PATCH', orgPath, {
      token: admin.token,
      body: { fourEyes: false, name: 'Acme Labs' },
    });
    expect(pending.status).toBe(202);
    const id = (pending.body.changeRequest as { id: string }).id;
    const approved = await api(t, 'POST', `${changes}/${id}/approve`, { token: owner });
    expect(approved.status).toBe(200);
    const org = await api(t, 'GET', orgPath, { token: owner });
    expect(org.body.fourEyes).toBe(false);
    expect(org.body.name).toBe('Acme Labs');
    const direct = await api(t, 'PATCH', projectPath, {
      token: admin.token,
      body: { settings: { mcpAutoApprove: true } },
    });
    expect(direct.status).toBe(200);
  });
});
