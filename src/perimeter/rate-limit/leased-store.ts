import type { RateLimitStore } from './rate-limit-store.js';
import type { LeaseCounts, RedisRateLimitStore } from './redis-store.js';
import type { WindowCounts, WindowRule } from './sliding-window.js';

/** Settings of a `LeasedRateLimitStore`: lease size, lifetime and the rules it leases. */
export interface LeaseOptions {
  /** Units leased at a time, in percent of the rule's limit; 0 turns leasing off. */
  percent: number;
  /** Names of the rules that may be leased. Others go to Redis on every check. */
  rules: ReadonlySet<string>;
  /** Milliseconds a lease may be spent before its unspent units go back to Redis. */
  lifetimeMs: number;
  /** Maximum number of keys with a lease in this process. */
  maxLeases: number;
  /** Monotonic clock in milliseconds. */
  now?: () => number;
}

/** Units one process counted in Redis ahead of its requests, for one key in one window. */
interface Lease {
  readonly rule: WindowRule;
  readonly key: string;
  window: number;
  /** Units counted in Redis and not yet spent by a request. */
  remaining: number;
  /** Counts as known to this process, for the RateLimit-* headers of the requests it serves. */
  current: number;
  previous: number;
  elapsedMs: number;
  /** Local time at which `elapsedMs` was read from Redis, at the latest. */
  readAt: number;
  /** Local time of the last grant from Redis; the lifetime counts from here. */
  renewedAt: number;
  /** Local time from which no unit may be spent: the lease's lifetime or its window's end. */
  expiresAt: number;
  refilling: boolean;
}

/**
 * Leases below this many units are not worth a Redis round trip to give back, so a rule with a
 * small limit is checked in Redis on every request, exactly as without leasing.
 */
const MIN_LEASE = 2;

/**
 * Redis counters with per-process leases, so that a busy key is checked without a Redis round
 * trip. The first check of a key in a process goes to Redis. Its next check also counts up to
 * `percent` of the rule's limit ahead (a lease), and the checks after it spend those units in
 * memory. When half the lease is spent, a refill is requested in the background.
 *
 * Leased units are counted in Redis before any request spends them, so the processes sharing
 * Redis together never pass more than the limit. The cost is the other way: a key can be
 * refused while other processes hold unspent units of its limit, at most `percent` of the limit
 * per process. Unspent units go back to Redis when the lease ends, after `lifetimeMs` or at the
 * end of the fixed window they were counted in, whichever comes first. A unit is never spent
 * in a later window than the one it was counted in, because the sliding window weighs a past
 * window's count at less than its full value.
 *
 * NOTE: while Redis is unreachable, a process still spends the units it leased before, for at
 * most `lifetimeMs`. Rules that must fail closed at once (sign-in) are left out of `rules`.
 */
export class LeasedRateLimitStore implements RateLimitStore {
  readonly kind = 'redis';
  private readonly leases = new Map<string, Lease>();
  private readonly now: () => number;
  private readonly sweeper: NodeJS.Timeout;
  private readonly refills = new Set<Promise<void>>();
  private closed = false;

  constructor(
    private readonly redis: RedisRateLimitStore,
    private readonly options: LeaseOptions,
  ) {
    this.now = options.now ?? (() => performance.now());
    this.sweeper = setInterval(() => this.releaseExpired(), Math.max(20, options.lifetimeMs / 10));
    this.sweeper.unref();
  }

  /** Number of keys with a lease or a first check in this process, for tests. */
  get size(): number {
    return this.leases.size;
  }

  async consume(rule: WindowRule, key: string, cost: number): Promise<WindowCounts> {
    const size = this.leaseSize(rule);
    if (size === 0) return this.redis.consume(rule, key, cost);
    const id = leaseId(rule, key);
    const now = this.now();
    let lease = this.leases.get(id);
    if (lease && now >= lease.expiresAt) {
      void this.release(id, lease);
      lease = undefined;
    }
    if (lease && lease.remaining >= cost) return this.spend(id, lease, cost, size, now);

    // A key seen for the first time is only counted: a client that sends one request does not
    // hold units of its limit that would have to be given back.
    const want = lease && !lease.refilling ? size : 0;
    if (lease && want > 0) lease.refilling = true;
    try {
      const sentAt = this.now();
      const counts = await this.redis.consumeAndLease(rule, key, cost, want);
      this.absorb(id, rule, key, counts, counts.allowed ? cost : 0, sentAt);
      return counts;
    } finally {
      if (lease && want > 0) lease.refilling = false;
    }
  }

  /**
   * Adds `delta` units to `window`. A lease of the same window takes a refund back, and pays a
   * charge it has the units for, with no Redis call. Anything else goes to Redis.
   */
  async adjust(rule: WindowRule, key: string, window: number, delta: number): Promise<void> {
    const lease = this.leases.get(leaseId(rule, key));
    if (lease && lease.window === window && this.now() < lease.expiresAt) {
      if (delta < 0) {
        // A lease keeps at most its size of a refund, so a call that reserved far more than it
        // used does not keep other processes from that share of the limit.
        const keptRefund = Math.min(-delta, Math.max(0, this.leaseSize(rule) - lease.remaining));
        lease.remaining += keptRefund;
        lease.current = Math.max(0, lease.current + delta);
        if (keptRefund < -delta) await this.giveBack(rule, key, window, -delta - keptRefund);
        return;
      }
      if (lease.remaining >= delta) {
        lease.remaining -= delta;
        lease.current += delta;
        return;
      }
    }
    await this.redis.adjust(rule, key, window, delta);
  }

