import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer } from '../support/test-server.js';
import { api, auditRows, detailFields, expectAdminError, ownerSession } from './admin-api.js';

let t: TestServer;
let token: string;

beforeAll(async () => {
  t = await startTestServer();
  token = await ownerSession(t);
});

afterAll(async () => {
  await t.stop();
});

const orgPath = () => `/api/v1/organizations/${t.boot.orgId}`;
const projectsPath = () => `${orgPath()}/projects`;

async function createProject(body: unknown) {
  return api(t, 'POST', projectsPath(), { token, body });
}

describe('organizations', () => {
  it('list shows the caller role', async () => {
    const response = await api(t, 'GET', '/api/v1/organizations', { token });
    expect(response.status).toBe(200);
    expect(response.body.data).toEqual([
      expect.objectContaining({ id: t.boot.orgId, name: 'Acme', role: 'owner', status: 'active' }),
    ]);
  });

  it('get returns the organization', async () => {
    const response = await api(t, 'GET', orgPath(), { token });
    expect(response.status).toBe(200);
    expect(response.body.id).toBe(t.boot.orgId);
  });

  it('rename is stored and audited', async () => {
    const response = await api(t, 'PATCH', orgPath(), { token, body: { name: '  Acme Labs ' } });
    expect(response.status).toBe(200);
    expect(response.body.name).toBe('Acme Labs');
    const rows = await auditRows(t.owner, 'organization.update');
    expect(rows).toHaveLength(1);
    expect(rows[0]?.resource_id).toBe(t.boot.orgId);
    expect(rows[0]?.actor_id).toBe(t.boot.adminUserId);
  });

  it('requireMfa is stored and audited', async () => {
    const response = await api(t, 'PATCH', orgPath(), { token, body: { requireMfa: true } });
    expect(response.status).toBe(200);
    expect(response.body.requireMfa).toBe(true);
    const read = await api(t, 'GET', orgPath(), { token });
    expect(read.body.requireMfa).toBe(true);
    const rows = await auditRows(t.owner, 'organization.update');
    expect(rows).toHaveLength(2);
    const bad = await api(t, 'PATCH', orgPath(), { token, body: { requireMfa: 'yes' } });
    expectAdminError(bad, 400, 'validation_failed');
    expect(detailFields(bad)).toEqual(['requireMfa']);
  });

  it('rename rejects empty, long and unknown fields', async () => {
    const bodies = [{ name: '' }, { name: '   ' }, { name: 'x'.repeat(101) }, {}];
    for (const body of bodies) {
      const response = await api(t, 'PATCH', orgPath(), { token, body });
      expectAdminError(response, 400, 'validation_failed');
      expect(detailFields(response)).toContain('name');
    }
    const extra = await api(t, 'PATCH', orgPath(), { token, body: { name: 'A', status: 'x' } });
    expectAdminError(extra, 400, 'validation_failed');
    expect(detailFields(extra)).toEqual(['status']);
  });
});

