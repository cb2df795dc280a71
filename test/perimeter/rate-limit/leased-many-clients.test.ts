import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { LeasedRateLimitStore } from '../../../src/perimeter/rate-limit/leased-store.js';
import { RedisRateLimitStore } from '../../../src/perimeter/rate-limit/redis-store.js';
import type { WindowRule } from '../../../src/perimeter/rate-limit/sliding-window.js';
import { startServerPair, REDIS_URL, uniquePrefix, type ServerPair } from './servers.js';

// An hour-long window, so that no test runs across a window boundary.
const RULE: WindowRule = { name: 'ip', limit: 1000, windowMs: 3_600_000 };
const CLIENTS = 300;
const CALLS_PER_CLIENT = 3;
const USER_AGENT = 'leased-many-clients-test';

let redis: Redis;

beforeAll(() => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
});

afterAll(() => {
  redis.disconnect();
});

/** Returns the total units Redis counts for each key under `prefix`, by storage key. */
async function countsUnder(prefix: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const fields = await redis.hgetall(key);
      counts.set(
        key,
        Object.values(fields).reduce((sum, value) => sum + Number(value), 0),
      );
    }
  } while (cursor !== '0');
  return counts;
}

/** Runs `tasks` with at most `limit` of them at a time. */
async function runLimited(tasks: (() => Promise<void>)[], limit: number): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: limit }, async () => {
    while (next < tasks.length) {
      const task = tasks[next];
      next += 1;
      await task?.();
    }
  });
  await Promise.all(lanes);
}

describe('leased store with many distinct keys', () => {
  it('keeps maxLeases and leaks no leased unit', async () => {
    const prefix = uniquePrefix();
    const store = new LeasedRateLimitStore(new RedisRateLimitStore(redis, prefix), {
      percent: 1,
      rules: new Set(['ip']),
      lifetimeMs: 1000,
      maxLeases: 100,
    });
    const keys = Array.from({ length: CLIENTS }, (_, i) => `10.0.${i >> 8}.${i & 255}`);
    let maxSize = 0;
    await Promise.all(
      keys.map(async (key) => {
        for (let call = 0; call < CALLS_PER_CLIENT; call++) {
          const counts = await store.consume(RULE, key, 1);
          expect(counts.allowed).toBe(true);
          maxSize = Math.max(maxSize, store.size);
        }
      }),
    );
    expect(maxSize).toBeLessThanOrEqual(100);
    await store.close();
    expect(store.size).toBe(0);

    // Every key counts exactly its calls: units leased past the cap, and those unspent at
    // close, were all given back.
    const counts = await countsUnder(prefix);
    expect(counts.size).toBe(CLIENTS);
    for (const [key, units] of counts) expect(units, key).toBe(CALLS_PER_CLIENT);
  });
});

describe('per-IP leases for many forwarded client addresses', () => {
  let pair: ServerPair;
  let stopped = false;
  const prefix = uniquePrefix();

  beforeAll(async () => {
    pair = await startServerPair({
      RATE_LIMIT_REDIS_PREFIX: prefix,
      TRUSTED_PROXIES: '127.0.0.1',
      RATE_LIMIT_IP_MAX: String(RULE.limit),
      RATE_LIMIT_MEMORY_MAX_KEYS: '100',
      RATE_LIMIT_REDIS_LEASE_PERCENT: '1',
    });
  });

  afterAll(async () => {
    if (!stopped) await pair?.stop();
  });

  it('counts each client exactly once per call', async () => {
    const statuses: number[] = [];
    const tasks = Array.from({ length: CLIENTS * CALLS_PER_CLIENT }, (_, i) => async () => {
      const client = i % CLIENTS;
      const response = await fetch(`${pair.urls[i % 2]}/healthz`, {
        headers: {
          'user-agent': USER_AGENT,
          'x-forwarded-for': `10.1.${client >> 8}.${client & 255}`,
        },
      });
      statuses.push(response.status);
      await response.arrayBuffer();
    });
    await runLimited(tasks, 50);
    expect(statuses.filter((status) => status !== 200)).toEqual([]);

    // Stopping both servers gives back every unit they leased ahead.
    stopped = true;
    await pair.stop();
    const counts = await countsUnder(`${prefix}ip:`);
    expect(counts.size).toBe(CLIENTS);
    for (const [key, units] of counts) expect(units, key).toBe(CALLS_PER_CLIENT);
  });
});
