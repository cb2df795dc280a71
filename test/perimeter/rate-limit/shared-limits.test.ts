import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { anthropicCall, newApiKey, startServerPair, type ServerPair } from './servers.js';

const USER_AGENT = 'rate-limit-test';
const KEY_LIMIT = 20;
const TOKEN_LIMIT = 100;
const AUTH_LIMIT = 5;

let pair: ServerPair;

beforeAll(async () => {
  pair = await startServerPair({
    RATE_LIMIT_KEY_MAX: String(KEY_LIMIT),
    RATE_LIMIT_KEY_TOKENS: String(TOKEN_LIMIT),
    RATE_LIMIT_AUTH_MAX: String(AUTH_LIMIT),
  });
});

afterAll(async () => {
  await pair?.stop();
});

/** Returns the URL of the first server for even `i` and of the second for odd `i`. */
function urlOf(i: number): string {
  return i % 2 === 0 ? pair.urls[0] : pair.urls[1];
}

function message(url: string, apiKey: string, maxTokens: number, stream = false) {
  return anthropicCall(url, apiKey, { maxTokens, stream, userAgent: USER_AGENT });
}

describe('per-key request limit across two servers', () => {
  it('50 parallel requests admit exactly the limit', async () => {
    const apiKey = await newApiKey(pair.first);
    const responses = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        fetch(`${urlOf(i)}/v1/models`, {
          headers: { 'x-api-key': apiKey, 'user-agent': USER_AGENT },
        }),
      ),
    );
    const statuses = responses.map((response) => response.status);
    expect(statuses.filter((status) => status === 200)).toHaveLength(KEY_LIMIT);
    expect(statuses.filter((status) => status === 429)).toHaveLength(50 - KEY_LIMIT);

    const allowed = responses.find((response) => response.status === 200);
    expect(allowed?.headers.get('ratelimit-limit')).toBe(String(KEY_LIMIT));
    expect(allowed?.headers.get('ratelimit-remaining')).toMatch(/^[0-9]+$/);

    const limited = responses.find((response) => response.status === 429);
    expect(limited?.headers.get('retry-after')).toMatch(/^[1-9][0-9]*$/);
    expect(limited?.headers.get('ratelimit-limit')).toBe(String(KEY_LIMIT));
    expect(limited?.headers.get('ratelimit-remaining')).toBe('0');
    expect(limited?.headers.get('ratelimit-reset')).toMatch(/^[1-9][0-9]*$/);
    // The key came in x-api-key, Anthropic's header, so /v1/models responds in Anthropic's shape.
    const body = (await limited?.json()) as { type: string; error: { type: string } };
    expect(body.type).toBe('error');
    expect(body.error.type).toBe('rate_limit_error');
    for (const response of responses) await response.arrayBuffer().catch(() => undefined);
  });
});

describe('per-key token reservation across two servers', () => {
  it('parallel burst stops at the token limit', async () => {
    const apiKey = await newApiKey(pair.first);
    // The provider responds after 1.5 s, so every call reserves before any settles.
    pair.first.fake.behavior = { kind: 'delay', ms: 1500 };
    try {
      const responses = await Promise.all(
        Array.from({ length: 20 }, (_, i) => message(urlOf(i), apiKey, 10)),
      );
      const statuses = responses.map((response) => response.status);
      // Each call reserves max_tokens = 10 of the 100-token limit.
      expect(statuses.filter((status) => status === 200)).toHaveLength(TOKEN_LIMIT / 10);
      expect(statuses.filter((status) => status === 429)).toHaveLength(20 - TOKEN_LIMIT / 10);

      const limited = responses.find((response) => response.status === 429);
      expect(limited?.headers.get('retry-after')).toMatch(/^[1-9][0-9]*$/);
      const body = (await limited?.json()) as { type: string; error: { type: string } };
      expect(body.type).toBe('error');
      expect(body.error.type).toBe('rate_limit_error');
      for (const response of responses) await response.arrayBuffer().catch(() => undefined);
    } finally {
      pair.first.fake.behavior = { kind: 'normal' };
    }
  });

  it('settled usage blocks the next call', async () => {
    const apiKey = await newApiKey(pair.first);
    // Each call uses 12 input + 5 output tokens: five calls settle to 85 of 100.
    for (let i = 0; i < 5; i++) {
      const response = await message(urlOf(i), apiKey, 10);
      expect(response.status).toBe(200);
      await response.arrayBuffer();
    }
    const over = await message(pair.urls[0], apiKey, 20);
    expect(over.status).toBe(429);
    await over.arrayBuffer();
    const fits = await message(pair.urls[1], apiKey, 15);
    expect(fits.status).toBe(200);
    await fits.arrayBuffer();
  });

  it('stream past its reservation ends with an error event', async () => {
    const apiKey = await newApiKey(pair.first);
    // Five calls of 17 tokens leave 15. The stream reserves 5, grows to 13 when message_start
    // reports 12 input and 1 output token, and cannot grow to 17 at message_delta.
    for (let i = 0; i < 5; i++) {
      const response = await message(pair.urls[0], apiKey, 10);
      await response.arrayBuffer();
    }
    const stream = await message(pair.urls[1], apiKey, 5, true);
    expect(stream.status).toBe(200);
    const text = await stream.text();
    expect(text).toContain('event: error');
    expect(text).toContain('token limit was reached');
    expect(text).not.toContain('message_stop');
  });
});

describe('authentication route limit across two servers', () => {
  it('sign-in attempts stop at the limit', async () => {
    const statuses: number[] = [];
    let limitedBody: Record<string, unknown> = {};
    let retryAfter: string | null = null;
    for (let i = 0; i < AUTH_LIMIT + 3; i++) {
      const response = await fetch(`${urlOf(i)}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': USER_AGENT },
        body: JSON.stringify({ email: `nobody-${i}@example.com`, password: 'Wrong-Passw0rd!' }),
      });
      statuses.push(response.status);
      if (response.status === 429) {
        limitedBody = (await response.json()) as Record<string, unknown>;
        retryAfter = response.headers.get('retry-after');
      } else await response.arrayBuffer();
    }
    expect(statuses.slice(0, AUTH_LIMIT)).not.toContain(429);
    expect(statuses.slice(AUTH_LIMIT)).toEqual([429, 429, 429]);
    expect(limitedBody.code).toBe('rate_limited');
    expect(limitedBody.requestId).toEqual(expect.any(String));
    expect(retryAfter).toMatch(/^[1-9][0-9]*$/);
  });
});
