import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { api, expectAdminError, ownerSession } from '../admin/admin-api.js';
import {
  approvedGrant,
  signedInMember,
  type Member,
} from '../application/access/access-fixture.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

describe('just-in-time grant as a source of lasting rights', () => {
  let t: TestServer;
  let admin: Member;
  let member: Member;
  let orgPath: string;
  let projectPath: string;

  beforeAll(async () => {
    t = await startTestServer();
    admin = await signedInMember(t, 'admin');
    member = await signedInMember(t, 'member');
    orgPath = `/api/v1/organizations/${t.boot.orgId}`;
    projectPath = `${orgPath}/projects/${t.boot.projectId}`;
    await approvedGrant(t, member, admin, 'admin');
  }, 60_000);

  afterAll(async () => {
    await t?.stop();
  });

  it('raised role still works', async () => {
    const members = await api(t, 'GET', `${orgPath}/members`, { token: member.token });
    expect(members.status).toBe(200);
  });

  it('cannot make itself admin', async () => {
    const promoted = await api(t, 'PATCH', `${orgPath}/members/${member.id}`, {
      token: member.token,
      body: { role: 'admin' },
    });
    expectAdminError(promoted, 403, 'forbidden');
    const members = await api(t, 'GET', `${orgPath}/members`, { token: admin.token });
    const own = (members.body.data as { userId: string; role: string }[]).find(
      (entry) => entry.userId === member.id,
    );
    expect(own?.role).toBe('member');
  });

  it('cannot make another member admin', async () => {
    const other = await signedInMember(t, 'viewer');
    const promoted = await api(t, 'PATCH', `${orgPath}/members/${other.id}`, {
      token: member.token,
      body: { role: 'admin' },
    });
    expectAdminError(promoted, 403, 'forbidden');
  });

  it('cannot give itself a project role', async () => {
    const set = await api(t, 'PUT', `${projectPath}/members/${member.id}`, {
      token: member.token,
      body: { role: 'admin' },
    });
    expectAdminError(set, 403, 'forbidden');
  });

  it('cannot mint an admin key', async () => {
    const key = await api(t, 'POST', `${projectPath}/api-keys`, {
      token: member.token,
      body: { name: 'lasting', scopes: ['admin'] },
    });
    expectAdminError(key, 403, 'forbidden');
  });
});

describe('four-eyes and new projects', () => {
  let t: TestServer;
  let owner: string;
  let admin: Member;
  let orgPath: string;

  beforeAll(async () => {
    t = await startTestServer();
    owner = await ownerSession(t);
    admin = await signedInMember(t, 'admin');
    orgPath = `/api/v1/organizations/${t.boot.orgId}`;
    const on = await api(t, 'PATCH', orgPath, { token: owner, body: { fourEyes: true } });
    expect(on.status).toBe(200);
  }, 60_000);

  afterAll(async () => {
    await t?.stop();
  });

  it('rejects a project created with a loose policy', async () => {
    for (const settings of [
      { allowedModels: ['o3'] },
      { mcpAutoApprove: true },
      { mcpAutoApprove: ['delete_everything'] },
    ]) {
      const created = await api(t, 'POST', `${orgPath}/projects`, {
        token: admin.token,
        body: { name: 'Loose', slug: `loose-${Object.keys(settings)[0]?.toLowerCase()}`, settings },
      });
      expectAdminError(created, 403, 'forbidden');
    }
    const projects = await api(t, 'GET', `${orgPath}/projects`, { token: admin.token });
    const slugs = (projects.body.data as { slug: string }[]).map((project) => project.slug);
    expect(slugs.filter((slug) => slug.startsWith('loose'))).toEqual([]);
  });

  it('creates a project with the empty policy', async () => {
    const created = await api(t, 'POST', `${orgPath}/projects`, {
      token: admin.token,
      body: {
        name: 'Tight',
        slug: 'tight',
        settings: { allowedModels: [], mcpAutoApprove: false },
      },
    });
    expect(created.status).toBe(201);
  });

  it('policy of the new project waits for approval', async () => {
    const projects = await api(t, 'GET', `${orgPath}/projects`, { token: admin.token });
    const tight = (projects.body.data as { id: string; slug: string }[]).find(
      (project) => project.slug === 'tight',
    );
    const changed = await api(t, 'PATCH', `${orgPath}/projects/${String(tight?.id)}`, {
      token: admin.token,
      body: { settings: { allowedModels: ['o3'] } },
    });
    expect(changed.status).toBe(202);
  });

  // NOTE: IP allowlists are outside four-eyes: one admin can empty the API-key list, which
  // lifts the restriction, with no change request.
  it.todo('emptying an IP allowlist waits for a second admin');

  it('break-glass owner creates it directly', async () => {
    const glass = await api(t, 'POST', `${orgPath}/break-glass`, {
      token: owner,
      body: { reason: 'Provider outage needs a fallback project' },
    });
    expect(glass.status).toBe(201);
    const created = await api(t, 'POST', `${orgPath}/projects`, {
      token: owner,
      body: { name: 'Fallback', slug: 'fallback', settings: { allowedModels: ['o3'] } },
    });
    expect(created.status).toBe(201);
  });
});
