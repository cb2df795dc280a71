import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { eventScopeFor } from '../../../src/monitoring/security-events/security-event-visibility.js';
import { insertSecurityEvents } from '../../../src/monitoring/security-events/security-event.repository.js';
import {
  api,
  detailFields,
  expectAdminError,
  insertForeignOrganization,
  insertMember,
  login,
  ownerSession,
  type ApiResponse,
} from '../../admin/admin-api.js';
import type { Database } from '../../../src/data/database/database.js';
import { openPostgresDatabase } from '../../../src/data/database/postgres-database.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';
import { eventsOfKind } from './stored-events.js';

const PASSWORD = 'Events-Passw0rd!2026';
const USER_AGENT = 'security-events-api-test';

let t: TestServer;
// The migrating user, who is not subject to row-level security, for setting up members.
let owner: Database;
let ownerToken: string;
let path: string;

interface EventView {
  id: string;
  kind: string;
  source: string;
  orgId: string | null;
  ruleIds: string[];
  clientIp: string | null;
}

const dataOf = (response: ApiResponse) => response.body.data as EventView[];

async function failSignIn(email: string): Promise<Response> {
  return fetch(`${t.url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': USER_AGENT },
    body: JSON.stringify({ email, password: 'Wrong-Passw0rd!' }),
  });
}

beforeAll(async () => {
  t = await startTestServer({
    env: { LOGIN_LOCKOUT_ACCOUNT_FAILURES: '2', SECURITY_EVENTS_BURST_THRESHOLD: '0' },
  });
  owner = await openPostgresDatabase(t.config.DATABASE_URL as string, { poolSize: 1 });
  ownerToken = await ownerSession(t);
  path = `/api/v1/organizations/${t.boot.orgId}/security-events`;

  // Events of no organization: a WAF block, failed sign-ins and the lockout they cause.
  const blocked = await fetch(`${t.url}/v1/models?q=${encodeURIComponent("' OR 1=1 --")}`, {
    headers: { 'user-agent': USER_AGENT },
  });
  expect(blocked.status).toBe(403);
  expect((await failSignIn('intruder@example.com')).status).toBe(401);
  expect((await failSignIn('intruder@example.com')).status).toBe(401);
  await t.server.securityEvents.recorder.flush();
});

afterAll(async () => {
  await owner?.close();
  await t?.stop();
});

describe('sign-in security events', () => {
  it('records each failed sign-in', async () => {
    const failed = await eventsOfKind(t.server.db, 'login_failed');
    expect(failed).toHaveLength(2);
    expect(failed[0]).toMatchObject({
      source: 'auth',
      severity: 'low',
      clientIp: '127.0.0.1',
      ruleIds: ['login:unknown_email'],
      orgId: null,
      details: { reason: 'unknown_email', userId: null },
    });
  });

  it('records the lockout', async () => {
    const locked = await eventsOfKind(t.server.db, 'account_locked');
    expect(locked).toHaveLength(1);
    expect(locked[0]).toMatchObject({
      source: 'auth',
      severity: 'medium',
      ruleIds: ['lockout:account'],
      details: { scope: 'account', lockedForSeconds: 60, lockouts: 1 },
    });
  });

  it('stores no e-mail address', async () => {
    const { rows } = await t.server.db.query<{ row: string }>(
      'SELECT row_to_json(e)::text AS row FROM security_events e',
    );
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) expect(row.row).not.toContain('intruder@example.com');
  });
});

describe('GET security-events as the only organization', () => {
  it('lists events of no organization', async () => {
    const response = await api(t, 'GET', path, { token: ownerToken });
    expect(response.status).toBe(200);
    expect(response.body.includesUnscopedEvents).toBe(true);
    const kinds = dataOf(response).map((event) => event.kind);
    expect(kinds).toEqual(['account_locked', 'login_failed', 'login_failed', 'perimeter_block']);
  });

  it('filters by kind', async () => {
    const response = await api(t, 'GET', `${path}?kind=login_failed`, { token: ownerToken });
    expect(dataOf(response).map((event) => event.kind)).toEqual(['login_failed', 'login_failed']);
  });

  it('filters by rule id', async () => {
    const response = await api(t, 'GET', `${path}?ruleId=lockout:account`, { token: ownerToken });
    expect(dataOf(response).map((event) => event.kind)).toEqual(['account_locked']);
  });

  it('filters by client IP', async () => {
    const own = await api(t, 'GET', `${path}?clientIp=127.0.0.1`, { token: ownerToken });
    expect(dataOf(own)).toHaveLength(4);
    const other = await api(t, 'GET', `${path}?clientIp=2001:db8::1`, { token: ownerToken });
    expect(dataOf(other)).toEqual([]);
  });

  it('filters by time', async () => {
    const future = new Date(Date.now() + 3_600_000).toISOString();
    const past = new Date(Date.now() - 3_600_000).toISOString();
    const later = await api(t, 'GET', `${path}?since=${future}`, { token: ownerToken });
    expect(dataOf(later)).toEqual([]);
    const window = await api(t, 'GET', `${path}?since=${past}&until=${future}`, {
      token: ownerToken,
    });
    expect(dataOf(window)).toHaveLength(4);
  });

  it('pages with a cursor', async () => {
    const first = await api(t, 'GET', `${path}?limit=3`, { token: ownerToken });
    expect(dataOf(first)).toHaveLength(3);
    const cursor = first.body.nextCursor as string;
    expect(cursor).toMatch(/^[0-9]+$/);
    const second = await api(t, 'GET', `${path}?limit=3&cursor=${cursor}`, { token: ownerToken });
    expect(dataOf(second).map((event) => event.kind)).toEqual(['perimeter_block']);
    expect(second.body.nextCursor).toBeNull();
  });
});

describe('GET security-events query validation', () => {
  const cases: Array<[string, string]> = [
    ['kind=port_scan', 'kind'],
    ['since=yesterday', 'since'],
    ['until=2026-13-01T00:00:00Z', 'until'],
    ['since=2026-12-02T00:00:00Z&until=2026-12-01T00:00:00Z', 'until'],
    ['clientIp=999.1.1.1', 'clientIp'],
    ['ruleId=a%20b', 'ruleId'],
    ['cursor=abc', 'cursor'],
    ['limit=0', 'limit'],
    ['limit=501', 'limit'],
  ];
  for (const [query, field] of cases) {
    it(`rejects ${query}`, async () => {
      const response = await api(t, 'GET', `${path}?${query}`, { token: ownerToken });
      expectAdminError(response, 400, 'validation_failed');
      expect(detailFields(response)).toContain(field);
    });
  }

  it('rejects an unknown parameter', async () => {
    const response = await api(t, 'GET', `${path}?org=all`, { token: ownerToken });
    expectAdminError(response, 400, 'validation_failed');
  });

  it('rejects a repeated parameter', async () => {
    const response = await api(t, 'GET', `${path}?kind=login_failed&kind=break_glass`, {
      token: ownerToken,
    });
    expectAdminError(response, 400, 'validation_failed');
    expect(detailFields(response)).toContain('kind');
  });
});

describe('GET security-events permissions', () => {
  it('requires a session', async () => {
    expectAdminError(await api(t, 'GET', path), 401, 'unauthorized');
  });

  for (const role of ['security_admin', 'auditor'] as const) {
    it(`allows the ${role} role`, async () => {
      const email = `${role.replace('_', '-')}@events.test`;
      await insertMember(owner, t.boot.orgId, role, email, PASSWORD);
      const response = await api(t, 'GET', path, { token: await login(t, email, PASSWORD) });
      expect(response.status).toBe(200);
    });
  }

  for (const role of ['member', 'viewer'] as const) {
    it(`forbids the ${role} role`, async () => {
      const email = `${role}@events.test`;
      await insertMember(owner, t.boot.orgId, role, email, PASSWORD);
      const response = await api(t, 'GET', path, { token: await login(t, email, PASSWORD) });
      expectAdminError(response, 403, 'forbidden');
    });
  }
});

describe('GET security-events with several organizations', () => {
  let foreignOrgId: string;
  let foreignToken: string;

  beforeAll(async () => {
    const foreign = await insertForeignOrganization(owner, 'owner@globex.test', PASSWORD);
    foreignOrgId = foreign.orgId;
    foreignToken = await login(t, 'owner@globex.test', PASSWORD);
    await insertSecurityEvents(t.server.db, [
      {
        occurredAt: new Date(),
        kind: 'break_glass',
        severity: 'high',
        source: 'access',
        clientIp: '192.0.2.5',
        ruleIds: [],
        location: null,
        sample: null,
        requestId: null,
        orgId: foreignOrgId,
        details: {},
      },
    ]);
  });

  it('hides events of no organization', async () => {
    const response = await api(t, 'GET', path, { token: ownerToken });
    expect(response.status).toBe(200);
    expect(response.body.includesUnscopedEvents).toBe(false);
    expect(dataOf(response)).toEqual([]);
  });

  it('shows an organization its own events', async () => {
    const response = await api(t, 'GET', `/api/v1/organizations/${foreignOrgId}/security-events`, {
      token: foreignToken,
    });
    expect(response.status).toBe(200);
    expect(dataOf(response).map((event) => [event.kind, event.orgId])).toEqual([
      ['break_glass', foreignOrgId],
    ]);
  });

  it("answers 404 for another tenant's id", async () => {
    const response = await api(t, 'GET', `/api/v1/organizations/${foreignOrgId}/security-events`, {
      token: ownerToken,
    });
    expectAdminError(response, 404, 'not_found');
  });

  it('shows the operator organization every event', async () => {
    const operator = await eventScopeFor(t.server.db, t.boot.orgId, t.boot.orgId);
    expect(operator).toEqual({ orgId: t.boot.orgId, includeUnscoped: true });
    const tenant = await eventScopeFor(t.server.db, foreignOrgId, t.boot.orgId);
    expect(tenant).toEqual({ orgId: foreignOrgId, includeUnscoped: false });
  });
});
