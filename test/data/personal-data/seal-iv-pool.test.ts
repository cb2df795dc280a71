import { randomBytes } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { sealWithKey } from '../../../src/data/personal-data/personal-data-sealer.js';

function ivOf(sealed: string): string {
  const body = Buffer.from(sealed.split('.')[2] ?? '', 'base64url');
  return body.subarray(0, 12).toString('hex');
}

describe('sealWithKey IV pool', () => {
  it('keeps IVs unique after failed seals', () => {
    const key = randomBytes(32);
    const ivs = new Set<string>();
    // A 31-byte key makes createCipheriv throw after an IV was taken from the pool.
    const badKey = randomBytes(31);
    for (let i = 0; i < 2100; i += 1) {
      if (i % 3 === 0) {
        expect(() => sealWithKey(badKey, 'subject-3', 'actor_ip', 'x')).toThrow();
      }
      ivs.add(ivOf(sealWithKey(key, 'subject-3', 'actor_ip', 'x')));
    }
    expect(ivs.size).toBe(2100);
  });

  it('keeps IV bytes unique across refills', () => {
    // Adjacent IVs joined into one stream must not repeat at any offset, so no part of a pool
    // is cut twice or shifted into a later IV.
    const key = randomBytes(32);
    const stream = Buffer.concat(
      Array.from({ length: 1100 }, () =>
        Buffer.from(ivOf(sealWithKey(key, 'subject-4', 'actor_ip', 'y')), 'hex'),
      ),
    );
    const windows = new Set<string>();
    for (let offset = 0; offset + 12 <= stream.length; offset += 1) {
      windows.add(stream.subarray(offset, offset + 12).toString('hex'));
    }
    expect(windows.size).toBe(stream.length - 11);
  });

});
