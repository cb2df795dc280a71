import { Writable } from 'node:stream';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createLogger } from '../../src/monitoring/logging/logger.js';
import { startServer, type RunningServer } from '../../src/server/start-server.js';
import { api, expectAdminError, ownerSession, type ApiRequest } from '../admin/admin-api.js';
import { auditEntries } from '../application/access/access-fixture.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

/**
 * Two servers on one database: `direct` trusts no proxy, so X-Forwarded-For sent to it is
 * ignored, and `proxied` trusts 127.0.0.1 and ::1, so the header sets the client address.
 */
describe('IP allowlists', () => {
  let direct: TestServer;
  let proxiedServer: RunningServer;
  let proxied: TestServer;
  let token: string;
  let apiKey: string;
  let base: string;

  const from = (address: string, request: ApiRequest = {}): ApiRequest => ({
    token,
    ...request,
    headers: { 'x-forwarded-for': address, ...request.headers },
  });

  beforeAll(async () => {
    direct = await startTestServer();
    const quiet = new Writable({ write: (_chunk, _encoding, callback) => callback() });
    proxiedServer = await startServer(
      { ...direct.config, TRUSTED_PROXIES: ['127.0.0.1', '::1'] },
      createLogger('error', quiet),
    );
    proxied = { ...direct, url: proxiedServer.url, server: proxiedServer };
    token = await ownerSession(direct);
    apiKey = direct.boot.apiKey;
    base = `/api/v1/organizations/${direct.boot.orgId}/ip-allowlists`;
  }, 60_000);

  afterAll(async () => {
    await proxiedServer?.stop();
    await direct?.stop();
  });

  it('lists start empty and show the caller address', async () => {
    const lists = await api(direct, 'GET', base, { token });
    expect(lists.status).toBe(200);
    expect(lists.body.admin).toEqual([]);
    expect(lists.body.api_key).toEqual([]);
    expect(lists.body.yourAddress).toBe('127.0.0.1');
  });

  it('rejects a list that locks the caller out', async () => {
    const response = await api(direct, 'PUT', `${base}/admin`, {
      token,
      body: { entries: [{ cidr: '203.0.113.0/24' }] },
    });
    expectAdminError(response, 400, 'validation_failed');
    const details = response.body.details as { field: string; message: string }[];
    expect(details[0]?.field).toBe('entries');
    expect(details[0]?.message).toContain('127.0.0.1');
  });

  it('rejects invalid entries with field details', async () => {
    const response = await api(direct, 'PUT', `${base}/admin`, {
      token,
      body: { entries: [{ cidr: '127.0.0.1/8' }, { cidr: 'nonsense' }] },
    });
    expectAdminError(response, 400, 'validation_failed');
    const fields = (response.body.details as { field: string }[]).map((d) => d.field);
    expect(fields).toEqual(['entries.0.cidr', 'entries.1.cidr']);
    expectAdminError(
      await api(direct, 'PUT', `${base}/elsewhere`, { token, body: { entries: [] } }),
      404,
      'not_found',
    );
  });

  it('X-Forwarded-For from an untrusted peer is ignored', async () => {
    const set = await api(
      proxied,
      'PUT',
      `${base}/admin`,
      from('203.0.113.7', {
        body: {
          entries: [{ cidr: '203.0.113.0/24', description: 'office' }, { cidr: '2001:db8::/32' }],
        },
      }),
    );
    expect(set.status).toBe(200);

    // The direct server takes 127.0.0.1 as the client address whatever the header says.
    expectAdminError(await api(direct, 'GET', base, from('203.0.113.7')), 403, 'ip_not_allowed');
    expectAdminError(await api(direct, 'GET', base, { token }), 403, 'ip_not_allowed');

    expect((await api(proxied, 'GET', base, from('203.0.113.7'))).status).toBe(200);
    expect((await api(proxied, 'GET', base, from('2001:db8::5'))).status).toBe(200);
    expect((await api(proxied, 'GET', base, from('::ffff:203.0.113.9'))).status).toBe(200);
    expectAdminError(await api(proxied, 'GET', base, from('198.51.100.1')), 403, 'ip_not_allowed');
    expectAdminError(await api(proxied, 'GET', base, from('2001:db9::1')), 403, 'ip_not_allowed');

    const entries = await auditEntries(direct.server.db, direct.boot.orgId, 'ip_allowlist.update');
    expect(entries.length).toBeGreaterThan(0);
    const unscoped = await direct.server.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM ip_allowlist_entries',
    );
    expect(unscoped.rows[0]?.n).toBe(0);

    const cleared = await api(
      proxied,
      'PUT',
      `${base}/admin`,
      from('203.0.113.7', { body: { entries: [] } }),
    );
    expect(cleared.status).toBe(200);
    expect((await api(direct, 'GET', base, { token })).status).toBe(200);
  });

  it('API keys are limited to their list', async () => {
    const set = await api(direct, 'PUT', `${base}/api_key`, {
      token,
      body: { entries: [{ cidr: '203.0.113.0/24' }] },
    });
    expect(set.status).toBe(200);

    const call = (server: TestServer, address: string) =>
      fetch(`${server.url}/v1/messages`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-api-key': apiKey,
          'anthropic-version': '2023-06-01',
          'x-forwarded-for': address,
        },
        body: JSON.stringify({
          model: 'claude-sonnet-4-5',
          max_tokens: 16,
          messages: [{ role: 'user', content: 'Hello' }],
        }),
      });

    const ignored = await call(direct, '203.0.113.7');
    expect(ignored.status).toBe(403);
    const body = (await ignored.json()) as { type: string; error: { type: string } };
    expect(body.type).toBe('error');
    expect(body.error.type).toBe('permission_error');

    expect((await call(proxied, '203.0.113.7')).status).toBe(200);
    expect((await call(proxied, '198.51.100.1')).status).toBe(403);
  });
});
