import { expect } from 'vitest';

import {
  api,
  insertForeignOrganization,
  insertMember,
  login,
  ownerSession,
} from '../admin/admin-api.js';
import type { TestServer } from '../support/test-server.js';
import type { SuiteFixture, TenantFixture } from './security-suite.cases.js';

const PASSWORD = 'Suite-Passw0rd!2026';

/** Creates a key through the admin API and returns its id and secret. */
async function createKey(
  t: TestServer,
  token: string,
  tenant: { orgId: string; projectId: string },
  body: Record<string, unknown>,
): Promise<{ id: string; secret: string }> {
  const path = `/api/v1/organizations/${tenant.orgId}/projects/${tenant.projectId}/api-keys`;
  const response = await api(t, 'POST', path, { token, body });
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  return { id: response.body.id as string, secret: response.body.key as string };
}

/** Creates a project through the admin API and returns its id. */
async function createProject(t: TestServer, token: string, orgId: string, slug: string) {
  const response = await api(t, 'POST', `/api/v1/organizations/${orgId}/projects`, {
    token,
    body: { name: slug, slug, settings: { allowedModels: ['claude-sonnet-4-5'] } },
  });
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  return response.body.id as string;
}

/** Gives an organization a project, keys and a second member, all through the admin API. */
async function furnish(
  t: TestServer,
  base: { orgId: string; projectId?: string; ownerToken: string },
  memberEmail: string,
): Promise<TenantFixture> {
  const projectId =
    base.projectId ?? (await createProject(t, base.ownerToken, base.orgId, 'suite'));
  const tenant = { orgId: base.orgId, projectId };
  const gateway = await createKey(t, base.ownerToken, tenant, { name: 'suite-gateway' });
  const admin = await createKey(t, base.ownerToken, tenant, {
    name: 'suite-admin',
    scopes: ['admin'],
  });
  const userId = await insertMember(t.owner, base.orgId, 'member', memberEmail, PASSWORD);
  return {
    ...tenant,
    keyId: gateway.id,
    userId,
    grantId: await requestAccess(t, base.orgId, memberEmail),
    ownerToken: base.ownerToken,
    gatewayKey: gateway.secret,
    adminKey: admin.secret,
  };
}

/** Signs the member in and files a just-in-time access request; returns its id. */
async function requestAccess(t: TestServer, orgId: string, memberEmail: string) {
  const token = await login(t, memberEmail, PASSWORD);
  const response = await api(t, 'POST', `/api/v1/organizations/${orgId}/access-requests`, {
    token,
    body: { role: 'admin', reason: 'Security suite fixture request', durationMinutes: 30 },
  });
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  return response.body.id as string;
}

/** Creates another organization with its own owner, signed in. */
async function otherOrganization(t: TestServer, ownerEmail: string) {
  const org = await insertForeignOrganization(t.owner, ownerEmail, PASSWORD);
  return { orgId: org.orgId, ownerToken: await login(t, ownerEmail, PASSWORD) };
}

/**
 * Builds the suite's world: the bootstrapped organization with a member of every role, another
 * tenant, and a third organization that is disabled through the admin API.
 */
export async function buildSuiteFixture(t: TestServer): Promise<SuiteFixture> {
  const ownerToken = await ownerSession(t);
  const own = await furnish(
    t,
    { orgId: t.boot.orgId, projectId: t.boot.projectId, ownerToken },
    'member@own.test',
  );
  const foreign = await furnish(
    t,
    await otherOrganization(t, 'owner@foreign.test'),
    'member@foreign.test',
  );
  const disabled = await furnish(
    t,
    await otherOrganization(t, 'owner@disabled.test'),
    'member@disabled.test',
  );
  const disable = await api(t, 'PUT', `/api/v1/organizations/${disabled.orgId}/status`, {
    token: disabled.ownerToken,
    body: { status: 'disabled' },
  });
  expect(disable.status, JSON.stringify(disable.body)).toBe(200);

  const roleTokens = {} as SuiteFixture['roleTokens'];
  for (const role of ['admin', 'security_admin', 'auditor', 'member', 'viewer'] as const) {
    const email = `${role.replace('_', '-')}@roles.test`;
    await insertMember(t.owner, t.boot.orgId, role, email, PASSWORD);
    roleTokens[role] = await login(t, email, PASSWORD);
  }
  return { t, own, foreign, disabled, roleTokens };
}
