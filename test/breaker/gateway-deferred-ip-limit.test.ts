import { setTimeout as sleep } from 'node:timers/promises';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { generateApiKey } from '../../src/tenancy/api-keys/api-key-secret.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { REDIS_URL, uniquePrefix } from '../perimeter/rate-limit/servers.js';

const USER_AGENT = 'deferred-ip-limit-test';
const BAD_KEY = 'mw_live_000000000000000000000000000000000000000000';

// The per-IP check of the gateway routes is awaited late, together with the per-key check.
// A client over its IP limit must still not reach the key lookup in the database, because the
// IP limit keeps a flood of made-up keys away from PostgreSQL.

function anthropicCall(url: string, apiKey: string, clientIp: string) {
  return fetch(`${url}/v1/messages`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-api-key': apiKey,
      'anthropic-version': '2023-06-01',
      'user-agent': USER_AGENT,
      'x-forwarded-for': clientIp,
    },
    body: JSON.stringify({
      model: 'claude-sonnet-4-5',
      max_tokens: 10,
      messages: [{ role: 'user', content: 'Say hello' }],
    }),
  });
}

function listModels(url: string, apiKey: string, clientIp: string) {
  return fetch(`${url}/v1/models`, {
    headers: { 'x-api-key': apiKey, 'user-agent': USER_AGENT, 'x-forwarded-for': clientIp },
  });
}

/**
 * Sends `send` while another transaction holds an exclusive lock on api_keys, and returns the
 * response status, or 'blocked' when the request waited on the lock until the deadline.
 */
async function statusWhileKeysLocked(
  t: TestServer,
  send: () => Promise<Response>,
): Promise<number | 'blocked'> {
  let response: Promise<Response> | undefined;
  const status = await t.owner.transaction(async (tx) => {
    await tx.query('LOCK TABLE api_keys IN ACCESS EXCLUSIVE MODE');
    response = send();
    return Promise.race([
      response.then((answer) => answer.status),
      sleep(3000).then(() => 'blocked' as const),
    ]);
  });
  await (await response)?.arrayBuffer();
  return status;
}

describe('gateway request over the IP limit', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer({
      env: {
        REDIS_URL,
        RATE_LIMIT_REDIS_PREFIX: uniquePrefix(),
        TRUSTED_PROXIES: '127.0.0.1',
        RATE_LIMIT_IP_MAX: '1',
      },
    });
  });

  afterAll(async () => {
    await t?.stop();
  });

  it('call gets 429 without a key lookup', async () => {
    const clientIp = '198.51.100.40';
    const first = await anthropicCall(t.url, BAD_KEY, clientIp);
    expect(first.status).toBe(401);
    await first.arrayBuffer();

    const unknownKey = generateApiKey().secret;
    const status = await statusWhileKeysLocked(t, () => anthropicCall(t.url, unknownKey, clientIp));

    expect(status).toBe(429);
  });

  it('model list gets 429 without a key lookup', async () => {
    const clientIp = '198.51.100.41';
    const first = await listModels(t.url, BAD_KEY, clientIp);
    expect(first.status).toBe(401);
    await first.arrayBuffer();

    const unknownKey = generateApiKey().secret;
    const status = await statusWhileKeysLocked(t, () => listModels(t.url, unknownKey, clientIp));

    expect(status).toBe(429);
  });

  it('call under the limit still authenticates', async () => {
    const status = await anthropicCall(t.url, generateApiKey().secret, '198.51.100.42').then(
      async (response) => {
        await response.arrayBuffer();
        return response.status;
      },
    );

    expect(status).toBe(401);
  });
});
