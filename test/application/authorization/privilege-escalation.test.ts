import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  api,
  auditRows,
  detailFields,
  expectAdminError,
  insertMember,
  login,
  ownerSession,
} from '../../admin/admin-api.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';

const PASSWORD = 'Escalate-Passw0rd!';

let t: TestServer;
let ownerToken: string;
let orgPath: string;
let projectPath: string;
let otherProjectPath: string;
/** A member whose only extra right is the project admin role in the bootstrapped project. */
let projectAdmin: { id: string; token: string };
let target: { id: string };

beforeAll(async () => {
  t = await startTestServer();
  ownerToken = await ownerSession(t);
  orgPath = `/api/v1/organizations/${t.boot.orgId}`;
  projectPath = `${orgPath}/projects/${t.boot.projectId}`;
  const other = await api(t, 'POST', `${orgPath}/projects`, {
    token: ownerToken,
    body: { name: 'Other', slug: 'other' },
  });
  otherProjectPath = `${orgPath}/projects/${other.body.id as string}`;

  const id = await insertMember(t.owner, t.boot.orgId, 'member', 'padmin@acme.test', PASSWORD);
  const grant = await api(t, 'PUT', `${projectPath}/members/${id}`, {
    token: ownerToken,
    body: { role: 'admin' },
  });
  expect(grant.status).toBe(200);
  projectAdmin = { id, token: await login(t, 'padmin@acme.test', PASSWORD) };
  target = { id: await insertMember(t.owner, t.boot.orgId, 'viewer', 'dev@acme.test', PASSWORD) };
}, 60_000);

afterAll(async () => {
  await t.stop();
});

describe('project admin', () => {
  it('cannot create an org admin', async () => {
    const response = await api(t, 'PATCH', `${orgPath}/members/${target.id}`, {
      token: projectAdmin.token,
      body: { role: 'admin' },
    });
    expectAdminError(response, 403, 'forbidden');
    const self = await api(t, 'PATCH', `${orgPath}/members/${projectAdmin.id}`, {
      token: projectAdmin.token,
      body: { role: 'admin' },
    });
    expectAdminError(self, 403, 'forbidden');
  });

  it('cannot mint an admin key', async () => {
    for (const scopes of [['admin'], ['admin_read'], ['gateway', 'admin']]) {
      const response = await api(t, 'POST', `${projectPath}/api-keys`, {
        token: projectAdmin.token,
        body: { name: 'escalate', scopes },
      });
      expectAdminError(response, 403, 'forbidden');
      expect(response.body.error).toContain('You cannot mint scope admin');
    }
    const gateway = await api(t, 'POST', `${projectPath}/api-keys`, {
      token: projectAdmin.token,
      body: { name: 'allowed', scopes: ['gateway'] },
    });
    expect(gateway.status).toBe(201);
  });

  it('cannot rotate an admin key', async () => {
    const adminKey = await api(t, 'POST', `${projectPath}/api-keys`, {
      token: ownerToken,
      body: { name: 'owner-admin', scopes: ['admin'] },
    });
    expect(adminKey.status).toBe(201);
    const rotate = await api(
      t,
      'POST',
      `${projectPath}/api-keys/${adminKey.body.id as string}/rotate`,
      { token: projectAdmin.token, body: {} },
    );
    expectAdminError(rotate, 403, 'forbidden');
  });

  it('has no rights in another project', async () => {
    const response = await api(t, 'POST', `${otherProjectPath}/api-keys`, {
      token: projectAdmin.token,
      body: { name: 'elsewhere' },
    });
    expectAdminError(response, 403, 'forbidden');
  });

  it('grants project roles up to its own', async () => {
    for (const role of ['developer', 'admin']) {
      const response = await api(t, 'PUT', `${projectPath}/members/${target.id}`, {
        token: projectAdmin.token,
        body: { role },
      });
      expect(response.status).toBe(200);
      expect(response.body).toEqual({ userId: target.id, role });
    }
    const rows = await auditRows(t.owner, 'project_member.set');
    expect(rows.filter((row) => row.resource_id === target.id)).toHaveLength(2);
  });

  it('rejects roles outside the project roles', async () => {
    for (const role of ['owner', 'security_admin', 'superuser']) {
      const response = await api(t, 'PUT', `${projectPath}/members/${target.id}`, {
        token: projectAdmin.token,
        body: { role },
      });
      expectAdminError(response, 400, 'validation_failed');
      expect(detailFields(response)).toEqual(['role']);
    }
  });
});

