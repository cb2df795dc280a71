import type { Redis } from 'ioredis';

/** `spent` when the challenge was already used; `unavailable` when that cannot be known. */
export type SpendResult = 'first' | 'spent' | 'unavailable';

/** Records used challenge ids until the challenge expires, so each is accepted once. */
export interface SpentChallenges {
  /** Marks `id` used, unless it already was. `expiresAt` is in milliseconds since the epoch. */
  spend(id: string, expiresAt: number): Promise<SpendResult>;
}

/**
 * Used challenge ids in Redis, shared by every process that uses the same Redis and prefix.
 * SET with NX and PX is one atomic command, so of two processes verifying one solution at the
 * same moment exactly one succeeds. While Redis cannot be reached nothing is accepted.
 */
export class RedisSpentChallenges implements SpentChallenges {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly now: () => number = Date.now,
  ) {}

  async spend(id: string, expiresAt: number): Promise<SpendResult> {
    const ttlMs = Math.max(1, expiresAt - this.now());
    try {
      const result = await this.redis.set(`${this.prefix}spent:${id}`, '1', 'PX', ttlMs, 'NX');
      return result === 'OK' ? 'first' : 'spent';
    } catch {
      return 'unavailable';
    }
  }
}

/**
 * Used challenge ids in process memory, for a server without Redis. At most `maxEntries` ids
 * are kept. When that many unexpired ids are held, further solutions are rejected rather than
 * an id forgotten, because a forgotten id could be used again.
 */
export class MemorySpentChallenges implements SpentChallenges {
  // Insertion order is close to expiry order, because every challenge lives equally long.
  private readonly expiries = new Map<string, number>();

  constructor(
    private readonly maxEntries: number,
    private readonly now: () => number = Date.now,
  ) {}

  async spend(id: string, expiresAt: number): Promise<SpendResult> {
    const now = this.now();
    this.dropExpired(now);
    const known = this.expiries.get(id);
    if (known !== undefined && known > now) return 'spent';
    if (this.expiries.size >= this.maxEntries) return 'unavailable';
    this.expiries.set(id, expiresAt);
    return 'first';
  }

  /** Number of ids held, for tests of the cap. */
  get size(): number {
    return this.expiries.size;
  }

  private dropExpired(now: number): void {
    for (const [id, expiresAt] of this.expiries) {
      if (expiresAt > now) return;
      this.expiries.delete(id);
    }
  }
}
