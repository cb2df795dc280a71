import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { ownerSession } from '../admin/admin-api.js';
import { sendRaw } from '../perimeter/request-limits/raw-http.js';
import { ADMIN_DATABASE_URL } from '../support/test-database.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

let t: TestServer;
let ownerToken: string;

beforeAll(async () => {
  t = await startTestServer();
  ownerToken = await ownerSession(t);
});

afterEach(() => {
  t.fake.behavior = { kind: 'normal' };
});

afterAll(async () => {
  await t.stop();
});

const EXPECTED_SECURITY_HEADERS: Record<string, string | RegExp> = {
  'content-security-policy': /default-src 'self'.*frame-ancestors 'none'/,
  'strict-transport-security': 'max-age=31536000; includeSubDomains; preload',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'x-xss-protection': /^(0|1; mode=block)$/,
  'referrer-policy': 'strict-origin-when-cross-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=()',
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function expectServerHeaders(response: Response, label: string): void {
  for (const [name, expected] of Object.entries(EXPECTED_SECURITY_HEADERS)) {
    const value = response.headers.get(name);
    if (typeof expected === 'string') expect(value, `${label}: ${name}`).toBe(expected);
    else expect(value, `${label}: ${name}`).toMatch(expected);
  }
  expect(response.headers.get('x-request-id'), label).toMatch(UUID);
  expect(response.headers.get('x-powered-by'), label).toBeNull();
}

const anthropicCall = (body: Record<string, unknown>, key = t.boot.apiKey) =>
  fetch(`${t.url}/v1/messages`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-api-key': key,
      'anthropic-version': '2023-06-01',
    },
    body: JSON.stringify({
      model: 'claude-sonnet-4-5',
      max_tokens: 5,
      messages: [{ role: 'user', content: 'hi' }],
      ...body,
    }),
  });

describe('response headers', () => {
  it('every kind of response carries them', async () => {
    const admin = { authorization: `Bearer ${ownerToken}` };
    const cases: [string, () => Promise<Response>, number][] = [
      ['healthz', () => fetch(`${t.url}/healthz`), 200],
      ['readyz', () => fetch(`${t.url}/readyz`), 200],
      ['admin 200', () => fetch(`${t.url}/api/v1/organizations`, { headers: admin }), 200],
      ['admin 401', () => fetch(`${t.url}/api/v1/organizations`), 401],
      [
        'admin 400',
        () =>
          fetch(`${t.url}/api/v1/auth/login`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: '{',
          }),
        400,
      ],
      ['unknown route 404', () => fetch(`${t.url}/nope`), 404],
      ['malformed URL 400', () => fetch(`${t.url}/api/v1/organizations/%zz`), 400],
      ['gateway 200', () => anthropicCall({}), 200],
      ['gateway 401', () => anthropicCall({}, 'wrong'), 401],
      ['gateway 403', () => anthropicCall({ model: 'claude-opus-4-1' }), 403],
      ['gateway 400', () => anthropicCall({ max_tokens: 0 }), 400],
      ['gateway stream', () => anthropicCall({ stream: true }), 200],
      [
        'models',
        () => fetch(`${t.url}/v1/models`, { headers: { 'x-api-key': t.boot.apiKey } }),
        200,
      ],
    ];
    for (const [label, request, status] of cases) {
      const response = await request();
      await response.arrayBuffer();
      expect(response.status, label).toBe(status);
      expectServerHeaders(response, label);
    }
  });

  it('upstream errors carry them', async () => {
    t.fake.behavior = {
      kind: 'status',
      status: 429,
      body: { type: 'error', error: { type: 'rate_limit_error', message: 'slow down' } },
    };
    const limited = await anthropicCall({});
    await limited.arrayBuffer();
    expect(limited.status).toBe(429);
    expectServerHeaders(limited, 'upstream 429');

    t.fake.behavior = { kind: 'status', status: 401, body: { error: 'bad key' } };
    const denied = await anthropicCall({});
    await denied.arrayBuffer();
    expect(denied.status).toBe(502);
    expectServerHeaders(denied, 'upstream 401 as 502');
  });

  it('streamed response carries them', async () => {
    const response = await anthropicCall({ stream: true });
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const text = await response.text();
    expect(text).toContain('event: message_stop');
    expectServerHeaders(response, 'stream');
  });

  it('request ids are unique per request', async () => {
    const ids = new Set<string | null>();
    for (let i = 0; i < 20; i++) {
      const response = await fetch(`${t.url}/healthz`);
      ids.add(response.headers.get('x-request-id'));
    }
    expect(ids.size).toBe(20);
  });

  it('client request id is not echoed', async () => {
    const response = await fetch(`${t.url}/healthz`, {
      headers: { 'x-request-id': 'attacker-chosen' },
    });
    expect(response.headers.get('x-request-id')).toMatch(UUID);
  });

  it('plain HTTP omits upgrade-insecure-requests', async () => {
    const response = await fetch(`${t.url}/healthz`);
    await response.arrayBuffer();
    const csp = response.headers.get('content-security-policy');
    expect(csp).toContain("default-src 'self'");
    expect(csp).not.toContain('upgrade-insecure-requests');

    // Node rejects an unparsable request before any hook runs, and that response has them too.
    const unparsed = await sendRaw(t.url, 'GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n');
    expect(unparsed.status).toBe(400);
    expect(unparsed.text).toMatch(/content-security-policy: default-src 'self'/i);
    expect(unparsed.text).not.toContain('upgrade-insecure-requests');
  });

  it('admin error requestId matches the header', async () => {
    const response = await fetch(`${t.url}/api/v1/organizations`);
    const body = (await response.json()) as { requestId: string };
    expect(body.requestId).toBe(response.headers.get('x-request-id'));
  });
});

