import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';

import { LeasedRateLimitStore } from '../../../src/perimeter/rate-limit/leased-store.js';
import { RedisRateLimitStore } from '../../../src/perimeter/rate-limit/redis-store.js';
import type { WindowRule } from '../../../src/perimeter/rate-limit/sliding-window.js';
import { REDIS_URL, uniquePrefix } from './servers.js';

// One-second windows, the shortest the configuration allows, so a run crosses several.
const RULE: WindowRule = { name: 'key', limit: 300, windowMs: 1000 };
// 10 %, the largest share allowed: each process leases 30 units at a time.
const PERCENT = 10;
const LEASE = (RULE.limit * PERCENT) / 100;
const RUN_MS = 4500;
const WORKERS_PER_PROCESS = 20;

const clients: Redis[] = [];

afterAll(() => {
  for (const client of clients) client.disconnect();
});

/** Creates a leased store with its own Redis connection, as a separate server process has. */
function processStore(prefix: string): LeasedRateLimitStore {
  const client = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  clients.push(client);
  return new LeasedRateLimitStore(new RedisRateLimitStore(client, prefix), {
    percent: PERCENT,
    rules: new Set(['key']),
    lifetimeMs: 1000,
    maxLeases: 100,
  });
}

/** Adds `units` to the entry of `window` in `tally`. */
function addTo(tally: Map<number, number>, window: number, units: number): void {
  tally.set(window, (tally.get(window) ?? 0) + units);
}

describe('leased store across window boundaries', () => {
  it('two processes never spend more than Redis counted', async () => {
    const prefix = uniquePrefix();
    const observer = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    clients.push(observer);
    const storageKey = `${prefix}${RULE.name}:${RULE.windowMs}:k`;
    const stores = [processStore(prefix), processStore(prefix)];

    // Units each request was admitted in, by the window the store reported for it.
    const spent = new Map<number, number>();
    // Last count Redis held for each window. A window's field is deleted two windows later,
    // and give-backs reach it only in the next window, so the last value read is its final count.
    const counted = new Map<number, number>();
    let running = true;

    const poller = (async () => {
      while (running) {
        const fields = await observer.hgetall(storageKey);
        for (const [field, value] of Object.entries(fields)) counted.set(Number(field), +value);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();

    const worker = async (store: LeasedRateLimitStore) => {
      while (running) {
        const counts = await store.consume(RULE, 'k', 1);
        if (counts.allowed) addTo(spent, counts.window, 1);
        await new Promise((resolve) => setImmediate(resolve));
      }
    };
    const workers = stores.flatMap((store) =>
      Array.from({ length: WORKERS_PER_PROCESS }, () => worker(store)),
    );

    await new Promise((resolve) => setTimeout(resolve, RUN_MS));
    running = false;
    await Promise.all(workers);
    for (const store of stores) await store.close();
    await poller;
    const fields = await observer.hgetall(storageKey);
    for (const [field, value] of Object.entries(fields)) counted.set(Number(field), +value);

    const windows = [...spent.keys()].sort((a, b) => a - b);
    expect(windows.length).toBeGreaterThanOrEqual(4);
    for (const window of windows) {
      const units = spent.get(window) ?? 0;
      expect(units, `window ${window}`).toBeLessThanOrEqual(counted.get(window) ?? 0);
      expect(units, `window ${window}`).toBeLessThanOrEqual(RULE.limit);
    }
    // Full windows in the middle of the run: under constant demand each one fills up to the
    // limit, less at most one lease and one refill per process held at its end.
    for (const window of windows.slice(1, -1)) {
      expect(spent.get(window), `window ${window}`).toBeGreaterThanOrEqual(
        RULE.limit - 2 * 2 * LEASE,
      );
    }
  });
});
