import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer } from '../support/test-server.js';
import { eventsOfRequest, requestIdOf } from '../monitoring/security-events/stored-events.js';

// A password that the SQL injection rules would match if password values were inspected.
const TYPED_PASSWORD = "Tr0ub4dor' OR '1'='1";

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer();
});

afterAll(async () => {
  await t?.stop();
});

async function blocked(path: string, body: unknown): Promise<Response> {
  const response = await fetch(`${t.url}${path}`, {
    method: 'POST',
    headers: { 'user-agent': 'credential-sample-test', 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(403);
  return response;
}

describe('WAF sample of a credential field', () => {
  it('does not inspect a password typed at sign-in', async () => {
    // Password values are excluded from every rule, so the sign-in fails on the password alone
    // and nothing about the value reaches the security events.
    const response = await fetch(`${t.url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'user-agent': 'credential-sample-test', 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'alice@example.com', password: TYPED_PASSWORD }),
    });
    expect(response.status).toBe(401);
    const events = await eventsOfRequest(t, requestIdOf(response));
    expect(events.filter((event) => event.location === 'body:$.password')).toEqual([]);
  });

  it('does not store a nested secret field', async () => {
    const response = await blocked('/api/v1/auth/login', {
      sso: { clientSecret: "s3cr3t' UNION SELECT 1--" },
    });
    const events = await eventsOfRequest(t, requestIdOf(response));
    expect(events[0]?.location).toBe('body:$.sso.clientSecret');
    expect(events[0]?.sample).toBe('[secret]');
  });

  it('keeps the sample of other fields', async () => {
    const response = await blocked('/api/v1/auth/login', { email: "x' OR '1'='1" });
    const events = await eventsOfRequest(t, requestIdOf(response));
    expect(events[0]?.sample).toBe("x' OR '1'='1");
  });
});
