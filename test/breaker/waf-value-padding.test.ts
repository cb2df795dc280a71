import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer } from '../support/test-server.js';
import { eventsOfRequest, requestIdOf } from '../monitoring/security-events/stored-events.js';

// The WAF inspects at most 1,024 values per request and JSON nested 32 levels deep. Values past
// either limit are not inspected, so a request past them must be blocked, or padding hides an attack.
const ATTACK = { email: "' OR 1=1--", password: '<script>alert(1)</script>' };

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer();
});

afterAll(async () => {
  await t?.stop();
});

async function signIn(query: string, body: unknown): Promise<Response> {
  return fetch(`${t.url}/api/v1/auth/login${query}`, {
    method: 'POST',
    headers: { 'user-agent': 'value-padding-test', 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

describe('WAF value limits', () => {
  it('blocks a body behind a padded query', async () => {
    const padding = Array.from({ length: 520 }, (_, i) => `p${i}=1`).join('&');
    const response = await signIn(`?${padding}`, ATTACK);
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ code: 'waf_blocked' });
    const events = await eventsOfRequest(t, requestIdOf(response));
    expect(events[0]?.ruleIds).toContain('920380');
  });

  it('blocks a body behind a padded array', async () => {
    const response = await signIn('', {
      padding: Array.from({ length: 1100 }, () => 1),
      ...ATTACK,
    });
    expect(response.status).toBe(403);
  });

  it('blocks JSON nested past the walked depth', async () => {
    let nested: unknown = ATTACK.password;
    for (let level = 0; level < 40; level++) nested = [nested];
    const response = await signIn('', { email: 'a@example.com', password: nested });
    expect(response.status).toBe(403);
  });

  it('lets a harmless request under the limits through', async () => {
    const padding = Array.from({ length: 100 }, (_, i) => `p${i}=1`).join('&');
    const response = await signIn(`?${padding}`, { email: 'a@example.com', password: 'x' });
    expect(response.status).not.toBe(403);
  });
});
