import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer } from '../../support/test-server.js';
import { closedPort, newApiKey } from './servers.js';

const USER_AGENT = 'rate-limit-test';

function login(url: string) {
  return fetch(`${url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': USER_AGENT },
    body: JSON.stringify({ email: 'nobody@example.com', password: 'Wrong-Passw0rd!' }),
  });
}

describe('Redis unreachable, failure mode closed', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer({
      env: {
        REDIS_URL: `redis://127.0.0.1:${await closedPort()}`,
        RATE_LIMIT_IP_MAX: '2000',
        RATE_LIMIT_AUTH_MAX: '10',
      },
    });
  });

  afterAll(async () => {
    await t?.stop();
  });

  it('sign-in fails closed with 503', async () => {
    const response = await login(t.url);
    expect(response.status).toBe(503);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body.code).toBe('service_unavailable');
    expect(body.error).toContain('rate-limit store is unreachable');
  });

  it('gateway fails closed in the provider shape', async () => {
    const response = await fetch(`${t.url}/v1/models`, {
      headers: { 'x-api-key': t.boot.apiKey, 'user-agent': USER_AGENT },
    });
    expect(response.status).toBe(503);
    const body = (await response.json()) as { error: { message: string } };
    expect(body.error.message).toContain('rate-limit store is unreachable');
  });

  it('health probes still answer', async () => {
    const response = await fetch(`${t.url}/healthz`);
    expect(response.status).toBe(200);
  });

  it('log names no secret and one failure', () => {
    const failures = t.logLines.filter((line) => line.includes('rate-limit store failed'));
    expect(failures.length).toBeGreaterThanOrEqual(1);
    expect(t.logLines.filter((line) => line.includes('redis connection failed'))).toHaveLength(1);
  });
});

describe('Redis unreachable, failure mode open', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer({
      env: {
        REDIS_URL: `redis://:not-logged-secret@127.0.0.1:${await closedPort()}`,
        RATE_LIMIT_REDIS_FAILURE: 'open',
        RATE_LIMIT_IP_MAX: '8',
        RATE_LIMIT_AUTH_MAX: '10',
      },
    });
  });

  afterAll(async () => {
    await t?.stop();
  });

  it('sign-in still fails closed', async () => {
    const response = await login(t.url);
    expect(response.status).toBe(503);
    await response.arrayBuffer();
  });

  it('other routes fall back to process memory limits', async () => {
    const apiKey = await newApiKey(t);
    const statuses: number[] = [];
    for (let i = 0; i < 9; i++) {
      const response = await fetch(`${t.url}/v1/models`, {
        headers: { 'x-api-key': apiKey, 'user-agent': USER_AGENT },
      });
      statuses.push(response.status);
      await response.arrayBuffer();
    }
    // The sign-in attempt above used one of the 8 requests of the per-IP limit.
    expect(statuses.slice(0, 7)).toEqual([200, 200, 200, 200, 200, 200, 200]);
    expect(statuses.slice(7)).toEqual([429, 429]);
  });

  it('logs do not contain the Redis password', () => {
    expect(t.logLines.join('\n')).not.toContain('not-logged-secret');
  });
});
