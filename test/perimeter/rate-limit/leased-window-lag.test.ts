import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { LeasedRateLimitStore } from '../../../src/perimeter/rate-limit/leased-store.js';
import { RedisRateLimitStore } from '../../../src/perimeter/rate-limit/redis-store.js';
import type { WindowRule } from '../../../src/perimeter/rate-limit/sliding-window.js';
import { REDIS_URL, uniquePrefix } from './servers.js';

// A one-second window, the shortest the configuration allows, with 10 % leases of 100 units.
const RULE: WindowRule = { name: 'key', limit: 1000, windowMs: 1000 };

let redis: Redis;

beforeAll(() => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
});

afterAll(() => {
  redis.disconnect();
});

/** Returns the index of the fixed window that Redis's clock is in now. */
async function redisWindow(windowMs: number): Promise<number> {
  const [seconds, micros] = await redis.time();
  const nowMs = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  return Math.floor(nowMs / windowMs);
}

/** Blocks the event loop for `ms`, as a large JSON body or a GC pause does. */
function blockEventLoop(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // Busy wait.
  }
}

/** Waits until Redis's clock is at most `ms` into a fixed window. */
async function waitForWindowStart(windowMs: number, ms: number): Promise<void> {
  for (;;) {
    const [seconds, micros] = await redis.time();
    const nowMs = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    if (nowMs % windowMs <= ms) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('leased store under event-loop lag', () => {
  it('spends no unit after its Redis window ended', async () => {
    const store = new LeasedRateLimitStore(new RedisRateLimitStore(redis, uniquePrefix()), {
      percent: 10,
      rules: new Set(['key']),
      lifetimeMs: 60_000,
      maxLeases: 100,
    });
    try {
      await waitForWindowStart(RULE.windowMs, 50);
      await store.consume(RULE, 'k', 1);
      // The second check leases 100 units. Its reply reaches the store 40 ms after Redis
      // read its clock, because the event loop is busy when the reply arrives.
      const leasing = store.consume(RULE, 'k', 1);
      blockEventLoop(40);
      const leased = await leasing;
      expect(leased.allowed).toBe(true);

      // Wait until Redis is in the next window, then spend from the lease.
      while ((await redisWindow(RULE.windowMs)) === leased.window) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const spent = await store.consume(RULE, 'k', 1);
      const windowNow = await redisWindow(RULE.windowMs);
      expect(spent.allowed).toBe(true);
      // The unit must be counted in the window Redis is in, not in the one that ended.
      expect(spent.window).toBe(windowNow);
    } finally {
      await store.close();
    }
  });
});
