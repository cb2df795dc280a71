import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { anthropicCall, newApiKey, startServerPair, type ServerPair } from './servers.js';

// Limits large enough to be leased: at 5 %, each server leases 10 requests or 1,000 tokens of
// a key's limit at a time and spends them without asking Redis.
const KEY_LIMIT = 200;
const TOKEN_LIMIT = 20_000;
const LEASE_PERCENT = 5;
const KEY_LEASE = (KEY_LIMIT * LEASE_PERCENT) / 100;
const TOKEN_LEASE = (TOKEN_LIMIT * LEASE_PERCENT) / 100;
const USER_AGENT = 'leased-limit-test';

let pair: ServerPair;

beforeAll(async () => {
  pair = await startServerPair({
    RATE_LIMIT_KEY_MAX: String(KEY_LIMIT),
    RATE_LIMIT_KEY_TOKENS: String(TOKEN_LIMIT),
    RATE_LIMIT_REDIS_LEASE_PERCENT: String(LEASE_PERCENT),
  });
});

afterAll(async () => {
  await pair?.stop();
});

function urlOf(i: number): string {
  return i % 2 === 0 ? pair.urls[0] : pair.urls[1];
}

describe('leased per-key limits across two servers', () => {
  it('rounds of 50 parallel requests never pass the limit', async () => {
    const apiKey = await newApiKey(pair.first);
    const statuses: number[] = [];
    for (let round = 0; round < 6; round++) {
      const responses = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          fetch(`${urlOf(i)}/v1/models`, {
            headers: { 'x-api-key': apiKey, 'user-agent': USER_AGENT },
          }),
        ),
      );
      for (const response of responses) {
        statuses.push(response.status);
        await response.arrayBuffer();
      }
    }
    const passed = statuses.filter((status) => status === 200).length;
    expect(passed).toBeLessThanOrEqual(KEY_LIMIT);
    // Each server can hold one unspent lease (and one refill) when the limit is reached.
    expect(passed).toBeGreaterThanOrEqual(KEY_LIMIT - 4 * KEY_LEASE);
    expect(statuses.filter((status) => status !== 200 && status !== 429)).toEqual([]);
  });

  it('token reservations stop a burst at the limit', async () => {
    const apiKey = await newApiKey(pair.first);
    // The provider responds after 1.5 s, so every call reserves before any settles.
    pair.first.fake.behavior = { kind: 'delay', ms: 1500 };
    try {
      const responses = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          anthropicCall(urlOf(i), apiKey, { maxTokens: 1000, userAgent: USER_AGENT }),
        ),
      );
      const statuses = responses.map((response) => response.status);
      for (const response of responses) await response.arrayBuffer();
      const passed = statuses.filter((status) => status === 200).length;
      // Each call reserves max_tokens = 1,000 of the 20,000-token limit.
      expect(passed).toBeLessThanOrEqual(TOKEN_LIMIT / 1000);
      expect(passed).toBeGreaterThanOrEqual((TOKEN_LIMIT - 4 * TOKEN_LEASE) / 1000);
      expect(statuses.filter((status) => status !== 200 && status !== 429)).toEqual([]);
    } finally {
      pair.first.fake.behavior = { kind: 'normal' };
    }
  });
});
