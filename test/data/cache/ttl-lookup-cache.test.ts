import { describe, expect, it } from 'vitest';

import { TtlLookupCache } from '../../../src/data/cache/ttl-lookup-cache.js';

/** A lookup whose result the test releases, counting how often it was started. */
function controlledLookup() {
  const releases: Array<(value: string) => void> = [];
  return {
    calls: () => releases.length,
    lookup: () => new Promise<string>((resolve) => releases.push(resolve)),
    release: (index: number, value: string) => releases[index]?.(value),
  };
}

describe('TtlLookupCache', () => {
  it('joins concurrent misses into one lookup', async () => {
    const cache = new TtlLookupCache<string>(500, 10);
    const source = controlledLookup();
    const first = cache.get('k', source.lookup, 1000);
    const second = cache.get('k', source.lookup, 1010);
    expect(source.calls()).toBe(1);
    source.release(0, 'v1');
    expect(await first).toBe('v1');
    expect(await second).toBe('v1');
  });

  it('serves a value until ttl after its lookup started', async () => {
    const cache = new TtlLookupCache<string>(500, 10);
    const source = controlledLookup();
    const read = cache.get('k', source.lookup, 1000);
    source.release(0, 'v1');
    await read;
    expect(await cache.get('k', source.lookup, 1499)).toBe('v1');
    expect(source.calls()).toBe(1);
    const refreshed = cache.get('k', source.lookup, 1500);
    expect(source.calls()).toBe(2);
    source.release(1, 'v2');
    expect(await refreshed).toBe('v2');
  });

  it('does not join a lookup older than ttl', async () => {
    const cache = new TtlLookupCache<string>(500, 10);
    const source = controlledLookup();
    const slow = cache.get('k', source.lookup, 1000);
    const late = cache.get('k', source.lookup, 1600);
    expect(source.calls()).toBe(2);
    source.release(1, 'fresh');
    source.release(0, 'stale');
    expect(await late).toBe('fresh');
    expect(await slow).toBe('stale');
    // The slower, older result does not replace the newer cached one.
    expect(await cache.get('k', source.lookup, 1700)).toBe('fresh');
    expect(source.calls()).toBe(2);
  });

  it('retries after a failed lookup', async () => {
    const cache = new TtlLookupCache<string>(500, 10);
    await expect(cache.get('k', () => Promise.reject(new Error('down')), 1000)).rejects.toThrow(
      'down',
    );
    expect(await cache.get('k', () => Promise.resolve('up'), 1001)).toBe('up');
  });

  it('evicts the oldest entry past the maximum', async () => {
    const cache = new TtlLookupCache<string>(500, 2);
    let lookups = 0;
    const lookup = (value: string) => () => {
      lookups += 1;
      return Promise.resolve(value);
    };
    await cache.get('a', lookup('a'), 1000);
    await cache.get('b', lookup('b'), 1000);
    await cache.get('c', lookup('c'), 1000);
    expect(lookups).toBe(3);
    await cache.get('c', lookup('c'), 1001);
    expect(lookups).toBe(3);
    await cache.get('a', lookup('a'), 1001);
    expect(lookups).toBe(4);
  });
});
