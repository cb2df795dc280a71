import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  anthropicCall,
  newApiKey,
  REDIS_URL,
  startServerPair,
  uniquePrefix,
  type ServerPair,
} from './servers.js';

// At 5 %, each server leases 1,000 tokens of the key's 20,000-token limit at a time.
const TOKEN_LIMIT = 20_000;
const MAX_TOKENS = 1000;
// The fake provider reports 12 input and 5 output tokens for every non-streaming message.
const USED_TOKENS = 17;
const USER_AGENT = 'leased-token-settle-test';

let pair: ServerPair;
let stopped = false;
let redis: Redis;
const prefix = uniquePrefix();

beforeAll(async () => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  pair = await startServerPair({
    RATE_LIMIT_REDIS_PREFIX: prefix,
    RATE_LIMIT_KEY_TOKENS: String(TOKEN_LIMIT),
    RATE_LIMIT_REDIS_LEASE_PERCENT: '5',
  });
});

afterAll(async () => {
  if (!stopped) await pair?.stop();
  redis.disconnect();
});

function message(url: string, apiKey: string): Promise<Response> {
  return anthropicCall(url, apiKey, { maxTokens: MAX_TOKENS, userAgent: USER_AGENT });
}

/** Returns the tokens Redis counts for every key under the token rule, summed. */
async function tokensCounted(): Promise<number> {
  const keys = await redis.keys(`${prefix}tokens:*`);
  let total = 0;
  for (const key of keys) {
    const fields = await redis.hgetall(key);
    for (const value of Object.values(fields)) total += Number(value);
  }
  return total;
}

describe('leased token limits with settlement', () => {
  it('settled refunds return through leases to Redis', async () => {
    const apiKey = await newApiKey(pair.first);
    const statuses: number[] = [];
    // 12 rounds of 12 parallel calls reserve 144,000 tokens in all, far above the limit, but
    // each call is settled at 17 tokens, so every one of them fits.
    for (let round = 0; round < 12; round++) {
      const responses = await Promise.all(
        Array.from({ length: 12 }, (_, i) => message(pair.urls[i % 2] ?? '', apiKey)),
      );
      for (const response of responses) {
        statuses.push(response.status);
        await response.arrayBuffer();
      }
    }
    expect(statuses.filter((status) => status !== 200)).toEqual([]);

    // Stopping both servers gives their unspent units back, so Redis counts what was used.
    stopped = true;
    await pair.stop();
    expect(await tokensCounted()).toBe(statuses.length * USED_TOKENS);
  });
});
