import { describe, expect, it } from 'vitest';

import { KeyMaterialCache } from '../../../src/data/crypto/key-material-cache.js';
import { LruCache } from '../../../src/data/crypto/lru-cache.js';

describe('LruCache', () => {
  it('evicts the least recently used entry past maxEntries', () => {
    const evicted: string[] = [];
    const cache = new LruCache<string, number>({
      maxEntries: 2,
      ttlMs: 1000,
      onEvict: (_value, key) => evicted.push(key),
    });
    cache.set('a', 1);
    cache.set('b', 2);
    expect(cache.get('a')).toBe(1);
    cache.set('c', 3);
    expect(evicted).toEqual(['b']);
    expect(cache.size).toBe(2);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBe(1);
    expect(cache.get('c')).toBe(3);
  });

  it('expires entries after ttlMs', () => {
    let now = 0;
    const evicted: string[] = [];
    const cache = new LruCache<string, number>({
      maxEntries: 10,
      ttlMs: 100,
      now: () => now,
      onEvict: (_value, key) => evicted.push(key),
    });
    cache.set('a', 1);
    cache.set('b', 2);
    now = 99;
    expect(cache.get('a')).toBe(1);
    now = 100;
    expect(cache.get('a')).toBeUndefined();
    expect(evicted.sort()).toEqual(['a', 'b']);
    expect(cache.size).toBe(0);
  });

  it('purgeExpired removes expired entries', () => {
    let now = 0;
    const evicted: string[] = [];
    const cache = new LruCache<string, number>({
      maxEntries: 10,
      ttlMs: 5000,
      now: () => now,
      onEvict: (_value, key) => evicted.push(key),
    });
    cache.set('a', 1);
    now = 4999;
    cache.purgeExpired();
    expect(evicted).toEqual([]);
    now = 5000;
    cache.purgeExpired();
    expect(evicted).toEqual(['a']);
  });

  it('sweeps expired entries on later access', () => {
    let now = 0;
    const evicted: string[] = [];
    const cache = new LruCache<string, number>({
      maxEntries: 10,
      ttlMs: 5000,
      now: () => now,
      onEvict: (_value, key) => evicted.push(key),
    });
    cache.set('old', 1);
    now = 4000;
    cache.set('new', 2);
    now = 5000;
    expect(cache.get('new')).toBe(2);
    expect(evicted).toEqual(['old']);
    expect(cache.size).toBe(1);
  });

  it('calls onEvict on replace, delete and clear', () => {
    const evicted: number[] = [];
    const cache = new LruCache<string, number>({
      maxEntries: 10,
      ttlMs: 1000,
      onEvict: (value) => evicted.push(value),
    });
    cache.set('a', 1);
    cache.set('a', 2);
    cache.set('b', 3);
    expect(cache.delete('b')).toBe(true);
    expect(cache.delete('b')).toBe(false);
    cache.clear();
    expect(evicted).toEqual([1, 3, 2]);
  });

  it('rejects invalid bounds', () => {
    expect(() => new LruCache({ maxEntries: 0, ttlMs: 1 })).toThrow(RangeError);
    expect(() => new LruCache({ maxEntries: 1, ttlMs: 0 })).toThrow(RangeError);
  });
});

describe('KeyMaterialCache', () => {
  const ref = { keyId: 'dk_a', version: 1 };
  const identity = { purpose: 'data' as const, owner: { kind: 'tenant' as const, tenant: 'org-a' } };

  it('returns copies and zeroes its own copy on eviction', () => {
    const cache = new KeyMaterialCache({ maxEntries: 1, ttlMs: 1000 });
    cache.set(ref, identity, Buffer.alloc(32, 7));
    const copy = cache.getMaterial(ref);
    const subkey = cache.getSubkey(ref, 'field-encryption');
    expect(copy?.equals(Buffer.alloc(32, 7))).toBe(true);
    expect(subkey?.key).toHaveLength(32);
    expect(subkey?.owner).toEqual(identity.owner);
    cache.set({ keyId: 'dk_b', version: 1 }, identity, Buffer.alloc(32, 8));
    expect(cache.size).toBe(1);
    expect(cache.getMaterial(ref)).toBeUndefined();
    // The caller's copies stay intact, because the caller zeroes them itself.
    expect(copy?.equals(Buffer.alloc(32, 7))).toBe(true);
  });

  it('zeroes cached buffers when evicted', () => {
    const cache = new KeyMaterialCache({ maxEntries: 4, ttlMs: 1000 });
    cache.set(ref, identity, Buffer.alloc(32, 7));
    cache.getSubkey(ref, 'blind-index');
    cache.getSubkey(ref, 'field-encryption');
    // The cached buffers are private, so record every buffer that is filled with zero.
    type Fill = (this: Buffer, value: unknown, ...rest: unknown[]) => Buffer;
    const prototype = Buffer.prototype as unknown as { fill: Fill };
    const originalFill = prototype.fill;
    const zeroed: Buffer[] = [];
    prototype.fill = function (this: Buffer, value: unknown, ...rest: unknown[]): Buffer {
      if (value === 0) {
        zeroed.push(this);
      }
      return originalFill.call(this, value, ...rest);
    };
    try {
      cache.delete(ref);
    } finally {
      prototype.fill = originalFill;
    }
    expect(zeroed).toHaveLength(3);
    for (const buffer of zeroed) {
      expect(buffer).toHaveLength(32);
      expect(buffer.every((byte) => byte === 0)).toBe(true);
    }
    expect(cache.getSubkey(ref, 'blind-index')).toBeUndefined();
  });

  it('drops entries after the TTL', () => {
    let now = 0;
    const cache = new KeyMaterialCache({ maxEntries: 4, ttlMs: 50, now: () => now });
    cache.set(ref, identity, Buffer.alloc(32, 1));
    now = 50;
    expect(cache.getMaterial(ref)).toBeUndefined();
  });
});