describe('projects', () => {
  let projectId: string;

  it('create returns 201 with defaults', async () => {
    const response = await createProject({ name: 'Support Bot', slug: 'support-bot' });
    expect(response.status).toBe(201);
    expect(response.body).toMatchObject({
      orgId: t.boot.orgId,
      name: 'Support Bot',
      slug: 'support-bot',
      status: 'active',
      settings: { allowedModels: [], mcpAutoApprove: false },
    });
    projectId = response.body.id as string;
  });

  it('create is audited', async () => {
    const rows = await auditRows(t.owner, 'project.create');
    const row = rows.find((entry) => entry.resource_id === projectId);
    expect(row).toBeDefined();
    expect(row?.actor_type).toBe('user');
    expect(row?.org_id).toBe(t.boot.orgId);
    expect(row?.project_id).toBe(projectId);
  });

  it('duplicate slug gives 409', async () => {
    const response = await createProject({ name: 'Another', slug: 'support-bot' });
    expectAdminError(response, 409, 'conflict');
    expect(response.body.error).toContain('support-bot');
  });

  it('concurrent duplicate slugs give 409', async () => {
    const responses = await Promise.all(
      Array.from({ length: 8 }, () => createProject({ name: 'Race', slug: 'race' })),
    );
    const statuses = responses.map((response) => response.status).sort();
    expect(statuses).toEqual([201, 409, 409, 409, 409, 409, 409, 409]);
    for (const response of responses.filter((entry) => entry.status === 409)) {
      expectAdminError(response, 409, 'conflict');
    }
  });

  it('invalid slug and name give field details', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ name: 'Ok', slug: 'Upper' }, 'slug'],
      [{ name: 'Ok', slug: 'with space' }, 'slug'],
      [{ name: 'Ok', slug: 'x'.repeat(51) }, 'slug'],
      [{ name: 'Ok', slug: '' }, 'slug'],
      [{ name: 'Ok', slug: 'ünïcode' }, 'slug'],
      [{ name: 'a<b', slug: 'ok' }, 'name'],
      [{ name: '', slug: 'ok' }, 'name'],
      [{ name: 'x'.repeat(101), slug: 'ok' }, 'name'],
      [{ name: 42, slug: 'ok' }, 'name'],
      [{ slug: 'ok' }, 'name'],
      [{ name: 'Ok', slug: 'ok', settings: { allowedModels: ['bad model'] } }, 'settings'],
      [{ name: 'Ok', slug: 'ok', settings: { allowedModels: 'gpt-4o' } }, 'settings'],
      [{ name: 'Ok', slug: 'ok', settings: { mcpAutoApprove: 'yes' } }, 'settings'],
    ];
    for (const [body, field] of cases) {
      const response = await createProject(body);
      expectAdminError(response, 400, 'validation_failed');
      expect(detailFields(response).some((name) => name.startsWith(field))).toBe(true);
    }
  });

  it('script tag in a name is blocked by the WAF', async () => {
    const response = await createProject({ name: '<script>alert(1)</script>', slug: 'ok' });
    expectAdminError(response, 403, 'waf_blocked');
    expect(JSON.stringify(response.body)).not.toContain('script');
  });

  it('unknown fields are rejected', async () => {
    const top = await createProject({ name: 'Ok', slug: 'ok', status: 'archived' });
    expectAdminError(top, 400, 'validation_failed');
    expect(JSON.stringify(top.body.details)).toContain('status');
    const nested = await createProject({ name: 'Ok', slug: 'ok', settings: { admin: true } });
    expectAdminError(nested, 400, 'validation_failed');
    expect(detailFields(nested)).toEqual(['settings.admin']);
  });

  it('list includes the bootstrap and new project', async () => {
    const response = await api(t, 'GET', projectsPath(), { token });
    expect(response.status).toBe(200);
    const slugs = (response.body.data as { slug: string }[]).map((project) => project.slug);
    expect(slugs).toEqual(['demo', 'support-bot', 'race']);
  });

  it('get returns one project', async () => {
    const response = await api(t, 'GET', `${projectsPath()}/${projectId}`, { token });
    expect(response.status).toBe(200);
    expect(response.body.slug).toBe('support-bot');
  });

  it('unknown project id gives 404', async () => {
    const missing = '00000000-0000-4000-8000-000000000000';
    const response = await api(t, 'GET', `${projectsPath()}/${missing}`, { token });
    expectAdminError(response, 404, 'not_found');
  });

  it('patch merges settings and audits old values', async () => {
    const first = await api(t, 'PATCH', `${projectsPath()}/${projectId}`, {
      token,
      body: { settings: { allowedModels: ['gpt-4o-mini'] } },
    });
    expect(first.status).toBe(200);
    const second = await api(t, 'PATCH', `${projectsPath()}/${projectId}`, {
      token,
      body: { name: 'Support Bot 2', settings: { mcpAutoApprove: true } },
    });
    expect(second.status).toBe(200);
    expect(second.body.name).toBe('Support Bot 2');
    expect(second.body.settings).toEqual({
      allowedModels: ['gpt-4o-mini'],
      mcpAutoApprove: true,
    });
    const rows = await auditRows(t.owner, 'project.update');
    expect(rows).toHaveLength(2);
    expect(Object.keys(rows[1]?.new_values as object).sort()).toEqual([
      'name',
      'settings',
      'status',
    ]);
    expect(rows[1]?.request_id).toBe(second.headers.get('x-request-id'));
  });

  it('empty patch is a validation error', async () => {
    const response = await api(t, 'PATCH', `${projectsPath()}/${projectId}`, {
      token,
      body: {},
    });
    expectAdminError(response, 400, 'validation_failed');
  });

  it('patch cannot change slug or status', async () => {
    for (const body of [{ slug: 'other' }, { status: 'active' }, { orgId: t.boot.orgId }]) {
      const response = await api(t, 'PATCH', `${projectsPath()}/${projectId}`, { token, body });
      expectAdminError(response, 400, 'validation_failed');
    }
    const current = await api(t, 'GET', `${projectsPath()}/${projectId}`, { token });
    expect(current.body.slug).toBe('support-bot');
  });

  it('delete archives the project', async () => {
    const response = await api(t, 'DELETE', `${projectsPath()}/${projectId}`, { token });
    expect(response.status).toBe(200);
    expect(response.body.status).toBe('archived');
    const listed = await api(t, 'GET', projectsPath(), { token });
    const archived = (listed.body.data as { id: string; status: string }[]).find(
      (project) => project.id === projectId,
    );
    expect(archived?.status).toBe('archived');
    const rows = await auditRows(t.owner, 'project.archive');
    expect(rows.map((row) => row.resource_id)).toEqual([projectId]);
  });

  it('archived slug stays taken', async () => {
    const response = await createProject({ name: 'Reuse', slug: 'support-bot' });
    expectAdminError(response, 409, 'conflict');
  });
});
