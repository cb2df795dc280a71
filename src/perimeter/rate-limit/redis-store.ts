import type { Redis } from 'ioredis';

import type { RateLimitStore } from './rate-limit-store.js';
import type { WindowCounts, WindowRule } from './sliding-window.js';

// Both scripts read the clock of the Redis server (TIME), so every gateway process agrees on
// window boundaries whatever its own clock says. Counts live in one hash per key, with one
// field per fixed window index. The key expires two windows after its last change.

// KEYS[1] counter hash; ARGV: window length in ms, limit, cost, lease. When the cost fits, up to
// `lease` more units are counted too, as far as the limit leaves room, for the caller to spend
// without asking again (see leased-store.ts).
// Returns { allowed (0 or 1), current, previous, elapsed ms, window index, units leased }.
const CONSUME_SCRIPT = `
local window_ms = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local lease = tonumber(ARGV[4])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local index = math.floor(now / window_ms)
local elapsed = now - index * window_ms
local current = tonumber(redis.call('HGET', KEYS[1], tostring(index)) or '0')
local previous = tonumber(redis.call('HGET', KEYS[1], tostring(index - 1)) or '0')
local weighted = previous * (window_ms - elapsed) / window_ms + current
local allowed = 0
local leased = 0
if weighted + cost <= limit then
  allowed = 1
  leased = math.max(0, math.min(lease, math.floor(limit - weighted - cost)))
  redis.call('HINCRBY', KEYS[1], tostring(index), cost + leased)
  redis.call('HDEL', KEYS[1], tostring(index - 2))
  redis.call('PEXPIRE', KEYS[1], window_ms * 2)
end
return { allowed, current, previous, elapsed, index, leased }
`;

// KEYS[1] counter hash; ARGV: window length in ms, window index, delta. Returns 1 when applied.
const ADJUST_SCRIPT = `
local window_ms = tonumber(ARGV[1])
local target = tonumber(ARGV[2])
local delta = tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local index = math.floor(now / window_ms)
if target < index - 1 or target > index then return 0 end
local field = tostring(target)
local value = tonumber(redis.call('HGET', KEYS[1], field) or '0') + delta
if value < 0 then value = 0 end
redis.call('HSET', KEYS[1], field, value)
redis.call('PEXPIRE', KEYS[1], window_ms * 2)
return 1
`;

/** Counts read by a consume, with the extra units it leased to the caller. */
export interface LeaseCounts extends WindowCounts {
  leased: number;
}

interface RateLimitCommands {
  mindweaveConsume(
    key: string,
    windowMs: number,
    limit: number,
    cost: number,
    lease: number,
  ): Promise<number[]>;
  mindweaveAdjust(key: string, windowMs: number, window: number, delta: number): Promise<number>;
}

/**
 * Sliding window counters in Redis, shared by every server process that uses the same Redis
 * and key prefix. Each check is one Lua script, so concurrent checks are serialized by Redis.
 * A command fails at once while Redis is unreachable; the caller applies the failure policy.
 */
export class RedisRateLimitStore implements RateLimitStore {
  readonly kind = 'redis';
  private readonly commands: RateLimitCommands;

  constructor(
    client: Redis,
    private readonly prefix: string,
  ) {
    // defineCommand sends EVALSHA and falls back to EVAL once when Redis lacks the script.
    client.defineCommand('mindweaveConsume', { numberOfKeys: 1, lua: CONSUME_SCRIPT });
    client.defineCommand('mindweaveAdjust', { numberOfKeys: 1, lua: ADJUST_SCRIPT });
    this.commands = client as unknown as RateLimitCommands;
  }

  consume(rule: WindowRule, key: string, cost: number): Promise<WindowCounts> {
    return this.consumeAndLease(rule, key, cost, 0);
  }

  /**
   * Counts `cost` units like `consume` and, when they fit, up to `lease` more units that the
   * caller may hand out later. The counts returned are those read before either addition.
   */
  async consumeAndLease(
    rule: WindowRule,
    key: string,
    cost: number,
    lease: number,
  ): Promise<LeaseCounts> {
    const reply = await this.commands.mindweaveConsume(
      this.storageKey(rule, key),
      rule.windowMs,
      rule.limit,
      cost,
      lease,
    );
    const [allowed, current, previous, elapsedMs, window, leased] = reply.map(Number);
    return {
      allowed: allowed === 1,
      current: current ?? 0,
      previous: previous ?? 0,
      elapsedMs: elapsedMs ?? 0,
      window: window ?? 0,
      leased: leased ?? 0,
    };
  }

  async adjust(rule: WindowRule, key: string, window: number, delta: number): Promise<void> {
    await this.commands.mindweaveAdjust(this.storageKey(rule, key), rule.windowMs, window, delta);
  }

  private storageKey(rule: WindowRule, key: string): string {
    return `${this.prefix}${rule.name}:${rule.windowMs}:${key}`;
  }
}
