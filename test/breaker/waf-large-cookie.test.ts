import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer } from '../support/test-server.js';

// With MAX_HEADER_BYTES raised, a Cookie header can pass the 16 KiB up to which the WAF
// splits it into cookies. The WAF skips the `cookie` header itself, so it must read such a
// header whole instead of not at all.
let t: TestServer;

beforeAll(async () => {
  t = await startTestServer({ env: { MAX_HEADER_BYTES: String(64 * 1024) } });
});

afterAll(async () => {
  await t?.stop();
});

function withCookie(cookie: string): Promise<Response> {
  return fetch(`${t.url}/healthz`, { headers: { 'user-agent': 'large-cookie-test', cookie } });
}

describe('WAF on a large Cookie header', () => {
  it('blocks an attack in a cookie past 16 KiB', async () => {
    const response = await withCookie(`pad=${'a'.repeat(17 * 1024)}; q=<script>alert(1)</script>`);
    expect(response.status).toBe(403);
  });

  it('lets a harmless large cookie through', async () => {
    const response = await withCookie(`pad=${'a'.repeat(17 * 1024)}; theme=dark`);
    expect(response.status).toBe(200);
  });
});