  /** Stops the sweeper, waits for refills, and gives every unspent unit back to Redis. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    await Promise.all([...this.refills]);
    const returns = [...this.leases].map(([id, lease]) => this.release(id, lease));
    await Promise.all(returns);
  }

  private leaseSize(rule: WindowRule): number {
    if (this.options.percent === 0 || !this.options.rules.has(rule.name)) return 0;
    const size = Math.floor((rule.limit * this.options.percent) / 100);
    return size < MIN_LEASE ? 0 : size;
  }

  private spend(id: string, lease: Lease, cost: number, size: number, now: number): WindowCounts {
    const counts: WindowCounts = {
      allowed: true,
      current: lease.current,
      previous: lease.previous,
      elapsedMs: lease.elapsedMs + (now - lease.readAt),
      window: lease.window,
    };
    lease.remaining -= cost;
    lease.current += cost;
    if (lease.remaining < size / 2) this.refill(id, lease, size);
    return counts;
  }

  /** Leases `size` more units in the background. A failure leaves the lease as it is. */
  private refill(id: string, lease: Lease, size: number): void {
    if (lease.refilling) return;
    lease.refilling = true;
    const sentAt = this.now();
    const refill = this.redis
      .consumeAndLease(lease.rule, lease.key, 0, size)
      .then((counts) => this.absorb(id, lease.rule, lease.key, counts, 0, sentAt))
      .catch(() => undefined)
      .finally(() => {
        lease.refilling = false;
        this.refills.delete(refill);
      });
    this.refills.add(refill);
  }

  /**
   * Records what Redis counted for this process: `spent` units for a request, and a lease.
   * `sentAt` is the local time before the command was sent.
   */
  private absorb(
    id: string,
    rule: WindowRule,
    key: string,
    counts: LeaseCounts,
    spent: number,
    sentAt: number,
  ) {
    const now = this.now();
    let lease = this.leases.get(id);
    if (lease && lease.window !== counts.window) {
      void this.release(id, lease);
      lease = undefined;
    }
    if (!lease) {
      if (this.closed || this.leases.size >= this.options.maxLeases) {
        if (counts.leased > 0) void this.giveBack(rule, key, counts.window, counts.leased);
        return;
      }
      lease = {
        rule,
        key,
        window: counts.window,
        remaining: 0,
        current: 0,
        previous: 0,
        elapsedMs: 0,
        readAt: now,
        renewedAt: now,
        expiresAt: now,
        refilling: false,
      };
      this.leases.set(id, lease);
    }

    lease.remaining += counts.leased;
    lease.current = counts.current + spent + counts.leased - lease.remaining;
    lease.previous = counts.previous;
    lease.elapsedMs = counts.elapsedMs;
    lease.readAt = sentAt;
    lease.renewedAt = now;
    // Redis read its clock after `sentAt`, so the window ends no earlier than `sentAt` plus the
    // time Redis reported as left, however long the reply took to be handled. The margin covers
    // the local clock running slower than Redis's.
    const margin = Math.min(100, rule.windowMs / 100);
    const windowEnd = sentAt + rule.windowMs - counts.elapsedMs - margin;
    lease.expiresAt = Math.min(now + this.options.lifetimeMs, windowEnd);
    // Entries stay in order of renewal, so the sweeper can stop at the first one still young.
    this.leases.delete(id);
    this.leases.set(id, lease);
  }

  // Leases that end at their window's end before their lifetime are given back at the end of
  // their lifetime, or at their next check, whichever comes first.
  private releaseExpired(): void {
    const now = this.now();
    for (const [id, lease] of this.leases) {
      if (now < lease.renewedAt + this.options.lifetimeMs) break;
      if (!lease.refilling) void this.release(id, lease);
    }
  }

  /** Ends a lease and gives its unspent units back to the window they were counted in. */
  private release(id: string, lease: Lease): Promise<void> {
    if (this.leases.get(id) === lease) this.leases.delete(id);
    const unspent = lease.remaining;
    lease.remaining = 0;
    lease.expiresAt = -Infinity;
    if (unspent <= 0) return Promise.resolve();
    return this.giveBack(lease.rule, lease.key, lease.window, unspent);
  }

  // A failed give-back only leaves the units counted until their window ends, which can refuse
  // a request early but never lets one pass over the limit, so it is not retried.
  private async giveBack(rule: WindowRule, key: string, window: number, units: number) {
    await this.redis.adjust(rule, key, window, -units).catch(() => undefined);
  }
}

function leaseId(rule: WindowRule, key: string): string {
  return `${rule.name}:${rule.windowMs}:${key}`;
}
