import { deriveSubkey } from './hkdf.js';
import type { SubkeyPurpose } from './hkdf.js';
import { LruCache } from './lru-cache.js';
import type { KeyOwner, KeyPurpose, KeyVersionRef } from './key-types.js';

/** Options for {@link KeyMaterialCache}. */
export interface KeyMaterialCacheOptions {
  /** Maximum number of unwrapped key versions held at once. Defaults to 1000. */
  maxEntries?: number;
  /** Time an unwrapped key stays cached after unwrapping, in milliseconds. Defaults to 5 minutes. */
  ttlMs?: number;
  /** Clock returning the current time in milliseconds. Defaults to Date.now. */
  now?: () => number;
}

/** Identity of a cached key, kept so that cache hits need no key store lookup. */
export interface CachedKeyIdentity {
  purpose: KeyPurpose;
  owner: KeyOwner;
  /**
   * Scheduled deletion date of the version when it was cached. From this time on the entry of a
   * data key is dropped instead of returned. Purpose key entries ignore it.
   */
  deletionDate?: Date;
}

/** Copy of a cached sub-key together with the identity of the key it came from. */
export interface CachedSubkey extends CachedKeyIdentity {
  key: Buffer;
}

interface CachedKey {
  purpose: KeyPurpose;
  owner: KeyOwner;
  /** Deletion date in milliseconds since the epoch, or undefined when none is scheduled. */
  deletionTime: number | undefined;
  material: Buffer;
  subkeys: Map<SubkeyPurpose, Buffer>;
}

function cacheKey(ref: KeyVersionRef): string {
  return `${ref.keyId}#${ref.version}`;
}

function zero(entry: CachedKey): void {
  entry.material.fill(0);
  for (const subkey of entry.subkeys.values()) {
    subkey.fill(0);
  }
  entry.subkeys.clear();
}

/**
 * Bounded cache of unwrapped key material and the sub-keys derived from it.
 *
 * Every read returns a copy that the caller zeroes after use, and the cache zeroes its own copies
 * when an entry is evicted, expires or is deleted. Copies keep a caller safe from an eviction that
 * happens while it awaits something else. Node and OpenSSL keep internal copies of keys passed to
 * ciphers, which this cannot zero.
 */
export class KeyMaterialCache {
  readonly #cache: LruCache<string, CachedKey>;
  readonly #now: () => number;

  constructor(options: KeyMaterialCacheOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#cache = new LruCache<string, CachedKey>({
      maxEntries: options.maxEntries ?? 1000,
      ttlMs: options.ttlMs ?? 5 * 60 * 1000,
      ...(options.now === undefined ? {} : { now: options.now }),
      onEvict: zero,
    });
  }

  /** Number of cached key versions. */
  get size(): number {
    return this.#cache.size;
  }

  /** Caches a copy of `material` for `ref`, replacing (and zeroing) any earlier entry. */
  set(ref: KeyVersionRef, identity: CachedKeyIdentity, material: Uint8Array): void {
    this.#cache.set(cacheKey(ref), {
      purpose: identity.purpose,
      owner: identity.owner,
      deletionTime: identity.purpose === 'data' ? identity.deletionDate?.getTime() : undefined,
      material: Buffer.from(material),
      subkeys: new Map(),
    });
  }

  /** Returns a copy of the cached material for `ref`, or undefined on a miss. */
  getMaterial(ref: KeyVersionRef): Buffer | undefined {
    const entry = this.#usableEntry(ref);
    return entry === undefined ? undefined : Buffer.from(entry.material);
  }

  /**
   * Returns a copy of the `purpose` sub-key of a cached key, deriving and caching it on first
   * use, or undefined on a miss.
   */
  getSubkey(ref: KeyVersionRef, purpose: SubkeyPurpose): CachedSubkey | undefined {
    const entry = this.#usableEntry(ref);
    if (entry === undefined) {
      return undefined;
    }
    let subkey = entry.subkeys.get(purpose);
    if (subkey === undefined) {
      subkey = deriveSubkey(entry.material, purpose, ref.keyId, ref.version);
      entry.subkeys.set(purpose, subkey);
    }
    return { key: Buffer.from(subkey), purpose: entry.purpose, owner: entry.owner };
  }

  /**
   * Returns the entry for `ref`, or undefined when there is none or its deletion date has
   * passed. Such an entry is removed and zeroed, so the caller reads the key store, which
   * rejects the version.
   */
  #usableEntry(ref: KeyVersionRef): CachedKey | undefined {
    const entry = this.#cache.get(cacheKey(ref));
    if (entry?.deletionTime !== undefined && this.#now() >= entry.deletionTime) {
      this.#cache.delete(cacheKey(ref));
      return undefined;
    }
    return entry;
  }

  /** Removes and zeroes the entry for `ref`. */
  delete(ref: KeyVersionRef): void {
    this.#cache.delete(cacheKey(ref));
  }

  /** Removes and zeroes every expired entry. */
  purgeExpired(): void {
    this.#cache.purgeExpired();
  }

  /** Removes and zeroes every entry. */
  clear(): void {
    this.#cache.clear();
  }
}
