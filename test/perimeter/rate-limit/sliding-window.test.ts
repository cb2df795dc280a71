import { describe, expect, it } from 'vitest';

import { MemoryRateLimitStore } from '../../../src/perimeter/rate-limit/memory-store.js';
import { decide, type WindowRule } from '../../../src/perimeter/rate-limit/sliding-window.js';

const rule: WindowRule = { name: 'test', limit: 10, windowMs: 60_000 };

describe('sliding window decision', () => {
  it('allowed request reports remaining and reset', () => {
    const decision = decide(
      { allowed: true, current: 3, previous: 0, elapsedMs: 15_000, window: 1 },
      rule,
      1,
    );
    expect(decision.allowed).toBe(true);
    expect(decision.remaining).toBe(6);
    expect(decision.resetSeconds).toBe(45);
    expect(decision.retryAfterSeconds).toBe(0);
  });

  it('previous window counts by its overlap', () => {
    // Half of the previous window overlaps: 8 * 0.5 + 2 = 6 used, so 3 remain after this one.
    const decision = decide(
      { allowed: true, current: 2, previous: 8, elapsedMs: 30_000, window: 1 },
      rule,
      1,
    );
    expect(decision.remaining).toBe(3);
  });

  it('denied request waits for the current window to decay', () => {
    const decision = decide(
      { allowed: false, current: 10, previous: 0, elapsedMs: 50_000, window: 1 },
      rule,
      1,
    );
    expect(decision.allowed).toBe(false);
    expect(decision.remaining).toBe(0);
    // 10 s until the window rolls over, then 10 * (W - e) / W <= 9 needs e >= 6 s.
    expect(decision.retryAfterSeconds).toBe(16);
  });

  it('denied request waits for the previous window to decay', () => {
    const decision = decide(
      { allowed: false, current: 0, previous: 10, elapsedMs: 0, window: 1 },
      rule,
      1,
    );
    // 10 * (W - e) / W <= 9 needs e >= 6 s.
    expect(decision.retryAfterSeconds).toBe(6);
  });

  it('cost above the limit waits a full window', () => {
    const decision = decide(
      { allowed: false, current: 0, previous: 0, elapsedMs: 0, window: 1 },
      rule,
      11,
    );
    expect(decision.retryAfterSeconds).toBe(60);
  });
});

describe('memory store', () => {
  it('stops at the limit within one window', async () => {
    let now = 1_000_000 * 60_000;
    const store = new MemoryRateLimitStore(100, () => now);
    const results: boolean[] = [];
    for (let i = 0; i < 15; i++) results.push((await store.consume(rule, 'a', 1)).allowed);
    expect(results.filter(Boolean)).toHaveLength(10);
    now += 30_000;
    expect((await store.consume(rule, 'a', 1)).allowed).toBe(false);
    // Half way into the next window, half of the previous 10 still counts, so 5 more fit.
    now += 60_000;
    const later: boolean[] = [];
    for (let i = 0; i < 10; i++) later.push((await store.consume(rule, 'a', 1)).allowed);
    expect(later.filter(Boolean)).toHaveLength(5);
  });

  it('frees the window after two window lengths', async () => {
    let now = 1_000_000 * 60_000;
    const store = new MemoryRateLimitStore(100, () => now);
    for (let i = 0; i < 10; i++) await store.consume(rule, 'a', 1);
    now += 120_000;
    expect((await store.consume(rule, 'a', 10)).allowed).toBe(true);
  });

  it('keys are counted separately', async () => {
    const store = new MemoryRateLimitStore(100);
    for (let i = 0; i < 10; i++) await store.consume(rule, 'a', 1);
    expect((await store.consume(rule, 'a', 1)).allowed).toBe(false);
    expect((await store.consume(rule, 'b', 1)).allowed).toBe(true);
  });

  it('adjust refunds reserved units', async () => {
    const store = new MemoryRateLimitStore(100);
    const first = await store.consume(rule, 'a', 10);
    expect(first.allowed).toBe(true);
    expect((await store.consume(rule, 'a', 1)).allowed).toBe(false);
    await store.adjust(rule, 'a', first.window, -4);
    expect((await store.consume(rule, 'a', 4)).allowed).toBe(true);
    expect((await store.consume(rule, 'a', 1)).allowed).toBe(false);
  });

  it('size cap drops the least recently used key', async () => {
    const store = new MemoryRateLimitStore(100);
    for (let i = 0; i < 250; i++) await store.consume(rule, `client-${i}`, 1);
    expect(store.size).toBe(100);
    for (let i = 0; i < 9; i++) await store.consume(rule, 'client-249', 1);
    // client-249 was kept and is now at its limit.
    expect((await store.consume(rule, 'client-249', 1)).allowed).toBe(false);
  });
});
