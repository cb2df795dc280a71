import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer } from '../support/test-server.js';
import {
  api,
  expectAdminError,
  insertForeignOrganization,
  insertMember,
  login,
  ownerSession,
} from './admin-api.js';

const FOREIGN_PASSWORD = 'Globex-Passw0rd!';
const MEMBER_PASSWORD = 'Member-Passw0rd!';

let t: TestServer;
let ownerToken: string;
let foreign: { orgId: string; userId: string };
let foreignProjectId: string;
let foreignKeyId: string;

beforeAll(async () => {
  t = await startTestServer();
  ownerToken = await ownerSession(t);
  foreign = await insertForeignOrganization(t.owner, 'boss@globex.test', FOREIGN_PASSWORD);
  const foreignToken = await login(t, 'boss@globex.test', FOREIGN_PASSWORD);
  const project = await api(t, 'POST', `/api/v1/organizations/${foreign.orgId}/projects`, {
    token: foreignToken,
    body: { name: 'Secret', slug: 'secret' },
  });
  expect(project.status).toBe(201);
  foreignProjectId = project.body.id as string;
  const key = await api(
    t,
    'POST',
    `/api/v1/organizations/${foreign.orgId}/projects/${foreignProjectId}/api-keys`,
    { token: foreignToken, body: { name: 'globex' } },
  );
  expect(key.status).toBe(201);
  foreignKeyId = key.body.id as string;
});

afterAll(async () => {
  await t.stop();
});

describe('another organization', () => {
  const foreignRoutes = (): [string, string, unknown?][] => {
    const org = `/api/v1/organizations/${foreign.orgId}`;
    const project = `${org}/projects/${foreignProjectId}`;
    return [
      ['GET', org],
      ['PATCH', org, { name: 'Taken' }],
      ['GET', `${org}/projects`],
      ['POST', `${org}/projects`, { name: 'Intruder', slug: 'intruder' }],
      ['GET', project],
      ['PATCH', project, { name: 'Renamed' }],
      ['DELETE', project],
      ['GET', `${project}/api-keys`],
      ['POST', `${project}/api-keys`, { name: 'stolen' }],
      ['DELETE', `${project}/api-keys/${foreignKeyId}`],
    ];
  };

  it('every route returns 404', async () => {
    for (const [method, path, body] of foreignRoutes()) {
      const response = await api(t, method, path, { token: ownerToken, body });
      expectAdminError(response, 404, 'not_found');
    }
  });

  it('unknown organization returns the same 404', async () => {
    const unknown = '00000000-0000-4000-8000-000000000000';
    const foreignResponse = await api(t, 'GET', `/api/v1/organizations/${foreign.orgId}`, {
      token: ownerToken,
    });
    const unknownResponse = await api(t, 'GET', `/api/v1/organizations/${unknown}`, {
      token: ownerToken,
    });
    expect(unknownResponse.status).toBe(foreignResponse.status);
    expect(unknownResponse.body.error).toBe(foreignResponse.body.error);
  });

  it('foreign ids in own organization return 404', async () => {
    const own = `/api/v1/organizations/${t.boot.orgId}`;
    const paths = [
      `${own}/projects/${foreignProjectId}`,
      `${own}/projects/${foreignProjectId}/api-keys`,
      `${own}/projects/${t.boot.projectId}/api-keys/${foreignKeyId}`,
    ];
    for (const path of paths) {
      const method = path.endsWith(foreignKeyId) ? 'DELETE' : 'GET';
      const response = await api(t, method, path, { token: ownerToken });
      expectAdminError(response, 404, 'not_found');
    }
  });

  it('nothing of the foreign organization changed', async () => {
    const org = await t.owner.query<{ name: string }>(
      'SELECT name FROM organizations WHERE id = $1',
      [foreign.orgId],
    );
    expect(org.rows[0]?.name).toBe('Globex');
    const projects = await t.owner.query<{ slug: string; status: string }>(
      'SELECT slug, status FROM projects WHERE org_id = $1',
      [foreign.orgId],
    );
    expect(projects.rows).toEqual([{ slug: 'secret', status: 'active' }]);
    const keys = await t.owner.query<{ revoked_at: Date | null }>(
      'SELECT revoked_at FROM api_keys WHERE org_id = $1',
      [foreign.orgId],
    );
    expect(keys.rows).toEqual([{ revoked_at: null }]);
  });

  it('organization list shows only memberships', async () => {
    const response = await api(t, 'GET', '/api/v1/organizations', { token: ownerToken });
    const ids = (response.body.data as { id: string }[]).map((org) => org.id);
    expect(ids).toEqual([t.boot.orgId]);
  });
});

describe('roles', () => {
  const own = () => `/api/v1/organizations/${t.boot.orgId}`;
  const project = () => `${own()}/projects/${t.boot.projectId}`;

  async function memberToken(role: 'member' | 'viewer' | 'security_admin', email: string) {
    await insertMember(t.owner, t.boot.orgId, role, email, MEMBER_PASSWORD);
    return login(t, email, MEMBER_PASSWORD);
  }

  it('member reads but cannot change', async () => {
    const token = await memberToken('member', 'member@example.com');
    expect((await api(t, 'GET', `${own()}/projects`, { token })).status).toBe(200);
    expect((await api(t, 'GET', `${project()}/api-keys`, { token })).status).toBe(200);

    const denied: [string, string, unknown?][] = [
      ['PATCH', own(), { name: 'Mine' }],
      ['POST', `${own()}/projects`, { name: 'Mine', slug: 'mine' }],
      ['PATCH', project(), { name: 'Mine' }],
      ['DELETE', project()],
      ['POST', `${project()}/api-keys`, { name: 'mine' }],
      ['DELETE', `${project()}/api-keys/${t.boot.apiKeyId}`],
    ];
    for (const [method, path, body] of denied) {
      const response = await api(t, method, path, { token, body });
      expectAdminError(response, 403, 'forbidden');
    }
  });

  it('viewer cannot list keys', async () => {
    const token = await memberToken('viewer', 'viewer@example.com');
    expect((await api(t, 'GET', `${own()}/projects`, { token })).status).toBe(200);
    const keys = await api(t, 'GET', `${project()}/api-keys`, { token });
    expectAdminError(keys, 403, 'forbidden');
    expect(keys.body.error).toContain('api_key.read');
  });

  it('security admin revokes but cannot create keys', async () => {
    const token = await memberToken('security_admin', 'secadmin@example.com');
    const create = await api(t, 'POST', `${project()}/api-keys`, {
      token,
      body: { name: 'nope' },
    });
    expectAdminError(create, 403, 'forbidden');
    const created = await api(t, 'POST', `${project()}/api-keys`, {
      token: ownerToken,
      body: { name: 'to-revoke' },
    });
    const revoke = await api(t, 'DELETE', `${project()}/api-keys/${created.body.id as string}`, {
      token,
    });
    expect(revoke.status).toBe(200);
    expect(revoke.body.status).toBe('revoked');
  });

  it('denied changes leave no trace', async () => {
    const org = await api(t, 'GET', own(), { token: ownerToken });
    expect(org.body.name).toBe('Acme');
    const projects = await api(t, 'GET', `${own()}/projects`, { token: ownerToken });
    expect((projects.body.data as unknown[]).length).toBe(1);
    const audit = await t.owner.query(
      `SELECT count(*)::int AS n FROM audit_logs
        WHERE action IN ('project.create', 'organization.update') AND actor_type = 'user'
          AND org_id = $1`,
      [t.boot.orgId],
    );
    expect(audit.rows[0]).toEqual({ n: 0 });
  });
});
