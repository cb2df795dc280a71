import type { RateLimitStore } from './rate-limit-store.js';
import type { WindowCounts, WindowRule } from './sliding-window.js';
import { weightedCount } from './sliding-window.js';

interface Counter {
  window: number;
  current: number;
  previous: number;
}

/**
 * Sliding window counters in process memory, for a single server process. At most `maxKeys`
 * counters are kept. When full, the least recently used counter is dropped, which forgets that
 * client's recent count, so the cap should be well above the number of active clients.
 */
export class MemoryRateLimitStore implements RateLimitStore {
  readonly kind = 'memory';
  private readonly counters = new Map<string, Counter>();

  constructor(
    private readonly maxKeys: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Number of counters held, for tests of the size cap. */
  get size(): number {
    return this.counters.size;
  }

  async consume(rule: WindowRule, key: string, cost: number): Promise<WindowCounts> {
    const storageKey = `${rule.name}:${rule.windowMs}:${key}`;
    const now = this.now();
    const window = Math.floor(now / rule.windowMs);
    const counter = this.rolled(storageKey, window);
    const counts: WindowCounts = {
      allowed: false,
      current: counter.current,
      previous: counter.previous,
      elapsedMs: now - window * rule.windowMs,
      window,
    };
    counts.allowed = weightedCount(counts, rule.windowMs) + cost <= rule.limit;
    if (counts.allowed) counter.current += cost;
    this.touch(storageKey, counter);
    return counts;
  }

  async adjust(rule: WindowRule, key: string, window: number, delta: number): Promise<void> {
    const storageKey = `${rule.name}:${rule.windowMs}:${key}`;
    const counter = this.counters.get(storageKey);
    if (!counter) return;
    const current = this.rolled(storageKey, Math.floor(this.now() / rule.windowMs));
    if (window === current.window) current.current = Math.max(0, current.current + delta);
    else if (window === current.window - 1) {
      current.previous = Math.max(0, current.previous + delta);
    }
  }

  /** Returns the key's counter moved forward to `window`, creating it when missing. */
  private rolled(storageKey: string, window: number): Counter {
    const counter = this.counters.get(storageKey);
    if (!counter) return { window, current: 0, previous: 0 };
    if (counter.window === window - 1) {
      counter.previous = counter.current;
      counter.current = 0;
    } else if (counter.window < window - 1) {
      counter.previous = 0;
      counter.current = 0;
    }
    counter.window = window;
    return counter;
  }

  private touch(storageKey: string, counter: Counter): void {
    this.counters.delete(storageKey);
    this.counters.set(storageKey, counter);
    if (this.counters.size > this.maxKeys) {
      const oldest = this.counters.keys().next();
      if (!oldest.done) this.counters.delete(oldest.value);
    }
  }
}