describe('health checks', () => {
  it('healthz and readyz report ok', async () => {
    const health = await fetch(`${t.url}/healthz`);
    expect(await health.json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${t.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
  });

  it('readyz returns 503 without database', async () => {
    const name = new URL(t.config.DATABASE_URL ?? '').pathname.slice(1);
    const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
    await admin.connect();
    try {
      await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
      await admin.query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1',
        [name],
      );
      const down = await fetch(`${t.url}/readyz`);
      expect(down.status).toBe(503);
      expect(await down.json()).toEqual({ status: 'unavailable', reason: 'database unreachable' });
      expectServerHeaders(down, 'readyz 503');
      const health = await fetch(`${t.url}/healthz`);
      expect(health.status).toBe(200);
    } finally {
      await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
      await admin.end();
    }
    const up = await fetch(`${t.url}/readyz`);
    expect(up.status).toBe(200);
  });

  it('admin route during the outage answers 503 and names no internals', async () => {
    const name = new URL(t.config.DATABASE_URL ?? '').pathname.slice(1);
    const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
    await admin.connect();
    try {
      await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
      await admin.query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1',
        [name],
      );
      const response = await fetch(`${t.url}/api/v1/organizations`, {
        headers: { authorization: `Bearer ${ownerToken}` },
      });
      const body = (await response.json()) as Record<string, unknown>;
      expect(response.status).toBe(503);
      expect(body.code).toBe('service_unavailable');
      // Further failures of the same outage are counted, not logged one by one.
      const before = t.logLines.length;
      for (let i = 0; i < 5; i++) {
        const again = await fetch(`${t.url}/api/v1/organizations`, {
          headers: { authorization: `Bearer ${ownerToken}` },
        });
        expect(again.status).toBe(503);
      }
      const errors = t.logLines
        .slice(before)
        .filter((line) => line.includes('the database cannot be reached'));
      expect(errors).toHaveLength(0);
      expect(JSON.stringify(body)).not.toMatch(/connect|database|postgres/i);
    } finally {
      await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
      await admin.end();
    }
  });
});

describe('behind a TLS-ending proxy', () => {
  let proxied: TestServer;

  beforeAll(async () => {
    proxied = await startTestServer({ env: { TRUST_PROXY_TLS: 'true' } });
  });

  afterAll(async () => {
    await proxied.stop();
  });

  it('CSP adds upgrade-insecure-requests', async () => {
    const response = await fetch(`${proxied.url}/healthz`);
    await response.arrayBuffer();
    expect(response.headers.get('content-security-policy')).toMatch(
      /frame-ancestors 'none'.*; upgrade-insecure-requests$/,
    );

    const unparsed = await sendRaw(proxied.url, 'GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n');
    expect(unparsed.status).toBe(400);
    expect(unparsed.text).toContain('upgrade-insecure-requests');
  });
});