describe('unknown fields', () => {
  const cases: [string, string, () => string, unknown, string][] = [
    [
      'member role',
      'PATCH',
      () => `${orgPath}/members/${target.id}`,
      { role: 'viewer', permissions: ['member.manage'] },
      'permissions',
    ],
    [
      'project member',
      'PUT',
      () => `${projectPath}/members/${target.id}`,
      { role: 'viewer', orgRole: 'admin' },
      'orgRole',
    ],
    [
      'key create',
      'POST',
      () => `${projectPath}/api-keys`,
      { name: 'k', scopes: ['gateway'], permissions: ['audit.read'] },
      'permissions',
    ],
    [
      'key rotate',
      'POST',
      () => `${projectPath}/api-keys/${t.boot.apiKeyId}/rotate`,
      { overlapSeconds: 60, scopes: ['admin'] },
      'scopes',
    ],
    [
      'nested policy',
      'PATCH',
      () => projectPath,
      { settings: { allowedModels: [], role: 'admin' } },
      'settings.role',
    ],
    [
      'org status',
      'PUT',
      () => `${orgPath}/status`,
      { status: 'active', owner: 'someone-else' },
      'owner',
    ],
  ];

  it('are rejected with their path', async () => {
    for (const [name, method, path, body, field] of cases) {
      const response = await api(t, method, path(), { token: ownerToken, body });
      expectAdminError(response, 400, 'validation_failed');
      expect(detailFields(response), name).toEqual([field]);
    }
  });

  it('changed nothing', async () => {
    const members = await api(t, 'GET', `${orgPath}/members`, { token: ownerToken });
    const roles = Object.fromEntries(
      (members.body.data as { userId: string; role: string }[]).map((m) => [m.userId, m.role]),
    );
    expect(roles[target.id]).toBe('viewer');
    expect(roles[projectAdmin.id]).toBe('member');
  });
});

describe('organization roles', () => {
  let admin: { id: string; token: string };
  let secondOwner: string;

  beforeAll(async () => {
    const id = await insertMember(t.owner, t.boot.orgId, 'admin', 'admin@acme.test', PASSWORD);
    admin = { id, token: await login(t, 'admin@acme.test', PASSWORD) };
  });

  it('admin cannot make an owner', async () => {
    const response = await api(t, 'PATCH', `${orgPath}/members/${target.id}`, {
      token: admin.token,
      body: { role: 'owner' },
    });
    expectAdminError(response, 403, 'forbidden');
    expect(response.body.error).toContain('organization.transfer');
  });

  it('admin cannot demote or remove an owner', async () => {
    const owner = t.boot.adminUserId;
    const demote = await api(t, 'PATCH', `${orgPath}/members/${owner}`, {
      token: admin.token,
      body: { role: 'viewer' },
    });
    expectAdminError(demote, 403, 'forbidden');
    const remove = await api(t, 'DELETE', `${orgPath}/members/${owner}`, { token: admin.token });
    expectAdminError(remove, 403, 'forbidden');
  });

  it('admin manages lesser roles', async () => {
    const response = await api(t, 'PATCH', `${orgPath}/members/${target.id}`, {
      token: admin.token,
      body: { role: 'auditor' },
    });
    expect(response.status).toBe(200);
    expect(response.body.role).toBe('auditor');
    const rows = await auditRows(t.owner, 'member.role_change');
    const row = rows.find((entry) => entry.resource_id === target.id);
    expect(row?.actor_id).toBe(admin.id);
  });

  it('last owner cannot step down', async () => {
    const response = await api(t, 'PATCH', `${orgPath}/members/${t.boot.adminUserId}`, {
      token: ownerToken,
      body: { role: 'admin' },
    });
    expectAdminError(response, 409, 'conflict');
  });

  it('owner transfers ownership', async () => {
    const promote = await api(t, 'PATCH', `${orgPath}/members/${admin.id}`, {
      token: ownerToken,
      body: { role: 'owner' },
    });
    expect(promote.status).toBe(200);
    secondOwner = admin.id;
    // A role change revokes the member's sessions, so the new owner signs in again.
    expect((await api(t, 'GET', '/api/v1/auth/me', { token: admin.token })).status).toBe(401);
    admin.token = await login(t, 'admin@acme.test', PASSWORD);
    const stepDown = await api(t, 'PATCH', `${orgPath}/members/${t.boot.adminUserId}`, {
      token: ownerToken,
      body: { role: 'admin' },
    });
    expect(stepDown.status).toBe(200);
    const last = await api(t, 'DELETE', `${orgPath}/members/${secondOwner}`, {
      token: admin.token,
    });
    expectAdminError(last, 409, 'conflict');
  });

  it('removal ends project roles', async () => {
    const remove = await api(t, 'DELETE', `${orgPath}/members/${projectAdmin.id}`, {
      token: admin.token,
    });
    expect(remove.status).toBe(204);
    const members = await api(t, 'GET', `${projectPath}/members`, { token: admin.token });
    const ids = (members.body.data as { userId: string }[]).map((member) => member.userId);
    expect(ids).not.toContain(projectAdmin.id);
    const denied = await api(t, 'GET', projectPath, { token: projectAdmin.token });
    expectAdminError(denied, 404, 'not_found');
  });
});
