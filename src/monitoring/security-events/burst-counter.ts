import type { Redis } from 'ioredis';

/** The count of one key in its current fixed window. */
export interface BurstCount {
  count: number;
  /** Index of the window: milliseconds since the Unix epoch divided by the window length. */
  window: number;
}

/** Counts blocks per client in fixed windows. */
export interface BurstCounter {
  readonly kind: 'memory' | 'redis';
  /** Adds one to `key` in the current window and returns the new count. */
  increment(key: string, windowMs: number): Promise<BurstCount>;
}

/**
 * Counters in process memory. At most `maxKeys` are kept; when full, the key counted least
 * recently is forgotten, which at worst delays one client's burst event.
 */
export class MemoryBurstCounter implements BurstCounter {
  readonly kind = 'memory';
  private readonly counts = new Map<string, BurstCount>();

  constructor(
    private readonly maxKeys: number,
    private readonly now: () => number = Date.now,
  ) {}

  async increment(key: string, windowMs: number): Promise<BurstCount> {
    const window = Math.floor(this.now() / windowMs);
    const previous = this.counts.get(key);
    const count = previous?.window === window ? previous.count + 1 : 1;
    // Deleting first moves the key to the end of the Map's insertion order.
    this.counts.delete(key);
    this.counts.set(key, { count, window });
    if (this.counts.size > this.maxKeys) {
      const oldest = this.counts.keys().next().value;
      if (oldest !== undefined) this.counts.delete(oldest);
    }
    return { count, window };
  }
}

// KEYS[1] counter hash; ARGV[1] window length in ms. Returns { count, window index }.
// The window comes from the Redis server's clock (TIME), so every process agrees on its
// boundaries. One hash field per window; the previous window's field is removed.
const INCREMENT_SCRIPT = `
local window_ms = tonumber(ARGV[1])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local index = math.floor(now / window_ms)
local count = redis.call('HINCRBY', KEYS[1], tostring(index), 1)
redis.call('HDEL', KEYS[1], tostring(index - 1))
redis.call('PEXPIRE', KEYS[1], window_ms * 2)
return { count, index }
`;

interface BurstCommands {
  mindweaveBurstIncrement(key: string, windowMs: number): Promise<number[]>;
}

/**
 * Counters in Redis, shared by every server process that uses the same Redis and prefix. Each
 * increment is one Lua script, so exactly one process gets any given count.
 */
export class RedisBurstCounter implements BurstCounter {
  readonly kind = 'redis';
  private readonly commands: BurstCommands;

  constructor(
    client: Redis,
    private readonly prefix: string,
  ) {
    // defineCommand sends EVALSHA and falls back to EVAL once when Redis lacks the script.
    client.defineCommand('mindweaveBurstIncrement', { numberOfKeys: 1, lua: INCREMENT_SCRIPT });
    this.commands = client as unknown as BurstCommands;
  }

  async increment(key: string, windowMs: number): Promise<BurstCount> {
    const reply = await this.commands.mindweaveBurstIncrement(
      `${this.prefix}burst:${windowMs}:${key}`,
      windowMs,
    );
    const [count, window] = reply.map(Number);
    return { count: count ?? 0, window: window ?? 0 };
  }
}
