/** Options for {@link LruCache}. */
export interface LruCacheOptions<K, V> {
  /** Maximum number of entries. Inserting beyond it evicts the least recently used entry. */
  maxEntries: number;
  /** Time an entry stays valid after insertion, in milliseconds. */
  ttlMs: number;
  /** Clock returning the current time in milliseconds. Defaults to Date.now. */
  now?: () => number;
  /** Called once for each entry that leaves the cache for any reason. */
  onEvict?: (value: V, key: K) => void;
}

interface Entry<V> {
  value: V;
  expiresAt: number;
}

/** Maximum interval between two sweeps for expired entries, in milliseconds. */
const MAX_SWEEP_INTERVAL_MS = 1000;

/**
 * Least-recently-used cache with a size bound and a time-to-live per entry. Expired entries are
 * removed when looked up, and every `get` or `set` also sweeps out all expired entries once
 * min(ttlMs, 1 s) has passed since the last sweep. Every removal calls `onEvict`, which the key
 * cache uses to zero key material.
 *
 * NOTE: without any `get` or `set`, expired entries stay until {@link LruCache.purgeExpired} runs,
 * so a long-running server should call it from a timer.
 */
export class LruCache<K, V> {
  // A Map iterates in insertion order, so moving an entry to the end on access keeps the least
  // recently used entry first.
  readonly #entries = new Map<K, Entry<V>>();
  readonly #maxEntries: number;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #onEvict: ((value: V, key: K) => void) | undefined;
  readonly #sweepIntervalMs: number;
  #nextSweepAt: number;

  constructor(options: LruCacheOptions<K, V>) {
    if (!Number.isInteger(options.maxEntries) || options.maxEntries < 1) {
      throw new RangeError(`invalid maxEntries ${options.maxEntries}: expected an integer >= 1`);
    }
    if (!(options.ttlMs > 0)) {
      throw new RangeError(`invalid ttlMs ${options.ttlMs}: expected a positive number`);
    }
    this.#maxEntries = options.maxEntries;
    this.#ttlMs = options.ttlMs;
    this.#now = options.now ?? Date.now;
    this.#onEvict = options.onEvict;
    this.#sweepIntervalMs = Math.min(options.ttlMs, MAX_SWEEP_INTERVAL_MS);
    this.#nextSweepAt = this.#now() + this.#sweepIntervalMs;
  }

  /** Number of entries, including expired ones not yet purged. */
  get size(): number {
    return this.#entries.size;
  }

  /** Returns the value for `key` and marks it most recently used, or undefined when absent or expired. */
  get(key: K): V | undefined {
    this.#sweepIfDue();
    const entry = this.#entries.get(key);
    if (entry === undefined) {
      return undefined;
    }
    if (this.#now() >= entry.expiresAt) {
      this.delete(key);
      return undefined;
    }
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry.value;
  }

  /** Inserts or replaces `key`, evicting the least recently used entries beyond `maxEntries`. */
  set(key: K, value: V): void {
    this.#sweepIfDue();
    this.delete(key);
    this.#entries.set(key, { value, expiresAt: this.#now() + this.#ttlMs });
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) {
        break;
      }
      this.delete(oldest.value);
    }
  }

  /** Removes `key` and reports whether it was present. */
  delete(key: K): boolean {
    const entry = this.#entries.get(key);
    if (entry === undefined) {
      return false;
    }
    this.#entries.delete(key);
    this.#onEvict?.(entry.value, key);
    return true;
  }

  /** Removes every expired entry. */
  purgeExpired(): void {
    const now = this.#now();
    this.#nextSweepAt = now + this.#sweepIntervalMs;
    for (const [key, entry] of [...this.#entries]) {
      if (now >= entry.expiresAt) {
        this.delete(key);
      }
    }
  }

  #sweepIfDue(): void {
    if (this.#now() >= this.#nextSweepAt) {
      this.purgeExpired();
    }
  }

  /** Removes every entry. */
  clear(): void {
    for (const key of [...this.#entries.keys()]) {
      this.delete(key);
    }
  }
}
