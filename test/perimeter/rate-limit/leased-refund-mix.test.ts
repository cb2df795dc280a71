import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { LeasedRateLimitStore } from '../../../src/perimeter/rate-limit/leased-store.js';
import { RedisRateLimitStore } from '../../../src/perimeter/rate-limit/redis-store.js';
import type { WindowRule } from '../../../src/perimeter/rate-limit/sliding-window.js';
import { REDIS_URL, uniquePrefix } from './servers.js';

// An hour-long window, so that every unit of the run is counted in the same window.
const TOKENS: WindowRule = { name: 'tokens', limit: 50_000, windowMs: 3_600_000 };
const STEPS = 400;
const SEEDS = [20_261_205, 1, 2, 3, 4];

let redis: Redis;

beforeAll(() => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
});

afterAll(() => {
  redis.disconnect();
});

/** Returns a pseudo-random generator in [0, 1) with a fixed seed (mulberry32). */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Process {
  store: LeasedRateLimitStore;
  clock: { offset: number };
}

/** A reservation still held, as the gateway's TokenReservation keeps it. */
interface Held {
  process: Process;
  window: number;
  amount: number;
}

describe('leased store with reservations and refunds', () => {
  it.each(SEEDS)('two processes keep net tokens within the limit, seed %i', async (seed) => {
    const prefix = uniquePrefix();
    const storageKey = `${prefix}${TOKENS.name}:${TOKENS.windowMs}:k`;
    const processes: Process[] = [0, 1].map(() => {
      const clock = { offset: 0 };
      const store = new LeasedRateLimitStore(new RedisRateLimitStore(redis, prefix), {
        percent: 10,
        rules: new Set(['tokens']),
        lifetimeMs: 1000,
        maxLeases: 100,
        now: () => performance.now() + clock.offset,
      });
      return { store, clock };
    });
    const random = seededRandom(seed);
    const held: Held[] = [];
    // Tokens reserved and not refunded: what the limit must bound.
    let net = 0;
    let refused = 0;

    for (let step = 0; step < STEPS; step++) {
      const process = processes[Math.floor(random() * processes.length)];
      if (!process) throw new Error('no process');
      const choice = random();
      if (choice < 0.55 || held.length === 0) {
        // Reserve between 1 and 3,000 tokens, a few calls at once.
        const costs = Array.from({ length: 1 + Math.floor(random() * 4) }, () =>
          Math.max(1, Math.floor(random() * 3000)),
        );
        const results = await Promise.all(
          costs.map((cost) => process.store.consume(TOKENS, 'k', cost)),
        );
        results.forEach((counts, i) => {
          const amount = costs[i] ?? 0;
          if (!counts.allowed) {
            refused += 1;
            return;
          }
          net += amount;
          held.push({ process, window: counts.window, amount });
        });
      } else if (choice < 0.95) {
        // Settle a held reservation at a random part of it, refunding the rest to the store
        // that reserved it.
        const index = Math.floor(random() * held.length);
        const [reservation] = held.splice(index, 1);
        if (!reservation) throw new Error('no reservation');
        const refund = Math.floor(random() * (reservation.amount + 1));
        await reservation.process.store.adjust(TOKENS, 'k', reservation.window, -refund);
        net -= refund;
      } else {
        // Let the process's leases expire.
        process.clock.offset += 1500;
      }

      const counted = Object.values(await redis.hgetall(storageKey)).reduce(
        (sum, value) => sum + Number(value),
        0,
      );
      expect(net, `step ${step}`).toBeLessThanOrEqual(TOKENS.limit);
      expect(counted, `step ${step}`).toBeGreaterThanOrEqual(net);
      expect(counted, `step ${step}`).toBeLessThanOrEqual(TOKENS.limit);
    }

    // The run reaches the limit, so refusals were tested too.
    expect(refused).toBeGreaterThan(0);

    // Every unit not spent goes back on close, so Redis counts exactly the net tokens.
    for (const process of processes) await process.store.close();
    const fields = await redis.hgetall(storageKey);
    const final = Object.values(fields).reduce((sum, value) => sum + Number(value), 0);
    expect(final).toBe(net);
  });
});
