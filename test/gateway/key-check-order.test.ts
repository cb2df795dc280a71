import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { generateApiKey } from '../../src/tenancy/api-keys/api-key-secret.js';
import { insertApiKey } from '../../src/tenancy/api-keys/api-key.repository.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

const USER_AGENT = 'key-check-order-test';
// The request window is short, so a test can wait for the next one within the token window.
const REQUEST_WINDOW_SECONDS = 1;

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer({
    env: {
      RATE_LIMIT_KEY_WINDOW_SECONDS: String(REQUEST_WINDOW_SECONDS),
      RATE_LIMIT_KEY_TOKEN_WINDOW_SECONDS: '3600',
    },
  });
});

afterAll(async () => {
  await t?.stop();
});

async function keyWithLimits(requestLimit: number, tokenLimit: number | null): Promise<string> {
  const generated = generateApiKey();
  await insertApiKey(t.owner, {
    orgId: t.boot.orgId,
    projectId: t.boot.projectId,
    name: `order-${randomBytes(4).toString('hex')}`,
    hash: generated.hash,
    prefix: generated.prefix,
    lastFour: generated.lastFour,
    createdBy: null,
    expiresAt: null,
    requestLimit,
    tokenLimit,
  });
  return generated.secret;
}

async function call(apiKey: string, body: unknown): Promise<{ status: number; text: string }> {
  const response = await fetch(`${t.url}/v1/messages`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-api-key': apiKey,
      'anthropic-version': '2023-06-01',
      'user-agent': USER_AGENT,
    },
    body: JSON.stringify(body),
  });
  return { status: response.status, text: await response.text() };
}

function message(maxTokens: number, model = 'claude-sonnet-4-5') {
  return { model, max_tokens: maxTokens, messages: [{ role: 'user', content: 'Say hello' }] };
}

describe('gateway key check order', () => {
  it('request limit 429 precedes other rejections', async () => {
    const apiKey = await keyWithLimits(1, null);
    const first = await call(apiKey, { model: 'claude-sonnet-4-5' });
    expect(first.status).toBe(400);

    const invalid = await call(apiKey, { model: 'claude-sonnet-4-5' });
    expect(invalid.status).toBe(429);
    const disallowed = await call(apiKey, message(10, 'not-a-permitted-model'));
    expect(disallowed.status).toBe(429);
    const valid = await call(apiKey, message(10));
    expect(valid.status).toBe(429);
  });

  it('returns reservation when key check fails', async () => {
    const apiKey = await keyWithLimits(1, 100);
    const first = await call(apiKey, message(60));
    expect(first.status).toBe(200);

    // Over the request limit: the 60 tokens reserved for this call must be given back.
    const rejected = await call(apiKey, message(60));
    expect(rejected.status).toBe(429);
    expect(rejected.text).not.toContain('token limit');

    await sleep(REQUEST_WINDOW_SECONDS * 1000 * 2 + 200);
    const next = await call(apiKey, message(60));
    expect(next.text).not.toContain('token limit');
    expect(next.status).toBe(200);
  });
});
