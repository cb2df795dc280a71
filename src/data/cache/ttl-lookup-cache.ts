/** One cached result, fresh until `until` (milliseconds since the epoch). */
interface Entry<V> {
  value: V;
  until: number;
}

/** A lookup under way, whose result is fresh until `until`. */
interface Pending<V> {
  until: number;
  result: Promise<Entry<V>>;
}

/**
 * A bounded per-process cache of lookups that must not be served older than `ttlMs`. Each
 * result is fresh for `ttlMs` from the moment its lookup started, so a value read at time `t`
 * reflects the source as of some time after `t - ttlMs`. Callers that miss while a lookup for
 * the same key is under way and still fresh wait for it instead of starting another, so an
 * expired hot key costs one lookup and not one per request in flight.
 */
export class TtlLookupCache<V> {
  readonly #entries = new Map<string, Entry<V>>();
  readonly #pending = new Map<string, Pending<V>>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
  ) {}

  /** Returns the value of `key`, calling `lookup` when no fresh one is cached or under way. */
  async get(key: string, lookup: () => Promise<V>, now = Date.now()): Promise<V> {
    const entry = this.#entries.get(key);
    if (entry && entry.until > now) return entry.value;
    let pending = this.#pending.get(key);
    if (!pending || pending.until <= now) pending = this.#start(key, lookup, now);
    return (await pending.result).value;
  }

  /** Returns true when `key` has a fresh value cached or a fresh lookup under way. */
  has(key: string, now = Date.now()): boolean {
    const entry = this.#entries.get(key);
    if (entry && entry.until > now) return true;
    const pending = this.#pending.get(key);
    return pending !== undefined && pending.until > now;
  }

  #start(key: string, lookup: () => Promise<V>, now: number): Pending<V> {
    const until = now + this.ttlMs;
    const pending: Pending<V> = {
      until,
      result: lookup().then((value) => {
        const entry = { value, until };
        const current = this.#entries.get(key);
        if (!current || current.until < until) this.#remember(key, entry);
        return entry;
      }),
    };
    const forget = () => {
      if (this.#pending.get(key) === pending) this.#pending.delete(key);
    };
    pending.result.then(forget, forget);
    this.#pending.set(key, pending);
    return pending;
  }

  #remember(key: string, entry: Entry<V>): void {
    this.#entries.delete(key);
    // Map iteration follows insertion order, so the first key is the oldest entry.
    if (this.#entries.size >= this.maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    this.#entries.set(key, entry);
  }
}
